"""apply_lut (numba CPU kernel) against independent references: float64 NumPy trilinear,
closed forms (affine LUTs are reproduced exactly), Pillow's Color3DLUT and torch."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from lut_reference import reference_trilinear
from ppr10k.lut import identity_lut, trilinear
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
