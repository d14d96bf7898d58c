"""`--resume` from a damaged ``train_state.pt`` stops with one line naming it, before any
data is read; config files with values of the wrong type are refused by key."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ppr10k.train import TrainConfig
from ppr10k.train.loop import load_state


@pytest.mark.parametrize("content", [b"", b"not a zip", None, [1, 2], {"epoch": 1}])
def test_damaged_state_is_named(tmp_path: Path, content) -> None:
    path = tmp_path / "train_state.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ValueError, match=r"train_state\.pt: damaged training state"):
        load_state(path)


def test_complete_state_loads_with_parsed_history(tmp_path: Path) -> None:
    state = {"model": {}, "optimizer": {}, "epoch": 2, "best_epoch": 1, "best_psnr": 20.5,
             "history": '[{"epoch": 1}]', "torch_rng": torch.get_rng_state()}
    torch.save(state, tmp_path / "s.pt")
    assert load_state(tmp_path / "s.pt")["history"] == [{"epoch": 1}]


def test_config_value_of_the_wrong_type_is_named() -> None:
    with pytest.raises(ValueError, match="training config: epochs must be int, got 'ten'"):
        TrainConfig.from_dict({"epochs": "ten"})
    assert TrainConfig.from_dict({"lr": 1, "betas": [0.9, 0.99]}).lr == 1
