"""Which photos a retouch run reads, and where each result goes (never onto an input)."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ppr10k.io.guard import check_output_folder
from ppr10k.io.photo import PHOTO_SUFFIXES
from ppr10k.io.raw import is_raw

__all__ = ["FORMATS", "MASK_ENDINGS", "Job", "OutputFolderError", "discover",
           "is_mask_beside_photo", "plan_outputs"]

#: Output formats: option value -> file suffix.
FORMATS = {"jpg": ".jpg", "png": ".png", "tif": ".tif"}
_SAME_FORMAT = {".jpg": ".jpg", ".jpeg": ".jpg", ".png": ".png", ".tif": ".tif",
                ".tiff": ".tif"}
#: Name endings of mask and matte files kept beside their photos (``IMG_1_alpha.png``).
MASK_ENDINGS = ("_alpha", "_mask", "_matte")


def is_mask_beside_photo(file: Path) -> bool:
    """True for ``X_alpha``/``X_mask``/``X_matte`` when a photo ``X`` is in the same folder."""
    stem = file.stem
    for ending in MASK_ENDINGS:
        if stem.lower().endswith(ending):
            base = stem[: -len(ending)]
            return bool(base) and any(file.with_name(base + variant).is_file()
                                      for suffix in PHOTO_SUFFIXES
                                      for variant in (suffix, suffix.upper()))
    return False


class OutputFolderError(ValueError):
    """The output folder would mix results with, or overwrite, the inputs."""


@dataclass
class Job:
    """One photo to retouch.

    Attributes:
        source: the input file.
        relative: its path below the folder it was found in (or its name), which the output
            mirrors below the output folder.
        root: the input folder it was found in (None for a file given directly).
        output: the output file (set by :func:`plan_outputs`).
    """

    source: Path
    relative: Path
    root: Path | None = None
    output: Path | None = None


def discover(inputs: Sequence[str | os.PathLike], recursive: bool = False
             ) -> tuple[list[Job], list[tuple[Path, str]], int]:
    """Expand files and folders into jobs.

    Folders contribute their files with a photo suffix (JPEG, PNG, TIFF, camera raws; case
    ignored; hidden files skipped), recursively with ``recursive``; masks kept beside their
    photos (:func:`is_mask_beside_photo`) are skipped as non-photos. A file named directly
    becomes a job whatever its suffix, so that an unsupported file is reported, not
    silently dropped.

    Returns:
        ``(jobs, missing, ignored)``: the jobs (each file once), ``(path, reason)`` for
        inputs that do not exist, and the number of non-photo files skipped in folders.
    """
    jobs: list[Job] = []
    missing: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    ignored = 0
    folders = [Path(p) for p in inputs if Path(p).is_dir()]
    prefix_folder_name = len(folders) > 1
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.iterdir()
            for file in sorted(pattern):
                if not file.is_file() or any(part.startswith(".")
                                             for part in file.relative_to(path).parts):
                    continue
                if file.suffix.lower() not in PHOTO_SUFFIXES or is_mask_beside_photo(file):
                    ignored += 1
                    continue
                key = file.resolve()
                if key in seen:
                    continue
                seen.add(key)
                relative = file.relative_to(path)
                if prefix_folder_name:
                    relative = Path(path.resolve().name) / relative
                jobs.append(Job(source=file, relative=relative, root=path))
        elif path.is_file():
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                jobs.append(Job(source=path, relative=Path(path.name)))
        else:
            missing.append((path, "no such file or folder"))
    return jobs, missing, ignored


def output_suffix(source: Path, fmt: str | None) -> str:
    """Output suffix: the chosen format, or the input's own (TIFF for raws)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
        return FORMATS[fmt]
    if is_raw(source):
        return ".tif"
    return _SAME_FORMAT.get(source.suffix.lower(), ".jpg")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def plan_outputs(jobs: list[Job], out_dir: str | os.PathLike, fmt: str | None,
                 recursive: bool = False) -> list[tuple[Job, str]]:
    """Set ``job.output`` for every job; refuse an output folder that endangers inputs.

    Names: ``out_dir / relative`` with the output suffix. When two inputs would give the
    same output (``IMG_1.CR2`` and ``IMG_1.JPG`` shot together), each gets its source
    suffix appended (``IMG_1_CR2.tif``, ``IMG_1_JPG.jpg``).

    Returns:
        ``(job, reason)`` for jobs that still collide (they are not processed).

    Raises:
        OutputFolderError: ``out_dir`` is an input folder (or inside one, when searching
            recursively), the folder of an input file, or an output would overwrite an
            input file or land in an input folder.
    """
    out = Path(out_dir).resolve()
    roots = {job.root.resolve() for job in jobs if job.root is not None}
    for root in roots:
        if out == root or (recursive and _inside(out, root)):
            where = "an input folder" if out == root else f"inside the input folder {root}"
            raise OutputFolderError(
                f"output folder {out_dir} is {where}; choose a folder outside the inputs so "
                "that no input is overwritten and results are not read back as inputs")
    by_name: dict[Path, list[Job]] = defaultdict(list)
    for job in jobs:
        job.output = out / job.relative.with_suffix(output_suffix(job.source, fmt))
        by_name[job.output].append(job)
    for clashing in by_name.values():
        if len(clashing) > 1:
            for job in clashing:
                tag = job.source.suffix.lstrip(".").upper() or "file"
                job.output = job.output.with_name(f"{job.relative.stem}_{tag}"
                                                  f"{job.output.suffix}")
    inputs = {job.source.resolve() for job in jobs}
    counts: dict[Path, int] = defaultdict(int)
    for job in jobs:
        if job.output.resolve() in inputs:
            raise OutputFolderError(f"output {job.output} would overwrite the input "
                                    f"{job.source}; choose another output folder")
        counts[job.output] += 1
    try:  # a folder holding an input file named directly is an input folder too
        check_output_folder(out_dir, {job.source.resolve().parent for job in jobs
                                      if job.root is None},
                            what="the folder of an input", inside=False,
                            contain=False)
    except ValueError as error:
        raise OutputFolderError(str(error)) from None
    for job in jobs:  # several input folders mirror into OUT/NAME: never into an input's
        for root in roots:
            if job.output.parent == root or (recursive and _inside(job.output, root)):
                raise OutputFolderError(
                    f"output {job.output} would be written into the input folder {root}; "
                    "choose a folder outside the inputs")
    failures = []
    for job in jobs:
        if counts[job.output] > 1:
            reason = (f"output name {job.output.name} is produced by several inputs; "
                      "rename one of them")
            failures.append((job, reason))
    return failures
