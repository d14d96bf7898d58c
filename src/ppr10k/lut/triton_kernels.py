"""Fused Triton kernels for curves + trilinear 3D LUT (the apply step), with autograd.

:func:`curves_and_lut` computes exactly what :func:`ppr10k.lut.ops.apply_curves_and_lut`
does with the pure-torch backend (same cell, segment and clamping rules, same gradients for
the image, the LUT and the curves' knots and values, including at knots, lattice points
and the clamps) in one kernel launch forward and one backward, for float32 tensors on a
CUDA device (or on the CPU under Triton's interpreter, ``TRITON_INTERPRET=1``).

How the backend is chosen (``backend=`` of :func:`ppr10k.lut.trilinear` and
:func:`ppr10k.lut.apply_curves_and_lut`):

* ``"auto"`` (default): these kernels for float32 CUDA images when ``triton`` imports;
  the pure-torch op otherwise (CPU, other dtypes, no Triton). If a kernel fails to compile
  or launch, one warning is printed (once per process), the call and every later ``auto``
  call use the pure-torch op, and the result is still correct.
* ``"torch"``: always the pure-torch op.
* ``"triton"``: always these kernels; errors are raised, not hidden (for tests and
  benchmarks). CPU tensors need ``TRITON_INTERPRET=1`` set before this module's kernels are
  first loaded.

Kernel design and trade-offs are described in :mod:`ppr10k.lut._triton_src`. The launch
parameters (:data:`DEFAULT_CONFIG`: pixels and warps per program, copies of the LUT
gradient) are reasoned defaults, not yet tuned on a GPU; ``benchmarks/bench_gpu.py``
measures a few alternatives beside them. Gradients are first order (no double backward).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType

import torch
import torch.nn.functional as F

CURVE_EPS = 1e-10  # apply_curves' default: added to every segment's width
KNOT_CHUNK = 16  # knots per one-hot partial-sum step in the curve gradient


class KernelUnavailable(RuntimeError):
    """A Triton kernel could not be compiled or launched (the pure-torch op still works)."""


@dataclass(frozen=True)
class LaunchConfig:
    """Pixels per program and warps per program of one kernel launch."""

    block: int
    num_warps: int


@dataclass(frozen=True)
class KernelConfig:
    """Launch parameters of the forward and backward kernels.

    The defaults give one pixel per thread: compiled for sm_90 (Triton 3.8, ptxas) the
    forward then needs 38 registers, no shared memory and no barrier (every per-pixel value
    already sits in the thread that reads its LUT corners), the LUT + image backward 64;
    two pixels per thread (512 pixels, 8 warps) adds shared-memory shuffles and doubles the
    registers. ``benchmarks/bench_gpu.py`` times the alternatives on a GPU.

    ``lut_grad_copies``: copies of the LUT gradient the backward's atomics are spread over;
    None picks :func:`lut_grad_copies` from the pixels per LUT.
    """

    forward: LaunchConfig = LaunchConfig(block=256, num_warps=8)
    backward: LaunchConfig = LaunchConfig(block=256, num_warps=8)
    lut_grad_copies: int | None = None


DEFAULT_CONFIG = KernelConfig()

_SOURCE: ModuleType | None = None


@functools.cache
def triton_importable() -> bool:
    """Whether the ``triton`` package is installed (without importing it)."""
    return importlib.util.find_spec("triton") is not None


def kernel_source() -> ModuleType:
    """The module holding the ``@triton.jit`` kernels, imported on first use."""
    global _SOURCE
    if _SOURCE is None:
        source = importlib.import_module("ppr10k.lut._triton_src")
        if source.triton is None:
            raise KernelUnavailable("the triton package is not installed")
        _SOURCE = source
    return _SOURCE


@functools.cache
def clamp_passes_bounds() -> bool:
    """Whether this torch's ``clamp(0, 1)`` passes the gradient at exactly 0 and 1 (it does
    not in torch 2.14; the kernels copy whichever rule the pure-torch op follows)."""
    with torch.enable_grad():
        x = torch.tensor([0.0, 1.0], requires_grad=True)
        (grad,) = torch.autograd.grad(x.clamp(0.0, 1.0).sum(), x)
    return bool(grad.all())


def lut_grad_copies(pixels_per_lut: int) -> int:
    """Private copies of the LUT gradient that the atomics of one LUT are spread over.

    One copy per 2^18 pixels of the LUT, between 1 and 8: a 4K image's 8.3 Mpx use 8
    (8 x 575 KB for a 33^3 LUT, zeroed and summed in microseconds), a 448^2 training crop 1.
    """
    return max(1, min(8, pixels_per_lut >> 18))


def curves_and_lut(lut: torch.Tensor, images: torch.Tensor,
                   curves: tuple[torch.Tensor, torch.Tensor] | None = None,
                   fallback: bool = False, config: KernelConfig = DEFAULT_CONFIG
                   ) -> torch.Tensor:
    """Optional per-channel curves, then the trilinear 3D LUT, with the Triton kernels.

    Args:
        lut: ``(3, D, D, D)`` or ``(B, 3, D, D, D)``, layout ``lut[c, b, g, r]``.
        images: ``(B, 3, H, W)`` float32 RGB (clamped to [0, 1] by the op).
        curves: ``(knots, values)``, each ``(3, K)`` or ``(B, 3, K)``, or None.
        fallback: if the backward kernel fails, warn once and compute the gradients with
            the pure-torch op instead of raising (the ``auto`` backend's behaviour).
        config: launch parameters (benchmarks compare alternatives with it).

    Returns:
        ``(B, 3, H, W)`` float32, differentiable with respect to ``lut``, ``images`` and the
        curves. Shapes are assumed checked by the caller (:mod:`ppr10k.lut.ops`).

    Raises:
        KernelUnavailable: the forward kernel did not compile or launch.
    """
    dim = lut.shape[-1]
    lut4 = pack_lut(lut.float())
    images = images.contiguous()
    if curves is None:
        knots = values = None
    else:
        knots = curves[0].float().reshape(-1, 3, curves[0].shape[-1]).contiguous()
        values = curves[1].float().reshape(-1, 3, curves[1].shape[-1]).contiguous()
    inputs = (images, lut4, knots, values)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        return _FusedCurvesLut.apply(images, lut4, knots, values, dim, fallback, config)
    out = torch.empty_like(images)  # inference: no autograd node, no saved tensors
    _launch(config.forward, images, lut4, knots, values, dim, out=out)
    return out


def pack_lut(lut: torch.Tensor) -> torch.Tensor:
    """``(3, D, D, D)`` / ``(B, 3, D, D, D)`` -> ``(N, D^3, 4)``: the three output channels of
    each lattice point side by side, a zero fourth column (differentiable)."""
    dim = lut.shape[-1]
    flat = lut.reshape(-1, 3, dim ** 3).transpose(1, 2)
    return F.pad(flat, (0, 1)).contiguous()


def unpack_lut(lut4: torch.Tensor, dim: int) -> torch.Tensor:
    """Inverse of :func:`pack_lut`: ``(N, D^3, 4)`` -> ``(N, 3, D, D, D)``."""
    return lut4[..., :3].transpose(1, 2).reshape(-1, 3, dim, dim, dim)


class _FusedCurvesLut(torch.autograd.Function):
    @staticmethod
    def forward(ctx, images, lut4, knots, values, dim, fallback, config):
        out = torch.empty_like(images)
        _launch(config.forward, images, lut4, knots, values, dim, out=out)
        ctx.save_for_backward(images, lut4, knots, values)
        ctx.dim, ctx.fallback, ctx.config = dim, fallback, config
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        images, lut4, knots, values = ctx.saved_tensors
        need_x, need_lut, need_knots, need_values = ctx.needs_input_grad[:4]
        try:
            grad_x, grad_lut4, grad_knots, grad_values = _backward(
                images, lut4, knots, values, ctx.dim, grad_out.contiguous(), need_x, need_lut,
                need_knots or need_values, ctx.config)
            grads = (grad_x, grad_lut4, grad_knots if need_knots else None,
                     grad_values if need_values else None)
        except KernelUnavailable as error:
            if not ctx.fallback:
                raise
            from ppr10k.lut.ops import warn_triton_failed

            warn_triton_failed(error)
            grads = _torch_backward(images, lut4, knots, values, ctx.dim, grad_out,
                                    ctx.needs_input_grad[:4])
        return (*grads, None, None, None)


def _backward(images, lut4, knots, values, dim, grad_out, need_x, need_lut, need_curves,
              config: KernelConfig):
    batch, _, height, width = images.shape
    pixels = height * width
    grad_x = torch.empty_like(images) if need_x else None
    copies = config.lut_grad_copies or lut_grad_copies(
        pixels * (batch if lut4.shape[0] == 1 else 1))
    grad_lut4 = (torch.zeros((lut4.shape[0] * copies, *lut4.shape[1:]), dtype=torch.float32,
                             device=images.device) if need_lut else None)
    has_curves = knots is not None
    partials = None
    if has_curves and need_curves:
        programs = -(-pixels // config.backward.block)
        n_knots = knots.shape[-1]
        padded = -(-n_knots // KNOT_CHUNK) * KNOT_CHUNK
        partials = torch.empty((batch * programs, 3, 2, padded), dtype=torch.float32,
                               device=images.device)
    _launch(config.backward, images, lut4, knots, values, dim, grad_out=grad_out,
            grad_x=grad_x, grad_lut4=grad_lut4, copies=copies, grad_curves=partials)
    if grad_lut4 is not None:
        grad_lut4 = grad_lut4.view(lut4.shape[0], copies, *lut4.shape[1:]).sum(1)
    grad_knots = grad_values = None
    if partials is not None:
        n_knots = knots.shape[-1]
        sums = partials.view(batch, -1, 3, 2, partials.shape[-1]).sum(1)[..., :n_knots]
        if knots.shape[0] == 1:
            sums = sums.sum(0, keepdim=True)
        grad_knots, grad_values = sums[:, :, 0].contiguous(), sums[:, :, 1].contiguous()
    return grad_x, grad_lut4, grad_knots, grad_values


def _torch_backward(images, lut4, knots, values, dim, grad_out, needs):
    """The same gradients from the pure-torch op (used when the backward kernel fails)."""
    from ppr10k.lut.ops import apply_curves_and_lut

    with torch.enable_grad():
        leaves = [t.detach().requires_grad_(need) if t is not None else None
                  for t, need in zip((images, lut4, knots, values), needs)]
        x, table, k, v = leaves
        lut = unpack_lut(table, dim)
        lut = lut[0] if lut.shape[0] == 1 else lut
        curves = None if k is None else ((k[0], v[0]) if k.shape[0] == 1 else (k, v))
        out = apply_curves_and_lut(lut, x, curves, backend="torch")
        wanted = [leaf for leaf, need in zip(leaves, needs) if need]
        found = iter(torch.autograd.grad(out, wanted, grad_out))
    return tuple(next(found) if need else None for need in needs)


def _launch(config: LaunchConfig, images, lut4, knots, values, dim, *, out=None,
            grad_out=None, grad_x=None, grad_lut4=None, copies=1, grad_curves=None) -> None:
    """One launch of the kernel: forward when ``out`` is given, else backward into the given
    gradient buffers. Any failure to compile or run it raises KernelUnavailable."""
    batch, _, height, width = images.shape
    pixels = height * width
    if batch == 0 or pixels == 0:
        return
    has_curves = knots is not None
    n_knots = knots.shape[-1] if has_curves else 2

    def pointer(tensor):  # unused pointers get the images: never read, the flags say so
        return images if tensor is None else tensor

    args = (images, pointer(out), pointer(grad_out), pointer(grad_x), lut4, pointer(grad_lut4),
            pointer(knots), pointer(values), pointer(grad_curves),
            pixels, n_knots, int(lut4.shape[0] > 1), int(has_curves and knots.shape[0] > 1),
            CURVE_EPS)
    flags = _flags(dim, n_knots, config.block, copies, has_curves, out is not None,
                   grad_x is not None, grad_lut4 is not None, grad_curves is not None)
    grid = (-(-pixels // config.block), batch)
    # Triton launches on the current CUDA device: make it the tensors' own (restored after)
    on_device = torch.cuda.device(images.device) if images.is_cuda else contextlib.nullcontext()
    try:
        kernel = kernel_source().curves_lut_kernel
        with on_device:
            kernel[grid](*args, **flags, num_warps=config.num_warps)
    except Exception as error:  # compile errors come in many types (Triton, ptxas, driver)
        summary = str(error).strip().splitlines()
        detail = summary[0] if summary else ""
        raise KernelUnavailable(f"{type(error).__name__}: {detail}"[:300]) from error


def _flags(dim: int, n_knots: int, block: int, copies: int, has_curves: bool, forward: bool,
           grad_x: bool, grad_lut: bool, grad_curves: bool) -> dict:
    """The kernel's compile-time parameters (one variant is compiled per distinct set)."""
    return {"D": dim, "BLOCK": block, "COPIES": copies, "KCH": KNOT_CHUNK,
            "N_KCH": -(-n_knots // KNOT_CHUNK), "HAS_CURVES": has_curves, "FORWARD": forward,
            "GRAD_X": grad_x, "GRAD_LUT": grad_lut, "GRAD_CURVES": grad_curves,
            "GRAD_Y": grad_x or grad_curves, "BOUNDS_PASS": clamp_passes_bounds()}


POINTER_ARGS = ("x_ptr", "out_ptr", "gout_ptr", "gx_ptr", "lut_ptr", "glut_ptr", "knots_ptr",
                "values_ptr", "gcurve_ptr")


def compile_for(arch: int, *, forward: bool, curves: bool = False, grad_x: bool = False,
                grad_lut: bool = False, grad_curves: bool = False, dim: int = 33,
                n_knots: int = 33, copies: int = 8, config: KernelConfig = DEFAULT_CONFIG):
    """Compile one kernel variant for NVIDIA compute capability ``arch`` (90: H100/H200)
    without a GPU, with Triton's bundled ``ptxas``; returns Triton's compiled kernel (its
    ``asm`` dict holds the PTX). Arguments are specialised as the JIT does for aligned
    tensors and an image whose pixel count is a multiple of 16 (a 4K frame)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    kernel = kernel_source().curves_lut_kernel
    launch = config.forward if forward else config.backward
    flags = _flags(dim, n_knots, launch.block, copies, curves, forward, grad_x, grad_lut,
                   grad_curves)
    signature = {name: "*fp32" for name in POINTER_ARGS}
    signature.update(HW="i32", K="i32", lut_per_image="i32", curve_per_image="i32", eps="fp32")
    signature.update({name: "constexpr" for name in flags})
    names = list(kernel.arg_names)
    if sorted(names) != sorted(signature):
        raise KernelUnavailable(f"kernel arguments changed: {names}")
    signature = {name: signature[name] for name in names}
    attrs = {(names.index(name),): [["tt.divisibility", 16]] for name in (*POINTER_ARGS, "HW")}
    return triton.compile(ASTSource(kernel, signature, flags, attrs),
                          target=GPUTarget("cuda", arch, 32),
                          options={"num_warps": launch.num_warps})
