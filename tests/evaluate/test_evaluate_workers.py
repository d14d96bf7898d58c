"""`evaluate --workers N` starts no more processes than there are images or CPUs."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from ppr10k.evaluate import evaluate_folders
from ppr10k.evaluate import folders as folders_module


@pytest.fixture
def three_pairs(tmp_path, rng):
    for name in ("pred", "target", "masks"):
        (tmp_path / name).mkdir()
    for stem in ("1356_0", "1356_1", "1357_0"):
        target = rng.integers(0, 256, (12, 16, 3)).astype(np.uint8)
        Image.fromarray(target).save(tmp_path / "target" / f"{stem}.png")
        Image.fromarray(255 - target).save(tmp_path / "pred" / f"{stem}.png")
        Image.fromarray(np.full((12, 16), 255, np.uint8)).save(tmp_path / "masks" / f"{stem}.png")
    return tmp_path


@pytest.mark.parametrize("cpus", [1, 2, 64])
def test_workers_are_capped_at_images_and_cpus(three_pairs, monkeypatch, cpus):
    pools: list[int] = []

    class RecordingPool:
        def __init__(self, max_workers, **kwargs):
            pools.append(max_workers)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def map(self, function, items, chunksize=1):
            return map(function, items)

    monkeypatch.setattr(folders_module, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    result = evaluate_folders(three_pairs / "pred", three_pairs / "target",
                              three_pairs / "masks", workers=10_000, progress=False)
    assert len(result.images) == 3
    expected = min(3, cpus)
    assert pools == ([] if expected == 1 else [expected])
