"""The training loop: epochs, validation, logging, checkpoints and resume."""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ppr10k.data import EvaluationImages, TrainingPairs
from ppr10k.data.pairs import index_training_data, is_pairs_spec, parse_pairs_spec
from ppr10k.evaluate.metrics import psnr
from ppr10k.io import atomic_write
from ppr10k.io.guard import (
    LOCK_NAME,
    NoSpaceError,
    RunLock,
    check_output_folder,
    is_no_space,
    remove_stale_temps,
)
from ppr10k.models import create_model, resolve_device, save_model
from ppr10k.train.config import TrainConfig
from ppr10k.train.losses import human_region_mse, overlap_consistency

STATE_NAME = "train_state.pt"
LOG_NAME = "log.jsonl"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainResult:
    """What a finished (or interrupted) run left behind."""

    run_dir: Path
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_psnr: float = float("-inf")

    @property
    def best_model(self) -> Path:
        return self.run_dir / "best"

    @property
    def last_model(self) -> Path:
        return self.run_dir / "last"


def training_step(model: torch.nn.Module, batch: dict[str, torch.Tensor], config: TrainConfig,
                  device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one batch (spec §4) and its parts, for logging.

    With GLC pairs (``source2`` in the batch) both crops are predicted in one pass; the
    (HRP-weighted) MSE covers both crops, each against its own target and mask crop, and
    ``glc_weight`` times the MSE between the two predictions on their overlap is added,
    and the model family's regularisers (:meth:`TrainConfig.regularisation` weights).
    """
    source = batch["source"].to(device)
    target = batch["target"].to(device)
    mask = batch["mask"].to(device) if config.hrp else None
    human_weight = config.hrp_weight if config.hrp else 1.0
    if "source2" in batch:
        source = torch.cat([source, batch["source2"].to(device)])
        target = torch.cat([target, batch["target2"].to(device)])
        if mask is not None:
            mask = torch.cat([mask, batch["mask2"].to(device)])
    prediction, params = model(source)
    mse = human_region_mse(prediction, target, mask, human_weight)
    loss = mse + model.regularisation(params, **config.regularisation())
    parts = {"mse": mse.item()}
    if "source2" in batch:
        n = batch["source"].shape[0]
        glc = overlap_consistency(prediction[:n], prediction[n:], batch["overlap1"],
                                  batch["overlap2"])
        loss = loss + config.glc_weight * glc
        parts["glc"] = glc.item()
    return loss, parts


@torch.no_grad()
def validation_psnr(model: torch.nn.Module, loader: DataLoader, device: torch.device,
                    progress: bool = True) -> float:
    """Mean PSNR (dB) over the loader, prediction and target rounded to 8 bits (spec §4)."""
    model.eval()
    values = []
    for item in tqdm(loader, desc="  validate", unit="img", leave=False, disable=not progress):
        prediction, _ = model(item["source"].to(device))
        pred8 = torch.round(prediction.clamp(0, 1) * 255).cpu().numpy()
        target8 = torch.round(item["target"] * 255).numpy()
        values.append(psnr(pred8, target8))
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("inf")


def _write_log(run_dir: Path, history: list[dict]) -> None:
    with atomic_write(run_dir / LOG_NAME) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in history))


def _train_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 epoch: int, result: TrainResult) -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "best_epoch": result.best_epoch if result.best_epoch is not None else -1,
        "best_psnr": result.best_psnr,
        "history": json.dumps(result.history),
        "torch_rng": torch.get_rng_state(),
    }


def _save_checkpoint(run_dir: Path, name: str, model: torch.nn.Module, extra: dict,
                     state: dict | None = None) -> None:
    """Write ``RUN/name/`` (model, and ``train_state.pt`` when given) all or nothing.

    Every file is first written complete into a hidden staging folder beside it
    (``.name.XXXXXXXX.tmp``), then renamed into place: a full disk or a crash while writing
    leaves the previous checkpoint whole (renames need no space).
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=run_dir))
    try:
        save_model(model, staging, extra=extra)
        if state is not None:
            with atomic_write(staging / STATE_NAME) as tmp:
                torch.save(state, tmp)
        final = run_dir / name
        final.mkdir(exist_ok=True)
        for file in sorted(staging.iterdir(), key=lambda p: p.name == STATE_NAME):
            os.replace(file, final / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


#: Files that make a folder a training run's.
RUN_FILES = ("config.json", LOG_NAME, "last", "best")


_STATE_KEYS = ("model", "optimizer", "epoch", "best_epoch", "best_psnr", "history",
               "torch_rng")


def load_state(path: Path) -> dict:
    """Read and check ``train_state.pt`` (weights-only); ``history`` comes back parsed.

    Raises:
        ValueError: naming the file, when it is empty, not a PyTorch file, or lacks a key.
    """
    def damaged(reason: str) -> ValueError:
        return ValueError(f"{path}: damaged training state ({reason}); resume cannot "
                          "continue from it: start a new run, or train from last/ again")

    if path.stat().st_size == 0:
        raise damaged("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - pickle, zip and torch errors alike
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise damaged(f"{type(error).__name__}: {first[:120]}") from None
    if not isinstance(state, dict):
        raise damaged(f"holds a {type(state).__name__}, not a dict")
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing:
        raise damaged(f"missing {', '.join(missing)}")
    try:
        state["history"] = json.loads(state["history"])
        int(state["epoch"]), int(state["best_epoch"]), float(state["best_psnr"])
        if not isinstance(state["torch_rng"], torch.Tensor):
            raise TypeError("torch_rng is not a tensor")
    except (TypeError, ValueError) as error:
        raise damaged(str(error)) from None
    return state


def _parameter_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict]:
    """The family's parameter groups with their learning rates: ``lr`` for the LUT tables,
    ``backbone_lr`` (default ``lr``) for the predictor, each times the family's multiplier."""
    backbone_lr = config.backbone_lr if config.backbone_lr is not None else config.lr
    return [{"params": params, "lr": (config.lr if name == "luts" else backbone_lr) * scale}
            for name, params, scale in model.parameter_groups() if params]


def train(config: TrainConfig, resume: bool = False, progress: bool = True,
          on_epoch_end: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Train a model of any registered family as configured (spec §4).

    Each epoch trains on the ``train`` split, validates on ``val`` and writes
    ``RUN/last/`` (model + ``train_state.pt``) and, when validation PSNR improves,
    ``RUN/best/``; ``RUN/log.jsonl`` holds one JSON line per finished epoch.

    Args:
        config: the run's configuration (``config.out`` is the run folder).
        resume: continue from ``RUN/last/`` (a run folder with a checkpoint is refused
            without it, so a finished run is never overwritten by accident).
        progress: show progress bars and per-epoch log lines on stderr.
        on_epoch_end: called with ``(epoch, log_row)`` after each saved epoch.

    The run folder is locked (:class:`~ppr10k.io.guard.RunLock`) for the whole run, and
    stale temp files of killed runs in it are removed when it starts. Each epoch's
    checkpoint is written complete before it replaces the previous one.

    Raises:
        ValueError: the run folder is, lies inside or holds the training data; or it holds
            a run and ``resume`` is off.
        FileExistsError: another process trains into the folder, or it holds another
            run's files (``config.json``, ``log.jsonl``) and ``resume`` is off.
        NoSpaceError: the disk filled up; ``RUN/last/`` still holds the previous epoch.
    """
    run_dir = Path(config.out)
    if config.data:
        check_output_folder(run_dir, data_folders(config.data), what="the training data")
    _check_run_folder(run_dir, resume)  # before a lock file goes into another run's folder
    created = not run_dir.exists()
    lock = RunLock(run_dir, "--out").acquire()  # one writer per run folder
    try:
        return _train_locked(config, resume, progress, on_epoch_end)
    except BaseException:
        lock.release()
        if created and {p.name for p in run_dir.iterdir()} <= {LOCK_NAME}:
            shutil.rmtree(run_dir, ignore_errors=True)  # refused before writing anything
        raise
    finally:
        lock.release()


def _check_run_folder(run_dir: Path, resume: bool) -> None:
    """Refuse to start over another run's files; refuse to resume nothing."""
    state_path = run_dir / "last" / STATE_NAME
    if state_path.exists() and not resume:
        raise ValueError(f"{run_dir} already holds a training run; pass --resume to continue "
                         "it or choose another --out")
    if resume and not state_path.exists():
        raise FileNotFoundError(f"nothing to resume: {state_path} does not exist")
    others = [name for name in RUN_FILES if (run_dir / name).exists()]
    if others and not resume:
        raise FileExistsError(f"{run_dir} holds another run's files ({', '.join(others)}); "
                              "choose another --out (or remove them)")


def data_folders(data: str | os.PathLike) -> list[Path]:
    """The folders a ``--data`` value reads: a PPR10K root, or a pairs spec's folders."""
    if is_pairs_spec(data):
        spec = parse_pairs_spec(str(data))
        return [f for f in (spec.originals, spec.edited, spec.masks) if f is not None]
    return [Path(data)]


def _train_locked(config: TrainConfig, resume: bool, progress: bool,
                  on_epoch_end: Callable[[int, dict], None] | None) -> TrainResult:
    """:func:`train` while holding the run folder's lock."""
    started_at = time.time()
    run_dir = Path(config.out)
    state_path = run_dir / "last" / STATE_NAME
    _check_run_folder(run_dir, resume)  # again: the folder may have changed before the lock
    remove_stale_temps(run_dir, started_at, subfolders=("last", "best"))
    state = load_state(state_path) if resume else None
    device = resolve_device(config.device)
    seed_everything(config.seed)

    train_samples, problems = index_training_data(config.data, "train", config.expert,
                                                  config.hrp, seed=config.seed)
    val_samples, val_problems = index_training_data(config.data, "val", config.expert, False,
                                                    seed=config.seed)
    for problem in (problems + val_problems)[:10]:
        print(f"warning: {problem}", file=sys.stderr)
    if len(problems + val_problems) > 10:
        print(f"warning: ... {len(problems + val_problems) - 10} more problems "
              "(see `ppr10k data check`)", file=sys.stderr)
    if not train_samples:
        raise ValueError(f"no usable training pairs under {config.data}")

    model = create_model(config.model, backbone_weights=config.backbone_weights).to(device)
    if progress:
        origin = model.backbone_origin
        m = config.model
        curves = f", 1D LUTs of {m.curve_dim}" if m.curve_dim else ""
        pairs = is_pairs_spec(config.data)
        masked = any(sample.mask is not None for sample in train_samples)
        hrp = "on" if config.hrp and masked else ("off (no masks)" if config.hrp else "off")
        target = "the edited photos" if pairs else f"expert {config.expert}"
        print(f"training {m.family} on {device}: {len(train_samples)} training sources, "
              f"{len(val_samples)} validation images, target {target}; "
              f"{m.backbone} backbone ({origin} start), {m.n_luts} LUTs "
              f"of {m.lut_dim}^3{curves}; HRP {hrp}, "
              f"GLC {'on' if config.glc else 'off'}", file=sys.stderr)
    optimizer = torch.optim.Adam(_parameter_groups(model, config), lr=config.lr,
                                 betas=config.betas)
    result = TrainResult(run_dir)
    start_epoch = 1
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ValueError(f"{state_path}: the training state does not fit this run's "
                             f"model ({first[:200]}); was config.json changed?") from None
        torch.set_rng_state(state["torch_rng"].cpu())
        start_epoch = int(state["epoch"]) + 1
        result.history = state["history"]
        result.best_psnr = float(state["best_psnr"])
        result.best_epoch = int(state["best_epoch"]) if state["best_epoch"] >= 0 else None
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / "config.json")

    train_loader = DataLoader(
        TrainingPairs(train_samples, config.crop_size, config.glc, config.glc_crop),
        batch_size=config.batch_size, shuffle=True, drop_last=False,
        num_workers=config.num_workers, persistent_workers=config.num_workers > 0)
    val_loader = DataLoader(EvaluationImages(val_samples), batch_size=1,
                            num_workers=min(config.num_workers, 1))
    steps = len(train_loader)
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)

    saved = start_epoch - 1  # the epoch RUN/last/ holds
    for epoch in range(start_epoch, config.epochs + 1):
        model.train()
        started = time.perf_counter()
        totals: dict[str, float] = {}
        bar = tqdm(total=steps, desc=f"epoch {epoch}/{config.epochs}", unit="batch",
                   leave=False, disable=not progress)
        for step, batch in enumerate(train_loader):
            if step >= steps:
                break
            loss, parts = training_step(model, batch, config, device)
            if not bool(torch.isfinite(loss)):
                bar.close()
                kept = (f"{run_dir / 'last'} holds epoch {epoch - 1}" if epoch > 1
                        else "no epoch was saved")
                raise ValueError(
                    f"training diverged: the loss is {loss.item()} at epoch {epoch}, step "
                    f"{step + 1}; nothing of this epoch was saved ({kept}); lower --lr (now "
                    f"{config.lr:g}) and start again, or --resume with a lower --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for key, value in {"loss": loss.item(), **parts}.items():
                totals[key] = totals.get(key, 0.0) + value
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.close()
        row = {"epoch": epoch, **{k: v / max(steps, 1) for k, v in totals.items()}}
        row["val_psnr"] = (validation_psnr(model, val_loader, device, progress)
                           if val_samples else None)
        row["seconds"] = round(time.perf_counter() - started, 3)
        improved = row["val_psnr"] is not None and row["val_psnr"] > result.best_psnr
        if improved or (result.best_epoch is None and row["val_psnr"] is None):
            result.best_epoch = epoch
            result.best_psnr = row["val_psnr"] if row["val_psnr"] is not None else float("-inf")
        row["best_epoch"] = result.best_epoch
        result.history.append(row)
        extra = {"train": config.to_dict(), "epoch": epoch, "val_psnr": row["val_psnr"]}
        try:
            if result.best_epoch == epoch:
                _save_checkpoint(run_dir, "best", model, extra)
            _save_checkpoint(run_dir, "last", model, extra,
                             _train_state(model, optimizer, epoch, result))
            saved = epoch
            _write_log(run_dir, result.history)
        except OSError as error:
            if not is_no_space(error):
                raise
            kept = (f"{run_dir / 'last'} holds epoch {saved}; free some space, then "
                    "continue with --resume" if saved else "no checkpoint was kept")
            raise NoSpaceError(f"disk full while saving epoch {epoch} to {run_dir}: "
                               f"{kept}") from None
        if progress:
            val = f"{row['val_psnr']:.2f} dB" if row["val_psnr"] is not None else "n/a"
            print(f"epoch {epoch}/{config.epochs}  loss {row.get('loss', 0):.5f}  "
                  f"val PSNR {val}  (best epoch {result.best_epoch})  {row['seconds']:.1f}s",
                  file=sys.stderr)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    return result
