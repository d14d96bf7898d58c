"""apply_lut (numba CPU kernel) against independent references: float64 NumPy trilinear
and curves, closed forms (affine LUTs are reproduced exactly), Pillow's Color3DLUT and
torch (trilinear, apply_curves_and_lut)."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from lut_reference import (
    adaint_like_curves,
    around,
    reference_curves,
    reference_trilinear,
    seplut_like_curves,
)
from ppr10k.io.image import SAMPLE_PEAKS
from ppr10k.lut import apply_curves_and_lut, identity_lut, trilinear
from ppr10k.lut.apply import apply_lut


def random_lut(dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (identity_lut(dim).numpy() + 0.15 * rng.standard_normal((3, dim, dim, dim))
            ).astype(np.float32)


def affine_lut(dim: int, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """LUT of x -> M x + o (trilinear interpolation reproduces it exactly)."""
    ident = identity_lut(dim).numpy().astype(np.float64)  # (3, D, D, D) = (r, g, b)
    return (np.tensordot(matrix, ident, axes=1) + offset[:, None, None, None]).astype(
        np.float32)


def ref(lut: np.ndarray, image_hwc: np.ndarray) -> np.ndarray:
    return reference_trilinear(lut, image_hwc.transpose(2, 0, 1)).transpose(1, 2, 0)


@pytest.mark.parametrize("dim", [2, 9, 17, 33])
def test_float32_matches_float64_reference(dim, rng):
    lut = random_lut(dim)
    image = rng.uniform(0, 1, (23, 37, 3)).astype(np.float32)
    out = apply_lut(image, lut)
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out, ref(lut, image), atol=1e-5)


def test_float32_matches_torch_trilinear_within_1e5(rng):
    lut = torch.from_numpy(random_lut(33, seed=3))
    image = rng.uniform(0, 1, (64, 48, 3)).astype(np.float32)
    expected = trilinear(lut, torch.from_numpy(image).permute(2, 0, 1)[None])[0]
    np.testing.assert_allclose(apply_lut(image, lut), expected.permute(1, 2, 0).numpy(),
                               atol=1e-5)


def test_lattice_points_boundaries_and_clamping():
    dim = 5
    lut = random_lut(dim, seed=1)
    # exact lattice values incl. 0 and 1, cell boundaries, and out-of-range inputs
    values = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 0.25 - 1e-7, 0.5 + 1e-7, -0.5, 1.5],
                      dtype=np.float32)
    r, g, b = np.meshgrid(values, values, values, indexing="ij")
    image = np.stack([r, g, b], axis=-1).reshape(-1, 9, 3)
    out = apply_lut(image, lut)
    np.testing.assert_allclose(out, ref(lut, image), atol=1e-5)
    # a lattice point returns the stored value: (r, g, b) = (1, 0, 0.5) -> lut[:, 2, 0, 4]
    point = apply_lut(np.array([[[1.0, 0.0, 0.5]]], np.float32), lut)
    np.testing.assert_allclose(point[0, 0], lut[:, 2, 0, 4], atol=1e-6)


def test_affine_lut_is_reproduced_exactly(rng):
    matrix = np.array([[0.9, 0.1, 0.0], [0.05, 0.8, 0.1], [0.0, 0.2, 0.7]])
    offset = np.array([0.02, -0.01, 0.05])
    lut = affine_lut(17, matrix, offset)
    image = rng.uniform(0, 1, (31, 29, 3)).astype(np.float32)
    expected = image.astype(np.float64) @ matrix.T + offset
    np.testing.assert_allclose(apply_lut(image, lut), expected, atol=2e-6)


@pytest.mark.parametrize("dtype, peak", [(np.uint8, 255), (np.uint16, 65535)])
def test_identity_on_integers_is_exact(dtype, peak, rng):
    image = rng.integers(0, peak + 1, (19, 41, 3)).astype(dtype)
    image[0, :3] = [[0, 0, 0], [peak, peak, peak], [0, peak // 2, peak]]
    out = apply_lut(image, identity_lut(33))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("dtype, peak", [(np.uint8, 255), (np.uint16, 65535)])
def test_integers_round_to_nearest_of_float64_reference(dtype, peak, rng):
    lut = random_lut(17, seed=2)
    image = rng.integers(0, peak + 1, (32, 32, 3)).astype(dtype)
    expected = ref(lut, image.astype(np.float64) / peak)
    scaled = np.clip(expected, 0, 1) * peak
    out = apply_lut(image, lut).astype(np.float64)
    # nearest level; a value within float32 rounding of a .5 tie may go either way
    tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-3 * peak / 255
    assert np.all(np.abs(out - np.rint(scaled))[~tie] == 0)
    assert np.all(np.abs(out - scaled) <= 0.5 + 1e-3 * peak / 255)


def test_uint8_agrees_with_pillow_color3dlut(rng):
    """Pillow's fixed-point kernel, table red-fastest: the layouts must agree."""
    dim = 17
    lut = np.clip(random_lut(dim, seed=4), 0, 1)
    image = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    table = lut.transpose(1, 2, 3, 0).reshape(-1).tolist()
    expected = np.asarray(Image.fromarray(image).filter(
        ImageFilter.Color3DLUT(dim, table, channels=3)))
    diff = np.abs(apply_lut(image, lut).astype(int) - expected.astype(int))
    assert diff.max() <= 1


