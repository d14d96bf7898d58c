"""A small built-in PPR10K-like dataset, made from two public-domain portraits.

:func:`make_sample_dataset` writes the exact layout and naming of the official 360p release
(spec §1) so that every tool of ppr10k can be tried without the 91 GB download:

::

    OUT/train/source_aug/G_I.tif, G_I_K.tif   16-bit RGB TIFF sources (K = 1..n_aug)
    OUT/train/target_{a,b,c}/G_I.tif          8-bit RGB TIFF expert targets
    OUT/train/masks/G_I.png                   human-region masks (0 / 255)
    OUT/val/source/G_I.tif
    OUT/val/target_{a,b,c}/G_I.tif
    OUT/val/masks/G_I.png
    OUT/xmp_source/G_I.xmp                    Camera Raw sidecars of the sources and of
    OUT/xmp_target_{a,b,c}/G_I.xmp            each expert (all groups, as the raw release)
    OUT/sample.json                           how the set was made (seed, looks, credits)

Training groups are numbered from 0, validation groups from 1356 (as in the official split).

How the photos are made (all synthetic except the photograph itself):

- The photographs (:data:`PEOPLE`) are two public-domain colour portraits that ship offline
  with dependencies: the NASA portrait of astronaut Eileen Collins bundled with
  scikit-image (``skimage.data.astronaut()``) and the U.S. Navy portrait of Grace Hopper in
  Matplotlib's sample data (``grace_hopper.jpg``). Groups alternate between them by group
  number (:func:`person_of_group`: even groups show the astronaut, odd ones Grace Hopper),
  so groups differ in who is in them, not only in framing and light. Each group (one
  "shoot") also has its own framing (zoom, position, mirror, portrait or landscape
  orientation), its own backdrop colour (the background recoloured outside the person) and
  its own scene lighting (exposure and white-balance cast).
- Shots: each photo of a group reframes the shoot (close-ups and wider shots, small shifts)
  and adds the per-shot spread of exposure, white balance and contrast a camera gives
  across a session (small: a studio session keeps its settings), then renders with a flat
  "camera default" tone curve. These are the sources. A model that judges colour from
  image content treats a close-up of the orange suit differently from a wide shot, which
  is what group-consistent retouching corrects.
- Experts: three looks applied to the clean photo (without the scene cast or the per-shot
  spread), so all the shots of a group share the expert's colour rendering (group-level
  consistency is learnable and measurable). Each look treats the person and the
  background differently (blended through a feathered mask), favouring the person, so
  that human-region priority matters. ``a``: bright and warm, skin first; ``b``: neutral
  and natural; ``c``: contrasty, cool background.
- Masks: each person's outline is a polygon drawn by hand for ppr10k
  (``ppr10k/demo/assets/*_person_polygon.json``), warped with the photo.
- Augmented sources ``G_I_K`` (training only): the same shot re-rendered with random
  offsets of exposure, temperature, tint, contrast and saturation, after spec §2's table
  (with smaller ranges; the photo is already rendered, not raw).

The colour operations are simple approximations (gains in linear sRGB, polynomial S-curve),
not Adobe Camera Raw's. The sidecars state each look in Camera Raw's units, approximately
(:func:`camera_raw_look`), with a capture time per shot (``xmp:CreateDate``: one shoot a day,
shots a minute apart), so that ``ppr10k data stats`` has settings, groups and capture times to
summarise.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from dataclasses import asdict, astuple, dataclass, field
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np
from tqdm import tqdm

from ppr10k.data.layout import EXPERTS, FIRST_VAL_GROUP
from ppr10k.io import write_image

POLYGON_ASSET = "astronaut_person_polygon.json"  # the first person's (kept for callers)
LANDSCAPE = (360, 540)  # (H, W) of the 360p release
PORTRAIT = (540, 360)
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec. 709 / sRGB luminance


@dataclass(frozen=True)
class Look:
    """Tonal settings of one rendering (units are this module's, not Camera Raw's).

    Attributes:
        exposure: EV, a gain of ``2**exposure`` in linear light.
        temperature: warm (> 0) or cool (< 0) shift; 1 is about 1500 K around daylight.
        tint: magenta (> 0) or green (< 0) shift.
        contrast: S-curve strength in the sRGB domain, in [-0.5, 0.5].
        saturation: chroma gain - 1 around luma, > -1.
    """

    exposure: float = 0.0
    temperature: float = 0.0
    tint: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0

    def __add__(self, other: Look) -> Look:
        """Settings add up, as offsets added to Camera Raw settings do."""
        return Look(*(a + b for a, b in zip(astuple(self), astuple(other))))


@dataclass(frozen=True)
class ExpertStyle:
    """An expert's look: one :class:`Look` for the person, one for the background."""

    name: str
    person: Look
    background: Look


