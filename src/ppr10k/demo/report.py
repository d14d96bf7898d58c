"""The demo's ``report.html``: one static page, images as files beside it, no network.

Defines :func:`write_report` (from a :class:`ppr10k.demo.pipeline.DemoResult`) and the
parts it is made of: :func:`measures_table`, :func:`plot_training_curve`,
:func:`plot_group_glc` and :func:`thumbnail`.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ppr10k.io import atomic_write, read_image
from ppr10k.io.names import parse_stem

if TYPE_CHECKING:  # pragma: no cover
    from ppr10k.demo.pipeline import DemoResult

FILES = "report_files"
#: Table rows: key of the summaries, label.
ROWS = (("identity", "identity (untouched source)"), ("model", "trained model"),
        ("group", "trained model, group-consistent"))
#: Columns: key, label, True where higher is better.
COLUMNS = (("psnr", "PSNR (dB) ↑", True), ("delta_e", "ΔE<sub>ab</sub> ↓", False),
           ("psnr_hc", "PSNR<sup>HC</sup> (dB) ↑", True),
           ("delta_e_hc", "ΔE<sup>HC</sup> ↓", False), ("glc", "M<sup>GLC</sup> ↓", False))
SERIES_COLOURS = {"identity": "#999999", "model": "#4477aa", "group": "#ee7733",
                  "zoo": "#aa3377", "expert": "#228833"}
SERIES_LABELS = {"identity": "identity", "model": "model", "group": "group-consistent",
                 "zoo": "zoo model", "expert": "expert target"}
#: Series in the charts and grid notes, in this order.
SERIES = ("identity", "model", "group", "zoo", "expert")

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;
max-width:1180px;color:#222;padding:0 1em}
h1{margin-bottom:.2em}.lead{color:#555;margin-top:0}
table.m{border-collapse:collapse;margin:1em 0}
table.m th,table.m td{border:1px solid #ccc;padding:.35em .7em;text-align:right}
table.m th:first-child,table.m td:first-child{text-align:left}
table.m td.best{font-weight:bold;background:#eaf4ea}
table.m tr.ref td{font-style:italic;color:#555}
figure{margin:1em 0}figcaption{color:#555;font-size:.9em}
.grid{border-collapse:collapse}.grid td,.grid th{padding:2px 4px;vertical-align:top}
.grid img{display:block;max-width:210px;height:auto}
.grid th{font-weight:normal;color:#555;font-size:.85em}
.full img{max-width:360px;height:auto;margin:2px}
.note{color:#555;font-size:.9em}
code{background:#f3f3f3;padding:0 .2em}
"""


def _fmt(value: float, key: str) -> str:
    if not np.isfinite(value):
        return "∞" if value > 0 else "–"
    return f"{value:.3f}" if key == "glc" else f"{value:.2f}"


