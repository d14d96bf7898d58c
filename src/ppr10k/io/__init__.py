"""Reading and writing images and masks: the only place that knows file formats."""

from ppr10k.io.image import (
    IMAGE_SUFFIXES,
    atomic_write,
    image_to_tensor,
    read_image,
    read_image_native,
    read_mask,
    tensor_to_image,
    to_uint,
    write_image,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "atomic_write",
    "image_to_tensor",
    "read_image",
    "read_image_native",
    "read_mask",
    "tensor_to_image",
    "to_uint",
    "write_image",
]