#: The three experts of the sample set (distinct, consistent looks favouring the person).
EXPERT_STYLES: dict[str, ExpertStyle] = {
    "a": ExpertStyle("bright and warm, skin first",
                     person=Look(exposure=0.45, temperature=0.12, contrast=0.05, saturation=0.08),
                     background=Look(exposure=0.2, temperature=0.04, saturation=-0.1)),
    "b": ExpertStyle("neutral and natural",
                     person=Look(exposure=0.3, contrast=0.08, saturation=0.02),
                     background=Look(exposure=0.1, contrast=0.0, saturation=-0.05)),
    "c": ExpertStyle("contrasty, cool background",
                     person=Look(exposure=0.2, temperature=-0.02, contrast=0.35,
                                 saturation=0.15),
                     background=Look(exposure=-0.1, temperature=-0.15, contrast=0.3,
                                     saturation=-0.3)),
}

#: The camera's default rendering: a little flat, as raw converters' defaults are.
CAMERA_DEFAULT = Look(contrast=-0.18, saturation=-0.1)


@dataclass
class SampleSummary:
    """What :func:`make_sample_dataset` wrote."""

    root: Path
    seed: int
    train_groups: list[int]
    val_groups: list[int]
    per_group: int
    n_aug: int
    files: int
    seconds: float
    sizes: dict[str, int] = field(default_factory=dict)
    people: dict[int, str] = field(default_factory=dict)  # group -> key of PEOPLE

    @property
    def n_train_photos(self) -> int:
        return len(self.train_groups) * self.per_group

    @property
    def n_val_photos(self) -> int:
        return len(self.val_groups) * self.per_group

    def __str__(self) -> str:
        return (f"{self.root}: {len(self.train_groups)} training groups "
                f"({self.n_train_photos} photos x {1 + self.n_aug} sources), "
                f"{len(self.val_groups)} validation groups ({self.n_val_photos} photos), "
                f"{self.files} files in {self.seconds:.1f} s{self._people_text()}")

    def _people_text(self) -> str:
        counts = {p.label: sum(1 for n in self.people.values() if n == key)
                  for key, p in PEOPLE.items()}
        text = ", ".join(f"{label} in {n}" for label, n in counts.items() if n)
        return f"; groups with {text}" if text else ""


