"""Every family trains through the same loop, on PPR10K or on a photographer's own pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ppr10k.cli.main import main
from ppr10k.evaluate.metrics import psnr
from ppr10k.io import read_image, write_image
from ppr10k.models import load_model, read_checkpoint_info
from ppr10k.train import TrainConfig, train


@pytest.mark.parametrize("family", ["adaint", "seplut"])
def test_family_learns_the_tiny_expert_look(tiny_ppr10k, tmp_path, family):
    config = TrainConfig(data=str(tiny_ppr10k), out=str(tmp_path / "run"), epochs=4,
                         batch_size=4, crop_size=32, glc_crop=24, num_workers=0,
                         backbone_weights="none", lr=2e-2, backbone_lr=1e-4)
    config = config.updated(family=family, backbone="tiny", width=4, lut_dim=9)
    result = train(config, progress=False)
    info = read_checkpoint_info(result.best_model)
    assert info["model"]["family"] == family and info["train"]["model"]["family"] == family
    model = load_model(result.best_model)
    assert model.config.family == family
    # identity PSNR of the validation sources against their targets, computed here
    identity = []
    for target_path in sorted((tiny_ppr10k / "val" / "target_a").glob("*.tif")):
        source = read_image(tiny_ppr10k / "val" / "source" / target_path.name)
        target = read_image(target_path)
        identity.append(psnr(np.rint(source * 255), np.rint(target * 255)))
    assert result.best_psnr > np.mean(identity) + 1.0


def _smooth(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random RGB field in [0.05, 0.95]: a 3x4 grid of colours, bilinear."""
    grid = rng.uniform(0.05, 0.95, (3, 4, 3))
    ys, xs = np.linspace(0, 2, height), np.linspace(0, 3, width)
    y0, x0 = np.minimum(ys.astype(int), 1), np.minimum(xs.astype(int), 2)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _look(image: np.ndarray) -> np.ndarray:
    """The photographer's style: a tone curve and a warm shift."""
    return np.clip(image ** 0.8 * np.array([1.05, 1.0, 0.9]), 0, 1).astype(np.float32)


def _write_pairs(root, rng, shoots=3, per_shoot=3):
    """Originals (JPEG) in one folder per shoot, edits (PNG, half size) mirrored."""
    for shoot in range(shoots):
        for index in range(per_shoot):
            clean = _smooth(rng, 48, 64)
            write_image(root / "originals" / f"shoot{shoot}" / f"IMG_{index}.jpg", clean,
                        quality=98)
            edit = _look(clean)[::2, ::2]
            write_image(root / "edited" / f"shoot{shoot}" / f"IMG_{index}.png", edit)


def test_pairs_train_then_retouch_with_the_run_folder(tmp_path, rng):
    _write_pairs(tmp_path, rng)
    spec = f"pairs:{tmp_path / 'originals'},{tmp_path / 'edited'}"
    assert main(["data", "check", spec]) == 0
    run = tmp_path / "run"
    assert main(["train", "--data", spec, "--out", str(run), "--family", "seplut",
                 "--backbone", "tiny", "--width", "4", "--lut-dim", "9", "--curve-dim", "9",
                 "--epochs", "2", "--batch-size", "4", "--num-workers", "0", "--lr", "1e-2",
                 "--backbone-lr", "1e-4", "--backbone-weights", "none", "--quiet"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"] == spec and saved["model"]["family"] == "seplut"
    # --model RUN means RUN/best
    assert main(["retouch", str(tmp_path / "originals"), "--recursive", "--model", str(run),
                 "--out", str(tmp_path / "out"), "--quiet"]) == 0
    written = sorted((tmp_path / "out").rglob("*.jpg"))
    assert len(written) == 9


def test_pairs_without_matches_is_one_line(tmp_path, capsys):
    (tmp_path / "o").mkdir()
    (tmp_path / "e").mkdir()
    write_image(tmp_path / "o" / "a.jpg", np.full((8, 8, 3), 0.5, np.float32))
    write_image(tmp_path / "e" / "b.png", np.full((8, 8, 3), 0.5, np.float32))
    code = main(["train", "--data", f"pairs:{tmp_path / 'o'},{tmp_path / 'e'}",
                 "--out", str(tmp_path / "run"), "--quiet"])
    assert code in (1, 2)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("pairs" in err[0].lower() or "match" in err[0].lower())
    assert not (tmp_path / "run" / "best").exists()
