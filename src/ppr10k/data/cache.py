"""Training data decoded once: a uint16 image cache, integer crops, augmentation on the device.

:class:`DecodedCache` holds every training source and target as uint16 ``(3, H, W)``
samples (8-bit files times 257, so ``value / 65535`` is exactly the float the file reads
as) and every mask as uint8 ``(1, H, W)`` (1 on the human region), at the size the pair is
trained at (:func:`ppr10k.data.dataset.pair_size`). It lives in memory, or, for sets bigger
than a limit, in two memory-mapped files in a folder (the run's ``.input-cache/``), which
every process of a ``torchrun`` job shares and fills in parallel.

:class:`CachedCrops` draws exactly what :class:`~ppr10k.data.TrainingPairs` draws, in the
same order from torch's global generator (crop box, flip; with GLC the other version, the
flip and the two crop boxes), but returns the integer crops (GLC: the whole images) with
their draws instead of augmented float tensors. :func:`augment_batch` then converts, resizes
and flips a batch of them on the training device, with the same functions
(:mod:`ppr10k.data.transforms`) the CPU path uses. Same seed, same batches.

Exact except in one case: a pair whose source and edit differ in size is resized once
(bilinear, float) and stored rounded to 16 bits (at most 1/131070 off).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ppr10k.data.dataset import draw_other_version, pair_size, versions_of
from ppr10k.data.layout import Sample
from ppr10k.data.transforms import (
    overlap_in_crops,
    overlapping_crop_pair,
    random_crop_box,
    resize,
)
from ppr10k.io import orient, photo_size, read_mask, read_metadata, read_photo

#: File names of a cache folder.
IMAGES_FILE, MASKS_FILE = "images.u16", "masks.u8"
#: Folder name of the cache inside a run folder.
CACHE_FOLDER = ".input-cache"
_PEAK = 65535.0


# ---------------------------------------------------------------- decoding one file


def read_native_upright(path: Path) -> np.ndarray:
    """A photo's own samples as displayed: ``(H, W, 3)`` uint8/uint16 (float TIFFs float),
    EXIF orientation applied (raws come upright from LibRaw)."""
    photo = read_photo(path, metadata=False)
    orientation = 1 if photo.kind == "raw" else read_metadata(path, photo.kind,
                                                               carried=False).orientation
    return np.ascontiguousarray(orient(photo.pixels, orientation))


def to_uint16_chw(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W, 3)`` samples -> uint16 ``(3, h, w)`` at ``size``: uint16 as is, uint8 x 257,
    floats in [0, 1] rounded; resized (bilinear, antialiased, as the CPU path) when the file
    is not at ``size``.

    >>> to_uint16_chw(np.array([[[0, 128, 255]]], np.uint8), (1, 1)).ravel().tolist()
    [0, 32896, 65535]
    """
    if pixels.dtype == np.uint16 and pixels.shape[:2] == tuple(size):
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))
    if pixels.dtype == np.uint8 and pixels.shape[:2] == tuple(size):
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)).astype(np.uint16) * 257
    peak = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): _PEAK}.get(pixels.dtype, 1.0)
    image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))).float() / peak
    image = resize(image.clamp(0, 1), size)
    return torch.round(image.clamp(0, 1) * _PEAK).numpy().astype(np.uint16)


def mask_uint8(path: Path | None, size: tuple[int, int]) -> np.ndarray:
    """A mask file as uint8 ``(1, h, w)``, 1 on the human region, resized (nearest) to
    ``size``; zeros without a file."""
    if path is None:
        return np.zeros((1, *size), np.uint8)
    mask = torch.from_numpy(read_mask(path).astype(np.float32))[None]
    return resize(mask, size, is_mask=True).numpy().astype(np.uint8)


# ---------------------------------------------------------------- the cache


@dataclass(frozen=True)
class Slot:
    """One cached image: ``channels * height * width`` samples from ``offset``."""

    offset: int
    channels: int
    height: int
    width: int

    @property
    def size(self) -> int:
        return self.channels * self.height * self.width


@dataclass(frozen=True)
class CachePlan:
    """Where each file of the training set goes (sizes from the files' headers).

    ``images[k]`` / ``masks[k]``: (file or None, slot); ``samples[i]`` = (source image
    index, target image index, mask index) of sample ``i``.
    """

    images: list[tuple[Path, tuple[int, int], Slot]]
    masks: list[tuple[Path | None, tuple[int, int], Slot]]
    samples: list[tuple[int, int, int]]

    @property
    def image_samples(self) -> int:
        return sum(slot.size for _, _, slot in self.images)

    @property
    def mask_samples(self) -> int:
        return sum(slot.size for _, _, slot in self.masks)

    @property
    def nbytes(self) -> int:
        """Bytes the cache takes: 2 per image sample, 1 per mask sample."""
        return 2 * self.image_samples + self.mask_samples


