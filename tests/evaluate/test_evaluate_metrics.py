"""The five PPR10K measures against hand formulas and colour-science."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from PIL import Image

from ppr10k.evaluate import (
    delta_e,
    group_consistency,
    group_level_consistency,
    human_centered_delta_e,
    human_centered_psnr,
    human_centered_weights,
    mean_ab,
    psnr,
    resize_mask,
    score_pair,
    to_uint8,
)


# ---- test data ---------------------------------------------------------------------------
def _load(path, size=(270, 180)) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB").resize(size, Image.Resampling.BILINEAR))


def _load_mask(path, size=(270, 180)) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("L").resize(size, Image.Resampling.BILINEAR)) > 127


def _real_pairs(shared):
    """(prediction, target, mask): two experts' FiveK retouches, and a portrait vs a re-toned
    copy with its P3M human mask."""
    fivek = shared / "fivek_experts"
    a = _load(fivek / "fivek5x_a1384-dvf_095_A.jpg")
    b = _load(fivek / "fivek5x_a1384-dvf_095_B.jpg")
    yy, xx = np.mgrid[:180, :270]
    blob = (xx - 135) ** 2 / 80**2 + (yy - 90) ** 2 / 60**2 < 1
    portrait = _load(shared / "portraits" / "p3m_p_07141906.jpg", (240, 240))
    mask = _load_mask(shared / "portraits" / "p3m_p_07141906_alpha.png", (240, 240))
    toned = np.clip(255 * (portrait / 255.0) ** 0.8 * [1.0, 0.97, 1.05], 0, 255).round()
    return [(a, b, blob), (toned.astype(np.uint8), portrait, mask)]


def _random_pairs(rng):
    pairs = []
    for shape in ((37, 53), (64, 48)):
        y = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        x = np.clip(y.astype(int) + rng.integers(-40, 41, y.shape), 0, 255).astype(np.uint8)
        pairs.append((x, y, rng.random(shape) > 0.4))
    x = rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)  # unrelated images, large errors
    pairs.append((x, rng.integers(0, 256, x.shape, dtype=np.uint8), rng.random((30, 30)) > 0.5))
    return pairs


# ---- per-image measures ------------------------------------------------------------------
def _check_measures(ref, x, y, mask):
    assert psnr(x, y) == pytest.approx(ref.psnr(x, y), abs=1e-6)
    assert human_centered_psnr(x, y, mask) == pytest.approx(ref.psnr_hc(x, y, mask), abs=1e-6)
    assert delta_e(x, y) == pytest.approx(ref.delta_e(x, y), abs=1e-3)
    assert human_centered_delta_e(x, y, mask) == pytest.approx(ref.delta_e(x, y, mask),
                                                               abs=1e-3)
    fast = score_pair(x, y, mask)
    assert fast["psnr"] == pytest.approx(ref.psnr(x, y), abs=1e-6)
    assert fast["psnr_hc"] == pytest.approx(ref.psnr_hc(x, y, mask), abs=1e-6)
    assert fast["delta_e"] == pytest.approx(ref.delta_e(x, y), abs=1e-3)
    assert fast["delta_e_hc"] == pytest.approx(ref.delta_e(x, y, mask), abs=1e-3)
    lab = ref.lab(x).reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose([fast["mean_L"], fast["mean_a"], fast["mean_b"]], lab, atol=1e-6)
    np.testing.assert_allclose(mean_ab(x), lab[1:], atol=1e-6)
    assert fast["human_fraction"] == pytest.approx(np.mean(mask))
    # the fast kernel and the plain NumPy path agree to float64 round-off
    assert fast["delta_e"] == pytest.approx(delta_e(x, y), rel=1e-10)
    assert fast["delta_e_hc"] == pytest.approx(human_centered_delta_e(x, y, mask), rel=1e-10)


def test_measures_on_random_images(ref, rng):
    for x, y, mask in _random_pairs(rng):
        _check_measures(ref, x, y, mask)


def test_measures_on_real_photos(ref, shared_data):
    for x, y, mask in _real_pairs(shared_data):
        _check_measures(ref, x, y, mask)


def test_hand_example_one_pixel_off(ref):
    # one sample off by 10 in a 2x2 image: MSE = 100 / 12
    y = np.full((2, 2, 3), 100, dtype=np.uint8)
    x = y.copy()
    x[0, 0, 0] = 110
    mask = np.array([[0, 1], [1, 1]])
    assert psnr(x, y) == pytest.approx(10 * math.log10(255**2 * 12 / 100), abs=1e-9)
    # the error is in the background: weight 0.5 -> squared error x 0.25
    expected_hc = 10 * math.log10(12 / (0.25 * (10 / 255) ** 2))
    assert human_centered_psnr(x, y, mask) == pytest.approx(expected_hc, abs=1e-9)
    assert score_pair(x, y, mask)["psnr_hc"] == pytest.approx(expected_hc, abs=1e-9)
    # ΔE^HC = 0.5 x ΔE at the one pixel / 4, ΔE = ΔE at the pixel / 4
    de_pixel = float(ref.colour.delta_E(ref.lab(x[0, 0]), ref.lab(y[0, 0]), method="CIE 1976"))
    assert delta_e(x, y) == pytest.approx(de_pixel / 4, abs=1e-9)
    assert human_centered_delta_e(x, y, mask) == pytest.approx(0.5 * de_pixel / 4, abs=1e-9)


def test_identical_images(rng):
    x = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    mask = np.ones((8, 9), dtype=bool)
    assert psnr(x, x) == math.inf
    assert human_centered_psnr(x, x, mask) == math.inf
    scores = score_pair(x, x.copy(), mask)
    assert scores["psnr"] == math.inf and scores["psnr_hc"] == math.inf
    assert scores["delta_e"] == 0.0 and scores["delta_e_hc"] == 0.0


def test_weights():
    np.testing.assert_array_equal(human_centered_weights(np.array([[0, 3], [255, 0]])),
                                  [[0.5, 1.0], [1.0, 0.5]])


def test_mask_size_must_match(rng):
    x = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="resize"):
        human_centered_psnr(x, x, np.ones((4, 4)))
    with pytest.raises(ValueError, match="shapes differ"):
        delta_e(x, x[:4])


# ---- 16-bit reduction and mask resize ----------------------------------------------------
def test_to_uint8_rounds_like_an_8bit_export():
    v = np.arange(65536, dtype=np.uint16)
    expected = np.floor(v.astype(np.float64) * 255.0 / 65535.0 + 0.5)
    np.testing.assert_array_equal(to_uint8(v), expected)
    assert to_uint8(np.array([128, 129], dtype=np.uint16)).tolist() == [0, 1]
    np.testing.assert_array_equal(to_uint8(np.arange(256, dtype=np.uint16) * 257),
                                  np.arange(256))
    assert to_uint8(np.array([0.5, 1.2, -0.1])).tolist() == [128, 255, 0]


def test_resize_mask_keeps_regions():
    small = np.zeros((12, 18), dtype=bool)
    small[3:9, 6:14] = True
    big = np.kron(small, np.ones((4, 4), dtype=bool))  # 48 x 72, blocks of 4x4
    back = resize_mask(big, (12, 18))
    # away from the region's border the result is the original mask
    interior = np.ones_like(small)
    interior[2:10, 5:15] = False
    interior[4:8, 7:13] = True
    np.testing.assert_array_equal(back[interior], small[interior])
    assert not resize_mask(np.zeros((40, 60)), (20, 30)).any()
    assert resize_mask(np.full((40, 60), 255), (30, 45)).all()
    np.testing.assert_array_equal(resize_mask(small, (12, 18)), small)


@pytest.mark.parametrize(("shape", "size"), [((61, 89), (24, 36)), ((17, 26), (24, 36)),
                                             ((40, 60), (27, 41))])
def test_resize_mask_is_pillow_bicubic_then_nonzero(shape, size):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    blob = ((yy - 0.4 * shape[0]) / (0.3 * shape[0])) ** 2 + (
        (xx - 0.6 * shape[1]) / (0.25 * shape[1])) ** 2 < 1
    mask_u8 = np.where(blob, 255, 0).astype(np.uint8)
    # Pillow's bicubic gives the blob soft edges; every non-zero pixel of them is human
    soft = np.asarray(Image.fromarray(mask_u8, mode="L").resize(size[::-1],
                                                                Image.Resampling.BICUBIC))
    assert ((soft > 0) & (soft < 255)).any()
    np.testing.assert_array_equal(resize_mask(mask_u8, size), soft != 0)
    np.testing.assert_array_equal(resize_mask(blob, size), soft != 0)  # bool masks alike


# ---- group-level consistency -------------------------------------------------------------
def test_group_consistency_hand():
    ab = np.array([[1.0, -2.0], [3.0, 0.5], [2.5, 4.0], [-1.0, 1.0]])
    expected = (statistics.variance(ab[:, 0]) + statistics.variance(ab[:, 1])) / 2
    assert group_consistency(ab) == pytest.approx(expected, rel=1e-12)
    assert group_consistency(ab[:1]) == 0.0
    two = np.array([[0.0, 0.0], [2.0, 4.0]])  # var(a) = 2, var(b) = 8 (N - 1)
    assert group_consistency(two) == pytest.approx(5.0)
    groups = {"1": ab, "2": ab[:1], "3": two}
    assert group_level_consistency(groups) == pytest.approx((expected + 0.0 + 5.0) / 3)
    assert group_level_consistency([two]) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        group_level_consistency({})


def test_kernel_cube_root_is_exact_to_round_off():
    from ppr10k.color import CIE_EPSILON
    from ppr10k.evaluate import _kernel

    t = np.concatenate([np.geomspace(CIE_EPSILON * (1 + 1e-12), 1.0, 20001),
                        np.linspace(0.0, 1.06, 20001)])
    got = np.array([_kernel._lab_f.py_func(v, _kernel.INV_CBRT_NODES) for v in t])
    want = np.where(t > CIE_EPSILON, np.cbrt(t), (24389 / 27 * t + 16) / 116)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
