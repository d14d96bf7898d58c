"""End-to-end `ppr10k retouch` (library and CLI) with a tiny model whose output is known.

The model starts at the identity weight predictor (weights exactly (1, 0, ...)), so its
fused LUT is basis LUT 0; setting that to an affine colour map x -> M x + o makes every
expected output a closed form computed here with NumPy.
"""

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.io import PhotoMetadata, atomic_write, read_photo, write_photo
from ppr10k.io.colour import adobe_rgb_icc_profile
from ppr10k.lut import identity_lut
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model
from ppr10k.retouch import OutputFolderError, retouch

MATRIX = np.array([[0.85, 0.10, 0.0], [0.05, 0.80, 0.05], [0.0, 0.15, 0.75]])
OFFSET = np.array([0.08, 0.05, 0.02])
DIM = 17


def affine(x: np.ndarray) -> np.ndarray:
    return np.clip(x @ MATRIX.T + OFFSET, 0.0, 1.0)


def make_model(vary: bool = False, seed: int = 0) -> AdaptiveLUT:
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=DIM))
    ident = identity_lut(DIM).double()
    with torch.no_grad():
        lut = torch.tensordot(torch.from_numpy(MATRIX), ident, dims=1)
        model.luts[0] = (lut + torch.from_numpy(OFFSET)[:, None, None, None]).float()
        if vary:  # weights that depend on the image: a random head and a second LUT
            gen = torch.Generator().manual_seed(seed)
            model.luts[1] = 0.3 * (identity_lut(DIM) - 0.5).roll(1, dims=0)
            head = model.head
            head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * 0.01)
    return model.eval()


@pytest.fixture
def model_dir(tmp_path):
    return save_model(make_model(), tmp_path / "model")


