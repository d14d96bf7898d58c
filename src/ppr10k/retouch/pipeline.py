"""Retouch folders of full-resolution photos and raws with an adaptive-LUT model.

For each photo: decode it (JPEG, PNG, 8/16-bit TIFF, camera raw), reduce a copy to the
long edge the model was trained on (``config.thumbnail``; photos no larger are used as
they are), let the model's family predict its parameters and turn them into an apply plan
(optional per-channel curves, then one 3D LUT), apply that plan to the full-resolution
samples (in place where the output depth equals the input's, so an 8K 16-bit photo needs
no float copy), and write the result with the input's EXIF, atomically. A photo that
cannot be read is reported by name with the reason and the run goes on.

Colour: sRGB models see sRGB numbers. Inputs in another profile (embedded ICC, or Adobe RGB
as EXIF says) are converted to sRGB before the predictor and the LUT
(:mod:`ppr10k.io.colour`); outputs are sRGB-tagged, or converted back to the input's
profile or another (``output_profile``) from a 16-bit retouch.

With ``group_consistent``, the photos of a group (:mod:`ppr10k.retouch.groups`) share
their parameters: a first pass predicts every photo's parameters, the family averages
each group's (:meth:`~ppr10k.models.AdaptiveLUT.average`), a second pass applies them.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ppr10k.io.colour import (
    ColourProfile,
    from_srgb,
    input_profile,
    read_profile_file,
    srgb_profile,
    to_srgb,
)
from ppr10k.io.guard import (
    RunLock,
    check_not_replacing,
    check_output_folder,
    folder_of,
    remove_stale_temps,
)
from ppr10k.io.image import SAMPLE_PEAKS
from ppr10k.io.metadata import read_metadata
from ppr10k.io.photo import DEFAULT_MAX_PIXELS, Photo, PhotoError, read_photo, write_photo
from ppr10k.lut import apply_curves_and_lut
from ppr10k.lut.apply import apply_lut
from ppr10k.models.device import resolve_device
from ppr10k.models.lut3d import ApplyPlan
from ppr10k.retouch.discover import Job, discover, plan_outputs
from ppr10k.retouch.groups import GROUP_MODES, group_photos
from ppr10k.retouch.thumbnail import predictor_input

__all__ = ["PhotoResult", "RetouchReport", "apply_plan", "retouch", "retouch_photo"]

_CUDA_TILE_ROWS = 512


@dataclass
class PhotoResult:
    """What happened to one input: ``status`` is ``done``, ``skipped`` or ``failed``."""

    source: Path
    output: Path | None
    status: str
    reason: str = ""
    seconds: float = 0.0
    weights: list[float] | None = None
    group: int | None = None


@dataclass
class RetouchReport:
    """All results of a run, with the summary printed at its end."""

    results: list[PhotoResult] = field(default_factory=list)
    ignored: int = 0
    seconds: float = 0.0
    #: with ``group_consistent``: the photos of each group, and how they were grouped
    groups: list[list[Path]] | None = None
    group_by: str = ""

    def by_status(self, status: str) -> list[PhotoResult]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> list[PhotoResult]:
        return self.by_status("failed")

    @property
    def exit_code(self) -> int:
        """0 when every photo was retouched or skipped; 1 when any failed or none was found."""
        return 1 if self.failed or not self.results else 0

    def summary(self) -> str:
        if not self.results:
            other = (f" ({self.ignored} other file(s) ignored: masks, other types)"
                     if self.ignored else "")
            return ("no photos found in the inputs: looked for JPEG, PNG, TIFF and camera "
                    f"raw files{other}; give photo files or folders that hold them "
                    "(--recursive for subfolders)")
        done, skipped, failed = (len(self.by_status(s)) for s in ("done", "skipped", "failed"))
        rate = f", {done / self.seconds:.2f} photos/s" if done and self.seconds > 0 else ""
        lines = [f"retouched {done}, skipped {skipped} (output exists), failed {failed} "
                 + f"in {self.seconds:.1f} s{rate}"]
        if self.groups is not None:
            lines.extend(_describe_groups(self.groups, self.group_by))
        if self.ignored:
            lines.append(f"ignored {self.ignored} non-photo file(s) in the input folders "
                         "(masks beside their photos, other types)")
        if failed:
            lines.append("failed:")
            lines.extend(f"  {r.source}: {_strip_path(r.reason, r.source)}"
                         for r in self.failed)
        return "\n".join(lines)


def _describe_groups(groups: list[list[Path]], group_by: str, names: int = 6) -> list[str]:
    """One line per group: its size, folder and first few photo names."""
    lines = [f"{len(groups)} group(s) (--group-by {group_by}):"]
    for number, members in enumerate(groups, 1):
        shown = ", ".join(path.name for path in members[:names])
        more = f", ... and {len(members) - names} more" if len(members) > names else ""
        folder = members[0].parent if members else Path()
        lines.append(f"  group {number}: {len(members)} photo(s) in {folder}: {shown}{more}")
    return lines


def _strip_path(reason: str, path: Path) -> str:
    """Reasons from io start with the path; the summary prints it already."""
    return reason.removeprefix(f"{path}: ")


def apply_plan(pixels: np.ndarray, plan: ApplyPlan, out: np.ndarray) -> np.ndarray:
    """Apply one image's plan (curves + ``(3, D, D, D)`` LUT) to ``pixels`` into ``out``:
    the numba kernel for CPU tensors, the torch op in row tiles when the plan is on CUDA."""
    lut = plan.lut
    if lut.device.type != "cuda":
        if plan.curves is None:
            return apply_lut(pixels, lut, out=out)
        return apply_lut(pixels, lut, out=out, curves=plan.curves)
    curves = None if plan.curves is None else (plan.curves[0][None], plan.curves[1][None])
    peak_in = SAMPLE_PEAKS.get(pixels.dtype, 1.0)
    peak_out = SAMPLE_PEAKS[out.dtype] if out.dtype.kind == "u" else None
    for top in range(0, pixels.shape[0], _CUDA_TILE_ROWS):
        rows = slice(top, top + _CUDA_TILE_ROWS)
        tile = torch.from_numpy(np.ascontiguousarray(pixels[rows])).to(lut.device)
        x = (tile.float() / peak_in).permute(2, 0, 1)[None]
        y = apply_curves_and_lut(lut, x, curves)[0].permute(1, 2, 0)
        if peak_out is not None:
            y = torch.round(y.clamp(0.0, 1.0) * peak_out)
            y = y.to(torch.int32 if out.dtype == np.uint16 else torch.uint8)
        out[rows] = y.cpu().numpy().astype(out.dtype, copy=False)
    return out


def retouch_photo(photo: Photo, plan: ApplyPlan, bits: int) -> np.ndarray:
    """Apply one image's plan to a decoded photo at full resolution.

    Args:
        photo: the decoded photo.
        plan: curves + ``(3, D, D, D)`` LUT (CPU: numba kernel; CUDA: torch).
        bits: 8 or 16, the output depth.

    Returns:
        ``(H, W, 3)`` uint8 or uint16; in place in ``photo.pixels`` when the depth matches.
    """
    dtype = np.uint8 if bits == 8 else np.uint16
    pixels = photo.pixels
    out = pixels if pixels.dtype == dtype and pixels.flags.writeable else np.empty(
        pixels.shape, dtype)
    return apply_plan(pixels, plan, out)


@dataclass
class _Context:
    model: torch.nn.Module
    device: torch.device
    bits: int | None
    fmt: str | None
    max_pixels: int | None
    quality: int
    #: ``srgb``, ``input``, or a profile read from a file (:func:`output_profile_of`)
    output_profile: str | ColourProfile = "srgb"
    #: convert inputs from their profile (False: their numbers as they are, as the authors'
    #: own test code read them)
    colour_manage: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, path: Path) -> Photo:
        """Decode a photo into the numbers the model takes (``config.input_space``).

        sRGB models take every format. XYZ models (the published FiveK XYZ ones) take camera
        raws only, developed by LibRaw to 16-bit linear XYZ, channels in (Z, Y, X) order as
        those models read their training PNGs; their output is sRGB. Photos in another
        profile (embedded ICC, or EXIF Adobe RGB) are converted to sRGB for sRGB models
        (:mod:`ppr10k.io.colour`; ``photo.colour`` keeps the profile they came in).
        """
        space = self.model.config.input_space
        photo = read_photo(path, self.max_pixels, raw_space=space)
        if space == "srgb" and self.colour_manage:
            profile = input_profile(photo)
            if profile is not None and not profile.same_as(srgb_profile()):
                photo = dataclasses.replace(photo, pixels=to_srgb(photo.pixels, profile),
                                            colour=profile)
        if space == "xyz":
            if photo.kind != "raw":
                raise PhotoError(f"{path}: an XYZ model takes camera raws only (developed to "
                                 f"linear XYZ); use an sRGB model for {photo.kind.upper()} "
                                 "files")
            photo = dataclasses.replace(
                photo, pixels=np.ascontiguousarray(photo.pixels[..., ::-1]))
        return photo

    def params(self, photo: Photo) -> dict[str, torch.Tensor]:
        """The model's parameters for the photo (batch of 1), from its thumbnail."""
        thumb = predictor_input(photo.pixels, photo.metadata.orientation,
                                self.model.config.thumbnail)
        with self.lock, torch.no_grad():
            params = {k: v.float() for k, v in self.model.predict(thumb.to(self.device)).items()}
        bad = [key for key, value in params.items() if not bool(torch.isfinite(value).all())]
        if bad:
            raise PhotoError(f"{photo.path}: the model predicted parameters that are not "
                             f"finite ({', '.join(bad)}: NaN or infinite); the model is "
                             "damaged")
        return params

    def plan(self, params: dict[str, torch.Tensor]) -> ApplyPlan:
        """The apply plan of one photo's parameters (batch of 1)."""
        with self.lock, torch.no_grad():
            return self.model.plan({k: v.to(self.device) for k, v in params.items()})[0]

    def output_bits(self, photo: Photo, output: Path) -> int:
        if output.suffix == ".jpg":
            return 8
        return self.bits or photo.bits

    def target(self, photo: Photo) -> ColourProfile | None:
        """The output's profile; None: sRGB."""
        if self.output_profile == "srgb":
            return None
        if self.output_profile == "input":
            return photo.colour if photo.colour is not None else _input_if_tagged(photo)
        return self.output_profile

    def write(self, photo: Photo, plan: ApplyPlan, output: Path) -> None:
        """Retouch at full resolution and write, tagged sRGB or converted to the target
        profile (from a 16-bit retouch, so no 8-bit round trip)."""
        bits = self.output_bits(photo, output)
        target = self.target(photo)
        if target is None or target.same_as(srgb_profile()):
            result = retouch_photo(photo, plan, bits)
            metadata = _tagged(photo.metadata, srgb_profile().icc, srgb=True)
        else:
            result = from_srgb(retouch_photo(photo, plan, 16), target,
                               np.uint8 if bits == 8 else np.uint16)
            metadata = (photo.metadata.replace(icc_profile=photo.metadata.icc_profile
                                               or target.icc)
                        if target is photo.colour
                        else _tagged(photo.metadata, target.icc, srgb=False))
        write_photo(output, result, metadata, quality=self.quality)


