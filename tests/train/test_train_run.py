import json

import numpy as np
import pytest

from ppr10k.cli.main import main
from ppr10k.evaluate.metrics import psnr
from ppr10k.io import read_image_native
from ppr10k.models import read_checkpoint_info
from ppr10k.train import TrainConfig, train


def tiny_config(data, out, **changes):
    config = TrainConfig(data=str(data), out=str(out), epochs=2, batch_size=4, crop_size=32,
                         glc_crop=24, num_workers=0, backbone_weights="none", lr=1e-3)
    return config.updated(backbone="tiny", lut_dim=9, **changes)


class Interrupt(Exception):
    pass


def test_resume_after_interruption_logs_every_epoch_once(tiny_ppr10k, tmp_path):
    config = tiny_config(tiny_ppr10k, tmp_path / "run", epochs=3)

    def stop_after_first(epoch, row):
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(config, progress=False, on_epoch_end=stop_after_first)
    assert (tmp_path / "run" / "last" / "train_state.pt").is_file()
    with pytest.raises(ValueError, match="--resume"):  # never overwrite a run by accident
        train(config, progress=False)
    result = train(config, resume=True, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r["val_psnr"]) for r in rows)
    best = max(rows, key=lambda r: r["val_psnr"])
    assert result.best_epoch == best["epoch"]
    info = read_checkpoint_info(tmp_path / "run" / "best")
    assert info["epoch"] == best["epoch"] and info["train"]["expert"] == "a"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epochs"] == 3
    assert not list((tmp_path / "run").rglob("*.tmp*"))  # atomic writes leave no temp files


@pytest.mark.slow
def test_end_to_end_sample_train_predict_beats_identity(tmp_path):
    """`data sample` -> `train` (2 short epochs, CPU, tiny backbone) -> `predict` -> PSNR."""
    data, run = tmp_path / "sample", tmp_path / "run"
    assert main(["data", "sample", str(data), "--groups", "3", "--per-group", "3",
                 "--augmented", "1"]) == 0
    code = main(["train", "--data", str(data), "--out", str(run), "--backbone", "tiny",
                 "--epochs", "2", "--batch-size", "4", "--lut-dim", "17", "--lr", "3e-3",
                 "--backbone-lr", "1e-4", "--num-workers", "0", "--quiet", "--seed", "1"])
    assert code == 0
    assert main(["predict", "--data", str(data), "--model", str(run / "best"),
                 "--out", str(tmp_path / "pred"), "--quiet"]) == 0
    model_psnr, identity_psnr = [], []
    targets = sorted((data / "val" / "target_a").glob("*.tif"))
    assert targets
    for target_path in targets:
        target = read_image_native(target_path)
        source = read_image_native(data / "val" / "source" / target_path.name)
        assert source.dtype == np.uint16 and target.dtype == np.uint8
        pred = read_image_native(tmp_path / "pred" / f"{target_path.stem}.png")
        assert pred.dtype == np.uint8 and pred.shape == target.shape
        model_psnr.append(psnr(pred, target))
        identity_psnr.append(psnr(np.rint(source / 257.0), target))
    assert np.mean(model_psnr) > np.mean(identity_psnr) + 1.0


def test_cli_resume_reads_the_runs_config(tiny_ppr10k, tmp_path):
    run = tmp_path / "run"
    common = ["--backbone", "tiny", "--lut-dim", "9", "--batch-size", "4", "--num-workers", "0",
              "--backbone-weights", "none", "--quiet"]
    assert main(["train", "--data", str(tiny_ppr10k), "--out", str(run), "--epochs", "1",
                 "--expert", "b", *common]) == 0
    # no --data or --expert: both come from RUN/config.json; --epochs extends the run
    assert main(["train", "--out", str(run), "--resume", "--epochs", "2", "--quiet"]) == 0
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    saved = json.loads((run / "config.json").read_text())
    assert saved["expert"] == "b" and saved["epochs"] == 2 and saved["model"]["lut_dim"] == 9
