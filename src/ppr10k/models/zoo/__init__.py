"""The built-in model zoo: the published 3D-LUT, AdaInt and SepLUT models, converted.

Each entry is a ppr10k model folder shipped in this package (``<name>/model.safetensors``
and ``config.json``), converted by :func:`build_zoo` from the authors' own checkpoints with
:func:`ppr10k.models.import_official`. All were trained by their authors on MIT-Adobe FiveK
(480p, expert C's retouching as targets) and are under the Apache License 2.0; the
licences and a NOTICE naming each source are in this folder (``LICENSE-*``, ``NOTICE``).

``--model`` takes a zoo name (:func:`resolve_model`); ``ppr10k retouch`` without
``--model`` uses :data:`DEFAULT_MODEL`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ppr10k.models.registry import suggest

__all__ = ["DEFAULT_MODEL", "ZOO", "ZOO_DIR", "ZooEntry", "build_zoo", "resolve_model", "zoo_listing",
           "zoo_scores"]

ZOO_DIR = Path(__file__).resolve().parent
#: measured sample-set scores, written by ``benchmarks/zoo_scores.py``
SCORES_FILE = ZOO_DIR / "scores.json"

_FIVEK = "MIT-Adobe FiveK 480p, expert C (paired)"
_FIVEK_XYZ = "MIT-Adobe FiveK 480p 16-bit linear XYZ (Lightroom) -> expert C sRGB"
_XYZ_NOTE = ("camera raws only: LibRaw develops them to linear XYZ, not the Lightroom export "
             "the model was trained on, so colours differ from the paper's")
_REPOS = {
    "3dlut": ("HuiZeng/Image-Adaptive-3DLUT", "b491f6df64a588864739a157db271e5c848e1805",
              "LICENSE-Image-Adaptive-3DLUT"),
    "adaint": ("ImCharlesY/AdaInt", "5678851339dff90becb09c3dec41e7214207ccbc",
               "LICENSE-AdaInt"),
    "seplut": ("ImCharlesY/SepLUT", "49d8bc3f42c5dfc09140786d0da1e47e3adb0619",
               "LICENSE-SepLUT"),
}


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model and where it came from.

    Attributes:
        name: the zoo name (``--model NAME``).
        family: its model family.
        trained_on: the data and targets its authors trained it on.
        input_space: ``srgb`` or ``xyz`` (see :class:`~ppr10k.models.ModelConfig`).
        repo, commit: the authors' repository and the commit the checkpoint was taken from.
        files: the checkpoint files in that repository (``shared/models`` layout).
        licence: SPDX identifier, and the licence file in this folder.
        note: what to know when using it.
        thumbnail: long edge of the training photos (FiveK "480p": 480 px on the short
            side, about 720 on the long side of a 3:2 photo); photos no larger go to the
            encoder as they are, exactly as in the authors' test code.
    """

    name: str
    family: str
    source: str
    files: tuple[str, ...]
    input_space: str = "srgb"
    trained_on: str = _FIVEK
    licence: str = "Apache-2.0"
    note: str = ""
    thumbnail: int = 720
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def repo(self) -> str:
        return _REPOS[self.source][0]

    @property
    def commit(self) -> str:
        return _REPOS[self.source][1]

    @property
    def licence_file(self) -> Path:
        return ZOO_DIR / _REPOS[self.source][2]

    @property
    def path(self) -> Path:
        return ZOO_DIR / self.name


