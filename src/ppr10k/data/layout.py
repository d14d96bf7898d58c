"""The official PPR10K 360p layout (spec §1): naming, pairing and checking.

::

    ROOT/train/source_aug/G_I.tif, G_I_K.tif   16-bit sources (K = 1..5: augmented renders)
    ROOT/train/target_{a,b,c}/G_I.tif          8-bit expert targets
    ROOT/train/masks/G_I.png                   human-region masks
    ROOT/val/source/G_I.tif
    ROOT/val/target_{a,b,c}/G_I.tif
    ROOT/val/masks/G_I.png

``G`` is the group id, ``I`` the photo's index in the group; names are parsed by
:func:`ppr10k.io.names.parse_stem` (re-exported here with :class:`PhotoKey`). Every pairing is by the parsed
``(G, I)``, never by position in a sorted listing, so a missing or extra file is reported
instead of shifting all following pairs.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import tifffile
from PIL import Image

from ppr10k.io.names import PhotoKey, parse_stem

EXPERTS = ("a", "b", "c")
SPLITS = ("train", "val")
SOURCE_DIRS = {"train": "source_aug", "val": "source"}
MASK_DIR = "masks"
SOURCE_SUFFIXES = (".tif", ".tiff")
TARGET_SUFFIXES = (".tif", ".tiff")
MASK_SUFFIXES = (".png",)
FIRST_VAL_GROUP = 1356

@dataclass(frozen=True)
class Sample:
    """One source file with the target and mask of its photo."""

    key: PhotoKey
    source: Path
    target: Path
    mask: Path | None


@dataclass
class DatasetProblem:
    """A problem found in a dataset folder, with the file it concerns."""

    kind: str  # missing-target, missing-mask, missing-source, size-mismatch, unreadable,
    # damaged (pixels that do not decode: --pixels), stray-name
    path: Path
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}" + (f" ({self.detail})" if self.detail else "")


def _list_files(folder: Path, suffixes: tuple[str, ...]) -> tuple[dict[str, Path], list[Path]]:
    """Map stem -> path for files with ``suffixes``; other visible files are strays."""
    files: dict[str, Path] = {}
    strays: list[Path] = []
    if not folder.is_dir():
        return files, strays
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        path = Path(entry.path)
        if path.suffix.lower() in suffixes:
            files[path.stem] = path
        else:
            strays.append(path)
    return files, strays


def _keyed(files: dict[str, Path], problems: list[DatasetProblem],
           allow_versions: bool) -> dict[PhotoKey, Path]:
    keyed: dict[PhotoKey, Path] = {}
    for stem, path in files.items():
        key = parse_stem(stem, versions=allow_versions)
        if key is None:
            problems.append(DatasetProblem("stray-name", path, "expected G_I" +
                                           ("[_K]" if allow_versions else "") +
                                           " (numbers without leading zeros)"))
            continue
        keyed[key] = path
    return keyed


def index_split(root: str | os.PathLike, split: str, expert: str = "a",
                require_masks: bool = True) -> tuple[list[Sample], list[DatasetProblem]]:
    """Pair the sources of ``split`` with the expert's targets and the masks by ``(G, I)``.

    Args:
        root: the dataset root (the folder holding ``train/`` and ``val/``).
        split: ``train`` (sources from ``source_aug/``) or ``val`` (``source/``).
        expert: ``a``, ``b`` or ``c``.
        require_masks: a missing mask is a problem (True) or the sample gets ``mask=None``.

    Returns:
        ``(samples, problems)``: samples sorted by key; sources without a target (or mask)
        are left out and reported.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if expert not in EXPERTS:
        raise ValueError(f"expert must be one of {EXPERTS}, got {expert!r}")
    root = Path(root)
    split_dir = root / split
    if not split_dir.is_dir():
        raise FileNotFoundError(f"{split_dir} not found: is {root} a PPR10K root "
                                "(with train/ and val/)? `ppr10k data sample OUT` makes one")
    problems: list[DatasetProblem] = []
    source_dir = split_dir / SOURCE_DIRS[split]
    target_dir = split_dir / f"target_{expert}"
    mask_dir = split_dir / MASK_DIR
    for folder in (source_dir, target_dir):
        if not folder.is_dir():
            problems.append(DatasetProblem("missing-folder", folder))
    src_files, src_strays = _list_files(source_dir, SOURCE_SUFFIXES)
    tgt_files, tgt_strays = _list_files(target_dir, TARGET_SUFFIXES)
    mask_files, mask_strays = _list_files(mask_dir, MASK_SUFFIXES)
    problems += [DatasetProblem("stray-name", p, "unexpected file type")
                 for p in src_strays + tgt_strays + mask_strays]
    sources = _keyed(src_files, problems, allow_versions=(split == "train"))
    targets = _keyed(tgt_files, problems, allow_versions=False)
    masks = _keyed(mask_files, problems, allow_versions=False)

    samples: list[Sample] = []
    for key in sorted(sources):
        photo = key.photo
        target = targets.get(photo)
        mask = masks.get(photo)
        if target is None:
            problems.append(DatasetProblem("missing-target", target_dir / f"{photo.stem}.tif",
                                           f"for source {sources[key].name}"))
            continue
        if mask is None and require_masks:
            problems.append(DatasetProblem("missing-mask", mask_dir / f"{photo.stem}.png",
                                           f"for source {sources[key].name}"))
            continue
        samples.append(Sample(key, sources[key], target, mask))
    photos_with_source = {k.photo for k in sources}
    for photo in sorted(set(targets) - photos_with_source):
        problems.append(DatasetProblem("missing-source", targets[photo],
                                       "target without a source"))
    return samples, problems


