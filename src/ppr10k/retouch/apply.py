"""Applying an apply plan (curves + 3D LUT) to full-resolution samples: the apply backends.

Two backends, registered by name in :data:`APPLY_BACKENDS`:

* ``numba``: :func:`ppr10k.lut.apply_lut` on host arrays, every core, no float copy of
  the image (in place when the output type equals the input's).
* ``torch``: the photo's own uint8/uint16 (or float32) samples are uploaded once to the
  plan's device, converted to float, run through :func:`ppr10k.lut.apply_curves_and_lut`
  (which picks the fused Triton kernel on CUDA by itself), clamped, rounded to the output
  type on the device, and the output samples are downloaded once: no float copy on the
  host, no per-tile host round trip. Rows are processed in tiles on the device to bound
  its memory. On the CPU this is the same code the GPU runs, which is how it is tested.

Both round ``floor(clip(y, 0, 1) * peak + 0.5)`` in float32 and read integer samples as
``float32(s) * float32(1 / peak)``; they differ by float32 rounding of the
interpolation only (at most one output level).

:func:`ieee_float32` runs a block with TF32 off for cuDNN convolutions and CUDA matmuls
and restores the previous settings: the predictor runs under it so that CUDA and CPU
predict the same parameters (TF32 moved outputs by up to 8 levels).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from ppr10k.io.image import sample_peak
from ppr10k.lut import apply_curves_and_lut
from ppr10k.lut.apply import apply_lut
from ppr10k.models.lut3d import ApplyPlan

__all__ = ["APPLY_BACKENDS", "apply_numba", "apply_torch", "choose_backend", "ieee_float32",
           "output_dtype"]

#: Pixels per device tile of the torch backend (4K is 8.3 M): bounds its float scratch.
TILE_PIXELS = 1 << 24

_TORCH_TYPES = {np.dtype(np.uint8): torch.uint8, np.dtype(np.uint16): torch.uint16,
                np.dtype(np.float32): torch.float32}


def output_dtype(bits: int) -> np.dtype:
    """8 -> uint8, 16 -> uint16."""
    return np.dtype(np.uint8 if bits == 8 else np.uint16)


def apply_numba(pixels: np.ndarray, plan: ApplyPlan, dtype: np.dtype) -> np.ndarray:
    """The numba CPU kernel: ``(H, W, 3)`` uint8/uint16/float32 host samples -> ``dtype``.

    In place in ``pixels`` when it has the output type and is writable (no copy at all).
    """
    if isinstance(pixels, torch.Tensor):
        pixels = pixels.cpu().numpy()
    out = (pixels if pixels.dtype == dtype and pixels.flags.writeable
           else np.empty(pixels.shape, dtype))
    if plan.curves is None:
        return apply_lut(pixels, plan.lut, out=out)
    return apply_lut(pixels, plan.lut, out=out, curves=plan.curves)


def apply_torch(pixels: np.ndarray | torch.Tensor, plan: ApplyPlan, dtype: np.dtype,
                device: torch.device | None = None,
                tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """The torch path: upload samples, convert, apply, round and download on ``device``.

    Args:
        pixels: ``(H, W, 3)`` uint8, uint16 or float32 samples, a host array or a tensor
            (already on the device, e.g. a JPEG decoded there).
        plan: one image's plan (``lut`` ``(3, D, D, D)``, curves ``(3, K)`` or None).
        dtype: uint8 or uint16, the output samples.
        device: where to compute; default: the plan's device.
        tile_pixels: rows per device tile are chosen to hold at most this many pixels.

    Returns:
        ``(H, W, 3)`` host array of ``dtype``.
    """
    device = torch.device(device) if device is not None else plan.lut.device
    if isinstance(pixels, np.ndarray):
        source = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
    else:
        source = pixels.to(device)
    peak_in = sample_peak(source.dtype)
    peak_out = np.float32(sample_peak(dtype))
    in_scale = float(np.float32(1.0 / peak_in))
    lut = plan.lut.to(device, torch.float32)
    curves = (None if plan.curves is None
              else tuple(c.to(device, torch.float32)[None] for c in plan.curves))
    height, width = source.shape[:2]
    out = torch.empty((height, width, 3), dtype=_TORCH_TYPES[np.dtype(dtype)], device=device)
    rows = max(1, tile_pixels // max(width, 1))
    for top in range(0, height, rows):
        tile = source[top:top + rows].permute(2, 0, 1)[None].to(
            torch.float32, memory_format=torch.contiguous_format)
        if in_scale != 1.0:
            tile = tile.mul_(in_scale)
        y = apply_curves_and_lut(lut, tile, curves)[0]
        y = y.clamp_(0.0, 1.0).mul_(float(peak_out)).add_(0.5).floor_()
        out[top:top + rows] = y.permute(1, 2, 0).to(torch.int32).to(out.dtype)
    return out.cpu().numpy()


#: Apply backends by name: ``fn(pixels, plan, dtype) -> (H, W, 3) dtype`` host samples.
APPLY_BACKENDS: dict[str, Callable[[np.ndarray | torch.Tensor, ApplyPlan, np.dtype],
                                   np.ndarray]] = {"numba": apply_numba,
                                                   "torch": apply_torch}


def choose_backend(name: str, device: torch.device) -> str:
    """``auto`` -> ``torch`` on CUDA, ``numba`` elsewhere; other names as given."""
    if name != "auto":
        if name not in APPLY_BACKENDS:
            raise ValueError(f"apply backend must be one of {sorted(APPLY_BACKENDS)} or "
                             f"auto, got {name!r}")
        return name
    return "torch" if device.type == "cuda" else "numba"


@contextmanager
def ieee_float32() -> Iterator[None]:
    """Run the block with TF32 off (cuDNN convolutions and CUDA matmuls in full float32),
    restoring the previous settings afterwards, whichever of torch's two APIs set them.

    On the CPU the flags change nothing; the block is plain.
    """
    backends = torch.backends
    try:  # the legacy flags; torch raises when a program mixed them with fp32_precision
        saved = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
    except RuntimeError:
        saved = None
    if saved is not None:
        backends.cuda.matmul.allow_tf32 = False
        backends.cudnn.allow_tf32 = False
        try:
            yield
        finally:
            backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32 = saved
        return
    precision = (backends.cuda.matmul.fp32_precision, backends.cudnn.conv.fp32_precision)
    backends.cuda.matmul.fp32_precision = "ieee"
    backends.cudnn.conv.fp32_precision = "ieee"
    try:
        yield
    finally:
        backends.cuda.matmul.fp32_precision, backends.cudnn.conv.fp32_precision = precision
