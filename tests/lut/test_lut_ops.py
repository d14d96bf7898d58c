import numpy as np
import pytest
import torch

from lut_reference import reference_trilinear
from ppr10k.lut import fuse_luts, identity_lut, lut_monotonicity, lut_total_variation, trilinear


def random_lut(dim: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return identity_lut(dim) + 0.2 * torch.randn(3, dim, dim, dim, generator=g)


def test_identity_lut_layout_red_fastest():
    lut = identity_lut(4)
    assert lut.shape == (3, 4, 4, 4)
    # lut[c, b, g, r]: channel 0 follows r (last index), channel 2 follows b (first index)
    assert lut[0, 0, 0, 3] == 1.0 and lut[0, 3, 3, 0] == 0.0
    assert lut[1, 0, 2, 0] == pytest.approx(2 / 3)
    assert lut[2, 1, 0, 0] == pytest.approx(1 / 3)


@pytest.mark.parametrize("dim", [2, 9, 33])
def test_trilinear_matches_float64_reference_on_random_colours(dim, rng):
    lut = random_lut(dim)
    images = torch.from_numpy(rng.uniform(0, 1, (3, 3, 17, 11)).astype(np.float32))
    out = trilinear(lut, images)
    for i in range(3):
        expected = reference_trilinear(lut.numpy(), images[i].numpy())
        np.testing.assert_allclose(out[i].numpy(), expected, atol=2e-6)


def lattice_and_neighbours(dim: int) -> np.ndarray:
    """Every lattice coordinate k/(D-1) in float32 and its float32 neighbours 1 ulp away."""
    points = (np.arange(dim) / (dim - 1)).astype(np.float32)
    values = np.concatenate([points, np.nextafter(points, np.float32(2)),
                             np.nextafter(points, np.float32(-1))])
    return values


@pytest.mark.parametrize("dim", [9, 17, 33])
def test_trilinear_continuous_at_cell_boundaries(dim):
    """Inputs on and 1 ulp around lattice points: no one-cell jump (the reference's defect)."""
    lut = random_lut(dim, seed=dim)
    values = lattice_and_neighbours(dim)
    r, g, b = np.meshgrid(values, values[::7], values[::5], indexing="ij")
    image = np.stack([r.ravel(), g.ravel(), b.ravel()])[:, None, :].astype(np.float32)
    out = trilinear(lut, torch.from_numpy(image)[None])[0].numpy()
    expected = reference_trilinear(lut.numpy(), image)
    # a one-cell jump would be of the order of the LUT's cell-to-cell differences (~0.2)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_trilinear_on_lattice_points_returns_lut_entries():
    dim = 5
    lut = random_lut(dim)
    r, g, b = 3, 1, 4
    pixel = torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1) / (dim - 1)
    out = trilinear(lut, pixel).view(3)
    torch.testing.assert_close(out, lut[:, b, g, r], atol=1e-6, rtol=0)


def test_trilinear_clamps_inputs():
    lut = random_lut(5)
    x = torch.tensor([[-0.5, 1.5, 0.3]]).view(1, 3, 1, 1)
    clamped = torch.tensor([[0.0, 1.0, 0.3]]).view(1, 3, 1, 1)
    torch.testing.assert_close(trilinear(lut, x), trilinear(lut, clamped))


def test_trilinear_batch_of_luts_is_per_image(rng):
    luts = torch.stack([random_lut(7, seed=s) for s in range(3)])
    images = torch.from_numpy(rng.uniform(0, 1, (3, 3, 5, 4)).astype(np.float32))
    out = trilinear(luts, images)
    for i in range(3):
        torch.testing.assert_close(out[i:i + 1], trilinear(luts[i], images[i:i + 1]))


def test_trilinear_gradients_for_lut_and_images():
    torch.manual_seed(0)
    lut = random_lut(4).double().requires_grad_(True)
    # keep away from cell boundaries, where the image gradient is one-sided
    images = (torch.rand(2, 3, 3, 2, dtype=torch.float64) * 0.3 + 0.02).requires_grad_(True)
    assert torch.autograd.gradcheck(trilinear, (lut, images), eps=1e-6, atol=1e-5)


def test_image_gradient_is_not_the_output_gradient():
    """The reference CPU kernel returned the output gradient as input gradient."""
    lut = (identity_lut(5) * 0.5).requires_grad_(False)
    x = torch.full((1, 3, 1, 1), 0.4, requires_grad=True)
    trilinear(lut, x).sum().backward()
    # output = 0.5 * x per channel, so d(sum)/dx = 0.5, not 1
    torch.testing.assert_close(x.grad, torch.full_like(x, 0.5))


def test_fused_lut_equals_weighted_sum_of_outputs(rng):
    luts = torch.stack([random_lut(9, seed=s) for s in range(5)])
    weights = torch.from_numpy(rng.normal(size=(2, 5)).astype(np.float32))
    images = torch.from_numpy(rng.uniform(0, 1, (2, 3, 8, 6)).astype(np.float32))
    fused = trilinear(fuse_luts(luts, weights), images)
    summed = sum(weights[:, n].view(2, 1, 1, 1) * trilinear(luts[n], images) for n in range(5))
    torch.testing.assert_close(fused, summed, atol=1e-5, rtol=1e-5)


def numpy_tv_and_mn(lut: np.ndarray) -> tuple[float, float]:
    """TV and MN of spec §4 written with explicit loops over each axis."""
    dim = lut.shape[-1]
    tv = mn = 0.0
    for axis in (1, 2, 3):
        diffs = []
        weights = []
        for i in range(dim - 1):
            d = np.take(lut, i, axis=axis) - np.take(lut, i + 1, axis=axis)
            diffs.append(d)
            weights.append(2.0 if i in (0, dim - 2) else 1.0)
        tv += np.mean([w * np.mean(d ** 2) for w, d in zip(weights, diffs)])
        mn += np.mean([np.mean(np.maximum(d, 0)) for d in diffs])
    return tv, mn


def test_tv_and_monotonicity_match_hand_computation():
    luts = torch.stack([random_lut(6, seed=s) for s in range(3)]).double()
    expected_tv = expected_mn = 0.0
    for lut in luts.numpy():
        tv, mn = numpy_tv_and_mn(lut)
        expected_tv += tv
        expected_mn += mn
    assert float(lut_total_variation(luts)) == pytest.approx(expected_tv, rel=1e-10)
    assert float(lut_monotonicity(luts)) == pytest.approx(expected_mn, rel=1e-10)


def test_identity_is_monotone_and_decreasing_lut_is_penalised():
    assert float(lut_monotonicity(identity_lut(9))) == 0.0
    assert float(lut_monotonicity(1 - identity_lut(9))) > 0.0


def test_trilinear_rejects_bad_shapes():
    with pytest.raises(ValueError, match="lut must be"):
        trilinear(torch.zeros(3, 4, 4, 5), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="images must be"):
        trilinear(identity_lut(4), torch.zeros(3, 2, 2))
