"""Colour profiles at the edges: inputs converted into sRGB, outputs tagged or converted back.

A model trained on sRGB photos must see sRGB numbers. :func:`input_profile` finds what an
input's numbers mean (its embedded ICC profile; without one, its EXIF ColorSpace /
InteroperabilityIndex: ``R03`` is Adobe RGB (1998); else sRGB) and :func:`to_srgb` /
:func:`from_srgb` convert pixels between that profile and sRGB, relative colorimetric.

Matrix/TRC profiles (Adobe RGB, ProPhoto, Display P3, sRGB and most camera-neutral working
spaces) are converted here in float32 from their own tags, as LittleCMS evaluates them:
tone curve -> colourants (PCS XYZ, D50) -> the sRGB profile's colourants -> sRGB tone
curve, so 16-bit and float samples keep their precision. RGB profiles built on lookup
tables (``A2B0``: some camera profiles) go through LittleCMS (Pillow's ImageCms) at 8 bits
(Pillow has no 16-bit RGB transforms): 16-bit samples in such a profile lose their low byte.
Grey, CMYK, Lab or unreadable profiles are refused with a one-line reason naming the file.

References:
    ICC.1:2010 (profile version 4.3): header, tag table, ``XYZType``, ``curveType``,
    ``parametricCurveType`` (Table 65), ``multiLocalizedUnicodeType``.
    CIPA DC-008 (Exif 2.32): ColorSpace 0xA001; DCF InteroperabilityIndex ``R98``/``R03``.
    Adobe RGB (1998) Color Image Encoding, 2005: primaries, D65, gamma 563/256.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numba
import numpy as np

from ppr10k.io.decode import PhotoError
from ppr10k.io.metadata import parse_exif, srgb_icc_profile

__all__ = [
    "ColourProfile",
    "adobe_rgb_icc_profile",
    "build_matrix_profile",
    "convert",
    "from_srgb",
    "input_profile",
    "metadata_profile",
    "parse_profile",
    "srgb_profile",
    "to_srgb",
]

#: ICC PCS illuminant (D50) as XYZ, Y = 1.
D50_XYZ = np.array([0.9642, 1.0, 0.8249])
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614],
                      [-0.7502, 1.7135, 0.0367],
                      [0.0389, -0.0685, 1.0296]])
_TABLE = 65536  # tone curves are tabulated at 16-bit resolution
_EXIF_IFD = 0x8769
_INTEROP_IFD = 0xA005
_COLOR_SPACE = 0xA001
_INTEROP_INDEX = 0x0001


@dataclass(frozen=True, eq=False)
class ColourProfile:
    """An RGB colour profile as conversions need it.

    Attributes:
        name: the profile's description (or what it was built as).
        icc: the ICC profile bytes (embedded into outputs tagged with it).
        colourants: ``(3, 3)`` linear RGB -> PCS XYZ (D50), columns red, green, blue;
            None for a lookup-table profile (converted by LittleCMS).
        curves: ``(3, 65536)`` float64 tone curves, encoded ``i / 65535`` -> linear [0, 1];
            None for a lookup-table profile.
    """

    name: str
    icc: bytes
    colourants: np.ndarray | None = None
    curves: np.ndarray | None = None

    @property
    def is_matrix(self) -> bool:
        return self.colourants is not None

    def same_as(self, other: ColourProfile, tol: float = 2e-4) -> bool:
        """Both matrix/TRC profiles with the same colourants and tone curves (within ``tol``)."""
        if not (self.is_matrix and other.is_matrix):
            return self.icc == other.icc
        return (bool(np.abs(self.colourants - other.colourants).max() < tol)
                and bool(np.abs(self.curves - other.curves).max() < tol))


# ---------------------------------------------------------------- ICC parsing (ICC.1:2010)

def _s15(data: bytes, offset: int, count: int) -> np.ndarray:
    return np.array(struct.unpack_from(f">{count}i", data, offset), dtype=np.float64) / 65536.0


def _curve(data: bytes, offset: int) -> np.ndarray:
    """A ``curv`` or ``para`` tag as a 65536-entry table (encoded -> linear)."""
    x = np.linspace(0.0, 1.0, _TABLE)
    sig = data[offset:offset + 4]
    if sig == b"curv":
        (count,) = struct.unpack_from(">I", data, offset + 8)
        if count == 0:
            return x
        if count == 1:
            (gamma,) = struct.unpack_from(">H", data, offset + 12)
            return x ** (gamma / 256.0)
        table = np.array(struct.unpack_from(f">{count}H", data, offset + 12)) / 65535.0
        return np.interp(x, np.linspace(0.0, 1.0, count), table)
    if sig == b"para":
        (kind,) = struct.unpack_from(">H", data, offset + 8)
        n = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(kind)
        if n is None:
            raise ValueError(f"parametric curve of unknown type {kind}")
        g, a, b, c, d, e, f = list(_s15(data, offset + 12, n)) + [0.0] * (7 - n)
        if kind == 0:
            return x ** g
        if kind in (1, 2):
            d = -b / a if a else 0.0
            low = np.full_like(x, 0.0 if kind == 1 else c)
            return np.where(x >= d, np.maximum(a * x + b, 0.0) ** g + (c if kind == 2 else 0.0),
                            low)
        return np.where(x >= d, np.maximum(a * x + b, 0.0) ** g + e, c * x + f)
    raise ValueError(f"tone curve of unknown type {sig!r}")


def parse_profile(icc: bytes, source: str = "ICC profile") -> ColourProfile:
    """Read an RGB ICC profile.

    Args:
        icc: the profile's bytes.
        source: what to name in errors (the photo or profile file).

    Raises:
        PhotoError: unreadable, or not an RGB profile (grey, CMYK, Lab ...), one line.
    """
    from PIL import ImageCms

    if len(icc) < 132 or icc[36:40] != b"acsp":
        raise PhotoError(f"{source}: unreadable ICC profile ({len(icc)} bytes, no 'acsp' "
                         "signature)")
    space = icc[16:20].decode("latin-1").strip()
    if space != "RGB":
        raise PhotoError(f"{source}: the ICC profile is for {space or 'unknown'} data, not "
                         "RGB; convert the photo to RGB first")
    try:
        cms = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = ImageCms.getProfileDescription(cms).strip() or "RGB profile"
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError) as error:
        raise PhotoError(f"{source}: unreadable ICC profile ({error})") from None
    try:
        (count,) = struct.unpack_from(">I", icc, 128)
        tags = {}
        for i in range(min(count, 1000)):
            sig, offset, _size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
            tags[sig] = offset
        needed = (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")
        # LittleCMS prefers a profile's lookup tables (A2B*) to its matrix/TRC tags
        if not all(tag in tags for tag in needed) or any(
                tag in tags for tag in (b"A2B0", b"A2B1", b"B2A0", b"B2A1")):
            return ColourProfile(name, icc)  # lookup-table profile: LittleCMS
        colourants = np.stack([_s15(icc, tags[t] + 8, 3) for t in needed[:3]], axis=1)
        curves = np.stack([_curve(icc, tags[t]) for t in needed[3:]])
    except (struct.error, ValueError, ZeroDivisionError) as error:
        raise PhotoError(f"{source}: unreadable ICC profile ({error})") from None
    if not np.isfinite(curves).all() or abs(np.linalg.det(colourants)) < 1e-9:
        raise PhotoError(f"{source}: unreadable ICC profile (degenerate colourants or curves)")
    return ColourProfile(name, icc, colourants, curves)


# ------------------------------------------------------------ building matrix/TRC profiles

def _bradford(white_xyz: np.ndarray) -> np.ndarray:
    """Bradford chromatic adaptation from ``white_xyz`` to D50."""
    src, dst = _BRADFORD @ white_xyz, _BRADFORD @ D50_XYZ
    return np.linalg.inv(_BRADFORD) @ np.diag(dst / src) @ _BRADFORD


def _xyz(xy) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _fixed(values) -> bytes:
    return struct.pack(f">{len(values)}i", *(round(float(v) * 65536) for v in values))


def build_matrix_profile(name: str, primaries, white, curve: float | str) -> bytes:
    """An ICC v4 matrix/TRC display profile.

    Args:
        name: description.
        primaries: CIE xy of red, green, blue, ``((xr, yr), (xg, yg), (xb, yb))``.
        white: CIE xy of the white point (colourants are Bradford-adapted to D50).
        curve: a gamma (e.g. ``563 / 256`` for Adobe RGB, ``1.8`` for ProPhoto) or
            ``"srgb"`` (IEC 61966-2-1 piecewise curve).
    """
    white_xyz = _xyz(white)
    p = np.stack([_xyz(xy) for xy in primaries], axis=1)
    m = p * np.linalg.solve(p, white_xyz)  # RGB -> XYZ, white at Y = 1
    colourants = _bradford(white_xyz) @ m
    if curve == "srgb":
        trc = b"para" + bytes(4) + struct.pack(">HH", 3, 0) + _fixed(
            [2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045])
    else:
        trc = b"para" + bytes(4) + struct.pack(">HH", 0, 0) + _fixed([float(curve)])
    text = name.encode("utf-16-be")
    desc = b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(text), 28) + text
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + bytes(4) + _fixed(D50_XYZ)),
            (b"cprt", b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", 0, 28))]
    tags += [(sig, b"XYZ " + bytes(4) + _fixed(colourants[:, i]))
             for i, sig in enumerate((b"rXYZ", b"gXYZ", b"bXYZ"))]
    tags += [(sig, trc) for sig in (b"rTRC", b"gTRC", b"bTRC")]
    table, body = b"", b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += struct.pack(">4sII", sig, offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I4sI4s4s4s12s4s4sI4s4sQI", size, b"lcms", 0x04300000, b"mntr",
                         b"RGB ", b"XYZ ", bytes(12), b"acsp", b"APPL", 0, b"none", b"none",
                         0, 1) + _fixed(D50_XYZ) + b"ppr1" + bytes(44)
    return header + struct.pack(">I", len(tags)) + table + body


@lru_cache(maxsize=1)
def adobe_rgb_icc_profile() -> bytes:
    """A profile of Adobe RGB (1998): what EXIF InteroperabilityIndex ``R03`` means."""
    return build_matrix_profile("Adobe RGB (1998) compatible (ppr10k)",
                                ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)),
                                (0.3127, 0.3290), 563 / 256)


@lru_cache(maxsize=1)
def srgb_profile() -> ColourProfile:
    """The sRGB profile outputs are tagged with (:func:`ppr10k.io.srgb_icc_profile`)."""
    return parse_profile(srgb_icc_profile(), "sRGB")


@lru_cache(maxsize=1)
def _adobe_profile() -> ColourProfile:
    return parse_profile(adobe_rgb_icc_profile(), "Adobe RGB")


def exif_colour_space(exif: bytes | None) -> str:
    """``adobe`` when EXIF says Adobe RGB (ColorSpace uncalibrated with InteropIndex
    ``R03``, or ``R03`` alone), else ``srgb``."""
    parsed = parse_exif(exif)
    try:
        sub = parsed.get_ifd(_EXIF_IFD)
        interop = parsed.get_ifd(_INTEROP_IFD) or (sub.get_ifd(_INTEROP_IFD)
                                                   if hasattr(sub, "get_ifd") else {})
    except (KeyError, OSError, ValueError, TypeError, SyntaxError):
        return "srgb"
    index = interop.get(_INTEROP_INDEX, "") if isinstance(interop, dict) else ""
    if isinstance(index, bytes):
        index = index.decode("ascii", "ignore")
    space = sub.get(_COLOR_SPACE, 1) if isinstance(sub, dict) else 1
    return "adobe" if str(index).strip("\x00 ") == "R03" and space != 1 else "srgb"


def input_profile(photo) -> ColourProfile | None:
    """What a photo's numbers mean: its embedded ICC profile, else Adobe RGB when EXIF says
    so (``R03``), else None (sRGB).

    Args:
        photo: a :class:`ppr10k.io.Photo` (raws: None, LibRaw develops into the model's
            space).

    Raises:
        PhotoError: an unreadable or non-RGB embedded profile, one line naming the file.
    """
    if photo.kind == "raw":
        return None
    return metadata_profile(photo.metadata, str(photo.path))


def metadata_profile(meta, source: str) -> ColourProfile | None:
    """The profile a file's :class:`~ppr10k.io.PhotoMetadata` declares (see
    :func:`input_profile`); ``source`` names the file in errors."""
    if meta.icc_profile:
        return parse_profile(meta.icc_profile, source)
    if exif_colour_space(meta.exif) == "adobe" or _carried_adobe(meta):
        return _adobe_profile()
    return None


def _carried_adobe(meta) -> bool:
    exif = meta.carried.exif if meta.carried is not None else {}
    return (exif.get("Exif.Iop.InteroperabilityIndex", "").strip() == "R03"
            and exif.get("Exif.Photo.ColorSpace", "1").strip() != "1")


# ---------------------------------------------------------------------------- conversion

def _to_unit(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / 65535.0
    return pixels.astype(np.float32, copy=False)


def _from_unit(values: np.ndarray, dtype) -> np.ndarray:
    values = np.clip(values, 0.0, 1.0)
    if dtype == np.uint8:
        return np.rint(values * 255.0).astype(np.uint8)
    if dtype == np.uint16:
        return np.rint(values * 65535.0).astype(np.uint16)
    return values.astype(np.float32)


def _decode(pixels: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """Tone curves, encoded samples -> linear float32 ``(H, W, 3)``."""
    out = np.empty(pixels.shape, np.float32)
    tables = curves.astype(np.float32)
    for c in range(3):
        channel = pixels[..., c]
        if channel.dtype == np.uint16:
            out[..., c] = tables[c][channel]
        elif channel.dtype == np.uint8:
            out[..., c] = tables[c][channel.astype(np.int32) * 257]
        else:
            out[..., c] = np.interp(np.clip(channel, 0.0, 1.0),
                                    np.linspace(0.0, 1.0, _TABLE), tables[c])
    return out


def _encode(linear: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """Inverse tone curves, linear float32 -> encoded [0, 1] (in place)."""
    grid = np.linspace(0.0, 1.0, _TABLE)
    for c in range(3):
        table = np.maximum.accumulate(curves[c])  # monotone for the inverse
        linear[..., c] = np.interp(np.clip(linear[..., c], 0.0, 1.0), table, grid)
    return linear


_ENCODE_STEPS = 4096  # inverse tone curves tabulated on a grid uniform in linear ** (1/4)


@lru_cache(maxsize=16)
def _encode_table(profile: ColourProfile) -> np.ndarray:
    """``(3, 4097)`` float32: encoded value at linear ``(i / 4096) ** 4``, per channel.

    Tabulating against ``linear ** (1/4)`` keeps the table smooth where gamma curves are
    steep (near black), so linear interpolation in it is exact to ~1e-6.
    """
    grid = np.linspace(0.0, 1.0, _TABLE)
    linear = np.linspace(0.0, 1.0, _ENCODE_STEPS + 1) ** 4
    return np.stack([np.interp(linear, np.maximum.accumulate(profile.curves[c]), grid)
                     for c in range(3)]).astype(np.float32)


@numba.njit(parallel=True, cache=True, nogil=True)
def _convert_kernel(src, scale, decode, matrix, encode, peak, out):  # pragma: no cover
    """Per pixel: decode table -> 3x3 matrix -> inverse curve (interpolated) -> ``out``."""
    height, width = src.shape[0], src.shape[1]
    steps = encode.shape[1] - 1
    for y in numba.prange(height):
        lin = np.empty(3, np.float32)
        for x in range(width):
            for c in range(3):
                lin[c] = decode[c, int(src[y, x, c]) * scale]
            for c in range(3):
                v = matrix[c, 0] * lin[0] + matrix[c, 1] * lin[1] + matrix[c, 2] * lin[2]
                v = min(max(v, 0.0), 1.0)
                t = np.sqrt(np.sqrt(v)) * steps
                i = min(int(t), steps - 1)
                f = t - i
                e = encode[c, i] + f * (encode[c, i + 1] - encode[c, i])
                out[y, x, c] = np.floor(min(max(e, 0.0), 1.0) * peak + 0.5)


def convert(pixels: np.ndarray, source: ColourProfile, target: ColourProfile,
            dtype=None) -> np.ndarray:
    """Convert RGB samples from ``source`` to ``target``, relative colorimetric.

    Args:
        pixels: ``(H, W, 3)`` uint8, uint16 or float32 in [0, 1].
        source, target: the profiles.
        dtype: the result's sample type (default: the input's); out-of-gamut colours clip.

    Returns:
        A new ``(H, W, 3)`` array.
    """
    dtype = np.dtype(dtype or pixels.dtype)
    if source.same_as(target):
        return _from_unit(_to_unit(pixels), dtype) if dtype != pixels.dtype else pixels.copy()
    if not (source.is_matrix and target.is_matrix):
        return _convert_lcms(pixels, source, target, dtype)
    matrix = (np.linalg.inv(target.colourants) @ source.colourants).astype(np.float32)
    if pixels.dtype in (np.uint8, np.uint16) and dtype in (np.uint8, np.uint16):
        out = np.empty(pixels.shape, dtype)
        _convert_kernel(np.ascontiguousarray(pixels), 257 if pixels.dtype == np.uint8 else 1,
                        source.curves.astype(np.float32), matrix,
                        _encode_table(target), float(np.iinfo(dtype).max), out)
        return out
    linear = _decode(pixels, source.curves)
    shape = linear.shape
    flat = linear.reshape(-1, 3)
    flat = flat @ matrix.T
    return _from_unit(_encode(flat.reshape(shape), target.curves), dtype)


def _convert_lcms(pixels: np.ndarray, source: ColourProfile, target: ColourProfile,
                  dtype) -> np.ndarray:
    """LittleCMS (8-bit) for lookup-table profiles."""
    from PIL import Image, ImageCms

    try:
        profiles = [ImageCms.ImageCmsProfile(io.BytesIO(p.icc)) for p in (source, target)]
        transform = ImageCms.buildTransform(profiles[0], profiles[1], "RGB", "RGB",
                                            ImageCms.Intent.RELATIVE_COLORIMETRIC)
    except (ImageCms.PyCMSError, OSError, ValueError) as error:
        raise PhotoError(f"{source.name} -> {target.name}: LittleCMS cannot convert "
                         f"({error})") from None
    eight = _from_unit(_to_unit(pixels), np.uint8)
    out = ImageCms.applyTransform(Image.fromarray(eight, "RGB"), transform)
    return _from_unit(np.asarray(out).astype(np.float32) / 255.0, dtype)


def to_srgb(pixels: np.ndarray, profile: ColourProfile | None) -> np.ndarray:
    """``pixels`` in ``profile`` -> sRGB (same sample type); None: already sRGB (as is)."""
    if profile is None:
        return pixels
    return convert(pixels, profile, srgb_profile())


def from_srgb(pixels: np.ndarray, profile: ColourProfile | None, dtype=None) -> np.ndarray:
    """sRGB ``pixels`` -> ``profile`` (None: sRGB, as is or recast to ``dtype``)."""
    return convert(pixels, srgb_profile(), profile or srgb_profile(), dtype)


def read_profile_file(path: str | Path) -> ColourProfile:
    """An ICC profile file (``--output-profile PATH``).

    Raises:
        PhotoError: missing, unreadable, or not RGB, one line naming the file.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise PhotoError(f"{path}: cannot read the ICC profile ({error.strerror or error})"
                         ) from None
    return parse_profile(data, str(path))
