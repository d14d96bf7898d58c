"""No command loses data: one table row per way a command could write where it must not.

Each row builds its inputs in a scratch folder (a tiny PPR10K dataset ``data/``, a tiny model
``model/``, a photo shoot ``shoot/`` holding an unrelated ``IMG_1.png``, ...), runs the
command line, and checks the exit code, a substring of the one-line error and that every
file under the protected paths is unchanged (same bytes, same mtime, none added or
removed). Adding a case is adding a row.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from ppr10k.cli.main import main
from ppr10k.io import write_photo
from ppr10k.io.guard import RunLock
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model


def _photo(path: Path, value: int = 120) -> None:
    write_photo(path, np.full((16, 24, 3), value, np.uint8), None)


def _dataset(tmp: Path) -> None:
    """``data/``: the tiny PPR10K dataset (the test asks for ``tiny_ppr10k`` first)."""
    (tmp / "ppr10k").rename(tmp / "data")


def _model(tmp: Path) -> None:
    save_model(AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=5)), tmp / "model")


def _shoot(tmp: Path) -> None:
    (tmp / "shoot").mkdir()
    _photo(tmp / "shoot" / "IMG_1.jpg")
    _photo(tmp / "shoot" / "IMG_1.png", 30)  # unrelated: not this run's


def _predictions(tmp: Path) -> None:
    (tmp / "preds").mkdir()
    _photo(tmp / "preds" / "1356_0.png", 10)  # an earlier run's, or someone's


def _earlier_output(tmp: Path) -> None:
    (tmp / "done").mkdir()
    _photo(tmp / "done" / "IMG_1.png", 50)  # not written by this run


def _other_run(tmp: Path) -> None:
    (tmp / "run").mkdir()
    (tmp / "run" / "config.json").write_text('{"note": "another run"}\n')
    (tmp / "run" / "log.jsonl").write_text('{"epoch": 1}\n')


def _two_folders(tmp: Path) -> None:
    for name in ("a", "b"):
        (tmp / name).mkdir()
        _photo(tmp / name / f"{name}1.jpg")


def _tree_to_split(tmp: Path) -> None:
    (tmp / "tree" / "raw").mkdir(parents=True)
    for stem in ("0_0", "1356_0"):
        (tmp / "tree" / "raw" / f"{stem}.CR2").write_text(stem)


def _sidecars(tmp: Path) -> None:
    (tmp / "xmp").mkdir()
    (tmp / "xmp" / "0_0.xmp").write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")


def _reports(tmp: Path) -> None:
    """Files a user keeps where reports could go."""
    (tmp / "scores.json").write_text('{"mine": true}')
    _photo(tmp / "sheet.png", 70)
    (tmp / "aug").mkdir()
    (tmp / "aug" / "0_0_1.xmp").write_text("<edited by hand/>")


def _not_a_demo(tmp: Path) -> None:
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("keep me")
    (tmp / "mine" / "demo.json").write_text('{"made_by": "me"}')  # a marker not the demo's


def _empty_checkpoints(tmp: Path) -> None:
    (tmp / "ckpt").mkdir()
    (tmp / "ckpt" / "LUTs.pth").write_bytes(b"not read: --out is refused first")


_HELD: list[RunLock] = []  # locks a row's setup holds, as another live run would


@pytest.fixture(autouse=True)
def _release_locks():
    yield
    while _HELD:
        _HELD.pop().release()


def _busy(tmp: Path) -> None:
    """``busy/``: a folder another (live) run writes into."""
    (tmp / "busy").mkdir()
    (tmp / "busy" / "1356_0.png").write_bytes(b"being written")
    _HELD.append(RunLock(tmp / "busy").acquire())


@dataclass
class Case:
    """One way to lose data: ``setup`` inputs, ``argv`` (``{t}`` is the scratch folder)."""

    name: str
    setup: list[Callable[[Path], None]]
    argv: str
    code: int
    message: str
    protected: list[str] = field(default_factory=list)


CASES = [
    Case("predict into the dataset's masks", [_dataset, _model],
         "predict --data {t}/data --model {t}/model --out {t}/data/val/masks --quiet",
         1, "inside the dataset", ["data"]),
    Case("predict into the dataset root", [_dataset, _model],
         "predict --data {t}/data --model {t}/model --out {t}/data --quiet",
         1, "is the dataset", ["data"]),
    Case("predict into a folder holding the dataset", [_dataset, _model],
         "predict --data {t}/data --model {t}/model --out {t} --quiet",
         1, "holds the dataset", ["data", "model"]),
    Case("predict into the model folder", [_dataset, _model],
         "predict --data {t}/data --model {t}/model --out {t}/model --quiet",
         1, "is the model folder", ["model", "data"]),
    Case("retouch inside the model folder", [_model, _shoot],
         "retouch {t}/shoot/IMG_1.jpg --model {t}/model --out {t}/model/out --quiet",
         1, "is inside the model folder", ["model", "shoot"]),
    Case("predict over earlier predictions", [_dataset, _model, _predictions],
         "predict --data {t}/data --model {t}/model --out {t}/preds --quiet",
         1, "1356_0.png exists", ["preds", "data"]),
    Case("retouch into the folder of an input file", [_model, _shoot],
         "retouch {t}/shoot/IMG_1.jpg --model {t}/model --out {t}/shoot --format png --quiet",
         1, "is the folder of an input", ["shoot"]),
    Case("retouch over an unrelated file", [_model, _shoot, _earlier_output],
         "retouch {t}/shoot/IMG_1.jpg --model {t}/model --out {t}/done --format png --quiet",
         1, "IMG_1.png exists and was not written by this run; pass --overwrite to replace "
            "it, --skip-existing", ["shoot", "done"]),
    Case("retouch two folders mirrored into one of them", [_model, _two_folders],
         "retouch {t}/a {t}/b --model {t}/model --out {t} --format png --quiet",
         1, "would be written into the input folder", ["a", "b"]),
    Case("train over another run's config and log", [_dataset, _other_run],
         "train --data {t}/data --out {t}/run --epochs 1 --backbone tiny --quiet",
         1, "holds another run's files (config.json, log.jsonl)", ["run", "data"]),
    Case("train into the dataset", [_dataset],
         "train --data {t}/data --out {t}/data/val/run --epochs 1 --backbone tiny --quiet",
         1, "inside the training data", ["data"]),
    Case("train into a pairs spec's edits", [_shoot, _predictions],
         "train --data pairs:{t}/shoot,{t}/preds --out {t}/preds --epochs 1 --quiet",
         1, "is the training data", ["shoot", "preds"]),
    Case("evaluate --json into the dataset", [_dataset],
         "evaluate --pred {t}/data/val/target_b --target {t}/data/val/target_a "
         "--masks {t}/data/val/masks --json {t}/data/val/scores.json --no-progress",
         1, "--json {t}/data/val/scores.json is inside the dataset", ["data"]),
    Case("evaluate --csv into the predictions", [_dataset, _predictions],
         "evaluate --pred {t}/preds --target {t}/data/val/target_a "
         "--masks {t}/data/val/masks --csv {t}/preds/scores.csv --no-progress",
         1, "--csv {t}/preds/scores.csv is inside an input folder", ["data", "preds"]),
    Case("evaluate --json over an existing file", [_dataset, _reports],
         "evaluate --pred {t}/data/val/target_b --target {t}/data/val/target_a "
         "--masks {t}/data/val/masks --json {t}/scores.json --no-progress",
         1, "scores.json exists and was not written by this run; pass --overwrite",
         ["scores.json", "data"]),
    Case("compare over an existing file", [_dataset, _reports],
         "compare --rows {t}/data/val/target_a --group 1356 --out {t}/sheet.png",
         1, "sheet.png exists and was not written by this run", ["sheet.png", "data"]),
    Case("xmp augment over an earlier sidecar", [_sidecars, _reports],
         "xmp augment --source {t}/xmp --out {t}/aug --versions 1",
         1, "0_0_1.xmp exists and was not written by this run", ["aug", "xmp"]),
    Case("compare sheet into an input folder", [_dataset],
         "compare --rows {t}/data/val/target_a --group 1356 "
         "--out {t}/data/val/target_a/sheet.png",
         1, "is inside an input folder", ["data"]),
    Case("data split into a folder being split", [_tree_to_split],
         "data split {t}/tree --out {t}/tree/raw/split --quiet",
         1, "inside a folder being split", ["tree"]),
    Case("xmp augment into its source", [_sidecars],
         "xmp augment --source {t}/xmp --out {t}/xmp --versions 1",
         1, "is an input folder", ["xmp"]),
    Case("xmp augment inside its source", [_sidecars],
         "xmp augment --source {t}/xmp --out {t}/xmp/aug --versions 1",
         1, "is inside an input folder", ["xmp"]),
    Case("import-official onto an existing model", [_model, _empty_checkpoints],
         "import-official {t}/ckpt/LUTs.pth --out {t}/model",
         1, "is not an empty folder", ["model", "ckpt"]),
    Case("retouch into a folder another run writes", [_model, _shoot, _busy],
         "retouch {t}/shoot/IMG_1.jpg --model {t}/model --out {t}/busy --quiet",
         1, "busy is in use by another ppr10k run (PID", ["busy", "shoot"]),
    Case("predict into a folder another run writes", [_dataset, _model, _busy],
         "predict --data {t}/data --model {t}/model --out {t}/busy --overwrite --quiet",
         1, "busy is in use by another ppr10k run (PID", ["busy", "data"]),
    Case("train into a folder another run writes", [_dataset, _busy],
         "train --data {t}/data --out {t}/busy --epochs 1 --quiet",
         1, "busy is in use by another ppr10k run (PID", ["busy", "data"]),
    Case("demo into a folder that is not a demo's", [_not_a_demo],
         "demo --out {t}/mine --quick --quiet",
         1, "holds no earlier demo", ["mine"]),
]


def snapshot(root: Path, names: list[str]) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file under the named paths (relative to ``root``)."""
    files = {}
    for name in names:
        top = root / name
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if path.is_file():
                files[str(path.relative_to(root))] = (path.read_bytes(),
                                                      path.stat().st_mtime_ns)
    return files


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_no_command_writes_where_it_must_not(case, tmp_path, capsys, request):
    if _dataset in case.setup:
        request.getfixturevalue("tiny_ppr10k")
    for setup in case.setup:
        setup(tmp_path)
    before = snapshot(tmp_path, case.protected)
    assert before, "a case must protect some files"
    code = main(case.argv.format(t=tmp_path).split())
    err = capsys.readouterr().err
    assert code == case.code, err
    assert case.message.format(t=tmp_path) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert snapshot(tmp_path, case.protected) == before


