"""One training step's loss, computed by hand from spec §4 and compared with ``training_step``.

The losses are unit-tested in ``test_train_losses_config.py``; these tests check that the
training step *uses* them as the spec says: the HRP weight on the human mask (for both GLC
crops), the regularisers on every basis LUT, and the GLC term over the overlap of the two
crops, each crop read at its own offset. The expected values are written out here with
plain NumPy loops and slices; only the weight predictor's output is taken from the model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lut_reference import reference_trilinear
from ppr10k.models import AdaptiveLUT, ModelConfig
from ppr10k.train import TrainConfig, training_step

DIM, N_LUTS = 5, 3
FULL, CROP = 16, 12  # GLC: both versions "resized" to FULL², cut at CROP²
LAMBDA_SMOOTH, LAMBDA_MONO, HRP_WEIGHT = 0.05, 0.5, 5.0

# (top, left) of the two crops of each sample in the FULL² image, and their overlap in
# each crop's own coordinates (top, left, height, width), worked out by hand:
# sample 0: crop 1 rows 0..11, cols 0..11; crop 2 rows 3..14, cols 2..13
#   -> common rows 3..11, cols 2..11: (3, 2, 9, 10) in crop 1, (0, 0, 9, 10) in crop 2
# sample 1: crop 1 rows 1..12, cols 4..15; crop 2 rows 4..15, cols 2..13
#   -> common rows 4..12, cols 4..13: (3, 0, 9, 10) in crop 1, (0, 2, 9, 10) in crop 2
CROPS_1 = [(0, 0), (1, 4)]
CROPS_2 = [(3, 2), (4, 2)]
OVERLAPS_1 = [(3, 2, 9, 10), (3, 0, 9, 10)]
OVERLAPS_2 = [(0, 0, 9, 10), (0, 2, 9, 10)]


def make_model(seed: int = 0) -> AdaptiveLUT:
    """A tiny model with image-dependent weights and three non-trivial, partly
    non-monotonic basis LUTs (so that every regulariser is non-zero)."""
    gen = torch.Generator().manual_seed(seed)
    # the backbone's random start from a fixed seed, not from whatever state earlier tests
    # left the global generator in: with some starts a term falls under the 1e-3 share
    # asserted below (global seed 0: 0.07 % for HRP without GLC); with seed + 1 every term
    # is at least 0.4 % of the loss
    with torch.random.fork_rng():
        torch.manual_seed(seed + 1)
        model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=DIM, n_luts=N_LUTS))
    axis = torch.linspace(0, 1, DIM)
    b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
    with torch.no_grad():
        model.luts[0] = torch.stack([r ** 0.8, g, b ** 1.2])
        model.luts[1] = 0.2 * torch.stack([torch.sin(6 * g), r - b, r * g])
        model.luts[2] = 0.1 * torch.rand(3, DIM, DIM, DIM, generator=gen)
        for name, parameter in model.named_parameters():  # the weight head: image-dependent
            if "head" in name:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=gen))
    return model.eval()  # no dropout: the step's weights are reproducible


def make_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """A GLC batch of 2 samples as ``TrainingPairs`` yields it, cut from FULL² images."""
    gen = torch.Generator().manual_seed(seed)
    batch: dict[str, list[torch.Tensor]] = {key: [] for key in (
        "source", "target", "mask", "source2", "target2", "mask2", "overlap1", "overlap2")}
    for i in range(2):
        source = torch.rand(3, FULL, FULL, generator=gen)
        # another augmented version of the same photo: darker and warmer
        source2 = (source * torch.tensor([1.1, 0.9, 0.7])[:, None, None]).clamp(0, 1)
        target = (source ** 0.7).clamp(0, 1)
        mask = torch.zeros(1, FULL, FULL)
        mask[:, 2 + i:10 + i, 5:13] = 1.0  # the person: a block both crops cut into
        (t1, l1), (t2, l2) = CROPS_1[i], CROPS_2[i]
        one = (slice(None), slice(t1, t1 + CROP), slice(l1, l1 + CROP))
        two = (slice(None), slice(t2, t2 + CROP), slice(l2, l2 + CROP))
        batch["source"].append(source[one])
        batch["target"].append(target[one])
        batch["mask"].append(mask[one])
        batch["source2"].append(source2[two])
        batch["target2"].append(target[two])
        batch["mask2"].append(mask[two])
        batch["overlap1"].append(torch.tensor(OVERLAPS_1[i]))
        batch["overlap2"].append(torch.tensor(OVERLAPS_2[i]))
    return {key: torch.stack(values) for key, values in batch.items()}


def config(hrp: bool = True, glc: bool = True) -> TrainConfig:
    return TrainConfig(hrp=hrp, glc=glc, hrp_weight=HRP_WEIGHT, glc_weight=1.0,
                       lambda_smooth=LAMBDA_SMOOTH, lambda_mono=LAMBDA_MONO,
                       crop_size=FULL, glc_crop=CROP, device="cpu",
                       model=ModelConfig(backbone="tiny", lut_dim=DIM, n_luts=N_LUTS))


def predictions(luts: np.ndarray, weights: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Spec §3: output = sum_n w_n LUT_n(x), each LUT applied by trilinear interpolation."""
    out = np.zeros(images.shape)
    for i, image in enumerate(images):
        for n, lut in enumerate(luts):
            out[i] += weights[i, n] * reference_trilinear(lut, image)
    return out


