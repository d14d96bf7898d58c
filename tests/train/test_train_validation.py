"""Validation PSNR (spec §4): predictions clipped and rounded to 8 bits, like the targets,
then PSNR per image, averaged over images. The best checkpoint is chosen by it."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader

from ppr10k.lut import identity_lut
from ppr10k.models import AdaptiveLUT, ModelConfig
from ppr10k.train import validation_psnr

GAIN = 1.3  # basis LUT 0 = 1.3 x identity: bright pixels leave [0, 1] and must be clipped


def bright_model() -> AdaptiveLUT:
    """Identity-start weights (1, 0, ...), so the output is exactly GAIN * input."""
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9, n_luts=2))
    with torch.no_grad():
        model.luts[0] = GAIN * identity_lut(9)
    return model.eval()


def test_validation_psnr_on_8bit_rounded_clipped_predictions() -> None:
    rng = np.random.default_rng(3)
    items, expected = [], []
    for h, w in ((6, 10), (9, 5)):
        # sources and targets a third of a level off the 8-bit grid, so rounding matters
        source = (rng.integers(0, 256, (3, h, w)) + 1 / 3) / 255.0
        target = (rng.integers(0, 256, (3, h, w)) + 1 / 3) / 255.0
        items.append({"source": torch.from_numpy(source).float(),
                      "target": torch.from_numpy(target).float()})
        pred8 = np.rint(np.clip(GAIN * source, 0.0, 1.0) * 255.0)
        target8 = np.rint(target * 255.0)
        mse = np.mean((pred8 - target8) ** 2)
        expected.append(10.0 * math.log10(255.0 ** 2 / mse))
    assert (GAIN * items[0]["source"] > 1).any()  # the clipping is exercised
    loader = DataLoader(items, batch_size=1)
    value = validation_psnr(bright_model(), loader, torch.device("cpu"), progress=False)
    assert abs(value - float(np.mean(expected))) < 1e-6
