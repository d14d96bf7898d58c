"""The official PPR10K train/validation split, by group id.

Defines :func:`split_of`, :func:`plan_split`, :func:`split_dataset` and
:class:`SplitReport` (file names are parsed by :func:`ppr10k.data.layout.parse_stem`).

Rule (spec §1): photos of groups ``G < 1356`` are training (8,875 photos in 1,356
groups), the others validation (2,286 photos in 325 groups). A file belongs to a photo by
its name ``G_I[_K].ext`` (group ``G``, photo ``I``, optional augmented version ``K``);
``G_I_K`` goes wherever ``G_I`` goes. Files are matched by name, never by position.

What ``root`` may be:

- a *flat folder* of files named ``G_I[_K].ext`` (``raw/``, ``xmp_source/``,
  ``masks_360p/``, a folder of TIFFs): split into ``out/train/`` and ``out/val/``;
- a *PPR10K tree*: a folder whose sub-folders are such flat folders (``raw/``,
  ``xmp_source/``, ``xmp_target_a/``, ``masks_full/``, ...): each sub-folder ``S`` is
  split into ``out/train/S/`` and ``out/val/S/``.

Files whose names do not fit ``G_I[_K].ext`` are listed in the report and left alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ppr10k.data.layout import FIRST_VAL_GROUP, parse_stem
from ppr10k.io.guard import check_output_folder

MODES = ("copy", "move", "link")


def split_of(group: int, first_val_group: int = FIRST_VAL_GROUP) -> str:
    """``"train"`` for ``group < first_val_group``, else ``"val"``."""
    return "train" if group < first_val_group else "val"


@dataclass
class FolderSplit:
    """The split of one flat folder (``name`` is its path below ``root``, ``""`` if flat)."""

    name: str
    files: dict[str, list[Path]] = field(default_factory=lambda: {"train": [], "val": []})
    photos: dict[str, set[tuple[int, int]]] = field(
        default_factory=lambda: {"train": set(), "val": set()})
    ignored: list[Path] = field(default_factory=list)

    def groups(self, split: str) -> int:
        return len({group for group, _ in self.photos[split]})


@dataclass
class SplitReport:
    """What :func:`split_dataset` found (and did).

    ``photos`` counts distinct (G, I) over all folders; ``folders`` has per-folder counts.
    """

    root: Path
    out: Path | None
    mode: str
    first_val_group: int
    folders: list[FolderSplit]
    done: bool = False

    def photos(self, split: str) -> int:
        return len(set().union(*(f.photos[split] for f in self.folders)))

    def groups(self, split: str) -> int:
        return len({g for f in self.folders for g, _ in f.photos[split]})

    def files(self, split: str) -> int:
        return sum(len(f.files[split]) for f in self.folders)

    def to_dict(self) -> dict:
        return {
            "root": str(self.root), "out": str(self.out) if self.out else None,
            "mode": self.mode, "first_val_group": self.first_val_group,
            "train": {"photos": self.photos("train"), "groups": self.groups("train"),
                      "files": self.files("train")},
            "val": {"photos": self.photos("val"), "groups": self.groups("val"),
                    "files": self.files("val")},
            "folders": {f.name or ".": {
                "train_photos": len(f.photos["train"]), "val_photos": len(f.photos["val"]),
                "train_files": len(f.files["train"]), "val_files": len(f.files["val"]),
                "ignored": [p.name for p in f.ignored]} for f in self.folders},
        }

    def format(self) -> str:
        verb = {"copy": "copied", "move": "moved", "link": "linked"}[self.mode]
        header = (f"{'folder':<24} {'train photos':>12} {'val photos':>10} "
                  f"{'train files':>11} {'val files':>9}")
        lines = [header]
        for f in self.folders:
            lines.append(f"{f.name or '.':<24} {len(f.photos['train']):>12,} "
                         f"{len(f.photos['val']):>10,} {len(f.files['train']):>11,} "
                         f"{len(f.files['val']):>9,}")
            if f.ignored:
                names = ", ".join(p.name for p in f.ignored[:5])
                more = f" (+{len(f.ignored) - 5} more)" if len(f.ignored) > 5 else ""
                lines.append(f"  ignored {len(f.ignored)} file(s) not named G_I[_K].ext: "
                             f"{names}{more}")
        lines.append(
            f"train: {self.photos('train'):,} photos in {self.groups('train'):,} groups "
            f"(groups < {self.first_val_group}); val: {self.photos('val'):,} photos in "
            f"{self.groups('val'):,} groups")
        if self.done and self.out is not None:
            lines.append(f"{self.files('train') + self.files('val'):,} files {verb} to "
                         f"{self.out}/{{train,val}}")
        return "\n".join(lines)


def _split_folder(folder: Path, name: str, first_val_group: int) -> FolderSplit:
    result = FolderSplit(name)
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        key = parse_stem(path.name.split(".", 1)[0])
        if key is None:
            result.ignored.append(path)
            continue
        split = split_of(key.group, first_val_group)
        result.files[split].append(path)
        result.photos[split].add((key.group, key.index))
    return result


def _has_photo_files(folder: Path) -> bool:
    return any(p.is_file() and parse_stem(p.name.split(".", 1)[0]) for p in folder.iterdir())


def plan_split(root: str | os.PathLike, first_val_group: int = FIRST_VAL_GROUP,
               exclude: Iterable[Path] = ()) -> list[FolderSplit]:
    """Assign every ``G_I[_K].ext`` file under ``root`` (flat or tree, see module) to a split.

    Args:
        root: a flat folder or a PPR10K tree.
        first_val_group: the first validation group id (1356 officially).
        exclude: sub-folders to skip (e.g. the output folder when it lies inside ``root``).
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"dataset folder not found: {root}")
    if first_val_group < 0:
        raise ValueError(f"--first-val-group must be >= 0, got {first_val_group}")
    if _has_photo_files(root):
        return [_split_folder(root, "", first_val_group)]
    excluded = {Path(p).resolve() for p in exclude}
    folders = [_split_folder(sub, sub.name, first_val_group)
               for sub in sorted(root.iterdir())
               if sub.is_dir() and not sub.name.startswith(".")
               and sub.resolve() not in excluded and _has_photo_files(sub)]
    if not folders:
        raise FileNotFoundError(
            f"no files named G_I[_K].ext in {root} or its sub-folders; give a folder such as "
            "raw/ or xmp_source/, or the PPR10K folder that holds them")
    return folders


