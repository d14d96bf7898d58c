"""Training configuration: one typed object, defaults from the PPR10K paper (spec §4).

Precedence: dataclass defaults < a config file (JSON or TOML) < command-line options.
The resolved config is saved as ``RUN/config.json`` and inside every checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppr10k.models import ModelConfig
from ppr10k.models.config import check_field_types

#: ``TrainConfig.pipeline`` choices (:mod:`ppr10k.train.pipeline` has the pipelines).
PIPELINE_NAMES = ("auto", "loader", "cached")


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Attributes:
        data: PPR10K root (holding ``train/`` and ``val/``), or
            ``pairs:ORIGINALS,EDITED[,MASKS]`` (:mod:`ppr10k.data.pairs`).
        out: run folder (checkpoints ``last/`` and ``best/``, ``log.jsonl``, ``config.json``).
        expert: target expert, ``a``, ``b`` or ``c``.
        hrp: human-region priority loss (human pixels weighted ``hrp_weight``).
        glc: group-level consistency loss on pairs of augmented versions.
        epochs, batch_size, lr, betas: Adam schedule (paper: 200, 16, 1e-4, (0.9, 0.999)).
        backbone_lr: a separate learning rate for the weight predictor (None: ``lr``, as in
            the paper). Short runs learn faster with a high ``lr`` for the LUTs and a low
            one for the backbone, whose 8K-input final layer otherwise swings the weights.
        lambda_sparse, lambda_smooth, lambda_mono: regulariser weights: mean squared LUT
            weight, TV and monotonicity of the basis LUTs. ``None`` = the model family's
            defaults (lut3d: 1e-4 for both sparse and smooth, 10 for mono, spec §4; adaint:
            1e-4, 0, 10; seplut: 1e-4, 0, 0, as in their papers' PPR10K settings).
        hrp_weight: weight of human pixels (5), others 1, applied to prediction and target.
        glc_weight: weight of the GLC overlap MSE (1).
        crop_size, glc_crop: training crop (448) and GLC crop (336) sides in pixels.
        model: the model's shape and initialisation.
        backbone_weights: ``auto`` | ``imagenet`` | ``none`` | a path (ResNet-18 only).
        seed: seeds Python, NumPy and torch (under torchrun: with the rank and epoch);
            device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` (torchrun: ``cuda:LOCAL_RANK``).
        num_workers: DataLoader worker processes.
        max_steps_per_epoch: cut epochs short (quick experiments); None = full epochs.
        pipeline: where batches come from (:mod:`ppr10k.train.pipeline`): ``loader``
            (decode every epoch, augment on the CPU), ``cached`` (decode once into a
            uint16 cache, augment on the device) or ``auto`` (cached on CUDA).
        cache_memory_gb: the cached pipeline keeps a set up to this size (GiB) in memory,
            a bigger one in a memory-mapped file in the run folder.
        cache_on_device: ``yes`` | ``no`` | ``auto``: copy the whole cache to the training
            device and cut crops there (auto: on CUDA when it takes at most half the free
            GPU memory).
        amp: on CUDA, run the backbone in bfloat16 (autocast, channels_last); the LUT
            math stays float32. Ignored on the CPU.

    ``batch_size`` is per process: under ``torchrun`` with N processes the global batch is
    N x ``batch_size``.
    """

    data: str = ""
    out: str = "runs/ppr10k"
    expert: str = "a"
    hrp: bool = True
    glc: bool = True
    epochs: int = 200
    batch_size: int = 16
    lr: float = 1e-4
    backbone_lr: float | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    lambda_sparse: float | None = None
    lambda_smooth: float | None = None
    lambda_mono: float | None = None
    hrp_weight: float = 5.0
    glc_weight: float = 1.0
    crop_size: int = 448
    glc_crop: int = 336
    model: ModelConfig = field(default_factory=ModelConfig)
    backbone_weights: str | None = "auto"
    seed: int = 0
    device: str = "auto"
    num_workers: int = 2
    max_steps_per_epoch: int | None = None
    pipeline: str = "auto"
    cache_memory_gb: float = 8.0
    cache_on_device: str = "auto"
    amp: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        self.betas = tuple(self.betas)  # type: ignore[assignment]
        if self.expert not in ("a", "b", "c"):
            raise ValueError(f"expert must be a, b or c, got {self.expert!r}")
        self.model.expert = self.expert
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        from ppr10k.models.device import check_device_name

        check_device_name(self.device)
        if self.pipeline not in PIPELINE_NAMES:
            raise ValueError(f"pipeline must be one of {', '.join(PIPELINE_NAMES)}, "
                             f"got {self.pipeline!r}")
        if self.cache_on_device not in ("auto", "yes", "no"):
            raise ValueError(f"cache_on_device must be auto, yes or no, got "
                             f"{self.cache_on_device!r}")
        if not self.cache_memory_gb >= 0:
            raise ValueError(f"cache_memory_gb must be >= 0, got {self.cache_memory_gb}")

    def regularisation(self) -> dict[str, float]:
        """The regulariser weights ``{"sparse", "smooth", "mono"}`` this run uses."""
        from ppr10k.models import get_family

        defaults = get_family(self.model.family).regularisation
        smooth = self.lambda_smooth if self.lambda_smooth is not None else defaults["smooth"]
        mono = self.lambda_mono if self.lambda_mono is not None else defaults["mono"]
        sparse = self.lambda_sparse if self.lambda_sparse is not None else defaults["sparse"]
        return {"sparse": smooth if sparse is None else sparse, "smooth": smooth,
                "mono": mono}

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown training config keys: {sorted(unknown)} "
                             f"(known: {sorted(names)})")
        check_field_types(cls, data, "training config")
        return cls(**data)

    def updated(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``; keys of ``model`` may be given at the top level."""
        data = self.to_dict()
        model_keys = {f.name for f in dataclasses.fields(ModelConfig)}
        family = changes.get("family", (changes.get("model") or {}).get("family"))
        if family is not None:  # another family: its own defaults for the shape
            data["model"] = self.model.with_family(family).to_dict()
        for key, value in changes.items():
            if key in model_keys and key not in data:
                data["model"][key] = value
            elif key == "model" and isinstance(value, dict):
                data["model"].update(value)
            else:
                data[key] = value
        return TrainConfig.from_dict(data)

    def save(self, path: str | os.PathLike) -> None:
        from ppr10k.io import atomic_write

        with atomic_write(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON or TOML config file into a dict (keys as in :class:`TrainConfig`)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"config file {path} is a folder")
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: cannot parse config (not UTF-8 text)") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot parse config ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must hold an object/table")  # noqa: TRY004
    return data
