"""Image and mask files <-> arrays.

Arrays leaving this module are float32 RGB in [0, 1], HWC (``read_image``), the file's own
integer samples (``read_image_native``) or boolean masks (``read_mask``).
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import imagecodecs
import numpy as np
import tifffile
from PIL import Image

from ppr10k.io.decode import DECODE_ERRORS, PhotoError, decode_error, decode_pixels

if TYPE_CHECKING:
    import torch

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
_TIFF_SUFFIXES = (".tif", ".tiff")


def read_image_native(path: str | os.PathLike) -> np.ndarray:
    """Read an image file with its own sample type.

    Args:
        path: a PNG, TIFF, JPEG (or camera raw) file.

    Returns:
        ``(H, W, 3)`` array, uint8 or uint16 as stored in the file (float TIFFs stay float).
    """
    return decode_pixels(path)


#: The value of full scale for each sample type images use: 1.0 for float32 in [0, 1].
SAMPLE_PEAKS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0,
                np.dtype(np.float32): 1.0}


def sample_peak(dtype) -> float | None:
    """The full-scale value of a sample type (NumPy, or torch by name): 255, 65535 or 1.0;
    None for a type photos do not come in.

    >>> sample_peak(np.uint16), sample_peak("torch.uint8"), sample_peak(np.int32)
    (65535.0, 255.0, None)
    """
    name = str(dtype)
    try:
        return SAMPLE_PEAKS.get(np.dtype(name.removeprefix("torch.")
                                         if name.startswith("torch.") else dtype))
    except TypeError:
        return None


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
    """Read a human-region mask: boolean ``(H, W)``, True where the file is non-zero.

    Raises:
        PhotoError: a damaged file, naming it.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            array = tifffile.imread(path)
        else:
            with Image.open(path) as img:
                array = np.asarray(img)
    except FileNotFoundError:
        raise
    except DECODE_ERRORS as error:
        kind = path.suffix.lstrip(".").lower() or "mask"
        raise decode_error(path, kind, error) from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise PhotoError(f"{path}: mask samples are NaN or infinite; the mask is damaged")
    if array.ndim == 3:
        array = array[:, :, :3].max(axis=2) if array.shape[2] >= 3 else array[:, :, 0]
    return array != 0


