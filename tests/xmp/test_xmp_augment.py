"""The two augmentation schemes: ranges, formats, reproducibility, pairing, raws, CLI."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from xmp_testing import ATTRIBUTE_FORM, CRLF_FORM, ELEMENT_FORM_LOOK, PRESET

from ppr10k.cli.main import main
from ppr10k.xmp import read_camera_raw
from ppr10k.xmp.augment import (
    SCHEME1_OFFSETS,
    SCHEME2_OFFSETS,
    compensated_range,
    perturb_pair,
    perturb_source,
)
from ppr10k.xmp.batch import augment_folder

# spec §2, written out again here on purpose (not imported)
SPEC_SCHEME1 = {"Temperature": (-500, 500), "Tint": (-10, 10), "Exposure2012": (-1.0, 1.0),
                "Highlights2012": (-35, 35), "Contrast2012": (-30, 0), "Saturation": (0, 30)}
SPEC_SCHEME2 = {"Temperature": (-1000, 1000), "Tint": (-10, 10), "Exposure2012": (-0.5, 0.5),
                "Highlights2012": (-30, 30), "Contrast2012": (-20, 20)}
MIDDLE = {"Temperature": 5000, "Tint": 0, "Exposure2012": 0.0, "Highlights2012": 0,
          "Contrast2012": 0, "Saturation": 0, "WhiteBalance": "As Shot", "Sharpness": 25}


def test_ranges_are_the_spec_ranges():
    assert SCHEME1_OFFSETS == SPEC_SCHEME1
    assert SCHEME2_OFFSETS == SPEC_SCHEME2


def test_scheme1_offsets_cover_exactly_their_ranges(rng):
    draws = [perturb_source(MIDDLE, rng) for _ in range(3000)]
    for name, (low, high) in SPEC_SCHEME1.items():
        offsets = np.array([d.offsets[name] for d in draws])
        values = np.array([d.settings[name] for d in draws])
        assert offsets.min() >= low and offsets.max() <= high
        span = high - low
        assert offsets.min() < low + 0.02 * span and offsets.max() > high - 0.02 * span
        assert abs(offsets.mean() - (low + high) / 2) < 0.05 * span  # uniform: centred
        np.testing.assert_allclose(values, MIDDLE[name] + offsets, atol=1e-9)
    assert all(d.clipped == () for d in draws)
    assert all(isinstance(d.settings["Temperature"], int) for d in draws)
    exposures = np.array([d.settings["Exposure2012"] for d in draws])
    np.testing.assert_allclose(exposures * 100, np.round(exposures * 100), atol=1e-6)
    # integer offsets are uniform over the integers: every Tint value -10..10 appears
    assert {d.offsets["Tint"] for d in draws} == set(range(-10, 11))


def test_scheme1_keeps_other_settings_and_sets_custom_white_balance(rng):
    result = perturb_source(MIDDLE, rng)
    assert result.settings["Sharpness"] == 25
    assert result.settings["WhiteBalance"] == "Custom"
    kept = perturb_source(MIDDLE, rng, custom_white_balance=False)
    assert kept.settings["WhiteBalance"] == "As Shot"


def test_scheme1_clips_to_valid_range(rng):
    extreme = {**MIDDLE, "Highlights2012": -90, "Exposure2012": 4.9}
    draws = [perturb_source(extreme, rng) for _ in range(500)]
    assert min(d.settings["Highlights2012"] for d in draws) == -100
    assert max(d.settings["Exposure2012"] for d in draws) == 5.0
    assert any("Highlights2012" in d.clipped for d in draws)


def test_scheme1_missing_temperature_is_an_error(rng):
    with pytest.raises(ValueError, match="Temperature"):
        perturb_source({"Tint": 0}, rng)


def test_scheme2_compensates_target_and_keeps_target_white_balance(rng):
    source = {**MIDDLE}
    target = {"Temperature": 5600, "Tint": 8, "Exposure2012": 0.4, "Highlights2012": -95,
              "Contrast2012": 10, "WhiteBalance": "Custom"}
    draws = [perturb_pair(source, target, rng) for _ in range(2000)]
    for d in draws:
        for name in ("Exposure2012", "Highlights2012", "Contrast2012"):
            assert d.source[name] - source[name] == pytest.approx(d.offsets[name])
            assert target[name] - d.target[name] == pytest.approx(d.offsets[name])
        assert d.target["Temperature"] == 5600 and d.target["Tint"] == 8
        assert d.source["Temperature"] - 5000 == d.offsets["Temperature"]
        assert -100 <= d.target["Highlights2012"] <= 100
    highlights = np.array([d.offsets["Highlights2012"] for d in draws])
    # the target at -95 allows offsets only in [-30, +5] (so target - d >= -100)
    assert highlights.min() == -30 and highlights.max() == 5
    for name, (low, high) in SPEC_SCHEME2.items():
        offsets = np.array([d.offsets[name] for d in draws])
        assert offsets.min() >= low and offsets.max() <= high


def test_compensated_range_by_hand():
    assert compensated_range("Highlights2012", (-30, 30), 0, -95) == (-30, 5)
    assert compensated_range("Highlights2012", (-30, 30), 90, 0) == (-30, 10)
    assert compensated_range("Exposure2012", (-0.5, 0.5), 0.0, -4.8) == pytest.approx((-0.5, 0.2))
    assert compensated_range("Contrast2012", (-20, 20), 0, None) == (-20, 20)


VALUE_FORMATS = {
    "Temperature": r"[1-9][0-9]*",
    "Tint": r"0|[+-][1-9][0-9]*",
    "Exposure2012": r"[+-][0-9]\.[0-9]{2}|0\.00",
    "Highlights2012": r"0|[+-][1-9][0-9]*",
    "Contrast2012": r"0|[+-][1-9][0-9]*",
    "Saturation": r"0|[+-][1-9][0-9]*",
}


@pytest.fixture
def sources(tmp_path, xmp_dir):
    folder = tmp_path / "xmp_source"
    folder.mkdir()
    for stem, name in (("0_0", ATTRIBUTE_FORM), ("0_1", CRLF_FORM), ("7_3", ELEMENT_FORM_LOOK)):
        (folder / f"{stem}.xmp").write_bytes((xmp_dir / name).read_bytes())
    (folder / "notes.txt").write_text("not a sidecar")
    return folder


def _raw_values(path, name):
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"crs:{name}(?:=\"([^\"]*)\"|>([^<]*)<)", text)
    return match.group(1) if match.group(1) is not None else match.group(2)


def test_folder_scheme1_names_formats_and_untouched_rest(sources, tmp_path):
    out = tmp_path / "aug"
    report = augment_folder(sources, out, versions=5, seed=7, progress=False)
    names = sorted(p.name for p in out.glob("*.xmp"))
    assert names == sorted(f"{s}_{k}.xmp" for s in ("0_0", "0_1", "7_3") for k in range(1, 6))
    assert len(report.rows) == 15 and not report.skipped
    for stem in ("0_0", "0_1", "7_3"):
        before = read_camera_raw(sources / f"{stem}.xmp").settings
        for k in range(1, 6):
            path = out / f"{stem}_{k}.xmp"
            after = read_camera_raw(path).settings
            changed = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
            assert changed <= set(SPEC_SCHEME1) | {"WhiteBalance"}
            for name, pattern in VALUE_FORMATS.items():
                assert re.fullmatch(pattern, _raw_values(path, name)), (path, name)
    crlf = (out / "0_1_3.xmp").read_bytes()
    assert crlf.count(b"\r\n") == crlf.count(b"\n")
    with open(out / "augment_offsets.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    row = next(r for r in rows if r["stem"] == "0_0" and r["version"] == "2")
    before = read_camera_raw(sources / "0_0.xmp").settings
    after = read_camera_raw(out / "0_0_2.xmp").settings
    assert after["Temperature"] - before["Temperature"] == int(row["Temperature"])
    assert after["Exposure2012"] == pytest.approx(before["Exposure2012"]
                                                  + float(row["Exposure2012"]))
    summary = json.loads((out / "augment_summary.json").read_text())
    assert summary["photos"] == 3 and summary["sidecars_written"] == 15
    assert -30 <= summary["offsets"]["Contrast2012"]["min"] <= summary["offsets"][
        "Contrast2012"]["max"] <= 0


def test_folder_is_reproducible(sources, tmp_path):
    augment_folder(sources, tmp_path / "a", versions=2, seed=11, progress=False)
    augment_folder(sources, tmp_path / "b", versions=2, seed=11, progress=False)
    augment_folder(sources, tmp_path / "c", versions=2, seed=12, progress=False)
    same = [(tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
            for n in ("0_0_1.xmp", "0_1_2.xmp", "7_3_1.xmp")]
    differ = [(tmp_path / "a" / n).read_bytes() != (tmp_path / "c" / n).read_bytes()
              for n in ("0_0_1.xmp", "0_1_2.xmp", "7_3_1.xmp")]
    assert all(same) and all(differ)
    # a subset (one file only) gives the same file: seeds depend on (G, I, K), not order
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "7_3.xmp").write_bytes((sources / "7_3.xmp").read_bytes())
    augment_folder(tmp_path / "one", tmp_path / "d", versions=1, seed=11, progress=False)
    assert (tmp_path / "d" / "7_3_1.xmp").read_bytes() == (tmp_path / "a" / "7_3_1.xmp"
                                                           ).read_bytes()


def test_folder_scheme2_pairs(sources, tmp_path, xmp_dir):
    targets = tmp_path / "xmp_target_a"
    targets.mkdir()
    (targets / "0_0.xmp").write_bytes((xmp_dir / PRESET).read_bytes())
    (targets / "0_1.xmp").write_bytes((xmp_dir / ELEMENT_FORM_LOOK).read_bytes())
    report = augment_folder(sources, tmp_path / "src_aug", versions=3, seed=1,
                            target_dir=targets, target_out=tmp_path / "tgt_aug",
                            progress=False)
    assert [s for s, _ in report.skipped] == [str(sources / "7_3.xmp")]  # no expert file
    for stem in ("0_0", "0_1"):
        s0 = read_camera_raw(sources / f"{stem}.xmp").settings
        t0 = read_camera_raw(targets / f"{stem}.xmp").settings
        for k in (1, 2, 3):
            s1 = read_camera_raw(tmp_path / "src_aug" / f"{stem}_{k}.xmp").settings
            t1 = read_camera_raw(tmp_path / "tgt_aug" / f"{stem}_{k}.xmp").settings
            for name in ("Exposure2012", "Highlights2012", "Contrast2012"):
                assert s1[name] - s0[name] == pytest.approx(t0[name] - t1[name])
            assert t1["Temperature"] == t0["Temperature"] and t1["Tint"] == t0["Tint"]
            assert -100 <= t1["Highlights2012"] <= 100
    with pytest.raises(ValueError, match="input"):
        augment_folder(sources, sources, progress=False)


def test_raws_are_linked_under_the_augmented_name(sources, tmp_path):
    raws = tmp_path / "raw"
    raws.mkdir()
    (raws / "0_0.CR2").write_bytes(b"raw 0_0")
    (raws / "0_1.NEF").write_bytes(b"raw 0_1")
    report = augment_folder(sources, tmp_path / "out", versions=2, seed=0, raws_dir=raws,
                            progress=False)
    for stem, ext in (("0_0", ".CR2"), ("0_1", ".NEF")):
        for k in (1, 2):
            placed = tmp_path / "out" / f"{stem}_{k}{ext}"
            assert placed.samefile(raws / f"{stem}{ext}")
    assert (raws / "0_0.CR2").stat().st_nlink == 3  # hard links, not copies
    assert len(report.raws) == 4
    assert [w[0] for w in report.warnings] == [str(sources / "7_3.xmp")]  # raw missing
    assert (tmp_path / "out" / "7_3_1.xmp").exists()
    augment_folder(sources, tmp_path / "sym", versions=1, raws_dir=raws, raw_mode="symlink",
                   progress=False)
    assert (tmp_path / "sym" / "0_0_1.CR2").is_symlink()


def test_cli_augment(sources, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["xmp", "augment", "--source", str(sources), "--out", str(out),
                 "--versions", "2", "--seed", "5", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "3 photos x 2 versions" in printed and "Temperature" in printed
    assert len(list(out.glob("*.xmp"))) == 6
    assert main(["xmp", "augment", "--source", str(sources), "--out", str(out),
                 "--paired", "--quiet"]) == 1
