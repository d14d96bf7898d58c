"""Checks of the fused Triton kernels (ppr10k.lut.triton_kernels) run by Triton's interpreter.

Triton's interpreter only works when ``TRITON_INTERPRET=1`` is set before ``triton`` is
first imported (its own library functions such as ``tl.sum`` are decorated then), which a
test cannot arrange inside a pytest process that may already have imported it. So this file
is not collected by the main run (its name has no ``test_`` prefix):
``tests/lut/test_triton_kernels.py::test_kernels_under_the_interpreter`` runs it in a
subprocess with the variable set. To run it directly::

    TRITON_INTERPRET=1 python -m pytest -q -p no:cacheprovider tests/lut/triton_interpreter_checks.py

Expected values come from the float64 NumPy reference (``lut_reference``) and from the
pure-torch op (``backend="torch"``), evaluated in float64 for the gradients.
"""

from __future__ import annotations

import os

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
from ppr10k.lut import apply_curves_and_lut, identity_lut, ops, trilinear, triton_kernels


@pytest.fixture
def interpreter(monkeypatch):
    if os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("run with TRITON_INTERPRET=1 (test_triton_kernels.py does)")
    pytest.importorskip("triton")
    monkeypatch.setattr(ops._TritonHealth, "failure", None)


def random_lut(dim: int, seed: int = 0, batch: int | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (3, dim, dim, dim) if batch is None else (batch, 3, dim, dim, dim)
    return identity_lut(dim) + 0.2 * torch.randn(shape, generator=g)


def probe_image(dim: int, knots: np.ndarray | None, rng: np.random.Generator,
                height: int = 5, width: int = 211) -> np.ndarray:
    """(3, height, width) float32: every lattice coordinate k/(D-1) and (with curves) every
    knot, each 1 ulp either side, 0, 1, out-of-range values, the rest random in [0, 1];
    each channel shuffled differently. 5 x 211 = 1055 pixels: not a multiple of a block."""
    n = height * width
    lattice = np.arange(dim) / (dim - 1)
    rows = []
    for c in range(3):
        special = [around(lattice), [-0.5, -1e-7, 0.0, 1.0, 1.0 + 1e-7, 1.5]]
        if knots is not None:
            special.append(around(knots[c]))
        row = np.concatenate(special)[:n]
        row = np.concatenate([row, rng.uniform(0, 1, n - len(row))]).astype(np.float32)
        rows.append(rng.permutation(row))
    return np.stack(rows).reshape(3, height, width)


def as_tensors(*arrays):
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


def grads_of(fn, inputs, grad_out):
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    return out.detach(), torch.autograd.grad(out, leaves, grad_out.to(out.dtype))


def assert_grads_close(got, expected, rtol=2e-5):
    """Each gradient within rtol of the largest magnitude of its expected value."""
    for name, g, e in zip(("first", "second", "third", "fourth"), got, expected):
        scale = float(e.abs().max()) + 1e-12
        err = float((g.double() - e.double()).abs().max())
        assert err <= rtol * scale, f"{name} gradient off by {err:.3g} (scale {scale:.3g})"


# ---- forward -----------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [9, 17, 33])
def test_forward_matches_float64_reference_on_lattice_points_and_clamps(interpreter, dim, rng):
    lut = random_lut(dim, seed=dim)
    image = probe_image(dim, None, rng)
    out = trilinear(lut, torch.from_numpy(image)[None], backend="triton")[0].numpy()
    expected = reference_trilinear(lut.numpy(), image)
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=0)
    torch_out = trilinear(lut, torch.from_numpy(image)[None], backend="torch")[0].numpy()
    np.testing.assert_allclose(out, torch_out, atol=1e-6, rtol=0)


