"""`--resume` continues the run it names: the weights it starts from are those of ``last/``,
and 1 epoch + resume + 1 epoch ends where 2 uninterrupted epochs end (same seed, no
worker processes), weights within float tolerance."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ppr10k.models import AdaptiveLUT, load_model
from ppr10k.train import TrainConfig, loop, train


def small_config(data: Path, out: Path, epochs: int) -> TrainConfig:
    """HRP and GLC on, tiny backbone, small crops, CPU, no worker processes."""
    config = TrainConfig(data=str(data), out=str(out), epochs=epochs, batch_size=4,
                         crop_size=32, glc_crop=24, num_workers=0, backbone_weights="none",
                         lr=3e-3, device="cpu", seed=3, hrp=True, glc=True,
                         max_steps_per_epoch=2)
    return config.updated(backbone="tiny", lut_dim=9)


def weights_of(folder: Path) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in load_model(folder).state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        torch.testing.assert_close(value, b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_one_epoch_resume_one_epoch_equals_two_epochs(tiny_ppr10k: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    straight = tmp_path / "straight"
    train(small_config(tiny_ppr10k, straight, epochs=2), progress=False)

    split = tmp_path / "split"
    train(small_config(tiny_ppr10k, split, epochs=1), progress=False)
    after_one = weights_of(split / "last")
    # the run moved away from its start, so "resumed from scratch" cannot look the same
    fresh = AdaptiveLUT(small_config(tiny_ppr10k, split, 1).model).state_dict()
    assert (after_one["luts"] - fresh["luts"]).abs().max() > 1e-3

    seen: list[dict[str, torch.Tensor]] = []
    step = loop.training_step

    def recording_step(model, batch, config, device):  # the state the resumed run trains from
        if not seen:
            seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return step(model, batch, config, device)

    monkeypatch.setattr(loop, "training_step", recording_step)
    train(small_config(tiny_ppr10k, split, epochs=2), resume=True, progress=False)
    assert seen, "the resumed run never reached a training step"
    assert_same_weights(seen[0], after_one)

    assert_same_weights(weights_of(split / "last"), weights_of(straight / "last"))
    assert (weights_of(split / "last")["luts"] - after_one["luts"]).abs().max() > 1e-4