def test_uint16_to_uint8_and_uint8_to_uint16_without_8bit_detour(rng):
    lut = random_lut(9, seed=5)
    image16 = rng.integers(0, 65536, (16, 16, 3)).astype(np.uint16)
    out8 = apply_lut(image16, lut, out=np.empty(image16.shape, np.uint8))
    expected = np.clip(ref(lut, image16 / 65535.0), 0, 1)
    assert np.abs(out8 - expected * 255).max() <= 0.5 + 1e-3
    image8 = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    out16 = apply_lut(image8, lut, out=np.empty(image8.shape, np.uint16))
    expected16 = np.clip(ref(lut, image8 / 255.0), 0, 1) * 65535
    assert np.abs(out16 - expected16).max() <= 0.5 + 0.1  # 16-bit precision kept
    # and the 16-bit result is finer than any 8-bit one could be
    assert np.any(out16 % 257 != 0)


def test_in_place_and_non_contiguous_and_torch_lut(rng):
    lut = random_lut(9, seed=6)
    image = rng.uniform(0, 1, (20, 30, 3)).astype(np.float32)
    expected = ref(lut, image)
    work = image.copy()
    assert apply_lut(work, torch.from_numpy(lut)[None], out=work) is work
    np.testing.assert_allclose(work, expected, atol=1e-5)
    strided = np.ascontiguousarray(image[:, ::-1])[:, ::-1]  # negative strides
    np.testing.assert_allclose(apply_lut(strided, lut), expected, atol=1e-5)
    out = np.empty((20, 60, 3), np.float32)[:, ::2]  # non-contiguous output
    apply_lut(image, lut, out=out)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_float_output_is_not_clipped():
    lut = identity_lut(3).numpy() * 1.5 - 0.25  # maps [0, 1] to [-0.25, 1.25]
    image = np.array([[[0.0, 0.5, 1.0]]], np.float32)
    np.testing.assert_allclose(apply_lut(image, lut)[0, 0], [-0.25, 0.5, 1.25], atol=1e-6)
    clipped = apply_lut(np.array([[[0, 127, 255]]], np.uint8), lut)
    # 0 -> -0.25 clipped to 0; 127 -> (127/255 * 1.5 - 0.25) * 255 = 126.75 -> 127; 255 -> 1.25
    np.testing.assert_array_equal(clipped[0, 0], [0, 127, 255])