def measures_table(summaries: dict[str, dict], rows=ROWS,
                   unranked: tuple[tuple[str, str], ...] = ()) -> str:
    """HTML table of the five measures, one row per method, best value of a column in bold.

    ``rows`` are ranked against each other; ``unranked`` rows (key, label) follow them in
    italics and never count as best (models trained for other targets).
    """
    present = [(k, label) for k, label in rows if k in summaries]
    extra = [(k, label) for k, label in unranked if k in summaries]
    head = "".join(f"<th>{label}</th>" for _, label, _ in COLUMNS)
    body = []
    for key, label in present + extra:
        cells = []
        for column, _, higher in COLUMNS:
            values = [summaries[k][column] for k, _ in present]
            best = max(values) if higher else min(values)
            value = summaries[key][column]
            cls = ' class="best"' if value == best and (key, label) in present else ""
            cells.append(f"<td{cls}>{_fmt(value, column)}</td>")
        row_cls = ' class="ref"' if (key, label) in extra else ""
        body.append(f"<tr{row_cls}><td>{html.escape(label)}</td>{''.join(cells)}</tr>")
    return (f'<table class="m" id="measures"><thead><tr><th>method</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    with atomic_write(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return path


def plot_training_curve(history: list[dict], path: str | os.PathLike,
                        identity_psnr: float | None = None) -> Path:
    """Training loss and validation PSNR per epoch (two y axes)."""
    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(7.0, 3.6))
    axes = figure.add_subplot()
    axes.plot(epochs, [row.get("loss", np.nan) for row in history], "o-", color="#4477aa",
              label="training loss")
    axes.set_xlabel("epoch")
    axes.set_ylabel("training loss", color="#4477aa")
    axes.set_yscale("log")
    right = axes.twinx()
    right.plot(epochs, [row.get("val_psnr") or np.nan for row in history], "s-",
               color="#ee7733", label="validation PSNR")
    if identity_psnr is not None and np.isfinite(identity_psnr):
        right.axhline(identity_psnr, color="#999999", linestyle="--",
                      label=f"identity {identity_psnr:.2f} dB")
    right.set_ylabel("validation PSNR (dB)", color="#ee7733")
    handles = axes.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    axes.legend(handles[0] + more[0], handles[1] + more[1], loc="center right", fontsize=8)
    axes.set_xticks(epochs if len(epochs) <= 20 else epochs[:: max(1, len(epochs) // 10)])
    figure.tight_layout()
    return _save(figure, Path(path))


def plot_group_glc(groups: dict[str, list[dict]], path: str | os.PathLike) -> Path:
    """Per-group M^GLC term, grouped bars for each method (lower is more consistent)."""
    keys = [k for k in SERIES if k in groups]
    names = [row["group"] for row in groups[keys[0]]]
    figure = Figure(figsize=(7.0, 3.6))
    axes = figure.add_subplot()
    width = 0.8 / len(keys)
    x = np.arange(len(names))
    for i, key in enumerate(keys):
        by_name = {row["group"]: row["glc"] for row in groups[key]}
        axes.bar(x + (i - (len(keys) - 1) / 2) * width, [by_name.get(n, np.nan) for n in names],
                 width, color=SERIES_COLOURS[key], label=SERIES_LABELS[key])
    axes.set_xticks(x, [str(n) for n in names])
    axes.set_xlabel("validation group")
    axes.set_ylabel("M^GLC term (var of mean a*, b*)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, Path(path))


def thumbnail(image: np.ndarray | str | os.PathLike, path: str | os.PathLike,
              long_edge: int = 270) -> Path:
    """Write a JPEG preview of an image (array in [0, 1] or any readable file)."""
    array = read_image(image) if not isinstance(image, np.ndarray) else image
    img = Image.fromarray(np.rint(np.clip(array, 0, 1) * 255).astype(np.uint8))
    scale = long_edge / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    path = Path(path)
    with atomic_write(path) as tmp:
        img.save(tmp, format="JPEG", quality=88)
    return path


def _rel(path: Path, root: Path) -> str:
    return html.escape(Path(os.path.relpath(path, root)).as_posix(), quote=True)


def _people(data_root: Path) -> dict[str, str]:
    """Group -> who is in it (a label), from the sample set's ``sample.json``; {} if unknown."""
    from ppr10k.data.sample import PEOPLE

    info_path = data_root / "sample.json"
    if not info_path.is_file():
        return {}
    people = json.loads(info_path.read_text()).get("people", {})
    return {str(g): PEOPLE[name].label if name in PEOPLE else str(name)
            for g, name in people.items()}


def _grid(data_root: Path, pred_dirs: dict[str, Path], expert: str, out_dir: Path,
          groups: dict[str, list[dict]], zoo_label: str | None = None) -> str:
    """Before / after (model) / after (group) / after (zoo model, when run) / expert for
    every photo of every validation group."""
    files = out_dir / FILES / "grid"
    glc = {key: {row["group"]: row["glc"] for row in rows} for key, rows in groups.items()}
    parts = []
    keyed = sorted((key, path) for path in (data_root / "val" / "source").glob("*.tif")
                   if (key := parse_stem(path.stem)) is not None)
    by_group: dict[str, list[Path]] = {}
    for key, path in keyed:
        by_group.setdefault(str(key.group), []).append(path)
    columns = [("source", "before (source)"), ("model", "after (model)"),
               ("group", "after (group-consistent)")]
    if "zoo" in pred_dirs:
        columns.append(("zoo", f"after ({zoo_label or 'zoo model'})"))
    columns.append(("expert", f"expert {expert}"))
    people = _people(data_root)
    for group, paths in by_group.items():
        consistency = ", ".join(f"{SERIES_LABELS[k]} {glc[k].get(group, float('nan')):.3f}"
                                for k in SERIES if k in glc)
        rows = []
        for path in paths:
            stem = path.stem
            inputs = {"source": path,
                      **{k: d / f"{stem}.png" for k, d in pred_dirs.items()},
                      "expert": data_root / "val" / f"target_{expert}" / f"{stem}.tif"}
            cells = []
            for key, label in columns:
                thumb = thumbnail(inputs[key], files / f"{stem}_{key}.jpg")
                cells.append(f'<td><img src="{_rel(thumb, out_dir)}" alt="{stem} {label}" '
                             f'loading="lazy"></td>')
            rows.append(f"<tr><th>{stem}</th>{''.join(cells)}</tr>")
        head = "".join(f"<th>{label}</th>" for _, label in columns)
        who = f" · {html.escape(people[group])}" if group in people else ""
        parts.append(f'<h3>group {group}{who}</h3><p class="note">M<sup>GLC</sup> term: '
                     f"{consistency}</p><table class=\"grid\"><tr><th></th>{head}</tr>"
                     f"{''.join(rows)}</table>")
    return "\n".join(parts)


def _full_section(full: dict | None, out_dir: Path) -> str:
    if not full:
        return ""
    files = out_dir / FILES / "full"
    cells = []
    for source, retouched in zip(full["sources"], full["retouched"]):
        before = thumbnail(source, files / f"{source.stem}_before.jpg", long_edge=4096)
        after = thumbnail(retouched, files / f"{source.stem}_after.jpg", long_edge=4096)
        cells.append(f'<div><a href="{_rel(before, out_dir)}"><img src="{_rel(before, out_dir)}" '
                     f'alt="{source.stem} before"></a>'
                     f'<a href="{_rel(after, out_dir)}"><img src="{_rel(after, out_dir)}" '
                     f'alt="{source.stem} after"></a></div>')
    width, height = full["size"]
    return (f"<h2>Full-size retouching</h2><p>Group {full['group']} rendered at "
            f"{width}×{height} (16-bit TIFF in <code>full_resolution/source/</code>), retouched "
            f"with one LUT for the whole group in {full['seconds']:.2f} s "
            f"(16-bit TIFF in <code>full_resolution/retouched/</code>). Left: before, right: "
            f"after; click for full size.</p><div class=\"full\">{''.join(cells)}</div>")


def _zoo_lead(zoo: str | None) -> str:
    if not zoo:
        return ""
    return (f", beside <code>{html.escape(zoo)}</code>, the default model of the built-in zoo "
            "(a published model, used as it comes)")


def _zoo_note(zoo: str | None, expert: str) -> str:
    """What the zoo model's row and column are, and why its scores are not ranked."""
    if not zoo:
        return ""
    from ppr10k.models.zoo import ZOO

    entry = ZOO.get(zoo)
    origin = (f"was trained by its authors ({html.escape(entry.repo)}) on "
              f"{html.escape(entry.trained_on)}: MIT-Adobe FiveK photos with expert C's edits "
              "as targets," if entry else "was trained on other data,")
    return (f'<p class="note" id="zoo-note"><b>zoo: {html.escape(zoo)}</b> {origin} not on '
            f"this sample's synthetic expert {html.escape(expert)}. Its PSNR and ΔE against this sample's targets are "
            "therefore not comparable with the trained model's (its row is in italics and not "
            "ranked): they measure how far an off-the-shelf look is from this expert's look. "
            "It is shown to see what an off-the-shelf model does to these portraits. "
            "M<sup>GLC</sup> does not use the targets, so that one column can be read beside "
            "the others.</p>")


def write_report(result: DemoResult, data_root: Path, pred_dirs: dict[str, Path],
                 full: dict | None = None) -> Path:
    """Write ``result.out_dir/report.html`` and its images in ``report_files/``."""
    out_dir = Path(result.out_dir)
    files = out_dir / FILES
    files.mkdir(parents=True, exist_ok=True)
    settings = result.settings
    identity_psnr = result.summaries["identity"]["psnr"]
    curve = plot_training_curve(result.history, files / "training_curve.png", identity_psnr)
    glc_chart = plot_group_glc(result.groups, files / "group_glc.png")
    expert_glc = result.summaries.get("expert", {}).get("glc")
    stage_list = "".join(f"<li>{html.escape(k)}: {v:.1f} s</li>"
                         for k, v in result.stage_seconds.items())
    n_val = result.summaries["model"]["n_images"]
    n_groups = result.summaries["model"]["n_groups"]
    zoo = result.zoo_model if "zoo" in result.summaries else None
    zoo_label = f"zoo: {zoo}" if zoo else None
    pred_dirs = {k: v for k, v in pred_dirs.items() if k != "zoo" or zoo}
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ppr10k demo report</title><style>{_CSS}</style></head>
<body>
<h1>ppr10k demo</h1>
<p class="lead">Image-adaptive 3D LUTs trained with human-region priority and group-level
consistency on the built-in sample set, evaluated with the five measures of the PPR10K paper
on {n_val} validation photos in {n_groups} groups (expert {html.escape(settings.expert)}){
_zoo_lead(zoo)}.</p>

<h2>Measures</h2>
{measures_table(result.summaries, ROWS, ((("zoo", zoo_label),) if zoo else ()))}
<p class="note">PSNR and ΔE over whole images; PSNR<sup>HC</sup> and ΔE<sup>HC</sup> weight the
person 1 and the background 0.5; M<sup>GLC</sup> is the variance of the mean a*, b* of a
group's results, averaged over groups (the expert's own targets score
{_fmt(expert_glc, "glc") if expert_glc is not None else "–"}). Group-consistent: the weights
of a group's photos are averaged and one LUT retouches the whole group.</p>
{_zoo_note(zoo, settings.expert)}

<h2>Training</h2>
<figure><img src="{_rel(curve, out_dir)}" alt="training curve" width="700">
<figcaption>Training loss and validation PSNR per epoch ({settings.backbone} backbone,
{settings.lut_dim}³ LUTs, {settings.epochs} epochs, crops of {settings.crop_size} px,
CPU).</figcaption></figure>

<h2>Group-level consistency</h2>
<figure><img src="{_rel(glc_chart, out_dir)}" alt="per-group GLC chart" width="700">
<figcaption>Per-group M<sup>GLC</sup> term (lower: the group's photos look more alike).
</figcaption></figure>

<h2>Validation groups</h2>
{_grid(data_root, pred_dirs, settings.expert, out_dir, result.groups, zoo_label)}

{_full_section(full, out_dir)}

<h2>About this run</h2>
<ul>{stage_list}<li>total: {result.seconds:.0f} s</li></ul>
<p class="note">The sample set is synthetic around two real photographs, both public domain:
the NASA portrait of astronaut Eileen Collins bundled with scikit-image and the U.S. Navy
portrait of Grace Hopper in Matplotlib's sample data. Groups take turns between the two
people (even group numbers: Eileen Collins, odd: Grace Hopper), and every group is its own
framing, backdrop and lighting of its photo; the shots carry a camera's per-shot exposure
and white-balance spread; the three experts are looks applied to the clean photo that treat
the person (hand-drawn masks) and the background differently. It shows what the pipeline
does; numbers on the real PPR10K data differ. Files: <code>data/</code> (the sample
set), <code>run/</code> (model and training log), <code>predictions/</code>,
<code>evaluation/</code> (per-image and per-group measures as JSON).</p>
</body></html>
"""
    path = out_dir / "report.html"
    with atomic_write(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
