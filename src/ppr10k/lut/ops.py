"""Differentiable 3D-LUT operations: pure PyTorch everywhere, fused Triton kernels on CUDA.

A LUT is a tensor ``(3, D, D, D)`` (or ``(B, 3, D, D, D)``, one per image) in the layout of
the official PPR10K / Image-Adaptive-3DLUT checkpoints: ``lut[c, b, g, r]`` is output
channel ``c`` at lattice point (red ``r``, green ``g``, blue ``b``), lattice spacing
``1 / (D - 1)``. The identity LUT has ``lut[0, b, g, r] = r / (D - 1)``.

References:
    Zeng, Cai, Li, Cao, Zhang, "Learning Image-adaptive 3D Lookup Tables for High
    Performance Photo Enhancement in Real-time", TPAMI 2020.
    Liang, Zeng, Cui, Xie, Zhang, "PPR10K", CVPR 2021.

Notes:
    The reference CUDA/C kernels compute the cell index as ``floor(v / binsize)`` and the
    in-cell fraction as ``fmod(v, binsize) / binsize`` with ``binsize = 1.000001 / (D - 1)``,
    which disagree at cell boundaries (the output jumps by one cell). Here the index and
    the fraction come from the same value ``t = v * (D - 1)``: ``i = min(floor(t), D - 2)``
    and ``f = t - i``, so the interpolation is continuous everywhere, and inputs are
    clamped to [0, 1].

Backends:
    :func:`trilinear` and :func:`apply_curves_and_lut` take ``backend="auto" | "torch" |
    "triton"`` (registry :data:`BACKENDS`). ``auto`` uses the fused Triton kernels of
    :mod:`ppr10k.lut.triton_kernels` for float32 CUDA images when ``triton`` is installed, and
    the pure-torch code below otherwise (CPU, float64, no Triton). Both compute the same
    values and gradients (image, LUT, curve knots and values) by the same rules. If a Triton
    kernel fails to compile, ``auto`` warns once per process and uses the pure-torch code from
    then on; ``triton`` raises instead, and ``torch`` never touches Triton. Nothing global is
    changed by the choice.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import torch

Curves = tuple[torch.Tensor, torch.Tensor]


def identity_lut(dim: int = 33, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """The identity LUT ``(3, dim, dim, dim)``: maps every colour to itself.

    Example:
        >>> identity_lut(2)[:, 1, 0, 1].tolist()  # (r, g, b) = (1, 0, 1)
        [1.0, 0.0, 1.0]
    """
    if dim < 2:
        raise ValueError(f"LUT dim must be >= 2, got {dim}")
    axis = torch.linspace(0.0, 1.0, dim, dtype=dtype, device=device)
    b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([r, g, b], dim=0)


def _check_lut(lut: torch.Tensor) -> None:
    if lut.ndim not in (4, 5) or lut.shape[-4] != 3 or not (
        lut.shape[-1] == lut.shape[-2] == lut.shape[-3]
    ):
        raise ValueError(f"lut must be (3, D, D, D) or (B, 3, D, D, D), got {tuple(lut.shape)}")


def _check_images(images: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")


def _check_lut_for(lut: torch.Tensor, images: torch.Tensor) -> None:
    _check_lut(lut)
    _check_images(images)
    if lut.ndim == 5 and lut.shape[0] != images.shape[0]:
        raise ValueError(f"{lut.shape[0]} LUTs for a batch of {images.shape[0]} images")


def _check_curves(knots: torch.Tensor, values: torch.Tensor, images: torch.Tensor) -> None:
    _check_images(images)
    if knots.shape != values.shape or knots.ndim not in (2, 3) or knots.shape[-2] != 3 \
            or knots.shape[-1] < 2:
        raise ValueError(f"knots and values must both be (3, K) or (B, 3, K) with K >= 2, got "
                         f"{tuple(knots.shape)} and {tuple(values.shape)}")
    if knots.ndim == 3 and knots.shape[0] != images.shape[0]:
        raise ValueError(f"{knots.shape[0]} curves for a batch of {images.shape[0]} images")


def trilinear(lut: torch.Tensor, images: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Apply a 3D LUT to images by trilinear interpolation.

    Args:
        lut: ``(3, D, D, D)`` shared by the batch, or ``(B, 3, D, D, D)`` one per image,
            official layout ``lut[c, b, g, r]``.
        images: ``(B, 3, H, W)`` RGB, values clamped to [0, 1].
        backend: ``"auto"``, ``"torch"`` or ``"triton"`` (see the module docstring).

    Returns:
        ``(B, 3, H, W)``, differentiable with respect to both ``lut`` and ``images``.

    Example:
        >>> x = torch.rand(2, 3, 4, 5)
        >>> torch.allclose(trilinear(identity_lut(9), x), x, atol=1e-6)
        True
    """
    _check_lut_for(lut, images)
    return _run_backend(backend, lut, images, None)


