"""3D lookup tables in the official PPR10K layout ``lut[c, b, g, r]``.

The differentiable ops pick a backend per call (``backend="auto"``: fused Triton kernels for
float32 CUDA tensors, pure torch elsewhere; see :mod:`ppr10k.lut.ops`)."""

from ppr10k.lut.apply import apply_lut
from ppr10k.lut.ops import (
    apply_curves,
    apply_curves_and_lut,
    choose_backend,
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
    "choose_backend",
    "fuse_luts",
    "identity_lut",
    "lut_monotonicity",
    "lut_total_variation",
    "trilinear",
]
