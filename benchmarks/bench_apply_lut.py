"""Throughput of ``ppr10k.lut.apply.apply_lut`` against Pillow and ``grid_sample``, one run.

Measures Mpx/s applying a 33^3 LUT to a 3840x2160 image:

* ``apply_lut`` (numba, all cores) on float32, uint16 and uint8 images;
* ``apply_lut`` with per-channel curves before the LUT (``curves=``): AdaInt-like (33
  non-uniform knots, the cumulative sum of a softmax, values k/32; 33^3 LUT) on uint8,
  uint16 and float32, and SepLUT-like (9 or 17 uniform knots, values an increasing 1D LUT;
  9^3 LUT) on uint8, next to the same LUT without curves;
* Pillow ``ImageFilter.Color3DLUT`` (8-bit, its own fixed-point trilinear kernel, no
  curves) at 33^3 and 9^3: every ``apply_lut`` row's "x Pillow" is against Pillow's plain
  LUT of the same size, so a curves row compares our curves + LUT with Pillow's LUT alone;
* ``torch.nn.functional.grid_sample`` (the usual PyTorch way, float32, trilinear);
* ``ppr10k.lut.trilinear`` (our differentiable torch op), for reference.

The ``apply_lut`` and Pillow rows take their best of ``--repeats`` in interleaved rounds,
so that load from other processes hits them alike; report the ratios, not the times.

The image is a real portrait upscaled to 4K (colours as in a photo, so the LUT is read
as in real use) or, with ``--random``, uniform noise (worst case for caches).

Usage:
    python benchmarks/bench_apply_lut.py [--repeats 5] [--random] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from ppr10k.lut import apply_curves_and_lut, trilinear
from ppr10k.lut.apply import apply_lut

WIDTH, HEIGHT, DIM = 3840, 2160, 33
SEPLUT_DIM = 9
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


def best_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """:func:`best_time` of each function, the repeats taken in interleaved rounds (one call
    of each per round), so that a busy spell on a shared machine hits every method alike."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def test_image(random: bool) -> np.ndarray:
    """A 4K float32 RGB image in [0, 1]."""
    if random or not PHOTO.is_file():
        return np.random.default_rng(0).random((HEIGHT, WIDTH, 3), dtype=np.float32)
    with Image.open(PHOTO) as img:
        big = img.convert("RGB").resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32) / 255.0


def smooth_random_lut(rng: np.random.Generator, dim: int = DIM) -> np.ndarray:
    """A non-trivial monotone-ish LUT: identity plus a smooth colour twist, (3, D, D, D)."""
    axis = np.linspace(0.0, 1.0, dim, dtype=np.float32)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    twist = 0.08 * np.sin(np.pi * np.stack([g, b, r])) * rng.uniform(0.5, 1.0, (3, 1, 1, 1))
    return np.clip(np.stack([r, g, b]) + twist, 0.0, 1.0).astype(np.float32)


def adaint_curves(rng: np.random.Generator, n_knots: int = DIM) -> tuple[np.ndarray, np.ndarray]:
    """AdaInt-like ``(3, K)`` curves: knots 0 then the cumulative sum of a softmax
    (non-uniform), values the uniform lattice coordinates ``k / (K - 1)``."""
    logits = rng.normal(0.0, 0.5, (3, n_knots - 1))
    widths = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    knots = np.concatenate([np.zeros((3, 1)), np.cumsum(widths, axis=1)], axis=1)
    values = np.tile(np.linspace(0.0, 1.0, n_knots), (3, 1))
    return knots.astype(np.float32), values.astype(np.float32)


def seplut_curves(rng: np.random.Generator, n_knots: int) -> tuple[np.ndarray, np.ndarray]:
    """SepLUT-like ``(3, K)`` curves: uniform knots ``k / (K - 1)``, values an increasing
    1D LUT from 0 to 1."""
    steps = rng.uniform(0.5, 1.5, (3, n_knots - 1))
    values = np.concatenate([np.zeros((3, 1)), np.cumsum(steps, axis=1)], axis=1)
    knots = np.tile(np.linspace(0.0, 1.0, n_knots), (3, 1))
    return knots.astype(np.float32), (values / values[:, -1:]).astype(np.float32)