def _read_umask() -> int:
    """The process umask: from ``/proc`` on Linux (unchanged), else set and set back."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere os.umask can only be read by setting it
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import


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
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_image(path: str | os.PathLike, image: np.ndarray, bits: int = 8, *,
                exif: bytes | None = None, icc_profile: bytes | None = None,
                quality: int = 95) -> Path:
    """Write float32 RGB in [0, 1] (HWC), or a uint8/uint16 array, atomically.

    PNG and TIFF keep 16 bits when ``bits=16`` (or when given uint16 samples); JPEG is
    always 8-bit. (:func:`ppr10k.io.write_photo` writes photos with all their metadata.)

    Args:
        exif: EXIF block (TIFF-structured bytes, with or without the ``Exif\\0\\0``
            header) to embed: JPEG (APP1), PNG (eXIf chunk) and 8-bit TIFF keep all of it;
            16-bit TIFF keeps the descriptive IFD0 tags (Make, Model, DateTime,
            Orientation, Artist, Copyright) but not the Exif sub-IFD. TIFF resolution
            comes from it (else 72 dpi).
        icc_profile: ICC profile to embed (all formats).
        quality: JPEG quality.
    """
    path = Path(path)
    with atomic_write(path) as tmp:
        encode_image(tmp, image, bits, fmt=path.suffix, exif=exif, icc_profile=icc_profile,
                     quality=quality)
    return path


def encode_image(path: Path, image: np.ndarray, bits: int = 8, *, fmt: str,
                 exif: bytes | None = None, embed_exif: bool = True,
                 icc_profile: bytes | None = None, quality: int = 95) -> None:
    """Encode an image into ``path`` in the format of suffix ``fmt`` (not atomic).

    As :func:`write_image`; ``embed_exif=False`` uses ``exif`` for the TIFF resolution only
    (the caller writes the EXIF itself).
    """
    suffix = fmt.lower()
    if image.dtype in (np.uint8, np.uint16):
        samples = image
    else:
        samples = to_uint(image, 8 if suffix in (".jpg", ".jpeg") else bits)
    if exif is not None and exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    resolution = _resolution(exif)
    if not embed_exif:
        exif = None
    extra: dict = {}
    if icc_profile:
        extra["icc_profile"] = icc_profile
    if exif:
        extra["exif"] = b"Exif\x00\x00" + exif
    if suffix in _TIFF_SUFFIXES:
        if samples.dtype == np.uint8 and exif:
            x, y, unit = resolution
            Image.fromarray(samples).save(path, format="TIFF", x_resolution=x, y_resolution=y,
                                          resolution_unit=unit, **extra)
        else:
            _write_tiff(path, samples, exif, icc_profile, resolution)
    elif suffix == ".png" and samples.dtype == np.uint16:
        _write_png16(path, samples, exif, icc_profile)
    elif suffix in (".jpg", ".jpeg"):
        _save_jpeg(path, _as_uint8(samples), quality, extra)
    elif suffix == ".png":
        Image.fromarray(samples).save(path, format="PNG", **extra)
    else:
        raise ValueError(f"{path}: unsupported output format {suffix!r}")


#: EXIF's default resolution: 72 pixels per inch (ResolutionUnit 2).
_DEFAULT_RESOLUTION = (72.0, 72.0, 2)


def _resolution(exif: bytes | None) -> tuple[float, float, int]:
    """``(x, y, unit)`` from EXIF IFD0 (unit 2: inch, 3: cm), else 72 dpi."""
    if not exif:
        return _DEFAULT_RESOLUTION
    parsed = Image.Exif()
    try:
        parsed.load(b"Exif\x00\x00" + exif)
        x, y, unit = parsed.get(0x011A), parsed.get(0x011B), parsed.get(0x0128, 2)
        x, y, unit = float(x), float(y), int(unit)
    except (OSError, ValueError, SyntaxError, TypeError, ZeroDivisionError, struct.error):
        return _DEFAULT_RESOLUTION
    if not (x > 0 and y > 0) or unit not in (2, 3):
        return _DEFAULT_RESOLUTION
    return x, y, unit


def _save_jpeg(path: Path, samples: np.ndarray, quality: int, extra: dict) -> None:
    image = Image.fromarray(samples)
    try:
        image.save(path, format="JPEG", quality=quality, **extra)
    except ValueError as error:  # EXIF over the 64 KB of a JPEG APP1 segment
        if "exif" not in extra:
            raise
        warnings.warn(f"{path.name}: EXIF not kept ({error})", stacklevel=3)
        extra = {k: v for k, v in extra.items() if k != "exif"}
        image.save(path, format="JPEG", quality=quality, **extra)


# IFD0 tags copied from EXIF into a 16-bit TIFF: code -> tifffile dtype
_TIFF_IFD0_TAGS = {0x010F: "s", 0x0110: "s", 0x0112: "H", 0x0132: "s", 0x013B: "s",
                   0x8298: "s"}


def _write_tiff(path: Path, samples: np.ndarray, exif: bytes | None,
                icc_profile: bytes | None,
                resolution: tuple[float, float, int] = _DEFAULT_RESOLUTION) -> None:
    """TIFF via tifffile: ICC profile (tag 34675), resolution, descriptive IFD0 EXIF tags."""
    extratags = []
    if icc_profile:
        extratags.append((34675, 7, len(icc_profile), icc_profile, True))
    if exif:
        parsed = Image.Exif()
        try:
            parsed.load(b"Exif\x00\x00" + exif)
        except (OSError, ValueError, SyntaxError, struct.error):
            parsed = Image.Exif()
        for code, dtype in _TIFF_IFD0_TAGS.items():
            value = parsed.get(code)
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            if dtype == "s" and isinstance(value, str) and value.strip("\x00"):
                extratags.append((code, "s", 0, value.strip("\x00"), True))
            elif dtype == "H" and isinstance(value, int) and 1 <= value <= 8:
                extratags.append((code, "H", 1, value, True))
    tifffile.imwrite(path, samples, photometric="rgb", extratags=extratags,
                     metadata=None if extratags else {}, resolution=resolution[:2],
                     resolutionunit=resolution[2])


def _as_uint8(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.uint8:
        return samples
    return np.rint(samples.astype(np.float64) / 257.0).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _write_png16(path: Path, samples: np.ndarray, exif: bytes | None = None,
                 icc_profile: bytes | None = None) -> None:
    """16-bit RGB PNG (Pillow cannot write 16-bit RGB; imagecodecs can).

    The ICC profile (iCCP) and EXIF (eXIf) chunks are inserted right after IHDR.
    """
    data = bytes(imagecodecs.png_encode(np.ascontiguousarray(samples)))
    chunks = b""
    if icc_profile:
        chunks += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile))
    if exif:
        chunks += _png_chunk(b"eXIf", exif)
    end_of_ihdr = 8 + 8 + 13 + 4  # signature, IHDR length+type, 13 data bytes, CRC
    path.write_bytes(data[:end_of_ihdr] + chunks + data[end_of_ihdr:])


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """HWC float32 array -> ``(1, 3, H, W)`` tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` or ``(1, 3, H, W)`` tensor -> HWC float32 array."""
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"expected a single image, got batch of {tensor.shape[0]}")
        tensor = tensor[0]
    return tensor.detach().cpu().float().permute(1, 2, 0).contiguous().numpy()
