"""`ppr10k data stats`: numbers behind the plots, on real sidecars and a real raw."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.data.stats import dataset_stats, parse_date, raw_capture_time

# stem -> (fixture, Temperature written in it, the capture date it carries)
SOURCES = {
    "0_0": ("exifr_IMG_5910.xmp", 4300),
    "0_1": ("goxmp_Canon-EOS30D.xmp", 4600),  # exif:DateTimeOriginal 2007-12-04T19:07:02
    "1_0": ("librephotos_niaz.xmp", 6650),  # xmp:CreateDate 2018-10-04T19:21:55-04:00
}
EXPERT_EXPOSURE = {"0_0": 0.5, "0_1": -0.25, "1_0": 1.0}


@pytest.fixture
def tree(tmp_path, shared_data):
    root = tmp_path / "PPR10K"
    for sub in ("xmp_source", "xmp_target_a", "raw"):
        (root / sub).mkdir(parents=True)
    for stem, (name, _) in SOURCES.items():
        data = (shared_data / "xmp" / name).read_text(encoding="utf-8")
        (root / "xmp_source" / f"{stem}.xmp").write_text(data, encoding="utf-8")
        # the expert's file: the same, with Exposure2012 edited by plain text replacement
        expert = re.sub(r'(crs:Exposure2012="|<crs:Exposure2012>)[^"<]*',
                        lambda m, s=stem: m.group(1) + f"{EXPERT_EXPOSURE[s]:+.2f}", data)
        (root / "xmp_target_a" / f"{stem}.xmp").write_text(expert, encoding="utf-8")
    (root / "raw" / "0_0.kdc").write_bytes((shared_data / "raw" / "kodak_dc50.kdc").read_bytes())
    return root


def test_raw_capture_time_matches_the_tiff_tag(shared_data):
    path = shared_data / "raw" / "kodak_dc50.kdc"
    with Image.open(path) as image:  # a second reader: the TIFF DateTime tag (306)
        expected = image.getexif()[306]
    assert raw_capture_time(path).strftime("%Y:%m:%d %H:%M:%S") == expected


def test_stats_numbers(tree, tmp_path):
    plots = tmp_path / "plots"
    stats = dataset_stats(tree, plots, progress=False)
    assert stats["series"] == ["xmp_source", "xmp_target_a"]
    temperature = stats["settings"]["Temperature"]
    source_t = [t for _, t in SOURCES.values()]
    assert temperature["xmp_source"]["mean"] == pytest.approx(np.mean(source_t))
    assert temperature["xmp_source"]["count"] == 3
    assert sum(temperature["xmp_source"]["histogram"]) == 3
    exposure = stats["settings"]["Exposure2012"]
    assert exposure["xmp_target_a"]["mean"] == pytest.approx(np.mean(list(
        EXPERT_EXPOSURE.values())))
    assert exposure["xmp_target_a"]["min"] == -0.25
    assert stats["groups"] == {"groups": 2, "photos": 3, "photos_per_group": {"1": 1, "2": 1},
                               "photos_without_group": 0}
    capture = stats["capture_time"]
    assert capture["from_raw_exif"] == 1 and capture["from_xmp"] == 2
    assert capture["without"] == 0
    month, hour = np.zeros(12, int), np.zeros(24, int)
    for m, h in ((4, 8), (12, 19), (10, 19)):  # raw 1997-04-23 08:00; the two sidecars
        month[m - 1] += 1
        hour[h] += 1
    assert capture["month"] == month.tolist() and capture["hour"] == hour.tolist()
    for name in ("photos_per_group.png", "capture_month.png", "capture_hour.png",
                 "settings/Temperature.png", "settings/Exposure2012.png"):
        with Image.open(plots / name) as image:
            assert image.format == "PNG" and image.size[0] > 100
    assert json.loads((plots / "stats.json").read_text()) == json.loads(json.dumps(stats))
    # a setting equal everywhere is reported, not plotted
    assert stats["settings"]["ParametricShadowSplit"] == {"constant": 25.0}
    assert not (plots / "settings" / "ParametricShadowSplit.png").exists()


def test_without_capture_times_the_plots_are_skipped(tmp_path, shared_data, capsys):
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "3_0.xmp").write_bytes((shared_data / "xmp" / "kikoio_Bretagne_Glow.xmp")
                                     .read_bytes())
    (folder / "3_1.xmp").write_bytes((shared_data / "xmp" / "exifr_IMG_5910.xmp")
                                     .read_bytes().replace(b"xmp:CreateDate", b"xmp:Other")
                                     .replace(b"photoshop:DateCreated", b"photoshop:Other"))
    plots = tmp_path / "plots"
    assert main(["data", "stats", str(folder), "--plots", str(plots), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "no capture times" in out
    stats = json.loads((plots / "stats.json").read_text())
    assert stats["series"] == ["presets"] and stats["groups"]["photos"] == 2
    assert not (plots / "capture_month.png").exists()


def test_parse_date():
    assert parse_date("2015:06:11 10:29:26").hour == 10
    assert parse_date("2018-10-04T19:21:55-04:00").hour == 19
    assert parse_date("2015-06-11T10:29:26.69").minute == 29
    assert parse_date("not a date") is None and parse_date("2015-13-40") is None


def test_not_a_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="xmp_source"):
        dataset_stats(tmp_path, tmp_path / "plots", progress=False)


def test_stats_leave_the_matplotlib_backend_alone(tree, tmp_path):
    """The library draws on its own Agg canvases: no pyplot, no process-wide backend switch."""
    import subprocess
    import sys

    script = (
        "import sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "from ppr10k.data.stats import dataset_stats\n"
        f"stats = dataset_stats({str(tree)!r}, {str(tmp_path / 'plots')!r}, progress=False)\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules, "
        "len(stats['plots']))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[:2] == ["svg", "False"] and int(out[2]) > 0
    assert (tmp_path / "plots" / "photos_per_group.png").stat().st_size > 0


def test_sidecars_of_any_name_are_read(tmp_path, shared_data, capsys):
    """`xmp augment`'s G_I_K.xmp and camera names such as IMG_1234.xmp count as photos."""
    root = tmp_path / "root"
    folder = root / "xmp_source"
    folder.mkdir(parents=True)
    data = (shared_data / "xmp" / "exifr_IMG_5910.xmp").read_text(encoding="utf-8")
    for name in ("IMG_1234.xmp", "IMG_1235.XMP", "3_4_1.xmp", "3_4_2.xmp", "3_5.xmp"):
        (folder / name).write_text(data, encoding="utf-8")
    (folder / "notes.txt").write_text("not a sidecar")
    stats = dataset_stats(root, tmp_path / "plots", progress=False)
    assert stats["settings"]["Temperature"]["constant"] == 4300
    assert stats["groups"]["photos"] == 5
    assert stats["groups"]["groups"] == 1 and stats["groups"]["photos_without_group"] == 2
    assert main(["data", "stats", str(root), "--plots", str(tmp_path / "p2"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "5 photos in 1 groups" in out and "2 photo(s) without a PPR10K group" in out


def test_no_sidecars_is_an_error_not_zero_photos(tmp_path, capsys):
    (tmp_path / "root" / "xmp_source").mkdir(parents=True)
    (tmp_path / "root" / "xmp_source" / "readme.txt").write_text("nothing here")
    assert main(["data", "stats", str(tmp_path / "root"), "--plots", str(tmp_path / "plots"),
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "no sidecars (.xmp) or raws found" in err and "xmp_source" in err


def test_stats_run_on_the_sample_set(tmp_path):
    from ppr10k.data.sample import make_sample_dataset

    make_sample_dataset(tmp_path / "sample", groups=3, per_group=2, n_aug=0, progress=False)
    stats = dataset_stats(tmp_path / "sample", tmp_path / "plots", progress=False)
    assert stats["series"] == ["xmp_source", "xmp_target_a", "xmp_target_b", "xmp_target_c"]
    assert stats["groups"]["groups"] == 3 and stats["groups"]["photos"] == 6
    assert {"Exposure2012", "Temperature", "Contrast2012"} <= set(stats["settings"])
    assert stats["capture_time"]["from_xmp"] == 6
    assert "capture_hour.png" in stats["plots"]
