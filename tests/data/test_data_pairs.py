"""Pairs data (``pairs:ORIGINALS,EDITED[,MASKS]``): spec parsing, matching by stem, groups,
the validation share, masks, reading JPEG/PNG/TIFF/raw pairs of different sizes, and
``ppr10k data check pairs:...``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.data import (
    EvaluationImages,
    PhotoKey,
    TrainingPairs,
    check_pairs,
    index_pairs,
    index_split,
    index_training_data,
    is_pairs_spec,
    parse_pairs_spec,
)
from ppr10k.io import photo_size, read_photo_image, to_uint, write_image

ORIENTATION = 0x0112


def picture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth float32 RGB image in [0.1, 0.9] (a gradient with a seed-dependent tint)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    ramp = (yy / max(height - 1, 1) + xx / max(width - 1, 1)) / 2
    tint = rng.uniform(0.8, 1.2, 3).astype(np.float32)
    return np.clip(0.1 + 0.8 * ramp[:, :, None] * tint, 0.1, 0.9).astype(np.float32)


def put(path: Path, height: int = 24, width: int = 36, seed: int = 0, bits: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, picture(height, width, seed), bits=bits)
    return path


def put_mask(path: Path, height: int = 24, width: int = 36) -> Path:
    mask = np.zeros((height, width, 3), np.uint8)
    mask[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 255
    return put_array(path, mask)


def put_array(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, array)
    return path


@pytest.fixture
def studio(tmp_path) -> tuple[Path, Path]:
    """Originals in three shoot folders, edits mostly mirrored, one unmatched on each side.

    ORIGINALS/shoot1: IMG_1.jpg IMG_2.png IMG_3.tif (16-bit) IMG_1.xmp (sidecar, ignored)
    ORIGINALS/shoot2: IMG_1.TIF (same name as in shoot1), IMG_4.jpg (no edit)
    ORIGINALS/shoot3: IMG_5.JPEG (its edit lies flat in EDITED)
    EDITED: shoot1/IMG_1.png IMG_2.jpg IMG_3.PNG, shoot2/IMG_1.png, IMG_5.jpg,
            other/IMG_9.jpg (no original)
    """
    originals, edited = tmp_path / "originals", tmp_path / "edited"
    for name, seed in (("shoot1/IMG_1.jpg", 1), ("shoot1/IMG_2.png", 2), ("shoot2/IMG_1.TIF", 4),
                       ("shoot2/IMG_4.jpg", 5), ("shoot3/IMG_5.JPEG", 6)):
        put(originals / name, seed=seed)
    put(originals / "shoot1/IMG_3.tif", seed=3, bits=16)
    (originals / "shoot1/IMG_1.xmp").write_text("<x:xmpmeta/>")
    (originals / ".hidden").mkdir()
    put(originals / ".hidden/IMG_8.jpg")
    for name in ("shoot1/IMG_1.png", "shoot1/IMG_2.jpg", "shoot1/IMG_3.PNG", "shoot2/IMG_1.png",
                 "IMG_5.jpg", "other/IMG_9.jpg"):
        put(edited / name, seed=10)
    return originals, edited


def rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# --- the spec string ------------------------------------------------------------------------

def test_parse_pairs_spec(tmp_path):
    spec = parse_pairs_spec("pairs:/a/orig, /b/edit")
    assert (spec.originals, spec.edited, spec.masks) == (Path("/a/orig"), Path("/b/edit"), None)
    spec = parse_pairs_spec("pairs:o,e,m")
    assert spec.masks == Path("m") and str(spec) == "pairs:o,e,m"
    assert parse_pairs_spec("pairs:~/o,e").originals == Path.home() / "o"
    assert is_pairs_spec("pairs:o,e")
    assert not is_pairs_spec("/data/ppr10k") and not is_pairs_spec(Path("pairs:o,e"))


@pytest.mark.parametrize("bad", ["pairs:", "pairs:o", "pairs:o,", "pairs:o,,e", "pairs:a,b,c,d",
                                 "/data/ppr10k"])
def test_parse_pairs_spec_refuses(bad):
    with pytest.raises(ValueError, match="pairs:ORIGINALS,EDITED"):
        parse_pairs_spec(bad)


# --- matching -------------------------------------------------------------------------------

def test_matches_by_stem_and_reports_each_unmatched_file(studio):
    originals, edited = studio
    index = index_pairs(originals, edited)
    pairs = {rel(s.source, originals): rel(s.target, edited) for s in index.train + index.val}
    assert pairs == {
        "shoot1/IMG_1.jpg": "shoot1/IMG_1.png",
        "shoot1/IMG_2.png": "shoot1/IMG_2.jpg",
        "shoot1/IMG_3.tif": "shoot1/IMG_3.PNG",
        "shoot2/IMG_1.TIF": "shoot2/IMG_1.png",   # same place beats the same name elsewhere
        "shoot3/IMG_5.JPEG": "IMG_5.jpg",          # flat edit: the one original of its name
    }
    assert [rel(p, originals) for p in index.unmatched_originals] == ["shoot2/IMG_4.jpg"]
    assert [rel(p, edited) for p in index.unmatched_edits] == ["other/IMG_9.jpg"]
    assert len(index.problems) == 2
    assert index.counts == {"originals": 6, "edited": 6, "masks": 0, "ignored": 1}
    assert [rel(p, originals) for p in index.ignored] == ["shoot1/IMG_1.xmp"]
    assert all(s.mask is None for s in index.train + index.val)  # no masks: HRP off


def test_groups_are_shoot_folders_and_keys_are_unique(studio):
    index = index_pairs(*studio)
    assert index.groups == {0: "folder shoot1", 1: "folder shoot2", 2: "folder shoot3"}
    samples = index.train + index.val
    keys = [s.key for s in samples]
    assert len(set(keys)) == len(keys) == 5
    assert len({k.photo for k in keys}) == 5  # GLC by (G, I) pairs a photo with itself
    by_group = {}
    for sample in samples:
        by_group.setdefault(sample.key.group, set()).add(sample.source.parent.name)
    assert by_group == {0: {"shoot1"}, 1: {"shoot2"}, 2: {"shoot3"}}
    assert sorted(s.key for s in samples if s.key.group == 0) == [
        PhotoKey(0, 0), PhotoKey(0, 1), PhotoKey(0, 2)]


def test_validation_holds_out_whole_groups(studio):
    index = index_pairs(*studio)
    assert len(index.val_groups) == 1  # round(0.1 * 3) = 0, but at least one
    assert {s.key.group for s in index.val} == index.val_groups
    assert not {s.key.group for s in index.train} & index.val_groups
    assert index_pairs(*studio).val == index.val  # deterministic
    sides = {frozenset(index_pairs(*studio, seed=seed).val_groups) for seed in range(12)}
    assert len(sides) > 1  # the seed picks
    assert index_pairs(*studio, val_share=0).val == []
    with pytest.raises(ValueError, match="val_share"):
        index_pairs(*studio, val_share=1.0)


def test_flat_ppr10k_names_group_by_g(tmp_path):
    originals, edited = tmp_path / "o", tmp_path / "e"
    stems = ["3_0", "3_1", "3_2", "5_0", "5_1", "8_0", "12_0", "12_1"]
    for stem in stems:
        put(originals / f"{stem}.tif")
        put(edited / f"{stem}.jpg")
    index = index_pairs(originals, edited, val_share=0.5)
    assert index.problems == []
    assert list(index.groups.values()) == ["G 3", "G 5", "G 8", "G 12"]
    assert len(index.val_groups) == 2
    members: dict[int, set[str]] = {}
    for sample in index.train + index.val:
        members.setdefault(sample.key.group, set()).add(sample.source.stem.split("_")[0])
    assert sorted(members.values(), key=sorted) == [{"12"}, {"3"}, {"5"}, {"8"}]


def test_flat_other_names_are_one_group_each(tmp_path):
    originals, edited = tmp_path / "o", tmp_path / "e"
    for i in range(10):
        put(originals / f"DSC{i:04d}.jpg")
        put(edited / f"DSC{i:04d}.jpg")
    index = index_pairs(originals, edited, val_share=0.2, seed=3)
    assert len(index.groups) == 10 and len(index.val) == 2 and len(index.train) == 8
    # a group keeps its side when a shoot is added and the number of val groups stays 2
    put(originals / "DSC0010.jpg")
    put(edited / "DSC0010.jpg")
    grown = index_pairs(originals, edited, val_share=0.2, seed=3)
    before = {s.source.name for s in index.val}
    after = {s.source.name for s in grown.val}
    assert len(after) == 2 and len(before & after) >= 1
    assert before == after or "DSC0010.jpg" in after


def test_single_group_has_no_validation(tmp_path):
    originals, edited = tmp_path / "o", tmp_path / "e"
    for i in range(3):
        put(originals / "shoot" / f"a{i}.png")
        put(edited / "shoot" / f"a{i}.png")
    index = index_pairs(originals, edited, val_share=0.5)
    assert len(index.train) == 3 and index.val == []


def test_duplicates_and_ambiguous_edits_are_problems(tmp_path):
    originals, edited = tmp_path / "o", tmp_path / "e"
    (originals / "s1").mkdir(parents=True)
    (originals / "s1" / "IMG_7.CR2").write_bytes(b"raw bytes are not read while indexing")
    put(originals / "s1" / "IMG_7.JPG")
    put(originals / "s1" / "IMG_1.jpg")
    put(originals / "s2" / "IMG_1.jpg")
    put(originals / "s2" / "IMG_2.jpg")
    put(edited / "IMG_7.jpg")          # its original exists twice
    put(edited / "IMG_1.jpg")          # two originals named IMG_1 in different shoots
    put(edited / "s2" / "IMG_2.jpg")
    put(edited / "s2" / "IMG_2.png")   # two edits of one photo
    put(edited / "s1" / "IMG_1.png")
    put(originals / "s3" / "IMG_3.jpg")
    put(edited / "IMG_3.jpg")          # flat, but s3/IMG_3.png sits at the original's place
    put(edited / "s3" / "IMG_3.png")
    index = index_pairs(originals, edited)
    kinds = {(p.kind, rel(p.path, tmp_path)) for p in index.problems}
    assert kinds == {
        ("duplicate-original", "o/s1/IMG_7.CR2"), ("duplicate-original", "o/s1/IMG_7.JPG"),
        ("unmatched-edit", "e/IMG_7.jpg"), ("unmatched-edit", "e/IMG_1.jpg"),
        ("duplicate-edit", "e/s2/IMG_2.jpg"), ("duplicate-edit", "e/s2/IMG_2.png"),
        ("unmatched-original", "o/s2/IMG_1.jpg"), ("unmatched-original", "o/s2/IMG_2.jpg"),
        ("duplicate-edit", "e/IMG_3.jpg"),
    }
    ambiguous = next(p for p in index.problems if p.path.name == "IMG_1.jpg"
                     and p.kind == "unmatched-edit")
    assert "ambiguous" in ambiguous.detail and "s1/IMG_1" in ambiguous.detail
    assert sorted((rel(s.source, tmp_path), rel(s.target, tmp_path))
                  for s in index.train + index.val) == [("o/s1/IMG_1.jpg", "e/s1/IMG_1.png"),
                                                        ("o/s3/IMG_3.jpg", "e/s3/IMG_3.png")]


def test_edited_folder_inside_originals_is_not_read_as_originals(tmp_path):
    originals = tmp_path / "shoot"
    put(originals / "a.jpg")
    put(originals / "b.jpg")
    put(originals / "export" / "a.jpg")
    put(originals / "export" / "b.jpg")
    index = index_pairs(originals, originals / "export")
    assert index.problems == [] and index.counts["originals"] == 2
    with pytest.raises(ValueError, match="must differ"):
        index_pairs(originals, originals)


def test_not_recursive_reads_the_top_folders_only(studio):
    originals, edited = studio
    put(originals / "IMG_5.png")
    index = index_pairs(originals, edited, recursive=False)
    assert [(s.source.name, s.target.name) for s in index.train + index.val] == [
        ("IMG_5.png", "IMG_5.jpg")]


# --- masks ----------------------------------------------------------------------------------

def test_masks_are_matched_and_missing_ones_reported(studio, tmp_path):
    originals, edited = studio
    masks = tmp_path / "masks"
    put_mask(masks / "shoot1" / "IMG_1.png")
    put_mask(masks / "shoot1" / "IMG_2.png")
    put_mask(masks / "IMG_5.png")                # flat, matched by name
    put_mask(masks / "shoot2" / "IMG_1.png")
    put_mask(masks / "nobody.png")               # no original
    put_mask(masks / "shoot2" / "IMG_4.png")     # original without an edit
    index = index_pairs(originals, edited, masks)
    mask_of = {rel(s.source, originals): s.mask and rel(s.mask, masks)
               for s in index.train + index.val}
    assert mask_of == {"shoot1/IMG_1.jpg": "shoot1/IMG_1.png",
                       "shoot1/IMG_2.png": "shoot1/IMG_2.png",
                       "shoot1/IMG_3.tif": None,
                       "shoot2/IMG_1.TIF": "shoot2/IMG_1.png",
                       "shoot3/IMG_5.JPEG": "IMG_5.png"}
    problems = {(p.kind, p.path.name) for p in index.problems}
    assert {("missing-mask", "IMG_3.tif"), ("unmatched-mask", "nobody.png"),
            ("unmatched-mask", "IMG_4.png")} <= problems
    strict = index_pairs(originals, edited, masks, require_masks=True)
    assert len(strict.train + strict.val) == 4
    assert all(s.mask is not None for s in strict.train + strict.val)


# --- no pairs -------------------------------------------------------------------------------

def test_no_match_is_one_clear_error(tmp_path):
    put(tmp_path / "o" / "IMG_1.jpg")
    put(tmp_path / "e" / "IMG_1-Edit.jpg")
    with pytest.raises(ValueError, match="no pairs") as error:
        index_pairs(tmp_path / "o", tmp_path / "e")
    assert "\n" not in str(error.value) and "name each edit after its original" in str(error.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no originals"):
        index_pairs(tmp_path / "empty", tmp_path / "e")
    with pytest.raises(FileNotFoundError, match="edited folder"):
        index_pairs(tmp_path / "o", tmp_path / "missing")


# --- the training entry point ---------------------------------------------------------------

def test_index_training_data_for_both_kinds(studio, tiny_ppr10k):
    originals, edited = studio
    data = f"pairs:{originals},{edited}"
    train, problems = index_training_data(data, "train", "a", True)
    val, val_problems = index_training_data(data, "val", "a", False)
    index = index_pairs(originals, edited)
    assert (train, val) == (index.train, index.val)
    assert len(train) + len(val) == 5 and val  # no masks: require_masks leaves all in
    assert len(problems) == 2 and val_problems == []  # folder problems listed once
    assert index_training_data(str(tiny_ppr10k), "val", "b", True) == index_split(
        tiny_ppr10k, "val", "b", True)
    with pytest.raises(ValueError, match="split"):
        index_training_data(data, "test")


# --- reading --------------------------------------------------------------------------------

def test_datasets_read_jpeg_png_tiff_and_resize_a_downsized_edit(tmp_path):
    originals, edited = tmp_path / "o", tmp_path / "e"
    put(originals / "a" / "x.jpg", 40, 60)
    put(originals / "a" / "y.tif", 40, 60, bits=16)
    put(originals / "b" / "z.png", 60, 40)
    put(edited / "a" / "x.png", 20, 30)        # exported at half size
    put(edited / "a" / "y.jpg", 40, 60)
    put(edited / "b" / "z.jpg", 30, 20)
    index = index_pairs(originals, edited, val_share=0)
    evaluation = EvaluationImages(index.train)
    shapes = [(item["source"].shape, item["target"].shape) for item in evaluation]
    assert shapes == [((3, 20, 30), (3, 20, 30)), ((3, 40, 60), (3, 40, 60)),
                      ((3, 30, 20), (3, 30, 20))]
    first = evaluation[0]
    expected = picture(20, 30)  # the half-size source is the picture at half size
    assert first["source"].dtype == torch.float32
    assert np.abs(first["source"].permute(1, 2, 0).numpy() - expected).mean() < 0.03
    torch.manual_seed(0)
    pairs = TrainingPairs(index.train, crop_size=16)
    item = pairs[0]
    assert item["source"].shape == item["target"].shape == (3, 16, 16)
    assert item["mask"].shape == (1, 16, 16) and float(item["mask"].sum()) == 0
    glc = TrainingPairs(index.train, crop_size=16, glc=True, glc_crop=12)[1]
    assert glc["source2"].shape == (3, 12, 12)  # the photo pairs with itself


def test_cropped_edit_is_refused_by_name(tmp_path):
    originals, edited = tmp_path / "o", tmp_path / "e"
    put(originals / "x.jpg", 40, 60)
    put(edited / "x.jpg", 40, 40)  # cropped square
    index = index_pairs(originals, edited)
    with pytest.raises(ValueError, match="aspect ratio") as error:
        TrainingPairs(index.train)[0]
    assert "x.jpg" in str(error.value)
    _, report = check_pairs(f"pairs:{originals},{edited}")
    assert [(p.kind, p.path) for p in report.problems] == [("size-mismatch", edited / "x.jpg")]


def test_exif_orientation_is_applied(tmp_path):
    upright = to_uint(picture(30, 20), 8)                       # portrait, as displayed
    stored = np.ascontiguousarray(np.rot90(upright, 1))         # sideways, as a camera stores it
    exif = Image.Exif()
    exif[ORIENTATION] = 6                                       # rotate 90 degrees clockwise
    path = tmp_path / "o" / "p.jpg"
    path.parent.mkdir()
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    assert photo_size(path) == (30, 20)
    image = read_photo_image(path)
    assert image.shape == (30, 20, 3)
    assert np.abs(image - upright / 255.0).mean() < 0.03
    put(tmp_path / "e" / "p.png", 30, 20)
    index = index_pairs(tmp_path / "o", tmp_path / "e")
    item = EvaluationImages(index.train)[0]
    assert item["source"].shape == item["target"].shape == (3, 30, 20)


def test_raw_original_with_a_downsized_jpeg_edit(shared_data, tmp_path):
    originals, edited = tmp_path / "o", tmp_path / "e"
    originals.mkdir()
    (originals / "shot.kdc").write_bytes((shared_data / "raw" / "kodak_dc50.kdc").read_bytes())
    height, width = photo_size(originals / "shot.kdc")
    put(edited / "shot.jpg", height // 2, width // 2)
    index, report = check_pairs(f"pairs:{originals},{edited}")
    assert report.ok, report.problems
    item = EvaluationImages(index.train)[0]
    assert item["source"].shape == item["target"].shape == (3, height // 2, width // 2)


# --- ppr10k data check pairs:... ------------------------------------------------------------

def test_data_check_pairs_cli(studio, capsys):
    originals, edited = studio
    assert main(["data", "check", f"pairs:{originals},{edited}"]) == 1
    out = capsys.readouterr().out
    assert str(originals / "shoot2" / "IMG_4.jpg") in out
    assert str(edited / "other" / "IMG_9.jpg") in out
    assert "unmatched-original" in out and "unmatched-edit" in out
    lines = dict(line.rsplit(None, 1) for line in out.splitlines()
                 if line.split()[-1].isdigit() and ":" not in line)
    assert lines["originals"] == "6" and lines["pairs"] == "5" and lines["groups"] == "3"
    assert "2 problems: 1 unmatched-edit, 1 unmatched-original" in out

    (originals / "shoot2" / "IMG_4.jpg").unlink()
    (edited / "other" / "IMG_9.jpg").unlink()
    assert main(["data", "check", f"pairs:{originals},{edited}"]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_data_check_pairs_cli_errors_are_one_line(tmp_path, capsys):
    put(tmp_path / "o" / "a.jpg")
    put(tmp_path / "e" / "b.jpg")
    for argv in (["data", "check", f"pairs:{tmp_path / 'o'},{tmp_path / 'e'}"],
                 ["data", "check", f"pairs:{tmp_path / 'o'},{tmp_path / 'nowhere'}"],
                 ["data", "check", f"pairs:{tmp_path / 'o'}"],
                 ["data", "check", f"pairs:{tmp_path / 'o'},{tmp_path / 'e'}", "--expert", "a"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and "error:" in err
