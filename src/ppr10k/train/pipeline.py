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

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ppr10k.data import TrainingPairs
from ppr10k.data.layout import Sample
from ppr10k.train.config import TrainConfig

PIPELINE_NAMES = ("auto", "loader", "cached")


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
        sampler = self.loader.sampler
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        return iter(self.loader)

    def close(self) -> None:
        """Drop the loader: its worker processes end now."""
        self.loader = None


def _cached(*args, **kwargs) -> Pipeline:
    from ppr10k.data.cache import CachedPipeline

    return CachedPipeline(*args, **kwargs)


#: name -> pipeline factory ``(samples, config, device, rank=, world_size=, run_dir=,
#: barrier=, local_rank=, local_world_size=, node=)``.
PIPELINES = {"loader": LoaderPipeline, "cached": _cached}


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
