"""What a model is: one typed config for every family, saved with every checkpoint."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

from ppr10k.models.registry import get_family

#: Colour spaces a model can take as input (see :mod:`ppr10k.models.zoo`).
INPUT_SPACES = ("srgb", "xyz")


def check_field_types(cls: type, data: dict[str, Any], what: str) -> None:
    """Refuse values of the wrong type for a dataclass's int, float, str and bool fields.

    Raises:
        ValueError: ``what: key must be a <type>, got <value>`` for the first bad value.
    """
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        hint = hints.get(key)
        if hint is None or value is None:
            continue
        origin = typing.get_origin(hint)
        if origin is None:
            allowed: tuple = (hint,)
        elif origin in (typing.Union, types.UnionType):
            allowed = tuple(t for t in typing.get_args(hint) if t is not type(None))
        else:
            continue
        if not all(t in (int, float, str, bool) for t in allowed):
            continue  # nested or composite fields are checked where they are built
        ok = any(isinstance(value, t) and not (t in (int, float) and isinstance(value, bool))
                 for t in allowed)
        if float in allowed and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            names = " or ".join(t.__name__ for t in allowed)
            raise ValueError(f"{what}: {key} must be {names}, got {value!r}")


@dataclass
class ModelConfig:
    """A model's family and shape; fields left ``None`` take the family's defaults.

    Attributes:
        family: a registered family (``lut3d``, ``adaint``, ``seplut``; see
            :data:`ppr10k.models.FAMILIES`).
        n_luts: basis LUTs N, i.e. the number of predicted weights (PPR10K: 5).
        lut_dim: 3D lattice points per axis D (lut3d/adaint: 33, seplut on PPR10K: 17).
        backbone: registered encoder, ``resnet18`` (PPR10K), ``tiny`` (the 3D-LUT paper's
            CNN) or ``tiny_unpaired``.
        width: channels of the first ``tiny`` block (16; SepLUT's light models use 6 or 8).
        curve_dim: knots of SepLUT's per-channel 1D LUTs (17 on PPR10K).
        expert: the expert (a, b, c) whose retouching the model learns, or None.
        init: ``identity`` (the first prediction is the input) or ``reference`` (the
            reference code's random start of the last layer).
        input_space: what the model's input numbers are: ``srgb`` (sRGB-encoded RGB in
            [0, 1]) or ``xyz`` (linear CIE XYZ in [0, 1], channels in (Z, Y, X) order, as the
            published FiveK XYZ models read their 16-bit PNGs with OpenCV).
        thumbnail: long edge in pixels of the photos the model was trained on (PPR10K's 360p
            release: 540; MIT-Adobe FiveK 480p: about 720). Larger photos are reduced to it by
            area averaging before the encoder sees them.
    """

    family: str = "lut3d"
    n_luts: int = 5
    lut_dim: int | None = None
    backbone: str = "resnet18"
    width: int | None = None
    curve_dim: int | None = None
    expert: str | None = "a"
    init: str = "identity"
    input_space: str = "srgb"
    thumbnail: int = 540

    def __post_init__(self) -> None:
        family = get_family(self.family)
        for key, value in family.defaults.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        if self.n_luts < 1:
            raise ValueError(f"n_luts must be >= 1, got {self.n_luts}")
        if self.lut_dim is None or not 2 <= self.lut_dim <= 129:
            raise ValueError(f"lut_dim must be in [2, 129], got {self.lut_dim}")
        if self.curve_dim is not None and not 2 <= self.curve_dim <= 4097:
            raise ValueError(f"curve_dim must be in [2, 4097], got {self.curve_dim}")
        if self.init not in ("identity", "reference"):
            raise ValueError(f"init must be 'identity' or 'reference', got {self.init!r}")
        if self.thumbnail < 16:
            raise ValueError(f"thumbnail must be >= 16 pixels, got {self.thumbnail}")
        if self.input_space not in INPUT_SPACES:
            raise ValueError(f"input_space must be one of {INPUT_SPACES}, "
                             f"got {self.input_space!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        check_field_types(cls, data, "model config")
        return cls(**data)

    def with_family(self, family: str) -> ModelConfig:
        """A copy for another family: family-default fields are reset to its defaults."""
        if family == self.family:
            return self
        data = self.to_dict()
        for key in get_family(self.family).defaults:
            data[key] = None
        data["family"] = family
        return ModelConfig.from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)
