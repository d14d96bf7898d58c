"""The registry of model families: each registers its module, defaults and converter.

A family is a :class:`Family` record: the ``nn.Module`` class (a subclass of
:class:`~ppr10k.models.lut3d.AdaptiveLUT` answering ``predict``, ``plan``, ``average``,
``regularisation``), the :class:`~ppr10k.models.config.ModelConfig` defaults it fills in,
its training regulariser weights, and a converter for its published checkpoints. The CLI
lists families from here; :func:`create_model` and checkpoint loading dispatch on
``config.family``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

__all__ = ["FAMILIES", "Family", "create_model", "get_family", "register_family",
           "suggest"]


@dataclass(frozen=True)
class Family:
    """A model family.

    Attributes:
        name: registry key (``lut3d``, ``adaint``, ``seplut``).
        module: the model class, built as ``module(config, backbone_weights=...)``.
        summary: one line for listings.
        reference: the paper.
        defaults: values for :class:`ModelConfig` fields left ``None``.
        regularisation: default training weights ``sparse`` (mean squared LUT weight),
            ``smooth`` (TV of the basis LUTs) and ``mono`` (monotonicity), as in the
            family's paper for PPR10K. ``sparse: None`` ties it to ``smooth`` (spec §4:
            ``lambda_s * (mean(w^2) + sum TV)``).
        recognise: ``recognise(loaded)`` is True for published checkpoint files of this
            family (``loaded``: the objects ``torch.load`` returned, one per file).
        convert: ``convert(loaded, expert) -> model`` for those files.
    """

    name: str
    module: type[nn.Module]
    summary: str
    reference: str
    defaults: dict[str, Any]
    regularisation: dict[str, float | None]
    recognise: Callable[[list[Any]], bool] | None = None
    convert: Callable[..., nn.Module] | None = field(default=None, compare=False)


FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add ``family`` to :data:`FAMILIES` (a second family of the same name is refused)."""
    if family.name in FAMILIES:
        raise ValueError(f"model family {family.name!r} is registered already")
    FAMILIES[family.name] = family
    return family


def suggest(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean X?)`` for the close matches of ``name`` among ``choices``, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def get_family(name: str) -> Family:
    """The registered family ``name``; an unknown name is a one-line ``ValueError``."""
    _register_builtin()
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}{suggest(name, list(FAMILIES))}; "
                         f"families: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def create_model(config, backbone_weights: str | None = None) -> nn.Module:
    """Build the model a :class:`~ppr10k.models.config.ModelConfig` describes."""
    return get_family(config.family).module(config, backbone_weights=backbone_weights)


_BUILTIN_DONE = False


def _register_builtin() -> None:
    global _BUILTIN_DONE
    if _BUILTIN_DONE:
        return
    _BUILTIN_DONE = True
    from ppr10k.models import official
    from ppr10k.models.adaint import AdaIntLUT
    from ppr10k.models.lut3d import AdaptiveLUT
    from ppr10k.models.seplut import SepLUT

    register_family(Family(
        "lut3d", AdaptiveLUT,
        "N basis 3D LUTs fused with per-image weights",
        "Zeng et al., TPAMI 2020; PPR10K (Liang et al., CVPR 2021)",
        defaults={"lut_dim": 33, "width": 16},
        regularisation={"sparse": None, "smooth": 1e-4, "mono": 10.0},
        recognise=official.is_lut3d, convert=official.convert_lut3d))
    register_family(Family(
        "adaint", AdaIntLUT,
        "basis 3D LUTs on an image-adaptive non-uniform lattice",
        "Yang et al., CVPR 2022",
        defaults={"lut_dim": 33, "width": 16},
        regularisation={"sparse": 1e-4, "smooth": 0.0, "mono": 10.0},
        recognise=official.is_adaint, convert=official.convert_adaint))
    register_family(Family(
        "seplut", SepLUT,
        "image-adaptive per-channel 1D LUTs, then an image-adaptive 3D LUT",
        "Yang et al., ECCV 2022",
        defaults={"lut_dim": 17, "curve_dim": 17, "width": 8},
        regularisation={"sparse": 1e-4, "smooth": 0.0, "mono": 0.0},
        recognise=official.is_seplut, convert=official.convert_seplut))
