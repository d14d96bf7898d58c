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

__all__ = ["apply_lut", "lut_table"]

_PEAKS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}


@numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)
def _apply_rows(src, dst, table, dim, in_scale, out_peak, to_int):  # pragma: no cover - jit
    """Trilinear lookup of every pixel; ``table`` is ``(D, D, D, 3)`` as ``[b, g, r, c]``."""
    height, width = src.shape[0], src.shape[1]
    last = np.float32(dim - 1)
    top = dim - 2
    s_r = 3
    s_g = 3 * dim
    s_b = 3 * dim * dim
    flat = table.reshape(-1)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for y in numba.prange(height):
        for x in range(width):
            r = np.float32(src[y, x, 0]) * in_scale
            g = np.float32(src[y, x, 1]) * in_scale
            b = np.float32(src[y, x, 2]) * in_scale
            r = min(max(r, zero), one) * last
            g = min(max(g, zero), one) * last
            b = min(max(b, zero), one) * last
            ir = min(int(r), top)
            ig = min(int(g), top)
            ib = min(int(b), top)
            fr = r - np.float32(ir)
            fg = g - np.float32(ig)
            fb = b - np.float32(ib)
            base = ib * s_b + ig * s_g + ir * s_r
            for c in range(3):
                p = base + c
                c000 = flat[p]
                c001 = flat[p + s_r]
                c010 = flat[p + s_g]
                c011 = flat[p + s_g + s_r]
                c100 = flat[p + s_b]
                c101 = flat[p + s_b + s_r]
                c110 = flat[p + s_b + s_g]
                c111 = flat[p + s_b + s_g + s_r]
                c00 = c000 + fr * (c001 - c000)
                c01 = c010 + fr * (c011 - c010)
                c10 = c100 + fr * (c101 - c100)
                c11 = c110 + fr * (c111 - c110)
                c0 = c00 + fg * (c01 - c00)
                c1 = c10 + fg * (c11 - c10)
                v = c0 + fb * (c1 - c0)
                if to_int:
                    v = min(max(v, zero), one) * out_peak + np.float32(0.5)
                    dst[y, x, c] = int(v)
                else:
                    dst[y, x, c] = v


def lut_table(lut: np.ndarray | torch.Tensor) -> np.ndarray:
    """Official ``(3, D, D, D)`` LUT -> contiguous float32 ``(D, D, D, 3)`` table ``[b, g, r, c]``.

    The interleaved layout keeps the three output channels of a lattice point together,
    which is what the CPU kernel reads.
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
    return np.ascontiguousarray(lut.transpose(1, 2, 3, 0))


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
    if image.dtype not in _PEAKS:
        raise TypeError(f"image must be float32, uint8 or uint16, got {image.dtype}")
    table = lut_table(lut)
    if out is None:
        out = np.empty(image.shape, dtype=image.dtype)
    elif out.shape != image.shape or out.dtype not in _PEAKS:
        raise ValueError(f"out must be {image.shape} float32/uint8/uint16, "
                         f"got {out.shape} {out.dtype}")
    elif out is not image and np.shares_memory(out, image):
        raise ValueError("out overlaps image without being image itself")
    src = image if image.flags.c_contiguous else np.ascontiguousarray(image)
    dst = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
    in_scale = np.float32(1.0 / _PEAKS[image.dtype])
    out_peak = np.float32(_PEAKS[out.dtype])
    _apply_rows(src, dst, table, table.shape[0], in_scale, out_peak, out.dtype != np.float32)
    if dst is not out:
        out[...] = dst
    return out
