"""Photo metadata that must survive retouching: EXIF, ICC profile, orientation, capture time.

What is read from each input kind:

* JPEG, PNG: the EXIF block exactly as stored (passed through untouched) and the ICC profile.
* TIFF: the descriptive IFD0 tags (Make, Model, DateTime, Orientation, Artist, Copyright,
  Software, resolution) with the Exif and GPS sub-IFDs, and the ICC profile (tag 34675).
* Camera raws: the same TIFF tags where the raw is TIFF-based (CR2, NEF, ARW, DNG, ...),
  else the EXIF of the camera's embedded JPEG preview. LibRaw applies the orientation to
  the pixels, so the orientation tag is reset to 1.

What each output format can carry is in :func:`ppr10k.io.photo.write_photo`. The EXIF
above is what Python reads (orientation, capture time, resolution) and the fallback; what
outputs carry (EXIF with its Exif and GPS IFDs, IPTC, XMP) is read and written by exiv2
through its ``pyexiv2`` binding (:func:`read_carried`, :func:`write_carried`).

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
        carried: EXIF (every IFD), IPTC and XMP as exiv2 read them, written into outputs by
            :func:`write_carried`; None: exiv2 could not read the file (then outputs get
            ``exif`` only).
    """

    exif: bytes | None = None
    icc_profile: bytes | None = None
    orientation: int = 1
    capture_time: dt.datetime | None = None
    carried: CarriedMetadata | None = None

    def replace(self, **changes) -> PhotoMetadata:
        return dataclasses.replace(self, **changes)


#: The creation date written into the header of the sRGB profile outputs are tagged with
#: (year, month, day, hour, minute, second, UTC). LittleCMS stamps a new profile with the
#: current second, which made the same photo retouched twice differ in 12 bytes.
SRGB_PROFILE_DATE = (2021, 6, 19, 0, 0, 0)


