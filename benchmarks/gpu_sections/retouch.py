"""Retouch on a GPU against the same machine's CPU path (a section of bench_gpu.py).

``run(device, quick)`` retouches one folder of JPEGs twice with the default zoo model
(AdaInt: curves + 3D LUT), JPEG in and out, after a warm-up run of each on two of them (numba compiles,
CUDA and Triton start):

* on CUDA: ``--device cuda`` (JPEGs decoded by nvJPEG, predictor batched, curves + LUT on
  the GPU) against ``--device cpu`` (numba kernel on every core), 4K photos
  (3840x2160); rows in photos/s and Mpx/s with the CPU figure as baseline.
* on the CPU (1080p; ``quick``: four 640x360 photos, seconds): the torch apply backend
  (the code the GPU runs) against the numba kernel, both on the CPU. ``quick`` on CUDA:
  the same small photos.

Each side runs with 2 and with up to 8 workers (threads that decode, apply and encode) and
keeps its best time, so that neither is held back by its thread count. Timings on a
shared machine are noisy; compare ratios.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # benchmarks/, run alone
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_retouch import source_image as _source  # the same 4K portrait


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
          base_seconds: float, what: str, base: str) -> list[dict]:
    """Rows ``{name, value, unit, baseline, ratio, note}``: the baseline names what it is and
    its value, measured in the same run; ratio = value / baseline value."""
    rate, base_rate = photos / seconds, photos / base_seconds
    mpx, base_mpx = photos * megapixels / seconds, photos * megapixels / base_seconds
    return [
        {"name": f"{name} photos/s", "value": round(rate, 3), "unit": "photos/s",
         "baseline": f"{base} {base_rate:.3g} photos/s", "ratio": round(rate / base_rate, 3),
         "note": what},
        {"name": f"{name} Mpx/s", "value": round(mpx, 1), "unit": "Mpx/s",
         "baseline": f"{base} {base_mpx:.3g} Mpx/s", "ratio": round(mpx / base_mpx, 3),
         "note": what},
    ]


def run(device: torch.device, quick: bool) -> list[dict]:
    """Rows ``{name, value, unit, baseline, ratio, note}``: retouch throughput on ``device``
    against the CPU path (CUDA), or the torch apply backend against numba (CPU). Each side
    runs with 2 and with up to 8 workers (``quick``: 2 only) and keeps its best time."""
    from ppr10k.retouch import OutputOptions, Retoucher, RunOptions

    device = torch.device(device)
    cuda = device.type == "cuda"
    width, height = (640, 360) if quick else (3840, 2160) if cuda else (1920, 1080)
    photos = 4 if quick else 24
    widths = sorted({2, min(8, os.cpu_count() or 1)}) if not quick else [2]
    output = OutputOptions(fmt="jpg", quality=95)
    if cuda:
        fast_options, slow_options = {"device": str(device)}, {"device": "cpu"}
        base = "CPU path (numba)"
        what = ("--device cuda (nvJPEG decode, batched predictor, apply on the GPU) vs "
                "--device cpu")
    else:
        fast_options = {"device": "cpu", "backend": "torch"}
        slow_options = {"device": "cpu", "backend": "numba"}
        base = "numba backend"
        what = "CPU: --apply-backend torch (the GPU's code) vs numba"

    def best(options: dict, root: Path, folder: Path, warm: Path, label: str
             ) -> tuple[float, int]:
        times = {}
        for workers in widths:
            engine = Retoucher("adaint-fivek-srgb", output,
                               run=RunOptions(workers=workers, progress=False, **options))
            _timed(engine, warm, root / f"warm_{label}_{workers}")
            if cuda:
                torch.cuda.synchronize(device)
            times[workers] = _timed(engine, folder, root / f"{label}_{workers}")
        workers = min(times, key=times.get)
        return times[workers], workers

    with tempfile.TemporaryDirectory(prefix="ppr10k-bench-retouch-") as tmp:
        root = Path(tmp)
        folder = _folder(root, photos, width, height)
        warm = root / "warm"
        warm.mkdir()
        for source in sorted(folder.iterdir())[:2]:
            (warm / source.name).write_bytes(source.read_bytes())
        fast_s, fast_w = best(fast_options, root, folder, warm, "fast")
        slow_s, slow_w = best(slow_options, root, folder, warm, "slow")
    name = f"retouch {width}x{height} JPEG"
    note = (f"{what}; best of workers {widths} ({fast_w} vs {slow_w}); {photos} JPEGs in, "
            "JPEG out (quality 95)")
    return _rows(name, photos, width * height / 1e6, fast_s, slow_s, note, base)


if __name__ == "__main__":  # python benchmarks/gpu_sections/retouch.py [--quick]
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(torch.device(args.device), args.quick):
        print(row)
