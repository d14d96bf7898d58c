"""The sample-set scores that ``ppr10k models`` shows are what the models score today."""

from __future__ import annotations

import pytest

from ppr10k.data.sample import make_sample_dataset
from ppr10k.demo.pipeline import FULL
from ppr10k.evaluate.folders import evaluate_folders
from ppr10k.models.zoo import ZOO, zoo_scores
from ppr10k.retouch import retouch


def test_every_srgb_zoo_model_has_a_score():
    scores = zoo_scores()
    srgb = {name for name, entry in ZOO.items() if entry.input_space == "srgb"}
    assert set(scores["models"]) == srgb
    assert "synthetic expert" in scores["note"]


@pytest.mark.slow
def test_stored_score_matches_a_fresh_measurement(tmp_path):
    """Re-measure one model on the sample set the scores were made on (scripts/measure_zoo.py)."""
    data = tmp_path / "data"
    make_sample_dataset(data, groups=FULL.groups, per_group=FULL.per_group, seed=FULL.seed,
                        val_groups=FULL.val_groups, n_aug=1, experts=("a",), progress=False)
    val = data / "val"
    name = "seplut-fivek-srgb-m6"
    report = retouch([val / "source"], name, tmp_path / "out", fmt="png", bits=8,
                     device="cpu", progress=False)
    assert report.exit_code == 0
    fresh = evaluate_folders(tmp_path / "out", val / "target_a", val / "masks",
                             progress=False).summary
    stored = zoo_scores()["models"][name]
    for key in ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "glc"):
        assert fresh[key] == pytest.approx(stored[key], abs=2e-3), key
