"""Benchmark: one training step and `trilinear` against `grid_sample`, in one run.

    python benchmarks/bench_train_step.py [--repeats 5] [--device cpu]

Reports
* one training step (batch 4, 448x448, ResNet-18 backbone, forward + backward + Adam);
* `ppr10k.lut.trilinear` forward + backward throughput (Mpx/s) on a batch of 448x448 images
  with per-image 33^3 LUTs, against `torch.nn.functional.grid_sample` (trilinear,
  align_corners=True) doing the same interpolation on the same input, as a ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from ppr10k.lut import trilinear
from ppr10k.models import AdaptiveLUT
from ppr10k.train import TrainConfig, training_step


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def grid_sample_lut(lut: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The same trilinear lookup with grid_sample: (B,3,D,D,D) volume indexed (x=r, y=g, z=b)."""
    grid = images.permute(0, 2, 3, 1).unsqueeze(1) * 2 - 1  # (B, 1, H, W, 3) in [-1, 1]
    return F.grid_sample(lut, grid, mode="bilinear", padding_mode="border",
                         align_corners=True).squeeze(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}")

    config = TrainConfig(data="-", glc=False, backbone_weights="none")
    model = AdaptiveLUT(config.model, backbone_weights=None).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = {"source": torch.rand(4, 3, 448, 448), "target": torch.rand(4, 3, 448, 448),
             "mask": (torch.rand(4, 1, 448, 448) > 0.5).float()}

    def step():
        loss, _ = training_step(model, batch, config, device)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    t_step = timed(step, args.repeats)
    print(f"training step (batch 4, 448^2, ResNet-18, fwd+bwd+Adam): {t_step:.3f} s")

    images = torch.rand(4, 3, 448, 448, device=device)
    luts = (torch.rand(4, 3, 33, 33, 33, device=device)).requires_grad_(True)
    x = images.clone().requires_grad_(True)
    mpx = images.shape[0] * 448 * 448 / 1e6
    assert torch.allclose(trilinear(luts, images), grid_sample_lut(luts, images), atol=1e-5)

    def ours():
        trilinear(luts, x).sum().backward()

    def reference():
        grid_sample_lut(luts, x).sum().backward()

    t_ours, t_ref = timed(ours, args.repeats), timed(reference, args.repeats)
    print(f"trilinear fwd+bwd:   {mpx / t_ours:7.2f} Mpx/s ({t_ours * 1e3:.1f} ms for {mpx:.2f} Mpx)")
    print(f"grid_sample fwd+bwd: {mpx / t_ref:7.2f} Mpx/s ({t_ref * 1e3:.1f} ms)")
    print(f"ratio trilinear / grid_sample throughput: {t_ref / t_ours:.2f}x")
    with torch.no_grad():
        t_ours_f = timed(lambda: trilinear(luts, images), args.repeats)
        t_ref_f = timed(lambda: grid_sample_lut(luts, images), args.repeats)
    print(f"forward only: trilinear {mpx / t_ours_f:.2f} Mpx/s, grid_sample "
          f"{mpx / t_ref_f:.2f} Mpx/s, ratio {t_ref_f / t_ours_f:.2f}x")


if __name__ == "__main__":
    main()
