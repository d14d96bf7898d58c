"""Photos as a studio has them: JPEG, PNG, 8/16-bit TIFF and camera raws, with metadata.

:func:`read_photo` checks a file before decoding it (empty, unsupported, content that does
not match the suffix, more pixels than allowed) and raises :class:`PhotoError` with a
one-line reason; :func:`write_photo` writes the retouched pixels with the input's EXIF
and ICC profile (or an sRGB profile when the input had none), atomically.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tifffile

from ppr10k.io.decode import (
    DECODE_ERRORS,
    SUFFIX_KINDS,
    PhotoError,
    PhotoTooLargeError,
    decode_error,
    decode_jpeg_bytes,
    decode_jpeg_on_device,
    decode_pixels,
    open_image,
    read_jpeg,
)
from ppr10k.io.image import atomic_write, encode_image, to_float
from ppr10k.io.metadata import (
    PhotoMetadata,
    orient,
    read_metadata,
    srgb_icc_profile,
    write_carried,
)
from ppr10k.io.raw import RAW_SUFFIXES, RawDecodeError, is_raw, raw_size

if TYPE_CHECKING:
    import torch

    from ppr10k.io.colour import ColourProfile

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PHOTO_SUFFIXES",
    "Photo",
    "PhotoError",
    "PhotoTooLargeError",
    "photo_size",
    "probe_photo",
    "read_photo",
    "read_photo_image",
    "sniff_format",
    "write_photo",
]

#: Refuse images with more pixels than this (decompression bombs); 8K is 33 MP.
DEFAULT_MAX_PIXELS = 100_000_000
_KINDS = SUFFIX_KINDS
PHOTO_SUFFIXES = tuple(_KINDS) + RAW_SUFFIXES
_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"GIF8", "gif"),
    (b"BM", "bmp"),
    (b"RIFF", "webp"),
    (b"%PDF", "pdf"),
    (b"PK\x03\x04", "zip"),
)


@dataclass
class Photo:
    """A decoded photo.

    Attributes:
        pixels: ``(H, W, 3)`` samples as decoded: uint8, uint16 (16-bit files and raws) or
            float32 in [0, 1] (float TIFFs); a uint8 tensor on a CUDA device for a JPEG
            decoded there (:func:`read_photo`'s ``jpeg_device``).
        metadata: EXIF, ICC profile, orientation and capture time.
        kind: ``jpeg``, ``png``, ``tiff`` or ``raw``.
        path: the file it came from.
        colour: the :class:`ppr10k.io.colour.ColourProfile` the pixels were converted
            from (None: as decoded).
    """

    pixels: np.ndarray | torch.Tensor
    metadata: PhotoMetadata
    kind: str
    path: Path
    #: the profile the file's numbers were in, when they were converted to sRGB on reading
    #: (:mod:`ppr10k.io.colour`); None: the pixels are as decoded.
    colour: ColourProfile | None = None

    @property
    def bits(self) -> int:
        """Bits per sample of the source: 8, or 16 (also for float TIFFs)."""
        return 8 if str(self.pixels.dtype) in ("uint8", "torch.uint8") else 16


def sniff_format(path: str | os.PathLike) -> str | None:
    """The format a file's first bytes announce (``jpeg``, ``png``, ``tiff``, ...) or None."""
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] != b"WEBP":
        return "riff"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def probe_photo(path: str | os.PathLike,
                max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[str, int, int]:
    """Check a photo without decoding its pixels.

    Returns:
        ``(kind, width, height)``.

    Raises:
        FileNotFoundError: no such file.
        PhotoError: empty, unsupported suffix, content of another format than the suffix
            says, unreadable header; :class:`PhotoTooLargeError` above ``max_pixels``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise PhotoError(f"{path}: empty file (0 bytes)")
    suffix = path.suffix.lower()
    if suffix not in PHOTO_SUFFIXES:
        raise PhotoError(f"{path}: unsupported format {suffix or '(no suffix)'!r}; "
                         f"use JPEG, PNG, TIFF or a camera raw")
    content = sniff_format(path)
    if is_raw(path):
        kind = "raw"
        if content in ("jpeg", "png", "gif", "bmp", "webp", "pdf", "zip"):
            raise PhotoError(f"{path}: mislabelled: the content is {content.upper()}, "
                             f"not a {suffix} raw; rename it")
        width, height = _raw_size(path)
    else:
        kind = _KINDS[suffix]
        if content != kind:
            what = f"{content.upper()} data" if content else "not an image file"
            hint = f"; rename it to .{_suffix_for(content)}" if content in _KINDS.values() else ""
            raise PhotoError(f"{path}: mislabelled: the name says {kind.upper()} but the "
                             f"content is {what}{hint}")
        width, height = _header_size(path, kind)
    if max_pixels is not None and width * height > max_pixels:
        raise PhotoTooLargeError(
            f"{path}: {width}x{height} = {width * height / 1e6:.0f} MP is over the limit of "
            f"{max_pixels / 1e6:.0f} MP (a decompression bomb?); raise --max-pixels if the "
            f"photo is genuine")
    return kind, width, height


def _suffix_for(kind: str) -> str:
    return {"jpeg": "jpg", "png": "png", "tiff": "tif"}[kind]


def _raw_size(path: Path) -> tuple[int, int]:
    try:
        return raw_size(path)
    except RawDecodeError as error:
        raise PhotoError(str(error)) from None


def _header_size(path: Path, kind: str) -> tuple[int, int]:
    try:
        if kind == "tiff":
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                return int(page.imagewidth), int(page.imagelength)
        if kind == "png":  # IHDR: width and height right after the signature
            with open(path, "rb") as f:
                head = f.read(24)
            if len(head) < 24 or head[12:16] != b"IHDR":
                raise ValueError("no IHDR chunk")
            width, height = struct.unpack(">II", head[16:24])
            return int(width), int(height)
        with open_image(path, kind) as img:
            return img.size
    except (OSError, ValueError, SyntaxError, IndexError, tifffile.TiffFileError) as error:
        raise PhotoError(f"{path}: corrupt {kind.upper()} header ({error})") from None


def read_photo(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               metadata: bool = True, raw_space: str = "srgb",
               jpeg_device: torch.device | str | None = None) -> Photo:
    """Read a JPEG, PNG, 8/16-bit TIFF or camera raw with its metadata.

    Args:
        path: the photo.
        max_pixels: refuse images larger than this (None: no limit).
        metadata: read EXIF/ICC/capture time too.
        raw_space: ``srgb`` (default) or ``xyz``: what raws are developed into.
        jpeg_device: a CUDA device to decode JPEGs on (nvJPEG); the photo's ``pixels`` are
            then an ``(H, W, 3)`` uint8 tensor there. JPEGs that device cannot decode, and
            every other format, are decoded on the CPU as without it. The same checks
            apply (a truncated JPEG is refused before any decoder sees it).

    Returns:
        The :class:`Photo`; raws are developed to 16-bit sRGB (:func:`ppr10k.io.raw.read_raw`).

    Raises:
        FileNotFoundError, PhotoError: with the file name and the reason (corrupt,
            truncated, empty, mislabelled, unsupported, too large).
    """
    path = Path(path)
    kind, _, _ = probe_photo(path, max_pixels)
    try:
        if kind == "jpeg" and jpeg_device is not None:
            data = read_jpeg(path)
            pixels = decode_jpeg_on_device(data, jpeg_device)
            if pixels is None:
                pixels = decode_jpeg_bytes(path, data)
        else:
            pixels = decode_pixels(path, kind, raw_space=raw_space)
    except PhotoError:
        raise
    except RawDecodeError as error:
        raise PhotoError(str(error)) from None
    except DECODE_ERRORS as error:
        raise decode_error(path, kind, error) from None
    meta = read_metadata(path, kind) if metadata else PhotoMetadata()
    return Photo(pixels=pixels, metadata=meta, kind=kind, path=path)


def read_photo_image(path: str | os.PathLike,
                     max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A photo as it is displayed: float32 RGB in [0, 1], ``(H, W, 3)``, upright.

    Reads what :func:`read_photo` reads (JPEG, PNG, 8/16-bit TIFF, camera raws) and applies
    the EXIF orientation, so a camera JPEG stored sideways comes out as its upright export
    does. Raws are developed by LibRaw at full resolution: seconds per photo.

    Raises:
        FileNotFoundError, PhotoError: as :func:`read_photo`, naming the file.
    """
    photo = read_photo(path, max_pixels, metadata=False)
    orientation = (1 if photo.kind == "raw"  # LibRaw develops raws upright
                   else read_metadata(path, photo.kind, carried=False).orientation)
    return to_float(np.ascontiguousarray(orient(photo.pixels, orientation)))


def photo_size(path: str | os.PathLike,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``(height, width)`` of a photo as displayed (EXIF orientation applied), from headers.

    Raises:
        FileNotFoundError, PhotoError: as :func:`probe_photo`.
    """
    kind, width, height = probe_photo(path, max_pixels)
    if kind != "raw" and read_metadata(path, kind, carried=False).orientation in (5, 6, 7, 8):
        width, height = height, width  # stored sideways, displayed rotated by 90 degrees
    return height, width


def write_photo(path: str | os.PathLike, pixels: np.ndarray, metadata: PhotoMetadata | None,
                quality: int = 95) -> Path:
    """Write retouched pixels with the input's metadata, atomically (temp file + rename).

    Every format (JPEG, PNG, 8- and 16-bit TIFF) gets the input's ICC profile, or the sRGB
    profile when the input had none (the output is then tagged sRGB), its resolution (TIFF:
    from the EXIF, else 72 dpi), and what exiv2 read from it (``metadata.carried``: EXIF
    with the Exif and GPS IFDs, IPTC, XMP). Without that (exiv2 could not read the input),
    ``metadata.exif`` is embedded as the encoder can (all of it in JPEG, PNG and 8-bit TIFF;
    IFD0 camera tags in 16-bit TIFF). Pixels are written as given: the orientation tag is
    kept as the input had it (raws: 1, LibRaw develops them upright).

    Args:
        path: output file; its suffix picks the format (``.jpg``, ``.png``, ``.tif``).
        pixels: ``(H, W, 3)`` uint8 or uint16 samples (written at that depth; JPEG: 8-bit).
        metadata: the input's metadata.
        quality: JPEG quality.
    """
    path = Path(path)
    metadata = metadata or PhotoMetadata()
    icc = metadata.icc_profile or srgb_icc_profile()
    carried = metadata.carried
    bits = 16 if pixels.dtype == np.uint16 else 8
    with atomic_write(path) as tmp:
        encode_image(tmp, pixels, bits, fmt=path.suffix, exif=metadata.exif,
                     embed_exif=carried is None, icc_profile=icc, quality=quality)
        if carried is not None:
            try:
                write_carried(carried, tmp)
            except RuntimeError as error:  # e.g. an ICC profile exiv2 finds invalid
                warnings.warn(f"{path.name}: only the EXIF Pillow reads is kept; exiv2 "
                              f"could not write IPTC/XMP ({error})", stacklevel=2)
                encode_image(tmp, pixels, bits, fmt=path.suffix, exif=metadata.exif,
                             icc_profile=icc, quality=quality)
    return path