# --------------------------------------------------------------------------- colour ops
def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light (IEC 61966-2-1 EOTF)."""
    srgb = np.clip(srgb, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] -> sRGB-encoded values (inverse EOTF), clipped to [0, 1]."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear,
                    1.055 * np.power(linear, 1.0 / 2.4) - 0.055)


def white_balance_gains(temperature: float, tint: float) -> np.ndarray:
    """RGB gains of a warm/cool and magenta/green shift, normalised to keep luminance."""
    gains = np.array([np.exp(0.35 * temperature), np.exp(-0.2 * tint),
                      np.exp(-0.35 * temperature)], dtype=np.float64)
    return (gains / float(_LUMA @ gains)).astype(np.float32)


def _soft_clip(linear: np.ndarray, knee: float = 0.8) -> np.ndarray:
    """Roll values above ``knee`` smoothly towards 1 (a highlight shoulder, no hard clip)."""
    over = np.maximum(linear - knee, 0.0)
    return np.where(linear > knee, knee + (1.0 - knee) * np.tanh(over / (1.0 - knee)), linear)


def s_curve(srgb: np.ndarray, contrast: float) -> np.ndarray:
    """Contrast ``x + 2c·x(1-x)(2x-1)``: slope ``1 + c`` at mid-grey, monotonic for |c| <= 0.5."""
    c = float(np.clip(contrast, -0.5, 0.5))
    return srgb + 2.0 * c * srgb * (1.0 - srgb) * (2.0 * srgb - 1.0)


def develop(linear: np.ndarray, look: Look) -> np.ndarray:
    """Render linear RGB ``(H, W, 3)`` with ``look``: exposure and white balance in linear
    light, highlight shoulder, sRGB encoding, S-curve contrast, saturation around luma.

    Returns float32 sRGB in [0, 1].
    """
    gains = (2.0 ** look.exposure) * white_balance_gains(look.temperature, look.tint)
    x = _soft_clip(linear * gains.astype(np.float32))
    srgb = s_curve(linear_to_srgb(x), look.contrast)
    luma = srgb @ _LUMA
    srgb = luma[..., None] + (srgb - luma[..., None]) * (1.0 + look.saturation)
    return np.clip(srgb, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------- people
def _load_astronaut() -> np.ndarray:
    from skimage import data as skdata

    return skdata.astronaut().astype(np.float32) / 255.0


def _load_grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    from ppr10k.io import read_image

    # a file inside the installed Matplotlib (mpl-data/sample_data); no network
    return read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@dataclass(frozen=True)
class Person:
    """A public-domain portrait the sample set is made from, and its person outline.

    Attributes:
        name: key in :data:`PEOPLE` (also written to ``sample.json``).
        label: who it is, for reports.
        credit: source and licence of the photograph.
        polygon_asset: file in ``ppr10k/demo/assets`` with the hand-drawn outline.
        size_wh: (width, height) of the photograph in pixels.
        head_box: (x0, y0, x1, y1) px around the hair, face and headwear; every framing
            keeps it in the picture.
        shot_scale: range of the shots' zoom around their shoot's framing (< 1: closer).
            Grace Hopper's is narrower: her face against the dark uniform changes a
            photo's mean colour more per zoom step than the astronaut's face against the
            orange suit, and shoots of either person should vary about as much in colour
            from shot to shot (M^GLC of the sources and targets).
    """

    name: str
    label: str
    credit: str
    polygon_asset: str
    size_wh: tuple[int, int]
    head_box: tuple[float, float, float, float]
    shot_scale: tuple[float, float] = (0.8, 1.1)

    def load(self) -> np.ndarray:
        """The photograph: float32 sRGB ``(H, W, 3)`` in [0, 1], read from a dependency."""
        image = _LOADERS[self.name]()
        if image.shape[:2] != self.size_wh[::-1]:
            raise RuntimeError(f"{self.name}: expected a {self.size_wh[0]}x{self.size_wh[1]} "
                               f"photo, got {image.shape[1]}x{image.shape[0]}")
        return image


_LOADERS = {"astronaut": _load_astronaut, "grace_hopper": _load_grace_hopper}

#: The people of the sample set, in the order groups cycle through them.
PEOPLE: dict[str, Person] = {p.name: p for p in (
    Person("astronaut", "Eileen Collins",
           "skimage.data.astronaut(): Eileen Collins, NASA portrait; public domain",
           POLYGON_ASSET, (512, 512), (150.0, 14.0, 302.0, 180.0)),
    Person("grace_hopper", "Grace Hopper",
           "matplotlib sample data grace_hopper.jpg: Grace M. Hopper, U.S. Navy portrait "
           "(1984); public domain", "grace_hopper_person_polygon.json", (512, 600),
           (150.0, 22.0, 378.0, 310.0), shot_scale=(0.9, 1.0)),
)}


def person_of_group(group_id: int) -> str:
    """Who is in group ``group_id``: the people of :data:`PEOPLE` in turn (even: first)."""
    names = list(PEOPLE)
    return names[group_id % len(names)]


# --------------------------------------------------------------------------- geometry
def person_polygon(person: str = "astronaut") -> np.ndarray:
    """The hand-drawn outline of ``person`` (a :data:`PEOPLE` key): ``(V, 2)`` (x, y) px."""
    asset = PEOPLE[person].polygon_asset
    text = resources.files("ppr10k.demo").joinpath("assets", asset).read_text()
    return np.asarray(json.loads(text)["polygon_xy"], dtype=np.float64)


def person_mask(person: str = "astronaut") -> np.ndarray:
    """Boolean ``(H, W)`` mask of ``person`` in their photograph (True on the person)."""
    from skimage.draw import polygon

    xy = person_polygon(person)
    width, height = PEOPLE[person].size_wh
    mask = np.zeros((height, width), dtype=bool)
    rows, cols = polygon(xy[:, 1], xy[:, 0], mask.shape)
    mask[rows, cols] = True
    return mask


def astronaut_person_mask() -> np.ndarray:
    """Boolean ``(512, 512)`` mask of the person in ``skimage.data.astronaut()``."""
    return person_mask("astronaut")


def _crop_transform(box: tuple[float, float, float, float], out_hw: tuple[int, int],
                    mirror: bool) -> np.ndarray:
    """3x3 map from output pixel (col, row) to source pixel for crop ``box = (x0, y0, w, h)``."""
    x0, y0, w, h = box
    out_h, out_w = out_hw
    sx, sy = w / out_w, h / out_h
    if mirror:  # output column 0 samples the right edge of the box
        return np.array([[-sx, 0.0, x0 + w - 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5],
                         [0.0, 0.0, 1.0]])
    return np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5],
                     [0.0, 0.0, 1.0]])


def _warp(image: np.ndarray, matrix: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Resample ``image`` (H, W[, C]) at ``matrix @ (col, row, 1)`` bilinearly, edges clamped."""
    from scipy.ndimage import map_coordinates

    out_h, out_w = out_hw
    rows, cols = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    src_c = matrix[0, 0] * cols + matrix[0, 1] * rows + matrix[0, 2]
    src_r = matrix[1, 0] * cols + matrix[1, 1] * rows + matrix[1, 2]
    coords = np.stack([src_r, src_c])
    if image.ndim == 2:
        return map_coordinates(image, coords, order=1, mode="nearest").astype(np.float32)
    return np.stack([map_coordinates(image[..., c], coords, order=1, mode="nearest")
                     for c in range(image.shape[2])], axis=-1).astype(np.float32)