def plan_cache(samples: list[Sample]) -> CachePlan:
    """Slots for every source, target (one per file and size) and mask of ``samples``.

    Raises:
        ValueError: a source and its edit differ in aspect ratio (naming both).
        FileNotFoundError, PhotoError: an unreadable header, naming the file.
    """
    images: list = []
    masks: list = []
    image_index: dict[tuple[Path, tuple[int, int]], int] = {}
    mask_index: dict[tuple[Path | None, tuple[int, int]], int] = {}
    offsets = [0, 0]

    def slot_of(table, index, key, channels, which) -> int:
        if key not in index:
            h, w = key[1]
            index[key] = len(table)
            table.append((key[0], key[1], Slot(offsets[which], channels, h, w)))
            offsets[which] += channels * h * w
        return index[key]

    rows = []
    for sample in samples:
        size = pair_size(sample, photo_size(sample.source), photo_size(sample.target))
        rows.append((slot_of(images, image_index, (sample.source, size), 3, 0),
                     slot_of(images, image_index, (sample.target, size), 3, 0),
                     slot_of(masks, mask_index, (sample.mask, size), 1, 1)))
    return CachePlan(images, masks, rows)


class _Decode(Dataset):
    """Decoding jobs for DataLoader workers: ``("image" | "mask", index, array)``."""

    def __init__(self, plan: CachePlan, jobs: list[tuple[str, int]]) -> None:
        self.plan, self.jobs = plan, jobs

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, j: int) -> tuple[str, int, np.ndarray]:
        kind, k = self.jobs[j]
        if kind == "image":
            path, size, _ = self.plan.images[k]
            return kind, k, to_uint16_chw(read_native_upright(path), size)
        path, size, _ = self.plan.masks[k]
        return kind, k, mask_uint8(path, size)


class DecodedCache:
    """The training set's pixels, decoded once (see the module docstring).

    Args:
        plan: from :func:`plan_cache`.
        images, masks: flat uint16 / uint8 arrays (NumPy or memory-mapped) holding them.
    """

    def __init__(self, plan: CachePlan, images: np.ndarray, masks: np.ndarray) -> None:
        self.plan, self.images, self.masks = plan, images, masks

    def __len__(self) -> int:
        return len(self.plan.samples)

    @staticmethod
    def _view(flat: np.ndarray | torch.Tensor, slot: Slot) -> np.ndarray | torch.Tensor:
        return flat[slot.offset:slot.offset + slot.size].reshape(
            slot.channels, slot.height, slot.width)

    @property
    def resident(self) -> bool:
        """Whether the samples are torch tensors on a device (:meth:`to`), not host arrays."""
        return isinstance(self.images, torch.Tensor)

    def to(self, device: torch.device) -> DecodedCache:
        """The cache copied to ``device``: images as int16 tensors holding the uint16 bits
        (CUDA has few uint16 kernels), masks as uint8; views of it are what
        :class:`CachedCrops` then returns (no copies, no host traffic per step)."""
        images = torch.from_numpy(np.asarray(self.images).view(np.int16)).to(device)
        return DecodedCache(self.plan, images, torch.from_numpy(np.asarray(self.masks)).to(device))

    def source(self, i: int) -> np.ndarray:
        """Sample ``i``'s source, uint16 ``(3, H, W)`` (a view: read-only when mapped)."""
        return self._view(self.images, self.plan.images[self.plan.samples[i][0]][2])

    def target(self, i: int) -> np.ndarray:
        """Sample ``i``'s target, uint16 ``(3, H, W)`` (8-bit files x 257)."""
        return self._view(self.images, self.plan.images[self.plan.samples[i][1]][2])

    def mask(self, i: int) -> np.ndarray:
        """Sample ``i``'s mask, uint8 ``(1, H, W)``, 1 on the human region."""
        return self._view(self.masks, self.plan.masks[self.plan.samples[i][2]][2])


