"""PyTorch datasets over samples of the official layout (spec §1, §4) or of a pairs folder.

Items are dicts of float32 tensors in [0, 1]: images ``(3, H, W)``, masks ``(1, H, W)``
(1 on the human region).

Files are read with :func:`ppr10k.io.read_photo_image`: TIFF, PNG, JPEG and camera raws,
upright (EXIF orientation applied). Raws are developed at full resolution on every read
(seconds per photo): fine for a few hundred pairs, otherwise convert them to 16-bit TIFF
first. When a source and its target differ in size but not in aspect ratio (an edit
exported at another size), the larger of the two is resized (bilinear, antialiased) to the
smaller's size, so neither is upsampled; different aspect ratios (a cropped or rotated
edit) raise a ValueError naming both files. Masks are resized to the result.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from torch.utils.data import Dataset

from ppr10k.data.layout import Sample
from ppr10k.data.transforms import (
    common_size,
    overlap_in_crops,
    overlapping_crop_pair,
    random_resized_crop,
    resize,
)
from ppr10k.io import read_mask, read_photo_image
from ppr10k.io.names import PhotoKey


def _image(path) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(read_photo_image(path).transpose(2, 0, 1)))


def pair_size(sample: Sample, source: tuple[int, int],
              target: tuple[int, int]) -> tuple[int, int]:
    """The size (height, width) a source of size ``source`` and its edit of size ``target``
    are trained at: the smaller one's when they differ only by a scale.

    Raises:
        ValueError: they differ in aspect ratio, naming both files.
    """
    if tuple(source) == tuple(target):
        return tuple(source)
    size = common_size(tuple(source), tuple(target))
    if size is None:
        (hs, ws), (ht, wt) = source, target
        raise ValueError(f"{sample.source} ({hs}x{ws}) and its edit {sample.target} "
                         f"({ht}x{wt}) differ in aspect ratio (a cropped or rotated edit?): "
                         "export the edit uncropped, or leave the pair out")
    return size


def _same_size(sample: Sample, source: torch.Tensor,
               target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Source and target at one size: the smaller one's when they differ only by a scale."""
    if source.shape == target.shape:
        return source, target
    size = pair_size(sample, tuple(source.shape[1:]), tuple(target.shape[1:]))
    return resize(source, size), resize(target, size)


def _mask(path, shape: tuple[int, int]) -> torch.Tensor:
    if path is None:
        return torch.zeros(1, *shape)
    mask = torch.from_numpy(read_mask(path).astype(np.float32))[None]
    return resize(mask, shape, is_mask=True)


def versions_of(samples: list[Sample]) -> dict[PhotoKey, list[int]]:
    """Indices of the samples of each photo (its augmented versions ``G_I_K``)."""
    versions: dict[PhotoKey, list[int]] = defaultdict(list)
    for i, sample in enumerate(samples):
        versions[sample.key.photo].append(i)
    return versions


def draw_other_version(versions: list[int], i: int) -> int:
    """GLC: another version of sample ``i``'s photo, uniformly (``i`` itself when it has
    none); one draw from torch's global generator."""
    others = [j for j in versions if j != i] or [i]
    return others[int(torch.randint(len(others), ()))]


class TrainingPairs(Dataset):
    """Training samples with spec §4 geometry; with ``glc`` each item is a GLC pair.

    Args:
        samples: from :func:`ppr10k.data.layout.index_split` (split ``train``) or
            :func:`ppr10k.data.pairs.index_training_data`.
        crop_size: side of the square training crops (448).
        glc: also draw a second augmented version of the same photo; both are resized to
            ``crop_size``² and cut at ``glc_crop``² at independent positions whose overlap is
            never empty, each with its own target and mask crop.
        glc_crop: side of the GLC crops (336).
    """

    def __init__(self, samples: list[Sample], crop_size: int = 448, glc: bool = False,
                 glc_crop: int = 336) -> None:
        if not samples:
            raise ValueError("no training samples")
        self.samples = samples
        self.crop_size = crop_size
        self.glc = glc
        self.glc_crop = glc_crop
        self._versions = versions_of(samples)

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, sample: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        source, target = _same_size(sample, _image(sample.source), _image(sample.target))
        return source, target, _mask(sample.mask, tuple(source.shape[1:]))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample = self.samples[i]
        source, target, mask = self._load(sample)
        if not self.glc:
            source, target, mask = random_resized_crop([source, target, mask],
                                                       [False, False, True], self.crop_size)
            return {"source": source, "target": target, "mask": mask}

        other = self.samples[draw_other_version(self._versions[sample.key.photo], i)]
        source2 = source if other is sample else _image(other.source)  # pairs: itself
        size = (self.crop_size, self.crop_size)
        flip = bool(torch.rand(()) < 0.5)
        full = [resize(source, size), resize(target, size), resize(mask, size, True),
                resize(source2, size)]
        if flip:
            full = [t.flip(-1) for t in full]
        source, target, mask, source2 = full
        box1, box2 = overlapping_crop_pair(self.crop_size, self.glc_crop)
        ov1, ov2 = overlap_in_crops(box1, box2)
        return {
            "source": box1.cut(source), "target": box1.cut(target), "mask": box1.cut(mask),
            "source2": box2.cut(source2), "target2": box2.cut(target), "mask2": box2.cut(mask),
            "overlap1": torch.tensor([ov1.top, ov1.left, ov1.height, ov1.width]),
            "overlap2": torch.tensor([ov2.top, ov2.left, ov2.height, ov2.width]),
        }


class EvaluationImages(Dataset):
    """Full-size sources with their targets (validation / prediction); batch size 1."""

    def __init__(self, samples: list[Sample], with_target: bool = True) -> None:
        self.samples = samples
        self.with_target = with_target

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        sample = self.samples[i]
        source = _image(sample.source)
        item = {"source": source, "stem": sample.key.stem}
        if self.with_target:
            item["source"], item["target"] = _same_size(sample, source, _image(sample.target))
        return item
