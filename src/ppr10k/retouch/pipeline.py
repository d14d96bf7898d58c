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

:func:`retouch` is a thin wrapper around the engine, :class:`ppr10k.retouch.Retoucher`
(:mod:`ppr10k.retouch.engine`), which holds the loaded model, takes its options as three
small objects and exposes each stage.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from ppr10k.io.colour import ColourProfile, read_profile_file
from ppr10k.io.photo import DEFAULT_MAX_PIXELS, Photo
from ppr10k.lut.apply import apply_lut
from ppr10k.models.lut3d import ApplyPlan
from ppr10k.retouch.apply import apply_numba, apply_torch, output_dtype
from ppr10k.retouch.engine import Retoucher
from ppr10k.retouch.options import GroupOptions, OutputOptions, RunOptions
from ppr10k.retouch.report import PhotoResult, RetouchReport

__all__ = ["PhotoResult", "RetouchReport", "apply_plan", "output_profile_of", "retouch",
           "retouch_photo"]


def apply_plan(pixels: np.ndarray, plan: ApplyPlan, out: np.ndarray) -> np.ndarray:
    """Apply one image's plan (curves + ``(3, D, D, D)`` LUT) to ``pixels`` into ``out``:
    the numba kernel for CPU tensors, the torch path on the plan's device for CUDA ones
    (:mod:`ppr10k.retouch.apply`)."""
    if plan.lut.device.type != "cuda":
        if plan.curves is None:
            return apply_lut(pixels, plan.lut, out=out)
        return apply_lut(pixels, plan.lut, out=out, curves=plan.curves)
    out[...] = apply_torch(pixels, plan, out.dtype)
    return out


def retouch_photo(photo: Photo, plan: ApplyPlan, bits: int) -> np.ndarray:
    """Apply one image's plan to a decoded photo at full resolution.

    Args:
        photo: the decoded photo.
        plan: curves + ``(3, D, D, D)`` LUT (CPU: numba kernel; CUDA: torch).
        bits: 8 or 16, the output depth.

    Returns:
        ``(H, W, 3)`` uint8 or uint16; in place in ``photo.pixels`` when the depth matches
        (CPU).
    """
    if plan.lut.device.type == "cuda":
        return apply_torch(photo.pixels, plan, output_dtype(bits))
    return apply_numba(photo.pixels, plan, output_dtype(bits))


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

    A thin wrapper: builds :class:`OutputOptions`, :class:`GroupOptions` and
    :class:`RunOptions` and runs a :class:`Retoucher` once (which loads the model once;
    keep a ``Retoucher`` to retouch several batches with one model).

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
    existing = "skip" if skip_existing else "overwrite" if overwrite else "refuse"
    group = GroupOptions(group_consistent, group_by, group_gap, group_strength)
    run = RunOptions(workers=workers, device=device, recursive=recursive,
                     max_pixels=max_pixels, colour_manage=colour_manage, progress=progress)
    output = OutputOptions(fmt, bits, quality, output_profile_of(output_profile), existing)
    return Retoucher(model, output, group, run).run(inputs, out_dir)
