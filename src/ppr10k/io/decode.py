"""Decoding image files into sample arrays: the one decoder behind every reader of ppr10k.io."""

from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import imagecodecs
import numpy as np
import tifffile
from PIL import Image

if TYPE_CHECKING:
    import torch

SUFFIX_KINDS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".tif": "tiff", ".tiff": "tiff"}


class PhotoError(ValueError):
    """A photo that cannot be used; the message names the file and the reason."""


class PhotoTooLargeError(PhotoError):
    """More pixels than the configured limit (a decompression bomb, or a limit to raise)."""


def open_image(path: str | os.PathLike | BinaryIO, kind: str) -> Image.Image:
    """Open a JPEG, PNG or TIFF (a path, or a binary file object) with Pillow, without
    Pillow's decompression-bomb check.

    Callers check the pixel count themselves (:func:`ppr10k.io.probe_photo`'s
    ``max_pixels``), so this never changes the process-wide ``Image.MAX_IMAGE_PIXELS``.

    Raises:
        OSError, SyntaxError: not a file of that kind.
    """
    from PIL import JpegImagePlugin, PngImagePlugin, TiffImagePlugin

    opener = {"jpeg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
              "tiff": TiffImagePlugin.TiffImageFile}[kind]
    return opener(path if hasattr(path, "read") else os.fspath(path))


def kind_from_suffix(path: Path) -> str:
    """``jpeg``, ``png``, ``tiff`` or ``raw`` from a file's suffix."""
    from ppr10k.io.raw import RAW_SUFFIXES

    suffix = path.suffix.lower()
    if suffix in SUFFIX_KINDS:
        return SUFFIX_KINDS[suffix]
    if suffix in RAW_SUFFIXES:
        return "raw"
    raise PhotoError(f"{path}: unsupported format {suffix or '(no suffix)'!r}")


def decode_pixels(path: str | os.PathLike, kind: str | None = None,
                  raw_space: str = "srgb") -> np.ndarray:
    """Decode an image file's samples, as stored: ``(H, W, 3)`` uint8, uint16 or float32.

    Args:
        path: a JPEG, PNG, TIFF or camera raw file.
        kind: ``jpeg``, ``png``, ``tiff`` or ``raw``; default: from the suffix.
        raw_space: what raws are developed into: ``srgb`` or linear ``xyz``
            (:func:`ppr10k.io.raw.read_raw`).

    Grey images are repeated to RGB and alpha is dropped; 16-bit PNG and TIFF stay 16-bit,
    float TIFFs are clipped to [0, 1], raws are developed to 16-bit sRGB (LibRaw).

    Raises:
        PhotoError: a layout that is not RGB or grey (e.g. CMYK TIFF), unusual samples,
            NaN or infinite float samples, a JPEG whose image data is cut short
            (:func:`ppr10k.io.jpeg_check.jpeg_truncation`), any damaged file: one line
            naming the file.
    """
    path = Path(path)
    kind = kind or kind_from_suffix(path)
    if kind == "raw":
        from ppr10k.io.raw import read_raw

        return read_raw(path, space=raw_space)
    try:
        return _decode(path, kind)
    except (PhotoError, FileNotFoundError):
        raise
    except DECODE_ERRORS as error:
        raise decode_error(path, kind, error) from None


#: What decoders raise for a damaged file (imagecodecs: RuntimeError).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError,
                 tifffile.TiffFileError, RuntimeError)


def decode_error(path: Path, kind: str, error: BaseException) -> PhotoError:
    """A decoder's exception as a one-line :class:`PhotoError` naming the file."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = reason or type(error).__name__
    if "truncated" in reason or "failed to read" in reason or "too small" in reason:
        reason = f"truncated file ({reason})"
    return PhotoError(f"{path}: cannot decode {kind.upper()}: {reason}")


def _decode(path: Path, kind: str) -> np.ndarray:
    """JPEG, PNG and TIFF samples (errors as the decoders raise them)."""
    if kind == "tiff":
        return _decode_tiff(path)
    source: Path | BinaryIO = path
    if kind == "jpeg":  # read once: checked for truncation, then decoded from memory
        source = io.BytesIO(read_jpeg(path))
    if kind == "png" and _png_depth(path) == 16:
        array = imagecodecs.png_decode(path.read_bytes())
        return _rgb(np.asarray(array), path)
    return _decode_opened(source, kind, path)


def _decode_opened(source: Path | BinaryIO, kind: str, path: Path) -> np.ndarray:
    """JPEG or 8/16-bit PNG samples through Pillow from a path or file object."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with open_image(source, kind) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey PNG via Pillow
                grey = np.asarray(img).astype(np.uint16)
                return _rgb(grey, path)
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            return np.array(rgb)  # writable (np.asarray of a PIL image is read-only)


def read_jpeg(path: Path) -> bytes:
    """A JPEG file's bytes, refused when its image data was cut short.

    Raises:
        PhotoError: truncated (:func:`ppr10k.io.jpeg_check.jpeg_truncation`), naming the file.
    """
    data = path.read_bytes()
    _check_jpeg_complete(path, data)
    return data


