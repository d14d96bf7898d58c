"""Colour conversions: sRGB -> CIE L*a*b* (D65) for the PPR10K measures (spec §5)."""

from ppr10k.color.lab import (
    CIE_EPSILON,
    CIE_KAPPA,
    D65_WHITE_XY,
    D65_WHITE_XYZ,
    SRGB_PRIMARIES_XY,
    SRGB_TO_XYZ,
    delta_e_cie1976,
    linear_srgb_to_xyz,
    srgb_decode,
    srgb_decode_table,
    srgb_to_lab,
    srgb_to_lab_tensor,
    xyz_to_lab,
)

__all__ = [
    "CIE_EPSILON",
    "CIE_KAPPA",
    "D65_WHITE_XY",
    "D65_WHITE_XYZ",
    "SRGB_PRIMARIES_XY",
    "SRGB_TO_XYZ",
    "delta_e_cie1976",
    "linear_srgb_to_xyz",
    "srgb_decode",
    "srgb_decode_table",
    "srgb_to_lab",
    "srgb_to_lab_tensor",
    "xyz_to_lab",
]