def _input_if_tagged(photo: Photo) -> ColourProfile | None:
    """An input's own profile when it was not converted (sRGB-tagged inputs, raws)."""
    return None if photo.kind == "raw" else input_profile(photo)


def _tagged(metadata, icc: bytes, srgb: bool):
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


def output_profile_of(choice: str | os.PathLike | ColourProfile | None
                      ) -> str | ColourProfile:
    """``srgb`` (default), ``input``, or the profile in an ICC file.

    Raises:
        PhotoError: an unreadable or non-RGB profile file, one line.
    """
    if isinstance(choice, ColourProfile):
        return choice
    if choice in (None, "srgb", "input"):
        return choice or "srgb"
    return read_profile_file(choice)


def _failure(job: Job, error: BaseException) -> PhotoResult:
    if isinstance(error, (PhotoError, FileNotFoundError)):
        reason = str(error)
    elif isinstance(error, MemoryError):
        reason = "out of memory (try --workers 1 or a smaller --max-pixels)"
    elif isinstance(error, OSError):
        reason = f"{type(error).__name__}: {error.strerror or error}"
    else:
        reason = f"unexpected {type(error).__name__}: {error}"
    return PhotoResult(job.source, job.output, "failed", reason)


def _run(tasks: Sequence, fn: Callable, workers: int, bar: tqdm | None) -> list:
    """``fn`` over ``tasks`` on ``workers`` threads, in order; progress bar per task.

    At most one thread per task and per CPU, whatever ``workers`` asks for.
    """
    workers = min(workers, len(tasks), os.cpu_count() or 1)

    def step(task):
        result = fn(task)
        if bar is not None:
            bar.update(1)
        return result

    if workers <= 1:
        return [step(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(step, task) for task in tasks]
        try:
            return [future.result() for future in futures]
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise


def retouch(inputs: Sequence[str | os.PathLike], model: torch.nn.Module | str | os.PathLike,
            out_dir: str | os.PathLike, *, fmt: str | None = None, bits: int | None = None,
            group_consistent: bool = False, group_by: str = "auto", group_gap: float = 300.0,
            group_strength: float = 1.0, skip_existing: bool = False,
            overwrite: bool = False, workers: int = 1,
            device: str = "auto", recursive: bool = False,
            max_pixels: int | None = DEFAULT_MAX_PIXELS, quality: int = 95,
            output_profile: str | os.PathLike | ColourProfile = "srgb",
            colour_manage: bool = True, progress: bool = True) -> RetouchReport:
    """Retouch photos and raws at full resolution with an adaptive-LUT model.

    Args:
        inputs: files and folders (folders: their photos; ``recursive``: also below).
        model: a model of any family, the path of a saved one (a training run folder
            means its ``best/``), or a zoo name (:mod:`ppr10k.models.zoo`).
        out_dir: output folder; outputs mirror the inputs' relative paths. It may not be an
            input folder (nor inside one when ``recursive``); outputs never overwrite inputs.
            Temp files that killed runs left in the folders written are removed.
        fmt: ``jpg``, ``png`` or ``tif``; default: the input's format (raws: ``tif``).
        bits: 8 or 16 for PNG/TIFF; default: the input's depth (raws: 16). JPEG is 8-bit.
        group_consistent: share smoothed LUT weights within groups of photos.
        group_by: ``auto``, ``prefix`` (PPR10K ``G_``), ``folder`` or ``time``.
        group_gap: seconds between shots that still belong to one group (``time``).
        group_strength: 0..1, how far each photo's weights move to the group mean.
        skip_existing: leave photos whose output exists (outputs are written atomically,
            so an existing output is complete): resumes an interrupted batch.
        overwrite: replace existing output files. Without it (or ``skip_existing``) an
            existing output refuses the whole run before anything is written.
        workers: photos processed at once (threads; the LUT kernel itself uses every core);
            never more than the photos or the CPUs.
        device: ``auto``, ``cpu`` or ``cuda`` (model and LUT application).
        max_pixels: refuse larger images (decompression bombs); None: no limit.
        quality: JPEG quality.
        output_profile: ``srgb`` (default: outputs are sRGB, tagged so), ``input`` (converted
            back to each input's profile: embedded ICC, or Adobe RGB from EXIF), or the path
            of an RGB ICC profile to convert into. sRGB models see every input converted to
            sRGB first (:mod:`ppr10k.io.colour`).
        colour_manage: convert inputs from their profile (default). False: the model sees
            the stored numbers as they are, as the papers' own test code did (their goldens
            are reproduced exactly this way, whatever profile an input carries).
        progress: show a progress bar (photos/s).

    Process-wide settings are left alone. On a CPU, one torch thread
    (``torch.set_num_threads(1)``, as ``ppr10k retouch`` sets for its process) leaves the
    cores to the LUT kernel: the predictor's input is small.

    Returns:
        The :class:`RetouchReport`; ``report.exit_code`` is 1 when any photo failed.

    Raises:
        ValueError: bad options; :class:`~ppr10k.retouch.discover.OutputFolderError` for an
            output folder that would overwrite or mix with inputs.
        FileExistsError: an output exists and neither ``overwrite`` nor ``skip_existing``;
            or another run writes into ``out_dir`` (it is locked while a run writes).
    """
    start = time.perf_counter()
    started_at = time.time()
    if bits not in (None, 8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    if bits == 16 and fmt == "jpg":
        raise ValueError("JPEG is 8-bit: use --format png or tif for 16-bit output")
    if group_by not in GROUP_MODES:
        raise ValueError(f"group mode must be one of {GROUP_MODES}, got {group_by!r}")
    if not 0.0 <= group_strength <= 1.0:
        raise ValueError(f"group strength must be in [0, 1], got {group_strength}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    target_profile = output_profile_of(output_profile)
    torch_device = resolve_device(device)
    if not isinstance(model, torch.nn.Module):
        from ppr10k.models import load_model
        from ppr10k.models.zoo import resolve_model

        model_path = resolve_model(model)
        check_output_folder(out_dir, [folder_of(model_path)], what="the model folder",
                            contain=False)
        model = load_model(model_path, device=torch_device)
    model = model.to(torch_device).eval()

    jobs, missing, ignored = discover(inputs, recursive=recursive)
    report = RetouchReport(ignored=ignored)
    report.results.extend(PhotoResult(path, None, "failed", reason) for path, reason in missing)
    collisions = plan_outputs(jobs, out_dir, fmt, recursive=recursive)
    blocked = {id(job) for job, _ in collisions}
    report.results.extend(PhotoResult(job.source, job.output, "failed", reason)
                          for job, reason in collisions)
    jobs = [job for job in jobs if id(job) not in blocked]
    if not skip_existing:
        check_not_replacing((job.output for job in jobs), overwrite,
                            hint="pass --overwrite to replace it, --skip-existing to keep it, "
                                 "or choose another --out")
    ctx = _Context(model, torch_device, bits, fmt, max_pixels, quality, target_profile,
                   colour_manage)
    lock = RunLock(out_dir, "--out").acquire()  # one writer per output folder
    try:
        for folder in {job.output.parent for job in jobs}:  # what killed runs left there
            remove_stale_temps(folder, started_at)
    except BaseException:
        lock.release()
        raise

    bar = tqdm(total=len(jobs), unit="photo", disable=not progress, dynamic_ncols=True,
               desc="retouch")
    try:
        if group_consistent:
            report.results.extend(_retouch_groups(jobs, ctx, group_by, group_gap,
                                                  group_strength, skip_existing, workers,
                                                  bar, progress, report))
        else:
            report.results.extend(_run(jobs, lambda job: _single(job, ctx, skip_existing),
                                       workers, bar))
    finally:
        bar.close()
        lock.release()
    report.seconds = time.perf_counter() - start
    return report


def _single(job: Job, ctx: _Context, skip_existing: bool) -> PhotoResult:
    t0 = time.perf_counter()
    if skip_existing and job.output.exists():
        return PhotoResult(job.source, job.output, "skipped")
    try:
        photo = ctx.read(job.source)
        params = ctx.params(photo)
        ctx.write(photo, ctx.plan(params), job.output)
    except Exception as error:  # noqa: BLE001 - one bad photo must not stop a batch
        return _failure(job, error)
    return PhotoResult(job.source, job.output, "done", seconds=time.perf_counter() - t0)


def _retouch_groups(jobs: list[Job], ctx: _Context, group_by: str, gap: float,
                    strength: float, skip_existing: bool, workers: int, bar: tqdm,
                    progress: bool, report: RetouchReport) -> list[PhotoResult]:
    """Retouch group by group (``report.groups`` records the groups formed)."""
    times = [read_metadata(job.source, carried=False).capture_time
             if group_by in ("time", "auto") else None for job in jobs]
    groups = group_photos([job.source for job in jobs], group_by, times, gap)
    report.groups = [[jobs[i].source for i in group] for group in groups]
    report.group_by = group_by
    results: dict[int, PhotoResult] = {}
    predicted: dict[int, dict[str, torch.Tensor]] = {}

    # pass 1: every member's own parameters (members already written count too)
    def predict(index: int) -> None:
        try:
            photo = ctx.read(jobs[index].source)
            predicted[index] = ctx.params(photo)
        except Exception as error:  # noqa: BLE001 - reported per photo
            results[index] = _failure(jobs[index], error)

    with tqdm(total=len(jobs), unit="photo", disable=not progress, dynamic_ncols=True,
              desc="analyse", leave=False) as first:
        _run(range(len(jobs)), predict, workers, first)

    # pass 2: each group's parameters averaged by the family, applied at full resolution
    shared: dict[int, tuple[dict[str, torch.Tensor], int]] = {}
    for number, group in enumerate(groups):
        members = [i for i in group if i in predicted]
        if not members:
            continue
        stacked = {key: torch.cat([predicted[i][key] for i in members])
                   for key in predicted[members[0]]}
        with torch.no_grad():
            averaged = ctx.model.average(stacked, strength)
        for row, index in enumerate(members):
            shared[index] = ({k: v[row:row + 1] for k, v in averaged.items()}, number)

    def apply(index: int) -> PhotoResult:
        job = jobs[index]
        if index in results:
            return results[index]
        params, number = shared[index]
        flat = [round(float(v), 6) for v in params["weights"][0]]
        if skip_existing and job.output.exists():
            return PhotoResult(job.source, job.output, "skipped", weights=flat, group=number)
        t0 = time.perf_counter()
        try:
            photo = ctx.read(job.source)
            ctx.write(photo, ctx.plan(params), job.output)
        except Exception as error:  # noqa: BLE001 - reported per photo
            return _failure(job, error)
        return PhotoResult(job.source, job.output, "done", seconds=time.perf_counter() - t0,
                           weights=flat, group=number)

    return _run(range(len(jobs)), apply, workers, bar)