ZOO: dict[str, ZooEntry] = {e.name: e for e in (
    ZooEntry("lut3d-fivek-srgb", "lut3d", "3dlut",
             ("lut3d_tpami/sRGB_LUTs.pth", "lut3d_tpami/sRGB_classifier.pth"),
             note="3 basis LUTs of 33^3, the paper's 5-conv CNN"),
    ZooEntry("adaint-fivek-srgb", "adaint", "adaint", ("adaint/AiLUT-FiveK-sRGB.pth",),
             note="3 basis LUTs of 33^3 on an adaptive lattice"),
    ZooEntry("seplut-fivek-srgb-m6", "seplut", "seplut",
             ("seplut/SepLUT-FiveK-sRGB-M6#3D9#1D9.pth",),
             note="M6#3D9#1D9: 1D LUTs of 9, 3D LUT of 9^3, the smallest"),
    ZooEntry("seplut-fivek-srgb-m8-17", "seplut", "seplut",
             ("seplut/SepLUT-FiveK-sRGB-M8#3D17#1D17.pth",),
             note="M8#3D17#1D17: 1D LUTs of 17, 3D LUT of 17^3"),
    ZooEntry("seplut-fivek-srgb-m8-33", "seplut", "seplut",
             ("seplut/SepLUT-FiveK-sRGB-M8#3D33#1D33.pth",),
             note="M8#3D33#1D33: 1D LUTs of 33, 3D LUT of 33^3"),
    ZooEntry("lut3d-fivek-xyz", "lut3d", "3dlut",
             ("lut3d_tpami/XYZ_LUTs.pth", "lut3d_tpami/XYZ_classifier.pth"),
             input_space="xyz", trained_on=_FIVEK_XYZ, note=_XYZ_NOTE),
    ZooEntry("adaint-fivek-xyz", "adaint", "adaint", ("adaint/AiLUT-FiveK-XYZ.pth",),
             input_space="xyz", trained_on=_FIVEK_XYZ, note=_XYZ_NOTE),
    ZooEntry("seplut-fivek-xyz-m6", "seplut", "seplut",
             ("seplut/SepLUT-FiveK-XYZ-M6#3D9#1D9.pth",),
             input_space="xyz", trained_on=_FIVEK_XYZ, note=_XYZ_NOTE),
    ZooEntry("seplut-fivek-xyz-m8-17", "seplut", "seplut",
             ("seplut/SepLUT-FiveK-XYZ-M8#3D17#1D17.pth",),
             input_space="xyz", trained_on=_FIVEK_XYZ, note=_XYZ_NOTE),
)}

#: the model ``ppr10k retouch`` uses when no ``--model`` is given
DEFAULT_MODEL = "adaint-fivek-srgb"


def resolve_model(spec: str | os.PathLike) -> Path:
    """A ``--model`` value -> a model folder or file.

    Order: an existing path (a training run folder resolves to its ``best/``), then a zoo
    name. Anything else is a ``ValueError`` that suggests close zoo names.
    """
    path = Path(spec)
    if path.exists():
        if path.is_dir() and not (path / "model.safetensors").exists() \
                and (path / "best" / "model.safetensors").exists():
            return path / "best"
        return path
    name = str(spec)
    if name in ZOO:
        if not (ZOO[name].path / "model.safetensors").is_file():
            raise FileNotFoundError(f"zoo model {name} is not installed at {ZOO[name].path}")
        return ZOO[name].path
    raise ValueError(f"--model {name}: no such folder or file, and no zoo model of that name"
                     f"{suggest(name, list(ZOO))}; see `ppr10k models`")


def zoo_scores() -> dict[str, dict]:
    """The measured sample-set scores per zoo name (empty when not measured)."""
    if not SCORES_FILE.is_file():
        return {}
    return json.loads(SCORES_FILE.read_text())


def build_zoo(models_dir: str | os.PathLike, out_dir: str | os.PathLike = ZOO_DIR,
              names: list[str] | None = None) -> list[Path]:
    """Convert the published checkpoints under ``models_dir`` (``shared/models`` layout)
    into zoo folders under ``out_dir``; returns the folders written."""
    import shutil

    from ppr10k.models.checkpoint import load_official, save_model

    models_dir, out_dir = Path(models_dir), Path(out_dir)
    written = []
    for entry in (ZOO[n] for n in (names or list(ZOO))):
        model = load_official([models_dir / f for f in entry.files], family=entry.family,
                              input_space=entry.input_space)
        model.config.thumbnail = entry.thumbnail
        model.config.expert = None
        extra = {"zoo": {"name": entry.name, "repo": entry.repo, "commit": entry.commit,
                         "files": list(entry.files), "licence": entry.licence,
                         "trained_on": entry.trained_on}}
        written.append(save_model(model, out_dir / entry.name, extra=extra))
        licence = models_dir / entry.files[0].split("/")[0] / "LICENSE"
        shutil.copyfile(licence, out_dir / entry.licence_file.name)
    return written


def zoo_listing() -> dict:
    """Families and zoo models with their facts (what ``ppr10k models`` prints)."""
    from ppr10k.models.registry import FAMILIES
    scores = zoo_scores()
    rows = []
    for entry in ZOO.values():
        size = sum(f.stat().st_size for f in entry.path.glob("*") if f.is_file())
        rows.append({"name": entry.name, "family": entry.family, "default":
                     entry.name == DEFAULT_MODEL, "input_space": entry.input_space,
                     "trained_on": entry.trained_on, "licence": entry.licence,
                     "size_mb": size / 1e6, "source": f"{entry.repo}@{entry.commit[:12]}",
                     "note": entry.note, "sample_set": scores.get("models", {}).get(entry.name)})
    return {"families": [{"name": f.name, "summary": f.summary, "reference": f.reference}
                         for f in FAMILIES.values()],
            "zoo": rows, "sample_set_note": scores.get("note", "")}
