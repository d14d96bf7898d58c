"""Checkpoints: ours (safetensors + JSON config) and the official PPR10K files.

Our format is a directory holding ``model.safetensors`` (the state dict; its metadata also
carries the config) and ``config.json`` (the :class:`ModelConfig`, plus anything passed as
``extra``: epoch, validation PSNR, ...). A path ending in ``.safetensors`` is accepted
too, as a single file whose metadata holds the config.

The official PPR10K release ships two ``.pth`` files per model:

* ``LUTs_*.pth``: ``{"1": {"LUT": (3, D, D, D)}, ..., "N": {...}}``, layout ``lut[c, b, g, r]``;
* ``classifier_*.pth``: a ResNet-18 state dict under the prefix ``model.`` with
  ``model.fc`` 512 -> N.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ppr10k.io import atomic_write
from ppr10k.models.adaptive_lut import AdaptiveLUT, ModelConfig

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "ppr10k-adaptive-lut/1"


def _weights_file(path: Path) -> Path:
    return path if path.suffix == ".safetensors" else path / WEIGHTS_NAME


def save_model(model: AdaptiveLUT, path: str | os.PathLike,
               extra: dict[str, Any] | None = None) -> Path:
    """Save ``model`` to ``path`` (a directory, or a ``.safetensors`` file); atomic per file.

    Returns:
        The path written.
    """
    path = Path(path)
    info = {"format": FORMAT, "model": model.config.to_dict(), **(extra or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = _weights_file(path)
    with atomic_write(weights) as tmp:
        save_file(state, str(tmp), metadata={"ppr10k": json.dumps(info, sort_keys=True)})
    if weights != path:
        with atomic_write(path / CONFIG_NAME) as tmp:
            tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return path


def read_checkpoint_info(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata saved with a checkpoint: ``{"format", "model": {...}, ...extra}``."""
    weights = _weights_file(Path(path))
    if not weights.is_file():
        raise FileNotFoundError(
            f"no ppr10k model at {path} (expected {weights}); train one with `ppr10k train` "
            "or convert the official files with `ppr10k import-official`")
    with safe_open(str(weights), framework="pt") as f:
        metadata = f.metadata() or {}
    if "ppr10k" not in metadata:
        raise ValueError(f"{weights}: not a ppr10k checkpoint (no ppr10k metadata)")
    return json.loads(metadata["ppr10k"])


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> AdaptiveLUT:
    """Load a model saved by :func:`save_model`, in eval mode, on ``device``."""
    info = read_checkpoint_info(path)
    model = AdaptiveLUT(ModelConfig.from_dict(info["model"]), backbone_weights=None)
    model.load_state_dict(load_file(str(_weights_file(Path(path)))))
    return model.to(device).eval()


def load_official_luts(path: str | os.PathLike) -> torch.Tensor:
    """Read an official ``LUTs_*.pth`` into an ``(N, 3, D, D, D)`` tensor (keys 1..N)."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: expected a dict {{'1': {{'LUT': tensor}}, ...}}")
    try:
        keys = sorted(raw, key=int)
        luts = [raw[k]["LUT"] if isinstance(raw[k], dict) else raw[k] for k in keys]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not an official LUT file ({error})") from error
    stacked = torch.stack([lut.float() for lut in luts])
    if stacked.ndim != 5 or stacked.shape[1] != 3:
        raise ValueError(f"{path}: LUTs must be (3, D, D, D), got {tuple(stacked.shape[1:])}")
    return stacked


def load_official(luts_path: str | os.PathLike, classifier_path: str | os.PathLike,
                  expert: str | None = None) -> AdaptiveLUT:
    """Build an :class:`AdaptiveLUT` from the official PPR10K ``LUTs`` and ``classifier`` files."""
    luts = load_official_luts(luts_path)
    state = torch.load(classifier_path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "model.fc.weight" not in state:
        raise ValueError(f"{classifier_path}: expected a ResNet-18 state dict with keys "
                         "'model.conv1.weight', ..., 'model.fc.weight'")
    n_outputs = state["model.fc.weight"].shape[0]
    if n_outputs != luts.shape[0]:
        raise ValueError(f"classifier predicts {n_outputs} weights for {luts.shape[0]} LUTs")
    config = ModelConfig(n_luts=luts.shape[0], lut_dim=luts.shape[-1], backbone="resnet18",
                         expert=expert, init="reference")
    model = AdaptiveLUT(config, backbone_weights=None)
    with torch.no_grad():
        model.luts.copy_(luts)
    model.backbone.load_state_dict(state)
    return model.eval()


def import_official(luts_path: str | os.PathLike, classifier_path: str | os.PathLike,
                    out: str | os.PathLike, expert: str | None = None) -> Path:
    """Convert the official files into a ppr10k checkpoint at ``out``."""
    model = load_official(luts_path, classifier_path, expert=expert)
    return save_model(model, out, extra={"source": {"luts": str(luts_path),
                                                    "classifier": str(classifier_path)}})