@lru_cache(maxsize=1)
def srgb_icc_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS's built-in sRGB, via Pillow) to tag outputs with.

    Its header's creation date (ICC.1:2022 §7.2.8, bytes 24–35) is the fixed
    :data:`SRGB_PROFILE_DATE`, so outputs are the same bytes whenever they are written; the
    profile ID (bytes 84–99) is left zero ("not computed"), as LittleCMS writes it.
    """
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = struct.pack(">6H", *SRGB_PROFILE_DATE)
    return bytes(profile)


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


def read_metadata(path: str | os.PathLike, kind: str | None = None,
                  carried: bool = True) -> PhotoMetadata:
    """EXIF, ICC profile, orientation and capture time of a photo (never decodes pixels).

    Args:
        path: a JPEG, PNG, TIFF or camera raw file.
        kind: ``jpeg``, ``png``, ``tiff`` or ``raw``; default from the suffix.
        carried: also read what outputs carry (:func:`read_carried`; False: leave
            ``carried`` None, for a quick look at orientation or capture time).

    Returns:
        The metadata; fields the file lacks (or that cannot be parsed) are None / 1.
    """
    from ppr10k.io.decode import open_image
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
                with open_image(path, kind) as img:
                    meta = _from_pillow(img, kind)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                return PhotoMetadata()
            return meta.replace(carried=read_carried(path) if carried else None)
        # raw: TIFF-based containers expose their IFD0/Exif tags to Pillow ...
        meta = PhotoMetadata()
        try:
            with open_image(path, "tiff") as img:  # TIFF-based raws (SyntaxError: others)
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
    return meta.replace(exif=exif, orientation=1,
                        carried=read_carried(path) if carried else None)


#: TIFF/EP puts these in a raw's IFD0; Exif (and every reader) wants them in the Exif IFD.
_TIFF_EP_CAPTURE_TAGS = (
    "ExposureTime", "FNumber", "ExposureProgram", "ISOSpeedRatings", "DateTimeOriginal",
    "ExposureBiasValue", "MaxApertureValue", "SubjectDistance", "MeteringMode", "LightSource",
    "Flash", "FocalLength", "SensingMethod", "ShutterSpeedValue", "ApertureValue",
    "BrightnessValue", "SubjectLocation", "FocalPlaneXResolution", "FocalPlaneYResolution",
    "FocalPlaneResolutionUnit",
)
#: IFD0 tags that describe the photo (the rest of IFD0 lays out the source file's own
#: image data, which the output's encoder writes for itself).
_DESCRIPTIVE_IFD0 = (
    "ImageDescription", "Make", "Model", "Orientation", "XResolution", "YResolution",
    "ResolutionUnit", "Software", "DateTime", "Artist", "HostComputer", "Copyright",
    "DocumentName", "Rating", "RatingPercent", "XPTitle", "XPComment", "XPAuthor",
    "XPKeywords", "XPSubject",
)
#: EXIF groups (exiv2 names) copied whole: the Exif IFD, GPS and interoperability IFDs.
_COPIED_GROUPS = ("Photo", "GPSInfo", "Iop")


def _open_metadata(source: Path):
    """A pyexiv2 image of ``source`` (or of a raw's embedded preview), or None."""
    import pyexiv2

    from ppr10k.io.raw import is_raw, raw_embedded_jpeg

    try:
        return pyexiv2.Image(str(source))
    except (RuntimeError, OSError, UnicodeError):
        pass
    preview = raw_embedded_jpeg(source) if is_raw(source) else None
    if preview is None:
        return None
    try:
        return pyexiv2.ImageData(preview)
    except (RuntimeError, OSError):
        return None


def portable_exif(exif: dict[str, str], raw: bool = False) -> dict[str, str]:
    """The part of an exiv2 EXIF mapping that describes the photo, for any output file.

    Keeps the descriptive IFD0 tags and the whole Exif, GPS and interoperability IFDs; drops
    the source file's layout (strips, tiles, sub-images, thumbnail, DNG tags). For a raw
    (``raw=True``) the TIFF/EP capture tags of IFD0 move to the Exif IFD and the orientation
    becomes 1 (LibRaw writes the pixels upright).

    >>> portable_exif({"Exif.Image.Make": "K", "Exif.Image.StripOffsets": "8",
    ...                "Exif.Image.FNumber": "28/10", "Exif.Image.Orientation": "6"}, raw=True)
    {'Exif.Image.Make': 'K', 'Exif.Image.Orientation': '1', 'Exif.Photo.FNumber': '28/10'}
    """
    kept: dict[str, str] = {}
    moved: dict[str, str] = {}
    for key, value in exif.items():
        _, group, name = key.split(".", 2)
        if group == "Image" and name in _DESCRIPTIVE_IFD0:
            kept[key] = "1" if raw and name == "Orientation" else value
        elif group == "Image" and raw and name in _TIFF_EP_CAPTURE_TAGS:
            moved[f"Exif.Photo.{name}"] = value
        elif group in _COPIED_GROUPS:
            kept[key] = value
    return {**kept, **{k: v for k, v in moved.items() if k not in kept}}


@dataclass(frozen=True)
class CarriedMetadata:
    """What exiv2 copies from a photo into its outputs (:func:`read_carried`).

    Attributes:
        exif: exiv2 key -> value, the portable part only (:func:`portable_exif`).
        iptc: IPTC key -> value (a list for repeated datasets such as keywords).
        xmp: the XMP packet as stored (``""``: none).
        comment: the JPEG comment (``""``: none).
    """

    exif: dict[str, str] = dataclasses.field(default_factory=dict)
    iptc: dict[str, str | list[str]] = dataclasses.field(default_factory=dict)
    xmp: str = ""
    comment: str = ""

    def __bool__(self) -> bool:
        return bool(self.exif or self.iptc or self.xmp or self.comment)


def _writable(value: str, type_name: str) -> str:
    """An exiv2 value as exiv2 parses it back: unsigned rationals above 2**31 - 1 (EXIF's
    4294967295/1 is "infinity") are read through int32, so they are written as such.

    >>> _writable("4294967295/1 7/2", "Rational"), _writable("4294967295/1", "SRational")
    ('-1/1 7/2', '4294967295/1')
    """
    if type_name != "Rational" or not isinstance(value, str):
        return value
    parts = []
    for token in value.split(" "):
        numbers = token.split("/")
        if all(n.isdigit() for n in numbers):
            numbers = [str(int(n) - 2**32) if int(n) >= 2**31 else n for n in numbers]
        parts.append("/".join(numbers))
    return " ".join(parts)


def read_carried(path: str | os.PathLike) -> CarriedMetadata | None:
    """EXIF, IPTC and XMP of a photo as exiv2 reads them (None: exiv2 cannot read it).

    Raws exiv2 cannot read give the EXIF of their embedded JPEG preview; a raw's EXIF is
    made to describe the developed, upright output (:func:`portable_exif`).
    """
    from ppr10k.io.raw import is_raw

    path = Path(path)
    image = _open_metadata(path)
    if image is None:
        return None
    try:
        with image:
            exif = {key: _writable(detail["value"], detail.get("typeName", ""))
                    for key, detail in image.read_exif_detail().items()}
            return CarriedMetadata(exif=portable_exif(exif, raw=is_raw(path)),
                                   iptc=image.read_iptc(), xmp=image.read_raw_xmp() or "",
                                   comment=image.read_comment() or "")
    except (RuntimeError, UnicodeError):
        return None


def write_carried(carried: CarriedMetadata, target: str | os.PathLike) -> None:
    """Write EXIF (IFD0, Exif and GPS IFDs), IPTC and XMP into a freshly written photo.

    exiv2 puts each where the target's format keeps it (JPEG APP1/APP13, PNG chunks, TIFF
    IFD0 with its Exif and GPS sub-IFDs) and leaves the target's own image layout, ICC
    profile and TIFF resolution alone. Maker notes and thumbnails are not carried (the
    thumbnail would show the photo before retouching).

    Raises:
        RuntimeError: exiv2 could not write ``target``.
    """
    import pyexiv2

    with pyexiv2.Image(str(target)) as out:
        if carried.exif:
            out.modify_exif(carried.exif)
        if carried.iptc:
            out.modify_iptc(carried.iptc)
        if carried.xmp:
            out.modify_raw_xmp(carried.xmp)
        if carried.comment and out.get_mime_type() == "image/jpeg":
            out.modify_comment(carried.comment)


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