def test_allowed_forms_still_write(tiny_ppr10k, tmp_path, capsys):
    """The explicit ways on: --overwrite, --skip-existing, --out beside the inputs."""
    for setup in (_dataset, _model, _shoot, _predictions):
        setup(tmp_path)
    t = tmp_path
    assert main(f"predict --data {t}/data --model {t}/model --out {t}/preds --overwrite "
                "--quiet".split()) == 0
    assert (t / "preds" / "1356_1.png").is_file()
    old = (t / "shoot" / "IMG_1.png").read_bytes()
    out = t / "shoot" / "retouched"  # beside the input, not into its folder: fine
    assert main(f"retouch {t}/shoot/IMG_1.jpg --model {t}/model --out {out} --format png "
                "--quiet".split()) == 0
    stamp = (out / "IMG_1.png").stat().st_mtime_ns
    assert main(f"retouch {t}/shoot/IMG_1.jpg --model {t}/model --out {out} --format png "
                "--skip-existing --quiet".split()) == 0
    assert (out / "IMG_1.png").stat().st_mtime_ns == stamp
    assert main(f"retouch {t}/shoot/IMG_1.jpg --model {t}/model --out {out} --format png "
                "--overwrite --quiet".split()) == 0
    assert (t / "shoot" / "IMG_1.png").read_bytes() == old
    (t / "scores.json").write_text("{}")
    assert main(f"evaluate --pred {t}/data/val/target_b --target {t}/data/val/target_a "
                f"--masks {t}/data/val/masks --json {t}/scores.json --no-progress "
                "--overwrite".split()) == 0
    assert "n_images" in (t / "scores.json").read_text()
    assert "error" not in capsys.readouterr().err


def test_overwrite_and_skip_existing_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["retouch", str(tmp_path), "--out", str(tmp_path / "o"), "--overwrite",
              "--skip-existing"])
    assert "not allowed with" in capsys.readouterr().err


def test_retouch_and_predict_remove_temp_files_killed_runs_left(tiny_ppr10k, tmp_path):
    _model(tmp_path)
    _shoot(tmp_path)
    left = [tmp_path / "out" / ".IMG_1.abcd1234.tmp.png",
            tmp_path / "preds" / ".1356_0.x_y_z_12.tmp.png"]
    mine = [tmp_path / "out" / "notes.tmp", tmp_path / "preds" / ".hidden"]
    for path in left + mine:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 100)
    for path in left:
        os.utime(path, (1e9, 1e9))  # long before this run
    t = tmp_path
    assert main(f"retouch {t}/shoot/IMG_1.jpg --model {t}/model --out {t}/out --format png "
                "--quiet".split()) == 0
    assert main(f"predict --data {tiny_ppr10k} --model {t}/model --out {t}/preds "
                "--quiet".split()) == 0
    assert not any(p.exists() for p in left)
    assert all(p.exists() for p in mine)
    assert not (t / "out" / ".ppr10k.lock").exists()  # released and removed
