"""Image and mask files <-> arrays.

Arrays leaving this module are float32 RGB in [0, 1], HWC (``read_image``), the file's own
integer samples (``read_image_native``) or boolean masks (``read_mask``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import imagecodecs
import numpy as np
import tifffile
import torch
from PIL import Image

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
_TIFF_SUFFIXES = (".tif", ".tiff")


def _to_rgb(array: np.ndarray, path: Path) -> np.ndarray:
    """Return ``array`` as HxWx3 (grey is repeated, alpha dropped)."""
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"{path}: expected an RGB image, got array of shape {array.shape}")
    return np.ascontiguousarray(array[:, :, :3])


def read_image_native(path: str | os.PathLike) -> np.ndarray:
    """Read an image file with its own sample type.

    Args:
        path: a PNG, TIFF or JPEG file.

    Returns:
        ``(H, W, 3)`` array, uint8 or uint16 as stored in the file (float TIFFs stay float).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _TIFF_SUFFIXES:
        array = tifffile.imread(path)
    elif suffix == ".png" and _png_bit_depth(path) == 16:
        array = imagecodecs.png_decode(path.read_bytes())
    else:
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"))
    return _to_rgb(np.asarray(array), path)


def _png_bit_depth(path: Path) -> int:
    """Bit depth from a PNG's IHDR chunk (byte 24 of the file)."""
    with open(path, "rb") as f:
        head = f.read(25)
    return head[24] if len(head) == 25 and head[:8] == b"\x89PNG\r\n\x1a\n" else 8


def to_float(array: np.ndarray) -> np.ndarray:
    """Integer samples -> float32 in [0, 1] (divided by the dtype's maximum)."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(array.astype(np.float32), 0.0, 1.0)
    raise TypeError(f"unsupported sample type {array.dtype}")


def to_uint(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """float in [0, 1] -> uint8 (bits=8) or uint16 (bits=16), rounded to nearest."""
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    peak = 255.0 if bits == 8 else 65535.0
    dtype = np.uint8 if bits == 8 else np.uint16
    return np.rint(np.clip(image, 0.0, 1.0) * peak).astype(dtype)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as float32 RGB in [0, 1], HWC."""
    return to_float(read_image_native(path))


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a human-region mask: boolean ``(H, W)``, True where the file is non-zero."""
    path = Path(path)
    if path.suffix.lower() in _TIFF_SUFFIXES:
        array = tifffile.imread(path)
    else:
        with Image.open(path) as img:
            array = np.asarray(img)
    if array.ndim == 3:
        array = array[:, :, :3].max(axis=2) if array.shape[2] >= 3 else array[:, :, 0]
    return array != 0


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    An interrupted write leaves no half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_image(path: str | os.PathLike, image: np.ndarray, bits: int = 8) -> Path:
    """Write float32 RGB in [0, 1] (HWC), or a uint8/uint16 array, atomically.

    PNG and TIFF keep 16 bits when ``bits=16``; JPEG is always 8-bit.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if image.dtype in (np.uint8, np.uint16):
        samples = image
    else:
        samples = to_uint(image, 8 if suffix in (".jpg", ".jpeg") else bits)
    with atomic_write(path) as tmp:
        if suffix in _TIFF_SUFFIXES:
            tifffile.imwrite(tmp, samples, photometric="rgb")
        elif suffix == ".png" and samples.dtype == np.uint16:
            _write_png16(tmp, samples)
        elif suffix in (".jpg", ".jpeg"):
            Image.fromarray(_as_uint8(samples)).save(tmp, format="JPEG", quality=95)
        elif suffix == ".png":
            Image.fromarray(samples).save(tmp, format="PNG")
        else:
            raise ValueError(f"{path}: unsupported output format {suffix!r}")
    return path


def _as_uint8(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.uint8:
        return samples
    return np.rint(samples.astype(np.float64) / 257.0).astype(np.uint8)


def _write_png16(path: Path, samples: np.ndarray) -> None:
    """16-bit RGB PNG (Pillow cannot write 16-bit RGB; imagecodecs can)."""
    path.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(samples)))


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """HWC float32 array -> ``(1, 3, H, W)`` tensor."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` or ``(1, 3, H, W)`` tensor -> HWC float32 array."""
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"expected a single image, got batch of {tensor.shape[0]}")
        tensor = tensor[0]
    return tensor.detach().cpu().float().permute(1, 2, 0).contiguous().numpy()