def _feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return np.clip(gaussian_filter(mask.astype(np.float32), sigma), 0.0, 1.0)


# --------------------------------------------------------------------------- groups and shots
@dataclass(frozen=True)
class _Group:
    """One synthetic shoot: framing, backdrop and scene lighting."""

    group_id: int
    person: str  # key of PEOPLE
    portrait: bool
    box: tuple[float, float, float, float]  # x0, y0, w, h in the person's photo
    mirror: bool
    backdrop_rgb: tuple[float, float, float]
    backdrop_strength: float
    scene: Look


def _clamp_box(x0: float, y0: float, w: float, h: float,
               size_wh: tuple[int, int] = (512, 512)) -> tuple[float, float, float, float]:
    width, height = float(size_wh[0]), float(size_wh[1])
    w, h = min(w, width), min(h, height)
    return (float(np.clip(x0, 0.0, width - w)), float(np.clip(y0, 0.0, height - h)), w, h)


def _draw_group(group_id: int, rng: np.random.Generator, person: str | None = None) -> _Group:
    """Draw a shoot; ``person`` defaults to :func:`person_of_group`."""
    import colorsys

    person = person or person_of_group(group_id)
    width, height = PEOPLE[person].size_wh
    portrait = bool(rng.random() < 0.5)
    zoom = rng.uniform(0.72, 1.0)
    # at zoom 1, a 2:3 (or 3:2) box as tall (wide) as the photo allows
    w, h = ((min(height * 2 / 3, width), min(height, width * 3 / 2)) if portrait
            else (min(width, height * 3 / 2), min(width * 2 / 3, height)))
    w, h = w * zoom, h * zoom
    hx0, hy0, hx1, _ = PEOPLE[person].head_box
    lo, hi = max(0.0, hx1 + 8 - w), min(hx0 - 8, width - w)
    x0 = rng.uniform(lo, hi) if hi > lo else (width - w) / 2
    y0 = rng.uniform(0.0, min(hy0 - 2, height - h))
    hue = rng.random()
    rgb = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.25, 0.6), 1.0))
    rgb = rgb / float(_LUMA @ rgb)
    scene = Look(exposure=rng.uniform(-0.7, 0.3), temperature=rng.uniform(-0.45, 0.45),
                 tint=rng.uniform(-0.15, 0.15))
    return _Group(group_id, person, portrait, _clamp_box(x0, y0, w, h, (width, height)),
                  bool(rng.random() < 0.5),
                  tuple(float(v) for v in rgb), float(rng.uniform(0.3, 0.8)), scene)


def _shot_spread(rng: np.random.Generator) -> Look:
    """Per-shot variation of a camera across a session (auto exposure / white balance)."""
    return Look(exposure=rng.uniform(-0.2, 0.2), temperature=rng.uniform(-0.015, 0.015),
                tint=rng.uniform(-0.01, 0.01), contrast=rng.uniform(-0.06, 0.06))