def image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` from the file header (no pixel decoding)."""
    if path.suffix.lower() in (".tif", ".tiff"):
        with tifffile.TiffFile(path) as tif:
            shape = tif.pages[0].shape
        return int(shape[0]), int(shape[1])
    with Image.open(path) as img:
        return img.height, img.width


def pixel_problem(path: Path, mask: bool = False) -> str | None:
    """Decode a whole image (or mask); the one-line reason it is damaged, or None.

    Finds what headers hide: truncated image data, NaN samples, corrupt compressed data.
    """
    from ppr10k.io import read_mask, read_photo

    try:
        if mask:
            read_mask(path)
        else:
            read_photo(path, max_pixels=None, metadata=False)
    except (OSError, ValueError) as error:
        return str(error).removeprefix(f"{path}: ")[:200]
    return None


@dataclass
class CheckReport:
    """What :func:`check_dataset` found: counts per folder and every problem."""

    root: Path
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[DatasetProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> Counter:
        return Counter(p.kind for p in self.problems)


def check_dataset(root: str | os.PathLike, experts: tuple[str, ...] = EXPERTS,
                  check_sizes: bool = True, progress: bool = False,
                  pixels: bool = False) -> CheckReport:
    """Check a PPR10K root: pair every split with every expert and its masks.

    Counts files per split, source folder, expert and mask folder; reports missing targets
    and masks, sources without targets, stray names, unreadable files and size mismatches
    (source vs target vs mask of the same photo); with ``pixels``, decodes every file once
    and reports damaged ones (:func:`pixel_problem`).
    """
    from tqdm import tqdm

    root = Path(root)
    report = CheckReport(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} not found")
    seen: set[tuple[str, Path]] = set()
    for split in SPLITS:
        if not (root / split).is_dir():
            report.problems.append(DatasetProblem("missing-folder", root / split))
            continue
        for name, suffixes in ([(SOURCE_DIRS[split], SOURCE_SUFFIXES), (MASK_DIR, MASK_SUFFIXES)]
                               + [(f"target_{e}", TARGET_SUFFIXES) for e in experts]):
            report.counts[f"{split}/{name}"] = len(_list_files(root / split / name, suffixes)[0])
        for expert in experts:
            samples, problems = index_split(root, split, expert)
            for problem in problems:
                if (problem.kind, problem.path) not in seen:
                    seen.add((problem.kind, problem.path))
                    report.problems.append(problem)
            if not check_sizes and not pixels:
                continue
            for sample in tqdm(samples, desc=f"check {split}/target_{expert}", unit="img",
                               disable=not progress, leave=False):
                sizes = {}
                for path in (sample.source, sample.target, sample.mask):
                    if path is None:
                        continue
                    if pixels and ("decoded", path) not in seen:
                        seen.add(("decoded", path))
                        reason = pixel_problem(path, mask=path == sample.mask)
                        if reason is not None:
                            report.problems.append(DatasetProblem("damaged", path, reason))
                    if not check_sizes:
                        continue
                    try:
                        sizes[path] = image_size(path)
                    except Exception as error:  # noqa: BLE001 - any decoder error
                        if ("unreadable", path) not in seen:
                            seen.add(("unreadable", path))
                            report.problems.append(DatasetProblem("unreadable", path,
                                                                  str(error)[:200]))
                if len(set(sizes.values())) > 1:
                    detail = ", ".join(f"{p.name}: {h}x{w}" for p, (h, w) in sizes.items())
                    if ("size-mismatch", sample.source) not in seen:
                        seen.add(("size-mismatch", sample.source))
                        report.problems.append(DatasetProblem("size-mismatch", sample.source,
                                                              detail))
    return report
