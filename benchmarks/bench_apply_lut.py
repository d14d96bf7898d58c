"""Throughput of ``ppr10k.lut.apply.apply_lut`` against Pillow and ``grid_sample``, one run.

Measures Mpx/s applying a 33^3 LUT to a 3840x2160 image:

* ``apply_lut`` (numba, all cores) on float32, uint16 and uint8 images;
* Pillow ``ImageFilter.Color3DLUT`` (8-bit, its own fixed-point trilinear kernel);
* ``torch.nn.functional.grid_sample`` (the usual PyTorch way, float32, trilinear);
* ``ppr10k.lut.trilinear`` (our differentiable torch op), for reference.

The image is a real portrait upscaled to 4K (colours as in a photo, so the LUT is read
as in real use) or, with ``--random``, uniform noise (worst case for caches).

Usage:
    python benchmarks/bench_apply_lut.py [--repeats 5] [--random] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numba
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from ppr10k.lut import trilinear
from ppr10k.lut.apply import apply_lut

WIDTH, HEIGHT, DIM = 3840, 2160, 33
PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "portraits" / "p3m_p_07141906.jpg"


def best_time(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def test_image(random: bool) -> np.ndarray:
    """A 4K float32 RGB image in [0, 1]."""
    if random or not PHOTO.is_file():
        return np.random.default_rng(0).random((HEIGHT, WIDTH, 3), dtype=np.float32)
    with Image.open(PHOTO) as img:
        big = img.convert("RGB").resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32) / 255.0


def smooth_random_lut(rng: np.random.Generator) -> np.ndarray:
    """A non-trivial monotone-ish LUT: identity plus a smooth colour twist, (3, D, D, D)."""
    axis = np.linspace(0.0, 1.0, DIM, dtype=np.float32)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    twist = 0.08 * np.sin(np.pi * np.stack([g, b, r])) * rng.uniform(0.5, 1.0, (3, 1, 1, 1))
    return np.clip(np.stack([r, g, b]) + twist, 0.0, 1.0).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--random", action="store_true", help="uniform noise image")
    parser.add_argument("--threads", type=int, default=None, help="numba/torch threads")
    args = parser.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    lut = smooth_random_lut(rng)
    image = test_image(args.random)
    mpx = WIDTH * HEIGHT / 1e6
    print(f"{WIDTH}x{HEIGHT} ({'noise' if args.random else 'photo'}), LUT {DIM}^3, "
          f"{os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}, "
          f"torch threads {torch.get_num_threads()}")

    results: dict[str, float] = {}
    out32 = np.empty_like(image)
    results["apply_lut float32"] = best_time(lambda: apply_lut(image, lut, out=out32),
                                             args.repeats)
    image16 = np.rint(image * 65535).astype(np.uint16)
    out16 = np.empty_like(image16)
    results["apply_lut uint16"] = best_time(lambda: apply_lut(image16, lut, out=out16),
                                            args.repeats)
    image8 = np.rint(image * 255).astype(np.uint8)
    out8 = np.empty_like(image8)
    results["apply_lut uint8"] = best_time(lambda: apply_lut(image8, lut, out=out8),
                                           args.repeats)

    # Pillow: table is a flat list with red fastest, channels interleaved: lut[c, b, g, r]
    # transposed to [b, g, r, c] is exactly that order.
    pil_table = np.ascontiguousarray(lut.transpose(1, 2, 3, 0)).reshape(-1)
    pil_filter = ImageFilter.Color3DLUT(DIM, pil_table.tolist(), channels=3)
    pil_image = Image.fromarray(image8)
    results["Pillow Color3DLUT uint8"] = best_time(lambda: pil_image.filter(pil_filter),
                                                   args.repeats)

    # grid_sample: 5-D input (1, 3, D, D, D) indexed [c, z=b, y=g, x=r]; grid (x, y, z) =
    # (r, g, b) in [-1, 1] with align_corners=True puts lattice points at the ends.
    lut_t = torch.from_numpy(lut)[None]
    x = torch.from_numpy(image)

    def run_grid_sample() -> torch.Tensor:
        with torch.no_grad():
            grid = (x * 2.0 - 1.0).view(1, 1, HEIGHT, WIDTH, 3)
            return F.grid_sample(lut_t, grid, mode="bilinear", padding_mode="border",
                                 align_corners=True)

    results["torch grid_sample float32"] = best_time(run_grid_sample, args.repeats)

    x_bchw = x.permute(2, 0, 1)[None].contiguous()

    def run_trilinear() -> torch.Tensor:
        with torch.no_grad():
            return trilinear(lut_t[0], x_bchw)

    results["ppr10k.lut.trilinear float32"] = best_time(run_trilinear, args.repeats)

    # agreement of the kernels (float32): apply_lut vs trilinear vs grid_sample
    ref = run_trilinear()[0].permute(1, 2, 0).numpy()
    grid = run_grid_sample()[0, :, 0].permute(1, 2, 0).numpy()
    print(f"max |apply_lut - trilinear| = {np.abs(out32 - ref).max():.2e}, "
          f"max |apply_lut - grid_sample| = {np.abs(out32 - grid).max():.2e}")

    pillow = mpx / results["Pillow Color3DLUT uint8"]
    grid_rate = mpx / results["torch grid_sample float32"]
    print(f"{'method':32s} {'ms':>8s} {'Mpx/s':>8s} {'x Pillow':>9s} {'x grid_sample':>14s}")
    for name, seconds in results.items():
        rate = mpx / seconds
        print(f"{name:32s} {seconds * 1e3:8.1f} {rate:8.1f} {rate / pillow:9.2f} "
              f"{rate / grid_rate:14.2f}")


if __name__ == "__main__":
    main()
