"""Training losses of spec §4 (the LUT regularisers belong to each model family:
:meth:`ppr10k.models.AdaptiveLUT.regularisation`)."""

from __future__ import annotations

import torch


def human_region_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None,
                     human_weight: float = 5.0) -> torch.Tensor:
    """MSE of ``w * prediction`` and ``w * target``, ``w = human_weight`` on the mask, else 1.

    With ``mask=None`` (or ``human_weight=1``) this is the plain MSE. Human pixels thus
    count ``human_weight**2`` times in the squared error (PPR10K's HRP loss).

    Args:
        prediction, target: ``(B, 3, H, W)`` in [0, 1].
        mask: ``(B, 1, H, W)``, non-zero on the human region.
    """
    if mask is None or human_weight == 1.0:
        return torch.mean((prediction - target) ** 2)
    weight = 1.0 + (human_weight - 1.0) * (mask != 0).to(prediction.dtype)
    return torch.mean((weight * prediction - weight * target) ** 2)


def overlap_consistency(first: torch.Tensor, second: torch.Tensor, overlap_first: torch.Tensor,
                        overlap_second: torch.Tensor) -> torch.Tensor:
    """Group-level consistency: MSE between two predictions over their common region.

    Args:
        first, second: ``(B, 3, h, w)`` predictions for two crops of two versions of a photo.
        overlap_first, overlap_second: ``(B, 4)`` integer boxes ``(top, left, height, width)``
            of the common region in each crop's coordinates (same height and width).

    Returns:
        Mean squared difference over all overlapping pixels and channels of the batch.
    """
    total = first.new_zeros(())
    count = 0
    for i in range(first.shape[0]):
        t1, l1, h, w = (int(v) for v in overlap_first[i])
        t2, l2, h2, w2 = (int(v) for v in overlap_second[i])
        if (h, w) != (h2, w2) or h <= 0 or w <= 0:
            raise ValueError(f"invalid overlap boxes {overlap_first[i]} / {overlap_second[i]}")
        diff = first[i, :, t1:t1 + h, l1:l1 + w] - second[i, :, t2:t2 + h, l2:l2 + w]
        total = total + diff.square().sum()
        count += diff.numel()
    return total / count
