"""The weight predictor sees a photo as the training exports were: upright, 540 px long edge.

A JPEG stored sideways with EXIF orientation 6 ("rotate 90° clockwise to display") must be
retouched with the LUT the model predicts from the upright photo; that LUT is applied to the
stored pixels, which are written back as stored (with the EXIF tag). The expected output is
computed here: upright view from Pillow's ``exif_transpose``, fused LUT = sum_n w_n LUT_n,
applied with the tests' own trilinear reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from lut_reference import reference_trilinear
from ppr10k.lut import identity_lut
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model
from ppr10k.retouch import retouch

DIM = 9


def sideways_sensitive_model(seed: int = 0) -> AdaptiveLUT:
    """Image-dependent weights (random head) over three very different basis LUTs."""
    with torch.random.fork_rng():  # reproducible backbone features, global RNG untouched
        torch.manual_seed(seed)
        model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=DIM, n_luts=3))
        ident = identity_lut(DIM)
        with torch.no_grad():
            model.luts[1] = 0.6 * (ident.roll(1, dims=0) - ident)  # channel swap
            model.luts[2] = 0.5 * (1.0 - ident) - 0.25  # a negative
            for name, parameter in model.named_parameters():  # weights (1, 0, 0) + O(0.3)
                if "head" in name:
                    parameter.add_(0.01 * torch.randn(parameter.shape))
    return model.eval()


def upright_scene(height: int, width: int) -> np.ndarray:
    """An asymmetric 8-bit scene: bright sky on top, a warm ramp left to right."""
    y, x = np.mgrid[0:height, 0:width]
    red = 40 + 180 * x / (width - 1)
    green = 220 - 170 * y / (height - 1)
    blue = np.where(y < height // 3, 230, 50 + 60 * x / (width - 1))
    return np.stack([red, green, blue], axis=-1).round().astype(np.uint8)


@pytest.fixture
def sideways_jpeg(tmp_path: Path) -> Path:
    """An upright 60x90 scene stored rotated (90° counter-clockwise) with orientation 6."""
    stored = np.rot90(upright_scene(60, 90), 1)  # shown after rotating 90° clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "in" / "portrait.jpg"
    path.parent.mkdir()
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif.tobytes(), quality=95)
    return path


def expected_output(model: AdaptiveLUT, path: Path, upright: bool) -> np.ndarray:
    """Stored pixels through the LUT predicted from the upright (or the stored) view."""
    with Image.open(path) as image:
        stored = np.asarray(image.convert("RGB"))
        shown = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    assert shown.shape == (60, 90, 3) and stored.shape == (90, 60, 3)
    view = shown if upright else stored
    thumb = torch.from_numpy(view.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        weights = model.predict_weights(thumb)[0].double().numpy()
    luts = model.luts.detach().double().numpy()
    fused = np.tensordot(weights, luts, axes=1)
    out = reference_trilinear(fused, stored.transpose(2, 0, 1) / 255.0).transpose(1, 2, 0)
    return np.rint(np.clip(out, 0.0, 1.0) * 255.0)


@pytest.mark.parametrize("group_consistent", [False, True])
def test_orientation_6_jpeg_gets_the_lut_of_the_upright_photo(
        tmp_path: Path, sideways_jpeg: Path, group_consistent: bool) -> None:
    model = sideways_sensitive_model()
    model_dir = save_model(model, tmp_path / "model")
    right = expected_output(model, sideways_jpeg, upright=True)
    wrong = expected_output(model, sideways_jpeg, upright=False)
    assert np.abs(right - wrong).max() > 20  # the model does tell the two views apart

    report = retouch([str(sideways_jpeg)], model_dir, tmp_path / "out", fmt="png",
                     group_consistent=group_consistent, progress=False, device="cpu")
    assert report.exit_code == 0
    with Image.open(tmp_path / "out" / "portrait.png") as image:
        assert image.getexif().get(0x0112) == 6  # still stored sideways, tagged as such
        got = np.asarray(image.convert("RGB")).astype(np.float64)
    assert got.shape == right.shape
    assert np.abs(got - right).max() <= 1.0


def test_full_resolution_photo_is_predicted_from_its_540px_area_thumbnail(tmp_path: Path) -> None:
    """A 1080x1620 photo: the weights come from its 3x3 block means (a 360x540 copy, as
    the 360p release), not from the full-resolution pixels; the LUT is then applied to
    every full-resolution pixel."""
    rng = np.random.default_rng(5)
    scene = upright_scene(1080, 1620).astype(np.int64)
    noisy = np.clip(scene + rng.integers(-60, 61, scene.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "in" / "big.png"
    path.parent.mkdir()
    Image.fromarray(noisy).save(path)
    model = sideways_sensitive_model(seed=1)
    model_dir = save_model(model, tmp_path / "model")

    def lut_from(view: np.ndarray) -> np.ndarray:
        thumb = torch.from_numpy(view.astype(np.float32)).permute(2, 0, 1)[None]
        with torch.no_grad():
            weights = model.predict_weights(thumb)[0].double().numpy()
        return np.tensordot(weights, model.luts.detach().double().numpy(), axes=1)

    thumbnail = (noisy / 255.0).reshape(360, 3, 540, 3, 3).mean(axis=(1, 3))
    right, wrong = lut_from(thumbnail), lut_from(noisy / 255.0)
    rows = slice(0, None, 37)  # a sample of rows keeps the float64 reference quick

    def expected(lut: np.ndarray) -> np.ndarray:
        out = reference_trilinear(lut, noisy[rows].transpose(2, 0, 1) / 255.0)
        return np.rint(np.clip(out.transpose(1, 2, 0), 0.0, 1.0) * 255.0)

    assert np.abs(expected(right) - expected(wrong)).max() > 5  # the two views differ

    report = retouch([str(path)], model_dir, tmp_path / "out", progress=False, device="cpu")
    assert report.exit_code == 0
    with Image.open(tmp_path / "out" / "big.png") as image:
        got = np.asarray(image.convert("RGB")).astype(np.float64)
    assert got.shape == noisy.shape
    assert np.abs(got[rows] - expected(right)).max() <= 1.0
