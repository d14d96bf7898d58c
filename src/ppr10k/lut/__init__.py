"""3D lookup tables in the official PPR10K layout ``lut[c, b, g, r]``."""

from ppr10k.lut.ops import (
    fuse_luts,
    identity_lut,
    lut_monotonicity,
    lut_total_variation,
    trilinear,
)

__all__ = [
    "fuse_luts",
    "identity_lut",
    "lut_monotonicity",
    "lut_total_variation",
    "trilinear",
]
