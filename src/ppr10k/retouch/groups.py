"""Groups of photos that must look alike.

A group is one shoot: PPR10K names its photos ``G_I`` (group ``G``, photo ``I``) and
``G_I_K`` (augmented renders); a studio keeps a shoot in one folder, or shoots several
sets in a row, which EXIF capture times separate. Within a group, the model's family pulls
each photo's predicted parameters (LUT weights, lattice vertices, 1D LUTs) toward the
group mean (:meth:`ppr10k.models.AdaptiveLUT.average`),

    p_i' = (1 - s) p_i + s mean_j(p_j),     s in [0, 1],

and the resulting curves and fused LUT are applied. ``s = 1`` gives every photo of the
group the same LUT (the same colour and tone treatment), ``s = 0`` leaves each photo its
own. Because the LUT is global and the weights enter linearly, a shared LUT cannot make
differently lit photos identical, but it removes the photo-to-photo swings of the
predictor, which is what the PPR10K group-level consistency measure (variance of the mean
a*, b* across a group) penalises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from ppr10k.io.names import STEM_PATTERN, parse_stem

__all__ = ["GROUP_MODES", "PPR10K_STEM", "group_photos"]

GROUP_MODES = ("auto", "prefix", "folder", "time")
#: PPR10K file stems: ``G_I`` or ``G_I_K``.
PPR10K_STEM = STEM_PATTERN


def _time_groups(items: list[tuple[int, dt.datetime]], gap_s: float) -> list[list[int]]:
    """Split photos sorted by capture time where two neighbours are more than gap apart."""
    items = sorted(items, key=lambda item: item[1])
    groups: list[list[int]] = []
    previous: dt.datetime | None = None
    for index, when in items:
        if previous is None or (when - previous).total_seconds() > gap_s:
            groups.append([])
        groups[-1].append(index)
        previous = when
    return groups


def group_photos(paths: Sequence[Path], mode: str = "auto",
                 capture_times: Sequence[dt.datetime | None] | None = None,
                 gap_s: float = 300.0) -> list[list[int]]:
    """Partition photos into groups.

    Args:
        paths: the photos (only the parent folder and the stem are used).
        mode: ``prefix``: PPR10K ``G_`` prefix within a folder; ``folder``: one group per
            folder; ``time``: within a folder, photos whose capture times follow each other
            within ``gap_s`` seconds; ``auto``: ``prefix`` for PPR10K names, else ``time``
            where a capture time is known, else ``folder``. Photos that a mode cannot place
            (no ``G_`` prefix, no capture time) fall back to their folder.
        capture_times: EXIF capture time of each photo (for ``time`` and ``auto``).
        gap_s: the largest gap between consecutive shots of one group, in seconds.

    Returns:
        Lists of indices into ``paths``, each list one group, in input order.
    """
    if mode not in GROUP_MODES:
        raise ValueError(f"group mode must be one of {GROUP_MODES}, got {mode!r}")
    times = list(capture_times) if capture_times is not None else [None] * len(paths)
    if len(times) != len(paths):
        raise ValueError(f"{len(times)} capture times for {len(paths)} photos")
    keyed: dict[tuple, list[int]] = {}
    timed: dict[Path, list[tuple[int, dt.datetime]]] = {}
    for index, path in enumerate(paths):
        path = Path(path)
        folder = path.parent
        key = parse_stem(path.stem)
        if mode in ("prefix", "auto") and key:
            keyed.setdefault((folder, "G", key.group), []).append(index)
        elif mode in ("time", "auto") and times[index] is not None:
            timed.setdefault(folder, []).append((index, times[index]))
        else:
            keyed.setdefault((folder, "folder"), []).append(index)
    groups = list(keyed.values())
    for items in timed.values():
        groups.extend(_time_groups(items, gap_s))
    return sorted((sorted(group) for group in groups), key=lambda group: group[0])