def _augment_offset(rng: np.random.Generator) -> Look:
    """Offsets of an augmented render ``G_I_K`` (after spec §2, smaller ranges)."""
    return Look(exposure=rng.uniform(-0.5, 0.5), temperature=rng.uniform(-0.3, 0.3),
                tint=rng.uniform(-0.1, 0.1), contrast=rng.uniform(-0.2, 0.0),
                saturation=rng.uniform(0.0, 0.2))


def _shot_box(group: _Group, rng: np.random.Generator) -> tuple[float, float, float, float]:
    x0, y0, w, h = group.box
    scale = rng.uniform(*PEOPLE[group.person].shot_scale)  # close-ups and wider shots
    nw, nh = w * scale, h * scale
    cx = x0 + w / 2 + rng.uniform(-0.03, 0.03) * w
    cy = y0 + h / 2 + rng.uniform(-0.03, 0.03) * h
    return _clamp_box(cx - nw / 2, cy - nh / 2, nw, nh, PEOPLE[group.person].size_wh)


class _Photo:
    """A person's photograph in linear light, its person mask and feathered mask."""

    _cached: ClassVar[dict[str, _Photo]] = {}

    @classmethod
    def shared(cls, person: str) -> _Photo:
        """The photo of ``person``, loaded once per process (read-only afterwards)."""
        if person not in cls._cached:
            cls._cached[person] = cls(person)
        return cls._cached[person]

    def __init__(self, person: str) -> None:
        self.linear = srgb_to_linear(PEOPLE[person].load())
        self.mask = person_mask(person).astype(np.float32)
        self.soft = _feather(self.mask, 2.5)
        self.luma = self.linear @ _LUMA

    def with_backdrop(self, group: _Group) -> np.ndarray:
        """The photo with its background recoloured to the group's backdrop (linear)."""
        weight = (group.backdrop_strength * (1.0 - self.soft))[..., None]
        recoloured = self.luma[..., None] * np.asarray(group.backdrop_rgb, dtype=np.float32)
        return (self.linear * (1.0 - weight) + recoloured * weight).astype(np.float32)


def expert_render(clean_linear: np.ndarray, soft_mask: np.ndarray,
                  style: ExpertStyle) -> np.ndarray:
    """An expert's retouch of a clean photo: person and background looks blended by mask."""
    person = develop(clean_linear, style.person)
    background = develop(clean_linear, style.background)
    m = soft_mask[..., None]
    return (person * m + background * (1.0 - m)).astype(np.float32)


@dataclass
class Shot:
    """One rendered photo: its sources (``G_I`` then ``G_I_K``), expert targets and mask.

    ``look`` is the source ``G_I``'s rendering (the camera default, the shoot's light and
    the shot's spread).
    """

    sources: list[np.ndarray]
    targets: dict[str, np.ndarray]
    mask: np.ndarray
    look: Look = field(default_factory=Look)


def _render_group(group_id: int, seed: int, per_group: int, n_aug: int,
                  experts: tuple[str, ...], scale: float = 1.0):
    """Yield the :class:`Shot` s of a group; the random draws do not depend on ``scale``."""
    rng = np.random.default_rng([seed, group_id])
    group = _draw_group(group_id, rng)
    photo = _Photo.shared(group.person)
    clean_full = photo.with_backdrop(group)
    stack = np.concatenate([clean_full, photo.mask[..., None], photo.soft[..., None]], axis=-1)
    out_hw = PORTRAIT if group.portrait else LANDSCAPE
    out_hw = (round(out_hw[0] * scale), round(out_hw[1] * scale))
    for _ in range(per_group):
        matrix = _crop_transform(_shot_box(group, rng), out_hw, group.mirror)
        warped = _warp(stack, matrix, out_hw)
        clean, mask, soft = warped[..., :3], warped[..., 3] > 0.5, warped[..., 4]
        source_look = CAMERA_DEFAULT + group.scene + _shot_spread(rng)
        sources = [develop(clean, source_look)]
        sources += [develop(clean, source_look + _augment_offset(rng)) for _ in range(n_aug)]
        targets = {e: expert_render(clean, soft, EXPERT_STYLES[e]) for e in experts}
        yield Shot(sources, targets, mask, source_look)


