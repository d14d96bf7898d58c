"""sRGB -> CIELAB (D65) against colour-science and hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from ppr10k.color import (
    D65_WHITE_XYZ,
    SRGB_TO_XYZ,
    delta_e_cie1976,
    srgb_decode,
    srgb_decode_table,
    srgb_to_lab,
    srgb_to_lab_tensor,
    xyz_to_lab,
)
from required import require_module

colour = require_module("colour")


def _colour_lab(rgb_unit: np.ndarray, derived: bool = True) -> np.ndarray:
    """colour-science's sRGB -> Lab: the IEC curve, D65 (0.3127, 0.3290).

    ``derived``: the matrix derived from primaries and white (ours); else colour's default
    4-digit IEC table.
    """
    srgb = colour.RGB_COLOURSPACES["sRGB"]
    if derived:
        space = colour.RGB_Colourspace(
            "sRGB derived", srgb.primaries, srgb.whitepoint,
            use_derived_matrix_RGB_to_XYZ=True, use_derived_matrix_XYZ_to_RGB=True,
        )
    else:
        space = srgb
    linear = colour.cctf_decoding(rgb_unit, function="sRGB")
    xyz = colour.RGB_to_XYZ(linear, space)
    return colour.XYZ_to_Lab(xyz, srgb.whitepoint)


def _photo(path, size=(270, 180)) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB").resize(size, Image.Resampling.BILINEAR))


def test_decode_hand_values():
    # linear segment, the junction and the power segment, by hand
    assert srgb_decode(0.04045) == pytest.approx(0.04045 / 12.92, rel=1e-15)
    assert srgb_decode(0.5) == pytest.approx(((0.5 + 0.055) / 1.055) ** 2.4, rel=1e-15)
    assert srgb_decode(1.0) == pytest.approx(1.0, rel=1e-15)
    assert srgb_decode(0.0) == 0.0
    table = srgb_decode_table(8)
    assert table[128] == pytest.approx(((128 / 255 + 0.055) / 1.055) ** 2.4, rel=1e-15)
    assert table[10] == pytest.approx(10 / 255 / 12.92, rel=1e-15)
    assert srgb_decode_table(16)[65535] == pytest.approx(1.0)


def test_matrix_and_white_against_colour():
    srgb = colour.RGB_COLOURSPACES["sRGB"]
    npm = colour.normalised_primary_matrix(srgb.primaries, srgb.whitepoint)
    np.testing.assert_allclose(SRGB_TO_XYZ, npm, rtol=0, atol=1e-12)
    np.testing.assert_allclose(D65_WHITE_XYZ, colour.xy_to_XYZ(srgb.whitepoint), atol=1e-12)
    # the 4-digit IEC table is the same matrix rounded
    np.testing.assert_allclose(SRGB_TO_XYZ, srgb.matrix_RGB_to_XYZ, atol=6e-5)


def test_white_and_greys_are_neutral():
    greys = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    lab = srgb_to_lab(greys)
    np.testing.assert_allclose(lab[:, 1:], 0.0, atol=1e-12)
    assert lab[255, 0] == pytest.approx(100.0, abs=1e-12)
    assert lab[0, 0] == 0.0


def test_primaries_near_published_values():
    # widely published sRGB (D65) L*a*b* of pure red / green / blue, 2 decimals; their white
    # (0.95047, 1, 1.08883) differs from ours in the 5th digit, hence 0.05
    lab = srgb_to_lab(np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8))
    expected = [[53.24, 80.09, 67.20], [87.73, -86.18, 83.18], [32.30, 79.19, -107.86]]
    np.testing.assert_allclose(lab, expected, atol=0.05)


def test_lab_matches_colour_random(rng):
    image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    expected = _colour_lab(image / 255.0)
    np.testing.assert_allclose(srgb_to_lab(image), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(srgb_to_lab(image / 255.0), expected, rtol=0, atol=1e-9)
    image16 = rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    np.testing.assert_allclose(srgb_to_lab(image16), _colour_lab(image16 / 65535.0),
                               rtol=0, atol=1e-9)


def test_lab_matches_colour_real_photos(shared_data):
    for name in ("portraits/p3m_p_07141906.jpg", "fivek_experts/fivek5x_a1384-dvf_095_C.jpg"):
        image = _photo(shared_data / name)
        expected = _colour_lab(image / 255.0)
        np.testing.assert_allclose(srgb_to_lab(image), expected, rtol=0, atol=1e-9)
        # colour's default (rounded IEC table) differs by less than 0.02 in any channel
        np.testing.assert_allclose(srgb_to_lab(image), _colour_lab(image / 255.0, False),
                                   atol=0.02)


def test_xyz_to_lab_hand_example():
    # Y/Yn = 0.5 on the white's chromaticity: L* = 116 * 0.5 ** (1/3) - 16, a* = b* = 0
    lab = xyz_to_lab(0.5 * D65_WHITE_XYZ)
    assert lab[0] == pytest.approx(116.0 * 0.5 ** (1 / 3) - 16.0, abs=1e-12)
    np.testing.assert_allclose(lab[1:], 0.0, atol=1e-12)
    # below epsilon the linear segment: L* = kappa * Y
    tiny = xyz_to_lab(0.001 * D65_WHITE_XYZ)
    assert tiny[0] == pytest.approx(24389 / 27 * 0.001, abs=1e-12)


def test_tensor_matches_numpy(rng):
    image = rng.random((2, 17, 23, 3))
    tensor = torch.from_numpy(image).permute(0, 3, 1, 2)
    lab = srgb_to_lab_tensor(tensor).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(lab, _colour_lab(image), rtol=0, atol=1e-9)


def test_tensor_gradients_are_finite():
    image = torch.tensor([[[[0.0, 0.02]], [[0.5, 1.0]], [[0.0, 0.3]]]], dtype=torch.float64,
                         requires_grad=True)
    srgb_to_lab_tensor(image).sum().backward()
    assert torch.isfinite(image.grad).all()
    assert image.grad.abs().sum() > 0


def test_delta_e_matches_colour(rng):
    lab_1 = rng.uniform(-50, 100, (10, 3))
    lab_2 = rng.uniform(-50, 100, (10, 3))
    np.testing.assert_allclose(delta_e_cie1976(lab_1, lab_2),
                               colour.delta_E(lab_1, lab_2, method="CIE 1976"), atol=1e-12)
    assert delta_e_cie1976([0, 0, 0], [3, 4, 0]) == pytest.approx(5.0)
    assert math.isclose(float(delta_e_cie1976([1, 2, 3], [1, 2, 3])), 0.0)


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        srgb_to_lab(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(TypeError):
        srgb_to_lab(np.zeros((4, 3), dtype=np.int32))
    with pytest.raises(ValueError, match="3, H, W"):
        srgb_to_lab_tensor(torch.zeros(1, 4, 2, 2))
