"""Reports of an evaluation: CSV tables, the JSON summary and the terminal table.

Defines :func:`write_rows_csv`, :func:`write_summary_json`, :func:`format_table` and
:func:`default_group_csv`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

from ppr10k.io.image import atomic_write

#: Per-image CSV columns, in order (measures in the paper's order first).
IMAGE_COLUMNS = ("stem", "group", "psnr", "delta_e", "psnr_hc", "delta_e_hc", "mean_L",
                 "mean_a", "mean_b", "human_fraction", "mask_resized", "bit_depth",
                 "prediction", "target", "mask")
#: Per-group CSV columns.
GROUP_COLUMNS = ("group", "n_images", "psnr", "delta_e", "psnr_hc", "delta_e_hc", "glc",
                 "var_a", "var_b", "mean_a", "mean_b", "stems")
#: Keys of the JSON summary that the issue fixes, in the paper's order.
SUMMARY_KEYS = ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "glc", "n_images", "n_groups")
#: Terminal table headings (paper's order) -> summary key.
TABLE_COLUMNS = (("PSNR", "psnr"), ("ΔE", "delta_e"), ("PSNR^HC", "psnr_hc"),
                 ("ΔE^HC", "delta_e_hc"), ("M^GLC", "glc"))


def default_group_csv(csv_path: str | os.PathLike) -> Path:
    """Where the per-group table goes when only the per-image CSV is named:
    ``<csv stem>_groups.csv`` beside it."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f"{csv_path.stem}_groups.csv")


def _cell(value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return "inf" if math.isinf(value) and value > 0 else repr(value)
    return str(value)


def write_rows_csv(path: str | os.PathLike, rows: list[dict], columns: tuple[str, ...]) -> Path:
    """Write ``rows`` as CSV with ``columns`` (atomic; floats at full precision, ``inf`` kept)."""
    path = Path(path)
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c, "")) for c in columns])
    return path


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_summary_json(path: str | os.PathLike, summary: dict) -> Path:
    """Write the summary as JSON: the fixed keys first, then the rest (non-finite -> null)."""
    path = Path(path)
    ordered = {k: summary[k] for k in SUMMARY_KEYS}
    ordered.update({k: v for k, v in summary.items() if k not in ordered})
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(_json_safe(ordered), indent=2, allow_nan=False) + "\n",
                       encoding="utf-8")
    return path


def format_table(summary: dict, ascii_only: bool = False) -> str:
    """The dataset measures as a small table in the paper's column order (2 decimals)."""
    headings = [h.replace("ΔE", "dE") if ascii_only else h for h, _ in TABLE_COLUMNS]
    values = [f"{summary[key]:.2f}" if summary[key] is not None else "n/a"
              for _, key in TABLE_COLUMNS]
    widths = [max(len(h), len(v)) for h, v in zip(headings, values)]
    line = "  ".join(h.rjust(w) for h, w in zip(headings, widths))
    rule = "  ".join("-" * w for w in widths)
    row = "  ".join(v.rjust(w) for v, w in zip(values, widths))
    notes = f"{summary['n_images']} images in {summary['n_groups']} groups"
    if summary.get("n_identical"):
        cap = summary.get("psnr_cap")
        how = f"counted as {cap:g} dB in the PSNR averages" if cap is not None else "PSNR inf"
        notes += f"; {summary['n_identical']} identical to their target ({how})"
    return f"{line}\n{rule}\n{row}\n{notes}"
