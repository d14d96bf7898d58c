"""Training never loses a run: a full disk keeps the last complete checkpoint, killed runs'
temp files are cleaned up when the next run starts in that folder."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch

from ppr10k.cli.main import main
from ppr10k.io.guard import NoSpaceError, is_temp_name
from ppr10k.models import checkpoint, read_checkpoint_info
from ppr10k.train import TrainConfig, train


def tiny_config(data, out, **changes) -> TrainConfig:
    config = TrainConfig(data=str(data), out=str(out), epochs=2, batch_size=4, crop_size=32,
                         glc_crop=24, num_workers=0, backbone_weights="none", lr=1e-3)
    return config.updated(backbone="tiny", lut_dim=9, **changes)


def no_space(path, *args, **kwargs):
    """A write that fills the disk half way through."""
    Path(path).write_bytes(b"half a file")
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if is_temp_name(p.name)]


@pytest.mark.parametrize("writer", ["train state", "weights"])
def test_disk_full_keeps_the_previous_checkpoint_resumable(tiny_ppr10k, tmp_path, monkeypatch,
                                                           writer):
    run = tmp_path / "run"
    config = tiny_config(tiny_ppr10k, run, epochs=3)

    def fill_disk_after_epoch_1(epoch, row):
        if epoch == 1 and writer == "train state":
            monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: no_space(f))
        elif epoch == 1:
            monkeypatch.setattr(checkpoint, "save_file", lambda state, f, **k: no_space(f))

    with pytest.raises(NoSpaceError, match=f"disk full while saving epoch 2 to {run}: "
                       f"{run / 'last'} holds epoch 1; free some space, then continue "
                       "with --resume"):
        train(config, progress=False, on_epoch_end=fill_disk_after_epoch_1)
    monkeypatch.undo()
    # last/ is epoch 1 throughout: weights, their config and the optimizer state
    assert torch.load(run / "last" / "train_state.pt", weights_only=True)["epoch"] == 1
    assert read_checkpoint_info(run / "last")["epoch"] == 1
    assert json.loads((run / "last" / "config.json").read_text())["epoch"] == 1
    assert temp_files(run) == []
    result = train(config, resume=True, progress=False)
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert result.best_epoch is not None


def test_disk_full_is_one_line_on_the_command_line(tiny_ppr10k, tmp_path, monkeypatch,
                                                   capsys):
    settings = tmp_path / "small.json"
    settings.write_text(json.dumps({"crop_size": 32, "glc_crop": 24, "num_workers": 0,
                                    "backbone_weights": "none", "batch_size": 4,
                                    "model": {"backbone": "tiny", "lut_dim": 9}}))
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: no_space(f))
    run = tmp_path / "run"
    code = main(["train", "--data", str(tiny_ppr10k), "--out", str(run), "--epochs", "1",
                 "--config", str(settings), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (f"ppr10k train: error: disk full while saving epoch 1 to {run}: "
                           "no checkpoint was kept")
    assert temp_files(run) == []


def test_a_new_run_removes_temp_files_left_by_a_killed_one(tiny_ppr10k, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(tiny_ppr10k, run, epochs=1), progress=False)
    left = [run / ".train_state.k2j_x9q1.tmp.pt", run / "last" / ".model.abcd1234.tmp.safetensors",
            run / ".last.zzzz9999.tmp" / "model.safetensors"]
    for path in left:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1e9, 1e9))  # long before this run
    os.utime(run / ".last.zzzz9999.tmp", (1e9, 1e9))
    mine = run / "notes.tmp"  # not a temp name of ours: kept
    mine.write_text("keep")
    train(tiny_config(tiny_ppr10k, run, epochs=2), resume=True, progress=False)
    assert temp_files(run) == []
    assert mine.read_text() == "keep"