def decode_jpeg_bytes(path: Path, data: bytes) -> np.ndarray:
    """CPU decode of a checked JPEG's bytes (:func:`read_jpeg`) into ``(H, W, 3)`` uint8, as
    :func:`decode_pixels` decodes the file; ``path`` names it in errors."""
    try:
        return _decode_opened(io.BytesIO(data), "jpeg", path)
    except (PhotoError, FileNotFoundError):
        raise
    except DECODE_ERRORS as error:
        raise decode_error(path, "jpeg", error) from None


def decode_jpeg_on_device(data: bytes, device: torch.device | str) -> torch.Tensor | None:
    """Decode a checked JPEG's bytes (:func:`read_jpeg`) on a CUDA device (nvJPEG through
    ``torchvision.io.decode_jpeg``) into an ``(H, W, 3)`` uint8 tensor there, stored
    orientation.

    Returns:
        The tensor, or None where the device decoder does not apply (a JPEG that is not
        8-bit YCbCr or grey, e.g. CMYK; torchvision without a GPU decoder; a decoder
        error): decode it with :func:`decode_jpeg_bytes` then.
    """
    try:
        with open_image(io.BytesIO(data), "jpeg") as img:
            if img.mode not in ("RGB", "L"):
                return None
        with _DEVICE_DECODE_LOCK:
            image = _decode_jpeg_torch(data, device)
    except Exception:  # noqa: BLE001 - any failure of the device decoder: the CPU decodes
        return None
    if image.ndim != 3 or image.shape[0] != 3:
        return None
    return image.permute(1, 2, 0).contiguous()


#: One device decode at a time (torchvision keeps one nvJPEG decoder per process).
_DEVICE_DECODE_LOCK = threading.Lock()
_SIDE_STREAMS: dict = {}


def _decode_jpeg_torch(data: bytes, device: torch.device | str) -> torch.Tensor:
    """``torchvision.io.decode_jpeg`` -> ``(3, H, W)`` uint8 on ``device``.

    On CUDA the output is allocated on a side stream of its own, so that the decoder (which
    writes from a private stream) is never handed memory that kernels queued on the
    caller's stream still read; the device is synchronised before the output is used, and
    the output is marked as used on the caller's stream, so its memory is not handed to
    the next decode before those uses finish.
    """
    import torch

    with warnings.catch_warnings():  # torchvision 0.29 points to TorchCodec on each call
        warnings.simplefilter("ignore", DeprecationWarning)
        from torchvision.io import ImageReadMode, decode_jpeg

        encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        device = torch.device(device)
        if device.type != "cuda":
            return decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
        side = _SIDE_STREAMS.setdefault(device, torch.cuda.Stream(device))
        with torch.cuda.stream(side):
            image = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
        torch.cuda.synchronize(device)
        image.record_stream(torch.cuda.current_stream(device))
        return image


def _check_jpeg_complete(path: Path, data: bytes) -> None:
    """Refuse a JPEG (``data``, the bytes of ``path``) whose image data was cut short
    (decoders fill the rest with grey)."""
    from ppr10k.io.jpeg_check import jpeg_truncation

    reason = jpeg_truncation(data)
    if reason is not None:
        raise PhotoError(f"{path}: cannot decode JPEG: truncated file ({reason})")


def _png_depth(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(25)
    return head[24] if len(head) == 25 else 8


def _rgb(array: np.ndarray, path: Path) -> np.ndarray:
    """Grey, grey+alpha, RGB or RGBA samples -> RGB (alpha dropped)."""
    if array.ndim == 3 and array.shape[2] in (1, 2):  # grey, grey + alpha
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise PhotoError(f"{path}: expected an RGB image, got samples of shape {array.shape}")
    return np.ascontiguousarray(array[:, :, :3])


def _check_finite(array: np.ndarray, path: Path) -> None:
    """Refuse float samples that are NaN or infinite (a damaged or non-image file)."""
    finite = np.isfinite(array)
    if finite.all():
        return
    nan = int(np.isnan(array).sum())
    inf = int(array.size - finite.sum()) - nan
    parts = [f"{n} sample{' is' if n == 1 else 's are'} {what}"
             for n, what in ((nan, "NaN"), (inf, "infinite")) if n]
    raise PhotoError(f"{path}: {' and '.join(parts)} (of {array.size}); the float TIFF is "
                     "damaged or holds no [0, 1] image")


def _decode_tiff(path: Path) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        photometric = int(page.photometric)
        if photometric not in (0, 1, 2):  # min-is-white, min-is-black, RGB
            name = getattr(page.photometric, "name", str(photometric))
            raise PhotoError(f"{path}: {name} TIFF is not supported; save it as RGB")
        array = page.asarray()
        axes = page.axes
    if "S" in axes and axes.index("S") < axes.index("X"):  # planar: channels first
        array = np.moveaxis(array, axes.index("S"), -1)
    if photometric == 0:
        array = np.iinfo(array.dtype).max - array if array.dtype.kind == "u" else 1 - array
    if array.dtype in (np.uint8, np.uint16):
        return _rgb(array, path)
    if array.dtype.kind == "f":
        _check_finite(array, path)
        return _rgb(np.clip(array.astype(np.float32), 0.0, 1.0), path)
    raise PhotoError(f"{path}: {array.dtype} samples are not supported (8/16-bit or float)")
