"""Damaged model files are refused by name when loaded: empty, cut, not finite."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ppr10k.models import AdaptiveLUT, ModelConfig, load_model, save_model
from ppr10k.models.checkpoint import check_finite


def tiny() -> AdaptiveLUT:
    return AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=5, n_luts=2))


def test_empty_weights_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match=r"model\.safetensors: empty file"):
        load_model(tmp_path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_that_are_not_finite_are_refused(tmp_path: Path, value: float) -> None:
    model = tiny()
    with torch.no_grad():
        model.head.weight[0, 0] = value
    save_model(model, tmp_path / "m")
    with pytest.raises(ValueError, match=r"m/model\.safetensors: .*not finite.*head\.weight"):
        load_model(tmp_path / "m")
    save_model(tiny(), tmp_path / "ok")
    assert isinstance(load_model(tmp_path / "ok"), AdaptiveLUT)


def test_check_finite_names_the_source() -> None:
    model = tiny()
    check_finite(model, "fine")
    with torch.no_grad():
        model.luts[1, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^here: .*luts"):
        check_finite(model, "here")


def test_config_values_of_the_wrong_type_are_named() -> None:
    with pytest.raises(ValueError, match="model config: lut_dim must be int, got 'many'"):
        ModelConfig.from_dict({"lut_dim": "many"})
    with pytest.raises(ValueError, match="n_luts must be int, got True"):
        ModelConfig.from_dict({"n_luts": True})
    assert ModelConfig.from_dict({"n_luts": 3, "lut_dim": 9}).lut_dim == 9
