"""Statistics of a PPR10K dataset folder: settings, groups, capture times.

Defines :func:`collect_settings`, :func:`capture_times`, :func:`dataset_stats`.

``root`` is a PPR10K folder holding some of ``xmp_source/``, ``xmp_target_a/``,
``xmp_target_b/``, ``xmp_target_c/`` (sidecars) and ``raw/``, or a single folder of
sidecars. Sidecars and raws may have any name: PPR10K's ``G_I.xmp``, ``xmp augment``'s
``G_I_K.xmp``, a camera's ``IMG_1234.xmp``; a photo is its file stem, and its group the
``G`` of a PPR10K name (photos with other names are counted as without a group).
:func:`dataset_stats` writes into ``plots_dir``:

- ``settings/<Name>.png``: a histogram of each numeric Camera Raw setting that varies,
  the source and each expert overlaid on the same bins;
- ``photos_per_group.png``: how many groups have 1, 2, ... photos;
- ``capture_month.png`` and ``capture_hour.png``: from the raws' EXIF capture time
  (read by LibRaw through rawpy, Pillow as fallback), or, for photos without a raw, the
  sidecar's ``exif:DateTimeOriginal`` / ``xmp:CreateDate`` / ``photoshop:DateCreated``;
  skipped (and said so) when no photo has a capture time;
- ``stats.json``: every number behind the plots.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ppr10k.io.names import parse_stem

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

XMP_FOLDERS = ("xmp_source", "xmp_target_a", "xmp_target_b", "xmp_target_c")
RAW_FOLDER = "raw"
_DATE_PROPERTIES = (
    ("http://ns.adobe.com/exif/1.0/", "DateTimeOriginal"),
    ("http://ns.adobe.com/xap/1.0/", "CreateDate"),
    ("http://ns.adobe.com/photoshop/1.0/", "DateCreated"),
)
_ISO_DATE = re.compile(r"(\d{4})[-:](\d{2})[-:](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


def _stems(folder: Path, xmp: bool) -> dict[str, Path]:
    """``{stem: path}`` of the sidecars (``xmp``) or the raws in ``folder``, any name."""
    from ppr10k.io.raw import is_raw

    found = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if (path.suffix.lower() == ".xmp") if xmp else is_raw(path):
            found[path.stem] = path
    return found


def parse_date(text: str) -> dt.datetime | None:
    """An EXIF (``2015:06:11 10:29:26``) or XMP (``2015-06-11T10:29:26.69``) date, or None.

    The wall-clock time is kept (a time-zone suffix is ignored): capture hour is local.
    """
    match = _ISO_DATE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def collect_settings(folder: str | os.PathLike, progress: bool = False
                     ) -> tuple[dict[str, dict[str, float]], dict[str, dt.datetime], list]:
    """Numeric Camera Raw settings of every sidecar (``*.xmp``, any name) in ``folder``.

    Returns:
        ``{setting: {stem: value}}`` (numbers only; booleans and text are left out),
        ``{stem: capture time}`` from the sidecars' date properties, and a list of
        (file, error) for sidecars that could not be read.
    """
    from ppr10k.xmp import XmpError, camera_raw_settings, properties, read_xmp

    values: dict[str, dict[str, float]] = {}
    dates: dict[str, dt.datetime] = {}
    errors = []
    items = list(_stems(Path(folder), xmp=True).items())
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc=f"read {Path(folder).name}", unit="file")
    for stem, path in items:
        try:
            document = read_xmp(path)
        except (XmpError, OSError) as error:
            errors.append((str(path), str(error)))
            continue
        for name, value in camera_raw_settings(document).settings.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(name, {})[stem] = float(value)
        for uri, local in _DATE_PROPERTIES:
            text = properties(document, uri).settings.get(local)
            when = parse_date(str(text)) if text is not None else None
            if when is not None:
                dates[stem] = when
                break
    return values, dates, errors


def raw_capture_time(path: str | os.PathLike) -> dt.datetime | None:
    """The capture time in a raw's EXIF (LibRaw via rawpy; Pillow for TIFF-like files)."""
    import rawpy

    when = None
    try:
        with rawpy.imread(str(path)) as raw:
            when = raw.other.timestamp
    except (rawpy.LibRawError, OSError, ValueError):
        when = None  # not a raw LibRaw knows: try Pillow below
    if when is not None and when.year > 1970:
        return when.replace(tzinfo=None)
    try:
        from PIL import Image

        with Image.open(path) as image:
            exif = image.getexif()
            text = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
        return parse_date(str(text)) if text else None
    except Exception:  # noqa: BLE001 - not an image Pillow knows: no capture time
        return None


