"""The two PPR10K tonal augmentation schemes, as pure functions on settings dicts.

Defines:

- :data:`SCHEME1_OFFSETS`, :data:`SCHEME2_OFFSETS`: the offset ranges of spec §2.
- :data:`VALID_RANGES`: the range Camera Raw accepts for each perturbed setting.
- :func:`perturb_source` (scheme 1) and :func:`perturb_pair` (scheme 2): settings in,
  settings out, randomness only from the ``numpy.random.Generator`` passed in. File
  handling is in :mod:`ppr10k.xmp.batch`.

Scheme 1 (spec §2): each training raw is re-rendered 5 times with uniform random offsets
added to its source settings:

=============== =====================
crs:            offset, uniform in
=============== =====================
Temperature     ±500 K
Tint            ±10
Exposure2012    ±1.0 EV
Highlights2012  ±35
Contrast2012    −30..0
Saturation      0..+30
=============== =====================

Scheme 2 (spec §2): the source is perturbed (Temperature ±1000, Tint ±10, Exposure2012
±0.5, Highlights2012 ±30, Contrast2012 ±20) and the same offsets are *subtracted* from the
expert's non-white-balance settings (Exposure2012, Highlights2012, Contrast2012); the
expert's Temperature/Tint are left as they are. The range of each compensated offset is
clipped so that both the perturbed source and the compensated target stay inside
:data:`VALID_RANGES` (for Highlights2012 a target at −95 allows offsets in [−30, +5]).

Notes:
    Integer settings draw integer offsets uniformly over the closed range (every integer
    equally likely); Exposure2012 draws a real offset and rounds it to 0.01 EV (the
    precision Camera Raw stores). Scheme 1 clips the perturbed value to
    :data:`VALID_RANGES` (reported in ``clipped``). When Temperature or Tint changes,
    ``WhiteBalance`` is set to ``"Custom"``: Camera Raw ignores Temperature/Tint under
    ``"As Shot"`` (the PPR10K sources' white balance), so without it the white-balance
    offsets would not be rendered. Missing tonal settings default to Camera Raw's 0;
    a missing Temperature or Tint is an error (its as-shot value is unknown).

References:
    Liang et al., "PPR10K: A Large-Scale Portrait Photo Retouching Dataset with
    Human-Region Mask and Group-Level Consistency", CVPR 2021, §3 (data augmentation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ppr10k.xmp.settings import Scalar

Range = tuple[float, float]

#: Scheme 1 offsets (spec §2), in each setting's own unit.
SCHEME1_OFFSETS: dict[str, Range] = {
    "Temperature": (-500.0, 500.0),
    "Tint": (-10.0, 10.0),
    "Exposure2012": (-1.0, 1.0),
    "Highlights2012": (-35.0, 35.0),
    "Contrast2012": (-30.0, 0.0),
    "Saturation": (0.0, 30.0),
}

#: Scheme 2 offsets (spec §2).
SCHEME2_OFFSETS: dict[str, Range] = {
    "Temperature": (-1000.0, 1000.0),
    "Tint": (-10.0, 10.0),
    "Exposure2012": (-0.5, 0.5),
    "Highlights2012": (-30.0, 30.0),
    "Contrast2012": (-20.0, 20.0),
}

#: Values Camera Raw accepts (slider ranges; Temperature in kelvin for raw files).
VALID_RANGES: dict[str, Range] = {
    "Temperature": (2000.0, 50000.0),
    "Tint": (-150.0, 150.0),
    "Exposure2012": (-5.0, 5.0),
    "Highlights2012": (-100.0, 100.0),
    "Contrast2012": (-100.0, 100.0),
    "Saturation": (-100.0, 100.0),
}

#: Settings stored with two decimals; all other perturbed settings are integers.
DECIMAL_STEPS: dict[str, float] = {"Exposure2012": 0.01}
WHITE_BALANCE = ("Temperature", "Tint")
#: Target settings compensated in scheme 2 (the non-white-balance ones).
COMPENSATED = ("Exposure2012", "Highlights2012", "Contrast2012")


@dataclass(frozen=True)
class Perturbation:
    """Result of scheme 1: the new settings and the offsets drawn (setting -> offset)."""

    settings: dict[str, Scalar]
    offsets: dict[str, float]
    clipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class PairPerturbation:
    """Result of scheme 2: perturbed source, compensated target, offsets drawn."""

    source: dict[str, Scalar]
    target: dict[str, Scalar]
    offsets: dict[str, float]


def _quantise(name: str, value: float) -> float | int:
    step = DECIMAL_STEPS.get(name)
    if step is None:
        return math.floor(value + 0.5)
    return round(round(value / step) * step, 2)


def draw_offset(rng: np.random.Generator, name: str, low: float, high: float) -> float | int:
    """One offset uniform in [low, high]: integers for integer settings, 0.01 EV steps.

    Args:
        rng: the random generator.
        name: the setting (decides integer or 0.01 steps).
        low, high: the closed range, ``low <= high``.
    """
    if low > high:
        raise ValueError(f"{name}: empty offset range [{low}, {high}]")
    step = DECIMAL_STEPS.get(name)
    if step is None:
        return int(rng.integers(math.ceil(low - 1e-9), math.floor(high + 1e-9), endpoint=True))
    value = _quantise(name, rng.uniform(low, high))
    return float(min(max(value, low), high))


def _number(settings: Mapping[str, Scalar], name: str, role: str) -> float:
    value = settings.get(name)
    if value is None:
        if name in WHITE_BALANCE:
            raise ValueError(f"{role} has no crs:{name}; its white balance is unknown, so it "
                             "cannot be offset")
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{role} crs:{name} is {value!r}, not a number")
    return float(value)


def _white_balance(settings: dict[str, Scalar], changed: bool) -> None:
    if changed and settings.get("WhiteBalance", "Custom") != "Custom":
        settings["WhiteBalance"] = "Custom"


def perturb_source(settings: Mapping[str, Scalar], rng: np.random.Generator,
                   offsets: Mapping[str, Range] = SCHEME1_OFFSETS,
                   custom_white_balance: bool = True) -> Perturbation:
    """Scheme 1: add uniform random offsets to a source's settings.

    Args:
        settings: Camera Raw settings (setting name -> typed value), e.g.
            ``read_camera_raw(path).settings``.
        rng: the random generator (the only source of randomness).
        offsets: setting -> (low, high) offset range; :data:`SCHEME1_OFFSETS` by default.
        custom_white_balance: set ``WhiteBalance`` to ``"Custom"`` when Temperature or
            Tint is changed (see the module notes).

    Returns:
        The new settings (only the perturbed ones, ``WhiteBalance`` included when
        changed, plus every other input setting unchanged) and the offsets drawn.
    """
    result = dict(settings)
    drawn: dict[str, float] = {}
    clipped = []
    for name, (low, high) in offsets.items():
        base = _number(settings, name, "the source")
        offset = draw_offset(rng, name, low, high)
        drawn[name] = offset
        value = _quantise(name, base + offset)
        low_valid, high_valid = VALID_RANGES.get(name, (-math.inf, math.inf))
        if not low_valid <= value <= high_valid:
            clipped.append(name)
            value = _quantise(name, min(max(value, low_valid), high_valid))
        result[name] = value
    if custom_white_balance:
        _white_balance(result, any(drawn.get(name, 0) != 0 for name in WHITE_BALANCE))
    return Perturbation(result, drawn, tuple(clipped))


def compensated_range(name: str, offset_range: Range, source: float,
                      target: float | None) -> Range:
    """The offsets that keep ``source + d`` (and ``target - d``) inside :data:`VALID_RANGES`.

    Examples:
        >>> compensated_range("Highlights2012", (-30, 30), source=0, target=-95)
        (-30.0, 5.0)
    """
    low, high = offset_range
    valid_low, valid_high = VALID_RANGES.get(name, (-math.inf, math.inf))
    low, high = max(low, valid_low - source), min(high, valid_high - source)
    if target is not None:
        low, high = max(low, target - valid_high), min(high, target - valid_low)
    if low > high:
        raise ValueError(f"crs:{name}: no offset keeps source {source} and target {target} "
                         f"inside {VALID_RANGES.get(name)}")
    return float(low), float(high)


def perturb_pair(source: Mapping[str, Scalar], target: Mapping[str, Scalar],
                 rng: np.random.Generator, offsets: Mapping[str, Range] = SCHEME2_OFFSETS,
                 compensated: tuple[str, ...] = COMPENSATED,
                 custom_white_balance: bool = True) -> PairPerturbation:
    """Scheme 2: perturb the source, subtract the same offsets from the expert's settings.

    Args:
        source: the source (camera default) settings.
        target: the expert's settings for the same photo.
        rng: the random generator.
        offsets: setting -> (low, high); :data:`SCHEME2_OFFSETS` by default.
        compensated: the target settings that receive ``-offset`` (non-white-balance);
            the others (Temperature, Tint) are perturbed on the source only.
        custom_white_balance: as in :func:`perturb_source` (source side only).

    Returns:
        ``source + d``, ``target - d`` (for ``compensated``), and ``d``. Each compensated
        offset is drawn from :func:`compensated_range`, so no value is clipped.
    """
    new_source, new_target = dict(source), dict(target)
    drawn: dict[str, float] = {}
    for name, offset_range in offsets.items():
        base = _number(source, name, "the source")
        expert = _number(target, name, "the target") if name in compensated else None
        low, high = compensated_range(name, offset_range, base, expert)
        offset = draw_offset(rng, name, low, high)
        drawn[name] = offset
        new_source[name] = _quantise(name, base + offset)
        if expert is not None:
            new_target[name] = _quantise(name, expert - offset)
    if custom_white_balance:
        _white_balance(new_source, any(drawn.get(name, 0) != 0 for name in WHITE_BALANCE))
    return PairPerturbation(new_source, new_target, drawn)
