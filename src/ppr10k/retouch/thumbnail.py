"""The weight predictor's view of a full-resolution photo.

The PPR10K models were trained on the 360p release: Lightroom exports with a long edge of
540 px, which the model itself resizes to 224x224. A full-resolution photo is therefore
first reduced to a 540 px long edge by area averaging (every source pixel contributes in
proportion to the area it covers in the output pixel, as a photo editor's downscale does),
in float, straight from the stored 8/16-bit samples, then handed to the model.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from ppr10k.io.image import SAMPLE_PEAKS
from ppr10k.io.metadata import orient

__all__ = ["PREDICTOR_LONG_EDGE", "area_resize", "predictor_input", "thumbnail_size"]

#: Long edge of the 360p PPR10K release the models were trained on.
PREDICTOR_LONG_EDGE = 540


def _coverage(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each input index: first output cell, its share there, share in the next cell.

    Output cell ``j`` spans ``[j s, (j + 1) s)`` in input units, ``s = n_in / n_out >= 1``,
    so an input pixel ``[i, i + 1)`` overlaps at most two cells. Shares are divided by ``s``
    so that each output is a mean.
    """
    scale = n_in / n_out
    start = np.arange(n_in, dtype=np.float64)
    cell = np.minimum(np.floor(start / scale).astype(np.int64), n_out - 1)
    boundary = (cell + 1) * scale
    first = np.clip(boundary - start, 0.0, 1.0)
    first = np.where(cell == n_out - 1, 1.0, first)
    return cell, first / scale, (1.0 - first) / scale


@numba.njit(parallel=True, cache=True, nogil=True)
def _area_rows(src, out, row_cell, row_w0, row_w1, col_cell, col_w0, col_w1,
               in_scale):  # pragma: no cover - jit
    height, width = src.shape[0], src.shape[1]
    n_out_rows, n_out_cols = out.shape[0], out.shape[1]
    for j in numba.prange(n_out_rows):
        acc = np.zeros((n_out_cols, 3), np.float64)
        # input rows touching output row j: those whose cell is j, or j - 1 with a share in j
        y = 0 if j == 0 else max(0, int(j * height / n_out_rows) - 1)
        while y < height and row_cell[y] <= j:
            if row_cell[y] == j:
                wy = row_w0[y]
            elif row_cell[y] == j - 1:
                wy = row_w1[y]
            else:
                wy = 0.0
            if wy > 0.0:
                for x in range(width):
                    c = col_cell[x]
                    w0 = wy * col_w0[x]
                    w1 = wy * col_w1[x]
                    for k in range(3):
                        v = np.float64(src[y, x, k])
                        acc[c, k] += w0 * v
                        if w1 > 0.0:
                            acc[c + 1, k] += w1 * v
            y += 1
        for i in range(n_out_cols):
            for k in range(3):
                out[j, i, k] = np.float32(acc[i, k] * in_scale)


def area_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale by area averaging (box filter over exact pixel footprints).

    Args:
        image: ``(H, W, 3)`` uint8, uint16 or float32.
        size: ``(height, width)`` of the result, each no larger than the input's.

    Returns:
        ``(height, width, 3)`` float32 in [0, 1] (samples divided by the type's maximum).

    Example:
        >>> x = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
        >>> area_resize(x / 11, (1, 1)).astype(np.float64).round(4).tolist()
        [[[0.4091, 0.5, 0.5909]]]
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    if image.dtype not in SAMPLE_PEAKS:
        raise TypeError(f"image must be uint8, uint16 or float32, got {image.dtype}")
    height, width = image.shape[:2]
    out_h, out_w = size
    if not (1 <= out_h <= height and 1 <= out_w <= width):
        raise ValueError(f"area_resize only reduces: {height}x{width} -> {out_h}x{out_w}")
    row_cell, row_w0, row_w1 = _coverage(height, out_h)
    col_cell, col_w0, col_w1 = _coverage(width, out_w)
    out = np.empty((out_h, out_w, 3), np.float32)
    src = np.ascontiguousarray(image)
    _area_rows(src, out, row_cell, row_w0, row_w1, col_cell, col_w0, col_w1,
               1.0 / SAMPLE_PEAKS[image.dtype])
    return out


def thumbnail_size(height: int, width: int,
                   long_edge: int = PREDICTOR_LONG_EDGE) -> tuple[int, int]:
    """``(h, w)`` with the long edge ``long_edge`` (aspect kept); never enlarges."""
    scale = long_edge / max(height, width)
    if scale >= 1.0:
        return height, width
    return max(1, round(height * scale)), max(1, round(width * scale))


def predictor_input(pixels: np.ndarray, orientation: int = 1,
                    long_edge: int = PREDICTOR_LONG_EDGE) -> torch.Tensor:
    """What the weight predictor sees: ``(1, 3, h, w)`` float32 in [0, 1], upright.

    Args:
        pixels: the full-resolution ``(H, W, 3)`` photo (uint8, uint16 or float32).
        orientation: EXIF orientation of the stored pixels; the thumbnail is turned upright
            as the training exports were.
        long_edge: thumbnail long edge (540 px: the 360p release).
    """
    small = area_resize(pixels, thumbnail_size(*pixels.shape[:2], long_edge))
    small = np.ascontiguousarray(orient(small, orientation))
    return torch.from_numpy(small.transpose(2, 0, 1).copy())[None]
