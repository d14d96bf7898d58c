"""The weight predictor's view of a full-resolution photo.

The PPR10K models were trained on the 360p release: Lightroom exports with a long edge of
540 px, which the model itself resizes to 224x224. A full-resolution photo is therefore
first reduced to a 540 px long edge by area averaging (every source pixel contributes in
proportion to the area it covers in the output pixel, as a photo editor's downscale does),
in float, straight from the stored 8/16-bit samples, then handed to the model.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
import torch

from ppr10k.io.image import sample_peak
from ppr10k.io.metadata import orient

__all__ = ["PREDICTOR_LONG_EDGE", "area_resize", "area_resize_torch", "orient_tensor",
           "predictor_input", "predictor_input_torch", "thumbnail_size"]

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


def _check_reduction(shape: tuple[int, ...], dtype, size: tuple[int, int]) -> float:
    """The samples' full-scale value, after checking an ``(H, W, 3)`` image of a photo
    sample type that ``size`` reduces (both resizers' arguments)."""
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {shape}")
    peak = sample_peak(dtype)
    if peak is None:
        raise TypeError(f"image must be uint8, uint16 or float32, got {dtype}")
    (height, width), (out_h, out_w) = shape[:2], size
    if not (1 <= out_h <= height and 1 <= out_w <= width):
        raise ValueError(f"area_resize only reduces: {height}x{width} -> {out_h}x{out_w}")
    return peak


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
    height, width = image.shape[:2]
    out_h, out_w = size
    peak = _check_reduction(tuple(image.shape), image.dtype, size)
    row_cell, row_w0, row_w1 = _coverage(height, out_h)
    col_cell, col_w0, col_w1 = _coverage(width, out_w)
    out = np.empty((out_h, out_w, 3), np.float32)
    src = np.ascontiguousarray(image)
    _area_rows(src, out, row_cell, row_w0, row_w1, col_cell, col_w0, col_w1, 1.0 / peak)
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


def area_resize_torch(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """:func:`area_resize` for a tensor, on its own device (a photo decoded on the GPU).

    The same box filter written as two products with the coverage matrices of
    :func:`_coverage`, accumulated in float64 as the numba kernel does.

    Args:
        image: ``(H, W, 3)`` uint8, uint16 or float32 tensor.
        size: ``(height, width)`` of the result, each no larger than the input's.

    Returns:
        ``(height, width, 3)`` float32 in [0, 1], on ``image``'s device.

    Example:
        >>> x = torch.arange(12, dtype=torch.float32).reshape(2, 2, 3)
        >>> area_resize_torch(x / 11, (1, 1)).double().round(decimals=4).tolist()
        [[[0.4091, 0.5, 0.5909]]]
    """
    height, width = image.shape[:2]
    out_h, out_w = size
    peak = _check_reduction(tuple(image.shape), image.dtype, size)
    rows = _coverage_matrix(height, out_h, image.device)  # (out_h, H)
    cols = _coverage_matrix(width, out_w, image.device)  # (out_w, W)
    x = image.to(torch.float64)
    x = (rows @ x.reshape(height, width * 3)).reshape(out_h, width, 3)
    x = torch.einsum("jx,hxc->hjc", cols, x)
    return (x * (1.0 / peak)).to(torch.float32)


def _coverage_matrix(n_in: int, n_out: int, device: torch.device) -> torch.Tensor:
    """``(n_out, n_in)`` float64 on ``device``: each output cell's share of each input pixel
    (read only)."""
    return _coverage_table(n_in, n_out).to(device)


@functools.lru_cache(maxsize=16)
def _coverage_table(n_in: int, n_out: int) -> torch.Tensor:
    cell, first, second = _coverage(n_in, n_out)
    matrix = np.zeros((n_out, n_in), np.float64)
    index = np.arange(n_in)
    matrix[cell, index] = first
    spill = cell + 1 < n_out
    matrix[cell[spill] + 1, index[spill]] += second[spill]
    return torch.from_numpy(matrix)


def orient_tensor(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """:func:`ppr10k.io.metadata.orient` for an ``(H, W, C)`` tensor (a view or a flip)."""
    if orientation == 2:
        return image.flip(1)
    if orientation == 3:
        return image.flip(0, 1)
    if orientation == 4:
        return image.flip(0)
    if orientation == 5:
        return image.permute(1, 0, 2)
    if orientation == 6:
        return torch.rot90(image, -1, dims=(0, 1))
    if orientation == 7:
        return image.permute(1, 0, 2).flip(0, 1)
    if orientation == 8:
        return torch.rot90(image, 1, dims=(0, 1))
    return image


def predictor_input_torch(pixels: torch.Tensor, orientation: int = 1,
                          long_edge: int = PREDICTOR_LONG_EDGE) -> torch.Tensor:
    """:func:`predictor_input` for samples held in a tensor: ``(1, 3, h, w)`` float32 on
    ``pixels``' device."""
    small = area_resize_torch(pixels, thumbnail_size(*pixels.shape[:2], long_edge))
    return orient_tensor(small, orientation).permute(2, 0, 1).contiguous()[None]
