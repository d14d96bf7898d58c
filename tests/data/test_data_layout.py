import numpy as np
import pytest
import tifffile

from ppr10k.cli.main import main
from ppr10k.data import PhotoKey, check_dataset, index_split, parse_stem


def test_parse_stem():
    assert parse_stem("12_3") == PhotoKey(12, 3, 0)
    assert parse_stem("12_3_4") == PhotoKey(12, 3, 4)
    assert parse_stem("12_3_4").photo_stem == "12_3"
    assert parse_stem("img_3") is None and parse_stem("12") is None


def test_augmented_sources_map_to_their_photo(tiny_ppr10k):
    samples, problems = index_split(tiny_ppr10k, "train", "b")
    assert problems == []
    assert len(samples) == 2 * 2 * 3  # groups x photos x (original + 2 versions)
    for sample in samples:
        assert sample.target.stem == sample.key.photo_stem
        assert sample.mask.stem == sample.key.photo_stem
        assert sample.target.parent.name == "target_b"
        assert sample.source.stem == sample.key.stem


def test_missing_target_is_reported_not_shifted(tiny_ppr10k):
    (tiny_ppr10k / "val" / "target_a" / "1356_1.tif").unlink()
    samples, problems = index_split(tiny_ppr10k, "val", "a")
    assert [p.kind for p in problems] == ["missing-target"]
    assert problems[0].path.name == "1356_1.tif"
    # every remaining pair still matches by (G, I)
    assert [(s.source.stem, s.target.stem) for s in samples] == [
        ("1356_0", "1356_0"), ("1357_0", "1357_0"), ("1357_1", "1357_1")]


def test_check_finds_every_kind_of_problem(tiny_ppr10k):
    root = tiny_ppr10k
    (root / "train" / "masks" / "0_1.png").unlink()                       # missing mask
    (root / "val" / "target_c" / "1357_0.tif").unlink()                    # missing target
    (root / "val" / "source" / "1356_0.tif").write_bytes(b"not a tiff")    # unreadable
    tifffile.imwrite(root / "val" / "target_b" / "1357_1.tif",             # size mismatch
                     np.zeros((10, 10, 3), np.uint8), photometric="rgb")
    (root / "train" / "target_a" / "notes.txt").write_text("x")             # stray name
    (root / "val" / "source" / "1357_1_1.tif").write_bytes(b"")            # version in val
    report = check_dataset(root)
    kinds = report.summary()
    assert not report.ok
    assert kinds["missing-mask"] == 1 and kinds["missing-target"] == 1  # each file named once
    assert kinds["unreadable"] == 1 and kinds["size-mismatch"] == 1
    assert kinds["stray-name"] == 2
    assert report.counts["train/source_aug"] == 12
    by_kind = {p.kind: p for p in report.problems}
    assert by_kind["unreadable"].path.name == "1356_0.tif"
    assert by_kind["size-mismatch"].path.name == "1357_1.tif"


def test_data_check_cli_exit_codes(tiny_ppr10k, capsys):
    assert main(["data", "check", str(tiny_ppr10k)]) == 0
    assert "no problems found" in capsys.readouterr().out
    (tiny_ppr10k / "train" / "target_a" / "0_0.tif").unlink()
    assert main(["data", "check", str(tiny_ppr10k), "--expert", "a"]) == 1
    out = capsys.readouterr().out
    assert "missing-target" in out and "0_0.tif" in out


def test_index_split_explains_a_wrong_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="ppr10k data sample"):
        index_split(tmp_path, "train", "a")
