"""`ppr10k demo`: group-consistent retouching, output-folder safety, and the quick run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ppr10k.cli.main import main
from ppr10k.data.sample import make_sample_dataset
from ppr10k.demo.pipeline import predict_zoo, run_demo
from ppr10k.io import read_image_native
from ppr10k.models.zoo import DEFAULT_MODEL


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        run_demo(tmp_path, quick=True, progress=False)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert main(["demo", "--quick", "--quiet", "--out", str(tmp_path)]) == 1


def test_zoo_stage_retouches_every_validation_source_with_the_default_model(tmp_path):
    """The demo's zoo stage on a tiny sample set: one 8-bit PNG per validation source, of the
    source's size, changed by the model (a published model does not return its input)."""
    data = tmp_path / "data"
    make_sample_dataset(data, groups=3, per_group=1, val_groups=2, n_aug=0, experts=("a",),
                        progress=False)
    written = predict_zoo(data, DEFAULT_MODEL, tmp_path / "zoo", progress=False)
    sources = sorted((data / "val" / "source").glob("*.tif"))
    assert sorted(p.name for p in written) == [f"{p.stem}.png" for p in sources]
    for path in sources:
        out = read_image_native(tmp_path / "zoo" / f"{path.stem}.png")
        source = read_image_native(path)
        assert out.dtype == np.uint8 and out.shape == source.shape
        difference = np.abs(out.astype(float) - np.rint(source / 257.0))
        assert difference.mean() > 2.0, path.name


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"report: {(out / 'report.html').resolve()}" in printed
    for stage in range(1, 8):
        assert f"[{stage}/7]" in printed
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="measures"' in page and "training_curve.png" in page
    info = json.loads((out / "demo.json").read_text())
    identity, model = info["summaries"]["identity"], info["summaries"]["model"]
    assert model["psnr"] > identity["psnr"] + 3.0
    assert model["delta_e"] < identity["delta_e"] - 3.0
    assert np.isfinite(info["summaries"]["group"]["glc"])
    # the default zoo model: scored, in the table, in the grid and in the closing note
    assert info["zoo_model"] == DEFAULT_MODEL and "FiveK" in info["zoo_note"]
    zoo = info["summaries"]["zoo"]
    assert zoo["n_images"] == model["n_images"]
    assert all(np.isfinite(zoo[k]) for k in ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "glc"))
    assert zoo["psnr"] != model["psnr"]
    assert f"<td>zoo: {DEFAULT_MODEL}</td>" in page
    assert f"<th>after (zoo: {DEFAULT_MODEL})</th>" in page
    assert f"zoo: {DEFAULT_MODEL} *" in printed
    evaluated = json.loads((out / "evaluation" / "zoo.json").read_text())
    assert evaluated["summary"]["psnr"] == zoo["psnr"]
    # predictions are 8-bit PNGs of the validation photos' size; full-size output is 16-bit
    sources = sorted((out / "data" / "val" / "source").glob("*.tif"))
    for path in sources:
        for kind in ("model", "zoo"):
            pred = read_image_native(out / "predictions" / kind / f"{path.stem}.png")
            assert pred.dtype == np.uint8 and pred.shape == read_image_native(path).shape
        assert (out / "report_files" / "grid" / f"{path.stem}_zoo.jpg").is_file()
    full = sorted((out / "full_resolution" / "retouched").glob("*.tif"))
    assert full and all(read_image_native(p).dtype == np.uint16 for p in full)
    assert read_image_native(full[0]).shape[0] > 360
    # a second run into the same folder replaces the first (no error, no stale run)
    assert main(["demo", "--quick", "--quiet", "--out", str(out)]) == 0
