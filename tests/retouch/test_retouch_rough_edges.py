"""What a new user meets: an empty folder, masks beside photos, the groups formed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model
from ppr10k.retouch import retouch


@pytest.fixture
def model_dir(tmp_path):
    return save_model(AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9)).eval(),
                      tmp_path / "model")


def photo(path, rng, size=(20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3)).astype(np.uint8)).save(path)
    return path


def cli(*args):
    return main(["retouch", *map(str, args), "--device", "cpu", "--quiet"])


def test_empty_folder_says_no_photos_found_and_fails(tmp_path, model_dir, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a photo")
    assert cli(tmp_path / "empty", "--model", model_dir, "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "no photos found" in err and "1 other file" in err
    assert "retouched 0" not in err


def test_masks_beside_photos_are_not_retouched(tmp_path, model_dir, shared_data, rng):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("p3m_p_07141906.jpg", "p3m_p_07141906_alpha.png"):
        shutil.copyfile(shared_data / "portraits" / name, folder / name)
    photo(folder / "IMG_1.png", rng)
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(folder / "IMG_1_mask.png")
    photo(folder / "sunset_mask.png", rng)  # no photo "sunset": a photo, not a mask
    report = retouch([str(folder)], model_dir, tmp_path / "out", device="cpu",
                     progress=False)
    assert sorted(r.source.name for r in report.results) == [
        "IMG_1.png", "p3m_p_07141906.jpg", "sunset_mask.png"]
    assert report.ignored == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "IMG_1.png", "p3m_p_07141906.jpg", "sunset_mask.png"]
    assert "ignored 2 non-photo file(s) in the input folders (masks" in report.summary()


def test_group_consistent_prints_the_groups_it_formed(tmp_path, model_dir, rng, capsys):
    for name in ("1356_0.png", "1356_1.png", "1357_0.png"):
        photo(tmp_path / "in" / name, rng)
    assert cli(tmp_path / "in", "--model", model_dir, "--out", tmp_path / "out",
               "--group-consistent") == 0
    out = capsys.readouterr().out
    assert "2 group(s) (--group-by auto):" in out
    assert "group 1: 2 photo(s)" in out and "1356_0.png, 1356_1.png" in out
    assert "group 2: 1 photo(s)" in out and "1357_0.png" in out