@pytest.mark.parametrize("family", ["adaint", "seplut"])
def test_forward_with_curves_matches_float64_reference(interpreter, family, rng):
    dim = 17
    knots, values = adaint_like_curves(dim, seed=5) if family == "adaint" \
        else seplut_like_curves(9, seed=5)
    lut = random_lut(dim, seed=1)
    image = probe_image(dim, knots, rng)
    out = apply_curves_and_lut(lut, torch.from_numpy(image)[None], tuple(as_tensors(knots, values)),
                               backend="triton")[0].numpy()
    expected = reference_trilinear(lut.numpy(), reference_curves(knots, values, image))
    # the curve's float32 rounding moves the LUT coordinate by ~1e-7, times the LUT's slope
    np.testing.assert_allclose(out, expected, atol=2e-6, rtol=0)
    torch_out = apply_curves_and_lut(lut, torch.from_numpy(image)[None],
                                     tuple(as_tensors(knots, values)), backend="torch")
    np.testing.assert_allclose(out, torch_out[0].numpy(), atol=1e-6, rtol=0)


def test_forward_per_image_luts_and_curves(interpreter, rng):
    luts = random_lut(9, seed=3, batch=3)
    curves = [adaint_like_curves(9, seed=s) for s in range(3)]
    knots = np.stack([k for k, _ in curves])
    values = np.stack([v for _, v in curves])
    images = np.stack([probe_image(9, knots[i], rng, 3, 37) for i in range(3)])
    out = apply_curves_and_lut(luts, torch.from_numpy(images), tuple(as_tensors(knots, values)),
                               backend="triton").numpy()
    for i in range(3):
        expected = reference_trilinear(luts[i].numpy(),
                                       reference_curves(knots[i], values[i], images[i]))
        np.testing.assert_allclose(out[i], expected, atol=2e-6, rtol=0)
    # shared curves with per-image LUTs, and per-image curves with a shared LUT
    shared = apply_curves_and_lut(luts, torch.from_numpy(images),
                                  tuple(as_tensors(knots[0], values[0])), backend="triton")
    one_lut = apply_curves_and_lut(luts[1], torch.from_numpy(images),
                                   tuple(as_tensors(knots, values)), backend="triton")
    for i in range(3):
        np.testing.assert_allclose(
            shared[i].numpy(), reference_trilinear(
                luts[i].numpy(), reference_curves(knots[0], values[0], images[i])), atol=2e-6)
        np.testing.assert_allclose(
            one_lut[i].numpy(), reference_trilinear(
                luts[1].numpy(), reference_curves(knots[i], values[i], images[i])), atol=2e-6)


# ---- gradients -----------------------------------------------------------------------------

@pytest.mark.parametrize("dim,per_image", [(9, False), (17, True), (33, False)])
def test_lut_and_image_gradients_match_torch_op(interpreter, dim, per_image, rng):
    """On lattice points, 0, 1 and out of range too: the same one-sided derivatives."""
    lut = random_lut(dim, seed=7, batch=2 if per_image else None)
    images = torch.from_numpy(np.stack([probe_image(dim, None, rng, 3, 71) for _ in range(2)]))
    grad_out = torch.from_numpy(rng.normal(size=images.shape).astype(np.float32))
    _, got = grads_of(lambda t, x: trilinear(t, x, backend="triton"), (lut, images), grad_out)
    _, expected = grads_of(lambda t, x: trilinear(t, x, backend="torch"),
                           (lut.double(), images.double()), grad_out)
    assert_grads_close(got, expected)
    _, same_precision = grads_of(lambda t, x: trilinear(t, x, backend="torch"), (lut, images),
                                 grad_out)
    assert_grads_close(got, same_precision)
    # the image gradient is exactly zero where the input is clamped
    outside = (images < 0) | (images > 1)
    assert outside.any() and (got[1][outside] == 0).all()


def test_lut_gradient_is_the_adjoint_of_the_float64_reference(interpreter, rng):
    """<grad_lut, L2> equals <grad_out, reference(L2, x)> for any L2 (the op is linear in
    the LUT), so the LUT gradient is checked against the NumPy reference itself."""
    dim = 9
    lut = random_lut(dim, seed=2)
    image = probe_image(dim, None, rng, 3, 41)
    grad_out = rng.normal(size=image.shape).astype(np.float32)
    _, (grad_lut,) = grads_of(lambda t: trilinear(t, torch.from_numpy(image)[None],
                                                  backend="triton"),
                              (lut,), torch.from_numpy(grad_out)[None])
    for seed in range(3):
        other = np.random.default_rng(seed).normal(size=lut.shape)
        expected = float((grad_out * reference_trilinear(other, image)).sum())
        assert float((grad_lut.double().numpy() * other).sum()) == pytest.approx(expected,
                                                                               rel=1e-5)


