"""The backend dispatcher of ppr10k.lut and the fused Triton kernels.

The kernels' numerical checks live in ``triton_interpreter_checks.py`` and run here in a
subprocess under Triton's interpreter (``TRITON_INTERPRET=1`` must be set before ``triton``
is imported); the CUDA checks at the bottom run where a GPU is present.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from triton_interpreter_checks import (
    as_tensors,
    assert_grads_close,
    failing_source,
    grads_of,
    probe_image,
    random_lut,
)

from lut_reference import adaint_like_curves
from ppr10k.lut import apply_curves_and_lut, identity_lut, ops, trilinear, triton_kernels
from required import require_module

CHECKS = Path(__file__).with_name("triton_interpreter_checks.py")


def test_kernels_under_the_interpreter():
    """Forward and every gradient against the float64 reference and the torch op (~10 s)."""
    require_module("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CHECKS)],
        env=env, cwd=CHECKS.parents[2], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-3000:]


# ---- dispatcher ------------------------------------------------------------------------------

VARIANTS = {
    "forward": {"forward": True},
    "forward, curves": {"forward": True, "curves": True},
    "backward, LUT": {"forward": False, "grad_lut": True},
    "backward, LUT + image": {"forward": False, "grad_lut": True, "grad_x": True},
    "backward, curves, all": {"forward": False, "curves": True, "grad_lut": True,
                              "grad_x": True, "grad_curves": True},
}


def test_kernels_compile_for_hopper_without_a_gpu(tmp_path, monkeypatch):
    """Every variant compiles to sm_90 code (H100/H200) with Triton's bundled ptxas, with
    the design's memory operations: each LUT corner one 16-byte load or atomic add."""
    require_module("triton")
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("the interpreter replaces the compiler")
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path))
    for name, variant in VARIANTS.items():
        ptx = triton_kernels.compile_for(90, **variant).asm["ptx"]
        vector_loads = len(re.findall(r"ld\.global(\.\w+)*\.v4\.b32", ptx))
        if variant["forward"]:
            # the 8 corners of the thread's pixel (256 pixels, 256 threads)
            assert vector_loads >= 8, (name, vector_loads)
            assert "atom." not in ptx
        else:
            # one 16-byte atomic add per corner (sm_90's vector atomics), not 3 scalar ones
            assert len(re.findall(r"atom\.global\.gpu\.relaxed\.add\.v4\.f32", ptx)) == 8, name