def render_group(group_id: int, per_group: int = 4, seed: int = 0, scale: float = 1.0,
                 experts: tuple[str, ...] = EXPERTS) -> list[Shot]:
    """The photos of a validation group of the sample set, at ``scale`` x the 360p size.

    With ``scale=1`` the sources, targets and masks equal the files
    :func:`make_sample_dataset` writes for ``group_id`` (a validation group) with the same
    ``seed`` and ``per_group``; a larger scale renders the same shots with more pixels
    (resampled from the photograph, about 512 px a side), to try full-resolution retouching.
    The person in it is :func:`person_of_group`.
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return list(_render_group(group_id, seed, per_group, 0, experts, scale))


# --------------------------------------------------------------------------- sidecars
#: Sidecar folders at the dataset root, as in the official raw release.
SIDECAR_FOLDERS = ("xmp_source",) + tuple(f"xmp_target_{e}" for e in EXPERTS)


def camera_raw_look(look: Look) -> dict[str, float]:
    """A :class:`Look` in Camera Raw's units, approximately.

    Exposure2012 in EV; Temperature in kelvin around 5500 K (1 unit of ``temperature`` is
    about 1500 K); Tint, Contrast2012 and Saturation on Camera Raw's -100..100 scales.

    >>> camera_raw_look(Look(exposure=0.5, temperature=0.1, contrast=0.2))
    {'Exposure2012': 0.5, 'Temperature': 5650, 'Tint': 0, 'Contrast2012': 20, 'Saturation': 0}
    """
    return {"Exposure2012": round(look.exposure, 2),
            "Temperature": round(5500 + 1500 * look.temperature),
            "Tint": round(100 * look.tint),
            "Contrast2012": round(100 * look.contrast),
            "Saturation": round(100 * look.saturation)}


def capture_time(group_id: int, index: int) -> dt.datetime:
    """The sample set's capture time of photo ``G_I``: a shoot a day, shots a minute apart."""
    start = dt.datetime(2024, 1, 1, 9 + group_id % 9) + dt.timedelta(days=group_id % 365)
    return start + dt.timedelta(minutes=index)


def sidecar_text(look: Look, when: dt.datetime) -> str:
    """A minimal Camera Raw sidecar with ``look``'s settings and the capture time."""
    from ppr10k.xmp import format_setting

    settings = "".join(f'\n    crs:{name}="{format_setting(name, value)}"'
                       for name, value in camera_raw_look(look).items())
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
            ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            '  <rdf:Description rdf:about=""\n'
            '    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"\n'
            '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
            f'    xmp:CreateDate="{when.isoformat()}"\n'
            '    crs:ProcessVersion="11.0"\n'
            f'    crs:WhiteBalance="Custom"{settings}/>\n'
            ' </rdf:RDF>\n'
            '</x:xmpmeta>\n')


def _write_sidecars(out: Path, stem: str, shot: Shot, when: dt.datetime) -> int:
    """``xmp_source/G_I.xmp`` and ``xmp_target_<e>/G_I.xmp`` of one shot; files written."""
    from ppr10k.xmp.write import write_bytes_atomic

    looks = {"xmp_source": shot.look}
    looks.update({f"xmp_target_{e}": EXPERT_STYLES[e].person for e in shot.targets})
    for folder, look in looks.items():
        write_bytes_atomic(out / folder / f"{stem}.xmp", sidecar_text(look, when).encode())
    return len(looks)


# --------------------------------------------------------------------------- the dataset
def _prepare_out(out: Path, overwrite: bool) -> None:
    existing = [out / name for name in ("train", "val", *SIDECAR_FOLDERS)
                if (out / name).exists()]
    if not existing:
        return
    if not overwrite:
        names = ", ".join(f"{p.name}/" for p in existing)
        raise FileExistsError(f"{out} already holds {names}: "
                              "choose an empty folder, or replace it "
                              "(`ppr10k data sample --force`)")
    if not (out / "sample.json").is_file():
        raise FileExistsError(f"{out} holds {', '.join(f'{p.name}/' for p in existing)} not "
                              "made by `ppr10k data sample` (no sample.json): refusing to "
                              "delete it")
    for path in existing:
        shutil.rmtree(path)


