"""`retouch()` leaves torch's thread count alone; `ppr10k retouch` sets one thread for its
own process (the predictor's input is small; the cores go to the LUT kernel)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model
from ppr10k.retouch import retouch


@pytest.fixture
def photos(tmp_path, rng):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)).save(folder / name)
    return folder


@pytest.fixture
def model_dir(tmp_path):
    return save_model(AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9)).eval(),
                      tmp_path / "model")


@pytest.fixture
def thread_calls(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    return calls


def test_library_retouch_does_not_set_torch_threads(tmp_path, photos, model_dir,
                                                   thread_calls):
    report = retouch([str(photos)], model_dir, tmp_path / "out", device="cpu",
                     progress=False)
    assert report.exit_code == 0 and len(list((tmp_path / "out").glob("*.png"))) == 2
    assert thread_calls == []


def test_cli_sets_one_torch_thread_for_its_process(tmp_path, photos, model_dir,
                                                   thread_calls):
    assert main(["retouch", str(photos), "--model", str(model_dir), "--out",
                 str(tmp_path / "out"), "--device", "cpu", "--quiet"]) == 0
    assert thread_calls == [1]


def test_workers_are_capped_at_photos_and_cpus(tmp_path, photos, model_dir, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from ppr10k.retouch import engine

    pools: list[int] = []

    def recording_pool(max_workers):
        pools.append(max_workers)
        return ThreadPoolExecutor(max_workers=max_workers)

    monkeypatch.setattr(engine, "ThreadPoolExecutor", recording_pool)
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 64)
    report = retouch([str(photos)], model_dir, tmp_path / "out", device="cpu",
                     workers=10_000, progress=False)
    assert report.exit_code == 0
    assert pools == [2]  # two photos