def test_bad_arguments():
    lut = identity_lut(5)
    with pytest.raises(ValueError, match="H, W, 3"):
        apply_lut(np.zeros((4, 4), np.float32), lut)
    with pytest.raises(TypeError, match="float32, uint8 or uint16"):
        apply_lut(np.zeros((4, 4, 3), np.float64), lut)
    with pytest.raises(ValueError, match="3, D, D, D"):
        apply_lut(np.zeros((4, 4, 3), np.float32), np.zeros((3, 5, 5, 4)))
    with pytest.raises(ValueError, match="out must be"):
        apply_lut(np.zeros((4, 4, 3), np.float32), lut, out=np.zeros((4, 5, 3), np.float32))
    image = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        apply_lut(image, lut, out=image[::-1])
    readonly = np.zeros((4, 4, 3), np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        apply_lut(image, lut, out=readonly)


# ---- curves=(knots, values): per-channel curves, then the LUT ----------------------------

def curves_ref(knots, values, lut, image_hwc: np.ndarray) -> np.ndarray:
    """float64: reference curves, then the reference trilinear lookup, (H, W, 3)."""
    curved = reference_curves(knots, values, image_hwc.transpose(2, 0, 1))
    return reference_trilinear(lut, curved).transpose(1, 2, 0)


def probe_image(knots: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
    """(N, 2, 3) float32: per channel, every knot of that channel and every lattice point
    k/(dim-1), each 1 ulp either side, out-of-range values; then random colours."""
    lattice = np.arange(dim) / (dim - 1)
    rows = [np.concatenate([around(knots[c]), around(lattice), [-0.5, 0.0, 1.0, 1.5]])
            for c in range(3)]
    n = 2 * ((max(len(r) for r in rows) + 41) // 2)
    rows = [np.concatenate([r, rng.uniform(0, 1, n - len(r))]) for r in rows]
    return np.stack(rows, axis=-1).reshape(-1, 2, 3).astype(np.float32)


def family_curves(family: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(knots, values, lut): AdaInt-like (17 non-uniform knots, with empty segments, and a
    17^3 LUT) or SepLUT-like (9 uniform knots, 9^3 LUT)."""
    if family == "adaint":
        return *adaint_like_curves(17, seed=seed), random_lut(17, seed=seed)
    return *seplut_like_curves(9, seed=seed), random_lut(9, seed=seed)


@pytest.mark.parametrize("family", ["adaint", "seplut"])
def test_curves_float32_matches_float64_reference_on_and_around_knots(family, rng):
    knots, values, lut = family_curves(family, seed=1)
    image = probe_image(knots, lut.shape[-1], rng)
    out = apply_lut(image, lut, curves=(knots, values))
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out, curves_ref(knots, values, lut, image), atol=1e-5, rtol=0)


def test_curves_with_identity_lut_are_the_curves_clamped(rng):
    """The curve stage alone (the identity LUT is exact to float32 rounding)."""
    knots, values = adaint_like_curves(33, seed=2)
    values = values * 1.2 - 0.1  # some outputs outside [0, 1]: clamped by the LUT
    image = probe_image(knots, 33, rng)
    out = apply_lut(image, identity_lut(5), curves=(knots, values))
    expected = np.clip(reference_curves(knots, values, image.transpose(2, 0, 1)), 0, 1)
    np.testing.assert_allclose(out, expected.transpose(1, 2, 0), atol=1e-6, rtol=0)


def test_curves_segment_rule_by_hand():
    """On an empty segment's knot the left segment is used; one ulp above, the right one."""
    knots = np.array([[0.0, 0.5, 0.5, 1.0], [0.0, 0.0, 0.5, 1.0], [0.0, 0.4, 0.8, 0.8]],
                     np.float32)
    values = np.array([[0.0, 0.2, 0.8, 1.0], [0.3, 0.5, 0.7, 1.0], [0.0, 0.5, 0.6, 0.2]],
                      np.float32)
    up = np.nextafter(np.float32(0.5), np.float32(1))
    image = np.array([[[0.5, 0.0, 0.6], [up, 1e-3, 0.8], [0.25, 0.25, 0.2],
                       [0.75, -1.0, 1.0], [np.nan, 2.0, 0.9]]], np.float32)
    out = apply_lut(image, identity_lut(3), curves=(knots, values))
    expected = np.array([[[0.2, 0.3, 0.55], [0.8, 0.5 + 1e-3 / 0.5 * 0.2, 0.6],
                          [0.1, 0.6, 0.25], [0.9, 0.3, 0.0], [0.0, 1.0, 0.0]]])
    # channel 2 past its empty last segment: (x - 0.8) / eps * (0.2 - 0.6), clamped to 0;
    # NaN samples count as 0 (channel 0: curve(0) = 0)
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=0)


def test_curves_with_clustered_and_out_of_range_knots(rng):
    """Many knots inside one search bucket, knots below 0 and above 1."""
    cluster = 0.5 + np.linspace(0.0, 1e-4, 30)
    row = np.concatenate([[-0.2, 0.0, 0.1], cluster, [0.9, 1.0, 1.3]])
    knots = np.stack([row, row[::-1] * -1 + 1.1, np.linspace(0, 1, len(row))]).astype(np.float32)
    knots[1] = np.sort(knots[1])
    values = rng.uniform(0, 1, knots.shape).astype(np.float32)
    lut = random_lut(5, seed=7)
    image = probe_image(knots, 5, rng)
    out = apply_lut(image, lut, curves=(knots, values))
    np.testing.assert_allclose(out, curves_ref(knots, values, lut, image), atol=2e-5, rtol=0)


def int_to_float(image: np.ndarray) -> np.ndarray:
    """Integer samples as the kernel reads them: float32(s) * float32(1 / peak)."""
    return image.astype(np.float32) * np.float32(1.0 / SAMPLE_PEAKS[image.dtype])


@pytest.mark.parametrize("family", ["adaint", "seplut"])
@pytest.mark.parametrize("in_dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("out_dtype", [np.uint8, np.uint16, np.float32])
def test_curves_every_dtype_pair_matches_float64_reference(family, in_dtype, out_dtype, rng):
    knots, values, lut = family_curves(family, seed=3)
    if in_dtype == np.float32:
        image = rng.uniform(-0.05, 1.05, (24, 32, 3)).astype(np.float32)
        as_float = image
    else:
        peak_in = SAMPLE_PEAKS[np.dtype(in_dtype)]
        image = rng.integers(0, peak_in + 1, (24, 32, 3)).astype(in_dtype)
        image[0, :2] = [[0, 0, 0], [peak_in, peak_in, peak_in]]
        as_float = int_to_float(image)
    out = apply_lut(image, lut, out=np.empty(image.shape, out_dtype), curves=(knots, values))
    assert out.dtype == out_dtype
    expected = curves_ref(knots, values, lut, as_float.astype(np.float64))
    if out_dtype == np.float32:
        np.testing.assert_allclose(out, expected, atol=1e-5, rtol=0)
        return
    peak = SAMPLE_PEAKS[np.dtype(out_dtype)]
    scaled = np.clip(expected, 0, 1) * peak
    tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-3 * peak / 255
    diff = np.abs(out.astype(np.float64) - np.rint(scaled))
    assert np.all(diff[~tie] == 0) and np.all(diff <= 1)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_curve_table_equals_per_pixel_curves_exactly(dtype, rng):
    """Integer input reads a precomputed table; float32 input evaluates per pixel: same bits."""
    knots, values, lut = family_curves("adaint", seed=4)
    peak = int(SAMPLE_PEAKS[np.dtype(dtype)])
    image = rng.integers(0, peak + 1, (16, 40, 3)).astype(dtype)
    image[0, :3] = [[0, 0, 0], [peak, peak, peak], [1, peak // 2, peak - 1]]
    from_table = apply_lut(image, lut, out=np.empty(image.shape, np.float32),
                           curves=(knots, values))
    per_pixel = apply_lut(int_to_float(image), lut, curves=(knots, values))
    np.testing.assert_array_equal(from_table, per_pixel)


@pytest.mark.parametrize("family", ["adaint", "seplut"])
def test_curves_agree_with_torch_apply_curves_and_lut(family, rng):
    knots, values, lut = family_curves(family, seed=5)
    curves = (torch.from_numpy(knots), torch.from_numpy(values))
    image = np.concatenate([probe_image(knots, lut.shape[-1], rng).reshape(-1, 3),
                            rng.uniform(0, 1, (2000, 3))]).astype(np.float32)[None]
    expected = apply_curves_and_lut(torch.from_numpy(lut),
                                    torch.from_numpy(image).permute(2, 0, 1)[None], curves)
    expected = expected[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(apply_lut(image, lut, curves=curves), expected, atol=1e-5, rtol=0)
    for dtype in (np.uint8, np.uint16):
        peak = SAMPLE_PEAKS[np.dtype(dtype)]
        ints = rng.integers(0, peak + 1, (32, 32, 3)).astype(dtype)
        torch_out = apply_curves_and_lut(
            torch.from_numpy(lut), torch.from_numpy(int_to_float(ints)).permute(2, 0, 1)[None],
            curves)[0].permute(1, 2, 0).numpy()
        torch_levels = np.rint(np.clip(torch_out, 0, 1) * peak)
        assert np.abs(apply_lut(ints, lut, curves=curves) - torch_levels).max() <= 1


def test_identity_curves_change_nothing(rng):
    lut = random_lut(9, seed=8)
    knots = np.tile(np.linspace(0, 1, 5, dtype=np.float32), (3, 1))
    image = rng.uniform(0, 1, (12, 20, 3)).astype(np.float32)
    for k in (knots, knots[:, ::4]):  # 5 knots, and the fewest: 2
        np.testing.assert_allclose(apply_lut(image, lut, curves=(k, k)), apply_lut(image, lut),
                                   atol=1e-6, rtol=0)
    image8 = rng.integers(0, 256, (12, 20, 3)).astype(np.uint8)
    np.testing.assert_array_equal(
        apply_lut(image8, identity_lut(17), curves=(knots, knots)), image8)


def test_curves_in_place_tensors_and_non_contiguous(rng):
    knots, values, lut = family_curves("adaint", seed=6)
    image = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    expected = apply_lut(image, lut, curves=(knots, values))
    work = image.copy()
    curves = (torch.from_numpy(knots)[None], torch.from_numpy(values)[None])  # (1, 3, K)
    assert apply_lut(work, lut, out=work, curves=curves) is work
    np.testing.assert_array_equal(work, expected)
    strided = np.ascontiguousarray(image[:, ::-1])[:, ::-1]
    np.testing.assert_array_equal(apply_lut(strided, lut, curves=(knots, values)), expected)
    image32 = rng.uniform(0, 1, (20, 30, 3)).astype(np.float32)
    expected32 = apply_lut(image32, lut, curves=(knots, values))
    out = np.empty((20, 60, 3), np.float32)[:, ::2]
    apply_lut(image32, lut, out=out, curves=(knots, values))
    np.testing.assert_array_equal(out, expected32)
    apply_lut(image32, lut, out=image32, curves=(knots, values))
    np.testing.assert_array_equal(image32, expected32)


def test_bad_curves():
    image = np.zeros((4, 4, 3), np.float32)
    lut = identity_lut(5)
    knots = np.tile(np.linspace(0, 1, 4, dtype=np.float32), (3, 1))
    with pytest.raises(ValueError, match="3, K"):
        apply_lut(image, lut, curves=(knots, knots[:, :3]))
    with pytest.raises(ValueError, match="3, K"):
        apply_lut(image, lut, curves=(knots[:, :1], knots[:, :1]))
    with pytest.raises(ValueError, match="3, K"):
        apply_lut(image, lut, curves=(knots[:2], knots[:2]))
    with pytest.raises(ValueError, match="non-decreasing"):
        apply_lut(image, lut, curves=(knots[:, ::-1], knots))
    bad = knots.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        apply_lut(image, lut, curves=(knots, bad))


def test_nan_samples_read_the_lattice_in_bounds():
    """A NaN float sample must not become an out-of-range lattice index: it reads as 0."""
    lut = identity_lut(9).numpy() * 0.5 + 0.25  # maps 0 -> 0.25
    image = np.full((4, 5, 3), np.nan, np.float32)
    image[0, 0] = [1.0, 0.5, 0.0]
    out = apply_lut(image, lut)
    np.testing.assert_allclose(out[1:], 0.25, atol=1e-6)
    np.testing.assert_allclose(out[0, 0], [0.75, 0.5, 0.25], atol=1e-6)
