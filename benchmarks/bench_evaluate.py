"""Benchmark: scoring 360p result/target/mask triples with `ppr10k.evaluate.evaluate_folders`.

Writes N pairs of 540x360 images (8-bit PNG predictions, 8-bit TIFF targets, PNG masks, as
the 360p validation set has) into a temporary folder, then measures images per second:

- baseline: the plain NumPy definitions of `ppr10k.evaluate.metrics` (psnr, delta_e,
  human_centered_psnr, human_centered_delta_e, mean_ab), one pair after the other, files
  read the same way, in this process;
- `evaluate_folders` with 1 worker and with a process pool (default: one per CPU).

and projects the time for the 2,286 validation pairs. Photos come from ../shared/data when
present (real portraits, re-toned), otherwise from smooth synthetic images with noise.

Usage: python benchmarks/bench_evaluate.py [--pairs 240] [--workers 1 2] [--baseline-pairs 60]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ppr10k.evaluate import evaluate_folders
from ppr10k.evaluate.metrics import (
    delta_e,
    human_centered_delta_e,
    human_centered_psnr,
    mean_ab,
    psnr,
    resize_mask,
)
from ppr10k.evaluate.pairing import pair_files
from ppr10k.io.image import read_image_native, read_mask, write_image

VALIDATION_PAIRS = 2286
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "portraits"


def _sources(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(photo 360x540, mask) bases: real portraits if available, else synthetic."""
    bases = []
    if SHARED.is_dir():
        for path in sorted(SHARED.glob("p3m_p_*_alpha.png")):
            photo = Image.open(str(path).replace("_alpha.png", ".jpg")).convert("RGB")
            alpha = Image.open(path).convert("L")
            photo = photo.resize((540, 360), Image.Resampling.BILINEAR)
            alpha = alpha.resize((540, 360), Image.Resampling.BILINEAR)
            bases.append((np.asarray(photo), np.asarray(alpha) > 127))
    if not bases:
        yy, xx = np.mgrid[0:360, 0:540]
        for k in range(4):
            smooth = np.stack([xx / 540, yy / 360, (xx + yy + 100 * k) / 1000], -1)
            photo = np.clip(smooth * 255 + rng.normal(0, 4, smooth.shape), 0, 255)
            bases.append((photo.astype(np.uint8), (xx - 270) ** 2 + (yy - 200) ** 2 < 120**2))
    return bases


def make_pairs(root: Path, n: int, seed: int = 0) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    folders = tuple(root / name for name in ("pred", "target", "masks"))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    bases = _sources(rng)
    for i in range(n):
        photo, mask = bases[i % len(bases)]
        gain = rng.uniform(0.85, 1.15, 3)
        target = np.clip(photo * gain, 0, 255).astype(np.uint8)
        prediction = np.clip(255 * (photo / 255.0) ** rng.uniform(0.8, 1.2), 0, 255)
        stem = f"{1356 + i // 7}_{i % 7}"
        write_image(folders[0] / f"{stem}.png", prediction.astype(np.uint8))
        write_image(folders[1] / f"{stem}.tif", target)
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(folders[2] / f"{stem}.png")
    return folders


def baseline(folders: tuple[Path, Path, Path], limit: int) -> float:
    """Images per second of the plain NumPy definitions (one process)."""
    pairs = pair_files(*folders).pairs[:limit]
    start = time.perf_counter()
    for pair in pairs:
        x = read_image_native(pair.prediction)
        y = read_image_native(pair.target)
        mask = resize_mask(read_mask(pair.mask), x.shape[:2])
        psnr(x, y)
        delta_e(x, y)
        human_centered_psnr(x, y, mask)
        human_centered_delta_e(x, y, mask)
        mean_ab(x)
    return len(pairs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=240)
    parser.add_argument("--baseline-pairs", type=int, default=60)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folders = make_pairs(Path(tmp), args.pairs)
        # warm-up: file cache, numba's compiled kernel
        evaluate_folders(*folders, progress=False)
        base = baseline(folders, args.baseline_pairs)
        print(f"CPUs: {os.cpu_count()}; {args.pairs} pairs of 540x360 "
              f"({'real portraits' if SHARED.is_dir() else 'synthetic'})")
        print(f"{'method':<34}{'img/s':>8}{'x baseline':>12}{'2,286 pairs':>14}")
        print(f"{'baseline: NumPy metrics, 1 proc':<34}{base:>8.1f}{1.0:>12.2f}"
              f"{VALIDATION_PAIRS / base:>13.1f}s")
        for workers in args.workers:
            start = time.perf_counter()
            result = evaluate_folders(*folders, workers=workers, progress=False)
            rate = result.summary["n_images"] / (time.perf_counter() - start)
            label = f"evaluate_folders, workers={workers}"
            print(f"{label:<34}{rate:>8.1f}{rate / base:>12.2f}"
                  f"{VALIDATION_PAIRS / rate:>13.1f}s")


if __name__ == "__main__":
    main()
