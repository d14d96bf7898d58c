"""One-pass scoring of an 8-bit image pair (numba): every measure of spec §5 in a single loop.

The plain NumPy functions of :mod:`ppr10k.evaluate.metrics` are the readable definitions;
this kernel computes the same numbers about 3x faster with no temporaries, for scoring
whole folders. Tests check the two against each other and against colour-science.

Speed-ups, none of which changes a result beyond float64 round-off:
- the sRGB decode is a 256-entry table (exact values of the IEC curve for each code);
- the white division is folded into the RGB -> XYZ matrix;
- the cube root of CIELAB starts from a 1024-node table and takes two Halley steps
  (relative error ~1e-16 on the range used), instead of calling libm's ``cbrt``;
- squared 8-bit differences are summed as integers, so the PSNR's MSE is exact.
"""

from __future__ import annotations

import numba
import numpy as np

from ppr10k.color.lab import (
    CIE_EPSILON,
    CIE_KAPPA,
    D65_WHITE_XYZ,
    SRGB_TO_XYZ,
    srgb_decode_table,
)

# Normalised XYZ values X/Xn etc. of 8-bit sRGB lie in [0, 1] (+ round-off); above _T_MAX
# (never reached for sRGB input) the kernel falls back to np.cbrt.
_NODES = 1024
_T_MAX = 1.0625
_EPS = CIE_EPSILON
_KAPPA = CIE_KAPPA

DECODE_TABLE = np.ascontiguousarray(srgb_decode_table(8))
MATRIX = np.ascontiguousarray(SRGB_TO_XYZ / D65_WHITE_XYZ[:, None])
CBRT_NODES = np.cbrt(np.linspace(0.0, _T_MAX, _NODES + 1))


@numba.njit(nogil=True, inline="always", error_model="numpy", cache=True)
def _lab_f(t, cbrt_nodes):
    if t <= _EPS:
        return (_KAPPA * t + 16.0) / 116.0
    u = t * (_NODES / _T_MAX)
    j = int(u)
    if j >= _NODES:
        return np.cbrt(t)
    y = cbrt_nodes[j] + (u - j) * (cbrt_nodes[j + 1] - cbrt_nodes[j])
    y3 = y * y * y
    y = y * (y3 + 2.0 * t) / (2.0 * y3 + t)
    y3 = y * y * y
    return y * (y3 + 2.0 * t) / (2.0 * y3 + t)


@numba.njit(nogil=True, error_model="numpy", cache=True)
def score_pixels(prediction, target, human, table, matrix, cbrt_nodes):
    """Sums over pixels for one pair.

    Args:
        prediction, target: uint8 ``(N, 3)`` sRGB pixels.
        human: bool ``(N,)``, True where the mask is non-zero (weight 1, else 0.5).
        table, matrix, cbrt_nodes: :data:`DECODE_TABLE`, :data:`MATRIX`, :data:`CBRT_NODES`.

    Returns:
        ``(sse_human, sse_background, n_human, sum_de, sum_de_human, sum_L, sum_a, sum_b)``:
        integer sums of squared 8-bit differences in and outside the human region, the number
        of human pixels, sums of ΔE over all / human pixels, and sums of the prediction's
        L*, a*, b*.
    """
    n = prediction.shape[0]
    sse_human = 0
    sse_background = 0
    n_human = 0
    sum_de = 0.0
    sum_de_human = 0.0
    sum_l = 0.0
    sum_a = 0.0
    sum_b = 0.0
    for i in range(n):
        p0 = prediction[i, 0]
        p1 = prediction[i, 1]
        p2 = prediction[i, 2]
        q0 = target[i, 0]
        q1 = target[i, 1]
        q2 = target[i, 2]
        d0 = np.int64(p0) - np.int64(q0)
        d1 = np.int64(p1) - np.int64(q1)
        d2 = np.int64(p2) - np.int64(q2)
        se = d0 * d0 + d1 * d1 + d2 * d2

        r = table[p0]
        g = table[p1]
        b = table[p2]
        fx = _lab_f(matrix[0, 0] * r + matrix[0, 1] * g + matrix[0, 2] * b, cbrt_nodes)
        fy = _lab_f(matrix[1, 0] * r + matrix[1, 1] * g + matrix[1, 2] * b, cbrt_nodes)
        fz = _lab_f(matrix[2, 0] * r + matrix[2, 1] * g + matrix[2, 2] * b, cbrt_nodes)
        l_p = 116.0 * fy - 16.0
        a_p = 500.0 * (fx - fy)
        b_p = 200.0 * (fy - fz)

        r = table[q0]
        g = table[q1]
        b = table[q2]
        fx = _lab_f(matrix[0, 0] * r + matrix[0, 1] * g + matrix[0, 2] * b, cbrt_nodes)
        fy = _lab_f(matrix[1, 0] * r + matrix[1, 1] * g + matrix[1, 2] * b, cbrt_nodes)
        fz = _lab_f(matrix[2, 0] * r + matrix[2, 1] * g + matrix[2, 2] * b, cbrt_nodes)
        dl = l_p - (116.0 * fy - 16.0)
        da = a_p - 500.0 * (fx - fy)
        db = b_p - 200.0 * (fy - fz)
        de = np.sqrt(dl * dl + da * da + db * db)

        sum_de += de
        sum_l += l_p
        sum_a += a_p
        sum_b += b_p
        if human[i]:
            sse_human += se
            n_human += 1
            sum_de_human += de
        else:
            sse_background += se
    return sse_human, sse_background, n_human, sum_de, sum_de_human, sum_l, sum_a, sum_b


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel, e.g. before forking workers."""
    pixels = np.zeros((1, 3), dtype=np.uint8)
    score_pixels(pixels, pixels, np.ones(1, dtype=np.bool_), DECODE_TABLE, MATRIX, CBRT_NODES)
