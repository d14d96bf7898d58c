"""What a retouch run reports: one :class:`PhotoResult` per input, and the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PhotoResult", "RetouchReport"]


@dataclass
class PhotoResult:
    """What happened to one input: ``status`` is ``done``, ``skipped`` or ``failed``."""

    source: Path
    output: Path | None
    status: str
    reason: str = ""
    seconds: float = 0.0
    weights: list[float] | None = None
    group: int | None = None


@dataclass
class RetouchReport:
    """All results of a run, with the summary printed at its end."""

    results: list[PhotoResult] = field(default_factory=list)
    ignored: int = 0
    seconds: float = 0.0
    #: with ``group_consistent``: the photos of each group, and how they were grouped
    groups: list[list[Path]] | None = None
    group_by: str = ""

    def by_status(self, status: str) -> list[PhotoResult]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> list[PhotoResult]:
        return self.by_status("failed")

    @property
    def exit_code(self) -> int:
        """0 when every photo was retouched or skipped; 1 when any failed or none was found."""
        return 1 if self.failed or not self.results else 0

    def summary(self) -> str:
        if not self.results:
            other = (f" ({self.ignored} other file(s) ignored: masks, other types)"
                     if self.ignored else "")
            return ("no photos found in the inputs: looked for JPEG, PNG, TIFF and camera "
                    f"raw files{other}; give photo files or folders that hold them "
                    "(--recursive for subfolders)")
        done, skipped, failed = (len(self.by_status(s)) for s in ("done", "skipped", "failed"))
        rate = f", {done / self.seconds:.2f} photos/s" if done and self.seconds > 0 else ""
        lines = [f"retouched {done}, skipped {skipped} (output exists), failed {failed} "
                 + f"in {self.seconds:.1f} s{rate}"]
        if self.groups is not None:
            lines.extend(_describe_groups(self.groups, self.group_by))
        if self.ignored:
            lines.append(f"ignored {self.ignored} non-photo file(s) in the input folders "
                         "(masks beside their photos, other types)")
        if failed:
            lines.append("failed:")
            lines.extend(f"  {r.source}: {_strip_path(r.reason, r.source)}"
                         for r in self.failed)
        return "\n".join(lines)


def _describe_groups(groups: list[list[Path]], group_by: str, names: int = 6) -> list[str]:
    """One line per group: its size, folder and first few photo names."""
    lines = [f"{len(groups)} group(s) (--group-by {group_by}):"]
    for number, members in enumerate(groups, 1):
        shown = ", ".join(path.name for path in members[:names])
        more = f", ... and {len(members) - names} more" if len(members) > names else ""
        folder = members[0].parent if members else Path()
        lines.append(f"  group {number}: {len(members)} photo(s) in {folder}: {shown}{more}")
    return lines


def _strip_path(reason: str, path: Path) -> str:
    """Reasons from io start with the path; the summary prints it already."""
    return reason.removeprefix(f"{path}: ")
