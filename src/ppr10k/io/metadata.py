"""Photo metadata that must survive retouching: EXIF, ICC profile, orientation, capture time.

What is read from each input kind:

* JPEG, PNG: the EXIF block exactly as stored (passed through untouched) and the ICC profile.
* TIFF: the descriptive IFD0 tags (Make, Model, DateTime, Orientation, Artist, Copyright,
  Software, resolution) with the Exif and GPS sub-IFDs, and the ICC profile (tag 34675).
* Camera raws: the same TIFF tags where the raw is TIFF-based (CR2, NEF, ARW, DNG, ...),
  else the EXIF of the camera's embedded JPEG preview. LibRaw applies the orientation to
  the pixels, so the orientation tag is reset to 1.

What each output format can carry is in :func:`ppr10k.io.photo.write_photo`.

References:
    CIPA DC-008 (Exif 2.32): tags 0x0112 Orientation, 0x9003 DateTimeOriginal,
    0x9010 OffsetTimeOriginal, 0xA001 ColorSpace.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import struct
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

ORIENTATION = 0x0112
DATETIME = 0x0132
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME_ORIGINAL = 0x9003
#: IFD0 tags worth keeping from a TIFF (the rest describe the pixel layout of that file).
DESCRIPTIVE_TAGS = (0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132,
                    0x013B, 0x8298)


@dataclass(frozen=True)
class PhotoMetadata:
    """Metadata carried from an input photo to its retouched output.

    Attributes:
        exif: EXIF block as TIFF-structured bytes (``Exif\\0\\0`` header stripped), or None.
        icc_profile: the embedded ICC profile, or None (the pixels are then taken as sRGB).
        orientation: EXIF orientation 1..8 of the stored pixels (1 = upright).
        capture_time: EXIF DateTimeOriginal (or DateTime), naive local time, or None.
    """

    exif: bytes | None = None
    icc_profile: bytes | None = None
    orientation: int = 1
    capture_time: dt.datetime | None = None

    def replace(self, **changes) -> PhotoMetadata:
        return dataclasses.replace(self, **changes)


@lru_cache(maxsize=1)
def srgb_icc_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS's built-in sRGB, via Pillow) to tag outputs with."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def icc_description(profile: bytes) -> str:
    """The description string of an ICC profile (``""`` when it cannot be parsed)."""
    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile)))
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return ""


def _strip_header(exif: bytes | None) -> bytes | None:
    if not exif:
        return None
    return exif[6:] if exif.startswith(b"Exif\x00\x00") else exif


def _parse_time(value) -> dt.datetime | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="ignore")
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _summary(exif: Image.Exif) -> tuple[int, dt.datetime | None]:
    """Orientation and capture time from a parsed EXIF block."""
    orientation = exif.get(ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    try:
        sub = exif.get_ifd(EXIF_IFD)
    except (KeyError, OSError, ValueError, TypeError, SyntaxError):
        sub = {}
    when = _parse_time(sub.get(DATETIME_ORIGINAL)) or _parse_time(exif.get(DATETIME))
    return orientation, when


def parse_exif(exif: bytes | None) -> Image.Exif:
    """EXIF bytes (with or without the ``Exif\\0\\0`` header) -> a Pillow ``Exif`` mapping."""
    parsed = Image.Exif()
    if exif:
        try:
            parsed.load(b"Exif\x00\x00" + _strip_header(exif))
        except (OSError, ValueError, SyntaxError, struct.error):
            return Image.Exif()
    return parsed


def exif_from_tiff_tags(img: Image.Image, orientation: int | None = None) -> bytes | None:
    """EXIF bytes built from a TIFF's descriptive IFD0 tags and its Exif/GPS sub-IFDs."""
    source = img.getexif()
    exif = Image.Exif()
    for tag in DESCRIPTIVE_TAGS:
        if tag in source:
            exif[tag] = source[tag]
    for pointer in (EXIF_IFD, GPS_IFD):
        if pointer in source:
            try:
                sub = source.get_ifd(pointer)
            except (KeyError, OSError, ValueError, TypeError, SyntaxError):
                continue
            if sub:
                exif[pointer] = dict(sub)
    if orientation is not None and ORIENTATION in exif:
        exif[ORIENTATION] = orientation
    if not len(exif):
        return None
    try:
        return _strip_header(exif.tobytes())
    except (OSError, ValueError, TypeError, struct.error):
        return None


def _from_pillow(img: Image.Image, kind: str) -> PhotoMetadata:
    icc = img.info.get("icc_profile") or None
    if kind == "tiff":
        exif = exif_from_tiff_tags(img)
    else:
        exif = _strip_header(img.info.get("exif"))
        if exif is None and len(img.getexif()):
            exif = _strip_header(img.getexif().tobytes())
    orientation, when = _summary(parse_exif(exif))
    return PhotoMetadata(exif=exif, icc_profile=icc, orientation=orientation,
                         capture_time=when)


def read_metadata(path: str | os.PathLike, kind: str | None = None) -> PhotoMetadata:
    """EXIF, ICC profile, orientation and capture time of a photo (never decodes pixels).

    Args:
        path: a JPEG, PNG, TIFF or camera raw file.
        kind: ``jpeg``, ``png``, ``tiff`` or ``raw``; default from the suffix.

    Returns:
        The metadata; fields the file lacks (or that cannot be parsed) are None / 1.
    """
    from ppr10k.io.raw import is_raw, raw_embedded_jpeg

    path = Path(path)
    if kind is None:
        suffix = path.suffix.lower()
        kind = ("raw" if is_raw(path) else "tiff" if suffix in (".tif", ".tiff")
                else "png" if suffix == ".png" else "jpeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind != "raw":
            try:
                with Image.open(path) as img:
                    return _from_pillow(img, kind)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                return PhotoMetadata()
        # raw: TIFF-based containers expose their IFD0/Exif tags to Pillow ...
        meta = PhotoMetadata()
        try:
            with Image.open(path) as img:
                if img.format == "TIFF":
                    meta = _from_pillow(img, "tiff")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            pass
        # ... others (RAF, CR3, ...) through the embedded JPEG preview
        if meta.exif is None:
            preview = raw_embedded_jpeg(path)
            if preview is not None:
                try:
                    with Image.open(io.BytesIO(preview)) as img:
                        meta = _from_pillow(img, "jpeg").replace(icc_profile=None)
                except (OSError, ValueError, SyntaxError):
                    meta = PhotoMetadata()
    # LibRaw rotates the pixels upright: the stored orientation becomes 1
    exif = meta.exif
    if exif is not None and meta.orientation != 1:
        parsed = parse_exif(exif)
        parsed[ORIENTATION] = 1
        exif = _strip_header(parsed.tobytes())
    return meta.replace(exif=exif, orientation=1)


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """View of ``image`` (HWC) as displayed for EXIF ``orientation`` 1..8 (no copy).

    Matches ``PIL.ImageOps.exif_transpose``: 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
    6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
    """
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    if orientation == 5:
        return image.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(image, -1)
    if orientation == 7:
        return image.transpose(1, 0, 2)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(image, 1)
    return image
