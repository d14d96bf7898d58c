"""Augmenting folders of PPR10K sidecars (the file side of :mod:`ppr10k.xmp.augment`).

Defines :func:`augment_folder` and :class:`AugmentReport`.

Layout: ``source_dir`` holds ``G_I.xmp`` sidecars (``xmp_source/``; ``G`` the group,
``I`` the photo). For each, ``versions`` augmented sidecars ``G_I_K.xmp`` (K = 1..versions)
are written to ``out_dir``; with a target folder (scheme 2) the compensated expert
sidecars ``G_I_K.xmp`` go to ``target_out``. With ``raws_dir`` (``raw/``: ``G_I.CR2``,
``G_I.NEF``, ...) each augmented sidecar gets its raw beside it as ``G_I_K.<ext>``: a hard
link (a symbolic link where hard links are impossible), a symbolic link, or a copy, so that
Lightroom/Camera Raw renders the K-th version without five copies of 313 GB.

Randomness: version K of photo (G, I) uses ``numpy.random.default_rng((seed, scheme, G,
I, K))``, so any subset, order or number of processes gives the same files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ppr10k.io.names import PhotoKey, parse_stem
from ppr10k.xmp.augment import (
    SCHEME1_OFFSETS,
    SCHEME2_OFFSETS,
    perturb_pair,
    perturb_source,
)
from ppr10k.xmp.document import XmpError, read_xmp
from ppr10k.xmp.settings import camera_raw_settings
from ppr10k.xmp.write import set_settings, write_bytes_atomic, write_xmp

RAW_MODES = ("link", "symlink", "copy")


@dataclass
class AugmentReport:
    """What :func:`augment_folder` did.

    Attributes:
        scheme: 1 or 2.
        written: sidecars written (sources, then targets).
        raws: raw files placed (links or copies).
        rows: one dict per augmented version: ``stem``, ``version`` and each offset.
        skipped: (file, reason) for inputs that were not augmented.
        warnings: (file, reason) for sidecars written without their raw.
    """

    scheme: int
    seed: int
    versions: int
    written: list[Path] = field(default_factory=list)
    raws: list[Path] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> dict:
        """Offsets drawn per setting: count, min, max, mean (plus counts and skips)."""
        names = [key for key in (self.rows[0] if self.rows else {})
                 if key not in ("stem", "version", "clipped")]
        offsets = {}
        for name in names:
            values = np.array([row[name] for row in self.rows], dtype=float)
            offsets[name] = {"count": int(values.size), "min": float(values.min()),
                             "max": float(values.max()), "mean": float(values.mean())}
        return {"scheme": self.scheme, "seed": self.seed, "versions": self.versions,
                "photos": len({row["stem"] for row in self.rows}),
                "sidecars_written": len(self.written), "raws_placed": len(self.raws),
                "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
                "warnings": [{"file": f, "reason": r} for f, r in self.warnings],
                "offsets": offsets}

    def format(self) -> str:
        """A short human-readable summary."""
        summary = self.summary()
        head = (f"scheme {self.scheme}, seed {self.seed}: {summary['photos']} photos x "
                f"{self.versions} versions, {summary['sidecars_written']} sidecars, "
                f"{summary['raws_placed']} raws placed, {len(self.skipped)} skipped, "
                f"{len(self.warnings)} warnings")
        lines = [head]
        for name, stats in summary["offsets"].items():
            lines.append(f"  {name:<15} offsets in [{stats['min']:+g}, {stats['max']:+g}], "
                         f"mean {stats['mean']:+.3g} (n={stats['count']})")
        for what, entries in (("skipped", self.skipped), ("warning", self.warnings)):
            for file, reason in entries[:10]:
                lines.append(f"  {what} {file}: {reason}")
            if len(entries) > 10:
                lines.append(f"  ... and {len(entries) - 10} more ({what})")
        return "\n".join(lines)


def _sidecars(folder: Path) -> dict[tuple[int, int], Path]:
    found = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() == ".xmp" and (key := parse_stem(path.stem, versions=False)):
            found[(key.group, key.index)] = path
    return found


def _raws(folder: Path) -> dict[tuple[int, int], list[Path]]:
    found: dict[tuple[int, int], list[Path]] = {}
    for path in sorted(folder.iterdir()):
        key = parse_stem(path.stem, versions=False)
        if key and path.is_file() and path.suffix.lower() != ".xmp":
            found.setdefault((key.group, key.index), []).append(path)
    return found


def place_file(source: Path, destination: Path, mode: str = "link") -> Path:
    """Put ``source`` at ``destination`` by hard link (symlink fallback), symlink or copy.

    An existing ``destination`` (from an earlier run) is replaced; ``source`` never is.
    """
    if mode not in RAW_MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {RAW_MODES}")
    if destination.resolve() == source.resolve() and not destination.is_symlink():
        raise ValueError(f"refusing to overwrite the input {source}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_symlink() or destination.exists():
        destination.unlink()
    if mode == "copy":
        shutil.copy2(source, destination)
    elif mode == "symlink":
        os.symlink(source.resolve(), destination)
    else:
        try:
            os.link(source, destination)
        except OSError:
            os.symlink(source.resolve(), destination)
    return destination


def _check_output(out: Path, inputs: list[Path | None], option: str = "--out") -> None:
    """Refuse an output folder that is, lies inside or holds an input folder."""
    from ppr10k.io.guard import check_output_folder  # lazy: keeps `ppr10k xmp` light

    check_output_folder(out, [folder for folder in inputs if folder is not None],
                        option=option, what="an input folder")


def _check_not_replacing(sources: dict, versions: int, out_dir: Path, target_out: Path | None,
                         raws: dict, overwrite: bool) -> None:
    """Refuse to replace files at the output names unless ``overwrite``."""
    from ppr10k.io.guard import check_not_replacing

    planned = [out_dir / "augment_summary.json", out_dir / "augment_offsets.csv"]
    for key in sources:
        raw = raws.get(key, [])
        for version in range(1, versions + 1):
            name = PhotoKey(*key, version).stem
            planned.append(out_dir / f"{name}.xmp")
            if target_out is not None:
                planned.append(target_out / f"{name}.xmp")
            if len(raw) == 1:
                planned.append(out_dir / f"{name}{raw[0].suffix}")
    check_not_replacing(planned, overwrite)


def augment_folder(source_dir: str | os.PathLike, out_dir: str | os.PathLike,
                   versions: int = 5, seed: int = 0, *,
                   target_dir: str | os.PathLike | None = None,
                   target_out: str | os.PathLike | None = None,
                   raws_dir: str | os.PathLike | None = None, raw_mode: str = "link",
                   progress: bool = True, overwrite: bool = False) -> AugmentReport:
    """Write augmented sidecars for every ``G_I.xmp`` in ``source_dir``.

    Args:
        source_dir: folder of source sidecars ``G_I.xmp``.
        out_dir: where ``G_I_K.xmp`` go (created); also ``augment_offsets.csv`` (every
            offset drawn) and ``augment_summary.json``.
        versions: K = 1..versions.
        seed: base seed (see the module docstring).
        target_dir: expert sidecars ``G_I.xmp``: selects scheme 2 (paired).
        target_out: where the compensated expert sidecars ``G_I_K.xmp`` go (scheme 2).
        raws_dir: folder of raws ``G_I.<ext>`` to place beside each augmented sidecar.
        raw_mode: ``"link"`` (hard link, symlink fallback), ``"symlink"`` or ``"copy"``.
        progress: show a progress bar.
        overwrite: replace files already at the output names (refused otherwise, before
            anything is written).

    Returns:
        The report; a sidecar that cannot be read or augmented is skipped and listed.

    Raises:
        ValueError: an output folder is, lies inside or holds an input folder.
        FileExistsError: an output exists and ``overwrite`` is off.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    target_dir = Path(target_dir) if target_dir is not None else None
    target_out = Path(target_out) if target_out is not None else None
    raws_dir = Path(raws_dir) if raws_dir is not None else None
    if versions < 1:
        raise ValueError(f"versions must be >= 1, got {versions}")
    if raw_mode not in RAW_MODES:
        raise ValueError(f"unknown raw mode {raw_mode!r}; use one of {RAW_MODES}")
    for folder, what in ((source_dir, "source"), (target_dir, "target"), (raws_dir, "raws")):
        if folder is not None and not folder.is_dir():
            raise NotADirectoryError(f"{what} folder not found: {folder}")
    if (target_dir is None) != (target_out is None):
        raise ValueError("scheme 2 needs both a target folder (--target) and where to write "
                         "the compensated targets (--target-out)")
    _check_output(out_dir, [source_dir, target_dir, raws_dir])
    if target_out is not None:
        _check_output(target_out, [source_dir, target_dir, raws_dir, out_dir], "--target-out")
    scheme = 1 if target_dir is None else 2
    sources = _sidecars(source_dir)
    if not sources:
        raise FileNotFoundError(f"no sidecars named G_I.xmp in {source_dir}")
    targets = _sidecars(target_dir) if target_dir is not None else {}
    raws = _raws(raws_dir) if raws_dir is not None else {}
    _check_not_replacing(sources, versions, out_dir, target_out, raws, overwrite)
    report = AugmentReport(scheme, seed, versions)
    items = sorted(sources.items())
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc=f"augment (scheme {scheme})", unit="photo")
    for (group, index), path in items:
        stem = PhotoKey(group, index).stem
        try:
            _augment_one(report, stem, (group, index), path, out_dir, versions, seed,
                         targets, target_out, raws, raw_mode, scheme)
        except (XmpError, ValueError, TypeError, OSError) as error:
            report.skipped.append((str(path), str(error)))
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_logs(report, out_dir)
    return report


