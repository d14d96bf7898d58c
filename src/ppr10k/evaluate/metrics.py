"""Image quality measures of the PPR10K paper (spec §5)."""

from __future__ import annotations

import numpy as np


def psnr(prediction: np.ndarray, target: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB: ``10 log10(peak^2 / MSE)`` over all pixels and channels.

    Args:
        prediction, target: arrays of the same shape (8-bit values for the paper's PSNR).
        peak: the largest sample value (255 for 8-bit).

    Returns:
        PSNR in dB; ``inf`` for identical images.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"shapes differ: {prediction.shape} vs {target.shape}")
    mse = np.mean((prediction.astype(np.float64) - target.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))
