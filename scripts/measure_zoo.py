"""Score every sRGB zoo model on the built-in sample set; write ``models/zoo/scores.json``.

What ``ppr10k models`` shows in its "sample PSNR" and "ΔE" columns. The sample set is the
demo's (``ppr10k data sample`` with the demo's sizes, seed 0): synthetic 360p portraits whose
expert is a fixed synthetic look, not MIT-Adobe FiveK's expert C, so these numbers say how far
an off-the-shelf model moves a photo toward *that* look (identity is given for reference),
not how good the model is.

Usage: ``python scripts/measure_zoo.py [--out src/ppr10k/models/zoo/scores.json]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ppr10k.data.sample import make_sample_dataset
from ppr10k.demo.pipeline import FULL
from ppr10k.evaluate.folders import evaluate_folders
from ppr10k.models.zoo import SCORES_FILE, ZOO
from ppr10k.retouch import retouch

MEASURES = ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "glc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(SCORES_FILE))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        make_sample_dataset(data, groups=FULL.groups, per_group=FULL.per_group,
                                      seed=FULL.seed, val_groups=FULL.val_groups,
                                      n_aug=1, experts=("a",), progress=False)
        val = data / "val"
        scores = {"identity": _round(evaluate_folders(
            val / "source", val / "target_a", val / "masks", progress=False).summary)}
        for name, entry in ZOO.items():
            if entry.input_space != "srgb":
                continue
            out = Path(tmp) / name
            report = retouch([val / "source"], name, out, fmt="png", bits=8, device="cpu",
                             progress=False)
            if report.exit_code:
                raise SystemExit(report.summary())
            scores[name] = _round(evaluate_folders(out, val / "target_a", val / "masks",
                                                   progress=False).summary)
            print(name, scores[name])
    result = {
        "note": (f"sample-set scores: the demo's sample set ({FULL.groups} groups, "
                 f"{FULL.val_groups} validation groups of {FULL.per_group}, seed {FULL.seed}) "
                 "against its synthetic expert a, not FiveK's expert C; identity (the "
                 f"untouched sources) scores PSNR {scores['identity']['psnr']:.2f} dB, "
                 f"ΔE {scores['identity']['delta_e']:.2f}"),
        "sample_set": {"groups": FULL.groups, "val_groups": FULL.val_groups,
                       "per_group": FULL.per_group, "seed": FULL.seed},
        "identity": scores.pop("identity"),
        "models": scores,
    }
    Path(args.out).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")


def _round(summary: dict) -> dict:
    return {k: round(float(summary[k]), 3) for k in MEASURES if k in summary}


if __name__ == "__main__":
    main()
