"""End-to-end `ppr10k retouch`: 4K JPEG->JPEG seconds per photo, and 8K 16-bit peak memory.

* 4K: ``--photos`` 3840x2160 JPEGs (a real portrait upscaled) retouched to JPEG with a
  ResNet-18 model (random weights: speed does not depend on them), after one warm-up
  photo; reported as seconds per photo and photos/s, with ``--workers`` 1 and 2. The
  baseline in the same run is the bare read + write of the same JPEGs (no retouching).
* 8K: one 7680x4320 16-bit TIFF retouched to a 16-bit TIFF in a child process measured
  with ``/usr/bin/time -v`` (maximum resident set size), next to the peak of a child that
  only imports the packages and loads the model (the fixed cost).

* Engines (``--engine-photos`` 100 3840x2160 JPEGs, ``--quick``: 12 at 1920x1080): the
  local engine with 1 and 2 workers against the Ray engine on a local Ray of 1 and 2 CPUs
  (``--engine ray``), each as seconds per photo and as a ratio to the local engine with as
  many workers in the same run; Ray's start-up (``ray.init`` to a connected cluster) and
  shut-down are reported apart and are not in the per-photo figures. Needs the ``ray``
  extra (skipped without it).

* M^GLC (optional, ``--glc-data ROOT --glc-model MODEL``): the validation sources of a
  PPR10K-layout root (e.g. ``ppr10k data sample``) retouched per photo and with
  ``--group-consistent`` (strength 0.5 and 1), each scored with the evaluate helpers:
  M^GLC of the results and PSNR against expert a.

Usage:
    python benchmarks/bench_retouch.py [--photos 6] [--skip-8k] [--skip-engines]
        [--engine-photos 100] [--quick]
        [--glc-data ROOT --glc-model MODEL]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ppr10k.io import read_photo, write_photo
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model
from ppr10k.retouch import retouch

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "portraits" / "p3m_p_07141906.jpg"


def source_image(width: int, height: int) -> np.ndarray:
    if PHOTO.is_file():
        with Image.open(PHOTO) as img:
            return np.asarray(img.convert("RGB").resize((width, height),
                                                        Image.Resampling.BICUBIC))
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)],
                    axis=-1).astype(np.uint8)


def make_model(folder: Path) -> Path:
    import torch

    model = AdaptiveLUT(ModelConfig(backbone="resnet18", lut_dim=33))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.luts[1:] = 0.05 * torch.randn(model.luts[1:].shape, generator=gen)
        model.head.weight.normal_(0.0, 0.01, generator=gen)
    return save_model(model, folder / "model")


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(max RSS in MB, wall seconds) of a child process, via /usr/bin/time -v."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True,
                            check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return int(match.group(1)) / 1024, seconds


def bench_4k(work: Path, model_dir: Path, photos: int) -> None:
    src = work / "jpeg4k"
    src.mkdir()
    base = source_image(3840, 2160)
    for i in range(photos + 1):
        Image.fromarray(np.roll(base, 37 * i, axis=1)).save(src / f"p{i}.jpg", quality=95)
    files = sorted(src.iterdir())
    warm, timed = files[0], files[1:]
    retouch([warm], model_dir, work / "warm", progress=False, device="cpu")

    start = time.perf_counter()
    for path in timed:
        photo = read_photo(path)
        write_photo(work / "copy.jpg", photo.pixels, photo.metadata)
    io_only = (time.perf_counter() - start) / len(timed)
    print(f"4K JPEG->JPEG ({len(timed)} photos, 3840x2160, ResNet-18, 33^3 LUTs)")
    print(f"  read + write only (baseline)      {io_only:6.3f} s/photo")
    for workers in (1, 2):
        out = work / f"out{workers}"
        start = time.perf_counter()
        report = retouch(timed, model_dir, out, progress=False, device="cpu", workers=workers)
        seconds = (time.perf_counter() - start) / len(timed)
        assert report.exit_code == 0, report.summary()
        print(f"  retouch --workers {workers}               {seconds:6.3f} s/photo "
              f"({1 / seconds:.2f} photos/s, {seconds / io_only:.2f}x read+write)")


def bench_engines(work: Path, model_dir: Path, photos: int, size: tuple[int, int]) -> None:
    """Local engine (1, 2 workers) vs Ray engine (local Ray of 1, 2 CPUs) on the same JPEGs."""
    try:
        from ppr10k.retouch.ray_engine import RayRunner, ray_session
    except ImportError:
        print("engines: skipped (no Ray: pip install -e '.[ray]')")
        return
    from ppr10k.retouch import Retoucher, RunOptions

    width, height = size
    src = work / "engines"
    src.mkdir()
    base = source_image(width, height)
    for i in range(photos):
        Image.fromarray(np.roll(base, 37 * i, axis=1)).save(src / f"p{i:03d}.jpg", quality=95)
    print(f"engines: {photos} JPEG->JPEG, {width}x{height}, ResNet-18, 33^3 LUTs "
          "(wall time of the whole run / photos)")

    def engine(workers: int) -> Retoucher:
        return Retoucher(model_dir, run=RunOptions(workers=workers, device="cpu",
                                                   progress=False))

    engine(1).run([src / "p000.jpg"], work / "warm-engines")  # numba compile, caches
    local: dict[int, float] = {}
    for workers in (1, 2):
        start = time.perf_counter()
        report = engine(workers).run([src], work / f"local{workers}")
        local[workers] = (time.perf_counter() - start) / photos
        assert report.exit_code == 0, report.summary()
        print(f"  local --workers {workers}                {local[workers]:6.3f} s/photo "
              f"({1 / local[workers]:.2f} photos/s)")
    for cpus in (1, 2):
        start = time.perf_counter()
        with ray_session(None, num_cpus=cpus):
            started = time.perf_counter() - start
            t0 = time.perf_counter()
            report = RayRunner().run(engine(1), [src], work / f"ray{cpus}")
            seconds = (time.perf_counter() - t0) / photos
        total = time.perf_counter() - start
        assert report.exit_code == 0, report.summary()
        differ = [path.name for path in sorted((work / "local1").iterdir())
                  if path.read_bytes() != (work / f"ray{cpus}" / path.name).read_bytes()]
        print(f"  ray, local Ray of {cpus} CPU(s)         {seconds:6.3f} s/photo "
              f"({1 / seconds:.2f} photos/s, {seconds / local[cpus]:.2f}x local --workers "
              f"{cpus}); start-up {started:.1f} s, shut-down {total - started - seconds * photos:.1f} s; "
              f"outputs {'identical to the local engine' if not differ else f'{len(differ)} differ from the local engine'}")


def bench_8k(work: Path, model_dir: Path) -> None:
    src = work / "tiff8k"
    src.mkdir()
    image = source_image(7680, 4320).astype(np.uint16) * 257
    write_photo(src / "big.tif", image, None)
    del image
    size_mb = (src / "big.tif").stat().st_size / 2**20
    code = ("import ppr10k.retouch, ppr10k.io, ppr10k.lut.apply; "
            f"from ppr10k.models import load_model; load_model({str(model_dir)!r})")
    baseline = [sys.executable, "-c", code]
    run = [sys.executable, "-m", "ppr10k.cli.main", "retouch", str(src / "big.tif"),
           "--model", str(model_dir), "--out", str(work / "out8k"), "--quiet",
           "--device", "cpu"]
    base_mb, _ = peak_rss_mb(baseline)
    peak_mb, seconds = peak_rss_mb(run)
    out = tifffile_dtype(work / "out8k" / "big.tif")
    print(f"8K 16-bit TIFF -> 16-bit TIFF (7680x4320, {size_mb:.0f} MB file, output {out})")
    print(f"  peak RSS (/usr/bin/time -v)       {peak_mb:7.0f} MB  ({seconds:.1f} s wall, "
          f"incl. start-up)")
    print(f"  imports + model only (baseline)   {base_mb:7.0f} MB  "
          f"-> {peak_mb - base_mb:.0f} MB for the photo itself")


def tifffile_dtype(path: Path) -> str:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return str(tif.pages[0].dtype)


def bench_glc(root: Path, model: Path, work: Path) -> None:
    from ppr10k.evaluate.metrics import group_level_consistency, mean_ab, psnr

    source = root / "val" / "source"

    def score(folder: Path) -> tuple[float, float]:
        groups: dict[str, list[np.ndarray]] = {}
        values = []
        for path in sorted(folder.iterdir()):
            pixels = read_photo(path).pixels
            if pixels.dtype == np.uint16:
                pixels = np.rint(pixels / 257.0).astype(np.uint8)
            groups.setdefault(path.stem.split("_")[0], []).append(mean_ab(pixels))
            target = read_photo(root / "val" / "target_a" / f"{path.stem}.tif").pixels
            values.append(psnr(pixels, target))
        glc = group_level_consistency({k: np.array(v) for k, v in groups.items()})
        return glc, float(np.mean(values))

    print(f"M^GLC on {source} (lower = more consistent), PSNR vs expert a")
    glc, value = score(source)
    print(f"  sources, not retouched            M^GLC {glc:.4f}  PSNR {value:.2f} dB")
    for name, options in [("per photo", {}),
                          ("--group-consistent, strength 0.5",
                           {"group_consistent": True, "group_strength": 0.5}),
                          ("--group-consistent, strength 1", {"group_consistent": True})]:
        out = work / ("glc_" + str(len(name)))
        retouch([source], model, out, fmt="png", bits=8, group_by="prefix", progress=False,
                device="cpu", **options)
        glc, value = score(out)
        print(f"  {name:33s} M^GLC {glc:.4f}  PSNR {value:.2f} dB")
    glc, _ = score(root / "val" / "target_a")
    print(f"  expert a targets                  M^GLC {glc:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--skip-8k", action="store_true")
    parser.add_argument("--skip-4k", action="store_true")
    parser.add_argument("--skip-engines", action="store_true")
    parser.add_argument("--engine-photos", type=int, default=100)
    parser.add_argument("--quick", action="store_true",
                        help="engines: 12 photos at 1920x1080")
    parser.add_argument("--glc-data", type=Path, help="PPR10K-layout root (val/source)")
    parser.add_argument("--glc-model", type=Path, help="trained model for the M^GLC run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ppr10k-bench-"))
    try:
        model_dir = make_model(work)
        if not args.skip_4k:
            bench_4k(work, model_dir, args.photos)
        if not args.skip_8k:
            bench_8k(work, model_dir)
        if not args.skip_engines:
            import torch

            torch.set_num_threads(1)  # as `ppr10k retouch` runs (set for this script only)
            photos, size = ((12, (1920, 1080)) if args.quick
                            else (args.engine_photos, (3840, 2160)))
            bench_engines(work, model_dir, photos, size)
        if args.glc_data and args.glc_model:
            bench_glc(args.glc_data, args.glc_model, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
