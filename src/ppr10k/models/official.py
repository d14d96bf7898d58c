"""Converters for the published checkpoints of the 3D-LUT, AdaInt and SepLUT papers.

Every file is read with ``torch.load(..., weights_only=True)`` (tensors and plain
containers only; a file holding code is refused). The family is recognised from the keys:

* 3D-LUT (``lut3d``): two files, the basis LUTs ``{"0": {"LUT": (3, D, D, D)}, ...}`` (keys
  ``0..N-1`` in the TPAMI release, ``1..N`` in PPR10K's) and a classifier state dict: the
  PPR10K ResNet-18 (``model.conv1.weight``, ..., ``model.fc.weight``), the TPAMI CNN
  (``model.1`` ... ``model.16``, the last an 8x8 convolution to N weights) or its unpaired
  variant (instance norm after the first convolution only, ``model.12`` last).
* AdaInt (``adaint``): ``{"state_dict": ...}`` with ``adaint.intervals_generator.*``.
* SepLUT (``seplut``): ``{"state_dict": ...}`` with ``lut1d_generator.lut1d_generator.*``.

A converter returns the model's config fields and its state dict in ppr10k's keys; the
family's registration names its converter, and :func:`ppr10k.models.load_official` builds
and fills the model. AdaInt's and SepLUT's basis LUT bank is a bias-free linear layer ``(3 D^3, N)``: column
``n`` read as ``(3, D, D, D)`` is basis LUT ``n`` in the layout ``lut[c, b, g, r]``.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

import torch

__all__ = ["Converted", "convert_adaint", "convert_lut3d", "convert_seplut", "is_adaint",
           "is_lut3d", "is_seplut", "load_checkpoint_file"]

#: what a converter returns: ``(ModelConfig fields, state dict in ppr10k's keys)``
Converted = tuple[dict[str, Any], dict[str, torch.Tensor]]


def load_checkpoint_file(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; failures are one-line ValueErrors."""
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise here
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 - pickle, zip and torch errors alike
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(f"{path}: not a weights-only PyTorch checkpoint "
                         f"({type(error).__name__}: {first[:200]}); only files holding "
                         "plain tensors are read") from None


def _state_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        return obj["state_dict"]
    return None


def _is_lut_file(obj: Any) -> bool:
    return (isinstance(obj, dict) and bool(obj)
            and all(isinstance(k, str) and k.isdigit() for k in obj))


def _is_classifier(obj: Any) -> bool:
    return (isinstance(obj, dict) and bool(obj)
            and all(isinstance(k, str) and k.startswith("model.") for k in obj))


def is_lut3d(loaded: list[Any]) -> bool:
    """Two files: basis LUTs and a classifier state dict (either order)."""
    return (len(loaded) == 2 and sum(map(_is_lut_file, loaded)) == 1
            and sum(map(_is_classifier, loaded)) == 1)


def is_adaint(loaded: list[Any]) -> bool:
    """One ``{"state_dict"}`` file with AdaInt's interval generator."""
    state = _state_dict(loaded[0]) if len(loaded) == 1 else None
    return state is not None and "adaint.intervals_generator.weight" in state


def is_seplut(loaded: list[Any]) -> bool:
    """One ``{"state_dict"}`` file with SepLUT's 1D LUT generator."""
    state = _state_dict(loaded[0]) if len(loaded) == 1 else None
    return state is not None and "lut1d_generator.lut1d_generator.weight" in state


def _basis_luts(obj: dict) -> torch.Tensor:
    luts = []
    for key in sorted(obj, key=int):
        value = obj[key]
        value = value.get("LUT") if isinstance(value, dict) else value
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"LUT file entry {key!r} holds no 'LUT' tensor")  # noqa: TRY004
        luts.append(value.float())
    stacked = torch.stack(luts)
    if stacked.ndim != 5 or stacked.shape[1] != 3 or len(set(stacked.shape[2:])) != 1:
        raise ValueError(f"basis LUTs must be (3, D, D, D), got {tuple(stacked.shape[1:])}")
    return stacked


#: TPAMI classifier positions -> our tiny backbone (paired: norm after blocks 1-4)
_TPAMI_PAIRED = {1: "blocks.0.0", 3: "blocks.0.2", 4: "blocks.1.0", 6: "blocks.1.2",
                 7: "blocks.2.0", 9: "blocks.2.2", 10: "blocks.3.0", 12: "blocks.3.2",
                 13: "blocks.4.0", 16: "head"}
_TPAMI_UNPAIRED = {1: "blocks.0.0", 3: "blocks.0.2", 4: "blocks.1.0", 6: "blocks.2.0",
                   8: "blocks.3.0", 10: "blocks.4.0", 12: "head"}


