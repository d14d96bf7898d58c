"""Plots of an evaluation (matplotlib, headless: figures drawn on an Agg canvas, no pyplot).

Defines :func:`plot_histogram`, :func:`plot_worst_groups` and :func:`write_plots`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ppr10k.io.image import atomic_write

#: File names :func:`write_plots` writes in its folder.
PLOT_FILES = {
    "psnr": "psnr_histogram.png",
    "delta_e": "delta_e_histogram.png",
    "glc": "glc_worst_groups.png",
}


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    with atomic_write(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return path


def plot_histogram(
    values: list[float], path: str | os.PathLike, *, title: str, xlabel: str, bins: int = 40
) -> Path:
    """Histogram of per-image values (non-finite ones are left out and counted in the title)."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    figure = Figure(figsize=(6.4, 4.0))
    axes = figure.add_subplot()
    if finite.size:
        axes.hist(finite, bins=bins, color="#4477aa", edgecolor="white")
        axes.axvline(finite.mean(), color="#cc3311", linestyle="--",
                     label=f"mean {finite.mean():.2f}")
        axes.legend(loc="upper right")
    dropped = array.size - finite.size
    axes.set_title(title + (f" ({dropped} infinite left out)" if dropped else ""))
    axes.set_xlabel(xlabel)
    axes.set_ylabel("images")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return _save(figure, Path(path))


def plot_worst_groups(groups: list[dict], path: str | os.PathLike, *, count: int = 20) -> Path:
    """Horizontal bars of the ``count`` groups with the largest M^GLC term (worst on top)."""
    worst = sorted(groups, key=lambda g: g["glc"], reverse=True)[:count]
    figure = Figure(figsize=(6.4, 1.0 + 0.28 * max(len(worst), 1)))
    axes = figure.add_subplot()
    labels = [f"{g['group']} (n={g['n_images']})" for g in worst][::-1]
    axes.barh(range(len(worst)), [g["glc"] for g in worst][::-1], color="#ee7733")
    axes.set_yticks(range(len(worst)), labels)
    axes.set_xlabel("group M^GLC term: mean of var(mean a*), var(mean b*)")
    axes.set_title(f"Least consistent groups ({len(worst)} of {len(groups)}, worst on top)")
    figure.tight_layout()
    return _save(figure, Path(path))


def write_plots(images: list[dict], groups: list[dict], folder: str | os.PathLike) -> list[Path]:
    """Write the PSNR and ΔE histograms and the worst-groups chart into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        plot_histogram([r["psnr"] for r in images], folder / PLOT_FILES["psnr"],
                       title="PSNR per image", xlabel="PSNR (dB)"),
        plot_histogram([r["delta_e"] for r in images], folder / PLOT_FILES["delta_e"],
                       title="ΔE per image", xlabel="mean ΔE*ab (CIE 1976)"),
        plot_worst_groups(groups, folder / PLOT_FILES["glc"]),
    ]