@pytest.mark.parametrize("family,shared", [("adaint", True), ("seplut", False)])
def test_curve_gradients_match_torch_op_on_and_around_knots(interpreter, family, shared, rng):
    dim = 9
    make = (lambda s: adaint_like_curves(17, seed=s)) if family == "adaint" \
        else (lambda s: seplut_like_curves(9, seed=s))
    curves = [make(s) for s in range(1 if shared else 2)]
    knots = torch.from_numpy(np.stack([k for k, _ in curves]))
    values = torch.from_numpy(np.stack([v for _, v in curves]))
    if shared:
        knots, values = knots[0], values[0]
    lut = random_lut(dim, seed=4)
    kn = knots.numpy().reshape(-1, 3, knots.shape[-1])
    images = torch.from_numpy(np.stack([probe_image(dim, kn[i % len(kn)], rng, 3, 67)
                                        for i in range(2)]))
    grad_out = torch.from_numpy(rng.normal(size=images.shape).astype(np.float32))

    def run(backend):
        return lambda x, t, k, v: apply_curves_and_lut(t, x, (k, v), backend=backend)

    out, got = grads_of(run("triton"), (images, lut, knots, values), grad_out)
    ref_out, same_precision = grads_of(run("torch"), (images, lut, knots, values), grad_out)
    torch.testing.assert_close(out, ref_out, atol=1e-6, rtol=0)
    # empty segments (AdaInt's zero widths) make eps-sized denominators: gradients of 1e10
    assert_grads_close(got, same_precision, rtol=1e-5)
    # against float64: where a float32 curve output lands on a lattice point or the clamp's
    # bound (x on a knot: float32 drops eps from s = w / (w + eps) = 1, float64 does not)
    # the two precisions take different cells, so those pixels get no output gradient; the
    # knot gradient (unbounded near empty segments) was compared in float32 above
    t = ops.apply_curves(knots, values, images).clamp(0, 1) * (dim - 1)
    inside = ((t - t.round()).abs() > 1e-5).all(dim=1, keepdim=True)
    assert inside.float().mean() > 0.3
    _, got = grads_of(run("triton"), (images, lut, knots, values), grad_out * inside)
    _, expected = grads_of(run("torch"), (images.double(), lut.double(), knots.double(),
                                          values.double()), grad_out * inside)
    assert_grads_close((got[1], got[3]), (expected[1], expected[3]), rtol=1e-5)


def test_other_launch_configs_and_lut_gradient_copies_give_the_same_gradients(interpreter, rng):
    """Small blocks (4 programs per image), 3 copies of the LUT gradient, 2 knot chunks."""
    config = triton_kernels.KernelConfig(forward=triton_kernels.LaunchConfig(128, 2),
                                         backward=triton_kernels.LaunchConfig(32, 2),
                                         lut_grad_copies=3)
    knots, values = as_tensors(*adaint_like_curves(17, seed=6))
    luts = random_lut(9, seed=8, batch=2)
    images = torch.from_numpy(np.stack([probe_image(9, knots.numpy(), rng, 3, 37)
                                        for _ in range(2)]))
    grad_out = torch.from_numpy(rng.normal(size=images.shape).astype(np.float32))
    inputs = (images, luts, knots, values)
    _, got = grads_of(lambda x, t, k, v: triton_kernels.curves_and_lut(t, x, (k, v),
                                                                        config=config),
                      inputs, grad_out)
    _, expected = grads_of(lambda x, t, k, v: apply_curves_and_lut(t, x, (k, v),
                                                                    backend="torch"),
                           inputs, grad_out)
    assert_grads_close(got, expected, rtol=1e-5)


