"""`ppr10k demo`: group-consistent retouching, output-folder safety, and the quick run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ppr10k.cli.main import main
from ppr10k.demo.pipeline import run_demo
from ppr10k.io import read_image_native


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        run_demo(tmp_path, quick=True, progress=False)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert main(["demo", "--quick", "--quiet", "--out", str(tmp_path)]) == 1


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"report: {(out / 'report.html').resolve()}" in printed
    for stage in range(1, 7):
        assert f"[{stage}/6]" in printed
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="measures"' in page and "training_curve.png" in page
    info = json.loads((out / "demo.json").read_text())
    identity, model = info["summaries"]["identity"], info["summaries"]["model"]
    assert model["psnr"] > identity["psnr"] + 3.0
    assert model["delta_e"] < identity["delta_e"] - 3.0
    assert np.isfinite(info["summaries"]["group"]["glc"])
    # predictions are 8-bit PNGs of the validation photos' size; full-size output is 16-bit
    sources = sorted((out / "data" / "val" / "source").glob("*.tif"))
    for path in sources:
        pred = read_image_native(out / "predictions" / "model" / f"{path.stem}.png")
        assert pred.dtype == np.uint8 and pred.shape == read_image_native(path).shape
    full = sorted((out / "full_resolution" / "retouched").glob("*.tif"))
    assert full and all(read_image_native(p).dtype == np.uint16 for p in full)
    assert read_image_native(full[0]).shape[0] > 360
    # a second run into the same folder replaces the first (no error, no stale run)
    assert main(["demo", "--quick", "--quiet", "--out", str(out)]) == 0