def _trilinear_torch(lut: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The pure-torch trilinear lookup (shapes already checked)."""
    batch, _, height, width = images.shape
    dim = lut.shape[-1]
    if lut.ndim == 4:
        lut = lut.unsqueeze(0).expand(batch, -1, -1, -1, -1)
    lut = lut.to(images.dtype)

    t = images.clamp(0.0, 1.0).reshape(batch, 3, -1) * (dim - 1)
    index = t.detach().floor().clamp_(max=dim - 2).long()
    frac = t - index  # in [0, 1]; carries the gradient with respect to the images
    ir, ig, ib = index[:, 0], index[:, 1], index[:, 2]
    fr, fg, fb = frac[:, 0:1], frac[:, 1:2], frac[:, 2:3]
    base = (ib * dim + ig) * dim + ir  # (B, HW) flat index of the lower corner
    table = lut.reshape(batch, 3, dim ** 3)

    def corner(db: int, dg: int, dr: int) -> torch.Tensor:
        offset = (db * dim + dg) * dim + dr
        return torch.gather(table, 2, (base + offset).unsqueeze(1).expand(-1, 3, -1))

    # interpolate along red, then green, then blue
    c00 = torch.lerp(corner(0, 0, 0), corner(0, 0, 1), fr)
    c01 = torch.lerp(corner(0, 1, 0), corner(0, 1, 1), fr)
    c10 = torch.lerp(corner(1, 0, 0), corner(1, 0, 1), fr)
    c11 = torch.lerp(corner(1, 1, 0), corner(1, 1, 1), fr)
    c0 = torch.lerp(c00, c01, fg)
    c1 = torch.lerp(c10, c11, fg)
    out = torch.lerp(c0, c1, fb)
    return out.reshape(batch, 3, height, width)


def apply_curves(knots: torch.Tensor, values: torch.Tensor, images: torch.Tensor,
                 eps: float = 1e-10) -> torch.Tensor:
    """Per-channel piecewise-linear curves: ``y_c = curve_c(x_c)``.

    Channel ``c`` of each image goes through the curve through the points
    ``(knots[c, k], values[c, k])``, ``k = 0..K-1``. The segment of a value ``x`` is the one
    that starts at the last knot strictly below ``x`` (``k = #{knots < x} - 1``, clamped to
    ``[0, K - 2]``), and ``y = v_k + (x - x_k) / (x_{k+1} - x_k + eps) * (v_{k+1} - v_k)``,
    not clamped (a value past the last knot extrapolates). This one rule covers SepLUT's
    uniform 1D LUTs (knots ``k / (K - 1)``, values the LUT) and AdaInt's non-uniform lattice
    (knots the predicted vertices, values ``k / (D - 1)``: the uniform lattice coordinate).

    Args:
        knots: ``(3, K)`` or ``(B, 3, K)``, non-decreasing along ``K``, ``K >= 2``.
        values: same shape as ``knots``.
        images: ``(B, 3, H, W)`` RGB, values clamped to [0, 1].
        eps: added to each segment's width (AdaInt's rule; keeps empty segments finite).

    Returns:
        ``(B, 3, H, W)``, differentiable with respect to ``knots``, ``values`` and ``images``.

    Example:
        >>> knots = torch.tensor([0.0, 0.5, 1.0]).expand(3, 3)
        >>> values = torch.tensor([0.0, 0.8, 1.0]).expand(3, 3)
        >>> apply_curves(knots, values, torch.full((1, 3, 1, 1), 0.25)).flatten().tolist()
        [0.4000000059604645, 0.4000000059604645, 0.4000000059604645]
    """
    _check_curves(knots, values, images)
    batch, _, height, width = images.shape
    if knots.ndim == 2:
        knots, values = knots.expand(batch, -1, -1), values.expand(batch, -1, -1)
    n_knots = knots.shape[-1]
    knots = knots.to(images.dtype).contiguous()
    values = values.to(images.dtype)
    x = images.clamp(0.0, 1.0).reshape(batch, 3, -1)
    segment = torch.searchsorted(knots.detach(), x.detach().contiguous(), right=False)
    segment = (segment - 1).clamp_(0, n_knots - 2)
    x0 = torch.gather(knots, 2, segment)
    x1 = torch.gather(knots, 2, segment + 1)
    y0 = torch.gather(values, 2, segment)
    y1 = torch.gather(values, 2, segment + 1)
    out = y0 + (x - x0) / (x1 - x0 + eps) * (y1 - y0)
    return out.reshape(batch, 3, height, width)


def apply_curves_and_lut(lut: torch.Tensor, images: torch.Tensor,
                         curves: Curves | None = None, backend: str = "auto") -> torch.Tensor:
    """The apply step shared by every model family: optional curves, then a 3D LUT.

    ``trilinear(lut, apply_curves(*curves, images))``; with ``curves=None`` just the
    uniform trilinear lookup. The curves' outputs are the LUT's input coordinates in
    [0, 1] (clamped there by :func:`trilinear`).

    Args:
        lut: ``(3, D, D, D)`` or ``(B, 3, D, D, D)``, layout ``lut[c, b, g, r]``.
        images: ``(B, 3, H, W)`` RGB in [0, 1].
        curves: ``(knots, values)`` for :func:`apply_curves`, or None.
        backend: ``"auto"``, ``"torch"`` or ``"triton"`` (see the module docstring); the
            Triton kernel fuses the curves and the LUT into one pass.
    """
    _check_lut_for(lut, images)
    if curves is not None:
        _check_curves(curves[0], curves[1], images)
    return _run_backend(backend, lut, images, curves)


# ---- backends ----------------------------------------------------------------------------

Backend = Callable[[torch.Tensor, torch.Tensor, Curves | None, bool], torch.Tensor]


def _torch_backend(lut: torch.Tensor, images: torch.Tensor, curves: Curves | None,
                   fallback: bool) -> torch.Tensor:
    if curves is not None:
        images = apply_curves(curves[0], curves[1], images)
    return _trilinear_torch(lut, images)


def _triton_backend(lut: torch.Tensor, images: torch.Tensor, curves: Curves | None,
                    fallback: bool) -> torch.Tensor:
    from ppr10k.lut import triton_kernels

    if images.dtype != torch.float32:
        raise ValueError(f"backend='triton' needs float32 images, got {images.dtype}; "
                         "use backend='torch'")
    tensors = (lut, *(curves or ()))
    if any(t.device != images.device for t in tensors):
        raise ValueError(f"backend='triton': the LUT and curves must be on the images' device "
                         f"({images.device})")
    if images.device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError(f"backend='triton' needs CUDA tensors, got {images.device} "
                         "(on the CPU set TRITON_INTERPRET=1, or use backend='torch')")
    return triton_kernels.curves_and_lut(lut, images, curves, fallback=fallback)


BACKENDS: dict[str, Backend] = {"torch": _torch_backend, "triton": _triton_backend}


class _TritonHealth:
    """Why the Triton kernels failed in this process (None while they work)."""

    failure: str | None = None


def warn_triton_failed(error: Exception) -> None:
    """Record a Triton kernel failure; the first one is reported as one warning."""
    if _TritonHealth.failure is None:
        _TritonHealth.failure = str(error)
        warnings.warn(f"ppr10k.lut: Triton kernel unavailable ({error}); using the pure-torch "
                      "op", RuntimeWarning, stacklevel=4)


def choose_backend(images: torch.Tensor) -> str:
    """The backend ``auto`` picks for ``images``: ``"triton"`` for float32 CUDA tensors
    when Triton is installed and has not failed in this process, else ``"torch"``."""
    from ppr10k.lut.triton_kernels import triton_importable

    if images.is_cuda and images.dtype == torch.float32 and _TritonHealth.failure is None \
            and triton_importable():
        return "triton"
    return "torch"


def _run_backend(backend: str, lut: torch.Tensor, images: torch.Tensor,
                 curves: Curves | None) -> torch.Tensor:
    if backend == "auto":
        if choose_backend(images) == "triton":
            from ppr10k.lut.triton_kernels import KernelUnavailable

            try:
                return _triton_backend(lut, images, curves, True)
            except (KernelUnavailable, ImportError) as error:
                warn_triton_failed(error)
        return _torch_backend(lut, images, curves, True)
    if backend not in BACKENDS:
        raise ValueError(f"unknown LUT backend {backend!r}; choose auto, "
                         f"{', '.join(sorted(BACKENDS))}")
    return BACKENDS[backend](lut, images, curves, False)


def fuse_luts(luts: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted sum of basis LUTs, one fused LUT per image.

    Args:
        luts: ``(N, 3, D, D, D)`` basis LUTs.
        weights: ``(B, N)`` (or ``(N,)``) weights, unconstrained reals.

    Returns:
        ``(B, 3, D, D, D)`` (or ``(3, D, D, D)``): ``sum_n weights[:, n] * luts[n]``.
    """
    if luts.ndim != 5 or luts.shape[1] != 3:
        raise ValueError(f"luts must be (N, 3, D, D, D), got {tuple(luts.shape)}")
    if weights.shape[-1] != luts.shape[0]:
        raise ValueError(f"{weights.shape[-1]} weights for {luts.shape[0]} LUTs")
    return torch.tensordot(weights.to(luts.dtype), luts, dims=([-1], [0]))