def test_nan_and_infinite_inputs_stay_in_bounds(interpreter):
    """A NaN or infinite colour reads no memory outside the LUT; other pixels are exact."""
    lut = random_lut(5, seed=9)
    x = torch.tensor([[0.3, float("nan"), float("inf"), -float("inf"), 0.7]] * 3).view(1, 3, 1, 5)
    out = trilinear(lut, x, backend="triton")
    finite = [0, 3, 4]
    torch.testing.assert_close(out[..., finite],
                               trilinear(lut, x[..., finite], backend="torch"), atol=1e-6, rtol=0)


def test_only_requested_gradients_are_computed(interpreter, rng):
    lut = random_lut(9).requires_grad_(True)
    images = torch.from_numpy(rng.uniform(0, 1, (1, 3, 4, 9)).astype(np.float32))
    knots, values = as_tensors(*adaint_like_curves(9, seed=1))
    values.requires_grad_(True)
    out = apply_curves_and_lut(lut, images, (knots, values), backend="triton")
    out.square().sum().backward()
    assert images.grad is None and knots.grad is None
    assert lut.grad is not None and values.grad is not None
    expected = torch.autograd.grad(
        apply_curves_and_lut(lut, images, (knots, values), backend="torch").square().sum(),
        [lut, values])
    assert_grads_close((lut.grad, values.grad), expected)


def test_empty_image_and_no_gradients(interpreter):
    out = trilinear(identity_lut(5), torch.zeros(2, 3, 0, 4), backend="triton")
    assert out.shape == (2, 3, 0, 4)
    with torch.no_grad():
        x = torch.rand(1, 3, 3, 3)
        torch.testing.assert_close(trilinear(identity_lut(5), x, backend="triton"), x)


def failing_source():
    """A stand-in for the kernel module whose kernel fails to compile at launch."""
    import triton

    class Broken:
        def __getitem__(self, grid):
            raise triton.CompilationError("kernel.py", None, "simulated ptxas failure")

    return type("Source", (), {"curves_lut_kernel": Broken()})()


@pytest.mark.parametrize("with_curves", [False, True])
def test_backward_kernel_failure_falls_back_to_torch_gradients(interpreter, monkeypatch, rng,
                                                               with_curves):
    """The forward compiled, the backward does not: the torch op's gradients, one warning."""
    luts = random_lut(9, batch=2)
    images = torch.from_numpy(rng.uniform(-0.1, 1.1, (2, 3, 5, 7)).astype(np.float32))
    knots, values = as_tensors(*adaint_like_curves(9, seed=3))
    grad_out = torch.from_numpy(rng.normal(size=images.shape).astype(np.float32))
    inputs = (luts, images, knots, values) if with_curves else (luts, images)

    def run(fn):
        return lambda t, x, *kv: fn(t, x, tuple(kv) if kv else None)

    leaves = [t.clone().requires_grad_(True) for t in inputs]
    out = run(lambda t, x, c: triton_kernels.curves_and_lut(t, x, c, fallback=True))(*leaves)
    monkeypatch.setattr(triton_kernels, "_SOURCE", failing_source())
    with pytest.warns(RuntimeWarning, match="Triton kernel unavailable"):
        got = torch.autograd.grad(out, leaves, grad_out)
    _, expected = grads_of(run(lambda t, x, c: apply_curves_and_lut(t, x, c, backend="torch")),
                           inputs, grad_out)
    assert_grads_close(got, expected, rtol=1e-6)


def test_kernel_choice_leaves_no_global_state(interpreter, rng):
    """Running the kernels changes no torch flag or thread count."""
    before = (torch.get_num_threads(), torch.backends.cudnn.allow_tf32,
              torch.backends.cuda.matmul.allow_tf32, torch.are_deterministic_algorithms_enabled())
    x = torch.from_numpy(rng.uniform(0, 1, (1, 3, 3, 3)).astype(np.float32))
    trilinear(identity_lut(5), x, backend="triton")
    after = (torch.get_num_threads(), torch.backends.cudnn.allow_tf32,
             torch.backends.cuda.matmul.allow_tf32, torch.are_deterministic_algorithms_enabled())
    assert before == after