def hrp_mse(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None) -> float:
    """Spec §4: weight HRP_WEIGHT where the mask is non-zero, 1 elsewhere, on both images."""
    weight = np.ones_like(mask) if mask is None else np.where(mask != 0, HRP_WEIGHT, 1.0)
    return float(np.mean((weight * prediction - weight * target) ** 2))


def total_variation(lut: np.ndarray) -> float:
    """Spec §4 TV: per axis, mean squared neighbour difference, first and last ×2."""
    dim = lut.shape[-1]
    total = 0.0
    for axis in (1, 2, 3):  # b, g, r axes of lut[c, b, g, r]
        squares = []
        for i in range(dim - 1):
            step = np.take(lut, i + 1, axis=axis) - np.take(lut, i, axis=axis)
            edge = 2.0 if i in (0, dim - 2) else 1.0
            squares.append(edge * step ** 2)
        total += float(np.mean(squares))
    return total


def monotonicity(lut: np.ndarray) -> float:
    """Spec §4 MN: per axis, mean of ReLU(lut[i] - lut[i+1])."""
    dim = lut.shape[-1]
    total = 0.0
    for axis in (1, 2, 3):
        drops = [np.maximum(np.take(lut, i, axis=axis) - np.take(lut, i + 1, axis=axis), 0.0)
                 for i in range(dim - 1)]
        total += float(np.mean(drops))
    return total


def glc_mse(first: np.ndarray, second: np.ndarray) -> float:
    """Spec §4 GLC: MSE of the two predictions on their common region (each at its offset)."""
    squares = []
    for i in range(first.shape[0]):
        t1, l1, h, w = OVERLAPS_1[i]
        t2, l2, _, _ = OVERLAPS_2[i]
        squares.append((first[i, :, t1:t1 + h, l1:l1 + w]
                        - second[i, :, t2:t2 + h, l2:l2 + w]) ** 2)
    return float(np.mean(squares))  # equal-size overlaps: mean over every pixel and channel


def expected_loss(model: AdaptiveLUT, batch: dict[str, torch.Tensor], hrp: bool,
                  glc: bool) -> tuple[float, dict[str, float]]:
    """The loss of spec §4 for ``batch``; with GLC, both crops are training samples."""
    keys = ("source", "source2") if glc else ("source",)
    sources = torch.cat([batch[k] for k in keys])
    with torch.no_grad():
        weights = model.predict_weights(sources).double().numpy()
    luts = model.luts.detach().double().numpy()
    images = sources.double().numpy()
    targets = torch.cat([batch[k] for k in (("target", "target2") if glc else ("target",))])
    masks = torch.cat([batch[k] for k in (("mask", "mask2") if glc else ("mask",))])
    prediction = predictions(luts, weights, images)
    mse = hrp_mse(prediction, targets.double().numpy(), masks.numpy() if hrp else None)
    smooth = float(np.mean(weights ** 2)) + sum(total_variation(lut) for lut in luts)
    mono = sum(monotonicity(lut) for lut in luts)
    parts = {"mse": mse, "smooth": LAMBDA_SMOOTH * smooth, "mono": LAMBDA_MONO * mono}
    if glc:
        n = batch["source"].shape[0]
        parts["glc"] = glc_mse(prediction[:n], prediction[n:])
    return sum(parts.values()), parts


@pytest.mark.parametrize(("hrp", "glc"), [(True, True), (False, True), (True, False),
                                          (False, False)])
def test_training_step_loss_matches_the_spec_by_hand(hrp: bool, glc: bool) -> None:
    model, batch = make_model(), make_batch()
    if not glc:
        batch = {k: batch[k] for k in ("source", "target", "mask")}
    expected, parts = expected_loss(model, batch, hrp, glc)
    # every term is large enough that leaving it out (or miscomputing it) shows
    assert all(value > 1e-3 * expected for value in parts.values()), parts
    if hrp:  # the mask really weights some pixels
        assert parts["mse"] > 2 * expected_loss(model, batch, False, glc)[1]["mse"]
    loss, logged = training_step(model, batch, config(hrp, glc), torch.device("cpu"))
    assert loss.requires_grad
    assert float(loss.detach()) == pytest.approx(expected, rel=2e-5)
    assert logged["mse"] == pytest.approx(parts["mse"], rel=2e-5)
    if glc:
        assert logged["glc"] == pytest.approx(parts["glc"], rel=2e-5)


def test_glc_term_compares_each_crop_at_its_own_overlap_offset() -> None:
    """With a model that retouches both versions identically, the two predictions agree on
    the true overlap: the GLC term is then zero, and only there."""
    model, batch = make_model(), make_batch()
    batch["source2"] = torch.zeros_like(batch["source"])
    for i in range(2):  # version 2 = the same photo as version 1, cut at crop 2's box
        full = torch.zeros(3, FULL, FULL)
        (t1, l1), (t2, l2) = CROPS_1[i], CROPS_2[i]
        full[:, t1:t1 + CROP, l1:l1 + CROP] = batch["source"][i]
        batch["source2"][i] = full[:, t2:t2 + CROP, l2:l2 + CROP]
    with torch.no_grad():  # weights = the head's bias for every input: one LUT for both
        for name, parameter in model.named_parameters():
            if "head" in name and name.endswith("weight"):
                parameter.zero_()
    _, logged = training_step(model, batch, config(hrp=False, glc=True), torch.device("cpu"))
    assert logged["glc"] == pytest.approx(0.0, abs=1e-10)
    shifted = dict(batch, overlap2=batch["overlap1"].clone())  # the same box in both crops
    _, wrong = training_step(model, shifted, config(hrp=False, glc=True), torch.device("cpu"))
    assert wrong["glc"] > 1e-3
