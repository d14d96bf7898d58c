"""`ppr10k demo`: the whole job on the built-in sample set, ending in ``report.html``.

Stages (each prints one line when it starts and one when it ends):

1. sample set: :func:`ppr10k.data.sample.make_sample_dataset` -> ``OUT/data``;
2. train: :func:`ppr10k.train.train` (small CPU budget) -> ``OUT/run``;
3. predict the validation split per image and group-consistently -> ``OUT/predictions``;
4. retouch the validation split with the default zoo model
   (:data:`ppr10k.models.zoo.DEFAULT_MODEL`, a published model) -> ``OUT/predictions/zoo``;
5. evaluate identity, model, group-consistent model and zoo model with the paper's five
   measures (:func:`ppr10k.evaluate.folders.evaluate_folders`) -> ``OUT/evaluation``;
6. retouch one validation group at 3x the 360p size (16-bit in, 16-bit out)
   -> ``OUT/full_resolution``;
7. the report -> ``OUT/report.html`` (images and charts in ``OUT/report_files``).

Group-consistent retouching: the LUT weights of every photo of a group are predicted, averaged
over the group, and the one fused LUT retouches all the group's photos.

The zoo model was trained by its authors on MIT-Adobe FiveK with expert C's edits as
targets, not on the sample set's synthetic expert, so its PSNR and ΔE against the sample's
targets measure how far an off-the-shelf look is from this expert's look, not how well it
learned; only M^GLC (which does not use the targets) compares directly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ppr10k.io import atomic_write, write_image
from ppr10k.io.guard import LOCK_NAME, RunLock

MARKER = "demo.json"
STAGES = 7
#: what the demo says about a zoo model's scores (closing note and demo.json)
ZOO_CAVEAT = ("trained by its authors on MIT-Adobe FiveK (expert C), not on this sample's "
              "synthetic expert: its scores against the sample's targets are not comparable "
              "with the trained model's; it shows what an off-the-shelf model does to these "
              "portraits")


def zoo_caveat(model: str) -> str:
    """:data:`ZOO_CAVEAT` for a zoo name (all zoo models are FiveK expert C's); a shorter
    one for any other model given as the demo's zoo model."""
    from ppr10k.models.zoo import ZOO

    if model in ZOO:
        return ZOO_CAVEAT
    return ("not trained on this sample's synthetic expert: its scores against the sample's "
            "targets are not comparable with the trained model's")


@dataclass(frozen=True)
class DemoSettings:
    """Sizes and training budget of a demo run.

    The budget is set for a CPU: the small 3D-LUT-paper backbone from scratch, 17-point
    LUTs (smoother than the paper's 33 after a short run), a high learning rate for the LUTs
    and a low one for the backbone (a high one makes the weights swing between epochs).
    """

    groups: int = 16
    per_group: int = 4
    val_groups: int = 4
    n_aug: int = 2
    expert: str = "a"
    backbone: str = "tiny"
    lut_dim: int = 17
    epochs: int = 16
    batch_size: int = 8
    crop_size: int = 224
    lr: float = 1e-2
    backbone_lr: float = 1e-4
    max_steps_per_epoch: int | None = None
    full_res_scale: float = 3.0
    seed: int = 0
    #: zoo model retouched and scored beside the trained one; None: the default
    #: (:data:`ppr10k.models.zoo.DEFAULT_MODEL`); "" leaves the zoo stage out
    zoo_model: str | None = None

    def zoo_name(self) -> str | None:
        """The zoo model this run shows, or None when the zoo stage is off."""
        if self.zoo_model == "":
            return None
        if self.zoo_model is None:
            from ppr10k.models.zoo import DEFAULT_MODEL

            return DEFAULT_MODEL
        return self.zoo_model


#: ``ppr10k demo``: about 100 s on 2 CPU cores.
FULL = DemoSettings()
#: ``ppr10k demo --quick``: about 20 s on 2 CPU cores.
QUICK = DemoSettings(groups=10, per_group=3, val_groups=2, n_aug=1, epochs=4, crop_size=192,
                     full_res_scale=2.0)


@dataclass
class DemoResult:
    """What a demo run produced."""

    out_dir: Path
    report: Path
    summaries: dict[str, dict]  # identity / model / group / zoo / expert -> dataset measures
    groups: dict[str, list[dict]]  # same keys -> per-group rows
    history: list[dict]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    settings: DemoSettings = FULL
    zoo_model: str | None = None  # the zoo model in ``summaries["zoo"]``

    def closing_note(self) -> str:
        """Identity vs model vs group-consistent (vs zoo) numbers in a few lines of text."""
        rows = [("identity (untouched source)", self.summaries["identity"]),
                ("trained model", self.summaries["model"]),
                ("model, group-consistent", self.summaries["group"])]
        if "zoo" in self.summaries:
            rows.append((f"zoo: {self.zoo_model} *", self.summaries["zoo"]))
        width = max(30, *(len(name) for name, _ in rows))
        header = (f"{'':{width}s} {'PSNR':>7s} {'ΔE':>6s} {'PSNR^HC':>8s} {'ΔE^HC':>6s} "
                  f"{'M^GLC':>7s}")
        lines = [header]
        for name, s in rows:
            lines.append(f"{name:{width}s} {s['psnr']:7.2f} {s['delta_e']:6.2f} "
                         f"{s['psnr_hc']:8.2f} {s['delta_e_hc']:6.2f} {s['glc']:7.3f}")
        if "zoo" in self.summaries:
            lines.append(f"* {self.zoo_model}: {zoo_caveat(str(self.zoo_model))}")
        lines.append(f"wall time {self.seconds:.0f} s")
        return "\n".join(lines)


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message, flush=True)


