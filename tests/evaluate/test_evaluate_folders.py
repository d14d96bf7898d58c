"""evaluate_folders and the `ppr10k evaluate` / `ppr10k compare` commands, end to end."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.evaluate import MissingFilesError, evaluate_folders, sheet_size

H, W = 24, 36


def _write_png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path)


def _make_set(root: Path, rng: np.random.Generator) -> dict:
    """Three groups (3, 1 and 2 photos) in mixed formats; returns what each file decodes to.

    - 1356_0: 8-bit PNG prediction; 1356_1: 16-bit TIFF; 1356_2: JPEG;
    - 1400_0: prediction identical to its target (PSNR = inf);
    - 1500_0: mask at twice the size, all human; 1500_1: mask at another size, all zero.
    """
    folders = {name: root / name for name in ("pred", "target", "masks")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    truth = {}
    for stem in ("1356_0", "1356_1", "1356_2", "1400_0", "1500_0", "1500_1"):
        target = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        tifffile.imwrite(folders["target"] / f"{stem}.tif", target, photometric="rgb")
        noise = rng.integers(-25, 26, target.shape)
        prediction = np.clip(target.astype(int) + noise, 0, 255).astype(np.uint8)
        mask = rng.random((H, W)) > 0.5
        if stem == "1356_1":
            wide = np.clip(prediction.astype(np.int64) * 257 + rng.integers(-128, 129,
                           target.shape), 0, 65535).astype(np.uint16)
            tifffile.imwrite(folders["pred"] / f"{stem}.tif", wide, photometric="rgb")
            prediction = np.floor(wide / 65535.0 * 255.0 + 0.5).astype(np.uint8)
        elif stem == "1356_2":
            Image.fromarray(prediction).save(folders["pred"] / f"{stem}.jpg", quality=90)
            with Image.open(folders["pred"] / f"{stem}.jpg") as img:
                prediction = np.asarray(img.convert("RGB"))
        else:
            if stem == "1400_0":
                prediction = target.copy()
            _write_png(folders["pred"] / f"{stem}.png", prediction)
        if stem == "1500_0":
            mask = np.ones((H, W), dtype=bool)
            _write_png(folders["masks"] / f"{stem}.png", np.full((2 * H, 2 * W), 255, np.uint8))
        elif stem == "1500_1":
            mask = np.zeros((H, W), dtype=bool)
            _write_png(folders["masks"] / f"{stem}.png", np.zeros((H + 7, W - 5), np.uint8))
        else:
            _write_png(folders["masks"] / f"{stem}.png", np.where(mask, 255, 0).astype(np.uint8))
        truth[stem] = (prediction, target, mask)
    return {"folders": folders, "truth": truth}


@pytest.fixture
def dataset(tmp_path, rng):
    return _make_set(tmp_path / "set", rng)


def _expected(ref, truth):
    rows = {}
    for stem, (x, y, mask) in truth.items():
        rows[stem] = {"psnr": ref.psnr(x, y), "delta_e": ref.delta_e(x, y),
                      "psnr_hc": ref.psnr_hc(x, y, mask),
                      "delta_e_hc": ref.delta_e(x, y, mask), "ab": ref.mean_ab(x)}
    groups = {}
    for stem, row in rows.items():
        groups.setdefault(stem.split("_")[0], []).append(row["ab"])
    glc_terms = {}
    for group, abs_ in groups.items():
        if len(abs_) == 1:
            glc_terms[group] = 0.0
        else:
            glc_terms[group] = (statistics.variance([v[0] for v in abs_])
                                + statistics.variance([v[1] for v in abs_])) / 2
    return rows, glc_terms


def test_evaluate_folders_matches_references(ref, dataset):
    folders = dataset["folders"]
    images, groups, summary = evaluate_folders(folders["pred"], folders["target"],
                                               folders["masks"], progress=False)
    rows, glc_terms = _expected(ref, dataset["truth"])
    assert [r["stem"] for r in images] == ["1356_0", "1356_1", "1356_2", "1400_0", "1500_0",
                                           "1500_1"]
    for row in images:
        want = rows[row["stem"]]
        for name in ("psnr", "psnr_hc"):
            if math.isinf(want[name]):
                assert row[name] == math.inf
            else:
                assert row[name] == pytest.approx(want[name], abs=1e-6)
        assert row["delta_e"] == pytest.approx(want["delta_e"], abs=1e-3)
        assert row["delta_e_hc"] == pytest.approx(want["delta_e_hc"], abs=1e-3)
        assert row["group"] == row["stem"].split("_")[0]
    assert [r["mask_resized"] for r in images] == [False] * 4 + [True, True]
    assert images[1]["bit_depth"] == 16

    assert [g["group"] for g in groups] == ["1356", "1400", "1500"]
    for g in groups:
        assert g["glc"] == pytest.approx(glc_terms[g["group"]], abs=1e-6)
    assert groups[1]["glc"] == 0.0

    # averages: the identical image counts as 100 dB
    capped = [min(rows[s]["psnr"], 100.0) for s in rows]
    assert summary["psnr"] == pytest.approx(sum(capped) / 6, abs=1e-6)
    capped_hc = [min(rows[s]["psnr_hc"], 100.0) for s in rows]
    assert summary["psnr_hc"] == pytest.approx(sum(capped_hc) / 6, abs=1e-6)
    assert summary["delta_e"] == pytest.approx(np.mean([r["delta_e"] for r in rows.values()]),
                                               abs=1e-3)
    assert summary["glc"] == pytest.approx(np.mean(list(glc_terms.values())), abs=1e-6)
    assert (summary["n_images"], summary["n_groups"], summary["n_identical"]) == (6, 3, 1)

    uncapped = evaluate_folders(folders["pred"], folders["target"], folders["masks"],
                                psnr_cap=None, progress=False).summary
    assert uncapped["psnr"] == math.inf


def pillow_bicubic_mask(mask_u8: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The reference's resize (README, spec §5): Pillow bicubic to (H, W); exact 0 = background."""
    resized = Image.fromarray(mask_u8, mode="L").resize(size[::-1], Image.Resampling.BICUBIC)
    return np.asarray(resized) != 0


