"""The demo report from synthetic inputs: content, offline files, and a headless-Chromium render."""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ppr10k.demo.pipeline import DemoResult, DemoSettings
from ppr10k.demo.report import measures_table, write_report
from ppr10k.io import read_image_native, write_image
from ppr10k.models.zoo import DEFAULT_MODEL

# distinctive flat colours, found again in the screenshot to prove the images were drawn
SOURCE_RGB, MODEL_RGB, GROUP_RGB, EXPERT_RGB = (250, 20, 20), (20, 230, 30), (20, 40, 250), (
    240, 220, 10)
ZOO_RGB = (200, 30, 200)
ZOO_LABEL = f"zoo: {DEFAULT_MODEL}"


def _summary(psnr, delta_e, psnr_hc, delta_e_hc, glc):
    return {"psnr": psnr, "delta_e": delta_e, "psnr_hc": psnr_hc, "delta_e_hc": delta_e_hc,
            "glc": glc, "n_images": 4, "n_groups": 2}


def _make_fake_demo(tmp_path: Path, zoo: bool) -> tuple[DemoResult, Path, dict[str, Path]]:
    """A demo folder with flat-colour images standing for sources, predictions and targets
    (with or without the zoo model's predictions and scores)."""
    out = tmp_path / "demo"
    data = out / "data"
    stems = ["1356_0", "1356_1", "1357_0", "1357_1"]
    preds = {"model": out / "predictions" / "model", "group": out / "predictions" / "group"}
    if zoo:
        preds["zoo"] = out / "predictions" / "zoo"

    def flat(rgb, h=180, w=270):
        return np.broadcast_to(np.asarray(rgb, np.uint8), (h, w, 3)).copy()

    for stem in stems:
        write_image(data / "val" / "source" / f"{stem}.tif",
                    flat(SOURCE_RGB).astype(np.uint16) * 257)
        write_image(data / "val" / "target_a" / f"{stem}.tif", flat(EXPERT_RGB))
        write_image(preds["model"] / f"{stem}.png", flat(MODEL_RGB))
        write_image(preds["group"] / f"{stem}.png", flat(GROUP_RGB))
        if zoo:
            write_image(preds["zoo"] / f"{stem}.png", flat(ZOO_RGB))
    (data / "sample.json").write_text(json.dumps(
        {"people": {"1356": "astronaut", "1357": "grace_hopper"}}))
    groups_rows = {k: [{"group": "1356", "glc": g1}, {"group": "1357", "glc": g2}]
                   for k, g1, g2 in (("identity", 0.3, 0.2), ("model", 0.25, 0.15),
                                     ("group", 0.1, 0.05), ("zoo", 0.02, 0.01),
                                     ("expert", 0.08, 0.04))}
    summaries = {"identity": _summary(16.0, 21.0, 17.0, 18.0, 0.25),
                 "model": _summary(25.5, 6.5, 27.0, 5.5, 0.2),
                 "group": _summary(25.4, 6.6, 27.1, 5.4, 0.075),
                 # better than the trained model on every column: must still not be ranked
                 "zoo": _summary(30.0, 3.0, 31.0, 2.5, 0.015),
                 "expert": _summary(float("inf"), 0.0, float("inf"), 0.0, 0.06)}
    if not zoo:
        del summaries["zoo"], groups_rows["zoo"]
    result = DemoResult(
        out_dir=out, report=out / "report.html", summaries=summaries, groups=groups_rows,
        history=[{"epoch": e, "loss": 0.1 / e, "val_psnr": 20 + e} for e in range(1, 5)],
        stage_seconds={"sample set": 1.0, "train": 10.0},
        seconds=12.0, settings=DemoSettings(), zoo_model=DEFAULT_MODEL if zoo else None)
    full_src = write_image(out / "full_resolution" / "source" / "1356_0.tif",
                           flat(SOURCE_RGB, 540, 810).astype(np.uint16) * 257)
    full_out = write_image(out / "full_resolution" / "retouched" / "1356_0.tif",
                           flat(MODEL_RGB, 540, 810).astype(np.uint16) * 257)
    full = {"group": 1356, "sources": [full_src], "retouched": [full_out], "seconds": 0.1,
            "size": (810, 540)}
    write_report(result, data, preds, full)
    return result, data, preds


