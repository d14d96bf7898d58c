"""Independent references for the evaluation tests: colour-science and hand formulas."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from required import require_module


@pytest.fixture(scope="session")
def ref() -> SimpleNamespace:
    """Reference implementations written from the definitions (spec §5), not from ppr10k."""
    colour = require_module("colour")
    srgb = colour.RGB_COLOURSPACES["sRGB"]
    space = colour.RGB_Colourspace("derived", srgb.primaries, srgb.whitepoint,
                                   use_derived_matrix_RGB_to_XYZ=True,
                                   use_derived_matrix_XYZ_to_RGB=True)

    def lab(image_u8):
        linear = colour.cctf_decoding(np.asarray(image_u8) / 255.0, function="sRGB")
        return colour.XYZ_to_Lab(colour.RGB_to_XYZ(linear, space), srgb.whitepoint)

    def psnr(x, y):
        mse = np.mean((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2)
        return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)

    def weights(mask):
        return np.where(np.asarray(mask) != 0, 1.0, 0.5)[:, :, None]

    def psnr_hc(x, y, mask):
        w = weights(mask)
        mse = np.mean((w * (x / 255.0) - w * (y / 255.0)) ** 2)
        return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)

    def delta_e(x, y, mask=None):
        lab_x, lab_y = lab(x), lab(y)
        if mask is not None:
            lab_x, lab_y = weights(mask) * lab_x, weights(mask) * lab_y
        return float(np.mean(colour.delta_E(lab_x, lab_y, method="CIE 1976")))

    def mean_ab(x):
        return lab(x)[..., 1:].reshape(-1, 2).mean(axis=0)

    return SimpleNamespace(colour=colour, lab=lab, psnr=psnr, psnr_hc=psnr_hc,
                           delta_e=delta_e, mean_ab=mean_ab)