def test_auto_falls_back_to_torch_with_one_warning(monkeypatch, rng):
    require_module("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # lets CPU tensors reach the (failing) kernel
    monkeypatch.setattr(ops._TritonHealth, "failure", None)
    monkeypatch.setattr(triton_kernels, "_SOURCE", failing_source())
    monkeypatch.setattr(ops, "choose_backend", lambda images: "triton")  # as on a GPU
    lut = random_lut(9)
    images = torch.from_numpy(rng.uniform(0, 1, (1, 3, 5, 7)).astype(np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = trilinear(lut, images)
        second = apply_curves_and_lut(lut, images)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "Triton kernel unavailable" in messages[0] and "pure-torch" in messages[0]
    assert "\n" not in messages[0]
    expected = trilinear(lut, images, backend="torch")
    torch.testing.assert_close(first, expected, rtol=0, atol=0)
    torch.testing.assert_close(second, expected, rtol=0, atol=0)
    # forcing the Triton backend raises instead of hiding the failure
    with pytest.raises(triton_kernels.KernelUnavailable, match="CompilationError"):
        trilinear(lut, images, backend="triton")


def test_auto_uses_torch_on_the_cpu_and_for_float64():
    assert ops.choose_backend(torch.zeros(1, 3, 2, 2)) == "torch"
    assert ops.choose_backend(torch.zeros(1, 3, 2, 2, dtype=torch.float64)) == "torch"


def test_bad_backend_choices_are_one_line_errors(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    x = torch.rand(1, 3, 2, 2)
    with pytest.raises(ValueError, match="unknown LUT backend 'cuda'"):
        trilinear(identity_lut(5), x, backend="cuda")
    with pytest.raises(ValueError, match="needs CUDA tensors.*TRITON_INTERPRET=1"):
        trilinear(identity_lut(5), x, backend="triton")
    with pytest.raises(ValueError, match="needs float32 images"):
        trilinear(identity_lut(5), x.double(), backend="triton")
    with pytest.raises(ValueError, match="LUTs for a batch"):
        trilinear(torch.stack([identity_lut(5)] * 2), x, backend="triton")


def test_lut_grad_copies_rule():
    assert triton_kernels.lut_grad_copies(448 * 448) == 1
    assert triton_kernels.lut_grad_copies(3840 * 2160) == 8
    assert triton_kernels.lut_grad_copies(0) == 1


def test_pack_and_unpack_lut_round_trip():
    luts = random_lut(5, batch=2)
    packed = triton_kernels.pack_lut(luts)
    assert packed.shape == (2, 125, 4) and (packed[..., 3] == 0).all()
    # entry (b, g, r) = (1, 2, 3) holds the three output channels side by side
    torch.testing.assert_close(packed[1, (1 * 5 + 2) * 5 + 3, :3], luts[1, :, 1, 2, 3])
    torch.testing.assert_close(triton_kernels.unpack_lut(packed, 5), luts)


# ---- on a GPU ----------------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("curves", [False, True])
def test_cuda_kernels_match_torch_op(curves):
    """auto picks the kernels on CUDA; values and gradients as the torch op's on the GPU."""
    device = torch.device("cuda")
    rng = np.random.default_rng(0)
    dim = 33
    knots, values = adaint_like_curves(dim, seed=0)
    lut = random_lut(dim, seed=1).to(device)
    image = torch.from_numpy(np.stack([probe_image(dim, knots, rng, 480, 611)
                                       for _ in range(2)])).to(device)
    pair = tuple(t.to(device) for t in as_tensors(knots, values)) if curves else None
    assert ops.choose_backend(image) == "triton"
    grad_out = torch.randn_like(image)

    def run(backend):
        if pair is None:
            return lambda x, t: apply_curves_and_lut(t, x, None, backend=backend)
        return lambda x, t, k, v: apply_curves_and_lut(t, x, (k, v), backend=backend)

    inputs = (image, lut, *(pair or ()))
    with warnings.catch_warnings():
        # a fallback to torch would warn: fail instead
        warnings.filterwarnings("error", message="ppr10k.lut: Triton")
        out, got = grads_of(run("auto"), inputs, grad_out)
    ref, expected = grads_of(run("torch"), inputs, grad_out)
    # FMA contraction in the kernel moves a curve output by an ulp at most: x LUT slope
    torch.testing.assert_close(out, ref, atol=2e-6 if curves else 1e-6, rtol=0)
    # the LUT (and value) gradients are sums: one pixel on the other side of a lattice plane
    # changes them little; the image gradient jumps there, so compare it pixel by pixel
    assert_grads_close((got[1],), (expected[1],), rtol=1e-4)
    if curves:
        assert_grads_close((got[3],), (expected[3],), rtol=1e-3)
    mismatch = (got[0] - expected[0]).abs() > 1e-4 * expected[0].abs().clamp(min=1)
    assert mismatch.float().mean() < 1e-3


@cuda
def test_cuda_training_shape_and_dtype_dispatch():
    device = torch.device("cuda")
    luts = random_lut(17, seed=2, batch=4).to(device).requires_grad_(True)
    crops = torch.rand(4, 3, 67, 45, device=device, requires_grad=True)
    got = torch.autograd.grad(trilinear(luts, crops).square().sum(), [luts, crops])
    expected = torch.autograd.grad(trilinear(luts, crops, backend="torch").square().sum(),
                                   [luts, crops])
    assert_grads_close(got, expected, rtol=1e-4)
    assert ops.choose_backend(crops.double()) == "torch"
    other = torch.device("cuda", torch.cuda.current_device())
    assert trilinear(luts[0].to(other), crops.detach()[:1].to(other)).device == other
