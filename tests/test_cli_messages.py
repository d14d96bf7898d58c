"""Messages a user reads: the command as typed, options as the CLI spells them, no Python
(no ``overwrite=True``, ``strict=False``, ``invalid literal for int()``, raw warnings)."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from ppr10k.cli.main import main

PYTHON_LEAKS = ("overwrite=True", "strict=False", "invalid literal", "Traceback",
                "UserWarning", "warnings.warn(")


def assert_no_python(text: str) -> None:
    leaks = [leak for leak in PYTHON_LEAKS if leak in text]
    assert not leaks, text


def test_sample_over_an_existing_set_names_the_cli_option(tmp_path, capsys):
    args = ["data", "sample", str(tmp_path / "s"), "--groups", "2", "--per-group", "1",
            "--augmented", "0"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("ppr10k data sample: error:") and "--force" in err
    assert_no_python(err)


def test_data_stats_errors_name_data_stats(tmp_path, capsys):
    (tmp_path / "xmp_source").mkdir()
    assert main(["data", "stats", str(tmp_path), "--plots", str(tmp_path / "p"),
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ppr10k data stats: error:")


def test_evaluate_missing_files_names_no_strict(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("pred", "target", "masks"):
        (tmp_path / name).mkdir()
    for stem in ("1356_0", "1356_1"):
        image = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
        Image.fromarray(image).save(tmp_path / "target" / f"{stem}.png")
        Image.fromarray(image[..., 0]).save(tmp_path / "masks" / f"{stem}.png")
    Image.fromarray(image).save(tmp_path / "pred" / "1356_0.png")
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--target",
                 str(tmp_path / "target"), "--masks", str(tmp_path / "masks"),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "--no-strict" in err
    assert_no_python(err)


def test_odd_classifier_key_is_named_not_a_python_error():
    from ppr10k.models.official import _classifier_state

    weight = torch.zeros(1)
    state = {"model.model.0.weight": weight, "model.1.weight": torch.zeros(16, 3, 3, 3),
             "model.16.weight": weight}
    with pytest.raises(ValueError, match="unexpected classifier key 'model.model.0.weight'"
                       ) as caught:
        _classifier_state(state)
    assert_no_python(str(caught.value))


def test_train_warnings_are_one_line_without_source(tmp_path, monkeypatch, capsys):
    import ppr10k.train

    def fake_train(config, resume=False, progress=True, dist=None):
        warnings.warn("no ImageNet ResNet-18 weights found: the backbone starts from random "
                      "weights", stacklevel=2)
        return SimpleNamespace(best_epoch=1, best_psnr=20.0, best_model=tmp_path / "best")

    monkeypatch.setattr(ppr10k.train, "train", fake_train)
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    expected = ("ppr10k train: warning: no ImageNet ResNet-18 weights found: the backbone "
                "starts from random weights")
    assert err.splitlines() == [expected]