@pytest.fixture
def fake_demo(tmp_path) -> tuple[DemoResult, Path, dict[str, Path]]:
    """A fake demo with the zoo model's row and column."""
    return _make_fake_demo(tmp_path, zoo=True)


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("img", "meta", "br", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> after {self.stack[-3:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_report_has_the_table_charts_grid_and_local_images(fake_demo):
    result, _, _ = fake_demo
    page = result.report.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(page)
    assert parser.stack == [], "every element is closed"
    images = [attrs["src"] for tag, attrs in parser.tags if tag == "img"]
    # training curve + GLC chart + 4 photos x 5 columns + 2 full-size pairs
    assert len(images) == 2 + 20 + 2
    for src in images:
        assert not re.match(r"^[a-z]+:", src), f"{src} is not a local relative file"
        assert (result.out_dir / src).is_file(), src
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page must work offline"
    text = " ".join(parser.text)
    for needle in ("identity (untouched source)", "trained model, group-consistent",
                   "group 1356", "group 1357", "1356_1"):
        assert needle in text
    # the two charts are real PNGs of sensible size
    for name in ("training_curve.png", "group_glc.png"):
        with Image.open(result.out_dir / "report_files" / name) as img:
            assert img.format == "PNG" and img.width >= 400 and img.height >= 200


def _table_rows(page: str) -> list[tuple[str, str, str]]:
    """(row attributes, label, cells) of the measures table's body."""
    table = re.search(r'<table class="m" id="measures">.*?</table>', page, re.DOTALL).group(0)
    return re.findall(r"<tr([^>]*)><td>(.*?)</td>(.*?)</tr>", table)


def _grid_headers(page: str) -> list[list[str]]:
    """The column headers of every validation group's picture grid."""
    tables = re.findall(r'<table class="grid">(.*?)</table>', page, re.DOTALL)
    return [re.findall(r"<th>([^<]+)</th>", re.search(r"<tr>(.*?)</tr>", t, re.DOTALL).group(1))
            for t in tables]


def test_report_has_a_zoo_row_and_a_zoo_column(fake_demo):
    """The default zoo model: a row in the measures table (after the trained model's rows,
    never ranked), a column of pictures beside the trained model's, and the note that it was
    trained on other targets; the grid names who is in each group."""
    result, _, _ = fake_demo
    page = result.report.read_text(encoding="utf-8")
    rows = _table_rows(page)
    assert [label for _, label, _ in rows] == [
        "identity (untouched source)", "trained model", "trained model, group-consistent",
        ZOO_LABEL]
    attrs, _, cells = rows[-1]
    assert 'class="ref"' in attrs
    assert re.findall(r"<td>([^<]*)</td>", cells) == ["30.00", "3.00", "31.00", "2.50", "0.015"]
    assert 'class="best"' not in cells  # its better numbers are not comparable
    assert sum(cells.count('class="best"') for _, _, cells in rows) == 5
    headers = _grid_headers(page)
    assert len(headers) == 2
    for columns in headers:
        assert columns == ["before (source)", "after (model)", "after (group-consistent)",
                           f"after ({ZOO_LABEL})", "expert a"]
    for stem in ("1356_0", "1356_1", "1357_0", "1357_1"):
        thumb = result.out_dir / "report_files" / "grid" / f"{stem}_zoo.jpg"
        assert f'src="report_files/grid/{stem}_zoo.jpg"' in page
        pixels = read_image_native(thumb).reshape(-1, 3).mean(axis=0)
        assert np.abs(pixels - ZOO_RGB).max() < 8, (stem, pixels)  # the zoo's own pictures
    note = re.search(r'<p class="note" id="zoo-note">(.*?)</p>', page, re.DOTALL).group(1)
    for needle in (f"zoo: {DEFAULT_MODEL}", "MIT-Adobe FiveK", "expert C", "not comparable",
                   "off-the-shelf"):
        assert needle in note
    assert "<h3>group 1356 · Eileen Collins</h3>" in page
    assert "<h3>group 1357 · Grace Hopper</h3>" in page
    assert "Grace Hopper" in page.split("About this run")[1]


def test_report_without_the_zoo_model_has_no_zoo_row_or_column(tmp_path):
    result, _, _ = _make_fake_demo(tmp_path, zoo=False)
    page = result.report.read_text(encoding="utf-8")
    assert [label for _, label, _ in _table_rows(page)][-1] == "trained model, group-consistent"
    assert all(len(columns) == 4 for columns in _grid_headers(page))
    assert "zoo-note" not in page and "zoo:" not in page
    assert not list((result.out_dir / "report_files" / "grid").glob("*_zoo.jpg"))


def test_closing_note_names_the_zoo_model_and_its_caveat(fake_demo, tmp_path):
    result, _, _ = fake_demo
    lines = result.closing_note().splitlines()
    zoo_lines = [line for line in lines if line.startswith(f"zoo: {DEFAULT_MODEL}")]
    assert len(zoo_lines) == 1
    assert zoo_lines[0].split()[-5:] == ["30.00", "3.00", "31.00", "2.50", "0.015"]
    caveat = next(line for line in lines if line.startswith("*"))
    assert "MIT-Adobe FiveK" in caveat and "not comparable" in caveat
    without, _, _ = _make_fake_demo(tmp_path / "plain", zoo=False)
    assert "zoo" not in without.closing_note()


def test_measures_table_marks_the_best_of_each_column():
    summaries = {"identity": _summary(16.0, 21.0, 17.0, 18.0, 0.25),
                 "model": _summary(25.5, 6.5, 27.0, 5.5, 0.2),
                 "group": _summary(25.4, 6.6, 27.1, 5.4, 0.075)}
    table = measures_table(summaries)
    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", table)
    assert [r[0] for r in rows] == ["identity (untouched source)", "trained model",
                                    "trained model, group-consistent"]
    best = {name: re.findall(r'<td class="best">([^<]*)</td>', cells) for name, cells in rows}
    assert best["identity (untouched source)"] == []
    assert best["trained model"] == ["25.50", "6.50"]  # PSNR (higher), ΔE (lower)
    assert best["trained model, group-consistent"] == ["27.10", "5.40", "0.075"]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render_with_chromium(page: Path, png: Path, profile: Path, size=(1280, 4200)) -> str:
    """Render ``page`` headless to ``png``; return Chromium's log (console messages included)."""
    browser = _chromium()
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
               f"--user-data-dir={profile}", f"--screenshot={png}",
               f"--window-size={size[0]},{size[1]}", page.resolve().as_uri()]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert png.is_file(), (f"chromium wrote no screenshot (exit {done.returncode}): "
                           + done.stderr[-2000:])
    return done.stdout + done.stderr


def _count_near(pixels: np.ndarray, rgb, tolerance=30) -> int:
    return int((np.abs(pixels.astype(int) - np.asarray(rgb)).max(axis=-1) <= tolerance).sum())


@pytest.mark.skipif(_chromium() is None,
                    reason="headless Chromium not installed (Debian: apt-get install chromium; "
                           ".ci/run installs it)")
def test_report_renders_in_headless_chromium(fake_demo, tmp_path):
    result, _, _ = fake_demo
    png = tmp_path / "report.png"
    log = render_with_chromium(result.report, png, tmp_path / "profile")
    assert ":CONSOLE" not in log, "the page logged console messages: " + log[-2000:]
    pixels = np.asarray(Image.open(png).convert("RGB"))
    # each photo column's thumbnails were drawn (4 thumbnails of about 270x180 each)
    for rgb in (SOURCE_RGB, MODEL_RGB, GROUP_RGB, ZOO_RGB, EXPERT_RGB):
        assert _count_near(pixels, rgb) > 4 * 150 * 100, rgb
    # the measures table: its "best" cells are drawn with their light green background
    assert _count_near(pixels, (0xEA, 0xF4, 0xEA), tolerance=3) > 2000
    # the page is not blank: the text is dark on white
    assert (pixels.max(axis=-1) < 80).sum() > 5000
