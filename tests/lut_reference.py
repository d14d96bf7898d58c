"""An independent float64 NumPy trilinear interpolation used as the tests' reference.

Written from the definition (weighted sum of the 8 surrounding lattice values with weights
(1-f) or f per axis), not from ppr10k's code: it locates the cell with ``np.searchsorted``
on the lattice coordinates instead of ``floor``. The curves reference counts the knots
below each value explicitly; the curve generators mimic AdaInt's and SepLUT's curves.
"""

from __future__ import annotations

import numpy as np


def reference_trilinear(lut: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``lut`` (3, D, D, D) as lut[c, b, g, r]; ``image`` (3, H, W) -> (3, H, W), float64."""
    lut = np.asarray(lut, dtype=np.float64)
    dim = lut.shape[-1]
    grid = np.linspace(0.0, 1.0, dim)
    x = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0).reshape(3, -1)
    cells, fracs = [], []
    for channel in range(3):
        v = x[channel]
        cell = np.clip(np.searchsorted(grid, v, side="right") - 1, 0, dim - 2)
        cells.append(cell)
        fracs.append((v - grid[cell]) / (grid[cell + 1] - grid[cell]))
    (ir, ig, ib), (fr, fg, fb) = cells, fracs
    out = np.zeros((3, x.shape[1]))
    for db in (0, 1):
        for dg in (0, 1):
            for dr in (0, 1):
                weight = ((fb if db else 1 - fb) * (fg if dg else 1 - fg) * (fr if dr else 1 - fr))
                out += weight * lut[:, ib + db, ig + dg, ir + dr]
    return out.reshape(image.shape)


def reference_curves(knots: np.ndarray, values: np.ndarray, image: np.ndarray,
                     eps: float = 1e-10) -> np.ndarray:
    """Per-channel piecewise-linear curves in float64, from the definition.

    ``knots``/``values`` (3, K); ``image`` (3, ...) clamped to [0, 1]. The segment of ``x``
    is ``k = (number of knots strictly below x) - 1`` clamped to [0, K - 2], counted
    explicitly; ``y = v_k + (x - x_k) / (x_{k+1} - x_k + eps) * (v_{k+1} - v_k)``.
    """
    knots = np.asarray(knots, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n_knots = knots.shape[1]
    x = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0).reshape(3, -1)
    out = np.empty_like(x)
    for channel in range(3):
        kc, vc, xc = knots[channel], values[channel], x[channel]
        below = (kc[None, :] < xc[:, None]).sum(axis=1)
        k = np.clip(below - 1, 0, n_knots - 2)
        out[channel] = vc[k] + (xc - kc[k]) / (kc[k + 1] - kc[k] + eps) * (vc[k + 1] - vc[k])
    return out.reshape(np.shape(image))


def adaint_like_curves(n_knots: int, seed: int = 0, zero_width: bool = True
                       ) -> tuple[np.ndarray, np.ndarray]:
    """AdaInt-style float32 ``(3, K)`` curves: knots the cumulative sum of a softmax after a
    leading 0 (non-uniform, last within rounding of 1), values the uniform ``k / (K - 1)``.

    With ``zero_width``: channel 0 has an empty segment inside, channel 1 an empty first one.
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.0, (3, n_knots - 1))
    widths = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if zero_width:
        widths[0, n_knots // 2] = 0.0
        widths[1, 0] = 0.0
    knots = np.concatenate([np.zeros((3, 1)), np.cumsum(widths, axis=1)], axis=1)
    values = np.tile(np.arange(n_knots) / (n_knots - 1), (3, 1))
    return knots.astype(np.float32), values.astype(np.float32)


def seplut_like_curves(n_knots: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """SepLUT-style float32 ``(3, K)`` curves: uniform knots ``k / (K - 1)``, values a random
    increasing 1D LUT from 0 to about 1."""
    rng = np.random.default_rng(seed)
    steps = rng.uniform(0.2, 1.8, (3, n_knots - 1))
    values = np.concatenate([np.zeros((3, 1)), np.cumsum(steps, axis=1)], axis=1)
    values /= values[:, -1:] * rng.uniform(0.95, 1.1, (3, 1))
    knots = np.tile(np.arange(n_knots) / (n_knots - 1), (3, 1))
    return knots.astype(np.float32), values.astype(np.float32)


def around(points: np.ndarray) -> np.ndarray:
    """float32 ``points`` and their float32 neighbours one ulp either side."""
    points = np.asarray(points, dtype=np.float32).ravel()
    return np.concatenate([points, np.nextafter(points, np.float32(2)),
                           np.nextafter(points, np.float32(-1))])
