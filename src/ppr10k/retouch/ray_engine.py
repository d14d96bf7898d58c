"""Retouch on Ray Data: the local engine's stages as Ray tasks and an actor pool.

The driver plans the jobs and forms the groups (the same functions as the local engine);
Ray Data then streams the photos, with back-pressure, through

    decode (CPU task) -> predict (actor pool holding the model; GPUs where the cluster
    has them) -> apply + encode + write (CPU task)

one photo per block, so a task that dies is retried for that photo alone. With group
consistency the first pass ends at the predictor (thumbnails only), the driver averages
each group's parameters with the model's family, and a second pass decodes, applies and
writes each photo. Outputs are written atomically by the same stage functions as the
local engine's, so they are byte-identical to it and no partial file is ever visible.

``ray`` is imported here only, lazily: without the ``ray`` extra the rest of ppr10k works
and :func:`import_ray` says in one line how to install it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ppr10k.retouch.discover import Job

__all__ = ["INSTALL_HINT", "PoolPlan", "RayAddressError", "RayUnavailableError",
           "check_address", "import_ray", "plan_pools", "ray_session"]

#: How to get the engine's dependencies (one line, for the CLI).
INSTALL_HINT = ("--engine ray needs Ray Data: pip install -e '.[ray]' (or pip install "
                "'ray[data]>=2.60,<2.64')")

#: Attempts of a task or an actor call whose worker process died (Ray's default is
#: unlimited: a photo that kills its worker every time would stall the run).
RETRIES = 3
#: Seconds to wait for ``HOST:PORT`` to accept a TCP connection before giving up.
CONNECT_TIMEOUT_S = 5.0


class RayUnavailableError(ImportError):
    """Ray (the ``ray`` extra) is not installed."""


class RayAddressError(ValueError):
    """``--address`` is malformed or nothing answers there."""


def import_ray():
    """``ray`` with ``ray.data`` loaded, or :class:`RayUnavailableError` (one line)."""
    try:
        import ray
        import ray.data  # noqa: F401 - the engine needs Ray Data
    except ImportError:
        raise RayUnavailableError(INSTALL_HINT) from None
    return ray


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets) -> ``(host, port)``.

    >>> parse_address("10.0.0.5:6379"), parse_address("[::1]:6379")
    (('10.0.0.5', 6379), ('::1', 6379))
    """
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RayAddressError(f"--address {address!r}: expected auto or HOST:PORT of a Ray "
                              "cluster's head (e.g. 10.0.0.5:6379)")
    return host, int(port)


