"""An independent float64 NumPy trilinear interpolation used as the tests' reference.

Written from the definition (weighted sum of the 8 surrounding lattice values with weights
(1-f) or f per axis), not from ppr10k's code: it locates the cell with ``np.searchsorted``
on the lattice coordinates instead of ``floor``.
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