def ellipse_mask(height: int, width: int) -> np.ndarray:
    """A binary 0/255 person-like blob: its resized edges come out soft (neither 0 nor 255)."""
    yy, xx = np.mgrid[:height, :width]
    inside = ((yy - 0.45 * height) / (0.3 * height)) ** 2 + ((xx - 0.55 * width)
                                                             / (0.22 * width)) ** 2 < 1
    return np.where(inside, 255, 0).astype(np.uint8)


@pytest.mark.parametrize("mask_size", [(61, 89), (17, 26)])
def test_masks_of_another_size_are_resized_bicubically(ref, tmp_path, rng, mask_size):
    """Shrinking and enlarging: the human-centred measures use Pillow's bicubic mask."""
    folders = {name: tmp_path / name for name in ("pred", "target", "masks")}
    for folder in folders.values():
        folder.mkdir()
    target = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    prediction = np.clip(target.astype(int) + rng.integers(-40, 41, target.shape), 0,
                         255).astype(np.uint8)
    _write_png(folders["target"] / "1356_0.png", target)
    _write_png(folders["pred"] / "1356_0.png", prediction)
    mask_u8 = ellipse_mask(*mask_size)
    _write_png(folders["masks"] / "1356_0.png", mask_u8)
    mask = pillow_bicubic_mask(mask_u8, (H, W))
    nearest = np.asarray(Image.fromarray(mask_u8).resize((W, H), Image.Resampling.NEAREST)) != 0
    assert (mask != nearest).sum() >= 10  # the two resizes really differ on this mask

    (row,) = evaluate_folders(folders["pred"], folders["target"], folders["masks"],
                              progress=False).images
    assert row["mask_resized"] is True
    assert row["human_fraction"] == pytest.approx(mask.mean(), abs=1e-9)
    assert row["psnr_hc"] == pytest.approx(ref.psnr_hc(prediction, target, mask), abs=1e-6)
    assert row["delta_e_hc"] == pytest.approx(ref.delta_e(prediction, target, mask), abs=1e-3)


