"""Apply a 3D LUT to a NumPy image on the CPU, fast (numba, every core).

:func:`apply_lut` is the full-resolution counterpart of :func:`ppr10k.lut.trilinear`: the
same trilinear interpolation in the official layout ``lut[c, b, g, r]`` (index and in-cell
fraction from the same ``t = v * (D - 1)``, inputs clamped to [0, 1]), on ``(H, W, 3)``
arrays of float32, uint8 or uint16, without any float copy of the image: samples are
converted to float per pixel and written straight to the output type, in place if asked.

References:
    Zeng, Cai, Li, Cao, Zhang, "Learning Image-adaptive 3D Lookup Tables for High
    Performance Photo Enhancement in Real-time", TPAMI 2020.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from ppr10k.io.image import SAMPLE_PEAKS

__all__ = ["apply_lut", "lut_table"]



@numba.njit(inline="always")
def _lerp(a, b, f):  # pragma: no cover - jit
    return a + f * (b - a)


@numba.njit(cache=True, fastmath=False, nogil=True)
def _apply_row(src, dst, table, dim, base, frac_r, frac_g, frac_b):  # pragma: no cover - jit
    """One float32 row: ``src``/``dst`` flat ``(3 W,)``, ``table`` flat ``(D, D, D, 4)``.

    Two passes so that LLVM vectorises each: lattice cell and fractions of every pixel,
    then the 8-corner interpolation reading the 4 padded channels of a corner together.
    """
    width = src.shape[0] // 3
    last = np.float32(dim - 1)
    top = np.int32(dim - 2)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for x in range(width):
        r = min(max(src[3 * x], zero), one) * last
        g = min(max(src[3 * x + 1], zero), one) * last
        b = min(max(src[3 * x + 2], zero), one) * last
        ir = min(np.int32(r), top)
        ig = min(np.int32(g), top)
        ib = min(np.int32(b), top)
        frac_r[x] = r - np.float32(ir)
        frac_g[x] = g - np.float32(ig)
        frac_b[x] = b - np.float32(ib)
        base[x] = ((ib * np.int32(dim) + ig) * np.int32(dim) + ir) * np.int32(4)
    s_g = np.uint32(4 * dim)
    s_b = np.uint32(4 * dim * dim)
    u1, u2 = np.uint32(1), np.uint32(2)
    u4, u5, u6 = np.uint32(4), np.uint32(5), np.uint32(6)
    for x in range(width):
        fr = frac_r[x]
        fg = frac_g[x]
        fb = frac_b[x]
        # lerp along red on the 4 (b, g) edges of the cell (corner r and r + 1 are
        # 4 floats apart), then along green, then blue
        p = np.uint32(base[x])
        e00_0 = _lerp(table[p], table[p + u4], fr)
        e00_1 = _lerp(table[p + u1], table[p + u5], fr)
        e00_2 = _lerp(table[p + u2], table[p + u6], fr)
        p = np.uint32(base[x]) + s_g
        e01_0 = _lerp(table[p], table[p + u4], fr)
        e01_1 = _lerp(table[p + u1], table[p + u5], fr)
        e01_2 = _lerp(table[p + u2], table[p + u6], fr)
        p = np.uint32(base[x]) + s_b
        e10_0 = _lerp(table[p], table[p + u4], fr)
        e10_1 = _lerp(table[p + u1], table[p + u5], fr)
        e10_2 = _lerp(table[p + u2], table[p + u6], fr)
        p = np.uint32(base[x]) + s_b + s_g
        e11_0 = _lerp(table[p], table[p + u4], fr)
        e11_1 = _lerp(table[p + u1], table[p + u5], fr)
        e11_2 = _lerp(table[p + u2], table[p + u6], fr)
        f0_0 = _lerp(e00_0, e01_0, fg)
        f0_1 = _lerp(e00_1, e01_1, fg)
        f0_2 = _lerp(e00_2, e01_2, fg)
        f1_0 = _lerp(e10_0, e11_0, fg)
        f1_1 = _lerp(e10_1, e11_1, fg)
        f1_2 = _lerp(e10_2, e11_2, fg)
        v0 = _lerp(f0_0, f1_0, fb)
        v1 = _lerp(f0_1, f1_1, fb)
        v2 = _lerp(f0_2, f1_2, fb)
        dst[3 * x] = v0
        dst[3 * x + 1] = v1
        dst[3 * x + 2] = v2


@numba.njit(cache=True, nogil=True)
def _to_float(src, dst, scale):  # pragma: no cover - jit
    """Integer samples -> float32 times ``scale`` (a contiguous, vectorised loop)."""
    for i in range(src.shape[0]):
        dst[i] = np.float32(src[i]) * scale


@numba.njit(cache=True, nogil=True)
def _store(src, dst, peak, quantize):  # pragma: no cover - jit
    """float32 -> output samples; ``quantize``: clip to [0, 1], times ``peak``, round."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    half = np.float32(0.5)
    if quantize:
        for i in range(src.shape[0]):
            dst[i] = np.floor(min(max(src[i], zero), one) * peak + half)
    else:
        for i in range(src.shape[0]):
            dst[i] = src[i]


@numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)
def _apply_rows(src, dst, table, dim, in_scale, out_peak, quantize):  # pragma: no cover - jit
    """``(H, 3 W)`` rows in parallel; samples of any type, converted per row."""
    height, width = src.shape[0], src.shape[1] // 3
    for y in numba.prange(height):
        base = np.empty(width, np.int32)
        frac_r = np.empty(width, np.float32)
        frac_g = np.empty(width, np.float32)
        frac_b = np.empty(width, np.float32)
        row_in = np.empty(3 * width, np.float32)
        row_out = np.empty(3 * width, np.float32)
        _to_float(src[y], row_in, in_scale)
        _apply_row(row_in, row_out, table, dim, base, frac_r, frac_g, frac_b)
        _store(row_out, dst[y], out_peak, quantize)


@numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)
def _apply_rows_float(src, dst, table, dim):  # pragma: no cover - jit
    """float32 ``(H, 3 W)`` -> float32 rows in parallel, no conversion.

    Kept apart from :func:`_apply_rows` so that float input skips the per-row copies in
    and out of scratch buffers.
    """
    height, width = src.shape[0], src.shape[1] // 3
    for y in numba.prange(height):
        base = np.empty(width, np.int32)
        frac_r = np.empty(width, np.float32)
        frac_g = np.empty(width, np.float32)
        frac_b = np.empty(width, np.float32)
        _apply_row(src[y], dst[y], table, dim, base, frac_r, frac_g, frac_b)


def lut_table(lut: np.ndarray | torch.Tensor) -> np.ndarray:
    """Official ``(3, D, D, D)`` LUT -> float32 ``(D, D, D, 4)`` table ``[b, g, r, c]``.

    The interleaved layout keeps the output channels of a lattice point together (padded
    to 4 so that one corner is one 16-byte load), which is what the CPU kernel reads.
    """
    if isinstance(lut, torch.Tensor):
        lut = lut.detach().to("cpu", torch.float32).numpy()
    lut = np.asarray(lut, dtype=np.float32)
    if lut.ndim == 5 and lut.shape[0] == 1:
        lut = lut[0]
    if lut.ndim != 4 or lut.shape[0] != 3 or not lut.shape[1] == lut.shape[2] == lut.shape[3]:
        raise ValueError(f"lut must be (3, D, D, D), got {tuple(lut.shape)}")
    if lut.shape[1] < 2:
        raise ValueError(f"LUT dim must be >= 2, got {lut.shape[1]}")
    table = np.zeros(lut.shape[1:] + (4,), dtype=np.float32)
    table[..., :3] = lut.transpose(1, 2, 3, 0)
    return table


def apply_lut(image: np.ndarray, lut: np.ndarray | torch.Tensor,
              out: np.ndarray | None = None) -> np.ndarray:
    """Apply a 3D LUT to an RGB image by trilinear interpolation (CPU, all cores).

    Args:
        image: ``(H, W, 3)`` RGB, float32 in [0, 1] (clamped), uint8 or uint16.
        lut: ``(3, D, D, D)`` (or ``(1, 3, D, D, D)``) NumPy array or tensor, official
            layout ``lut[c, b, g, r]``.
        out: optional ``(H, W, 3)`` float32/uint8/uint16 array to write into; it may be
            ``image`` itself (in place). Default: a new array of ``image``'s dtype.

    Returns:
        ``out``: float32 results are not clipped (like :func:`ppr10k.lut.trilinear`);
        integer results are clipped to [0, 1] and rounded to the nearest level.

    Notes:
        Results equal ``trilinear(lut, image)`` within float32 rounding (< 1e-5 for LUT
        values in [0, 1]). Threads: ``numba.set_num_threads``; the GIL is released.

    Example:
        >>> from ppr10k.lut import identity_lut
        >>> x = np.array([[[0, 128, 255]]], dtype=np.uint8)
        >>> apply_lut(x, identity_lut(17)).tolist()
        [[[0, 128, 255]]]
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    if image.dtype not in SAMPLE_PEAKS:
        raise TypeError(f"image must be float32, uint8 or uint16, got {image.dtype}")
    table = lut_table(lut)
    if out is None:
        out = np.empty(image.shape, dtype=image.dtype)
    elif out.shape != image.shape or out.dtype not in SAMPLE_PEAKS:
        raise ValueError(f"out must be {image.shape} float32/uint8/uint16, "
                         f"got {out.shape} {out.dtype}")
    elif not out.flags.writeable:
        raise ValueError("out is read-only")
    elif out is not image and np.shares_memory(out, image):
        raise ValueError("out overlaps image without being image itself")
    src = image if image.flags.c_contiguous else np.ascontiguousarray(image)
    dst = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
    in_scale = np.float32(1.0 / SAMPLE_PEAKS[image.dtype])
    out_peak = np.float32(SAMPLE_PEAKS[out.dtype])
    src2, dst2, flat = src.reshape(len(src), -1), dst.reshape(len(dst), -1), table.reshape(-1)
    if src.dtype == np.float32 and dst.dtype == np.float32:
        _apply_rows_float(src2, dst2, flat, table.shape[0])
    else:
        _apply_rows(src2, dst2, flat, table.shape[0], in_scale, out_peak,
                    dst.dtype != np.float32)
    if dst is not out:
        out[...] = dst
    return out