def _classifier_state(state: dict[str, torch.Tensor]) -> tuple[str, int, dict]:
    """Official classifier -> ``(backbone name, width, our state dict)``."""
    if "model.fc.weight" in state:
        ours = {("head." + k.removeprefix("model.fc.")) if k.startswith("model.fc.")
                else "backbone." + k: v for k, v in state.items()}
        return "resnet18", 16, ours
    positions = {int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.", k))}
    if 16 in positions:
        name, table = "tiny", _TPAMI_PAIRED
    elif max(positions, default=0) == 12 and 8 in positions:
        name, table = "tiny_unpaired", _TPAMI_UNPAIRED
    else:
        raise ValueError("classifier keys match neither the PPR10K ResNet-18 nor the TPAMI "
                         f"CNN (positions {sorted(positions)})")
    ours = {}
    for key, value in state.items():
        position, _, rest = key.removeprefix("model.").partition(".")
        if not position.isdigit() or int(position) not in table:
            raise ValueError(f"unexpected classifier key {key!r} (expected model.<layer>."
                             "<weight|bias>)")
        target = table[int(position)]
        if target == "head" and rest == "weight":
            value = value.flatten(1)  # an 8x8 convolution over the 8x8 map == a linear layer
        ours[("" if target == "head" else "backbone.") + f"{target}.{rest}"] = value
    return name, int(state["model.1.weight"].shape[0]), ours


def convert_lut3d(loaded: list[Any]) -> Converted:
    """The 3D-LUT files (basis LUTs + classifier, either order) -> a ``lut3d`` model."""
    luts_obj = next(obj for obj in loaded if _is_lut_file(obj))
    classifier = next(obj for obj in loaded if _is_classifier(obj))
    luts = _basis_luts(luts_obj)
    backbone, width, state = _classifier_state(classifier)
    n_outputs = state["head.weight"].shape[0]
    if n_outputs != luts.shape[0]:
        raise ValueError(f"the classifier predicts {n_outputs} weights for "
                         f"{luts.shape[0]} LUTs: these files do not belong together")
    state["luts"] = luts
    fields = {"family": "lut3d", "n_luts": luts.shape[0], "lut_dim": luts.shape[-1],
              "backbone": backbone, "width": width}
    return fields, state


def _generator_parts(state: dict[str, torch.Tensor],
                     generator: str) -> tuple[dict, str, int, int]:
    """Shared by AdaInt and SepLUT: backbone, weights head and basis bank."""
    ours: dict[str, torch.Tensor] = {}
    backbone = "tiny"
    for key, value in state.items():
        if key.startswith("backbone.net."):
            backbone = "resnet18"
            ours["backbone.model." + key.removeprefix("backbone.net.")] = value
        elif key.startswith("backbone."):
            ours["backbone.blocks." + key.removeprefix("backbone.")] = value
    bank = state[f"{generator}.basis_luts_bank.weight"]
    n_luts = bank.shape[1]
    dim = round((bank.shape[0] / 3) ** (1 / 3))
    if 3 * dim ** 3 != bank.shape[0]:
        raise ValueError(f"basis LUT bank of {bank.shape[0]} rows is not 3 D^3")
    ours["luts"] = bank.t().reshape(n_luts, 3, dim, dim, dim).float()
    ours["head.weight"] = state[f"{generator}.weights_generator.weight"]
    ours["head.bias"] = state[f"{generator}.weights_generator.bias"]
    return ours, backbone, n_luts, dim


def _convert_generated(loaded: list[Any], family: str, generator: str,
                       extra: dict[str, str]) -> Converted:
    state = _state_dict(loaded[0])
    ours, backbone, n_luts, dim = _generator_parts(state, generator)
    for theirs, mine in extra.items():
        ours[mine + ".weight"] = state[theirs + ".weight"]
        ours[mine + ".bias"] = state[theirs + ".bias"]
    width = int(state["backbone.0.0.weight"].shape[0]) if backbone == "tiny" else None
    curve_dim = (int(state["lut1d_generator.lut1d_generator.bias"].shape[0]) // 3
                 if family == "seplut" else None)
    fields = {"family": family, "n_luts": n_luts, "lut_dim": dim, "backbone": backbone,
              "width": width, "curve_dim": curve_dim}
    return fields, ours


def convert_adaint(loaded: list[Any]) -> Converted:
    """An AdaInt ``{"state_dict"}`` -> an ``adaint`` model."""
    return _convert_generated(loaded, "adaint", "lut_generator",
                              {"adaint.intervals_generator": "intervals"})


def convert_seplut(loaded: list[Any]) -> Converted:
    """A SepLUT ``{"state_dict"}`` -> a ``seplut`` model."""
    return _convert_generated(loaded, "seplut", "lut3d_generator",
                              {"lut1d_generator.lut1d_generator": "curves"})
