"""The training loop: epochs, validation, logging, checkpoints and resume."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ppr10k.data import EvaluationImages
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
from ppr10k.train.distributed import Distributed, Local, seed_for
from ppr10k.train.losses import human_region_mse, overlap_consistency
from ppr10k.train.pipeline import PIPELINES, pipeline_name

STATE_NAME = "train_state.pt"
LOG_NAME = "log.jsonl"


class PeerError(ValueError):
    """Rank 0 stopped the run before training (its message); the other ranks stop too."""


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
    loss = mse + _core(model).regularisation(params, **config.regularisation())
    parts = {"mse": mse.detach()}
    if "source2" in batch:
        n = batch["source"].shape[0]
        glc = overlap_consistency(prediction[:n], prediction[n:], batch["overlap1"],
                                  batch["overlap2"])
        loss = loss + config.glc_weight * glc
        parts["glc"] = glc.detach()
    # one device-to-host read for all parts (each read waits for the GPU)
    return loss, dict(zip(parts, torch.stack(list(parts.values())).tolist()))


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
          on_epoch_end: Callable[[int, dict], None] | None = None,
          dist: Local | Distributed | None = None) -> TrainResult:
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
        dist: this process's place in a ``torchrun`` job
            (:func:`ppr10k.train.distributed.distributed_session`); None: one process.
            Only rank 0 locks, writes and reports; every rank trains and resumes.

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
    dist = dist if dist is not None else Local()
    trainer = Trainer(config, resume=resume, progress=progress and dist.is_main,
                      on_epoch_end=on_epoch_end, dist=dist)
    with trainer.run_folder():
        trainer.setup()
        return trainer.fit()


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



def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _core(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


#: Device types whose backbone runs in bfloat16 when ``TrainConfig.amp`` is on.
AMP_DEVICE_TYPES = ("cuda",)


def channels_last_backbone(model: torch.nn.Module, device: torch.device, enabled: bool = True,
                           device_types: tuple[str, ...] = AMP_DEVICE_TYPES) -> torch.nn.Module:
    """The backbone, its weights in channels_last on ``device_types`` (before
    DistributedDataParallel wraps the model, so gradient buckets match their layout)."""
    backbone = _core(model).backbone
    if enabled and device.type in device_types:
        backbone.to(memory_format=torch.channels_last)
    return backbone


@contextlib.contextmanager
def backbone_autocast(model: torch.nn.Module, device: torch.device, enabled: bool = True,
                      device_types: tuple[str, ...] = AMP_DEVICE_TYPES) -> Iterator[None]:
    """On CUDA (``device_types``), run ``model.backbone`` in bfloat16 autocast (its output
    cast back to float32) with channels_last weights for the ``with`` block; on other
    devices nothing changes.

    Only the backbone changes: the weight head, the LUT fusion and interpolation and the
    losses stay float32. The backbone's ``forward`` is wrapped on the instance and restored
    afterwards (state dict keys and checkpoints are unchanged); channels_last stays (it is
    a layout, not a value).
    """
    if not enabled or device.type not in device_types:
        yield
        return
    backbone = channels_last_backbone(model, device, enabled, device_types)
    forward = backbone.forward

    def bf16_forward(*args, **kwargs):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out = forward(*args, **kwargs)
        return out.float()

    backbone.forward = bf16_forward
    try:
        yield
    finally:
        del backbone.forward  # the class's forward again


class Trainer:
    """One training run in parts: :meth:`run_folder` (checks and lock), :meth:`setup`
    (device, data, model, optimizer, resume), :meth:`step`, :meth:`train_epoch`,
    :meth:`validate`, :meth:`checkpoint`, and :meth:`fit` (the epochs).

    Under ``torchrun`` (``dist`` a :class:`~ppr10k.train.distributed.Distributed`) every
    process trains its share of each epoch in DistributedDataParallel; rank 0 alone locks
    the folder, validates (the others wait), writes checkpoints and the log and shows
    progress.
    """

    def __init__(self, config: TrainConfig, resume: bool = False, progress: bool = True,
                 on_epoch_end: Callable[[int, dict], None] | None = None,
                 dist: Local | Distributed | None = None) -> None:
        self.config = config
        self.resume = resume
        self.progress = progress
        self.on_epoch_end = on_epoch_end
        self.dist = dist if dist is not None else Local()
        self.run_dir = Path(config.out)
        self.state_path = self.run_dir / "last" / STATE_NAME
        self.result = TrainResult(self.run_dir)
        self.start_epoch = 1
        self.saved = 0  # the epoch RUN/last/ holds

    # -- the run folder ------------------------------------------------------------------
    @contextlib.contextmanager
    def run_folder(self) -> Iterator[None]:
        """Check the run folder and hold its lock for the block (rank 0; the others learn
        the outcome, so every process stops with the same error)."""
        lock = None
        created = False
        error = None

        def give_up() -> None:
            if lock is not None:
                lock.release()
                if created and {p.name for p in self.run_dir.iterdir()} <= {LOCK_NAME}:
                    shutil.rmtree(self.run_dir, ignore_errors=True)  # nothing written

        if self.dist.is_main:
            try:
                if self.config.data:
                    check_output_folder(self.run_dir, data_folders(self.config.data),
                                        what="the training data")
                _check_run_folder(self.run_dir, self.resume)  # before a lock file goes in
                created = not self.run_dir.exists()
                lock = RunLock(self.run_dir, "--out").acquire()  # one writer per folder
                _check_run_folder(self.run_dir, self.resume)  # again, now locked
                remove_stale_temps(self.run_dir, time.time(),
                                   subfolders=("last", "best"))
            except (ValueError, OSError) as caught:
                error = caught
        shared = self.dist.share(None if error is None else
                                 (type(error).__name__, str(error)))
        if error is not None or shared is not None:
            give_up()
            if error is not None:
                raise error
            raise PeerError(shared[1])
        try:
            yield
        except BaseException:
            give_up()
            raise
        finally:
            if lock is not None:
                lock.release()

    # -- setup ---------------------------------------------------------------------------
    def setup(self) -> None:
        """Device, seeds, the indexed data, model, optimizer, resumed state, pipelines."""
        config, dist = self.config, self.dist
        state = load_state(self.state_path) if self.resume else None
        self.device = dist.device if dist.device is not None else resolve_device(config.device)
        seed_everything(config.seed if dist.world_size == 1
                        else seed_for(config.seed, dist.rank, 0))
        train_samples, val_samples = self._index_data()
        model = create_model(config.model, backbone_weights=config.backbone_weights)
        self.model = model.to(self.device)
        self.pipeline_name = pipeline_name(config.pipeline, self.device)
        if self.progress:
            self._describe(train_samples, val_samples)
        self.optimizer = torch.optim.Adam(_parameter_groups(self.model, config), lr=config.lr,
                                          betas=config.betas)
        if state is not None:
            self._restore(state)
        if dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            config.save(self.run_dir / "config.json")
        channels_last_backbone(self.model, self.device, config.amp)
        self.ddp_model = dist.wrap(self.model)  # after loading: every rank starts alike
        self.pipeline = PIPELINES[self.pipeline_name](
            train_samples, config, self.device, rank=dist.rank, world_size=dist.world_size,
            run_dir=self.run_dir, barrier=dist.barrier, local_rank=dist.local_rank,
            local_world_size=dist.local_world_size, node=dist.node)
        self.val_loader = (DataLoader(EvaluationImages(val_samples), batch_size=1,
                                      num_workers=min(config.num_workers, 1))
                           if val_samples and dist.is_main else None)
        self.steps = len(self.pipeline)
        if config.max_steps_per_epoch:
            self.steps = min(self.steps, config.max_steps_per_epoch)

    def _index_data(self) -> tuple[list, list]:
        config = self.config
        train_samples, problems = index_training_data(config.data, "train", config.expert,
                                                      config.hrp, seed=config.seed)
        val_samples, val_problems = index_training_data(config.data, "val", config.expert,
                                                        False, seed=config.seed)
        problems = problems + val_problems
        if self.progress:
            for problem in problems[:10]:
                print(f"warning: {problem}", file=sys.stderr)
            if len(problems) > 10:
                print(f"warning: ... {len(problems) - 10} more problems "
                      "(see `ppr10k data check`)", file=sys.stderr)
        if not train_samples:
            raise ValueError(f"no usable training pairs under {config.data}")
        return train_samples, val_samples

    def _describe(self, train_samples: list, val_samples: list) -> None:
        config, m = self.config, self.config.model
        curves = f", 1D LUTs of {m.curve_dim}" if m.curve_dim else ""
        pairs = is_pairs_spec(config.data)
        masked = any(sample.mask is not None for sample in train_samples)
        hrp = "on" if config.hrp and masked else ("off (no masks)" if config.hrp else "off")
        target = "the edited photos" if pairs else f"expert {config.expert}"
        where = (f"{self.device}" if self.dist.world_size == 1 else
                 f"{self.dist.world_size} processes ({self.device.type}), batch "
                 f"{config.batch_size} each")
        print(f"training {m.family} on {where}: {len(train_samples)} training sources, "
              f"{len(val_samples)} validation images, target {target}; "
              f"{m.backbone} backbone ({self.model.backbone_origin} start), {m.n_luts} LUTs "
              f"of {m.lut_dim}^3{curves}; HRP {hrp}, "
              f"GLC {'on' if config.glc else 'off'}; {self.pipeline_name} input pipeline",
              file=sys.stderr)

    def _restore(self, state: dict) -> None:
        """Weights, optimizer, RNG and history of ``RUN/last/`` (on every rank)."""
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise ValueError(f"{self.state_path}: the training state does not fit this run's "
                             f"model ({_first_line(error)[:200]}); was config.json "
                             "changed?") from None
        torch.set_rng_state(state["torch_rng"].cpu())
        self.start_epoch = int(state["epoch"]) + 1
        self.saved = self.start_epoch - 1
        self.result.history = state["history"]
        self.result.best_psnr = float(state["best_psnr"])
        self.result.best_epoch = int(state["best_epoch"]) if state["best_epoch"] >= 0 else None

    # -- training ------------------------------------------------------------------------
    def step(self, batch: dict[str, torch.Tensor], epoch: int, index: int) -> dict[str, float]:
        """One optimizer step on ``batch``; returns the loss and its parts (summed over
        processes under torchrun, divided by their number: the global mean).

        Raises:
            ValueError: the loss is not finite (on any process); nothing is saved.
        """
        loss, parts = training_step(self.ddp_model, batch, self.config, self.device)
        values = torch.tensor([loss.item(), *parts.values()], dtype=torch.float64)
        values = self.dist.all_sum(values) / self.dist.world_size
        if not bool(torch.isfinite(values[0])):
            kept = (f"{self.run_dir / 'last'} holds epoch {epoch - 1}" if epoch > 1
                    else "no epoch was saved")
            raise ValueError(
                f"training diverged: the loss is {values[0].item()} at epoch {epoch}, step "
                f"{index + 1}; nothing of this epoch was saved ({kept}); lower --lr (now "
                f"{self.config.lr:g}) and start again, or --resume with a lower --lr")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return dict(zip(["loss", *parts], values.tolist()))

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """The epoch's training steps; returns the mean loss and parts per step."""
        if self.dist.world_size > 1:  # per rank and epoch: resumable, different per rank
            seed_everything(seed_for(self.config.seed, self.dist.rank, epoch))
        self.ddp_model.train()
        totals: dict[str, float] = {}
        bar = tqdm(total=self.steps, desc=f"epoch {epoch}/{self.config.epochs}", unit="batch",
                   leave=False, disable=not self.progress)
        try:
            for index, batch in enumerate(self.pipeline.epoch(epoch)):
                if index >= self.steps:
                    break
                parts = self.step(batch, epoch, index)
                for key, value in parts.items():
                    totals[key] = totals.get(key, 0.0) + value
                bar.update(1)
                bar.set_postfix(loss=f"{parts['loss']:.4f}")
        finally:
            bar.close()
        return {key: value / max(self.steps, 1) for key, value in totals.items()}

    def validate(self) -> float | None:
        """Validation PSNR on rank 0 (None without validation images); the other
        processes wait for it and get its value."""
        value = None
        if self.val_loader is not None:
            value = validation_psnr(self.model, self.val_loader, self.device, self.progress)
        return self.dist.share(value)

    def checkpoint(self, epoch: int, row: dict) -> None:
        """Write ``best/`` (when this epoch is the best), ``last/`` and the log (rank 0).

        Raises:
            NoSpaceError: the disk filled up; ``last/`` still holds the previous epoch.
        """
        if self.dist.is_main:
            extra = {"train": self.config.to_dict(), "epoch": epoch,
                     "val_psnr": row["val_psnr"]}
            try:
                if self.result.best_epoch == epoch:
                    _save_checkpoint(self.run_dir, "best", self.model, extra)
                _save_checkpoint(self.run_dir, "last", self.model, extra,
                                 _train_state(self.model, self.optimizer, epoch, self.result))
                _write_log(self.run_dir, self.result.history)
            except OSError as error:
                if not is_no_space(error):
                    raise
                kept = (f"{self.run_dir / 'last'} holds epoch {self.saved}; free some space, "
                        "then continue with --resume" if self.saved else "no checkpoint was kept")
                raise NoSpaceError(f"disk full while saving epoch {epoch} to "
                                   f"{self.run_dir}: {kept}") from None
        self.saved = epoch

    def fit(self) -> TrainResult:
        """Train from :attr:`start_epoch` to ``config.epochs``; the pipeline is closed at
        the end (its cache file removed)."""
        try:
            with backbone_autocast(self.model, self.device, self.config.amp):
                for epoch in range(self.start_epoch, self.config.epochs + 1):
                    self._epoch(epoch)
        finally:
            self.pipeline.close()
        return self.result

    def _epoch(self, epoch: int) -> None:
        result = self.result
        started = time.perf_counter()
        row = {"epoch": epoch, **self.train_epoch(epoch)}
        row["val_psnr"] = self.validate()
        row["seconds"] = round(time.perf_counter() - started, 3)
        improved = row["val_psnr"] is not None and row["val_psnr"] > result.best_psnr
        if improved or (result.best_epoch is None and row["val_psnr"] is None):
            result.best_epoch = epoch
            result.best_psnr = row["val_psnr"] if row["val_psnr"] is not None else float("-inf")
        row["best_epoch"] = result.best_epoch
        result.history.append(row)
        # every rank waits until rank 0's checkpoint is complete, and a failure there
        # stops all of them with its message
        error = None
        try:
            self.checkpoint(epoch, row)
        except (OSError, ValueError) as caught:
            error = caught
        shared = self.dist.share(None if error is None else str(error))
        if error is not None:
            raise error
        if shared is not None:
            raise PeerError(shared)
        if self.progress:
            val = f"{row['val_psnr']:.2f} dB" if row["val_psnr"] is not None else "n/a"
            print(f"epoch {epoch}/{self.config.epochs}  loss {row.get('loss', 0):.5f}  "
                  f"val PSNR {val}  (best epoch {result.best_epoch})  {row['seconds']:.1f}s",
                  file=sys.stderr)
        if self.on_epoch_end is not None:
            self.on_epoch_end(epoch, row)
