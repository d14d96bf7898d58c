"""`ppr10k train`, `ppr10k predict` and `ppr10k import-official`."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ppr10k.cli.main import UsageError, check_device, check_output_folder, number_type
from ppr10k.models.device import device_type

if TYPE_CHECKING:
    from ppr10k.train.config import TrainConfig


# CLI option -> TrainConfig key (model keys are nested under "model")
_TRAIN_OPTIONS = ("data", "out", "expert", "hrp", "glc", "epochs", "batch_size", "lr",
                  "backbone_lr", "seed",
                  "device", "num_workers", "max_steps_per_epoch", "backbone_weights",
                  "lambda_sparse", "lambda_smooth", "lambda_mono", "pipeline",
                  "cache_memory_gb", "cache_on_device", "amp")
_MODEL_OPTIONS = ("family", "backbone", "n_luts", "lut_dim", "curve_dim", "width", "init")


_positive = number_type(int, low=1)
_rate = number_type(float, low=0.0, low_open=True)  # a learning rate: finite, > 0
_weight = number_type(float, low=0.0)  # a loss weight: finite, >= 0


def register(subparsers) -> None:
    """Add ``train``, ``predict`` and ``import-official``."""
    from ppr10k.models.backbones import BACKBONES
    from ppr10k.models.registry import FAMILIES
    p = subparsers.add_parser(
        "train", help="train an image-adaptive LUT model (HRP/GLC losses)",
        description="Train a model of any family on a PPR10K root. Defaults follow the "
                    "papers; a --config file (JSON or TOML, keys as in RUN/config.json) is "
                    "overridden by options.")
    p.add_argument("--family", choices=sorted(FAMILIES),
                   help="model family (default lut3d): " + "; ".join(
                       f"{f.name}: {f.summary}" for f in FAMILIES.values()))
    p.add_argument("--data", help="PPR10K root holding train/ and val/, or "
                   "pairs:ORIGINALS,EDITED[,MASKS]: a photographer's originals and edited "
                   "exports matched by file name (a validation share of shoots is held out)")
    p.add_argument("--expert", choices=("a", "b", "c"), help="target expert (default a)")
    p.add_argument("--out", help="run folder (default runs/ppr10k)")
    p.add_argument("--hrp", action=argparse.BooleanOptionalAction, default=None,
                   help="human-region priority loss (default on)")
    p.add_argument("--glc", action=argparse.BooleanOptionalAction, default=None,
                   help="group-level consistency loss (default on)")
    p.add_argument("--epochs", type=_positive, help="default 200")
    p.add_argument("--batch-size", dest="batch_size", type=_positive, help="default 16")
    p.add_argument("--lr", type=_rate, help="Adam learning rate (default 1e-4)")
    p.add_argument("--backbone-lr", dest="backbone_lr", type=_rate,
                   help="learning rate of the weight predictor (default: --lr)")
    p.add_argument("--lambda-sparse", dest="lambda_sparse", type=_weight,
                   help="weight of mean(w^2) (default: the family's; lut3d: --lambda-smooth)")
    p.add_argument("--lambda-smooth", dest="lambda_smooth", type=_weight,
                   help="weight of the LUTs' TV (default: the family's; lut3d 1e-4)")
    p.add_argument("--lambda-mono", dest="lambda_mono", type=_weight,
                   help="weight of the LUTs' monotonicity (default: the family's; lut3d 10)")
    p.add_argument("--backbone", choices=sorted(BACKBONES), help="default resnet18")
    p.add_argument("--width", type=_positive,
                   help="channels of the tiny backbone's first block (default 16; seplut 8)")
    p.add_argument("--curve-dim", dest="curve_dim",
                   type=number_type(int, low=2, high=4097),
                   help="seplut: knots of the per-channel 1D LUTs (default 17)")
    p.add_argument("--backbone-weights", dest="backbone_weights",
                   help="ResNet-18 ImageNet weights: auto (torchvision cache if present), "
                        "imagenet (torchvision download), none, or a local .pth path")
    p.add_argument("--n-luts", dest="n_luts", type=_positive, help="basis LUTs (default 5)")
    p.add_argument("--lut-dim", dest="lut_dim", type=number_type(int, low=2, high=129),
                   help="3D LUT lattice size (default: lut3d/adaint 33, seplut 17)")
    p.add_argument("--init", choices=("identity", "reference"),
                   help="weight-predictor start: identity (default) or the reference's random")
    p.add_argument("--max-steps-per-epoch", dest="max_steps_per_epoch", type=_positive,
                   help="cut each epoch short (quick experiments)")
    p.add_argument("--num-workers", dest="num_workers", type=number_type(int, low=0),
                   help="data loader workers")
    p.add_argument("--config", help="JSON or TOML config file")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", type=device_type,
                   help="auto (default), cpu, cuda or cuda:N; under torchrun each process "
                        "takes cuda:LOCAL_RANK")
    p.add_argument("--pipeline", choices=("auto", "loader", "cached"),
                   help="input pipeline: loader (decode every epoch, augment on the CPU), "
                        "cached (decode once into a uint16 cache, augment on the device); "
                        "auto (default): cached on CUDA")
    p.add_argument("--cache-memory-gb", dest="cache_memory_gb", type=_weight,
                   help="cached pipeline: sets up to this size (GiB, default 8) stay in "
                        "memory, bigger ones go to a memory-mapped file in the run folder")
    p.add_argument("--cache-on-device", dest="cache_on_device", choices=("auto", "yes", "no"),
                   help="cached pipeline: copy the whole cache to the GPU and cut crops there "
                        "(auto, the default: when it takes at most half the free GPU memory)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="CUDA: backbone in bfloat16 autocast, channels_last (default on)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_train)

    p = subparsers.add_parser("predict", help="write 8-bit G_I.png predictions for a split")
    p.add_argument("--data", required=True, help="PPR10K root")
    p.add_argument("--split", choices=("train", "val"), default="val")
    p.add_argument("--model", required=True,
                   help="ppr10k model folder, a training run (its best/), or a zoo name")
    p.add_argument("--out", required=True, help="output folder (outside the dataset)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace predictions already in --out (refused otherwise)")
    p.add_argument("--device", type=device_type, default="auto",
                   help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run_predict)

    p = subparsers.add_parser(
        "import-official", help="convert published 3D-LUT, AdaInt or SepLUT checkpoints",
        description="Convert published checkpoints into a ppr10k model folder: the 3D-LUT "
                    "(and PPR10K) LUTs + classifier files, or one AdaInt or SepLUT .pth. The "
                    "family is recognised from the keys; files are read with "
                    "torch.load(weights_only=True).")
    p.add_argument("paths", nargs="*", metavar="PATH", help="checkpoint file(s)")
    p.add_argument("--luts", help="3D-LUT basis LUTs file (same as giving it as a PATH)")
    p.add_argument("--classifier", help="3D-LUT classifier file (same as a PATH)")
    p.add_argument("--family", choices=sorted(FAMILIES),
                   help="insist on this family (default: recognised from the keys)")
    p.add_argument("--out", required=True, help="ppr10k model folder to write")
    p.add_argument("--expert", choices=("a", "b", "c"), help="expert the model was trained for")
    p.add_argument("--input-space", dest="input_space", choices=("srgb", "xyz"),
                   default="srgb", help="what the model takes (the FiveK XYZ models: xyz)")
    p.set_defaults(func=run_import_official)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults < ``--config`` file < explicit options."""
    from ppr10k.train.config import TrainConfig, load_config_file

    base = TrainConfig()
    previous = Path(args.out or base.out) / "config.json"
    if getattr(args, "family", None):
        base = base.updated(family=args.family)
    if args.resume and previous.is_file():
        base = base.updated(**load_config_file(previous))
    if args.config:
        base = base.updated(**load_config_file(args.config))
    given = {k: getattr(args, k) for k in _TRAIN_OPTIONS + _MODEL_OPTIONS
             if getattr(args, k, None) is not None}
    return base.updated(**given)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line for the user (no category, no source line)."""
    print(f"ppr10k train: warning: {message}", file=sys.stderr)


def _usage(error: Exception) -> UsageError:
    return UsageError(str(error))


def run_train(args: argparse.Namespace) -> int:
    """One training process, or one of ``torchrun``'s: joins the process group (gloo on
    the CPU, NCCL on CUDA) for the run and leaves it; only rank 0 prints."""
    from ppr10k.train import train
    from ppr10k.train.distributed import RendezvousError, distributed_session, torchrun_env
    from ppr10k.train.loop import PeerError

    check_output_folder(args.out)
    config = config_from_args(args)
    if not config.data:
        raise ValueError("--data ROOT is required (or `data` in the --config file)")
    try:
        env = torchrun_env()
    except RendezvousError as error:
        raise _usage(error) from None
    if env is None:
        check_device(config.device)
    main_rank = env is None or env.rank == 0
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        warnings.simplefilter("always" if main_rank else "ignore")
        warnings.showwarning = _show_warning  # restored when the block ends
        try:
            dist = (stack.enter_context(distributed_session(env, config.device))
                    if env is not None else None)
        except ValueError as error:  # RendezvousError, a device this node lacks
            raise _usage(error) from None
        try:
            result = train(config, resume=args.resume, progress=not args.quiet and main_rank,
                           dist=dist)
        except PeerError:
            return 1  # rank 0 stopped the run and said why
    if main_rank:
        print(f"best epoch {result.best_epoch}: val PSNR {result.best_psnr:.2f} dB; "
              f"model in {result.best_model}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from ppr10k.models.zoo import resolve_model
    from ppr10k.train import predict_split

    check_output_folder(args.out)
    check_device(args.device)
    written = predict_split(args.data, args.split, resolve_model(args.model), args.out,
                            args.device, progress=not args.quiet, overwrite=args.overwrite)
    print(f"wrote {len(written)} predictions to {args.out}")
    return 0


def run_import_official(args: argparse.Namespace) -> int:
    from ppr10k.models import import_official, read_checkpoint_info

    paths = list(args.paths) + [p for p in (args.luts, args.classifier) if p]
    if not paths:
        raise ValueError("give the checkpoint file(s): PATH... (or --luts and --classifier)")
    out = Path(args.out)
    check_output_folder(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--out {out} exists and is not an empty folder; choose a new one")
    path = import_official(paths, out, family=args.family, expert=args.expert,
                           input_space=args.input_space)
    family = read_checkpoint_info(path)["model"]["family"]
    print(f"wrote {path} ({family})", file=sys.stdout)
    return 0
