import numpy as np
import pytest
import torch

from lut_reference import (
    adaint_like_curves,
    around,
    reference_curves,
    reference_trilinear,
    seplut_like_curves,
)
from ppr10k.lut import (
    apply_curves,
    apply_curves_and_lut,
    fuse_luts,
    identity_lut,
    lut_monotonicity,
    lut_total_variation,
    trilinear,
)


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


# ---- apply_curves / apply_curves_and_lut -------------------------------------------------

def curve_probe(knots: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
    """(3, 1, N) float32 inputs per channel: every knot of that channel and of the lattice
    k/(dim-1), each 1 ulp either side, random values and out-of-range ones."""
    lattice = np.arange(dim) / (dim - 1)
    rows = [np.concatenate([around(knots[c]), around(lattice), [-0.5, 0.0, 1.0, 1.5]])
            for c in range(3)]
    n = max(len(r) for r in rows) + 40
    rows = [np.concatenate([r, rng.uniform(0, 1, n - len(r))]) for r in rows]
    return np.stack(rows)[:, None, :].astype(np.float32)


def as_torch(*arrays: np.ndarray) -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


@pytest.mark.parametrize("family", ["adaint", "seplut"])
def test_apply_curves_matches_float64_reference_on_and_around_knots(family, rng):
    knots, values = adaint_like_curves(17, seed=1) if family == "adaint" \
        else seplut_like_curves(9, seed=1)
    image = curve_probe(knots, 17, rng)
    out = apply_curves(*as_torch(knots, values, image[None]))[0].numpy()
    expected = reference_curves(knots, values, image)
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=0)


def test_apply_curves_segment_rule_by_hand():
    """k = #{knots < x} - 1: a value on an empty segment's knot takes the left segment."""
    knots = torch.tensor([[0.0, 0.5, 0.5, 1.0], [0.0, 0.0, 0.5, 1.0], [0.0, 0.4, 0.8, 0.8]])
    values = torch.tensor([[0.0, 0.2, 0.8, 1.0], [0.3, 0.5, 0.7, 1.0], [0.0, 0.5, 0.6, 0.9]])
    up = float(np.nextafter(np.float32(0.5), np.float32(1)))
    xs = torch.tensor([[0.5, up, 0.25, 0.75, -1.0],
                       [0.0, 1e-3, 0.25, -1.0, 2.0],
                       [0.6, 0.8, 0.2, 1.0, 1.5]]).view(1, 3, 1, 5)
    out = apply_curves(knots, values, xs)[0, :, 0]
    expected = torch.tensor([
        [0.2, 0.8, 0.1, 0.9, 0.0],  # 0.5 is on [0, 0.5]; one ulp above, on [0.5, 1]
        [0.3, 0.5 + 1e-3 / 0.5 * 0.2, 0.6, 0.3, 1.0],  # x = 0 on the empty [0, 0]: v_0
        # the last segment [0.8, 0.8] is empty: x = 0.8 stays on [0.4, 0.8], x > 0.8 is
        # extrapolated over it, (x - 0.8) / eps * 0.3: huge, not clamped
        [0.55, 0.6, 0.25, 0.2 / 1e-10 * 0.3, 0.2 / 1e-10 * 0.3],
    ])
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_apply_curves_extrapolates_past_the_last_knot():
    knots = torch.tensor([0.0, 0.4, 0.8]).expand(3, 3)
    values = torch.tensor([0.0, 0.5, 0.6]).expand(3, 3)
    out = apply_curves(knots, values, torch.tensor([1.0, 1.5, 0.9]).view(1, 3, 1, 1))
    # x = 1 (and 1.5, clamped to 1) on [0.4, 0.8]: 0.5 + 0.6 / 0.4 * 0.1 = 0.65
    torch.testing.assert_close(out.flatten(), torch.tensor([0.65, 0.65, 0.625]))


def test_apply_curves_batch_of_curves_is_per_image(rng):
    curves = [adaint_like_curves(9, seed=s) for s in range(2)]
    knots = torch.stack([torch.from_numpy(k) for k, _ in curves])
    values = torch.stack([torch.from_numpy(v) for _, v in curves])
    images = torch.from_numpy(rng.uniform(0, 1, (2, 3, 5, 4)).astype(np.float32))
    out = apply_curves(knots, values, images)
    for i in range(2):
        torch.testing.assert_close(out[i:i + 1], apply_curves(knots[i], values[i], images[i:i + 1]))


