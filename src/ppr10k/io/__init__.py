"""Reading and writing images and masks: the only place that knows file formats."""

from ppr10k.io.image import (
    IMAGE_SUFFIXES,
    SAMPLE_PEAKS,
    atomic_write,
    image_to_tensor,
    read_image,
    read_image_native,
    read_mask,
    tensor_to_image,
    to_uint,
    write_image,
)
from ppr10k.io.metadata import PhotoMetadata, orient, read_metadata, srgb_icc_profile
from ppr10k.io.names import PhotoKey, parse_stem, stem_order
from ppr10k.io.photo import (
    DEFAULT_MAX_PIXELS,
    PHOTO_SUFFIXES,
    Photo,
    PhotoError,
    PhotoTooLargeError,
    probe_photo,
    read_photo,
    sniff_format,
    write_photo,
)
from ppr10k.io.raw import RAW_SUFFIXES, RawDecodeError, is_raw, read_raw

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "PHOTO_SUFFIXES",
    "RAW_SUFFIXES",
    "SAMPLE_PEAKS",
    "Photo",
    "PhotoError",
    "PhotoKey",
    "PhotoMetadata",
    "PhotoTooLargeError",
    "RawDecodeError",
    "atomic_write",
    "image_to_tensor",
    "is_raw",
    "orient",
    "parse_stem",
    "probe_photo",
    "read_image",
    "read_image_native",
    "read_mask",
    "read_metadata",
    "read_photo",
    "read_raw",
    "sniff_format",
    "srgb_icc_profile",
    "stem_order",
    "tensor_to_image",
    "to_uint",
    "write_image",
    "write_photo",
]
