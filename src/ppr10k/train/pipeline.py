"""Training input pipelines: where batches of augmented crops come from.

Two pipelines give the same batches (dicts as :class:`~ppr10k.data.TrainingPairs` yields
them: ``source``, ``target``, ``mask`` and, with GLC, ``source2``, ``target2``, ``mask2``,
``overlap1``, ``overlap2``), with the same random draws for the same seed:

* ``loader``: DataLoader workers decode every file each epoch, crop, resize and flip it on
  the CPU (float32).
* ``cached``: every source, target and mask is decoded once into a uint16/uint8 cache
  (:mod:`ppr10k.data.cache`: in memory, or a memory-mapped file in the run folder for sets
  bigger than ``cache_memory_gb``); workers only cut integer crops out of it, and the
  conversion to float, the resize and the flip run on the training device in batches.

``auto`` picks ``cached`` on CUDA and ``loader`` on the CPU (see README: on 2 CPU cores the
cache changed little, and it costs memory).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ppr10k.data import TrainingPairs
from ppr10k.data.cache import (
    CACHE_FOLDER,
    CachedCrops,
    augment_batch,
    build_cache,
    on_device,
)
from ppr10k.data.layout import Sample
from ppr10k.train.config import PIPELINE_NAMES, TrainConfig


class Pipeline(Protocol):
    """Batches of one epoch for this process."""

    def __len__(self) -> int: ...

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]: ...

    def close(self) -> None: ...


def make_loader(dataset: Dataset, config: TrainConfig, rank: int, world_size: int,
                num_workers: int | None = None, **options) -> DataLoader:
    """Shuffled batches of ``config.batch_size`` (per process); across processes a
    :class:`DistributedSampler` shares one permutation (seeded by ``config.seed``, reshuffled
    by ``set_epoch``) so each process sees its own ``1/world_size`` of every epoch."""
    sampler = (DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                                  seed=config.seed) if world_size > 1 else None)
    workers = config.num_workers if num_workers is None else num_workers
    return DataLoader(dataset, batch_size=config.batch_size, shuffle=sampler is None,
                      sampler=sampler, drop_last=False, num_workers=workers,
                      persistent_workers=workers > 0, **options)


def epoch_of(loader: DataLoader, epoch: int) -> Iterator:
    """The loader's batches of ``epoch`` (a :class:`DistributedSampler` reshuffled for it)."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    return iter(loader)


class LoaderPipeline:
    """DataLoader workers decode, crop, resize and flip each item on the CPU."""

    def __init__(self, samples: list[Sample], config: TrainConfig, device: torch.device,
                 rank: int = 0, world_size: int = 1, run_dir: Path | None = None,
                 barrier: Callable[[], None] | None = None, **node: int) -> None:
        dataset = TrainingPairs(samples, config.crop_size, config.glc, config.glc_crop)
        self.loader = make_loader(dataset, config, rank, world_size,
                              pin_memory=device.type == "cuda")

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        return epoch_of(self.loader, epoch)

    def close(self) -> None:
        """Drop the loader: its worker processes end now."""
        self.loader = None


class CachedPipeline:
    """The ``cached`` training pipeline: the cache (:mod:`ppr10k.data.cache`) is built
    when the pipeline is made; workers cut crops; :func:`augment_batch` runs on ``device``.

    A set bigger than ``config.cache_memory_gb`` goes to ``RUN/.input-cache/node-N/`` (one
    per node, filled by the node's processes in parallel), removed by :meth:`close`. With ``config.cache_on_device`` (``auto``: on CUDA when the cache takes at
    most half of the GPU's free memory) the whole cache is copied to the device once and
    crops are cut there, in the training process: no worker processes and no host-to-device
    traffic per step.
    """

    def __init__(self, samples: list[Sample], config: TrainConfig, device: torch.device, rank: int = 0,
                 world_size: int = 1, run_dir: Path | None = None,
                 barrier: Callable[[], None] = lambda: None, local_rank: int = 0,
                 local_world_size: int = 1, node: int = 0) -> None:
        self.device, self.config, self.local_rank = device, config, local_rank
        # one file per node, filled by that node's processes: writers of one file share a
        # page cache, and nodes never write into each other's file
        self.root = Path(run_dir) / CACHE_FOLDER if run_dir is not None else None
        self.folder = self.root / f"node-{node}" if self.root is not None else None
        self.cache = build_cache(samples, self.folder,
                                 memory_limit=config.cache_memory_gb * 2**30,
                                 num_workers=config.num_workers, rank=local_rank,
                                 world_size=local_world_size, barrier=barrier)
        self.resident = on_device(config.cache_on_device, self.cache.plan.nbytes, device)
        if self.resident:
            self.cache = self.cache.to(device)
        dataset = CachedCrops(self.cache, samples, config.crop_size, config.glc,
                              config.glc_crop)
        self.loader = make_loader(dataset, config, rank, world_size, collate_fn=list,
                                  pin_memory=device.type == "cuda" and not self.resident,
                                  num_workers=0 if self.resident else config.num_workers)

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        for items in epoch_of(self.loader, epoch):
            yield augment_batch(items, self.device, self.config.crop_size, self.config.glc)

    def close(self) -> None:
        """Drop the loader (its workers end) and the cache; the first process of each node
        removes its node's cache file (and the cache folder once it is empty)."""
        self.loader = None
        self.cache = None
        if self.local_rank == 0 and self.folder is not None and self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)
            with contextlib.suppress(OSError):  # another node's file may still be there
                self.root.rmdir()


#: name -> pipeline factory ``(samples, config, device, rank=, world_size=, run_dir=,
#: barrier=, local_rank=, local_world_size=, node=)``.
PIPELINES = {"loader": LoaderPipeline, "cached": CachedPipeline}


def pipeline_name(name: str, device: torch.device) -> str:
    """``auto`` -> ``cached`` on CUDA, ``loader`` elsewhere; other names as given.

    >>> pipeline_name("auto", torch.device("cpu")), pipeline_name("cached", torch.device("cpu"))
    ('loader', 'cached')
    """
    if name not in PIPELINE_NAMES:
        raise ValueError(f"pipeline must be one of {', '.join(PIPELINE_NAMES)}, got {name!r}")
    if name == "auto":
        return "cached" if device.type == "cuda" else "loader"
    return name
