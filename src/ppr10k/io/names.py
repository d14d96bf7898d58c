"""PPR10K photo names ``G_I`` and ``G_I_K``: the one parser and formatter of that pattern.

``G`` is the group (one shoot), ``I`` the photo's index in the group and ``K`` (1, 2, ...)
an augmented render of the same photo; ``G_I_K`` shares the target and mask of ``G_I``.

A name is accepted only in its canonical spelling, so that a name and its key convert
both ways without loss (``parse_stem(s).stem == s``) and two files can never claim the
same photo:

- ``G``, ``I`` and ``K`` are ASCII decimal numbers without leading zeros (``0`` itself
  is fine): ``01_2`` is rejected, it would otherwise be the same photo as ``1_2``;
- ``K`` starts at 1: ``1_2_0`` is rejected (version 0 is the photo ``1_2`` itself);
- nothing else: ``1_2_3_4``, ``a_1``, ``1_2.tif`` (a file name, not a stem), ``-1_2``,
  ``1_2 `` and non-ASCII digits are not PPR10K names.

Standard library only: every floor of ppr10k may import this module.

Example:
    >>> parse_stem("12_3_4")
    PhotoKey(group=12, index=3, version=4)
    >>> parse_stem("12_3_4").photo_stem, parse_stem("01_2")
    ('12_3', None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["STEM_PATTERN", "PhotoKey", "parse_stem", "stem_order"]

_NUMBER = r"(0|[1-9][0-9]*)"
#: The pattern of a PPR10K stem (groups: G, I, K or None); anchored, use ``fullmatch``.
STEM_PATTERN = re.compile(rf"^{_NUMBER}_{_NUMBER}(?:_([1-9][0-9]*))?\Z")


@dataclass(frozen=True, order=True)
class PhotoKey:
    """A photo of the dataset: group ``G``, index ``I`` and augmented version ``K`` (0 = none).

    Keys order by ``(group, index, version)``; all three are integers >= 0.
    """

    group: int
    index: int
    version: int = 0

    def __post_init__(self) -> None:
        for name in ("group", "index", "version"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"PhotoKey {name} must be an integer >= 0, got {value!r}")

    @property
    def photo(self) -> PhotoKey:
        """The photo this source renders: ``G_I`` (version 0)."""
        return self if self.version == 0 else PhotoKey(self.group, self.index)

    @property
    def photo_stem(self) -> str:
        """``G_I``: the stem of the photo's target and mask."""
        return f"{self.group}_{self.index}"

    @property
    def stem(self) -> str:
        """``G_I`` or ``G_I_K``: the stem of this source file."""
        return self.photo_stem if self.version == 0 else f"{self.photo_stem}_{self.version}"


def parse_stem(stem: str, *, versions: bool = True) -> PhotoKey | None:
    """Parse a file stem (the name without its suffix) as a PPR10K name.

    Args:
        stem: e.g. ``"12_3"`` or ``"12_3_4"``.
        versions: accept ``G_I_K`` too (False: only ``G_I``, e.g. for targets, masks and
            sidecars, which exist once per photo).

    Returns:
        ``PhotoKey(G, I, K)`` (K = 0 for ``G_I``), or None when ``stem`` is not a canonical
        PPR10K name (see the module docstring for the rules).

    Example:
        >>> parse_stem("12_3"), parse_stem("12_3_4", versions=False), parse_stem("img_3")
        (PhotoKey(group=12, index=3, version=0), None, None)
    """
    match = STEM_PATTERN.match(stem)
    if not match:
        return None
    group, index, version = match.groups()
    if version is not None and not versions:
        return None
    return PhotoKey(int(group), int(index), int(version) if version else 0)


def stem_order(stem: str) -> tuple:
    """Sort key for stems: PPR10K names by ``(G, I, K)`` first, then other names by text.

    Example:
        >>> sorted(["2_10", "zebra", "2_9_1", "2_9", "10_0"], key=stem_order)
        ['2_9', '2_9_1', '2_10', '10_0', 'zebra']
    """
    key = parse_stem(stem)
    if key is None:
        return (1, 0, 0, 0, stem)
    return (0, key.group, key.index, key.version, "")