def smooth(rng, h, w) -> np.ndarray:
    """A photo-like float image in [0, 1]: gradients plus a little noise."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.5 + 0.3 * (x - y)], axis=-1)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1)


def run(inputs, out, **kwargs):
    return retouch([str(p) for p in inputs], kwargs.pop("model"), out, progress=False,
                   device="cpu", **kwargs)


# ---------------------------------------------------------------- formats and depths

def test_each_input_format_is_retouched_with_the_fused_lut(tmp_path, rng, model_dir,
                                                           shared_data):
    src = tmp_path / "in"
    src.mkdir()
    image = smooth(rng, 90, 130)
    u8 = np.rint(image * 255).astype(np.uint8)
    u16 = np.rint(image * 65535).astype(np.uint16)
    write_photo(src / "a.png", u8, None)
    write_photo(src / "b.png", u16, None)
    write_photo(src / "c.tif", u8, None)
    write_photo(src / "d.tif", u16, None)
    Image.fromarray(u8).save(src / "e.jpg", quality=98)
    (src / "f.kdc").write_bytes((shared_data / "raw" / "kodak_dc50.kdc").read_bytes())
    report = run([src], tmp_path / "out", model=model_dir)
    assert report.exit_code == 0 and len(report.by_status("done")) == 6
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.tif", "d.tif",
                                                     "e.jpg", "f.tif"]
    # 8-bit lossless: exact to the nearest level of the closed form
    for name in ("a.png", "c.tif"):
        got = read_photo(out / name).pixels
        assert got.dtype == np.uint8
        assert np.abs(got - affine(u8 / 255.0) * 255).max() <= 0.5 + 1e-3
    # 16-bit stays 16-bit with 16-bit precision (no 8-bit detour)
    for name in ("b.png", "d.tif"):
        got = read_photo(out / name).pixels
        assert got.dtype == np.uint16
        assert np.abs(got - affine(u16 / 65535.0) * 65535).max() <= 0.5 + 0.05
    # JPEG in and out: the source as decoded, retouched, within JPEG error (the retouch
    # itself moves colours by ~20 levels, so this also rules out an unretouched output)
    decoded = read_photo(src / "e.jpg").pixels / 255.0
    got = read_photo(out / "e.jpg").pixels
    assert np.abs(got - affine(decoded) * 255).mean() < 4.0
    assert np.abs(affine(decoded) - decoded).mean() * 255 > 10.0
    # raw -> 16-bit TIFF of the developed raw
    raw = read_photo(src / "f.kdc").pixels / 65535.0
    got = tifffile.imread(out / "f.tif")
    assert got.dtype == np.uint16 and got.shape == raw.shape
    assert np.abs(got - affine(raw) * 65535).max() <= 0.6


def test_format_and_bits_options(tmp_path, rng, model_dir):
    src = tmp_path / "a.png"
    u8 = np.rint(smooth(rng, 40, 60) * 255).astype(np.uint8)
    write_photo(src, u8, None)
    run([src], tmp_path / "o16", model=model_dir, fmt="tif", bits=16)
    got = tifffile.imread(tmp_path / "o16" / "a.tif")
    assert got.dtype == np.uint16
    # 8-bit input, 16-bit output: the LUT's output is kept at 16 bits
    assert np.abs(got - affine(u8 / 255.0) * 65535).max() <= 0.6
    assert np.any(got % 257 != 0)
    run([src], tmp_path / "oj", model=model_dir, fmt="jpg")
    assert read_photo(tmp_path / "oj" / "a.jpg").pixels.dtype == np.uint8
    with pytest.raises(ValueError, match="JPEG is 8-bit"):
        run([src], tmp_path / "x", model=model_dir, fmt="jpg", bits=16)


def test_exif_and_icc_carried_through_retouch(tmp_path, rng, model_dir):
    exif = Image.Exif()
    exif[0x010F] = "StudioCam"
    exif[0x0112] = 8
    exif[0x8769] = {0x9003: "2023:02:03 04:05:06"}
    src = tmp_path / "in"
    src.mkdir()
    icc = adobe_rgb_icc_profile()  # kept with output_profile="input"
    Image.fromarray(np.rint(smooth(rng, 40, 60) * 255).astype(np.uint8)).save(
        src / "p.jpg", exif=exif.tobytes(), icc_profile=icc)
    run([src], tmp_path / "out", model=model_dir, output_profile="input")
    run([src], tmp_path / "out16", model=model_dir, fmt="png", bits=16, output_profile="input")
    for out in (tmp_path / "out" / "p.jpg", tmp_path / "out16" / "p.png"):
        with Image.open(out) as img:
            assert img.info["icc_profile"] == icc
            assert img.getexif()[0x010F] == "StudioCam" and img.getexif()[0x0112] == 8
            assert img.getexif().get_ifd(0x8769)[0x9003] == "2023:02:03 04:05:06"


def test_unreadable_icc_profile_fails_that_photo_with_one_line(tmp_path, rng, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.rint(smooth(rng, 40, 60) * 255).astype(np.uint8)).save(
        src / "p.jpg", icc_profile=b"\x00\x00\x01\x00fake-profile" * 10)
    report = retouch([src], model_dir, tmp_path / "out", progress=False)
    assert report.exit_code == 1
    reason = report.failed[0].reason
    assert "unreadable ICC profile" in reason and "p.jpg" in reason and "\n" not in reason


# ---------------------------------------------------------------- bad input and safety

def make_bad_folder(tmp_path, rng, shared_data):
    src = tmp_path / "shoot"
    src.mkdir()
    good = np.rint(smooth(rng, 30, 40) * 255).astype(np.uint8)
    write_photo(src / "good1.png", good, None)
    Image.fromarray(good).save(src / "good2.jpg")
    (src / "empty.jpg").write_bytes(b"")
    data = (src / "good2.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (src / "mislabelled.tif").write_bytes(data)
    (src / "notraw.nef").write_text("plain text, not a raw " * 20)
    raw = (shared_data / "raw" / "kodak_dc50.kdc").read_bytes()
    (src / "cut.kdc").write_bytes(raw[: len(raw) // 3])
    (src / "notes.txt").write_text("ignored: not a photo suffix")
    return src


BAD = ("empty.jpg", "truncated.jpg", "corrupt.png", "mislabelled.tif", "notraw.nef",
       "cut.kdc")


def test_bad_inputs_reported_by_name_and_others_processed(tmp_path, rng, model_dir,
                                                          shared_data, capsys):
    src = make_bad_folder(tmp_path, rng, shared_data)
    (tmp_path / "unsupported.gif").write_bytes(b"GIF89a" + bytes(30))
    code = main(["retouch", str(src), str(tmp_path / "unsupported.gif"),
                 str(tmp_path / "missing.jpg"), "--model", str(model_dir),
                 "--out", str(tmp_path / "out"), "--quiet", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err + captured.out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good1.png", "good2.jpg"]
    assert "retouched 2, skipped 0 (output exists), failed 8" in captured.err
    assert "ignored 1 non-photo file" in captured.err
    lines = captured.err.splitlines()
    reasons = {
        "empty.jpg": "empty file", "truncated.jpg": "truncated",
        "corrupt.png": "corrupt PNG", "mislabelled.tif": "mislabelled",
        "notraw.nef": "not a camera raw", "cut.kdc": "raw",
        "unsupported.gif": "unsupported format", "missing.jpg": "no such file",
    }
    for name, reason in reasons.items():
        line = next((x for x in lines if x.strip().startswith(str(tmp_path)) and name in x),
                    None)
        assert line is not None and reason in line, (name, captured.err)


def test_all_good_exit_code_zero_and_summary(tmp_path, rng, model_dir, capsys):
    src = tmp_path / "in"
    src.mkdir()
    write_photo(src / "a.png", np.rint(smooth(rng, 20, 20) * 255).astype(np.uint8), None)
    assert main(["retouch", str(src), "--model", str(model_dir), "--out",
                 str(tmp_path / "o"), "--quiet"]) == 0
    assert "retouched 1, skipped 0 (output exists), failed 0" in capsys.readouterr().out


def test_output_folder_that_would_overwrite_inputs_is_refused(tmp_path, rng, model_dir,
                                                              capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    photo = src / "a.jpg"
    Image.fromarray(np.rint(smooth(rng, 20, 20) * 255).astype(np.uint8)).save(photo)
    before = photo.read_bytes()
    with pytest.raises(OutputFolderError, match="is an input folder"):
        run([src], src, model=model_dir)
    with pytest.raises(OutputFolderError, match="inside the input folder"):
        run([src], src / "sub", model=model_dir, recursive=True)
    with pytest.raises(OutputFolderError, match="would overwrite the input"):
        run([photo], src, model=model_dir)
    code = main(["retouch", str(src), "--model", str(model_dir), "--out", str(src),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "is an input folder" in err and "Traceback" not in err
    assert photo.read_bytes() == before
    assert sorted(p.name for p in src.rglob("*")) == ["a.jpg", "sub"]


def test_colliding_output_names_get_their_source_suffix(tmp_path, rng, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    u8 = np.rint(smooth(rng, 20, 20) * 255).astype(np.uint8)
    write_photo(src / "IMG_1.png", u8, None)
    write_photo(src / "IMG_1.tif", u8, None)
    run([src], tmp_path / "out", model=model_dir, fmt="jpg")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["IMG_1_PNG.jpg",
                                                                   "IMG_1_TIF.jpg"]


def test_recursive_mirrors_subfolders(tmp_path, rng, model_dir):
    src = tmp_path / "in"
    (src / "day1").mkdir(parents=True)
    u8 = np.rint(smooth(rng, 20, 20) * 255).astype(np.uint8)
    write_photo(src / "day1" / "a.png", u8, None)
    write_photo(src / ".hidden.png", u8, None)
    report = run([src], tmp_path / "flat", model=model_dir)
    assert report.results == []
    run([src], tmp_path / "deep", model=model_dir, recursive=True)
    assert (tmp_path / "deep" / "day1" / "a.png").is_file()
    assert not (tmp_path / "deep" / ".hidden.png").exists()


def test_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "x.png"
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as tmp:
        tmp.write_bytes(b"half an image")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_no_temp_files_left_and_skip_existing_resumes(tmp_path, rng, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        write_photo(src / f"p{i}.png", np.rint(smooth(rng, 20, 30) * 255).astype(np.uint8),
                    None)
    out = tmp_path / "out"
    out.mkdir()
    # a batch interrupted after p0: only p0 exists
    run([src / "p0.png"], out, model=model_dir)
    stamp = (out / "p0.png").stat().st_mtime_ns
    report = run([src], out, model=model_dir, skip_existing=True)
    assert [r.status for r in report.results] == ["skipped", "done", "done"]
    assert (out / "p0.png").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    with pytest.raises(FileExistsError, match="--overwrite"):  # never replaced silently
        run([src], out, model=model_dir)
    assert (out / "p0.png").stat().st_mtime_ns == stamp
    report = run([src], out, model=model_dir, overwrite=True)  # said explicitly: redone
    assert [r.status for r in report.results] == ["done"] * 3


def test_pixel_limit_option(tmp_path, rng, model_dir, capsys):
    src = tmp_path / "in"
    src.mkdir()
    write_photo(src / "big.png", np.zeros((100, 120, 3), np.uint8), None)
    code = main(["retouch", str(src), "--model", str(model_dir), "--out",
                 str(tmp_path / "o"), "--quiet", "--max-pixels", "0.01M"])
    err = capsys.readouterr().err
    assert code == 1 and "big.png" in err and "over the limit of" in err


# ---------------------------------------------------------------- group consistency

def make_group_folder(tmp_path, rng):
    """PPR10K-named photos: group 7 (three shots), group 9 (two). The shots of a group
    share their top half (same backdrop); the bottom half differs (lighting)."""
    src = tmp_path / "ppr"
    src.mkdir()
    backdrop = smooth(rng, 48, 64)
    for name, tint in [("7_1", (0.0, 0.0, 0.0)), ("7_2", (0.25, -0.1, 0.0)),
                       ("7_3", (-0.2, 0.2, 0.1)), ("9_1", (0.1, 0.1, -0.2)),
                       ("9_2", (-0.1, -0.2, 0.3))]:
        image = backdrop.copy()
        image[24:] = np.clip(image[24:] + np.array(tint), 0, 1)
        write_photo(src / f"{name}.png", np.rint(image * 65535).astype(np.uint16), None)
    return src


def test_group_mode_shares_weights_and_look(tmp_path, rng):
    model_dir = save_model(make_model(vary=True, seed=1), tmp_path / "model")
    src = make_group_folder(tmp_path, rng)
    single = run([src], tmp_path / "single", model=model_dir)
    grouped = run([src], tmp_path / "grouped", model=model_dir, group_consistent=True)
    assert grouped.exit_code == 0
    by_name = {r.source.stem: r for r in grouped.results}
    assert by_name["7_1"].group == by_name["7_3"].group != by_name["9_1"].group
    # strength 1: identical weights within a group, different across groups
    np.testing.assert_allclose(by_name["7_1"].weights, by_name["7_2"].weights, atol=1e-6)
    np.testing.assert_allclose(by_name["7_1"].weights, by_name["7_3"].weights, atol=1e-6)
    assert not np.allclose(by_name["7_1"].weights, by_name["9_1"].weights, atol=1e-3)

    def top(folder, name):
        return read_photo(tmp_path / folder / f"{name}.png").pixels[:24].astype(int)

    # same LUT -> the shared backdrop comes out identical in every shot of the group ...
    for name in ("7_2", "7_3"):
        np.testing.assert_array_equal(top("grouped", name), top("grouped", "7_1"))
    # ... which per-photo weights do not give
    assert np.abs(top("single", "7_2") - top("single", "7_1")).max() > 50
    assert single.exit_code == 0


def test_group_strength_zero_equals_independent_photos(tmp_path, rng):
    model_dir = save_model(make_model(vary=True, seed=2), tmp_path / "model")
    src = make_group_folder(tmp_path, rng)
    run([src], tmp_path / "single", model=model_dir)
    run([src], tmp_path / "zero", model=model_dir, group_consistent=True, group_strength=0.0)
    for path in sorted((tmp_path / "single").iterdir()):
        a = read_photo(path).pixels.astype(int)
        b = read_photo(tmp_path / "zero" / path.name).pixels.astype(int)
        assert np.abs(a - b).max() <= 1


def test_group_mode_cli_with_bad_member(tmp_path, rng, capsys):
    model_dir = save_model(make_model(vary=True, seed=3), tmp_path / "model")
    src = make_group_folder(tmp_path, rng)
    (src / "7_4.png").write_bytes(b"")
    code = main(["retouch", str(src), "--model", str(model_dir), "--out",
                 str(tmp_path / "out"), "--group-consistent", "--group-by", "prefix",
                 "--quiet", "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "7_4.png: empty file" in err
    assert len(list((tmp_path / "out").iterdir())) == 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_matches_cpu(tmp_path, rng):
    model_dir = save_model(make_model(vary=True), tmp_path / "model")
    src = make_group_folder(tmp_path, rng)
    run([src], tmp_path / "cpu", model=model_dir)
    retouch([str(src)], model_dir, tmp_path / "cuda", progress=False, device="cuda")
    for path in sorted((tmp_path / "cpu").iterdir()):
        a = read_photo(path).pixels.astype(int)
        b = read_photo(tmp_path / "cuda" / path.name).pixels.astype(int)
        assert np.abs(a - b).max() <= 1


def test_metadata_object_default():
    assert PhotoMetadata().orientation == 1
