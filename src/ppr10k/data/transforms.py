"""Training geometry (spec §4): random resized crops, flips and GLC crop pairs.

Tensors are ``(C, H, W)``; the same geometry is applied to source, target and mask (images
resized bilinearly with antialiasing, masks by nearest neighbour). Randomness comes from
``torch``'s global generator, which DataLoader seeds per worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


def _randint(high_inclusive: int) -> int:
    return int(torch.randint(0, high_inclusive + 1, ()))


def common_size(a: tuple[int, int], b: tuple[int, int],
                tolerance: float = 1.0) -> tuple[int, int] | None:
    """The size two images of one photo share: the smaller of ``a`` and ``b`` (height, width)
    when one is a scaled copy of the other, else None (different aspect ratios: a crop or a
    rotation, which no resize can align).

    Each side of the smaller size may be ``tolerance`` pixels off the exact scale (exports
    round their sizes: 6000x4000 at a long edge of 2048 is 2048x1365).

    Example:
        >>> common_size((4000, 6000), (1365, 2048)), common_size((4000, 6000), (4000, 4000))
        ((1365, 2048), None)
    """
    (h1, w1), (h2, w2) = sorted([tuple(a), tuple(b)], key=lambda s: s[0] * s[1])
    if min(h1, w1, h2, w2) <= 0:
        return None
    if abs(h1 - h2 * w1 / w2) > tolerance or abs(w1 - w2 * h1 / h2) > tolerance:
        return None
    return h1, w1


def resize(tensor: torch.Tensor, size: tuple[int, int], is_mask: bool = False) -> torch.Tensor:
    """Resize ``(C, H, W)`` to ``size`` = (height, width)."""
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor
    if is_mask:
        return F.interpolate(tensor[None], size=size, mode="nearest")[0]
    return F.interpolate(tensor[None], size=size, mode="bilinear", align_corners=False,
                         antialias=True)[0]


@dataclass(frozen=True)
class CropBox:
    """A crop ``tensor[..., top:top+height, left:left+width]``."""

    top: int
    left: int
    height: int
    width: int

    def cut(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor[..., self.top:self.top + self.height, self.left:self.left + self.width]


def random_crop_box(height: int, width: int, ratio: tuple[float, float] = (0.6, 1.0)) -> CropBox:
    """A crop whose side lengths are ``ratio``-uniform fractions of each side, random position."""
    crop_h = max(1, round(height * _uniform(*ratio)))
    crop_w = max(1, round(width * _uniform(*ratio)))
    return CropBox(_randint(height - crop_h), _randint(width - crop_w), crop_h, crop_w)


def random_resized_crop(tensors: list[torch.Tensor | None], mask_flags: list[bool],
                        size: int = 448, ratio: tuple[float, float] = (0.6, 1.0),
                        flip_p: float = 0.5) -> list[torch.Tensor | None]:
    """Spec §4 crop: ratio in [0.6, 1] per side, random position, resize to ``size``², flip.

    The same crop and flip are applied to every tensor (``None`` passes through).
    """
    ref = next(t for t in tensors if t is not None)
    box = random_crop_box(ref.shape[-2], ref.shape[-1], ratio)
    flip = float(torch.rand(())) < flip_p
    out: list[torch.Tensor | None] = []
    for tensor, is_mask in zip(tensors, mask_flags):
        if tensor is None:
            out.append(None)
            continue
        result = resize(box.cut(tensor), (size, size), is_mask)
        out.append(result.flip(-1) if flip else result)
    return out


def overlapping_crop_pair(size: int, crop: int) -> tuple[CropBox, CropBox]:
    """Two ``crop``² boxes in a ``size``² image at independent random positions that overlap.

    The second position is drawn uniformly among those that overlap the first (with
    ``crop > size / 2`` that is every position), so the overlap is never empty.
    """
    if not 0 < crop <= size:
        raise ValueError(f"crop {crop} must be in (0, {size}]")
    first = CropBox(_randint(size - crop), _randint(size - crop), crop, crop)

    def second_start(start: int) -> int:
        low = max(0, start - crop + 1)
        high = min(size - crop, start + crop - 1)
        return low + _randint(high - low)

    return first, CropBox(second_start(first.top), second_start(first.left), crop, crop)


def overlap_in_crops(a: CropBox, b: CropBox) -> tuple[CropBox, CropBox]:
    """The common region of two boxes, in each box's own coordinates."""
    top, left = max(a.top, b.top), max(a.left, b.left)
    bottom = min(a.top + a.height, b.top + b.height)
    right = min(a.left + a.width, b.left + b.width)
    if bottom <= top or right <= left:
        raise ValueError(f"crops {a} and {b} do not overlap")
    h, w = bottom - top, right - left
    return (CropBox(top - a.top, left - a.left, h, w), CropBox(top - b.top, left - b.left, h, w))
