"""Checkpoints: ours (safetensors + JSON config), and importing the published ones.

Our format is a directory holding ``model.safetensors`` (the state dict; its metadata also
carries the config) and ``config.json`` (the :class:`ModelConfig` with its ``family``,
plus anything passed as ``extra``: epoch, validation PSNR, source files...). A path ending
in ``.safetensors`` is accepted too, as a single file whose metadata holds the config.
Loading dispatches on the recorded family (:func:`ppr10k.models.registry.create_model`).
Checkpoints of the first format (``ppr10k-adaptive-lut/1``, before families) still load.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ppr10k.io import atomic_write
from ppr10k.models.config import ModelConfig
from ppr10k.models.official import load_checkpoint_file
from ppr10k.models.registry import FAMILIES, create_model, get_family

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "ppr10k-lut-model/2"
_FORMAT_V1 = "ppr10k-adaptive-lut/1"


def _weights_file(path: Path) -> Path:
    return path if path.suffix == ".safetensors" else path / WEIGHTS_NAME


def save_model(model: torch.nn.Module, path: str | os.PathLike,
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
            f"no ppr10k model at {path} (expected {weights}); train one with `ppr10k train`, "
            "convert a published one with `ppr10k import-official`, or name a zoo model "
            "(`ppr10k models`)")
    if weights.stat().st_size == 0:
        raise ValueError(f"{weights}: empty file (0 bytes); the model was not saved "
                         "completely: save or copy it again")
    try:
        with safe_open(str(weights), framework="pt") as f:
            metadata = f.metadata() or {}
        info = json.loads(metadata["ppr10k"])
    except (SafetensorError, OSError, KeyError, ValueError, TypeError) as error:
        raise ValueError(f"{weights}: not a readable ppr10k checkpoint "
                         f"({type(error).__name__})") from None
    if not isinstance(info, dict) or not isinstance(info.get("model"), dict):
        raise ValueError(f"{weights}: not a ppr10k checkpoint (no model config)")  # noqa: TRY004
    return info


def _migrate_v1(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """First-format lut3d keys (head inside the backbone) -> today's."""
    tiny = {"0": "blocks.0.0", "2": "blocks.0.2", "3": "blocks.1.0", "5": "blocks.1.2",
            "6": "blocks.2.0", "8": "blocks.2.2", "9": "blocks.3.0", "11": "blocks.3.2",
            "12": "blocks.4.0"}
    out = {}
    for key, value in state.items():
        if key.startswith("backbone.model.fc."):
            key = "head." + key.removeprefix("backbone.model.fc.")
        elif key.startswith("backbone.head_conv."):
            key = "head." + key.removeprefix("backbone.head_conv.")
            value = value.flatten(1) if value.ndim == 4 else value
        elif key.startswith("backbone.features."):
            index, rest = key.removeprefix("backbone.features.").split(".", 1)
            key = f"backbone.{tiny[index]}.{rest}"
        out[key] = value
    return out


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Load a model saved by :func:`save_model`, in eval mode, on ``device``.

    The model is built by its family (``config.family``); a shape or key mismatch is a
    one-line ``ValueError`` naming the file.
    """
    info = read_checkpoint_info(path)
    weights = _weights_file(Path(path))
    try:
        config = ModelConfig.from_dict(info["model"])
        model = create_model(config, backbone_weights=None)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{weights}: bad model config ({error})") from None
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{weights}: damaged weights ({type(error).__name__})") from None
    if info.get("format") == _FORMAT_V1:
        state = _migrate_v1(state)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ValueError(f"{weights}: weights do not fit a {config.family} model "
                         f"({first})") from None
    check_finite(model, weights)
    return model.to(device).eval()


def check_finite(model: torch.nn.Module, source: str | os.PathLike) -> None:
    """Refuse a model whose parameters or buffers hold NaN or infinite values.

    Raises:
        ValueError: naming ``source`` and the first tensors that are not finite.
    """
    bad = [name for name, value in model.state_dict().items()
           if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ValueError(f"{source}: the model's weights are not finite (NaN or infinite "
                         f"values in {', '.join(bad[:3])}{more}); the model is damaged, "
                         "e.g. by a diverged training run")


def load_official(paths: Sequence[str | os.PathLike], family: str | None = None,
                  expert: str | None = None, input_space: str = "srgb") -> torch.nn.Module:
    """Build a model from published checkpoint files (see :mod:`ppr10k.models.official`).

    Args:
        paths: the 3D-LUT LUTs and classifier files (either order), or one AdaInt or
            SepLUT checkpoint.
        family: the family; default: recognised from the files' keys.
        expert: the expert the model was trained for, if any (recorded).
        input_space: ``srgb`` or ``xyz`` (the published XYZ models; not in the files).
    """
    loaded = [load_checkpoint_file(p) for p in paths]
    names = ", ".join(str(p) for p in paths)
    matches = [f.name for f in FAMILIES.values() if f.recognise and f.recognise(loaded)]
    if len(matches) != 1:
        raise ValueError(f"{names}: not a published checkpoint layout that ppr10k knows "
                         "(expected the 3D-LUT LUTs + classifier files, or one AdaInt or "
                         "SepLUT checkpoint)")
    if family is not None and get_family(family).name != matches[0]:
        raise ValueError(f"{names}: these are {matches[0]} files, not {family}")
    fields, state = get_family(matches[0]).convert(loaded)
    config = ModelConfig(**fields, expert=expert, init="reference", input_space=input_space)
    model = create_model(config)
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"{names}: does not fit a {config.family} model (missing "
                         f"{missing[:3]}, unexpected {unexpected[:3]})")
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise ValueError(f"{names}: tensor {key} has shape {tuple(value.shape)}, the "
                             f"model expects {tuple(own[key].shape)}")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()


def import_official(paths: Sequence[str | os.PathLike], out: str | os.PathLike,
                    family: str | None = None, expert: str | None = None,
                    input_space: str = "srgb") -> Path:
    """Convert published checkpoint files into a ppr10k model folder at ``out``."""
    model = load_official(paths, family=family, expert=expert, input_space=input_space)
    return save_model(model, out, extra={"source": [str(p) for p in paths]})
