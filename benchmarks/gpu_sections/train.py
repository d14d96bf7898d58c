"""Training section of bench_gpu.py: photos/s, today's loader path vs the cached pipeline.

    python benchmarks/gpu_sections/train.py [--device cuda] [--quick] [--workers N]

On a PPR10K-format sample set written to a temporary folder (real 360p 16-bit TIFF sources,
8-bit targets, masks: :func:`ppr10k.data.sample.make_sample_dataset`), the same model is
trained for a number of optimizer steps by

* ``loader``: today's path (DataLoader workers decode, crop, resize and flip every item on
  the CPU; float32 throughout) — the baseline;
* ``cached``: the sources decoded once into a uint16 cache, workers cut integer crops, the
  conversion, resize and flip run on the device in batches, and on CUDA the backbone runs in
  bfloat16 autocast with channels_last (``TrainConfig.amp``; the LUT math stays float32).

Settings: the paper's (ResNet-18 from random weights, batch 16, 448² crops, GLC on 336²
pairs, HRP on, 5 LUTs of 33³); ``quick``: a tiny backbone, batch 4, 64² crops, 9³ LUTs on a
few photos (seconds on a CPU). The training list is the sample set repeated so that one
epoch holds every timed step (the files are still read each time by the loader; the cache
holds each file once). Figures: photos per second (sources per optimizer step x
steps / wall time, after warm-up steps), the share of that time spent waiting for the next
batch (the rest is the step: forward, backward, Adam, with CUDA synchronised), and the GPU's
utilisation when ``torch.cuda.utilization`` can read it (it needs pynvml).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from ppr10k.data.pairs import index_training_data
from ppr10k.data.sample import make_sample_dataset
from ppr10k.models import create_model
from ppr10k.train import TrainConfig, loop
from ppr10k.train.pipeline import PIPELINES

#: (groups, photos per group, augmented versions, warm-up steps, timed steps)
FULL_SET = (10, 4, 5, 5, 40)
QUICK_SET = (2, 2, 1, 1, 2)
WORKERS: int | None = None  # None: min(12, CPUs) for the loader, min(4, CPUs) cached


def _row(name: str, value: float | None, unit: str = "", baseline: str = "",
         ratio: float | None = None, note: str = "") -> dict:
    return {"name": name, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio,
            "note": note}


def settings(data: Path, quick: bool, pipeline: str, workers: int) -> TrainConfig:
    """The training settings of one measurement."""
    if quick:
        config = TrainConfig(data=str(data), batch_size=4, crop_size=64, glc_crop=48,
                             backbone_weights="none", num_workers=0, pipeline=pipeline)
        return config.updated(backbone="tiny", lut_dim=9)
    return TrainConfig(data=str(data), backbone_weights="none", num_workers=workers,
                       pipeline=pipeline)


def _utilisation(device: torch.device) -> float | None:
    try:
        return float(torch.cuda.utilization(device))
    except Exception:  # noqa: BLE001 - no pynvml / NVML: not measurable
        return None


def measure(data: Path, device: torch.device, quick: bool, pipeline: str,
            workers: int) -> dict[str, float | None]:
    """Photos/s, data-wait share and GPU utilisation of ``pipeline`` on ``data``."""
    _, _, _, warmup, steps = QUICK_SET if quick else FULL_SET
    config = settings(data, quick, pipeline, workers)
    torch.manual_seed(0)
    samples, _ = index_training_data(config.data, "train", config.expert, config.hrp)
    # one epoch covers every step (as PPR10K's 53,250 sources do): the set is repeated, so
    # workers start once, inside the warm-up, not at each of many short epochs
    samples = samples * math.ceil((warmup + steps + 1) * config.batch_size / len(samples))
    model = create_model(config.model, backbone_weights=None).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    with tempfile.TemporaryDirectory() as run_dir:
        built = time.perf_counter()
        source = PIPELINES[pipeline](samples, config, device, run_dir=Path(run_dir))
        setup_s = time.perf_counter() - built
        where = "cache on the device" if getattr(source, "resident", False) else "host cache"
        amp = pipeline == "cached" and config.amp
        photos, waited, total, utilisation = 0, 0.0, 0.0, []
        with loop.backbone_autocast(model, device, amp):
            done = 0
            while done < warmup + steps:
                batches = source.epoch(done)
                began = time.perf_counter()
                for batch in batches:
                    got = time.perf_counter()
                    loss, _ = loop.training_step(model, batch, config, device)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    ended = time.perf_counter()
                    if done >= warmup:
                        photos += batch["source"].shape[0]
                        waited += got - began
                        total += ended - began
                        if device.type == "cuda" and (value := _utilisation(device)) is not None:
                            utilisation.append(value)
                    done += 1
                    began = time.perf_counter()
                    if done >= warmup + steps:
                        break
        source.close()
    return {"photos_per_s": photos / total, "wait_share": 100.0 * waited / total,
            "utilisation": sum(utilisation) / len(utilisation) if utilisation else None,
            "setup_s": setup_s, "where": where}


def run(device: torch.device, quick: bool) -> list[dict]:
    """The section's rows (see the module docstring)."""
    groups, per_group, n_aug, _, _ = QUICK_SET if quick else FULL_SET
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        make_sample_dataset(data, groups=groups, per_group=per_group, n_aug=n_aug,
                            experts=("a",), progress=False)
        loader = measure(data, device, quick, "loader", WORKERS or min(12, cpus))
        cached = measure(data, device, quick, "cached", WORKERS or min(4, cpus))
    what = ("tiny backbone, batch 4, 64^2 crops, 9^3 LUTs" if quick else
            "ResNet-18, batch 16, 448^2 crops, GLC, 5 LUTs of 33^3")
    amp = " + bf16 backbone" if device.type == "cuda" else ""
    rows = [
        _row("train photos/s, loader (today)", loader["photos_per_s"], "photos/s",
             note=what),
        _row(f"train photos/s, cached{amp}", cached["photos_per_s"], "photos/s",
             "loader", cached["photos_per_s"] / loader["photos_per_s"],
             f"{what}; {cached['where']}"),
        _row("waiting for data, loader", loader["wait_share"], "% of time"),
        _row("waiting for data, cached", cached["wait_share"], "% of time",
             "loader", None),
        _row("cache build (decode once)", cached["setup_s"], "s",
             note="decode + copy of the whole set; loader setup "
                  f"{loader['setup_s']:.2f} s"),
    ]
    for name, result in (("loader", loader), ("cached", cached)):
        value = result["utilisation"]
        rows.append(_row(f"GPU utilisation, {name}", value, "%", note="" if value is not None
                         else "not measurable here (needs CUDA and pynvml)"))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run this section alone and print its rows."""
    global WORKERS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, help="loader workers for both pipelines")
    args = parser.parse_args(argv)
    WORKERS = args.workers
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"CPUs {os.cpu_count()}", file=sys.stderr)
    for found in run(device, args.quick):
        value = "-" if found["value"] is None else f"{found['value']:.3g}"
        ratio = "" if found["ratio"] is None else f"  ({found['ratio']:.2f}x {found['baseline']})"
        print(f"{found['name']:<38} {value:>9} {found['unit']}{ratio}  {found['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