def _place(source: Path, destination: Path, mode: str) -> None:
    if mode == "copy":
        shutil.copy2(source, destination)
    elif mode == "move":
        shutil.move(source, destination)
    else:
        try:
            os.link(source, destination)
        except OSError:
            os.symlink(source.resolve(), destination)


def split_dataset(root: str | os.PathLike, out: str | os.PathLike | None,
                  first_val_group: int = FIRST_VAL_GROUP, mode: str = "copy",
                  progress: bool = False) -> SplitReport:
    """Split ``root`` into ``out/train`` and ``out/val`` by group id.

    Args:
        root: a flat folder or a PPR10K tree (see the module docstring).
        out: destination folder; ``None`` only counts (a dry run).
        first_val_group: groups ``>= first_val_group`` are validation (1356).
        mode: ``"copy"`` (default), ``"move"``, or ``"link"`` (hard links; symbolic links
            where hard links are impossible).
        progress: show a progress bar while placing files.

    Returns:
        The report (counts per split and folder, ignored files).

    Raises:
        ValueError: ``out`` is ``root`` or one of its split folders, or a destination file
            already exists (nothing is written in that case).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
    root = Path(root)
    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.resolve() == root.resolve():
        raise ValueError(f"--out {out_path} is the dataset folder itself; choose another")
    folders = plan_split(root, first_val_group,
                         exclude=[out_path] if out_path is not None else [])
    report = SplitReport(root, out_path, mode, first_val_group, folders)
    if out_path is None:
        return report
    for folder in folders:
        if (root / folder.name).resolve() == out_path.resolve():
            raise ValueError(f"--out {out_path} is one of the folders being split")
    check_output_folder(out_path, [root / f.name for f in folders if f.name],
                        what="a folder being split", contain=False)
    moves = [(path, out_path / split / folder.name / path.name)
             for folder in folders for split in ("train", "val") for path in folder.files[split]]
    existing = [dest for _, dest in moves if dest.exists() or dest.is_symlink()]
    if existing:
        raise ValueError(f"{len(existing)} destination file(s) already exist, e.g. "
                         f"{existing[0]}; remove them or choose another --out")
    for directory in {dest.parent for _, dest in moves}:
        directory.mkdir(parents=True, exist_ok=True)
    if progress:
        from tqdm import tqdm

        moves = tqdm(moves, desc=f"split ({mode})", unit="file")
    for source, destination in moves:
        _place(source, destination, mode)
    report.done = True
    return report
