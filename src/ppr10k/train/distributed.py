"""Several training processes (``torchrun``): who is who, and what they share.

A training run is either one process (:class:`Local`) or one of ``WORLD_SIZE`` processes
started by ``torchrun`` (:class:`Distributed`, DistributedDataParallel). The trainer talks
to both through the same small interface (``rank``, ``world_size``, ``is_main``,
``barrier``, ``all_sum``, ``share``), so it has no branch per mode.

Process-wide setup (``init_process_group``, the CUDA device of the process) happens only in
:func:`distributed_session`, a context manager the command line enters around a run; no
library call here starts or ends a process group by itself.

Batch size under ``torchrun`` is **per process**: ``--batch-size 16`` on 4 processes trains
with a global batch of 64 (gradients are averaged over processes).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

#: The variables ``torchrun`` sets for each process it starts.
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: Seconds a process waits for the rendezvous (``MASTER_ADDR:MASTER_PORT``) to answer.
RENDEZVOUS_TIMEOUT = 60.0


class RendezvousError(ValueError):
    """``torchrun``'s variables are incomplete, or the rendezvous does not answer."""


@dataclass(frozen=True)
class TorchrunEnv:
    """This process's place among ``world_size`` (from ``torchrun``'s variables)."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int
    agent_store: bool = False  # torchrun's agent hosts the store every rank connects to
    local_world_size: int = 1  # processes on this node (LOCAL_WORLD_SIZE)
    node: int = 0  # this node's rank (GROUP_RANK)


def torchrun_env(environ: Mapping[str, str] | None = None) -> TorchrunEnv | None:
    """This process's :class:`TorchrunEnv`, or None when no ``torchrun`` variable is set.

    Raises:
        RendezvousError: some variables are set but not all (e.g. ``WORLD_SIZE`` without
            ``MASTER_ADDR``), or one is not a number, naming them.

    >>> torchrun_env({}) is None
    True
    >>> torchrun_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
    ...               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}).local_rank
    1
    """
    environ = os.environ if environ is None else environ
    given = [name for name in TORCHRUN_VARS if environ.get(name, "") != ""]
    if not given:
        return None
    missing = [name for name in TORCHRUN_VARS if name not in given]
    if missing:
        raise RendezvousError(
            f"torchrun variables incomplete: {', '.join(given)} set but {', '.join(missing)} "
            "missing; start the run with `torchrun --nproc-per-node N -m ppr10k train ...` "
            "(or unset the variables for a single process)")
    try:
        rank, world, local = (int(environ[n]) for n in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
        port = int(environ["MASTER_PORT"])
    except ValueError:
        values = ", ".join(f"{n}={environ[n]!r}" for n in TORCHRUN_VARS)
        raise RendezvousError(f"torchrun variables are not numbers: {values}") from None
    if not (0 <= rank < world and 0 <= local <= rank and 0 < port < 65536):
        raise RendezvousError(f"torchrun variables out of range: RANK={rank}, "
                              f"WORLD_SIZE={world}, LOCAL_RANK={local}, MASTER_PORT={port}")
    agent = environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
    try:
        local_world = int(environ.get("LOCAL_WORLD_SIZE", world))
        node = int(environ.get("GROUP_RANK", 0))
    except ValueError:
        local_world, node = world, 0
    return TorchrunEnv(rank, world, local, environ["MASTER_ADDR"], port, agent,
                       max(local_world, local + 1), node)


def check_rendezvous(env: TorchrunEnv, timeout: float) -> None:
    """Wait until ``MASTER_ADDR:MASTER_PORT`` accepts a connection (processes that host the
    store themselves, rank 0 outside torchrun's agent, have nothing to wait for).

    Raises:
        RendezvousError: nothing answered within ``timeout`` seconds.
    """
    if env.rank == 0 and not env.agent_store:
        return
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((env.master_addr, env.master_port), timeout=2.0):
                return
        except OSError as error:
            last = error.strerror or type(error).__name__
            time.sleep(0.5)
    raise RendezvousError(
        f"no rendezvous at MASTER_ADDR={env.master_addr} MASTER_PORT={env.master_port} "
        f"after {timeout:g} s ({last}); start every process with torchrun (one --rdzv-endpoint"
        " / master for all nodes), or unset RANK/WORLD_SIZE for a single process")


def seed_for(seed: int, rank: int, epoch: int) -> int:
    """The seed of process ``rank`` in ``epoch``: different per rank and per epoch, the same
    on every run, so a resumed run draws what an uninterrupted one would.

    >>> seed_for(0, 0, 1) != seed_for(0, 1, 1) != seed_for(0, 0, 2)
    True
    """
    return (seed * 1_000_003 + rank * 7_919 + epoch * 104_729) % 2**63


@dataclass
class Local:
    """A single training process: every collective is the identity; ``device`` None: the
    trainer resolves ``--device`` itself."""

    device: torch.device | None = None
    rank: int = 0
    world_size: int = 1
    is_main: bool = True
    local_rank: int = 0
    local_world_size: int = 1
    node: int = 0

    def barrier(self) -> None:
        """Nothing to wait for."""

    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` itself."""
        return tensor

    def share(self, value: Any) -> Any:
        """``value`` itself (what rank 0 has)."""
        return value

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as it is."""
        return model


@dataclass
class Distributed:
    """One of ``world_size`` processes of an initialised process group."""

    rank: int
    world_size: int
    device: torch.device
    local_rank: int = 0  # among the processes of this node
    local_world_size: int = 1
    node: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait until every process gets here."""
        torch.distributed.barrier()

    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of ``tensor`` over processes (a new tensor on ``tensor``'s device; the
        reduction runs on this process's device, as NCCL needs)."""
        total = tensor.detach().to(self.device, copy=True)
        torch.distributed.all_reduce(total)
        return total.to(tensor.device)

    def share(self, value: Any) -> Any:
        """Rank 0's ``value`` (a picklable object) on every process."""
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model in DistributedDataParallel (gradients averaged over processes)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)


def process_device(env: TorchrunEnv, device: str) -> torch.device:
    """The device of process ``env.local_rank``: ``cuda:LOCAL_RANK`` for ``auto`` (with
    GPUs) and ``cuda``, the CPU for ``cpu`` and ``auto`` without GPUs.

    Raises:
        ValueError: ``cuda:N`` given under torchrun (each process takes its own GPU), or
            fewer GPUs than processes on this node.
    """
    if device.startswith("cuda:"):
        raise ValueError(f"--device {device}: under torchrun each process uses cuda:LOCAL_RANK;"
                         " give --device cuda (or auto), and CUDA_VISIBLE_DEVICES to choose "
                         "the GPUs")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if not use_cuda:
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if env.local_rank >= count:
        raise ValueError(f"--device {device}: process LOCAL_RANK={env.local_rank} needs GPU "
                         f"{env.local_rank} but this machine has {count} CUDA device(s); "
                         "start at most that many processes per node")
    return torch.device("cuda", env.local_rank)


@contextlib.contextmanager
def distributed_session(env: TorchrunEnv, device: str,
                        timeout: float | None = None) -> Iterator[Distributed]:
    """Join the process group of ``env`` for the ``with`` block; leave it afterwards.

    The backend is NCCL on CUDA (the process's device becomes ``cuda:LOCAL_RANK``) and gloo
    on the CPU. ``timeout``: seconds to wait for the rendezvous (default
    :data:`RENDEZVOUS_TIMEOUT`). Everything it changes for the process (the process group,
    the current CUDA device) is undone when the block ends.

    Raises:
        RendezvousError: the rendezvous does not answer, or the group cannot form.
        ValueError: the device cannot serve this process (:func:`process_device`).
    """
    import torch.distributed as dist

    torch_device = process_device(env, device)
    check_rendezvous(env, RENDEZVOUS_TIMEOUT if timeout is None else timeout)
    backend = "nccl" if torch_device.type == "cuda" else "gloo"
    previous = None
    if torch_device.type == "cuda":
        previous = torch.cuda.current_device()
        torch.cuda.set_device(torch_device)  # NCCL's collectives run on the current device
    try:
        try:
            dist.init_process_group(backend, rank=env.rank, world_size=env.world_size,
                                    timeout=datetime.timedelta(minutes=30))
        except (RuntimeError, ValueError) as error:  # DistStoreError, DistNetworkError...
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise RendezvousError(f"cannot join the {backend} process group at "
                                  f"{env.master_addr}:{env.master_port}: {first[:200]}") from None
        try:
            yield Distributed(env.rank, env.world_size, torch_device, env.local_rank,
                              env.local_world_size, env.node)
        finally:
            dist.destroy_process_group()
    finally:
        if previous is not None:
            torch.cuda.set_device(previous)
