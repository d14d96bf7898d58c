"""The retouch engine: one loaded model, options as three small objects, and stages.

:class:`Retoucher` holds a model (loaded once) and :class:`OutputOptions`,
:class:`GroupOptions` and :class:`RunOptions`; :meth:`Retoucher.run` retouches inputs into
an output folder on this machine, streaming: photos are decoded by ``workers`` threads,
their thumbnails predicted in batches, and each photo applied and written as soon as its
parameters are known, with at most ``workers + 2 batch`` photos held at once.

Stages
------
Each stage is usable on its own; the values passed between them are small picklable
dataclasses of paths, NumPy arrays and tensors (no locks, no open files), so a cluster
engine can run them in other processes. ``spec``, ``output`` and the options are frozen
dataclasses; functions marked *any process* need no model.

1. :meth:`Retoucher.plan_jobs` ``(inputs, out_dir) -> JobPlan`` (driver): discover the
   photos, name the outputs, refuse an output folder that endangers inputs, report
   collisions and (``existing="refuse"``) existing outputs; in group mode the groups are
   formed here (prefix, folder), or, where capture times are needed (``time``, ``auto``
   for non-PPR10K names), ``JobPlan.groups`` is None and :meth:`Retoucher.form_groups`
   ``(plan, capture_times)`` forms them from the decoded photos' metadata.
   :meth:`Retoucher.open_output` ``(plan) -> RunLock`` locks the folder and removes what
   killed runs left there (driver).
2. :func:`decode_photo` ``(job: PhotoJob, spec: DecodeSpec) -> Decoded`` (any process):
   one file -> its samples in the model's input space (colour-converted as today) and the
   predictor thumbnail ``(1, 3, h, w)`` float32; ``keep_pixels=False`` keeps only the
   thumbnail and metadata, ``thumbnail=False`` only the samples. ``spec.jpeg_device``
   decodes JPEGs on a GPU (samples are then a CUDA tensor). Raises ``PhotoError``.
   :meth:`Retoucher.decode` uses the engine's own spec (:attr:`Retoucher.decode_spec`).
3. :meth:`Retoucher.predict` ``(thumbnails) -> list[Params]`` (model holder): a batch of
   thumbnails -> per-photo parameters (dicts of ``(1, ...)`` float32 CPU tensors), run with
   TF32 off; :func:`check_params` ``(params, source)`` raises ``PhotoError`` for
   non-finite ones (any process).
4. :meth:`Retoucher.average` ``(params of one group) -> list[Params]`` (model holder, or
   any process holding the model): the family's group average, strength from
   :class:`GroupOptions`.
5. :meth:`Retoucher.apply_plan` ``(params) -> ApplyPlan`` (model holder: the basis LUTs),
   then :func:`render` ``(decoded, plan, output, backend) -> Rendered`` (any process; the
   ``torch`` backend on the plan's device): full-resolution output samples (uint8/uint16)
   with the output's metadata, converted to the output profile. :meth:`Retoucher.apply`
   does both.
6. :func:`write_rendered` ``(rendered) -> Path`` (any process): atomic write with metadata
   and profile. :meth:`Retoucher.run` turns each photo's outcome into a
   :class:`~ppr10k.retouch.report.PhotoResult`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ppr10k.io.colour import ColourProfile, from_srgb, metadata_profile, srgb_profile, to_srgb
from ppr10k.io.guard import (
    RunLock,
    check_not_replacing,
    check_output_folder,
    folder_of,
    remove_stale_temps,
)
from ppr10k.io.metadata import PhotoMetadata, read_metadata
from ppr10k.io.names import parse_stem
from ppr10k.io.photo import PhotoError, read_photo, write_photo
from ppr10k.models.device import resolve_device
from ppr10k.models.lut3d import ApplyPlan
from ppr10k.retouch.apply import APPLY_BACKENDS, choose_backend, ieee_float32, output_dtype
from ppr10k.retouch.discover import discover, plan_outputs
from ppr10k.retouch.groups import group_photos
from ppr10k.retouch.options import GroupOptions, OutputOptions, RunOptions, physical_memory
from ppr10k.retouch.report import PhotoResult, RetouchReport
from ppr10k.retouch.thumbnail import predictor_input, predictor_input_torch

__all__ = ["DecodeSpec", "Decoded", "JobPlan", "Params", "PhotoJob", "Rendered",
           "Retoucher", "check_params", "decode_photo", "failure_result", "render",
           "write_rendered"]

#: A family's parameters of one photo: name -> ``(1, ...)`` float32 tensor.
Params = dict[str, torch.Tensor]

#: Predictor batch on CUDA when ``RunOptions.batch_size`` is None (1 on the CPU).
CUDA_BATCH = 16
#: Share of the machine's memory (or the GPU's) group mode keeps decoded samples in.
BUDGET_SHARE = 0.25


# ------------------------------------------------------------------ values between stages

@dataclass(frozen=True)
class PhotoJob:
    """One photo to retouch: its place in the plan, its file, its output file."""

    index: int
    source: Path
    output: Path


@dataclass
class JobPlan:
    """What a run will do (:meth:`Retoucher.plan_jobs`).

    Attributes:
        out_dir: the output folder.
        jobs: the photos to process, in input order (``job.index`` is the position).
        failed: inputs refused before decoding (missing, colliding output names).
        ignored: non-photo files skipped in the input folders.
        groups: group mode: lists of indices into ``jobs``; None when not grouping or when
            capture times are needed first (``needs_capture_times``).
        needs_capture_times: group mode ``time`` (or ``auto`` with non-PPR10K names):
            groups come from :meth:`Retoucher.form_groups` after decoding.
    """

    out_dir: Path
    jobs: list[PhotoJob]
    failed: list[PhotoResult]
    ignored: int
    groups: list[list[int]] | None = None
    needs_capture_times: bool = False


@dataclass(frozen=True)
class DecodeSpec:
    """What decoding needs to know of the model and the run (small, picklable).

    Attributes:
        input_space: the model's ``srgb`` or ``xyz`` (camera raws only).
        long_edge: the predictor thumbnail's long edge (``config.thumbnail``).
        colour_manage: convert inputs from their profile to sRGB.
        max_pixels: refuse larger images; None: no limit.
        jpeg_device: a CUDA device to decode JPEGs on, or None (CPU decoders).
    """

    input_space: str = "srgb"
    long_edge: int = 540
    colour_manage: bool = True
    max_pixels: int | None = None
    jpeg_device: str | None = None


@dataclass
class Decoded:
    """One decoded photo (:func:`decode_photo`).

    Attributes:
        job: the job.
        pixels: ``(H, W, 3)`` uint8/uint16/float32 samples in the model's input space
            (a host array, or a uint8 CUDA tensor for a JPEG decoded there); None when
            only the thumbnail was kept.
        thumbnail: ``(1, 3, h, w)`` float32 in [0, 1], upright (on the samples' device);
            None when not asked for.
        metadata: the input's EXIF, ICC profile, orientation, capture time.
        kind: ``jpeg``, ``png``, ``tiff`` or ``raw``.
        bits: the source's depth, 8 or 16 (the default output depth).
        colour: the profile the samples were converted from (None: as decoded).
    """

    job: PhotoJob
    pixels: np.ndarray | torch.Tensor | None
    thumbnail: torch.Tensor | None
    metadata: PhotoMetadata
    kind: str
    bits: int
    colour: ColourProfile | None = None

    @property
    def capture_time(self) -> dt.datetime | None:
        return self.metadata.capture_time

    @property
    def nbytes(self) -> int:
        """Bytes held by the full-resolution samples."""
        if self.pixels is None:
            return 0
        if isinstance(self.pixels, torch.Tensor):
            return self.pixels.numel() * self.pixels.element_size()
        return int(self.pixels.nbytes)

    def without_pixels(self) -> Decoded:
        return dataclasses.replace(self, pixels=None)


@dataclass
class Rendered:
    """One retouched photo ready to write: ``(H, W, 3)`` uint8/uint16 output samples in the
    output profile, the output's metadata, the JPEG quality."""

    job: PhotoJob
    pixels: np.ndarray
    metadata: PhotoMetadata
    quality: int = 95


# ------------------------------------------------------------------ stages without a model

def decode_photo(job: PhotoJob, spec: DecodeSpec, *, keep_pixels: bool = True,
                 thumbnail: bool = True) -> Decoded:
    """Decode one photo into the numbers the model takes, and its predictor thumbnail.

    sRGB models take every format; photos in another profile (embedded ICC, or EXIF Adobe
    RGB) are converted to sRGB (``spec.colour_manage``; ``Decoded.colour`` keeps the
    profile they came in). XYZ models take camera raws only, developed by LibRaw to 16-bit
    linear XYZ, channels in (Z, Y, X) order as those models read their training PNGs.

    Raises:
        PhotoError, FileNotFoundError: one line naming the file (as ``read_photo``).
    """
    space = spec.input_space
    device = spec.jpeg_device if space == "srgb" else None
    photo = read_photo(job.source, spec.max_pixels, raw_space=space, jpeg_device=device)
    pixels, colour = photo.pixels, None
    if space == "srgb" and spec.colour_manage and photo.kind != "raw":
        profile = metadata_profile(photo.metadata, str(photo.path))
        if profile is not None and not profile.same_as(srgb_profile()):
            pixels, colour = to_srgb(_host(pixels), profile), profile
    if space == "xyz":
        if photo.kind != "raw":
            raise PhotoError(f"{job.source}: an XYZ model takes camera raws only (developed "
                             f"to linear XYZ); use an sRGB model for {photo.kind.upper()} "
                             "files")
        pixels = np.ascontiguousarray(pixels[..., ::-1])
    thumb = None
    if thumbnail:
        orientation = photo.metadata.orientation
        thumb = (predictor_input_torch(pixels, orientation, spec.long_edge)
                 if isinstance(pixels, torch.Tensor)
                 else predictor_input(pixels, orientation, spec.long_edge))
    return Decoded(job, pixels if keep_pixels else None, thumb, photo.metadata, photo.kind,
                   photo.bits, colour)


def check_params(params: Params, source: Path) -> None:
    """Refuse parameters that are not finite (a damaged model), one line naming the photo.

    Raises:
        PhotoError: NaN or infinite values.
    """
    bad = [key for key, value in params.items() if not bool(torch.isfinite(value).all())]
    if bad:
        raise PhotoError(f"{source}: the model predicted parameters that are not finite "
                         f"({', '.join(bad)}: NaN or infinite); the model is damaged")


def render(decoded: Decoded, plan: ApplyPlan, output: OutputOptions,
           backend: str = "numba") -> Rendered:
    """Apply one photo's plan at full resolution and convert to the output profile.

    Args:
        decoded: with its samples (``Decoded.pixels`` not None).
        plan: its curves + ``(3, D, D, D)`` LUT; the ``torch`` backend runs on its device.
        output: format, depth, profile, quality.
        backend: a name in :data:`ppr10k.retouch.apply.APPLY_BACKENDS`.

    Returns:
        Output samples in the output's depth (uint8 for JPEG; else ``output.bits`` or the
        source's), sRGB-tagged, or converted to the target profile from a 16-bit retouch
        (no 8-bit round trip). With the ``numba`` backend and equal depths the samples are
        written into ``decoded.pixels`` (no copy).
    """
    if decoded.pixels is None:
        raise ValueError(f"{decoded.job.source}: decoded without its samples; decode it "
                         "with keep_pixels=True to render it")
    apply = APPLY_BACKENDS[backend]
    bits = 8 if decoded.job.output.suffix == ".jpg" else (output.bits or decoded.bits)
    target = _target_profile(decoded, output.profile)
    if target is None or target.same_as(srgb_profile()):
        pixels = apply(decoded.pixels, plan, output_dtype(bits))
        metadata = _tagged(decoded.metadata, srgb_profile().icc, srgb=True)
    else:
        pixels = from_srgb(apply(decoded.pixels, plan, output_dtype(16)), target,
                           output_dtype(bits).type)
        metadata = (decoded.metadata.replace(icc_profile=decoded.metadata.icc_profile
                                             or target.icc)
                    if target is decoded.colour
                    else _tagged(decoded.metadata, target.icc, srgb=False))
    return Rendered(decoded.job, pixels, metadata, output.quality)


def write_rendered(rendered: Rendered) -> Path:
    """Write a rendered photo to its job's output, atomically, with its metadata."""
    return write_photo(rendered.job.output, rendered.pixels, rendered.metadata,
                       quality=rendered.quality)


def failure_result(job: PhotoJob, error: BaseException) -> PhotoResult:
    """A photo's failure as the report names it (one line)."""
    if isinstance(error, (PhotoError, FileNotFoundError)):
        reason = str(error)
    elif isinstance(error, MemoryError):
        reason = "out of memory (try --workers 1 or a smaller --max-pixels)"
    elif isinstance(error, OSError):
        reason = f"{type(error).__name__}: {error.strerror or error}"
    else:
        reason = f"unexpected {type(error).__name__}: {error}"
    return PhotoResult(job.source, job.output, "failed", reason)


def _host(pixels: np.ndarray | torch.Tensor) -> np.ndarray:
    return pixels.cpu().numpy() if isinstance(pixels, torch.Tensor) else pixels


def _target_profile(decoded: Decoded, choice: str | ColourProfile) -> ColourProfile | None:
    """The output's profile; None: sRGB."""
    if choice == "srgb":
        return None
    if choice == "input":
        if decoded.colour is not None:
            return decoded.colour
        if decoded.kind == "raw":  # LibRaw develops into the model's space
            return None
        return metadata_profile(decoded.metadata, str(decoded.job.source))
    return choice


def _tagged(metadata: PhotoMetadata, icc: bytes, srgb: bool) -> PhotoMetadata:
    """``metadata`` with the output's ICC profile, and EXIF ColorSpace saying sRGB (1) or
    uncalibrated (65535: the ICC profile tells), InteroperabilityIndex ``R98`` for sRGB."""
    carried = metadata.carried
    if carried is not None and carried.exif:
        exif = dict(carried.exif)
        if srgb or "Exif.Photo.ColorSpace" in exif:
            exif["Exif.Photo.ColorSpace"] = "1" if srgb else "65535"
        if "Exif.Iop.InteroperabilityIndex" in exif and srgb:
            exif["Exif.Iop.InteroperabilityIndex"] = "R98"
        carried = dataclasses.replace(carried, exif=exif)
    return metadata.replace(icc_profile=icc, carried=carried)


# ------------------------------------------------------------------ the engine

class Retoucher:
    """Retouch photos with one loaded adaptive-LUT model.

    Args:
        model: a model of any family, the path of a saved one (a training run folder
            means its ``best/``), or a zoo name (:mod:`ppr10k.models.zoo`); loaded once.
        output: what is written (:class:`OutputOptions`).
        group: group-consistent retouching (:class:`GroupOptions`).
        run: workers, device, limits (:class:`RunOptions`).

    Process-wide settings are left alone (torch's thread count, its TF32 flags: the
    predictor runs with TF32 off inside a block that restores them).

    Raises:
        ValueError: ``device`` ``cuda`` without a GPU, an unknown model name.

    Example:
        >>> from ppr10k.retouch import OutputOptions, Retoucher, RunOptions
        >>> engine = Retoucher("adaint-fivek-srgb", OutputOptions(fmt="jpg"),
        ...                    run=RunOptions(device="cpu", progress=False))
        >>> engine.backend, engine.batch_size
        ('numba', 1)
    """

    def __init__(self, model: torch.nn.Module | str | os.PathLike,
                 output: OutputOptions | None = None, group: GroupOptions | None = None,
                 run: RunOptions | None = None) -> None:
        self.output = output or OutputOptions()
        self.group = group or GroupOptions()
        self.run_options = run or RunOptions()
        self.device = resolve_device(self.run_options.device)
        #: the folder of a model loaded from disk (no output may be written there)
        self.model_folder: Path | None = None
        if not isinstance(model, torch.nn.Module):
            from ppr10k.models import load_model
            from ppr10k.models.zoo import resolve_model

            model_path = resolve_model(model)
            self.model_folder = folder_of(model_path)
            model = load_model(model_path, device=self.device)
        self.model = model.to(self.device).eval()
        self.backend = choose_backend(self.run_options.backend, self.device)
        self.batch_size = self.run_options.batch_size or (
            CUDA_BATCH if self.device.type == "cuda" else 1)
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- stage 1: plan ------------------------------------------------------------------
    @property
    def decode_spec(self) -> DecodeSpec:
        """The decode stage's settings for this model and run."""
        config = self.model.config
        jpeg_device = (str(self.device) if self.device.type == "cuda"
                       and self.run_options.gpu_decode else None)
        return DecodeSpec(config.input_space, config.thumbnail,
                          self.run_options.colour_manage, self.run_options.max_pixels,
                          jpeg_device)

    def plan_jobs(self, inputs: Sequence[str | os.PathLike],
                  out_dir: str | os.PathLike) -> JobPlan:
        """Discover the photos, name their outputs and check that nothing is endangered.

        Raises:
            OutputFolderError: ``out_dir`` would overwrite or mix with inputs (or holds the
                model).
            FileExistsError: an output exists and ``existing`` is ``refuse``.
        """
        if self.model_folder is not None:
            check_output_folder(out_dir, [self.model_folder], what="the model folder",
                                contain=False)
        found, missing, ignored = discover(inputs, recursive=self.run_options.recursive)
        failed = [PhotoResult(path, None, "failed", reason) for path, reason in missing]
        collisions = plan_outputs(found, out_dir, self.output.fmt,
                                  recursive=self.run_options.recursive)
        blocked = {id(job) for job, _ in collisions}
        failed.extend(PhotoResult(job.source, job.output, "failed", reason)
                      for job, reason in collisions)
        jobs = [PhotoJob(index, job.source, job.output)
                for index, job in enumerate(j for j in found if id(j) not in blocked)]
        if self.output.existing != "skip":
            check_not_replacing((job.output for job in jobs),
                                self.output.existing == "overwrite",
                                hint="pass --overwrite to replace it, --skip-existing to keep "
                                     "it, or choose another --out")
        plan = JobPlan(Path(out_dir), jobs, failed, ignored)
        if self.group.consistent:
            by = self.group.by
            plan.needs_capture_times = by == "time" or (
                by == "auto" and any(parse_stem(job.source.stem) is None for job in jobs))
            if not plan.needs_capture_times:
                plan.groups = self.form_groups(plan, [None] * len(jobs))
        return plan

    def form_groups(self, plan: JobPlan, capture_times: Sequence[dt.datetime | None]
                    ) -> list[list[int]]:
        """The groups of ``plan.jobs`` (indices), from capture times where the mode needs
        them (one per job, None: unknown)."""
        return group_photos([job.source for job in plan.jobs], self.group.by,
                            capture_times, self.group.gap)

    def open_output(self, plan: JobPlan, started_at: float | None = None) -> RunLock:
        """Lock the output folder for this run (one writer) and remove the temp files that
        killed runs left in the folders it writes (older than ``started_at``)."""
        lock = RunLock(plan.out_dir, "--out").acquire()
        try:
            for folder in {job.output.parent for job in plan.jobs}:
                remove_stale_temps(folder, time.time() if started_at is None else started_at)
        except BaseException:
            lock.release()
            raise
        return lock

    # -- stages 2-6 ---------------------------------------------------------------------
    def decode(self, job: PhotoJob, *, keep_pixels: bool = True,
               thumbnail: bool = True) -> Decoded:
        """:func:`decode_photo` with this engine's :attr:`decode_spec`."""
        return decode_photo(job, self.decode_spec, keep_pixels=keep_pixels,
                            thumbnail=thumbnail)

    def predict(self, thumbnails: Sequence[torch.Tensor]) -> list[Params]:
        """Each thumbnail's parameters, predicted in batches of thumbnails of one shape.

        Args:
            thumbnails: ``(1, 3, h, w)`` float32 tensors (any device).

        Returns:
            One dict per thumbnail, in order: name -> ``(1, ...)`` float32 CPU tensor.
            Check them with :func:`check_params`.
        """
        results: list[Params | None] = [None] * len(thumbnails)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, thumb in enumerate(thumbnails):
            by_shape.setdefault(tuple(thumb.shape), []).append(index)
        for members in by_shape.values():
            batch = torch.cat([thumbnails[i].to(self.device) for i in members])
            with self._lock, torch.no_grad(), ieee_float32():
                params = self.model.predict(batch)
            params = {key: value.float().cpu() for key, value in params.items()}
            for row, index in enumerate(members):
                results[index] = {key: value[row:row + 1] for key, value in params.items()}
        return results

    def average(self, params: Sequence[Params]) -> list[Params]:
        """One group's parameters pulled toward their mean by the family
        (:meth:`~ppr10k.models.AdaptiveLUT.average`, strength ``group.strength``)."""
        stacked = {key: torch.cat([p[key] for p in params]) for key in params[0]}
        with torch.no_grad():
            averaged = self.model.average(stacked, self.group.strength)
        return [{key: value[row:row + 1] for key, value in averaged.items()}
                for row in range(len(params))]

    def apply_plan(self, params: Params) -> ApplyPlan:
        """One photo's apply plan (curves + fused LUT) on the engine's device."""
        with self._lock, torch.no_grad():
            return self.model.plan({k: v.to(self.device) for k, v in params.items()})[0]

    def apply(self, decoded: Decoded, params: Params) -> Rendered:
        """:meth:`apply_plan`, then :func:`render` with this engine's options and backend."""
        return render(decoded, self.apply_plan(params), self.output, self.backend)

    def write(self, rendered: Rendered) -> Path:
        """:func:`write_rendered`."""
        return write_rendered(rendered)

    # -- the local run ------------------------------------------------------------------
    def run(self, inputs: Sequence[str | os.PathLike],
            out_dir: str | os.PathLike) -> RetouchReport:
        """Retouch ``inputs`` into ``out_dir`` on this machine (see :func:`retouch`).

        Returns:
            The :class:`RetouchReport`; ``report.exit_code`` is 1 when any photo failed.
        """
        start = time.perf_counter()
        started_at = time.time()
        plan = self.plan_jobs(inputs, out_dir)
        report = RetouchReport(ignored=plan.ignored)
        report.results.extend(plan.failed)
        lock = self.open_output(plan, started_at)
        progress = self.run_options.progress
        bar = tqdm(total=len(plan.jobs), unit="photo", disable=not progress,
                   dynamic_ncols=True, desc="retouch")
        try:
            if self.group.consistent:
                report.results.extend(self._run_groups(plan, bar, report))
            else:
                report.results.extend(self._run_single(plan, bar))
        finally:
            bar.close()
            lock.release()
        report.seconds = time.perf_counter() - start
        return report

    def _workers(self, tasks: int) -> int:
        return max(1, min(self.run_options.workers, tasks, os.cpu_count() or 1))

    def _skip(self, job: PhotoJob) -> bool:
        return self.output.existing == "skip" and job.output.exists()

    def _decode_task(self, job: PhotoJob) -> tuple[PhotoJob, Decoded | PhotoResult, float]:
        t0 = time.perf_counter()
        try:
            return job, self.decode(job), t0
        except Exception as error:  # noqa: BLE001 - one bad photo must not stop a batch
            return job, failure_result(job, error), t0

    def _predict_checked(self, decoded: list[Decoded]) -> list[Params | PhotoResult]:
        """Parameters of each decoded photo, or its failure."""
        try:
            predicted = self.predict([d.thumbnail for d in decoded])
        except Exception as error:  # noqa: BLE001 - reported per photo
            return [failure_result(d.job, error) for d in decoded]
        results: list[Params | PhotoResult] = []
        for d, params in zip(decoded, predicted, strict=True):
            try:
                check_params(params, d.job.source)
                results.append(params)
            except PhotoError as error:
                results.append(failure_result(d.job, error))
        return results

    def _decoded_batches(self, jobs: list[PhotoJob], pool: _Executor,
                         slots: threading.Semaphore
                         ) -> Iterator[list[tuple[PhotoJob, Decoded | PhotoResult, float]]]:
        """Decode ``jobs`` on ``pool`` in order and yield them in batches of
        :attr:`batch_size`; each decode takes a slot (the consumer gives it back), the next
        batch is decoded ahead while slots are free."""
        futures: dict[int, Future] = {}
        submitted = 0
        size = self.batch_size
        try:
            for first in range(0, len(jobs), size):
                last = min(first + size, len(jobs))
                while submitted < last:
                    slots.acquire()
                    futures[submitted] = pool.submit(self._decode_task, jobs[submitted])
                    submitted += 1
                while submitted < min(last + size, len(jobs)) and slots.acquire(
                        blocking=False):
                    futures[submitted] = pool.submit(self._decode_task, jobs[submitted])
                    submitted += 1
                yield [futures.pop(k).result() for k in range(first, last)]
        finally:
            for future in futures.values():
                future.cancel()

    def _run_single(self, plan: JobPlan, bar: tqdm) -> list[PhotoResult]:
        """Photo by photo: decode -> predict (batched) -> apply -> write, streaming."""
        results: dict[int, PhotoResult | Future] = {}
        todo = []
        for job in plan.jobs:
            if self._skip(job):
                results[job.index] = PhotoResult(job.source, job.output, "skipped")
                bar.update(1)
            else:
                todo.append(job)
        workers = self._workers(len(todo))
        slots = threading.Semaphore(workers + 2 * self.batch_size)

        def finish(decoded: Decoded, params: Params, t0: float) -> PhotoResult:
            job = decoded.job
            try:
                self.write(self.apply(decoded, params))
                return PhotoResult(job.source, job.output, "done",
                                   seconds=time.perf_counter() - t0)
            except Exception as error:  # noqa: BLE001 - reported per photo
                return failure_result(job, error)
            finally:
                slots.release()
                bar.update(1)

        with _executor(workers) as pool:
            for batch in self._decoded_batches(todo, pool, slots):
                good = [(d, t0) for _, d, t0 in batch if isinstance(d, Decoded)]
                for job, outcome, _ in batch:
                    if isinstance(outcome, PhotoResult):
                        results[job.index] = outcome
                        slots.release()
                        bar.update(1)
                predicted = self._predict_checked([d for d, _ in good])
                for (decoded, t0), params in zip(good, predicted, strict=True):
                    if isinstance(params, PhotoResult):
                        results[decoded.job.index] = params
                        slots.release()
                        bar.update(1)
                    else:
                        results[decoded.job.index] = pool.submit(finish, decoded, params, t0)
                del batch, good, predicted
            return [_resolved(results[job.index]) for job in plan.jobs]

    def _budget(self, device: torch.device) -> int:
        if self.run_options.memory_budget is not None:
            return self.run_options.memory_budget
        if device.type == "cuda":
            total = torch.cuda.get_device_properties(device).total_memory
        else:
            total = physical_memory() or 0
        return int(BUDGET_SHARE * total)

    def _run_groups(self, plan: JobPlan, bar: tqdm, report: RetouchReport
                    ) -> list[PhotoResult]:
        """Group by group: every member's parameters (its samples kept within the memory
        budget), the group's average, then apply and write (decoding again what was not
        kept). Groups known from the plan are done a few at a time, so each photo's samples
        are usually held from its one decode to its write; groups formed from capture
        times are known only once every photo is decoded."""
        jobs = plan.jobs
        results: dict[int, PhotoResult] = {}
        workers = self._workers(len(jobs))
        groups = plan.groups
        windows = ([list(range(len(jobs)))] if groups is None
                   else _windows(groups, max(2 * self.batch_size, workers, 8)))
        state = _GroupState()
        with tqdm(total=len(jobs), unit="photo", disable=not self.run_options.progress,
                  dynamic_ncols=True, desc="analyse", leave=False) as first, \
                _executor(workers) as pool:
            for window in windows:
                self._analyse([jobs[i] for i in window], plan, pool, workers, state, first)
                if groups is None:
                    groups = self.form_groups(plan, [state.times.get(i) for i in
                                                     range(len(jobs))])
                members = set(window)
                numbered = [(n, g) for n, g in enumerate(groups) if g[0] in members]
                shared = self._shared(numbered, state.predicted)
                futures = [pool.submit(self._apply_member, jobs[i], state, shared, bar)
                           for i in window]
                results.update((i, future.result()) for i, future in zip(window, futures,
                                                                         strict=True))
        report.groups = [[jobs[i].source for i in group] for group in groups]
        report.group_by = self.group.by
        return [results[job.index] for job in jobs]

    def _analyse(self, jobs: list[PhotoJob], plan: JobPlan, pool: _Executor, workers: int,
                 state: _GroupState, bar: tqdm) -> None:
        """Pass 1 over ``jobs``: decode, predict; keep samples within the budget."""
        slots = threading.Semaphore(workers + 2 * self.batch_size)
        for batch in self._decoded_batches(jobs, pool, slots):
            good = [d for _, d, _ in batch if isinstance(d, Decoded)]
            for job, outcome, _ in batch:
                if isinstance(outcome, PhotoResult):
                    state.failed[job.index] = outcome
                    if plan.needs_capture_times:  # grouped as its header says, as before
                        state.times[job.index] = read_metadata(job.source,
                                                               carried=False).capture_time
            for decoded, params in zip(good, self._predict_checked(good), strict=True):
                index = decoded.job.index
                state.times[index] = decoded.capture_time
                if isinstance(params, PhotoResult):
                    state.failed[index] = params
                    continue
                state.predicted[index] = params
                state.keep(decoded, self._budget)
            for _ in batch:
                slots.release()
                bar.update(1)
            del batch, good

    def _shared(self, numbered: list[tuple[int, list[int]]], predicted: dict[int, Params]
                ) -> dict[int, tuple[Params, int]]:
        """Each member's averaged parameters and its group's number."""
        shared: dict[int, tuple[Params, int]] = {}
        for number, group in numbered:
            members = [i for i in group if i in predicted]
            if members:
                averaged = self.average([predicted[i] for i in members])
                shared.update({i: (p, number) for i, p in zip(members, averaged,
                                                               strict=True)})
        return shared

    def _apply_member(self, job: PhotoJob, state: _GroupState,
                      shared: dict[int, tuple[Params, int]], bar: tqdm) -> PhotoResult:
        """Pass 2 for one photo: its group's parameters applied and written."""
        decoded = state.release(job.index)
        try:
            if job.index in state.failed:
                return state.failed[job.index]
            params, number = shared[job.index]
            flat = [round(float(v), 6) for v in params["weights"][0]]
            if self._skip(job):
                return PhotoResult(job.source, job.output, "skipped", weights=flat,
                                   group=number)
            t0 = time.perf_counter()
            try:
                if decoded is None:
                    decoded = self.decode(job, thumbnail=False)
                self.write(self.apply(decoded, params))
            except Exception as error:  # noqa: BLE001 - reported per photo
                return failure_result(job, error)
            return PhotoResult(job.source, job.output, "done",
                               seconds=time.perf_counter() - t0, weights=flat, group=number)
        finally:
            bar.update(1)


class _GroupState:
    """Group mode's state between its passes: parameters, capture times, failures, and the
    decoded samples kept (bytes held per device, within a budget)."""

    def __init__(self) -> None:
        self.predicted: dict[int, Params] = {}
        self.times: dict[int, dt.datetime | None] = {}
        self.failed: dict[int, PhotoResult] = {}
        self.kept: dict[int, Decoded] = {}
        self.held: dict[str, int] = {}
        self._lock = threading.Lock()

    def keep(self, decoded: Decoded, budget) -> bool:
        """Keep ``decoded``'s samples when they fit ``budget(device)`` with those held."""
        where = str(decoded.pixels.device if isinstance(decoded.pixels, torch.Tensor)
                    else "cpu")
        with self._lock:
            if self.held.get(where, 0) + decoded.nbytes > budget(torch.device(where)):
                return False
            self.held[where] = self.held.get(where, 0) + decoded.nbytes
            self.kept[decoded.job.index] = dataclasses.replace(decoded, thumbnail=None)
            return True

    def release(self, index: int) -> Decoded | None:
        """The samples kept for photo ``index`` (None: not kept), no longer counted."""
        with self._lock:
            decoded = self.kept.pop(index, None)
            if decoded is not None:
                where = str(decoded.pixels.device if isinstance(decoded.pixels, torch.Tensor)
                            else "cpu")
                self.held[where] -= decoded.nbytes
            return decoded


def _windows(groups: list[list[int]], size: int) -> list[list[int]]:
    """Consecutive whole groups, at least ``size`` photos a window (the last may be less);
    each window's photo indices in order."""
    windows: list[list[int]] = []
    current: list[int] = []
    for group in groups:
        current.extend(group)
        if len(current) >= size:
            windows.append(sorted(current))
            current = []
    if current:
        windows.append(sorted(current))
    return windows


def _resolved(value: PhotoResult | Future) -> PhotoResult:
    return value.result() if isinstance(value, Future) else value


class _Executor:
    """The part of an executor the engine uses."""

    def submit(self, fn, *args) -> Future: ...  # pragma: no cover - protocol


class _Inline(_Executor):
    """Runs each task at once in the caller's thread (one worker)."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as error:  # noqa: BLE001 - delivered through the future
            future.set_exception(error)
        return future


class _executor:
    """A thread pool of ``workers`` threads (inline for one); on an error or Ctrl-C the
    tasks not started are cancelled."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> _Executor:
        if self.workers <= 1:
            return _Inline()
        self.pool = ThreadPoolExecutor(max_workers=self.workers)
        return self.pool

    def __exit__(self, kind, error, traceback) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=error is not None)
