"""`ppr10k retouch`: retouch photos and raws at full resolution with a trained model."""

from __future__ import annotations

import argparse
import math
import sys

from ppr10k.cli.main import UsageError, check_device, check_output_folder, number_type
from ppr10k.io.photo import DEFAULT_MAX_PIXELS
from ppr10k.models.device import device_type


def _pixels(text: str) -> int:
    """``100M``, ``250e6`` or ``100000000`` -> pixels; ``0`` or ``none`` -> no limit."""
    text = text.strip().lower()
    if text in ("0", "none"):
        return 0
    scale = 1_000_000 if text.endswith(("m", "mp")) else 1
    try:
        value = float(text.rstrip("mp")) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a pixel count: {text!r} (e.g. 100M)") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a pixel count: {text!r} (e.g. 100M; 0 = no "
                                         "limit)")
    return int(value)


_strength = number_type(float, low=0.0, high=1.0)


def register(subparsers) -> None:
    """Add the `retouch` subcommand."""
    p = subparsers.add_parser(
        "retouch", help="retouch photos/raws at full resolution (group-consistent option)",
        description="Retouch JPEG, PNG, 8/16-bit TIFF and camera raw files with a model "
                    "of any family: its parameters are predicted on a small copy (the size "
                    "it was trained on), its curves and 3D LUT are applied at full "
                    "resolution. EXIF and ICC profiles are kept; outputs "
                    "are written atomically, never overwrite inputs, and never replace existing "
                    "files without --overwrite.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files and/or folders")
    p.add_argument("--model",
                   help="a model folder or .safetensors, a training run (its best/), or a zoo "
                        "name (`ppr10k models`); default: the default zoo model")
    p.add_argument("--out", required=True, help="output folder (not an input folder)")
    p.add_argument("--format", dest="fmt", choices=("jpg", "png", "tif"),
                   help="output format (default: the input's; raws: tif)")
    p.add_argument("--bits", type=int, choices=(8, 16),
                   help="PNG/TIFF depth (default: the input's; raws: 16); JPEG is 8-bit")
    p.add_argument("--recursive", action="store_true", help="search folders recursively")
    p.add_argument("--group-consistent", action="store_true",
                   help="photos of a group share smoothed LUT weights (consistent look)")
    p.add_argument("--group-by", choices=("auto", "prefix", "folder", "time"), default="auto",
                   help="group = PPR10K G_ prefix, folder, or capture times within "
                        "--group-gap (default auto: prefix, else time, else folder)")
    p.add_argument("--group-gap", type=number_type(float, low=0.0), default=300.0,
                   metavar="SECONDS",
                   help="largest gap between shots of one group (default 300 s)")
    p.add_argument("--group-strength", type=_strength, default=1.0, metavar="S",
                   help="0..1: how far weights move to the group mean (default 1: identical)")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true",
                          help="skip photos whose output exists (resume a batch)")
    existing.add_argument("--overwrite", action="store_true",
                          help="replace existing outputs (without this or --skip-existing, "
                               "an existing output stops the run before it starts)")
    p.add_argument("--workers", type=number_type(int, low=1), default=1,
                   help="photos in flight (default 1)")
    p.add_argument("--device", type=device_type, default="auto",
                   help="auto (default: a GPU when there is one), cpu, cuda or cuda:N")
    p.add_argument("--max-pixels", type=_pixels, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse larger images, e.g. 100M (default); 0 = no limit")
    p.add_argument("--quality", type=number_type(int, low=1, high=100), default=95,
                   help="JPEG quality, 1-100 (default 95)")
    p.add_argument("--output-profile", default="srgb", metavar="srgb|input|PATH",
                   help="colour profile of the outputs: srgb (default; inputs in Adobe RGB, "
                        "ProPhoto, P3 ... are converted to the model's sRGB first), input "
                        "(converted back to each input's profile), or an RGB ICC file")
    p.add_argument("--no-colour-management", dest="colour_manage", action="store_false",
                   help="give the model the inputs' numbers as stored, ignoring their colour "
                        "profiles (what the published models' own test code does)")
    p.add_argument("--batch-size", type=number_type(int, low=1), default=None, metavar="N",
                   help="thumbnails per predictor call (default: 1 on the CPU, which keeps "
                        "outputs equal to a photo-by-photo run's; 16 on CUDA)")
    p.add_argument("--apply-backend", choices=("auto", "numba", "torch"), default="auto",
                   help="full-resolution apply kernel (default auto: numba on the CPU, torch "
                        "on CUDA)")
    p.add_argument("--no-gpu-decode", dest="gpu_decode", action="store_false",
                   help="on CUDA, decode JPEGs on the CPU (default: on the GPU when it can)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="where the stages run: local (this machine's threads, default) or ray "
                        "(Ray Data; needs pip install -e '.[ray]')")
    p.add_argument("--address", metavar="auto|HOST:PORT",
                   help="with --engine ray: a running Ray cluster (default: start a local Ray "
                        "on this machine, shut down at the end)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _runner(engine: str, address: str | None):
    """The ``--engine`` runner; a missing Ray or an unreachable ``--address`` is bad usage."""
    from ppr10k.retouch.runners import EngineUsageError, make_runner

    try:
        return make_runner(engine, address)
    except EngineUsageError as error:
        raise UsageError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    import torch

    from ppr10k.models.zoo import DEFAULT_MODEL, resolve_model
    from ppr10k.retouch import GroupOptions, OutputOptions, Retoucher, RunOptions

    # The predictor sees a small input: one torch thread runs it in ~50 ms and leaves the
    # cores to the LUT kernel and the other workers (several torch threads were found to
    # stall, up to 1.4 s per call, on a loaded 2-core machine). Set here, for this process
    # only: the library's retouch() leaves torch's settings alone.
    torch.set_num_threads(1)

    check_output_folder(args.out)
    check_device(args.device)
    runner = _runner(args.engine, args.address)  # before anything is loaded or written
    if args.bits == 16 and args.fmt == "jpg":
        raise UsageError("--bits 16 --format jpg: JPEG is 8-bit; use --format png or tif for "
                         "16-bit output")
    if args.model is None:
        print(f"using the default model {DEFAULT_MODEL} (see `ppr10k models`; choose another "
              "with --model)", file=sys.stderr)
    from ppr10k.io.photo import PhotoError
    from ppr10k.retouch.pipeline import output_profile_of

    try:
        output_profile = output_profile_of(args.output_profile)
    except PhotoError as error:
        raise UsageError(f"--output-profile {error}") from None
    model = resolve_model(args.model or DEFAULT_MODEL)
    existing = "skip" if args.skip_existing else "overwrite" if args.overwrite else "refuse"
    engine = Retoucher(
        model,
        OutputOptions(fmt=args.fmt, bits=args.bits, quality=args.quality,
                      profile=output_profile, existing=existing),
        GroupOptions(consistent=args.group_consistent, by=args.group_by, gap=args.group_gap,
                     strength=args.group_strength),
        RunOptions(workers=args.workers, device=args.device, recursive=args.recursive,
                   max_pixels=args.max_pixels or None, colour_manage=args.colour_manage,
                   progress=not args.quiet, batch_size=args.batch_size,
                   backend=args.apply_backend, gpu_decode=args.gpu_decode))
    from ppr10k.retouch.runners import EngineUsageError

    try:
        report = runner.run(engine, args.inputs, args.out)
    except EngineUsageError as error:  # a cluster that answers but is not Ray's
        raise UsageError(str(error)) from None
    print(report.summary(), file=sys.stderr if report.exit_code else sys.stdout)
    return report.exit_code
