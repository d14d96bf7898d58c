"""Shared fixtures: real files from ../shared (skipped where absent, failing under CI; see
``required.py``), small data on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from required import require_dir

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_MODELS = REPO.parent / "shared" / "models"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real third-party test files (see its MANIFEST.md)."""
    return require_dir(SHARED_DATA, "real test data")


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """The folder of published checkpoints and golden outputs (see its MANIFEST.md)."""
    return require_dir(SHARED_MODELS, "published checkpoints")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def expert_look(image: np.ndarray) -> np.ndarray:
    """A fixed global tone curve + warm shift: the 'expert' of the tiny test dataset."""
    return np.clip(image ** 0.75 * np.array([1.06, 1.0, 0.92]), 0.0, 1.0)


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random RGB field in [0.05, 0.95] (low-frequency, like a photo's tones)."""
    import torch
    import torch.nn.functional as F

    coarse = torch.from_numpy(rng.uniform(0.05, 0.95, (1, 3, 4, 6)).astype(np.float32))
    fine = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
    return fine[0].permute(1, 2, 0).clamp(0.05, 0.95).numpy()


def write_tiny_ppr10k(root: Path, seed: int = 0, size: tuple[int, int] = (48, 72),
                      train_groups: tuple[int, ...] = (0, 1), val_groups: tuple[int, ...] = (1356, 1357),
                      per_group: int = 2, versions: int = 2) -> Path:
    """Write a tiny dataset in the official layout (spec §1) with a learnable expert look."""
    import tifffile

    from ppr10k.io import to_uint, write_image

    rng = np.random.default_rng(seed)
    for split, groups in (("train", train_groups), ("val", val_groups)):
        source_dir = root / split / ("source_aug" if split == "train" else "source")
        for group in groups:
            for index in range(per_group):
                h, w = size if index % 2 == 0 else size[::-1]
                clean = smooth_image(rng, h, w)
                stem = f"{group}_{index}"
                shots = [clean] + ([clean * rng.uniform(0.8, 1.1) for _ in range(versions)]
                                   if split == "train" else [])
                for k, shot in enumerate(shots):
                    name = stem if k == 0 else f"{stem}_{k}"
                    source_dir.mkdir(parents=True, exist_ok=True)
                    tifffile.imwrite(source_dir / f"{name}.tif", to_uint(np.clip(shot, 0, 1), 16),
                                     photometric="rgb")
                for expert in ("a", "b", "c"):
                    out = root / split / f"target_{expert}" / f"{stem}.tif"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    tifffile.imwrite(out, to_uint(expert_look(clean), 8), photometric="rgb")
                yy, xx = np.mgrid[:h, :w]
                mask = ((yy - h / 2) ** 2 / (h / 3) ** 2 + (xx - w / 2) ** 2 / (w / 4) ** 2) < 1
                write_image(root / split / "masks" / f"{stem}.png",
                            np.repeat(mask[:, :, None], 3, axis=2).astype(np.uint8) * 255)
    return root


@pytest.fixture
def tiny_ppr10k(tmp_path) -> Path:
    """A tiny PPR10K-format dataset: 2+2 groups x 2 photos, 2 augmented versions."""
    return write_tiny_ppr10k(tmp_path / "ppr10k")


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Commands run in-process (``main([...])``) set torch's thread count for "their" process
    as ``ppr10k retouch`` does; put it back so that no test sees another's setting (torch's
    CPU sums, and so the last bits of results, depend on it)."""
    import torch

    before = torch.get_num_threads()
    yield
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)