def test_workers_give_the_same_rows(dataset):
    folders = dataset["folders"]
    one = evaluate_folders(folders["pred"], folders["target"], folders["masks"], workers=1,
                           progress=False)
    two = evaluate_folders(folders["pred"], folders["target"], folders["masks"], workers=2,
                           progress=False)
    assert one.images == two.images
    assert one.summary == two.summary


def test_missing_files_strict_and_not(dataset):
    folders = dataset["folders"]
    (folders["pred"] / "1356_2.jpg").unlink()
    (folders["masks"] / "1500_1.png").unlink()
    _write_png(folders["pred"] / "1999_0.png", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(MissingFilesError) as info:
        evaluate_folders(folders["pred"], folders["target"], folders["masks"], progress=False)
    message = str(info.value)
    assert "1356_2" in message and "1500_1" in message and "1999_0" in message
    with pytest.warns(UserWarning, match="1356_2"):
        images, _groups, summary = evaluate_folders(
            folders["pred"], folders["target"], folders["masks"], strict=False, progress=False)
    assert [r["stem"] for r in images] == ["1356_0", "1356_1", "1400_0", "1500_0"]
    assert summary["missing"] == {"predictions": ["1356_2"], "targets": ["1999_0"],
                                  "masks": ["1500_1"]}


def test_bad_folders(dataset):
    folders = dataset["folders"]
    _write_png(folders["pred"] / "1356_0.tif", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(ValueError, match="same stem"):
        evaluate_folders(folders["pred"], folders["target"], folders["masks"], progress=False)
    (folders["pred"] / "1356_0.tif").unlink()
    _write_png(folders["pred"] / "1356_0.png", np.zeros((H, W + 2, 3), np.uint8))
    images, _, summary = evaluate_folders(folders["pred"], folders["target"], folders["masks"],
                                          progress=False)  # the size mismatch is named
    assert [f["stem"] for f in summary["failed"]] == ["1356_0"]
    assert "1356_0.png" in summary["failed"][0]["reason"]
    assert "1356_0" not in [row["stem"] for row in images] and images


# ---- command line --------------------------------------------------------------------------
def test_cli_evaluate_writes_reports(ref, dataset, tmp_path, capsys):
    folders = dataset["folders"]
    out = tmp_path / "out"
    code = main(["evaluate", "--pred", str(folders["pred"]), "--target", str(folders["target"]),
                 "--masks", str(folders["masks"]), "--json", str(out / "scores.json"),
                 "--csv", str(out / "images.csv"), "--plots", str(out / "plots"),
                 "--workers", "2", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    header = printed.splitlines()[0].split()
    assert header == ["PSNR", "ΔE", "PSNR^HC", "ΔE^HC", "M^GLC"]

    summary = json.loads((out / "scores.json").read_text())
    for key in ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "glc", "n_images", "n_groups"):
        assert key in summary
    assert list(summary)[:7] == ["psnr", "delta_e", "psnr_hc", "delta_e_hc", "glc",
                                 "n_images", "n_groups"]
    rows, glc_terms = _expected(ref, dataset["truth"])
    assert summary["glc"] == pytest.approx(np.mean(list(glc_terms.values())), abs=1e-6)
    assert (summary["n_images"], summary["n_groups"]) == (6, 3)
    table_values = [float(v) for v in printed.splitlines()[2].split()]
    assert table_values == pytest.approx(
        [summary[k] for k in ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "glc")], abs=0.006)

    with open(out / "images.csv", newline="") as f:
        image_rows = list(csv.DictReader(f))
    assert len(image_rows) == 6
    by_stem = {r["stem"]: r for r in image_rows}
    assert by_stem["1400_0"]["psnr"] == "inf"  # raw per-image value kept
    assert float(by_stem["1356_0"]["psnr"]) == pytest.approx(rows["1356_0"]["psnr"], abs=1e-6)
    assert by_stem["1356_1"]["prediction"] == "1356_1.tif"
    assert {"group", "delta_e", "psnr_hc", "delta_e_hc", "target", "mask"} <= set(image_rows[0])

    with open(out / "images_groups.csv", newline="") as f:
        group_rows = list(csv.DictReader(f))
    assert [r["group"] for r in group_rows] == ["1356", "1400", "1500"]
    assert float(group_rows[0]["glc"]) == pytest.approx(glc_terms["1356"], abs=1e-6)
    assert group_rows[0]["n_images"] == "3"

    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["delta_e_histogram.png", "glc_worst_groups.png", "psnr_histogram.png"]
    for name in plots:
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_evaluate_missing_is_exit_1(dataset, tmp_path, capsys):
    folders = dataset["folders"]
    (folders["pred"] / "1500_0.png").unlink()
    args = ["evaluate", "--pred", str(folders["pred"]), "--target", str(folders["target"]),
            "--masks", str(folders["masks"]), "--workers", "1", "--no-progress"]
    assert main(args + ["--json", str(tmp_path / "s.json")]) == 1
    assert "1500_0" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
    assert main(args + ["--no-strict", "--json", str(tmp_path / "s.json")]) == 0
    captured = capsys.readouterr()
    assert "1500_0" in captured.err
    assert json.loads((tmp_path / "s.json").read_text())["n_images"] == 5


def test_cli_refuses_to_overwrite_an_input(dataset, capsys):
    folders = dataset["folders"]
    before = (folders["pred"] / "1356_0.png").read_bytes()
    args = ["evaluate", "--pred", str(folders["pred"]), "--target", str(folders["target"]),
            "--masks", str(folders["masks"]), "--no-progress", "--plots", str(folders["pred"])]
    (folders["pred"] / "psnr_histogram.png").write_bytes(before)  # a file named like a plot
    _write_png(folders["target"] / "psnr_histogram.png", np.zeros((H, W, 3), np.uint8))
    assert main(args + ["--no-strict"]) == 1
    assert "is an input folder" in capsys.readouterr().err
    assert (folders["pred"] / "psnr_histogram.png").read_bytes() == before


def test_cli_compare_grid(tmp_path, capsys):
    colours = {}
    rows = []
    for i, name in enumerate(("source", "model_a", "target")):
        folder = tmp_path / name
        folder.mkdir()
        rows.append(folder)
        for j in range(4):
            if name == "model_a" and j == 2:
                continue  # a missing photo
            colour = (40 * i + 20, 50 * j + 30, 200 - 30 * i)
            colours[(i, j)] = colour
            size = (60, 40) if j != 3 else (40, 60)  # one portrait-oriented photo
            Image.new("RGB", size, colour).save(folder / f"21_{j}.png")
        Image.new("RGB", (60, 40), (255, 0, 0)).save(folder / "22_0.png")  # another group
    out = tmp_path / "sheet.png"
    code = main(["compare", "--rows", ",".join(map(str, rows)), "--labels", "src,model,gt",
                 "--group", "21", "--out", str(out), "--cell-height", "60"])
    assert code == 0
    with Image.open(out) as img:
        assert img.format == "PNG"
        sheet = np.asarray(img.convert("RGB"))
    # layout by hand: label 170, gap 4, cells 90 x 60, header 24
    assert sheet.shape[:2] == (24 + 4 + 3 * (60 + 4), 170 + 4 + 4 * (90 + 4))
    assert sheet_size(3, 4, cell_height=60) == (sheet.shape[1], sheet.shape[0])
    for (i, j), colour in colours.items():
        cy = 24 + 4 + i * 64 + 30
        cx = 170 + 4 + j * 94 + 45
        np.testing.assert_array_equal(sheet[cy, cx], colour)
    # the missing cell is dark, and so are the bars beside the portrait-oriented photo
    assert sheet[24 + 4 + 64 + 2, 170 + 4 + 2 * 94 + 2].tolist() == [48, 48, 48]
    assert sheet[24 + 4 + 30, 170 + 4 + 3 * 94 + 2].tolist() == [48, 48, 48]

    assert main(["compare", "--rows", str(rows[0]), "--group", "99", "--out",
                 str(tmp_path / "x.png")]) == 1
    assert "no photo of group 99" in capsys.readouterr().err
