"""Score a folder of results against targets and masks: per-image, per-group and dataset rows.

Defines :func:`evaluate_folders` (returning an :class:`Evaluation`), :func:`score_files`,
:func:`group_rows` and :func:`summarize`.

Identical images have an infinite PSNR (and PSNR^HC). The per-image rows keep ``inf``; the
averages (per group and over the dataset) count each image's PSNR as at most ``psnr_cap``
dB (default 100 dB, above what any non-identical 8-bit 360p pair reaches in practice: one
code off in one sample of a 540x360 image is 105.8 dB). ``psnr_cap=None`` averages the raw
values, as the MATLAB script does, which makes the average infinite.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from ppr10k.evaluate import _kernel
from ppr10k.evaluate.metrics import group_consistency, resize_mask, score_pair
from ppr10k.evaluate.pairing import MissingFilesError, Pair, Pairing, pair_files, stem_sort_key
from ppr10k.io.colour import metadata_profile, srgb_profile, to_srgb
from ppr10k.io.decode import PhotoError
from ppr10k.io.image import read_image_native, read_mask
from ppr10k.io.metadata import read_metadata

#: The paper's measures, in its column order.
MEASURES = ("psnr", "delta_e", "psnr_hc", "delta_e_hc")
#: Default cap (dB) on a single image's PSNR inside averages.
DEFAULT_PSNR_CAP = 100.0


class Evaluation(NamedTuple):
    """What :func:`evaluate_folders` returns (unpacks as ``images, groups, summary``).

    images: one dict per photo (stem, group, file names, measures, mean L*a*b*...).
    groups: one dict per group (mean measures, ``glc`` term, variances of a* and b*).
    summary: the dataset measures ``psnr, delta_e, psnr_hc, delta_e_hc, glc, n_images,
        n_groups`` plus bookkeeping (``n_identical``, ``psnr_cap``, ``missing``...).
    """

    images: list[dict]
    groups: list[dict]
    summary: dict


#: What reading a damaged image file raises (Pillow, tifffile, imagecodecs, NumPy).
_READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError,
                RuntimeError, MemoryError)


def _read(path: os.PathLike, reader: Callable[[os.PathLike], np.ndarray]) -> np.ndarray:
    """``reader(path)``; a damaged file is a :class:`PhotoError` naming it."""
    try:
        return reader(path)
    except PhotoError:
        raise
    except _READ_ERRORS as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
        raise PhotoError(f"{path}: cannot read image ({reason})") from None


def read_srgb(path: os.PathLike, strict_colour: bool = False) -> np.ndarray:
    """An image's samples as sRGB: files tagged with another profile (embedded ICC, or Adobe
    RGB in EXIF) are converted (:mod:`ppr10k.io.colour`), or refused with ``strict_colour``.

    Raises:
        PhotoError: damaged, an unreadable or non-RGB profile, or (``strict_colour``) not
            sRGB; one line naming the file.
    """
    pixels = _read(path, read_image_native)
    profile = metadata_profile(read_metadata(path, carried=False), str(path))
    if profile is None or profile.same_as(srgb_profile()):
        return pixels
    if strict_colour:
        raise PhotoError(f"{path}: tagged {profile.name!r}, not sRGB; the measures assume "
                         "sRGB (convert it, or drop --strict-colour to convert on reading)")
    return to_srgb(pixels, profile)


def score_files(pair: Pair, strict_colour: bool = False) -> dict:
    """Read one pair's files and score them (a per-image row).

    Predictions and targets tagged with a profile other than sRGB are converted to sRGB
    first (:func:`read_srgb`; refused with ``strict_colour``). 16-bit files are rounded to
    8 bits; a mask of another size is resized with
    :func:`~ppr10k.evaluate.metrics.resize_mask` (bicubic, exact zeros are background).

    Raises:
        ValueError: prediction and target differ in size (naming both files).
        PhotoError: a damaged file, or one not in sRGB under ``strict_colour`` (naming it).
    """
    prediction = read_srgb(pair.prediction, strict_colour)
    target = read_srgb(pair.target, strict_colour)
    if prediction.shape != target.shape:
        raise ValueError(
            f"{pair.prediction} is {prediction.shape[1]}x{prediction.shape[0]} but its target "
            f"{pair.target} is {target.shape[1]}x{target.shape[0]}; predictions must have the "
            "target's size"
        )
    mask = _read(pair.mask, read_mask)
    mask_resized = mask.shape != prediction.shape[:2]
    if mask_resized:
        mask = resize_mask(mask, prediction.shape[:2])
    scores = score_pair(prediction, target, mask)
    return {
        "stem": pair.stem,
        "group": pair.group,
        **{name: scores[name] for name in MEASURES},
        "mean_L": scores["mean_L"],
        "mean_a": scores["mean_a"],
        "mean_b": scores["mean_b"],
        "human_fraction": scores["human_fraction"],
        "mask_resized": mask_resized,
        "prediction": pair.prediction.name,
        "target": pair.target.name,
        "mask": pair.mask.name,
        "bit_depth": 16 if prediction.dtype == np.uint16 else 8,
    }


def _score_or_reason(pair: Pair, strict_colour: bool = False) -> dict | str:
    """A per-image row, or the one-line reason why the pair cannot be scored."""
    try:
        return score_files(pair, strict_colour)
    except (ValueError, OSError, MemoryError) as error:  # damaged file, size mismatch
        return str(error).strip().splitlines()[0] if str(error).strip() else repr(error)


def _capped(values: Iterable[float], cap: float | None) -> np.ndarray:
    array = np.asarray(list(values), dtype=np.float64)
    return array if cap is None else np.minimum(array, cap)


def _means(rows: list[dict], psnr_cap: float | None) -> dict[str, float]:
    out = {}
    for name in MEASURES:
        cap = psnr_cap if name.startswith("psnr") else None
        out[name] = float(np.mean(_capped((r[name] for r in rows), cap)))
    return out


def group_rows(images: list[dict], psnr_cap: float | None = DEFAULT_PSNR_CAP) -> list[dict]:
    """Per-group rows: mean measures, the group's M^GLC term, a* and b* spread.

    Args:
        images: per-image rows (need ``group``, the measures, ``mean_a``, ``mean_b``).
        psnr_cap: see the module notes.
    """
    by_group: dict[str, list[dict]] = {}
    for row in images:
        by_group.setdefault(row["group"], []).append(row)
    rows = []
    for group in sorted(by_group, key=stem_sort_key):
        members = by_group[group]
        ab = np.array([[r["mean_a"], r["mean_b"]] for r in members], dtype=np.float64)
        variances = np.var(ab, axis=0, ddof=1) if len(members) > 1 else np.zeros(2)
        rows.append({
            "group": group,
            "n_images": len(members),
            **_means(members, psnr_cap),
            "glc": group_consistency(ab),
            "var_a": float(variances[0]),
            "var_b": float(variances[1]),
            "mean_a": float(ab[:, 0].mean()),
            "mean_b": float(ab[:, 1].mean()),
            "stems": " ".join(r["stem"] for r in members),
        })
    return rows


def summarize(
    images: list[dict], groups: list[dict], psnr_cap: float | None = DEFAULT_PSNR_CAP
) -> dict:
    """Dataset measures: each per-image measure averaged over images, M^GLC over groups."""
    if not images:
        raise ValueError("no images to summarise")
    return {
        **_means(images, psnr_cap),
        "glc": float(np.mean([g["glc"] for g in groups])),
        "n_images": len(images),
        "n_groups": len(groups),
        "n_identical": sum(1 for r in images if np.isinf(r["psnr"])),
        "psnr_cap": psnr_cap,
        "n_masks_resized": sum(1 for r in images if r["mask_resized"]),
    }


def _map(function: Callable, items: list, workers: int) -> Iterator:
    """``map`` in order, in this process or in a pool of ``workers`` processes.

    The pool has at most one process per item and per CPU, whatever ``workers`` asks for.
    """
    workers = min(workers, len(items), os.cpu_count() or 1)
    if workers <= 1:
        yield from map(function, items)
        return
    _kernel.warm_up()  # compiled once here; forked workers inherit it
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    chunksize = max(1, min(16, len(items) // (4 * workers)))
    # never more processes than items: with "fork" the pool starts all of them at once
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context) as pool:
        yield from pool.map(function, items, chunksize=chunksize)


def evaluate_folders(
    pred_dir: str | os.PathLike,
    target_dir: str | os.PathLike,
    masks_dir: str | os.PathLike,
    *,
    workers: int = 1,
    strict: bool = True,
    psnr_cap: float | None = DEFAULT_PSNR_CAP,
    progress: bool = True,
    strict_colour: bool = False,
) -> Evaluation:
    """Score every result in ``pred_dir`` against ``target_dir`` with masks from ``masks_dir``.

    Files pair by stem ``G_I`` (any of .png/.tif/.tiff/.jpg); the group is ``G``.

    Args:
        pred_dir, target_dir, masks_dir: the three folders.
        workers: processes to use (1: this process; 0: one per CPU); never more than the
            images or the CPUs.
        strict: raise :class:`~ppr10k.evaluate.pairing.MissingFilesError` when any prediction,
            target or mask is missing; otherwise warn and score the complete pairs.
        psnr_cap: largest PSNR (dB) an image counts with in averages; ``None``: no cap.
        progress: show a progress bar (stderr).
        strict_colour: refuse (as a failed pair, with a one-line reason) predictions and
            targets tagged with a profile other than sRGB instead of converting them.

    Returns:
        :class:`Evaluation` ``(images, groups, summary)``; ``summary["missing"]`` lists the
        missing names, ``summary["failed"]`` the pairs that could not be scored (a damaged
        file: ``{"stem", "reason"}``, the reason naming the file); the rest are scored.

    Raises:
        ValueError: no pair at all could be scored (the first reason is given).

    Example:
        >>> images, groups, summary = evaluate_folders("pred", "val/target_a", "val/masks")
        ... # doctest: +SKIP
    """
    pairing: Pairing = pair_files(pred_dir, target_dir, masks_dir)
    if not pairing.complete:
        if strict:
            raise MissingFilesError(pairing)
        warnings.warn(f"scoring complete pairs only; {pairing.describe_missing()}", stacklevel=2)
    if not pairing.pairs:
        raise ValueError(
            f"no complete (prediction, target, mask) triple found in {pred_dir}, {target_dir}, "
            f"{masks_dir}; files must share stems like 1356_3"
        )
    if workers == 0:
        workers = os.cpu_count() or 1
    results = _map(functools.partial(_score_or_reason, strict_colour=strict_colour),
                   pairing.pairs, workers)
    rows = list(tqdm(results, total=len(pairing.pairs), desc="evaluate", unit="img",
                     disable=not progress, dynamic_ncols=True))
    images = [row for row in rows if isinstance(row, dict)]
    failed = [{"stem": pair.stem, "reason": row} for pair, row in zip(pairing.pairs, rows)
              if not isinstance(row, dict)]
    if not images:
        raise ValueError(f"none of the {len(rows)} pairs could be scored; "
                         f"first: {failed[0]['reason']}")
    groups = group_rows(images, psnr_cap)
    summary = summarize(images, groups, psnr_cap)
    summary["missing"] = {
        "predictions": pairing.missing_predictions,
        "targets": pairing.missing_targets,
        "masks": pairing.missing_masks,
    }
    summary["failed"] = failed
    return Evaluation(images, groups, summary)