def build_cache(samples: list[Sample], folder: Path | None = None, *,
                memory_limit: float = 8 * 2**30, num_workers: int = 0, rank: int = 0,
                world_size: int = 1, barrier: Callable[[], None] = lambda: None) -> DecodedCache:
    """Decode ``samples`` once into a :class:`DecodedCache`.

    Up to ``memory_limit`` bytes the cache is held in memory (each process decodes it
    all); beyond, it is written to ``folder`` (``images.u16``, ``masks.u8``), which process
    ``rank`` 0 of the ``world_size`` processes sharing it (a node's) creates and each fills
    with its share (``barrier`` waits for all), then maps read-only.

    Raises:
        ValueError: the set needs a file and ``folder`` is None; a pair of different aspect
            ratios.
        FileNotFoundError, PhotoError: a file that cannot be read, naming it.
    """
    plan = plan_cache(samples)
    jobs = [("image", k) for k in range(len(plan.images))] + \
           [("mask", k) for k in range(len(plan.masks))]
    in_memory = plan.nbytes <= memory_limit
    if in_memory:
        images = np.empty(plan.image_samples, np.uint16)
        masks = np.empty(plan.mask_samples, np.uint8)
        mine = jobs
    else:
        if folder is None:
            raise ValueError(f"the training set needs {plan.nbytes / 2**30:.1f} GiB of cache, "
                             f"more than the {memory_limit / 2**30:g} GiB memory limit, and "
                             "no folder was given for a cache file")
        folder = Path(folder)
        if rank == 0:
            folder.mkdir(parents=True, exist_ok=True)
            for name, count, dtype in ((IMAGES_FILE, plan.image_samples, np.uint16),
                                       (MASKS_FILE, plan.mask_samples, np.uint8)):
                with open(folder / name, "wb") as handle:
                    handle.truncate(max(count, 1) * np.dtype(dtype).itemsize)
        barrier()
        images = np.memmap(folder / IMAGES_FILE, np.uint16, "r+", shape=(max(plan.image_samples, 1),))
        masks = np.memmap(folder / MASKS_FILE, np.uint8, "r+", shape=(max(plan.mask_samples, 1),))
        mine = jobs[rank::world_size]
    loader = DataLoader(_Decode(plan, mine), batch_size=None, num_workers=num_workers)
    for kind, k, array in loader:
        flat, table = (images, plan.images) if kind == "image" else (masks, plan.masks)
        slot = table[k][2]  # decoded at the slot's size (resized when the header differs)
        flat[slot.offset:slot.offset + slot.size] = np.asarray(array).ravel()
    if not in_memory:
        images.flush()
        masks.flush()
        del images, masks
        barrier()
        images = np.memmap(folder / IMAGES_FILE, np.uint16, "r")
        masks = np.memmap(folder / MASKS_FILE, np.uint8, "r")
    return DecodedCache(plan, images, masks)


# ---------------------------------------------------------------- crops and augmentation


class CachedCrops(Dataset):
    """Items of integer crops and their draws, for :func:`augment_batch`.

    Draws as :class:`~ppr10k.data.TrainingPairs` does, in the same order. Without GLC an
    item is ``{"source", "target", "mask"}`` (the crop box cut, not resized) and ``flip``;
    with GLC it is the whole ``source``, ``target``, ``mask`` and ``source2`` (another
    version of the photo), ``flip`` and the two crop boxes ``box1``, ``box2``.
    """

    def __init__(self, cache: DecodedCache, samples: list[Sample], crop_size: int = 448,
                 glc: bool = False, glc_crop: int = 336) -> None:
        self.cache, self.crop_size, self.glc, self.glc_crop = cache, crop_size, glc, glc_crop
        self.samples = samples
        self._versions = versions_of(samples)

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, i: int) -> dict:
        cache = self.cache
        source = cache.source(i)
        if not self.glc:
            box = random_crop_box(source.shape[-2], source.shape[-1])
            flip = bool(torch.rand(()) < 0.5)
            return {"source": _tensor(box.cut(source)), "target": _tensor(box.cut(cache.target(i))),
                    "mask": _tensor(box.cut(cache.mask(i))), "flip": flip, "box": box}
        other = draw_other_version(self._versions[self.samples[i].key.photo], i)
        flip = bool(torch.rand(()) < 0.5)
        box1, box2 = overlapping_crop_pair(self.crop_size, self.glc_crop)
        return {"source": _tensor(source), "target": _tensor(cache.target(i)),
                "mask": _tensor(cache.mask(i)), "source2": _tensor(cache.source(other)),
                "flip": flip, "box1": box1, "box2": box2}