def capture_times(raw_dir: str | os.PathLike, progress: bool = False) -> dict[str, dt.datetime]:
    """``{stem: capture time}`` for the raws in ``raw_dir`` that have one (any name)."""
    items = list(_stems(Path(raw_dir), xmp=False).items())
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="read raw EXIF", unit="file")
    times = {}
    for stem, path in items:
        when = raw_capture_time(path)
        if when is not None:
            times[stem] = when
    return times


def _summary(values: np.ndarray, bins: np.ndarray) -> dict:
    counts, _ = np.histogram(values, bins=bins)
    return {"count": int(values.size), "mean": float(values.mean()),
            "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max()),
            "percentiles": dict(zip(("p5", "p25", "p50", "p75", "p95"),
                                    map(float, np.percentile(values, [5, 25, 50, 75, 95])))),
            "histogram": counts.tolist()}


def _bins(values: np.ndarray, count: int) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    integers = np.all(values == np.round(values))
    if integers and high - low + 1 <= count:
        return np.arange(low - 0.5, high + 1.5)
    return np.linspace(low, high, count + 1)


def _series_folders(root: Path) -> dict[str, Path]:
    folders = {name: root / name for name in XMP_FOLDERS if (root / name).is_dir()}
    if not folders and any(p.suffix.lower() == ".xmp" for p in root.iterdir()):
        folders = {root.name: root}
    return folders


