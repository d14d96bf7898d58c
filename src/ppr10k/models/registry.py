"""The registry of model families: each registers its module, defaults and converter.

A family's module registers itself when imported (``ppr10k.models`` imports the built-in
ones: ``lut3d``, ``adaint``, ``seplut``), so a new family is one new file there.

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
        convert: ``convert(loaded) -> (config fields, state dict)`` for those files
            (:mod:`ppr10k.models.official`).
    """

    name: str
    module: type[nn.Module]
    summary: str
    reference: str
    defaults: dict[str, Any]
    regularisation: dict[str, float | None]
    recognise: Callable[[list[Any]], bool] | None = None
    convert: Callable[[list[Any]], tuple[dict, dict]] | None = field(default=None,
                                                                      compare=False)


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
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}{suggest(name, list(FAMILIES))}; "
                         f"families: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def create_model(config, backbone_weights: str | None = None) -> nn.Module:
    """Build the model a :class:`~ppr10k.models.config.ModelConfig` describes."""
    return get_family(config.family).module(config, backbone_weights=backbone_weights)
