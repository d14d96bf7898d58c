"""3D lookup tables in the official PPR10K layout ``lut[c, b, g, r]``."""

from ppr10k.lut.apply import apply_lut
from ppr10k.lut.ops import (
    apply_curves,
    apply_curves_and_lut,
    fuse_luts,
    identity_lut,
    lut_monotonicity,
    lut_total_variation,
    trilinear,
)

__all__ = [
    "apply_curves",
    "apply_curves_and_lut",
    "apply_lut",
    "fuse_luts",
    "identity_lut",
    "lut_monotonicity",
    "lut_total_variation",
    "trilinear",
]