def _is_earlier_demo(out_dir: Path) -> bool:
    """Whether ``out_dir`` is new, empty (but for a lock file) or an earlier demo's."""
    if not out_dir.exists() or not any(p.name != LOCK_NAME for p in out_dir.iterdir()):
        return True
    try:
        marker = json.loads((out_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("made_by") == "ppr10k demo"


def _refuse_foreign(out_dir: Path) -> None:
    if not _is_earlier_demo(out_dir):
        raise ValueError(f"{out_dir} is not empty and holds no earlier demo ({MARKER}); "
                         "choose a new or empty folder with --out")


def _prepare(out_dir: Path) -> None:
    """Empty a previous demo's output; refuse a non-empty folder the demo did not make."""
    _refuse_foreign(out_dir)
    if out_dir.exists():
        for name in ("data", "run", "predictions", "evaluation", "full_resolution",
                     "report_files"):
            if (out_dir / name).exists():
                shutil.rmtree(out_dir / name)
        for name in ("report.html", MARKER):
            (out_dir / name).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text(json.dumps({"made_by": "ppr10k demo"}) + "\n")


def predict_group_consistent(data_root: Path, model_path: Path, out_dir: Path,
                             progress: bool = True) -> list[Path]:
    """Write 8-bit ``G_I.png`` for every validation source, one LUT per group (``G_`` prefix)."""
    from ppr10k.retouch import retouch

    report = retouch([data_root / "val" / "source"], model_path, out_dir, fmt="png", bits=8,
                     group_consistent=True, group_by="prefix", device="cpu", progress=progress)
    if report.exit_code:
        raise RuntimeError(f"group-consistent prediction failed: {report.summary()}")
    return [r.output for r in report.results if r.output is not None]


def predict_zoo(data_root: Path, model: str, out_dir: Path, progress: bool = True) -> list[Path]:
    """Write 8-bit ``G_I.png`` for every validation source, retouched by zoo model ``model``
    (per image, on the CPU)."""
    from ppr10k.retouch import retouch

    report = retouch([data_root / "val" / "source"], model, out_dir, fmt="png", bits=8,
                     device="cpu", progress=progress)
    if report.exit_code:
        raise RuntimeError(f"retouching with zoo model {model} failed: {report.summary()}")
    return [r.output for r in report.results if r.output is not None]


def _evaluate(pred_dir: Path, data_root: Path, expert: str, progress: bool):
    from ppr10k.evaluate.folders import evaluate_folders

    return evaluate_folders(pred_dir, data_root / "val" / f"target_{expert}",
                            data_root / "val" / "masks", progress=progress)


def _full_resolution(model_path: Path, out_dir: Path, settings: DemoSettings, group: int,
                     progress: bool) -> dict:
    """Render a validation group at ``full_res_scale`` x 360p, retouch it group-consistently."""
    from ppr10k.data.sample import render_group
    from ppr10k.retouch import retouch

    shots = render_group(group, settings.per_group, settings.seed, settings.full_res_scale,
                         experts=(settings.expert,))
    sources = []
    for index, shot in enumerate(shots):
        path = write_image(out_dir / "source" / f"{group}_{index}.tif", shot.sources[0], bits=16)
        sources.append(path)
    started = time.perf_counter()
    report = retouch(sources, model_path, out_dir / "retouched", fmt="tif", bits=16,
                     group_consistent=True, group_by="prefix", device="cpu", progress=False)
    seconds = time.perf_counter() - started
    if report.exit_code:
        raise RuntimeError(f"full-resolution retouching failed: {report.summary()}")
    by_name = {r.source.name: r.output for r in report.results}
    written = [by_name[p.name] for p in sources]
    images = [shot.sources[0] for shot in shots]
    height, width = images[0].shape[:2]
    _say(f"      retouched {len(written)} photos of {width}x{height} (16-bit) in "
         f"{seconds:.2f} s", progress)
    return {"group": group, "sources": sources, "retouched": written, "seconds": seconds,
            "size": (width, height)}


def run_demo(out_dir: str | os.PathLike = "ppr10k-demo", quick: bool = False,
             settings: DemoSettings | None = None, progress: bool = True) -> DemoResult:
    """Build the sample set, train, predict, evaluate, retouch at full size, write the report.

    Args:
        out_dir: folder for everything (a previous demo there is replaced; any other
            non-empty folder is refused).
        quick: the small budget (:data:`QUICK`, about 20 s on 2 cores)
            instead of :data:`FULL`.
        settings: explicit settings (overrides ``quick``).
        progress: print stage lines and progress bars.

    Returns:
        A :class:`DemoResult`; ``result.report`` is the HTML page.
    """
    settings = settings or (QUICK if quick else FULL)
    out_dir = Path(out_dir)
    _refuse_foreign(out_dir)  # before the lock file goes into someone else's folder
    with RunLock(out_dir, "--out"):  # two demos never mix one folder
        return _run_demo(out_dir, settings, progress)


def _run_demo(out_dir: Path, settings: DemoSettings, progress: bool) -> DemoResult:
    """:func:`run_demo` while holding the folder's lock."""
    from ppr10k.data.sample import make_sample_dataset
    from ppr10k.demo.report import write_report
    from ppr10k.train import TrainConfig, predict_split, train

    started = time.perf_counter()
    _prepare(out_dir)
    data_root, run_dir = out_dir / "data", out_dir / "run"
    times: dict[str, float] = {}

    def stage(number: int, text: str) -> float:
        _say(f"[{number}/{STAGES}] {text}", progress)
        return time.perf_counter()

    t = stage(1, f"sample set: {settings.groups} groups x {settings.per_group} photos "
                 f"-> {data_root}")
    sample = make_sample_dataset(data_root, groups=settings.groups, per_group=settings.per_group,
                                 val_groups=settings.val_groups, n_aug=settings.n_aug,
                                 seed=settings.seed, progress=progress)
    times["sample set"] = time.perf_counter() - t
    _say(f"      {sample}", progress)

    t = stage(2, f"train: expert {settings.expert}, {settings.backbone} backbone, "
                 f"{settings.epochs} epochs on CPU -> {run_dir}")
    config = TrainConfig(
        data=str(data_root), out=str(run_dir), expert=settings.expert, hrp=True, glc=True,
        epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
        backbone_lr=settings.backbone_lr, crop_size=settings.crop_size,
        glc_crop=settings.crop_size * 3 // 4, backbone_weights="none", seed=settings.seed,
        device="cpu", num_workers=0, max_steps_per_epoch=settings.max_steps_per_epoch,
    ).updated(backbone=settings.backbone, lut_dim=settings.lut_dim)
    result = train(config, progress=progress)
    times["train"] = time.perf_counter() - t
    model_path = result.best_model
    _say(f"      best epoch {result.best_epoch}: val PSNR {result.best_psnr:.2f} dB", progress)

    t = stage(3, "predict the validation split (per image and group-consistent)")
    pred_model = out_dir / "predictions" / "model"
    pred_group = out_dir / "predictions" / "group_consistent"
    predict_split(data_root, "val", model_path, pred_model, device="cpu", progress=progress)
    predict_group_consistent(data_root, model_path, pred_group, progress=progress)
    times["predict"] = time.perf_counter() - t

    zoo_model = settings.zoo_name()
    pred_dirs = {"model": pred_model, "group": pred_group}
    if zoo_model:
        from ppr10k.models.zoo import ZOO

        trained_on = ZOO[zoo_model].trained_on if zoo_model in ZOO else "other data"
        t = stage(4, f"zoo model {zoo_model} (trained on {trained_on}): retouch the "
                     "validation split")
        pred_dirs["zoo"] = out_dir / "predictions" / "zoo"
        predict_zoo(data_root, zoo_model, pred_dirs["zoo"], progress=progress)
        times["zoo model"] = time.perf_counter() - t
    else:
        stage(4, "zoo model: left out")

    t = stage(5, "evaluate: identity, model, group-consistent"
                 f"{', zoo' if zoo_model else ''} (PSNR, ΔE, PSNR^HC, ΔE^HC, M^GLC)")
    target_dir = data_root / "val" / f"target_{settings.expert}"
    evaluations = {
        "identity": _evaluate(data_root / "val" / "source", data_root, settings.expert, progress),
        "model": _evaluate(pred_model, data_root, settings.expert, progress),
        "group": _evaluate(pred_group, data_root, settings.expert, progress),
    }
    if "zoo" in pred_dirs:
        evaluations["zoo"] = _evaluate(pred_dirs["zoo"], data_root, settings.expert, progress)
    evaluations["expert"] = _evaluate(target_dir, data_root, settings.expert, False)
    eval_dir = out_dir / "evaluation"
    eval_dir.mkdir(parents=True, exist_ok=True)
    for name, evaluation in evaluations.items():
        with atomic_write(eval_dir / f"{name}.json") as tmp:
            tmp.write_text(json.dumps({"summary": evaluation.summary, "groups": evaluation.groups,
                                       "images": evaluation.images}, indent=1, default=str))
    times["evaluate"] = time.perf_counter() - t

    group = sample.val_groups[0]
    t = stage(6, f"retouch group {group} at {settings.full_res_scale:g}x the 360p size, "
                 "group-consistently -> full_resolution/")
    full = _full_resolution(model_path, out_dir / "full_resolution", settings, group, progress)
    times["full resolution"] = time.perf_counter() - t

    t = stage(7, "report")
    demo = DemoResult(out_dir=out_dir, report=out_dir / "report.html",
                      summaries={k: v.summary for k, v in evaluations.items()},
                      groups={k: v.groups for k, v in evaluations.items()},
                      history=result.history, stage_seconds=times, settings=settings,
                      zoo_model=zoo_model)
    demo.seconds = time.perf_counter() - started
    write_report(demo, data_root, pred_dirs, full)
    times["report"] = time.perf_counter() - t
    demo.seconds = time.perf_counter() - started
    with atomic_write(out_dir / MARKER) as tmp:
        tmp.write_text(json.dumps({"made_by": "ppr10k demo", "seconds": demo.seconds,
                                   "settings": dataclasses.asdict(settings),
                                   "zoo_model": zoo_model,
                                   "zoo_note": zoo_caveat(zoo_model) if zoo_model else None,
                                   "summaries": demo.summaries, "stage_seconds": times},
                                  indent=1, default=str) + "\n")
    if progress:
        print(demo.closing_note(), flush=True)
    return demo