def _figure() -> tuple[Figure, Axes]:
    """A headless figure and its axes (an Agg canvas of its own: no pyplot, no backend
    switch for the rest of the process)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)
    return figure, figure.subplots()


def dataset_stats(root: str | os.PathLike, plots_dir: str | os.PathLike, bins: int = 50,
                  progress: bool = True) -> dict:
    """Compute the statistics of ``root`` and write the plots and ``stats.json``.

    Args:
        root: a PPR10K folder (or one folder of sidecars); see the module docstring.
        plots_dir: output folder (created).
        bins: histogram bins for continuous settings (integer settings with a small range
            get one bin per value).
        progress: show progress bars.

    Returns:
        The dictionary written to ``plots_dir/stats.json``.

    Raises:
        NotADirectoryError: no folder ``root``.
        FileNotFoundError: no sidecar folder, raw folder or sidecar in ``root``, or those
            folders hold no sidecar and no raw.
    """
    root, plots_dir = Path(root), Path(plots_dir)
    if not root.is_dir():
        raise NotADirectoryError(f"dataset folder not found: {root}")
    series = _series_folders(root)
    raw_dir = root / RAW_FOLDER
    if not series and not raw_dir.is_dir():
        raise FileNotFoundError(f"{root} has none of {', '.join(XMP_FOLDERS)}, no raw/ and "
                                "no .xmp files: give the PPR10K folder")
    from ppr10k.io.guard import check_output_folder

    check_output_folder(plots_dir, [root], option="--plots", what="the dataset",
                        contain=False)
    (plots_dir / "settings").mkdir(parents=True, exist_ok=True)
    values: dict[str, dict[str, dict[str, float]]] = {}
    xmp_dates: dict[str, dt.datetime] = {}
    errors = []
    stems: set[str] = set()
    for label, folder in series.items():
        values[label], dates, bad = collect_settings(folder, progress)
        errors += bad
        stems |= set(_stems(folder, xmp=True))
        for stem, when in dates.items():
            xmp_dates.setdefault(stem, when)
    raw_times = capture_times(raw_dir, progress) if raw_dir.is_dir() else {}
    if raw_dir.is_dir():
        stems |= set(_stems(raw_dir, xmp=False))
    if not stems:
        looked = ", ".join(f"{folder}/" for folder in [*series.values(), raw_dir]
                           if folder.is_dir())
        raise FileNotFoundError(f"no sidecars (.xmp) or raws found in {looked}")

    stats: dict = {"root": str(root), "series": list(series), "errors": errors,
                   "settings": {}, "plots": []}
    names = sorted({name for per in values.values() for name in per})
    for name in names:
        arrays = {label: np.array(list(values[label].get(name, {}).values()))
                  for label in series}
        arrays = {label: a for label, a in arrays.items() if a.size}
        pooled = np.concatenate(list(arrays.values()))
        if pooled.min() == pooled.max():
            stats["settings"][name] = {"constant": float(pooled[0])}
            continue
        edges = _bins(pooled, bins)
        stats["settings"][name] = {"bin_edges": edges.tolist(),
                                   **{label: _summary(a, edges) for label, a in arrays.items()}}
        figure, axes = _figure()
        for label, array in arrays.items():
            axes.hist(array, bins=edges, histtype="step", linewidth=1.5,
                      label=f"{label} (n={array.size})")
        axes.set(title=f"crs:{name}", xlabel=name, ylabel="photos")
        axes.legend(fontsize=8)
        figure.tight_layout()
        path = plots_dir / "settings" / f"{name}.png"
        figure.savefig(path, dpi=100)
        stats["plots"].append(str(path.relative_to(plots_dir)))

    keys = {stem: parse_stem(stem) for stem in stems}
    groups = Counter(key.group for key in keys.values() if key is not None)
    sizes = Counter(groups.values())
    stats["groups"] = {"groups": len(groups), "photos": len(stems),
                       "photos_per_group": {str(k): sizes[k] for k in sorted(sizes)},
                       "photos_without_group": sum(key is None for key in keys.values())}
    if groups:
        figure, axes = _figure()
        axes.bar(sorted(sizes), [sizes[k] for k in sorted(sizes)])
        axes.set(title=f"photos per group ({len(groups)} groups, {len(stems)} photos)",
                 xlabel="photos in the group", ylabel="groups")
        figure.tight_layout()
        figure.savefig(plots_dir / "photos_per_group.png", dpi=100)
        stats["plots"].append("photos_per_group.png")

    times = dict(raw_times)
    from_xmp = {s: t for s, t in xmp_dates.items() if s not in times}
    times.update(from_xmp)
    capture = {"from_raw_exif": len(raw_times), "from_xmp": len(from_xmp),
               "without": len(stems - set(times))}
    if times:
        months = Counter(t.month for t in times.values())
        hours = Counter(t.hour for t in times.values())
        capture["month"] = [months[m] for m in range(1, 13)]
        capture["hour"] = [hours[h] for h in range(24)]
        for key, labels, xlabel in (("month", range(1, 13), "month"),
                                    ("hour", range(24), "hour of day")):
            figure, axes = _figure()
            axes.bar(list(labels), capture[key])
            axes.set(title=f"capture {xlabel} ({len(times)} photos)", xlabel=xlabel,
                     ylabel="photos", xticks=list(labels))
            figure.tight_layout()
            figure.savefig(plots_dir / f"capture_{key}.png", dpi=100)
            stats["plots"].append(f"capture_{key}.png")
    else:
        capture["note"] = ("no capture times: no raw/ folder with readable EXIF and no dates "
                           "in the sidecars; capture month/hour plots skipped")
    stats["capture_time"] = capture
    from ppr10k.xmp.write import write_bytes_atomic

    write_bytes_atomic(plots_dir / "stats.json",
                       (json.dumps(stats, indent=2) + "\n").encode("utf-8"))
    return stats