def pillow_filter(lut: np.ndarray) -> ImageFilter.Color3DLUT:
    """Pillow's table is a flat list with red fastest, channels interleaved: ``lut[c, b, g,
    r]`` transposed to ``[b, g, r, c]`` is exactly that order."""
    table = np.ascontiguousarray(lut.transpose(1, 2, 3, 0)).reshape(-1)
    return ImageFilter.Color3DLUT(lut.shape[-1], table.tolist(), channels=3)


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
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")

    # the CPU kernels and Pillow, timed in interleaved rounds
    cases: dict[str, Callable[[], object]] = {}
    out32 = np.empty_like(image)
    cases["apply_lut float32"] = lambda: apply_lut(image, lut, out=out32)
    image16 = np.rint(image * 65535).astype(np.uint16)
    out16 = np.empty_like(image16)
    cases["apply_lut uint16"] = lambda: apply_lut(image16, lut, out=out16)
    image8 = np.rint(image * 255).astype(np.uint8)
    out8 = np.empty_like(image8)
    cases["apply_lut uint8"] = lambda: apply_lut(image8, lut, out=out8)

    # curves on: each row's "x curves-off" is against the row named here (same LUT, dtype)
    curves_off: dict[str, str] = {}
    adaint = adaint_curves(rng)
    for name, src, dst in (("uint8", image8, out8), ("uint16", image16, out16),
                           ("float32", image, out32)):
        row = f"apply_lut {name} +AdaInt curves {DIM}"
        cases[row] = lambda src=src, dst=dst: apply_lut(src, lut, out=dst, curves=adaint)
        curves_off[row] = f"apply_lut {name}"
    lut9 = smooth_random_lut(rng, SEPLUT_DIM)
    cases["apply_lut uint8 (9^3)"] = lambda: apply_lut(image8, lut9, out=out8)
    for n_knots in (9, 17):
        row = f"apply_lut uint8 (9^3) +SepLUT curves {n_knots}"
        sep = seplut_curves(rng, n_knots)
        cases[row] = lambda sep=sep: apply_lut(image8, lut9, out=out8, curves=sep)
        curves_off[row] = "apply_lut uint8 (9^3)"

    pil_image = Image.fromarray(image8)
    pil_filter, pil_filter9 = pillow_filter(lut), pillow_filter(lut9)
    cases["Pillow Color3DLUT uint8"] = lambda: pil_image.filter(pil_filter)
    cases["Pillow Color3DLUT uint8 (9^3)"] = lambda: pil_image.filter(pil_filter9)
    results = best_times(cases, args.repeats)

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
    apply_lut(image, lut, out=out32)
    print(f"max |apply_lut - trilinear| = {np.abs(out32 - ref).max():.2e}, "
          f"max |apply_lut - grid_sample| = {np.abs(out32 - grid).max():.2e}")
    # and with curves, on a band of rows (the torch op is slow at 4K)
    band = x_bchw[..., :256, :]
    with torch.no_grad():
        ref = apply_curves_and_lut(lut_t[0], band, tuple(torch.from_numpy(a) for a in adaint))
    ours = apply_lut(image[:256], lut, curves=adaint)
    print(f"max |apply_lut(curves) - apply_curves_and_lut| = "
          f"{np.abs(ours - ref[0].permute(1, 2, 0).numpy()).max():.2e}")

    grid_rate = mpx / results["torch grid_sample float32"]
    print(f"{'method':42s} {'ms':>8s} {'Mpx/s':>8s} {'x Pillow':>9s} {'x grid_sample':>14s} "
          f"{'x curves-off':>13s}")
    for name, seconds in results.items():
        rate = mpx / seconds
        pillow_row = "Pillow Color3DLUT uint8" + (" (9^3)" if "(9^3)" in name else "")
        pillow = mpx / results[pillow_row]
        off = f"{results[curves_off[name]] / seconds:13.2f}" if name in curves_off else ""
        print(f"{name:42s} {seconds * 1e3:8.1f} {rate:8.1f} {rate / pillow:9.2f} "
              f"{rate / grid_rate:14.2f} {off}")


if __name__ == "__main__":
    main()
