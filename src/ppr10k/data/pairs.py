"""A photographer's own before/after pairs as training data: ``--data pairs:ORIGINALS,EDITED``.

A studio learns its own style from its originals and the edits it exported::

    ORIGINALS/shoot1/IMG_0001.CR2        originals: JPEG, PNG, TIFF or camera raws
    EDITED/shoot1/IMG_0001.jpg           edits: JPEG, PNG or TIFF, named after the original
    MASKS/shoot1/IMG_0001.png            optional human-region masks (PNG or TIFF)

The spec string is ``pairs:ORIGINALS,EDITED`` or ``pairs:ORIGINALS,EDITED,MASKS`` (folders
separated by commas; a folder whose name holds a comma cannot be named this way). Any other
``--data`` value is a PPR10K root; write ``./pairs:x`` for a root that is named ``pairs:x``.

Matching, by file stem (the name without its suffix; suffixes in any case):

- an edit matches the original at the same place: ``EDITED/a/X.jpg`` <-> ``ORIGINALS/a/X.*``;
- else the one original named ``X.*`` anywhere under ORIGINALS (so a flat export folder
  works with originals sorted into shoot folders); several such originals make the edit
  ambiguous, which is reported;
- problems are reported with their paths, never guessed: originals without an edit
  (``unmatched-original``), edits without an original (``unmatched-edit``), two originals
  (``duplicate-original``, e.g. ``X.CR2`` and ``X.JPG`` of RAW+JPEG shooting) or two edits
  (``duplicate-edit``) of one photo, masks without a pair (``unmatched-mask``) and pairs
  without a mask when MASKS is given (``missing-mask``);
- files of other types (``.xmp`` sidecars, catalogues, ...) and hidden files or folders are
  ignored and counted; EDITED and MASKS are skipped when they lie inside ORIGINALS.

Groups (a shoot, which the validation share keeps together): the subfolder of ORIGINALS
holding the original; for originals directly in ORIGINALS, the PPR10K ``G`` of a ``G_I``
name, else one group per photo. Every pair gets a unique key ``PhotoKey(group number,
index in the group)``, so the GLC pairing by ``(G, I)`` pairs a photo with itself.

Validation share: whole groups, the ``round(val_share * groups)`` (at least one when there
are two groups or more, never all) with the lowest hash of ``(seed, group name)``:
deterministic for a seed, independent of listing order, and a group keeps its side when
other shoots are added (unless the number of validation groups changes).

Masks are optional: without them every sample's mask is None, the datasets give an empty
mask and the human-region weight applies to no pixel, i.e. HRP is off.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ppr10k.data.layout import SPLITS, CheckReport, DatasetProblem, Sample, index_split
from ppr10k.data.transforms import common_size
from ppr10k.io import IMAGE_SUFFIXES, PHOTO_SUFFIXES
from ppr10k.io.names import PhotoKey, parse_stem, stem_order

__all__ = [
    "EDITED_SUFFIXES",
    "MASK_SUFFIXES",
    "ORIGINAL_SUFFIXES",
    "PAIRS_PREFIX",
    "PairsIndex",
    "PairsSpec",
    "check_pairs",
    "index_pairs",
    "index_training_data",
    "is_pairs_spec",
    "parse_pairs_spec",
]

PAIRS_PREFIX = "pairs:"
#: Originals: every photo ``ppr10k.io`` reads (JPEG, PNG, TIFF and camera raws).
ORIGINAL_SUFFIXES = PHOTO_SUFFIXES
#: Edits: exported images (JPEG, PNG, TIFF).
EDITED_SUFFIXES = IMAGE_SUFFIXES
#: Masks: lossless images only.
MASK_SUFFIXES = (".png", ".tif", ".tiff")


@dataclass(frozen=True)
class PairsSpec:
    """The folders of a pairs data spec (``masks`` None: no masks, HRP off)."""

    originals: Path
    edited: Path
    masks: Path | None = None

    def __str__(self) -> str:
        folders = [self.originals, self.edited] + ([self.masks] if self.masks else [])
        return PAIRS_PREFIX + ",".join(str(f) for f in folders)


def is_pairs_spec(data: str | os.PathLike) -> bool:
    """True when a ``--data`` value is a pairs spec (``pairs:...``), False for a PPR10K root."""
    return isinstance(data, str) and data.startswith(PAIRS_PREFIX)


def parse_pairs_spec(data: str) -> PairsSpec:
    """``pairs:ORIGINALS,EDITED[,MASKS]`` -> :class:`PairsSpec` (``~`` expanded).

    Raises:
        ValueError: not of that form (the message shows the expected form).
    """
    usage = ("expected pairs:ORIGINALS,EDITED or pairs:ORIGINALS,EDITED,MASKS "
             "(folders separated by commas)")
    if not is_pairs_spec(data):
        raise ValueError(f"{data!r} is not a pairs spec: {usage}")
    parts = [part.strip() for part in data[len(PAIRS_PREFIX):].split(",")]
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"{data!r}: {usage}")
    folders = [Path(part).expanduser() for part in parts]
    return PairsSpec(folders[0], folders[1], folders[2] if len(folders) == 3 else None)


@dataclass
class PairsIndex:
    """What :func:`index_pairs` found.

    Attributes:
        spec: the folders.
        train, val: the pairs as :class:`~ppr10k.data.layout.Sample` (``source`` the
            original, ``target`` the edit, ``mask`` or None), sorted by key.
        problems: every unmatched, duplicate or ambiguous file, with its path.
        groups: group number -> group name (``folder shoot1``, ``G 12``, ``file IMG_1``).
        val_groups: the group numbers held out for validation.
        counts: files found: ``originals``, ``edited``, ``masks``, ``ignored``.
        ignored: files of other types (sidecars, ...), not problems.
    """

    spec: PairsSpec
    train: list[Sample] = field(default_factory=list)
    val: list[Sample] = field(default_factory=list)
    problems: list[DatasetProblem] = field(default_factory=list)
    groups: dict[int, str] = field(default_factory=dict)
    val_groups: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    ignored: list[Path] = field(default_factory=list)

    def samples(self, split: str) -> list[Sample]:
        """The pairs of ``split`` (``train`` or ``val``)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return self.train if split == "train" else self.val

    def _paths(self, kind: str) -> list[Path]:
        return [p.path for p in self.problems if p.kind == kind]

    @property
    def unmatched_originals(self) -> list[Path]:
        """Originals without an edit."""
        return self._paths("unmatched-original")

    @property
    def unmatched_edits(self) -> list[Path]:
        """Edits without an original (including ambiguous ones)."""
        return self._paths("unmatched-edit")