def _neighbour_differences(lut: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``lut[i] - lut[i + 1]`` along the r, g and b axes (last three dims)."""
    return (
        lut[..., :-1] - lut[..., 1:],
        lut[..., :-1, :] - lut[..., 1:, :],
        lut[..., :-1, :, :] - lut[..., 1:, :, :],
    )


def lut_total_variation(lut: torch.Tensor) -> torch.Tensor:
    """Smoothness regulariser TV of spec §4, summed over the leading LUT dims.

    For each axis: the mean of squared neighbour differences, where the differences at the
    first and last positions of the axis count twice; the three axes are added. For a
    ``(N, 3, D, D, D)`` stack the result is the sum over the N LUTs.
    """
    dim = lut.shape[-1]
    weight = torch.ones(dim - 1, dtype=lut.dtype, device=lut.device)
    weight[0] = weight[-1] = 2.0
    total = lut.new_zeros(())
    n_luts = lut[..., 0, 0, 0, 0].numel()
    for axis, diff in zip((-1, -2, -3), _neighbour_differences(lut)):
        shape = [1] * diff.ndim
        shape[axis] = dim - 1
        per_lut = (diff.square() * weight.view(shape)).reshape(n_luts, -1).mean(dim=1)
        total = total + per_lut.sum()
    return total


def lut_monotonicity(lut: torch.Tensor) -> torch.Tensor:
    """Monotonicity regulariser MN of spec §4, summed over the leading LUT dims.

    For each axis, the mean of ``relu(lut[i] - lut[i + 1])`` (positive where the LUT
    decreases); the three axes are added; summed over the N LUTs of a stack.
    """
    n_luts = lut[..., 0, 0, 0, 0].numel()
    total = lut.new_zeros(())
    for diff in _neighbour_differences(lut):
        total = total + torch.relu(diff).reshape(n_luts, -1).mean(dim=1).sum()
    return total
