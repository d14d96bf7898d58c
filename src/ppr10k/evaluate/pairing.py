"""Match result, target and mask files by their stem ``G_I`` (never by list position).

Defines :func:`group_of`, :func:`stem_sort_key`, :func:`index_folder`, :func:`pair_files`
(returning a :class:`Pairing`) and :class:`MissingFilesError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ppr10k.io.names import parse_stem

#: File types accepted for predictions, targets and masks.
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")


def group_of(stem: str) -> str:
    """Group id of a stem: ``G`` of a PPR10K name (``"1356_3"`` -> ``"1356"``), else the part
    before the first underscore (``"shoot_7"`` -> ``"shoot"``)."""
    key = parse_stem(stem)
    return str(key.group) if key is not None else stem.split("_", 1)[0]


def stem_sort_key(stem: str) -> tuple:
    """Natural order: ``1356_2`` before ``1356_10``, numeric ids before other names."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in stem.split("_"))


def index_folder(folder: str | os.PathLike, role: str) -> dict[str, Path]:
    """Image files of ``folder`` by stem (hidden files and other types are ignored).

    Args:
        folder: directory to list (not recursive).
        role: what the folder holds, for error messages (``"predictions"``...).

    Raises:
        NotADirectoryError: ``folder`` is not a directory.
        ValueError: two files share a stem (``1_1.png`` and ``1_1.tif``): ambiguous.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{role} folder not found: {folder}")
    files: dict[str, Path] = {}
    clashes: list[str] = []
    for path in folder.iterdir():
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if not path.is_file():
            continue
        if path.stem in files:
            clashes.append(f"{files[path.stem].name} / {path.name}")
        files[path.stem] = path
    if clashes:
        raise ValueError(
            f"{role} folder {folder} has several files with the same stem: "
            f"{_name_list(clashes)}; keep one per photo"
        )
    return files


@dataclass(frozen=True)
class Pair:
    """One photo to score: its stem, group and the three files."""

    stem: str
    group: str
    prediction: Path
    target: Path
    mask: Path


@dataclass
class Pairing:
    """Result of :func:`pair_files`: complete pairs and the names that are missing.

    ``missing_predictions``: targets with no prediction; ``missing_targets``: predictions
    with no target; ``missing_masks``: stems with prediction and target but no mask.
    """

    pairs: list[Pair]
    missing_predictions: list[str] = field(default_factory=list)
    missing_targets: list[str] = field(default_factory=list)
    missing_masks: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing_predictions or self.missing_targets or self.missing_masks)

    def describe_missing(self) -> str:
        """One line naming what is missing (empty when complete)."""
        parts = []
        for what, names in (("predictions", self.missing_predictions),
                            ("targets", self.missing_targets),
                            ("masks", self.missing_masks)):
            if names:
                parts.append(f"{len(names)} missing {what}: {_name_list(names)}")
        return "; ".join(parts)


class MissingFilesError(ValueError):
    """Some photos lack a prediction, target or mask (strict mode)."""

    def __init__(self, pairing: Pairing):
        self.pairing = pairing
        super().__init__(
            f"{pairing.describe_missing()} (`ppr10k evaluate --no-strict` scores the complete "
            "pairs only)"
        )


def pair_files(
    pred_dir: str | os.PathLike, target_dir: str | os.PathLike, masks_dir: str | os.PathLike
) -> Pairing:
    """Pair the files of three folders by stem.

    The targets define the photos to score; predictions without a target are reported as
    missing targets. Pairs come out in natural stem order.
    """
    predictions = index_folder(pred_dir, "predictions")
    targets = index_folder(target_dir, "targets")
    masks = index_folder(masks_dir, "masks")
    pairs = []
    missing_masks = []
    for stem in sorted(set(predictions) & set(targets), key=stem_sort_key):
        if stem not in masks:
            missing_masks.append(stem)
            continue
        pairs.append(Pair(stem, group_of(stem), predictions[stem], targets[stem], masks[stem]))
    return Pairing(
        pairs=pairs,
        missing_predictions=sorted(set(targets) - set(predictions), key=stem_sort_key),
        missing_targets=sorted(set(predictions) - set(targets), key=stem_sort_key),
        missing_masks=missing_masks,
    )


def _name_list(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... and {len(names) - limit} more"
