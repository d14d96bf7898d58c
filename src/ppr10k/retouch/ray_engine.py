"""Retouch on Ray Data: the local engine's stages as Ray tasks and an actor pool.

The driver plans the jobs and forms the groups (the same functions as the local engine);
Ray Data then streams the photos, with back-pressure, through

    decode (CPU task) -> predict (actor pool holding the model; GPUs where the cluster
    has them) -> apply + encode + write (CPU task)

one photo per block, so a task that dies is retried for that photo alone. With group
consistency the first pass ends at the predictor (thumbnails only), the driver averages
each group's parameters with the model's family, and a second pass turns them into apply
plans in the actor pool, then decodes, applies and writes each photo. Outputs are written
atomically by the same stage functions as the local engine's, so they are byte-identical to
it (the predictor runs with the driver's torch thread count, see :func:`_threads_as_main`) and no partial file is
ever visible; temp files of killed writes are removed at the end of the run.

Process-wide state is restored when a session ends (:func:`ray_session`): Ray's loggers,
Ray Data's context, the environment, the loopback switch and the SIGTERM handler that
``ray.init`` replaces.

Ray is imported lazily (``ray`` from :func:`import_ray`): this module needs it only to run,
and without the ``ray`` extra :func:`import_ray` says in one line how to install it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import pickle
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from ppr10k.io.guard import remove_stale_temps
from ppr10k.io.metadata import read_metadata
from ppr10k.models.lut3d import ApplyPlan
from ppr10k.retouch.engine import (
    CUDA_BATCH,
    DecodeSpec,
    JobPlan,
    Params,
    PhotoJob,
    Retoucher,
    check_params,
    decode_photo,
    failure_result,
    render,
    write_rendered,
)
from ppr10k.retouch.options import EngineUsageError, OutputOptions
from ppr10k.retouch.report import PhotoResult, RetouchReport

__all__ = ["INSTALL_HINT", "PoolPlan", "RayAddressError", "RayRunner", "RayUnavailableError",
           "Stages", "check_address", "import_ray", "plan_pools", "ray_session"]

#: How to get the engine's dependencies (one line, for the CLI).
INSTALL_HINT = ("--engine ray needs Ray Data: pip install -e '.[ray]' (or pip install "
                "'ray[data]>=2.60,<2.64')")

#: Attempts of a task or an actor call whose worker process died (Ray's default is
#: unlimited: a photo that kills its worker every time would stall the run).
RETRIES = 3
#: Seconds to wait for ``HOST:PORT`` to accept a TCP connection before giving up.
CONNECT_TIMEOUT_S = 5.0


class RayUnavailableError(EngineUsageError, ImportError):
    """Ray (the ``ray`` extra) is not installed."""


class RayAddressError(EngineUsageError):
    """``--address`` is malformed or nothing answers there."""


def import_ray():
    """``ray`` with ``ray.data`` loaded, or :class:`RayUnavailableError` (one line)."""
    try:
        import ray
        import ray.data  # the engine needs Ray Data
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
    if address is None or address.startswith("ray://"):
        return
    if address == "auto":
        address = _auto_address()
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


def _auto_address() -> str:
    """The cluster ``--address auto`` means (``RAY_ADDRESS``, else the last ``ray start``
    on this machine), found as Ray finds it."""
    from ray._private import services

    try:
        found = services.canonicalize_bootstrap_address("auto")
    except ConnectionError:
        found = None
    if not found:
        raise RayAddressError("--address auto: no Ray cluster runs on this machine (start one "
                              "with `ray start --head`, or leave out --address for a local "
                              "Ray)")
    return found


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
    sigterm = signal.getsignal(signal.SIGTERM)  # ray.init installs its own
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
            _restore_sigterm(sigterm)


def _restore_sigterm(handler) -> None:
    """Put back the SIGTERM handler ``ray.init`` replaced (possible from the main thread)."""
    if handler is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


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


# --- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stages:
    """The model-free stage functions the tasks call (the local engine's own; a test may
    swap one for a faulty copy). Module-level functions, so they pickle by name."""

    decode: Callable = decode_photo
    render: Callable = render
    write: Callable = write_rendered


class RayRunner:
    """Runs a :class:`~ppr10k.retouch.Retoucher`'s stages on Ray Data.

    Args:
        address: ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` of a running cluster; None
            starts a local Ray (loopback only) with ``num_cpus`` CPUs (default: this
            machine's), shut down at the end.
        num_cpus: the local Ray's CPUs.
        stages: the stage functions the tasks call.

    Raises:
        RayUnavailableError: Ray is not installed (checked here, before any work).
        RayAddressError: nothing answers at ``address`` (checked here).

    The driver plans the jobs and forms the groups (:meth:`Retoucher.plan_jobs`), locks
    the output folder once the cluster is reached, and turns every photo's outcome into the
    same :class:`PhotoResult` as the local engine. Photos whose worker process dies are
    retried (:data:`RETRIES` times); temp files of killed writes are removed at the end.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 stages: Stages | None = None) -> None:
        import_ray()
        check_address(address)
        self.address = address
        self.num_cpus = num_cpus
        self.stages = stages or Stages()

    def run(self, engine: Retoucher, inputs: Sequence[str | os.PathLike],
            out_dir: str | os.PathLike) -> RetouchReport:
        """Retouch ``inputs`` into ``out_dir`` with ``engine``'s model and options.

        Returns:
            The :class:`RetouchReport`, as :meth:`Retoucher.run` gives it.
        """
        start = time.perf_counter()
        started_at = time.time()
        plan = engine.plan_jobs(inputs, out_dir)
        report = RetouchReport(ignored=plan.ignored)
        report.results.extend(plan.failed)
        lock = None
        try:
            with ray_session(self.address, self.num_cpus) as ray:
                lock = engine.open_output(plan, started_at)
                run = _Run(ray, engine, self.stages, plan)
                with tqdm(total=len(plan.jobs), unit="photo", dynamic_ncols=True,
                          disable=not engine.run_options.progress, desc="retouch") as bar:
                    if engine.group.consistent:
                        report.results.extend(run.groups(bar, report))
                    else:
                        report.results.extend(run.single(bar))
        finally:
            if lock is not None:  # the workers are gone: no temp file has a live writer
                _remove_temps(plan)
                lock.release()
        report.seconds = time.perf_counter() - start
        return report


def _remove_temps(plan: JobPlan) -> None:
    """Remove the temp files that killed writes of this run left (any age)."""
    for folder in {job.output.parent for job in plan.jobs}:
        remove_stale_temps(folder, time.time() + 1.0)


class _Run:
    """One run's datasets: single (streaming) or group (two passes) mode."""

    def __init__(self, ray, engine: Retoucher, stages: Stages, plan: JobPlan) -> None:
        self.ray = ray
        self.engine = engine
        self.stages = stages
        self.plan = plan
        self.pools = plan_pools(ray.cluster_resources())
        self.spec = dataclasses.replace(engine.decode_spec, jpeg_device=None)
        self._engine_ref = None

    def _skip(self, job: PhotoJob) -> bool:
        return self.engine.output.existing == "skip" and job.output.exists()

    def _rows(self, jobs: Sequence[PhotoJob], **extra: list) -> list[dict]:
        return [{"index": job.index, "job": _pack(job),
                 **{key: values[i] for key, values in extra.items()}}
                for i, job in enumerate(jobs)]

    def _predicted(self, jobs: list[PhotoJob], keep_pixels: bool, with_plan: bool):
        """decode (tasks) -> predict (actor pool): a dataset of rows with ``params`` or
        ``plan`` (packed), or ``failure``."""
        ds = self.ray.data.from_items(self._rows(jobs), override_num_blocks=len(jobs))
        ds = _with_retries(ds.map, _decode_task, num_cpus=self.pools.task_cpus,
                           fn_kwargs={"stages": self.stages, "spec": self.spec,
                                      "keep_pixels": keep_pixels},
                           max_retries=RETRIES)
        return self._model_stage(ds, "plan" if with_plan else "params")

    def _model_stage(self, ds, produce: str):
        """The actor pool holding the model: thumbnails (or, ``produce="plan"`` without a
        ``thumb`` column, parameters) in; ``params`` or ``plan`` out."""
        pools = self.pools
        batch = (self.engine.run_options.batch_size or CUDA_BATCH) if pools.actor_gpus else (
            self.engine.batch_size)
        if self._engine_ref is None:
            self._engine_ref = self.ray.put(self.engine)
        return _with_retries(
            ds.map_batches, _Predictor, batch_size=batch, batch_format="numpy",
            fn_constructor_kwargs={"engine_ref": self._engine_ref,
                                   "gpu": pools.actor_gpus > 0, "produce": produce,
                                   "threads": _driver_threads()},
            compute=self.ray.data.ActorPoolStrategy(size=pools.actors),
            num_cpus=pools.actor_cpus, num_gpus=pools.actor_gpus,
            max_restarts=RETRIES, max_task_retries=RETRIES)

    def _applied(self, ds):
        return _with_retries(ds.map, _apply_task, num_cpus=self.pools.task_cpus,
                             fn_kwargs={"stages": self.stages, "spec": self.spec,
                                        "output": self.engine.output},
                             max_retries=RETRIES)

    def single(self, bar: tqdm) -> list[PhotoResult]:
        """decode -> predict + plan -> apply + write, streaming, one photo per block."""
        results: dict[int, PhotoResult] = {}
        todo = []
        for job in self.plan.jobs:
            if self._skip(job):
                results[job.index] = PhotoResult(job.source, job.output, "skipped")
                bar.update(1)
            else:
                todo.append(job)
        if todo:
            ds = self._applied(self._predicted(todo, keep_pixels=True, with_plan=True))
            for row in ds.iter_rows():
                results[row["index"]] = _unpack(row["result"])
                bar.update(1)
        return [results[job.index] for job in self.plan.jobs]

    def groups(self, bar: tqdm, report: RetouchReport) -> list[PhotoResult]:
        """Pass 1: every photo's parameters from its thumbnail; the driver forms the groups
        and averages them; pass 2: decode, apply with the group's plan, write."""
        engine, plan = self.engine, self.plan
        jobs = plan.jobs
        results: dict[int, PhotoResult] = {}
        predicted: dict[int, Params] = {}
        times: list[dt.datetime | None] = [None] * len(jobs)
        bar.set_description("analyse")
        if jobs:
            ds = self._predicted(jobs, keep_pixels=False, with_plan=False)
            for row in ds.iter_rows():
                index = row["index"]
                times[index] = _unpack(row["time"])
                if row["failure"]:
                    results[index] = _unpack(row["failure"])
                    if plan.needs_capture_times:  # grouped as its header says
                        times[index] = read_metadata(jobs[index].source,
                                                     carried=False).capture_time
                else:
                    predicted[index] = _unpack(row["params"])
                bar.update(1)
        groups = plan.groups if plan.groups is not None else engine.form_groups(plan, times)
        report.groups = [[jobs[i].source for i in group] for group in groups]
        report.group_by = engine.group.by

        todo, params_of, shared = [], [], {}
        for number, group in enumerate(groups):
            members = [i for i in group if i in predicted]
            if members:
                averaged = engine.average([predicted[i] for i in members])
                shared.update({i: (p, number) for i, p in zip(members, averaged,
                                                               strict=True)})
        for index, job in enumerate(jobs):
            if index in results:
                continue
            params, number = shared[index]
            flat = [round(float(v), 6) for v in params["weights"][0]]
            if self._skip(job):
                results[index] = PhotoResult(job.source, job.output, "skipped", weights=flat,
                                             group=number)
                continue
            results[index] = PhotoResult(job.source, job.output, "done", weights=flat,
                                         group=number)  # until pass 2 says otherwise
            todo.append(job)
            params_of.append(_pack(params))
        bar.reset(total=len(jobs))
        bar.set_description("retouch")
        bar.update(len(jobs) - len(todo))
        if todo:  # plans from the pool (it holds the basis LUTs), then decode + apply + write
            rows = self._rows(todo, params=params_of, failure=[b""] * len(todo))
            ds = self.ray.data.from_items(rows, override_num_blocks=len(todo))
            ds = _with_retries(self._model_stage(ds, "plan").map, _decode_apply_task,
                               num_cpus=self.pools.task_cpus,
                               fn_kwargs={"stages": self.stages, "spec": self.spec,
                                          "output": engine.output},
                               max_retries=RETRIES)
            for row in ds.iter_rows():
                outcome: PhotoResult = _unpack(row["result"])
                before = results[row["index"]]
                outcome.weights, outcome.group = before.weights, before.group
                results[row["index"]] = outcome
                bar.update(1)
        return [results[index] for index in range(len(jobs))]


# --- what runs on the workers -----------------------------------------------------------


def _pack(value) -> bytes:
    return pickle.dumps(value, protocol=5)


def _unpack(data: bytes):
    return pickle.loads(data)


def _on_cpu(plan: ApplyPlan) -> ApplyPlan:
    """An apply plan with its tensors on the CPU (the tasks apply with the numba kernel)."""
    curves = None if plan.curves is None else tuple(c.cpu() for c in plan.curves)
    return dataclasses.replace(plan, lut=plan.lut.cpu(), curves=curves)


def _decode_task(row: dict, stages: Stages, spec: DecodeSpec, keep_pixels: bool) -> dict:
    """CPU task: decode one photo; its thumbnail and samples travel as separate columns
    (the predictor unpacks the small one only)."""
    job: PhotoJob = _unpack(row["job"])
    t0 = time.perf_counter()
    try:
        decoded = stages.decode(job, spec, keep_pixels=keep_pixels)
    except Exception as error:  # noqa: BLE001 - reported per photo, as locally
        return {**row, "failure": _pack(failure_result(job, error)), "thumb": b"",
                "decoded": b"", "time": _pack(None), "seconds": 0.0}
    thumb = decoded.thumbnail
    return {**row, "failure": b"", "thumb": _pack(thumb),
            "decoded": _pack(dataclasses.replace(decoded, thumbnail=None)),
            "time": _pack(decoded.capture_time), "seconds": time.perf_counter() - t0}


class _Predictor:
    """Actor: holds the model (a :class:`Retoucher` on this worker's device). From each
    row's thumbnail it predicts the parameters (``produce="params"``) or the apply plan
    (``"plan"``); rows without a thumbnail bring their (group-averaged) parameters and get
    their plan."""

    def __init__(self, engine_ref, gpu: bool, produce: str, threads: int) -> None:
        ray = import_ray()
        engine: Retoucher = ray.get(engine_ref)
        run = dataclasses.replace(engine.run_options, device="cuda" if gpu else "cpu",
                                  progress=False)
        self.engine = Retoucher(engine.model, engine.output, engine.group, run)
        self.gpu = gpu
        self.produce = produce
        self.threads = threads

    def __call__(self, batch: dict) -> dict:
        failures = list(batch["failure"])
        ready = [i for i, failure in enumerate(failures) if not failure]
        jobs = [_unpack(batch["job"][i]) for i in ready]
        if "thumb" in batch:
            predicted = self._predict([_unpack(batch["thumb"][i]) for i in ready])
        else:
            predicted = [_unpack(batch["params"][i]) for i in ready]
        out = {key: value for key, value in batch.items() if key not in ("thumb", "params")}
        column = [b""] * len(failures)
        for i, job, params in zip(ready, jobs, predicted, strict=True):
            try:
                if isinstance(params, Exception):
                    raise params
                check_params(params, job.source)
                column[i] = _pack(_on_cpu(self.engine.apply_plan(params))
                                  if self.produce == "plan" else params)
            except Exception as error:  # noqa: BLE001 - reported per photo, as locally
                failures[i] = _pack(failure_result(job, error))
        out.update({"failure": failures, self.produce: column})
        return out

    def _predict(self, thumbnails: list) -> list:
        """Each thumbnail's parameters, or the error for all when the batch fails."""
        try:
            with contextlib.nullcontext() if self.gpu else _threads_as_main(self.threads):
                return self.engine.predict(thumbnails)
        except Exception as error:  # noqa: BLE001 - reported per photo
            return [error] * len(thumbnails)


def _driver_threads() -> int:
    """This process's torch intra-op thread count (the driver's, when called there)."""
    import torch

    return torch.get_num_threads()


@contextlib.contextmanager
def _threads_as_main(threads: int) -> Iterator[None]:
    """The driver's torch thread count, in this actor's calls.

    torch's CPU convolution and resize kernels split their work by the number of intra-op
    threads, and the split moves the last bit of the predicted parameters (1.2e-7 between
    1 and 2 threads with torch 2.14 here), which moves a few output pixels by a level.
    Ray's workers start with one thread (``OMP_NUM_THREADS=1``); running each call with
    the driver's count (:func:`_driver_threads`: 1 under ``ppr10k retouch``, which sets it
    for its process) makes the predictions, and so the outputs, byte-identical to the local
    engine's. The actor's own setting is restored after the call.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _apply_task(row: dict, stages: Stages, spec: DecodeSpec, output: OutputOptions) -> dict:
    """CPU task (single mode): apply the plan at full resolution, encode, write."""
    job: PhotoJob = _unpack(row["job"])
    if row["failure"]:
        return {"index": row["index"], "result": row["failure"]}
    t0 = time.perf_counter()
    try:
        stages.write(stages.render(_unpack(row["decoded"]), _unpack(row["plan"]), output,
                                   "numba"))
    except Exception as error:  # noqa: BLE001 - reported per photo
        return {"index": row["index"], "result": _pack(failure_result(job, error))}
    seconds = row["seconds"] + time.perf_counter() - t0
    return {"index": row["index"],
            "result": _pack(PhotoResult(job.source, job.output, "done", seconds=seconds))}


def _decode_apply_task(row: dict, stages: Stages, spec: DecodeSpec,
                       output: OutputOptions) -> dict:
    """CPU task (group mode, pass 2): decode again, apply the group's plan, write."""
    job: PhotoJob = _unpack(row["job"])
    t0 = time.perf_counter()
    try:
        decoded = stages.decode(job, spec, thumbnail=False)
        stages.write(stages.render(decoded, _unpack(row["plan"]), output, "numba"))
    except Exception as error:  # noqa: BLE001 - reported per photo
        return {"index": row["index"], "result": _pack(failure_result(job, error))}
    return {"index": row["index"], "result": _pack(
        PhotoResult(job.source, job.output, "done", seconds=time.perf_counter() - t0))}