def check_address(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse an unreachable cluster before anything is written (Ray itself retries for
    about two minutes and then exits the process).

    ``None`` (a local Ray started on the fly) and ``auto`` (a cluster started on this
    machine with ``ray start``, found by Ray) pass; ``HOST:PORT`` must accept a TCP
    connection within ``timeout_s`` seconds.

    Raises:
        RayAddressError: one line naming the address.
    """
    if address is None or address == "auto" or address.startswith("ray://"):
        return
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else (
            error.strerror or type(error).__name__)
        raise RayAddressError(
            f"--address {address}: no Ray cluster answers there ({reason}); start one with "
            f"`ray start --head --port {port}` on {host}, or leave out --address for a "
            "local Ray") from None


@dataclass(frozen=True)
class PoolPlan:
    """How a run uses a cluster's resources.

    Attributes:
        actors: predictor actors (each holds the model).
        actor_cpus: CPUs reserved per actor (may be a fraction, or 0).
        actor_gpus: GPUs per actor (0: the model runs on the CPU).
        task_cpus: CPUs per decode or apply task.
    """

    actors: int
    actor_cpus: float
    actor_gpus: float
    task_cpus: float


def plan_pools(resources: dict[str, float]) -> PoolPlan:
    """Size the predictor pool and the tasks from a cluster's resources
    (``ray.cluster_resources()``).

    The predictor sees a small thumbnail (tens of ms per photo on a CPU core) while decode
    and apply take most of the time, so a CPU-only cluster gets one actor per 16 CPUs and,
    on small clusters (4 CPUs or fewer), actors reserve no CPU at all: on a 2-CPU Ray an
    actor that reserves a whole CPU leaves one task slot, and a pool that reserves every
    CPU starves the decode tasks and the job stalls. With GPUs, one actor per GPU, each
    with one CPU reserved where the cluster has CPUs to spare.

    >>> plan_pools({"CPU": 2.0})
    PoolPlan(actors=1, actor_cpus=0.0, actor_gpus=0.0, task_cpus=1.0)
    >>> plan_pools({"CPU": 64.0})
    PoolPlan(actors=4, actor_cpus=1.0, actor_gpus=0.0, task_cpus=1.0)
    >>> plan_pools({"CPU": 32.0, "GPU": 4.0})
    PoolPlan(actors=4, actor_cpus=1.0, actor_gpus=1.0, task_cpus=1.0)
    """
    cpus = float(resources.get("CPU", 0.0))
    gpus = int(resources.get("GPU", 0.0))
    if cpus < 1:
        raise ValueError(f"the Ray cluster has {cpus:g} CPUs; decode and apply tasks need "
                         "at least one")
    if gpus:
        spare = cpus - gpus >= 2
        return PoolPlan(gpus, 1.0 if spare else 0.0, 1.0, 1.0)
    actors = max(1, int(cpus // 16))
    return PoolPlan(actors, 1.0 if cpus > 4 else 0.0, 0.0, 1.0)


@contextlib.contextmanager
def _loggers_at(level: int, names: tuple[str, ...]) -> Iterator[None]:
    """Raise the named loggers to ``level`` for the block, then restore them."""
    loggers = [logging.getLogger(name) for name in names]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, before, strict=True):
            logger.setLevel(old)


@contextlib.contextmanager
def _local_only(ray) -> Iterator[None]:
    """A Ray started here listens on the loopback interface only.

    Ray binds its services to the address it takes for this node; on Linux that is the
    address other machines reach it by, unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
    (read when Ray is imported) makes it the loopback address. The same switch is set for
    the start, and put back.
    """
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator:
    """Connect to a Ray cluster (``address``) or start a local one, quietly.

    Args:
        address: ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` of a running cluster;
            None: start a local Ray on the loopback interface with ``num_cpus`` worker
            slots (default: this machine's CPUs), shut down at the end.
        num_cpus: CPUs of the local Ray (ignored with ``address``).

    Yields:
        The ``ray`` module, connected. Ray's INFO and WARNING logging, its progress bars and
        worker output are kept out of the terminal for the block (errors still show);
        Ray's loggers are restored afterwards. Usage statistics are never sent.

    Raises:
        RayUnavailableError: Ray is not installed.
        RayAddressError: nothing answers at ``address``.
    """
    ray = import_ray()
    check_address(address)
    if ray.is_initialized():  # the caller's own session (a notebook, a test fixture)
        with _quiet_data(ray):
            yield ray
        return
    with _loggers_at(logging.ERROR, ("ray", "ray.data")):
        start = contextlib.nullcontext() if address else _local_only(ray)
        try:
            # usage statistics off for the processes started here (a user's setting wins)
            with start, _env(RAY_USAGE_STATS_ENABLED=os.environ.get(
                    "RAY_USAGE_STATS_ENABLED", "0")):
                ray.init(address=address, num_cpus=None if address else num_cpus,
                         include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR, configure_logging=True)
        except ConnectionError as error:
            raise RayAddressError(f"--address {address}: {error}") from None
        try:
            with _quiet_data(ray):
                yield ray
        finally:
            ray.shutdown()


@contextlib.contextmanager
def _quiet_data(ray) -> Iterator[None]:
    """Ray Data without its progress bars, start-up banner or INFO log lines."""
    context = ray.data.DataContext.get_current()
    saved = (context.enable_progress_bars, context.print_on_execution_start)
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    try:
        with _loggers_at(logging.ERROR, ("ray", "ray.data")):
            yield
    finally:
        context.enable_progress_bars, context.print_on_execution_start = saved


def _with_retries(call: Callable, *args, **kwargs):
    """Call a Ray Data map with the engine's retry limits.

    Ray 2.60 takes them only as the deprecated ``**ray_remote_args`` (removed in 2.64,
    hence the extra's upper bound); its deprecation warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        return call(*args, **kwargs)


# --- the run ---------------------------------------------------------------------------


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Environment variables for the block (processes started in it inherit them)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _pack(value) -> bytes:
    return pickle.dumps(value, protocol=5)


def _unpack(data: bytes):
    return pickle.loads(data)


def _job_of(row: dict) -> Job:
    return Job(Path(row["source"]), Path(row["source"]).name, None, Path(row["output"]))


def _decode_task(row: dict, stages, keep_photo: bool) -> dict:
    """CPU task: decode one photo and make its predictor input."""
    t0 = time.perf_counter()
    try:
        photo = stages.decode(Path(row["source"]))
        thumb = stages.thumbnail(photo)
    except Exception as error:  # noqa: BLE001 - reported per photo, as locally
        return {**row, "failure": _pack(stages.failure(_job_of(row), error)), "photo": b"",
                "thumb": b"", "seconds": time.perf_counter() - t0}
    return {**row, "failure": b"", "photo": _pack(photo) if keep_photo else b"",
            "thumb": _pack(thumb), "seconds": time.perf_counter() - t0}


class _Predictor:
    """Actor: holds the model; parameters (and, single mode, the apply plan) per photo."""

    def __init__(self, model_ref, stages, device: str, with_plan: bool):
        import torch

        # One torch thread, as `ppr10k retouch` runs the predictor. Ray starts this process
        # with OMP_NUM_THREADS=1 already; calling set_num_threads again was seen to change
        # the predictions in the last bit (so outputs would no longer match the CLI's).
        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        ray = import_ray()
        self.model = ray.get(model_ref).to(device).eval() if not isinstance(
            model_ref, torch.nn.Module) else model_ref.to(device).eval()
        self.device = device
        self.stages = stages
        self.with_plan = with_plan

    def __call__(self, batch: dict) -> dict:
        params_out, plans, failures = [], [], []
        for i, thumb in enumerate(batch["thumb"]):
            failure = batch["failure"][i]
            params = plan = b""
            if not failure:
                row = {"source": batch["source"][i], "output": batch["output"][i]}
                try:
                    p = self.stages.params(self.model, _unpack(thumb))
                    params = _pack({k: v.cpu() for k, v in p.items()})
                    if self.with_plan:
                        plan = _pack(_plan_on_cpu(self.stages.plan(self.model, p)))
                except Exception as error:  # noqa: BLE001 - reported per photo
                    failure = _pack(self.stages.failure(_job_of(row), error))
            params_out.append(params)
            plans.append(plan)
            failures.append(failure)
        out = {key: value for key, value in batch.items() if key != "thumb"}
        out.update(params=params_out, plan=plans, failure=failures)
        return out


def _plan_on_cpu(plan):
    """An apply plan with its tensors on the CPU (the apply tasks run the numba kernel)."""
    curves = None if plan.curves is None else tuple(c.cpu() for c in plan.curves)
    return type(plan)(plan.lut.cpu(), curves) if curves is not None else type(plan)(
        plan.lut.cpu())


def _apply_task(row: dict, stages) -> dict:
    """CPU task: apply the plan at full resolution, encode, write atomically."""
    t0 = time.perf_counter()
    failure = row["failure"]
    if not failure:
        try:
            photo = (_unpack(row["photo"]) if row["photo"]
                     else stages.decode(Path(row["source"])))
            stages.write(photo, _unpack(row["plan"]), Path(row["output"]))
        except Exception as error:  # noqa: BLE001 - reported per photo
            failure = _pack(stages.failure(_job_of(row), error))
    return {"index": row["index"], "failure": failure,
            "seconds": row.get("seconds", 0.0) + time.perf_counter() - t0}


def _stream(ray, rows: list[dict], stages, pools: PoolPlan, model_ref, device: str,
            predict: bool, keep_photo: bool, with_plan: bool, write: bool,
            on_row: Callable[[dict], None]) -> None:
    """Run one pass over ``rows`` (one block each), calling ``on_row`` as rows finish."""
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    retry = {"max_retries": RETRIES}
    if predict:
        ds = _with_retries(ds.map, _decode_task, fn_kwargs={"stages": stages,
                                                            "keep_photo": keep_photo},
                           num_cpus=pools.task_cpus, **retry)
        ds = _with_retries(
            ds.map_batches, _Predictor, batch_size=1, batch_format="numpy",
            fn_constructor_kwargs={"model_ref": model_ref, "stages": stages,
                                   "device": device, "with_plan": with_plan},
            compute=ray.data.ActorPoolStrategy(size=pools.actors),
            num_cpus=pools.actor_cpus, num_gpus=pools.actor_gpus,
            max_restarts=RETRIES, max_task_retries=RETRIES)
    if write:
        ds = _with_retries(ds.map, _apply_task, fn_kwargs={"stages": stages},
                           num_cpus=pools.task_cpus, **retry)
    for row in ds.iter_rows():
        on_row(row)
