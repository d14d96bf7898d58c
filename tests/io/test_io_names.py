"""ppr10k.io.names: the one parser of PPR10K photo names (G_I, G_I_K), its rejects and users."""

import ast
import datetime as dt
from pathlib import Path

import pytest

import ppr10k
from ppr10k.io.names import PhotoKey, parse_stem, stem_order

SRC = Path(ppr10k.__file__).parent


@pytest.mark.parametrize("stem, key", [
    ("0_0", PhotoKey(0, 0, 0)),
    ("12_3", PhotoKey(12, 3, 0)),
    ("12_3_4", PhotoKey(12, 3, 4)),
    ("1680_10_5", PhotoKey(1680, 10, 5)),
    ("10_0_1", PhotoKey(10, 0, 1)),
    ("123456789_0", PhotoKey(123456789, 0, 0)),
])
def test_accepts_canonical_names_and_round_trips(stem, key):
    assert parse_stem(stem) == key
    assert key.stem == stem
    assert key.photo_stem == "_".join(stem.split("_")[:2])


@pytest.mark.parametrize("stem", [
    "1_2_3_4",     # too many parts
    "a_1",         # not a number
    "img_3", "12", "", "_", "1_", "_1", "1__2", "1_2_",
    "01_2",        # leading zero: would be the same photo as 1_2
    "1_02", "1_2_03", "00_1",
    "1_2_0",       # version 0 is the photo 1_2 itself
    "-1_2", "+1_2", "1_-2",
    " 1_2", "1_2 ", "1_2\n",
    "1_2.tif",     # a file name, not a stem
    "1_2-3", "1.0_2",
    "\u0661_\u0662",  # Arabic-Indic digits: int() would take them, names are ASCII
    "\uff11_\uff12",  # full-width digits
])
def test_rejects(stem):
    assert parse_stem(stem) is None


def test_versions_false_accepts_only_photos():
    assert parse_stem("12_3", versions=False) == PhotoKey(12, 3)
    assert parse_stem("12_3_1", versions=False) is None


def test_photo_key_photo_and_order():
    key = PhotoKey(5, 2, 3)
    assert key.photo == PhotoKey(5, 2) and key.photo.stem == "5_2"
    assert PhotoKey(5, 2).photo is not None and PhotoKey(5, 2).photo == PhotoKey(5, 2, 0)
    assert sorted([PhotoKey(2, 10), PhotoKey(2, 9, 1), PhotoKey(10, 0), PhotoKey(2, 9)]) == [
        PhotoKey(2, 9), PhotoKey(2, 9, 1), PhotoKey(2, 10), PhotoKey(10, 0)]


@pytest.mark.parametrize("args", [(-1, 0), (0, -1), (0, 0, -1), (1.0, 2), ("1", 2), (True, 1)])
def test_photo_key_refuses_non_integers(args):
    with pytest.raises(ValueError, match="PhotoKey"):
        PhotoKey(*args)


def test_stem_order_sorts_ppr10k_names_numerically_then_others():
    stems = ["zeta", "2_10", "01_2", "2_9_1", "2_9", "10_0", "alpha"]
    assert sorted(stems, key=stem_order) == ["2_9", "2_9_1", "2_10", "10_0", "01_2", "alpha",
                                            "zeta"]


def test_old_import_paths_still_work():
    from ppr10k.data import PhotoKey as DataKey
    from ppr10k.data import parse_stem as data_parse
    from ppr10k.data.layout import PhotoKey as LayoutKey
    from ppr10k.data.layout import parse_stem as layout_parse
    from ppr10k.io import PhotoKey as IoKey

    assert DataKey is LayoutKey is IoKey is PhotoKey
    assert data_parse is layout_parse is parse_stem


def test_names_module_imports_only_the_standard_library():
    tree = ast.parse((SRC / "io" / "names.py").read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= {"__future__", "re", "dataclasses"}, modules


def test_the_pattern_is_written_only_in_names():
    """No other module spells the G_I regex or picks G or I out of a stem by hand.

    (``evaluate.pairing.stem_sort_key`` splits any name on '_' for a natural sort of
    non-PPR10K names and group ids: that is not the G_I pattern.)
    """
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "io" / "names.py":
            continue
        text = path.read_text()
        if r"(\d+)_(\d+)" in text or 'split("_")[' in text:
            offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


def test_users_follow_the_shared_rules(tmp_path):
    """Callers that used their own regex now agree with the parser (leading zeros rejected)."""
    from ppr10k.evaluate.pairing import group_of
    from ppr10k.retouch.groups import group_photos

    assert group_of("1356_3") == "1356" and group_of("1356_3_2") == "1356"
    assert group_of("shoot_7") == "shoot"
    photos = [tmp_path / n for n in ("7_0.jpg", "7_1.jpg", "8_0.jpg", "07_2.jpg")]
    when = dt.datetime(2024, 1, 1)
    # 07_2 is not a PPR10K name: it is grouped by capture time, apart from group 7
    assert group_photos(photos, "auto", [None, None, None, when]) == [[0, 1], [2], [3]]
