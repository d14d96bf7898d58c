"""`ppr10k demo`: group-consistent retouching, output-folder safety, and the quick run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ppr10k.cli.main import main
from ppr10k.demo.pipeline import retouch_group_consistent, run_demo
from ppr10k.io import image_to_tensor, read_image_native, tensor_to_image
from ppr10k.models import AdaptiveLUT, ModelConfig


def _photos(rng):
    """Two different photos that share one patch of the same colours."""
    a = rng.uniform(0.0, 1.0, (40, 60, 3)).astype(np.float32)
    b = rng.uniform(0.0, 1.0, (40, 60, 3)).astype(np.float32) ** 2
    patch = rng.uniform(0.2, 0.8, (10, 10, 3)).astype(np.float32)
    a[:10, :10] = patch
    b[:10, :10] = patch
    return a, b


def _model(seed=0):
    torch.manual_seed(seed)
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9, init="reference")).eval()
    with torch.no_grad():  # basis LUTs that differ, so that different weights differ
        model.luts[1:] = torch.rand_like(model.luts[1:]) * 0.3
    return model


def test_group_consistent_maps_a_colour_the_same_way_in_every_photo(rng):
    model = _model()
    a, b = _photos(rng)
    with torch.no_grad():
        per_image = [tensor_to_image(model(image_to_tensor(x))[0]) for x in (a, b)]
    # per image: different weights, so the shared patch comes out differently
    assert np.abs(per_image[0][:10, :10] - per_image[1][:10, :10]).max() > 1e-3
    group = retouch_group_consistent(model, [a, b])
    np.testing.assert_allclose(group[0][:10, :10], group[1][:10, :10], atol=1e-6)
    # and the one LUT is the mean of the weights, applied by trilinear interpolation
    with torch.no_grad():
        w = torch.stack([model.predict_weights(image_to_tensor(x))[0] for x in (a, b)])
        lut = torch.einsum("n,ncdhw->cdhw", w.mean(0), model.luts)
        # grid_sample reads (x, y, z) = (r, g, b) in the (b, g, r) volume: a second way
        grid = image_to_tensor(b).permute(0, 2, 3, 1)[:, None] * 2 - 1  # (1, 1, H, W, 3)
        sampled = torch.nn.functional.grid_sample(lut[None], grid, mode="bilinear",
                                                  padding_mode="border", align_corners=True)
        expected = tensor_to_image(sampled[:, :, 0])
    np.testing.assert_allclose(group[1], expected, atol=1e-4)


def test_group_consistent_keeps_16_bit_samples(rng):
    model = _model()
    a, b = _photos(rng)
    out = retouch_group_consistent(model, [np.rint(a * 65535).astype(np.uint16),
                                           np.rint(b * 65535).astype(np.uint16)])
    assert all(x.dtype == np.uint16 for x in out)
    reference = retouch_group_consistent(model, [a, b])
    np.testing.assert_allclose(out[0] / 65535.0, reference[0].clip(0, 1), atol=2e-4)


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
