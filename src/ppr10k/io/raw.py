"""Camera raw files (CR2, NEF, ARW, DNG, RAF, ORF, ...) decoded with LibRaw (rawpy).

A raw is developed into 16-bit sRGB: the camera's own white balance ("as shot"), LibRaw's
default AHD demosaicing, sRGB primaries and the sRGB transfer curve (gamma 2.4 with a
linear toe of slope 12.92), LibRaw's automatic brightness (a 1 % highlight clip), and the
camera's orientation applied to the pixels. This stands in for the camera-default render
(``xmp_source``) from which the PPR10K sources were made; it is not Adobe's rendering.

For models that take CIE XYZ (the published FiveK XYZ models), ``space="xyz"`` develops to
16-bit linear XYZ instead: the same white balance and demosaicing, LibRaw's camera-to-XYZ
matrix, no transfer curve and no automatic brightening (linear scaling to the white level).
The FiveK XYZ training inputs were Lightroom exports (Adobe's camera profiles, its own
demosaicing and highlight handling), so LibRaw's XYZ is close in meaning but not the same
numbers: expect the XYZ models to render LibRaw raws somewhat differently from their paper.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

RAW_SUFFIXES = (
    ".3fr", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".iiq", ".kdc",
    ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".raw", ".rw2",
    ".rwl", ".sr2", ".srf", ".srw", ".x3f",
)


class RawDecodeError(ValueError):
    """LibRaw could not open or decode a file (the message says why)."""


def is_raw(path: str | os.PathLike) -> bool:
    """True when ``path`` has a camera raw suffix."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def _libraw_message(error: Exception) -> str:
    text = error.args[0] if error.args else type(error).__name__
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    if type(error).__name__ == "LibRawFileUnsupportedError":
        return f"not a camera raw LibRaw can decode ({text})"
    if type(error).__name__ == "LibRawIOError":
        return f"raw file is truncated or unreadable ({text})"
    return f"raw decoding failed: {text}"


def raw_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of the developed image, read from the raw header only."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            sizes = raw.sizes
    except rawpy.LibRawError as error:
        raise RawDecodeError(f"{path}: {_libraw_message(error)}") from None
    width, height = sizes.width, sizes.height
    if sizes.flip in (5, 6):  # LibRaw rotates by 90 degrees for these
        width, height = height, width
    return int(width), int(height)


#: colour spaces a raw can be developed into
RAW_SPACES = ("srgb", "xyz")


def read_raw(path: str | os.PathLike, half_size: bool = False,
             auto_bright: bool | None = None, space: str = "srgb") -> np.ndarray:
    """Develop a camera raw into 16-bit sRGB (or linear CIE XYZ).

    Args:
        path: a raw file LibRaw supports.
        half_size: decode at half resolution without demosaicing (4x faster, for previews).
        auto_bright: LibRaw's automatic brightening (off: linear scaling to the white level);
            default: on for sRGB, off for XYZ.
        space: ``srgb`` (sRGB primaries and transfer curve) or ``xyz`` (linear XYZ,
            channels X, Y, Z).

    Returns:
        ``(H, W, 3)`` uint16, orientation applied.

    Raises:
        RawDecodeError: the file is not a raw LibRaw can decode, or it is truncated.
    """
    import rawpy

    if space not in RAW_SPACES:
        raise ValueError(f"raw space must be one of {RAW_SPACES}, got {space!r}")
    xyz = space == "xyz"
    if auto_bright is None:
        auto_bright = not xyz
    try:
        with rawpy.imread(str(path)) as raw:
            rgb = raw.postprocess(
                use_camera_wb=True,
                output_color=rawpy.ColorSpace.XYZ if xyz else rawpy.ColorSpace.sRGB,
                output_bps=16,
                gamma=(1.0, 1.0) if xyz else (2.4, 12.92),
                no_auto_bright=not auto_bright,
                half_size=half_size,
            )
    except rawpy.LibRawError as error:
        raise RawDecodeError(f"{path}: {_libraw_message(error)}") from None
    return np.ascontiguousarray(rgb)


def raw_embedded_jpeg(path: str | os.PathLike) -> bytes | None:
    """The camera's embedded JPEG preview (it carries the EXIF block), or None."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            thumb = raw.extract_thumb()
    except (rawpy.LibRawError, AttributeError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return bytes(thumb.data)
    return None