def _augment_one(report, stem, key, path, out_dir, versions, seed, targets, target_out,
                 raws, raw_mode, scheme) -> None:
    source_doc = read_xmp(path)
    source = camera_raw_settings(source_doc).settings
    target_doc = target = None
    if scheme == 2:
        if key not in targets:
            raise ValueError(f"no expert sidecar {stem}.xmp in the target folder")
        target_doc = read_xmp(targets[key])
        target = camera_raw_settings(target_doc).settings
    raw_paths = raws.get(key, [])
    if raws and len(raw_paths) != 1:
        problem = "no raw" if not raw_paths else "several raws"
        reason = f"sidecars written without a raw: {problem} named {stem}.* in the raws folder"
        report.warnings.append((str(path), reason))
        raw_paths = []
    for version in range(1, versions + 1):
        rng = np.random.default_rng((seed, scheme, *key, version))
        name = PhotoKey(*key, version).stem
        if scheme == 1:
            result = perturb_source(source, rng, SCHEME1_OFFSETS)
            new_source, offsets, clipped = result.settings, result.offsets, result.clipped
        else:
            pair = perturb_pair(source, target, rng, SCHEME2_OFFSETS)
            new_source, offsets, clipped = pair.source, pair.offsets, ()
        changes = _changes(source, new_source, offsets)
        report.written.append(write_xmp(out_dir / f"{name}.xmp",
                                        set_settings(source_doc, changes)))
        if scheme == 2:
            target_changes = _changes(target, pair.target, {})
            report.written.append(write_xmp(target_out / f"{name}.xmp",
                                            set_settings(target_doc, target_changes)))
        if raw_paths:
            raw = raw_paths[0]
            report.raws.append(place_file(raw, out_dir / f"{name}{raw.suffix}", raw_mode))
        report.rows.append({"stem": stem, "version": version, **offsets,
                            "clipped": " ".join(clipped)})


def _changes(before: dict, after: dict, offsets: dict) -> dict:
    """Settings to write: every offset setting, plus any other value that changed."""
    return {name: value for name, value in after.items()
            if name in offsets or before.get(name) != value or name not in before}


def _write_logs(report: AugmentReport, out_dir: Path) -> None:
    summary = json.dumps(report.summary(), indent=2) + "\n"
    write_bytes_atomic(out_dir / "augment_summary.json", summary.encode("utf-8"))
    if report.rows:
        table = io.StringIO(newline="")
        writer = csv.DictWriter(table, fieldnames=list(report.rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(report.rows)
        write_bytes_atomic(out_dir / "augment_offsets.csv", table.getvalue().encode("utf-8"))