def _walk(folder: Path, suffixes: tuple[str, ...], recursive: bool, skip: set[Path]
          ) -> tuple[dict[str, list[Path]], list[Path]]:
    """Relative stem (``shoot1/IMG_1``) -> files; and the visible files of other types."""
    found: dict[str, list[Path]] = {}
    ignored: list[Path] = []
    for top, dirs, files in os.walk(folder):
        top_path = Path(top)
        dirs[:] = sorted(d for d in dirs if recursive and not d.startswith(".")
                         and (top_path / d).resolve() not in skip)
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = top_path / name
            if path.suffix.lower() not in suffixes or not path.is_file():
                ignored.append(path)
                continue
            relative = path.relative_to(folder).with_suffix("").as_posix()
            found.setdefault(relative, []).append(path)
    return found, ignored


def _folder(path: Path, role: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{role} folder {path} not found (in pairs:ORIGINALS,EDITED"
                                f"[,MASKS])")
    return path


def _name(relative: str) -> str:
    return PurePosixPath(relative).name


def _group_name(relative: str) -> str:
    parent = PurePosixPath(relative).parent
    if str(parent) != ".":
        return f"folder {parent}"
    key = parse_stem(_name(relative))
    return f"G {key.group}" if key is not None else f"file {relative}"


def _group_order(name: str) -> tuple:
    kind, _, value = name.partition(" ")
    return (kind, int(value) if kind == "G" else 0, value)


def _held_out(groups: list[str], val_share: float, seed: int) -> set[str]:
    if len(groups) < 2 or val_share == 0:
        return set()
    count = min(len(groups) - 1, max(1, round(val_share * len(groups))))

    def score(name: str) -> str:
        return hashlib.sha256(f"{seed}\0{name}".encode()).hexdigest()

    return set(sorted(groups, key=score)[:count])


def _match(originals: dict[str, list[Path]], edits: dict[str, list[Path]],
           problems: list[DatasetProblem], what: str) -> dict[str, Path]:
    """Original's relative stem -> its unique file among ``edits`` (edits or masks).

    Same place first, then the one original of the same name anywhere; everything else is
    a problem (``unmatched-{what}``, ``duplicate-{what}``).
    """
    by_name: dict[str, list[str]] = {}
    for relative in originals:
        by_name.setdefault(_name(relative), []).append(relative)
    matched: dict[str, Path] = {}
    unique = {rel: paths[0] for rel, paths in edits.items() if len(paths) == 1}
    for relative, paths in edits.items():
        if len(paths) > 1:
            for path in paths:
                problems.append(DatasetProblem(
                    f"duplicate-{what}", path,
                    f"{len(paths)} files named {_name(relative)}.*; keep one per photo"))
    # same place first, so that a same-named file elsewhere never steals a match
    for relative in sorted(unique, key=lambda r: (r not in originals, r)):
        path = unique[relative]
        if relative in originals:
            target = relative
        else:
            candidates = by_name.get(_name(relative), [])
            if len(candidates) != 1:
                detail = (f"no original named {_name(relative)}.*" if not candidates else
                          f"ambiguous: {len(candidates)} originals named "
                          f"{_name(relative)}.* ({', '.join(sorted(candidates))}); put it "
                          f"in the subfolder of its original")
                problems.append(DatasetProblem(f"unmatched-{what}", path, detail))
                continue
            target = candidates[0]
        if len(originals[target]) > 1:
            problems.append(DatasetProblem(
                f"unmatched-{what}", path,
                f"ambiguous: its original {target} exists as "
                f"{', '.join(p.name for p in originals[target])}"))
            continue
        if target in matched:
            problems.append(DatasetProblem(
                f"duplicate-{what}", path,
                f"{originals[target][0].name} already has {matched[target]}; keep one"))
            continue
        matched[target] = path
    return matched


def index_pairs(originals: str | os.PathLike, edited: str | os.PathLike,
                masks: str | os.PathLike | None = None, *, val_share: float = 0.1,
                seed: int = 0, recursive: bool = True,
                require_masks: bool = False) -> PairsIndex:
    """Match originals with their edits (and masks) by file stem; split by whole groups.

    Args:
        originals: folder of originals (JPEG, PNG, TIFF, camera raws), subfolders = shoots.
        edited: folder of the edits, flat or mirroring ``originals``.
        masks: optional folder of human-region masks, flat or mirroring ``originals``.
        val_share: share of the groups held out for validation, in [0, 1).
        seed: picks the validation groups (see the module docstring).
        recursive: look into subfolders (False: the top folders only).
        require_masks: with ``masks``, leave out pairs without a mask (else mask=None).

    Returns:
        The :class:`PairsIndex`; problems are listed, matched pairs are kept.

    Raises:
        FileNotFoundError: a folder does not exist.
        ValueError: ``val_share`` out of range, ORIGINALS is EDITED, or no pair at all (one
            line saying what was found).
    """
    if not 0.0 <= val_share < 1.0:
        raise ValueError(f"val_share must be in [0, 1), got {val_share}")
    spec = PairsSpec(Path(originals), Path(edited), Path(masks) if masks is not None else None)
    folders = {"originals": _folder(spec.originals, "originals"),
               "edited": _folder(spec.edited, "edited")}
    if spec.masks is not None:
        folders["masks"] = _folder(spec.masks, "masks")
    resolved = {role: folder.resolve() for role, folder in folders.items()}
    if len(set(resolved.values())) < len(resolved):
        raise ValueError(f"{spec}: the originals, edited and masks folders must differ")
    skip = set(resolved.values())
    index = PairsIndex(spec)
    found, ignored = _walk(spec.originals, ORIGINAL_SUFFIXES, recursive,
                           skip - {resolved["originals"]})
    edits, ignored_edits = _walk(spec.edited, EDITED_SUFFIXES, recursive,
                                 skip - {resolved["edited"]})
    mask_files, ignored_masks = ({}, []) if spec.masks is None else _walk(
        spec.masks, MASK_SUFFIXES, recursive, skip - {resolved["masks"]})
    index.ignored = ignored + ignored_edits + ignored_masks
    index.counts = {"originals": sum(map(len, found.values())),
                    "edited": sum(map(len, edits.values())),
                    "masks": sum(map(len, mask_files.values())),
                    "ignored": len(index.ignored)}
    problems = index.problems
    for relative, paths in found.items():
        if len(paths) > 1:
            for path in paths:
                problems.append(DatasetProblem(
                    "duplicate-original", path,
                    f"{len(paths)} originals named {_name(relative)}.* "
                    f"({', '.join(p.name for p in paths)}); keep one, e.g. move the JPEGs of "
                    "RAW+JPEG shooting out"))
    pairs = _match(found, edits, problems, "edit")
    if not pairs:
        if not found:
            reason = f"no originals (JPEG, PNG, TIFF or camera raw) under {spec.originals}"
        elif not edits:
            reason = f"no edits (JPEG, PNG or TIFF) under {spec.edited}"
        else:
            reason = (f"none of the {index.counts['edited']} edits under {spec.edited} has "
                      f"an original of the same file stem among the "
                      f"{index.counts['originals']} originals under {spec.originals}; name "
                      "each edit after its original (IMG_0001.CR2 -> IMG_0001.jpg)")
        raise ValueError(f"no pairs in {spec}: {reason}")
    for relative in sorted(set(found) - set(pairs)):
        if len(found[relative]) == 1:
            problems.append(DatasetProblem("unmatched-original", found[relative][0],
                                           f"no edit named {_name(relative)}.*"))
    mask_of = _match(found, mask_files, problems, "mask") if spec.masks is not None else {}

    by_group: dict[str, list[str]] = {}
    for relative in pairs:
        by_group.setdefault(_group_name(relative), []).append(relative)
    names = sorted(by_group, key=_group_order)
    held_out = _held_out(names, val_share, seed)
    for number, name in enumerate(names):
        index.groups[number] = name
        if name in held_out:
            index.val_groups.add(number)
        members = sorted(by_group[name], key=lambda r: (stem_order(_name(r)), r))
        for position, relative in enumerate(members):
            mask = mask_of.get(relative)
            if spec.masks is not None and mask is None:
                problems.append(DatasetProblem("missing-mask", found[relative][0],
                                               f"no mask named {_name(relative)}.* under "
                                               f"{spec.masks}"))
                if require_masks:
                    continue
            sample = Sample(PhotoKey(number, position), found[relative][0], pairs[relative],
                            mask)
            (index.val if name in held_out else index.train).append(sample)
    for relative in sorted(set(mask_of) - set(pairs)):
        problems.append(DatasetProblem("unmatched-mask", mask_of[relative],
                                       f"its original {found[relative][0].name} has no edit"))
    return index


def index_training_data(data: str | os.PathLike, split: str, expert: str = "a",
                        require_masks: bool = True, *, val_share: float = 0.1,
                        seed: int = 0) -> tuple[list[Sample], list[DatasetProblem]]:
    """The samples of ``split`` for either kind of ``--data``: a drop-in for ``index_split``.

    Args:
        data: a PPR10K root, or ``pairs:ORIGINALS,EDITED[,MASKS]``.
        split: ``train`` or ``val``.
        expert: ``a``, ``b`` or ``c`` (PPR10K only; a pairs folder has one editor).
        require_masks: a missing mask leaves the photo out (PPR10K; pairs only when MASKS
            is given: without masks, HRP has no pixel to weight).
        val_share, seed: the pairs' validation groups (see :func:`index_pairs`).

    Returns:
        ``(samples, problems)`` as :func:`~ppr10k.data.layout.index_split`. For pairs the
        problems concern the folders, not a split: they come with ``train`` only, so that a
        caller indexing both splits lists each once.
    """
    if not is_pairs_spec(data):
        return index_split(data, split, expert, require_masks)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    spec = parse_pairs_spec(str(data))
    index = index_pairs(spec.originals, spec.edited, spec.masks, val_share=val_share,
                        seed=seed, require_masks=require_masks and spec.masks is not None)
    return index.samples(split), (index.problems if split == "train" else [])


def check_pairs(spec: str | PairsSpec, check_sizes: bool = True, val_share: float = 0.1,
                seed: int = 0, pixels: bool = False) -> tuple[PairsIndex, CheckReport]:
    """Index a pairs spec and check it (what ``ppr10k data check pairs:...`` prints).

    Adds to the index's problems, with ``check_sizes``: unreadable files and size
    mismatches (an edit whose aspect ratio differs from its original's, i.e. cropped or
    rotated; a scaled export is fine), read from the headers (orientation applied); with
    ``pixels``, every file decoded once and the damaged ones (raws: seconds each).

    Returns:
        ``(index, report)``: the report's counts are ``originals``, ``edited``, ``masks``,
        ``ignored``, ``pairs``, ``train pairs``, ``val pairs``, ``groups`` and
        ``val groups``; its problems are every problem found.
    """
    from ppr10k.io import photo_size

    if not isinstance(spec, PairsSpec):
        spec = parse_pairs_spec(spec)
    index = index_pairs(spec.originals, spec.edited, spec.masks, val_share=val_share,
                        seed=seed)
    report = CheckReport(spec.originals)
    report.counts = {**index.counts, "pairs": len(index.train) + len(index.val),
                     "train pairs": len(index.train), "val pairs": len(index.val),
                     "groups": len(index.groups), "val groups": len(index.val_groups)}
    report.problems = list(index.problems)
    if pixels:
        from ppr10k.data.layout import pixel_problem

        checked: set[Path] = set()
        for sample in index.train + index.val:
            for path in (sample.source, sample.target, sample.mask):
                if path is None or path in checked:
                    continue
                checked.add(path)
                reason = pixel_problem(path, mask=path == sample.mask)
                if reason is not None:
                    report.problems.append(DatasetProblem("damaged", path, reason))
    if check_sizes:
        for sample in index.train + index.val:
            sizes = {}
            for path in (sample.source, sample.target, sample.mask):
                if path is None:
                    continue
                try:
                    sizes[path] = photo_size(path)
                except (OSError, ValueError) as error:
                    report.problems.append(DatasetProblem("unreadable", path,
                                                          str(error)[:200]))
            shown = ", ".join(f"{p.name}: {h}x{w}" for p, (h, w) in sizes.items())
            if (sample.source in sizes and sample.target in sizes
                    and common_size(sizes[sample.source], sizes[sample.target]) is None):
                report.problems.append(DatasetProblem(
                    "size-mismatch", sample.target,
                    f"aspect ratio differs from its original ({shown}): a cropped or rotated "
                    "edit; export it uncropped or leave the pair out"))
    return index, report