@pytest.mark.parametrize("family", ["adaint", "seplut"])
def test_apply_curves_and_lut_matches_float64_reference(family, rng):
    dim = 9
    knots, values = adaint_like_curves(dim, seed=2) if family == "adaint" \
        else seplut_like_curves(17, seed=2)
    lut = random_lut(dim, seed=4)
    image = curve_probe(knots, dim, rng)
    out = apply_curves_and_lut(lut, torch.from_numpy(image)[None],
                               tuple(as_torch(knots, values)))[0].numpy()
    expected = reference_trilinear(lut.numpy(), reference_curves(knots, values, image))
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=0)
    plain = apply_curves_and_lut(lut, torch.from_numpy(image)[None])
    torch.testing.assert_close(plain, trilinear(lut, torch.from_numpy(image)[None]))


def smooth_points(knots: np.ndarray, lut_dim: int, count: int, seed: int) -> np.ndarray:
    """(3, count) float64 inputs at least 1e-3 from every knot of their channel, whose curve
    outputs are at least 1e-3 from every lattice plane (where the gradients jump)."""
    rng = np.random.default_rng(seed)
    lattice = np.arange(lut_dim) / (lut_dim - 1)
    rows = []
    for c in range(3):
        x = rng.uniform(0.01, 0.99, 4000)
        x = x[np.abs(x[:, None] - knots[c][None, :]).min(axis=1) > 1e-3]
        y = reference_curves(np.repeat(knots[c:c + 1], 3, 0),
                             np.repeat(knots[c:c + 1], 3, 0) ** 0.8, np.stack([x] * 3))[0]
        rows.append(x[np.abs(y[:, None] - lattice[None, :]).min(axis=1) > 1e-3][:count])
    assert all(len(r) == count for r in rows)
    return np.stack(rows)


def test_apply_curves_and_lut_gradients_for_images_knots_values_and_lut():
    knots_np, _ = adaint_like_curves(6, seed=3, zero_width=False)
    knots = torch.from_numpy(knots_np).double().requires_grad_(True)
    values = (knots.detach() ** 0.8).requires_grad_(True)  # smooth_points' curve
    images = torch.from_numpy(smooth_points(knots_np.astype(np.float64), 4, 6, seed=0))
    images = images.view(1, 3, 2, 3).requires_grad_(True)
    lut = random_lut(4).double().requires_grad_(True)

    def curves_only(x, k, v):
        return apply_curves(k, v, x)

    def curves_and_lut(x, k, v, table):
        return apply_curves_and_lut(table, x, (k, v))

    assert torch.autograd.gradcheck(curves_only, (images, knots, values), eps=1e-6, atol=1e-5)
    assert torch.autograd.gradcheck(curves_and_lut, (images, knots, values, lut), eps=1e-6,
                                    atol=1e-5)


def test_apply_curves_image_gradient_is_the_segment_slope():
    knots = torch.tensor([0.0, 0.5, 1.0]).expand(3, 3)
    values = torch.tensor([0.0, 0.8, 1.0]).expand(3, 3)
    x = torch.tensor([0.25, 0.75, 0.9]).view(1, 3, 1, 1).requires_grad_(True)
    apply_curves(knots, values, x).sum().backward()
    torch.testing.assert_close(x.grad.flatten(), torch.tensor([1.6, 0.4, 0.4]))


def test_apply_curves_rejects_bad_shapes():
    x = torch.zeros(1, 3, 2, 2)
    with pytest.raises(ValueError, match="knots and values"):
        apply_curves(torch.zeros(3, 4), torch.zeros(3, 5), x)
    with pytest.raises(ValueError, match="knots and values"):
        apply_curves(torch.zeros(3, 1), torch.zeros(3, 1), x)
    with pytest.raises(ValueError, match="images must be"):
        apply_curves(torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="curves for a batch"):
        apply_curves(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), x)