def make_sample_dataset(out: str | os.PathLike, groups: int = 6, per_group: int = 4,
                        seed: int = 0, val_groups: int | None = None, n_aug: int = 5,
                        experts: tuple[str, ...] = EXPERTS, overwrite: bool = False,
                        progress: bool = True) -> SampleSummary:
    """Write a small PPR10K-like dataset in the official 360p layout (spec §1).

    Args:
        out: the dataset root to create (``train/`` and ``val/`` go inside).
        groups: number of groups (shoots) in all.
        per_group: photos per group.
        seed: everything is a function of the seed (the same seed gives the same files).
        val_groups: how many of the groups are validation groups (numbered from 1356);
            default a third, at least 1.
        n_aug: augmented sources ``G_I_K`` per training photo (K = 1..n_aug; 5 officially).
        experts: which expert targets to write (``a``, ``b``, ``c``).
        overwrite: replace ``train/`` and ``val/`` of an earlier sample set in ``out``.
        progress: show a progress bar.

    Returns:
        A :class:`SampleSummary` (group ids, counts, time).

    Raises:
        ValueError: for impossible sizes.
        FileExistsError: ``out`` already holds a dataset and ``overwrite`` is False.
    """
    if groups < 2:
        raise ValueError(f"groups must be >= 2 (one training and one validation), got {groups}")
    if per_group < 1:
        raise ValueError(f"per_group must be >= 1, got {per_group}")
    if not 0 <= n_aug <= 9:
        raise ValueError(f"n_aug must be in 0..9, got {n_aug}")
    unknown = [e for e in experts if e not in EXPERT_STYLES]
    if unknown or not experts:
        raise ValueError(f"experts must be among {tuple(EXPERT_STYLES)}, got {experts}")
    n_val = max(1, round(groups / 3)) if val_groups is None else int(val_groups)
    if not 1 <= n_val < groups:
        raise ValueError(f"val_groups must be in 1..{groups - 1}, got {n_val}")
    n_train = groups - n_val
    if n_train > FIRST_VAL_GROUP:
        raise ValueError(f"at most {FIRST_VAL_GROUP} training groups, got {n_train}")

    start = time.perf_counter()
    out = Path(out)
    _prepare_out(out, overwrite)
    train_ids = list(range(n_train))
    val_ids = list(range(FIRST_VAL_GROUP, FIRST_VAL_GROUP + n_val))
    jobs = [("train", g) for g in train_ids] + [("val", g) for g in val_ids]
    files = 0
    bar = tqdm(total=len(jobs) * per_group, desc="sample set", unit="photo",
               disable=not progress)
    for split, group_id in jobs:
        split_dir = out / split
        source_dir = split_dir / ("source_aug" if split == "train" else "source")
        shots = _render_group(group_id, seed, per_group,
                              n_aug if split == "train" else 0, experts)
        for index, shot in enumerate(shots):
            stem = f"{group_id}_{index}"
            for k, source in enumerate(shot.sources):
                name = f"{stem}.tif" if k == 0 else f"{stem}_{k}.tif"
                write_image(source_dir / name, source, bits=16)
            for expert, target in shot.targets.items():
                write_image(split_dir / f"target_{expert}" / f"{stem}.tif", target, bits=8)
            write_image(split_dir / "masks" / f"{stem}.png",
                        (shot.mask * np.uint8(255)).astype(np.uint8))
            files += len(shot.sources) + len(shot.targets) + 1
            files += _write_sidecars(out, stem, shot, capture_time(group_id, index))
            bar.update(1)
    bar.close()
    summary = SampleSummary(out, seed, train_ids, val_ids, per_group, n_aug, files,
                            time.perf_counter() - start,
                            people={g: person_of_group(g) for g in train_ids + val_ids})
    _write_info(out, summary, experts)
    return summary


def _write_info(out: Path, summary: SampleSummary, experts: tuple[str, ...]) -> None:
    from ppr10k.io import atomic_write

    info = {
        "made_by": "ppr10k data sample",
        "seed": summary.seed,
        "train_groups": summary.train_groups,
        "val_groups": summary.val_groups,
        "per_group": summary.per_group,
        "n_aug": summary.n_aug,
        "experts": {e: {"look": EXPERT_STYLES[e].name,
                        "person": asdict(EXPERT_STYLES[e].person),
                        "background": asdict(EXPERT_STYLES[e].background)} for e in experts},
        "people": {str(g): name for g, name in summary.people.items()},
        "photographs": {p.name: p.credit for p in PEOPLE.values()},
        "masks": {p.name: f"hand-drawn polygon, ppr10k/demo/assets/{p.polygon_asset}"
                  for p in PEOPLE.values()},
        "note": "synthetic shoots made from two public-domain photographs; not PPR10K data",
    }
    with atomic_write(out / "sample.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
