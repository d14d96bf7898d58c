"""Retouch on a GPU against the same machine's CPU path (a section of bench_gpu.py).

``run(device, quick)`` retouches one folder of JPEGs twice with the default zoo model
(AdaInt: curves + 3D LUT), JPEG in and out, after a warm-up run of each on two of them (numba compiles,
CUDA and Triton start):

* on CUDA: ``--device cuda`` (JPEGs decoded by nvJPEG, predictor batched, curves + LUT on
  the GPU) against ``--device cpu`` (numba kernel on every core), 4K photos
  (3840x2160); rows in photos/s and Mpx/s with the CPU figure as baseline.
* on the CPU (small photos, seconds): the torch apply backend (the code the GPU runs)
  against the numba kernel, both on the CPU. ``quick`` on CUDA: the same small photos.

Both runs use the same workers (threads that decode, apply and encode) so that the
difference is the device. Timings on a shared machine are noisy; compare ratios.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

PORTRAIT = (Path(__file__).resolve().parents[3] / "shared" / "data" / "portraits"
            / "p3m_p_07141906.jpg")


def _source(width: int, height: int) -> np.ndarray:
    """A real portrait resized to ``width x height`` (a synthetic gradient without it)."""
    if PORTRAIT.is_file():
        with Image.open(PORTRAIT) as img:
            return np.asarray(img.convert("RGB").resize((width, height),
                                                        Image.Resampling.BICUBIC))
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)],
                    axis=-1).astype(np.uint8)


def _folder(root: Path, photos: int, width: int, height: int) -> Path:
    folder = root / f"jpeg_{width}x{height}"
    folder.mkdir()
    base = _source(width, height)
    for i in range(photos):
        Image.fromarray(np.roll(base, 37 * i, axis=1)).save(folder / f"p{i}.jpg", quality=95)
    return folder


def _timed(engine, folder: Path, out: Path) -> float:
    start = time.perf_counter()
    report = engine.run([folder], out)
    seconds = time.perf_counter() - start
    if report.exit_code:
        raise RuntimeError(report.summary())
    return seconds


def _rows(name: str, photos: int, megapixels: float, seconds: float,
          base_seconds: float, what: str) -> list[dict]:
    rate, base_rate = photos / seconds, photos / base_seconds
    mpx, base_mpx = photos * megapixels / seconds, photos * megapixels / base_seconds
    return [
        {"name": f"{name} photos/s ({what})", "value": round(rate, 3), "unit": "photos/s",
         "baseline": round(base_rate, 3), "ratio": round(rate / base_rate, 3)},
        {"name": f"{name} Mpx/s ({what})", "value": round(mpx, 1), "unit": "Mpx/s",
         "baseline": round(base_mpx, 1), "ratio": round(mpx / base_mpx, 3)},
    ]


def run(device: torch.device, quick: bool) -> list[dict]:
    """Rows ``{name, value, unit, baseline, ratio}``: retouch throughput on ``device``
    against the CPU path (CUDA), or the torch apply backend against numba (CPU)."""
    from ppr10k.retouch import OutputOptions, Retoucher, RunOptions

    device = torch.device(device)
    cuda = device.type == "cuda"
    width, height = (3840, 2160) if cuda and not quick else (960, 540)
    photos = 4 if quick else 24
    workers = min(8, os.cpu_count() or 1)
    output = OutputOptions(fmt="jpg", quality=95)

    def engine(**run_options) -> Retoucher:
        return Retoucher("adaint-fivek-srgb", output,
                         run=RunOptions(workers=workers, progress=False, **run_options))

    if cuda:
        fast = engine(device=str(device))
        slow = engine(device="cpu")
        what = f"cuda vs cpu numba, {workers} workers, JPEG in/out"
    else:
        fast = engine(device="cpu", backend="torch")
        slow = engine(device="cpu", backend="numba")
        what = f"cpu: torch backend vs numba, {workers} workers, JPEG in/out"
    with tempfile.TemporaryDirectory(prefix="ppr10k-bench-retouch-") as tmp:
        root = Path(tmp)
        folder = _folder(root, photos, width, height)
        warm = root / "warm"
        warm.mkdir()
        for source in sorted(folder.iterdir())[:2]:
            (warm / source.name).write_bytes(source.read_bytes())
        for label, retoucher in (("warm_fast", fast), ("warm_slow", slow)):
            _timed(retoucher, warm, root / label)
        if cuda:
            torch.cuda.synchronize(device)
        fast_s = _timed(fast, folder, root / "fast")
        slow_s = _timed(slow, folder, root / "slow")
    name = f"retouch {width}x{height} JPEG"
    return _rows(name, photos, width * height / 1e6, fast_s, slow_s, what)


if __name__ == "__main__":  # python benchmarks/gpu_sections/retouch.py [--quick]
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(torch.device(args.device), args.quick):
        print(row)