def _tensor(block: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A host cache block (a crop, or a whole image) copied into a tensor of its own; a
    device-resident block as it is (a view)."""
    return block if isinstance(block, torch.Tensor) else torch.from_numpy(np.array(block))


def _float(tensor: torch.Tensor, device: torch.device, is_mask: bool) -> torch.Tensor:
    """uint16 samples -> float32 in [0, 1] (uint8 masks -> 0/1) on ``device``; any leading
    shape.

    The 16-bit samples travel as they are (2 bytes each) but as int16: CUDA kernels for
    uint16 are few, so the sign is undone there in int32.
    """
    if tensor.dtype in (torch.uint16, torch.int16):  # int16: a resident cache's uint16 bits
        moved = tensor.view(torch.int16).to(device, non_blocking=True)
        return (moved.to(torch.int32) & 0xFFFF).float() / _PEAK
    moved = tensor.to(device, non_blocking=True).float()
    return moved if is_mask else moved / _PEAK


def _augment(tensor: torch.Tensor, device: torch.device, size: int, flip: bool,
             is_mask: bool = False) -> torch.Tensor:
    out = resize(_float(tensor, device, is_mask), (size, size), is_mask)
    return out.flip(-1) if flip else out


def _augment_whole(tensors: list[torch.Tensor], flips: list[bool], device: torch.device,
                   size: int, is_mask: bool) -> list[torch.Tensor]:
    """Whole images resized to ``size``² and flipped where ``flips`` says, a stack per image
    size (one conversion and one resize per size instead of one per image; per image the
    result is the same). The interpolation is :func:`~ppr10k.data.transforms.resize`'s,
    on a batch; ``tests/data/test_data_cache.py`` holds the two equal bit for bit."""
    out: list[torch.Tensor | None] = [None] * len(tensors)
    shapes: dict[tuple[int, ...], list[int]] = {}
    for index, tensor in enumerate(tensors):
        shapes.setdefault(tuple(tensor.shape), []).append(index)
    for indices in shapes.values():
        stacked = torch.stack([tensors[k].to(device, non_blocking=True) for k in indices])
        images = F.interpolate(_float(stacked, device, is_mask), size=(size, size),
                               **({"mode": "nearest"} if is_mask else
                                  {"mode": "bilinear", "align_corners": False,
                                   "antialias": True}))
        flip = torch.tensor([flips[k] for k in indices], device=device)
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        for row, k in enumerate(indices):
            out[k] = images[row]
    return out


def augment_batch(items: list[dict], device: torch.device, crop_size: int = 448,
                  glc: bool = False) -> dict[str, torch.Tensor]:
    """A training batch, as :class:`~ppr10k.data.TrainingPairs` + ``DataLoader`` give it,
    from :class:`CachedCrops` items: moved to ``device``, converted to float32, resized to
    ``crop_size``² (bilinear antialiased, as :func:`~ppr10k.data.transforms.resize`; masks
    nearest) and flipped there. Crops of different sizes are resized one by one; GLC's whole
    images a stack per image size. The GLC overlap boxes stay on the CPU (the loss reads them
    as Python integers).
    """
    if not glc:
        return {key: torch.stack([_augment(item[key], device, crop_size, item["flip"],
                                           key == "mask") for item in items])
                for key in ("source", "target", "mask")}
    flips = [item["flip"] for item in items]
    full = {key: _augment_whole([item[key] for item in items], flips, device, crop_size,
                                key == "mask")
            for key in ("source", "target", "mask", "source2")}
    batch: dict[str, list[torch.Tensor]] = {key: [] for key in (
        "source", "target", "mask", "source2", "target2", "mask2", "overlap1", "overlap2")}
    for row, item in enumerate(items):
        box1, box2 = item["box1"], item["box2"]
        ov1, ov2 = overlap_in_crops(box1, box2)
        for key, box, name in (("source", box1, "source"), ("target", box1, "target"),
                               ("mask", box1, "mask"), ("source2", box2, "source2"),
                               ("target", box2, "target2"), ("mask", box2, "mask2")):
            batch[name].append(box.cut(full[key][row]))
        batch["overlap1"].append(torch.tensor([ov1.top, ov1.left, ov1.height, ov1.width]))
        batch["overlap2"].append(torch.tensor([ov2.top, ov2.left, ov2.height, ov2.width]))
    return {key: torch.stack(values) for key, values in batch.items()}  # overlaps: CPU


def on_device(choice: str, nbytes: int, device: torch.device) -> bool:
    """Whether a cache of ``nbytes`` goes to ``device``: ``yes``, ``no``, or ``auto`` (CUDA
    with at least twice ``nbytes`` free).

    >>> on_device("auto", 10, torch.device("cpu")), on_device("yes", 10, torch.device("cpu"))
    (False, True)
    """
    if choice in ("yes", "no"):
        return choice == "yes"
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return 2 * nbytes <= free
