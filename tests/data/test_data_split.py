"""`ppr10k data split`: the official split by group id, on trees generated from the real stems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ppr10k.cli.main import main
from ppr10k.data.split import plan_split, split_dataset, split_of


def _stems(shared_data: Path, name: str) -> list[str]:
    return (shared_data / "ppr10k" / f"{name}_stems.txt").read_text().split()


@pytest.fixture(scope="module")
def official(request) -> dict[str, list[str]]:
    shared = request.getfixturevalue("shared_data")
    return {"train": _stems(shared, "train"), "val": _stems(shared, "val")}


@pytest.fixture
def flat_xmp(tmp_path, official) -> Path:
    """xmp_source/ with an empty G_I.xmp for every one of the 11,161 official stems."""
    folder = tmp_path / "xmp_source"
    folder.mkdir()
    for stem in official["train"] + official["val"]:
        (folder / f"{stem}.xmp").touch()
    (folder / "Thumbs.db").touch()
    return folder


def test_official_lists_agree_with_the_group_rule(official):
    # the rule is checked against the published lists, not against our code's output
    assert len(official["train"]) == 8875 and len(official["val"]) == 2286
    assert max(int(s.split("_")[0]) for s in official["train"]) == 1355
    assert min(int(s.split("_")[0]) for s in official["val"]) == 1356
    assert split_of(1355) == "train" and split_of(1356) == "val"


def test_flat_folder_counts(flat_xmp, tmp_path, official):
    out = tmp_path / "split"
    report = split_dataset(flat_xmp, out, mode="link")
    assert report.photos("train") == 8875 and report.photos("val") == 2286
    assert report.groups("train") == len({s.split("_")[0] for s in official["train"]})
    assert report.groups("val") == 325
    assert [p.name for p in report.folders[0].ignored] == ["Thumbs.db"]
    assert {p.stem for p in (out / "train").iterdir()} == set(official["train"])
    assert {p.stem for p in (out / "val").iterdir()} == set(official["val"])
    assert (flat_xmp / "0_0.xmp").exists()  # linked, not moved
    assert (out / "train" / "0_0.xmp").samefile(flat_xmp / "0_0.xmp")
    text = report.format()
    assert "8,875" in text and "2,286" in text


def test_tree_with_augmented_versions_and_move(tmp_path, official):
    root = tmp_path / "PPR10K"
    train, val = official["train"][:40], official["val"][:25]
    for sub in ("xmp_source", "xmp_target_a", "raw"):
        (root / sub).mkdir(parents=True)
        for stem in train + val:
            (root / sub / f"{stem}{'.CR2' if sub == 'raw' else '.xmp'}").write_text(stem)
    aug = root / "source_aug"
    aug.mkdir()
    for stem in train[:10] + val[:3]:
        for k in (1, 2):
            (aug / f"{stem}_{k}.tif").touch()
    (root / "notes").mkdir()  # no photo files: not a split folder
    out = tmp_path / "out"
    report = split_dataset(root, out, mode="move")
    assert [f.name for f in report.folders] == ["raw", "source_aug", "xmp_source",
                                                "xmp_target_a"]
    assert report.photos("train") == 40 and report.photos("val") == 25
    aug_split = next(f for f in report.folders if f.name == "source_aug")
    assert len(aug_split.files["train"]) == 20 and len(aug_split.files["val"]) == 6
    assert (out / "val" / "source_aug" / f"{val[0]}_2.tif").exists()
    assert (out / "train" / "raw" / f"{train[3]}.CR2").read_text() == train[3]
    assert not any((root / "xmp_source").iterdir())  # moved


def test_refuses_to_overwrite_and_dry_run(flat_xmp, tmp_path):
    out = tmp_path / "split"
    (out / "val").mkdir(parents=True)
    (out / "val" / "1356_0.xmp").write_text("keep me")
    with pytest.raises(ValueError, match="already exist"):
        split_dataset(flat_xmp, out, mode="copy")
    assert (out / "val" / "1356_0.xmp").read_text() == "keep me"
    assert not (out / "train").exists()  # nothing written
    with pytest.raises(ValueError, match="dataset folder itself"):
        split_dataset(flat_xmp, flat_xmp)
    counted = split_dataset(flat_xmp, None)
    assert counted.photos("val") == 2286 and not counted.done


def test_other_first_val_group(flat_xmp):
    folder = plan_split(flat_xmp, first_val_group=1)[0]
    assert {g for g, _ in folder.photos["train"]} == {0}


def test_no_photo_files_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="G_I"):
        plan_split(tmp_path / "empty")


def test_cli(flat_xmp, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["data", "split", str(flat_xmp), "--out", str(out), "--link", "--json",
                 "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["train"]["photos"] == 8875 and report["val"]["photos"] == 2286
    assert report["val"]["groups"] == 325
    assert main(["data", "split", str(flat_xmp), "--out", str(out), "--quiet"]) == 1
    assert "already exist" in capsys.readouterr().err
