"""Colour management through `retouch`: an sRGB model sees sRGB numbers whatever profile a
photo is in, outputs are sRGB-tagged or converted back (--output-profile), and the Adobe RGB
case of issue 15 (retouch then view vs convert first) is measured in CIE ΔE 2000 with
colour-science as the second way."""

from __future__ import annotations

import shutil
import subprocess

import colour
import numpy as np
import pytest
import torch
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.io import PhotoMetadata, read_photo, write_photo
from ppr10k.io.colour import adobe_rgb_icc_profile, build_matrix_profile, srgb_profile
from ppr10k.lut import identity_lut
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model
from ppr10k.retouch import retouch

DIM = 17
D65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]


def graded_model() -> AdaptiveLUT:
    """A strongly graded look: non-linear, channels mixed (weights fixed: LUT 0 only)."""
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=DIM))
    r, g, b = identity_lut(DIM).double()
    lut = torch.stack([0.7 * g ** 0.6 + 0.3 * r, 0.5 * (r + b ** 2), r * g + 0.2 * b ** 0.5])
    with torch.no_grad():
        model.luts[0] = lut.clamp(0, 1).float()
    return model.eval()


@pytest.fixture
def model_dir(tmp_path):
    return save_model(graded_model(), tmp_path / "model")


def photo(rng, h: int = 48, w: int = 64) -> np.ndarray:
    """Photo-like float RGB in [0, 1]: gradients and a saturated patch, a little noise."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.15 + 0.8 * x, 0.2 + 0.7 * y, 0.6 - 0.4 * x * y], axis=-1)
    base[: h // 3, : w // 3] = (0.1, 0.8, 0.2)  # a green Adobe RGB reaches, sRGB does not
    return np.clip(base + 0.02 * rng.standard_normal((h, w, 3)), 0, 1)


def lab(pixels: np.ndarray, space: str) -> np.ndarray:
    """CIE Lab (D65) of encoded samples in a colour-science RGB colourspace."""
    peak = np.iinfo(pixels.dtype).max
    xyz = colour.RGB_to_XYZ(pixels / peak, space, apply_cctf_decoding=True)
    return colour.XYZ_to_Lab(xyz, D65)


def to_srgb_by_colour_science(pixels: np.ndarray, space: str) -> np.ndarray:
    peak = np.iinfo(pixels.dtype).max
    srgb = colour.RGB_to_RGB(pixels / peak, space, "sRGB", "Bradford",  # as ICC adapts
                             apply_cctf_decoding=True, apply_cctf_encoding=True)
    return np.rint(np.clip(srgb, 0, 1) * peak).astype(pixels.dtype)


def retouched(path, model_dir, out, **options) -> np.ndarray:
    report = retouch([path], model_dir, out, progress=False, device="cpu", **options)
    assert report.exit_code == 0, report.summary()
    return read_photo(report.results[0].output)


def test_adobe_rgb_photo_is_retouched_as_its_srgb_conversion(tmp_path, rng, model_dir):
    """Issue 15's measure: an 8-bit Adobe RGB PNG retouched and viewed through the output's
    profile vs the same photo converted to sRGB first (colour-science), then retouched."""
    pixels = np.rint(photo(rng) * 255).astype(np.uint8)
    adobe = write_photo(tmp_path / "in" / "adobe.png", pixels,
                        PhotoMetadata(icc_profile=adobe_rgb_icc_profile()))
    first = write_photo(tmp_path / "ref" / "first.png",
                        to_srgb_by_colour_science(pixels, "Adobe RGB (1998)"), None)
    reference = lab(retouched(first, model_dir, tmp_path / "out-ref").pixels, "sRGB")

    back = retouched(adobe, model_dir, tmp_path / "out-in", output_profile="input")
    assert back.metadata.icc_profile == adobe_rgb_icc_profile()
    delta_back = colour.delta_E(lab(back.pixels, "Adobe RGB (1998)"), reference, "CIE 2000")
    default = retouched(adobe, model_dir, tmp_path / "out")
    assert default.metadata.icc_profile == srgb_profile().icc
    delta_default = colour.delta_E(lab(default.pixels, "sRGB"), reference, "CIE 2000")
    # what retouching the Adobe RGB numbers as if they were sRGB gives (before issue 15)
    plain = write_photo(tmp_path / "plain" / "plain.png", pixels, None)
    unconverted = retouched(plain, model_dir, tmp_path / "out-plain").pixels
    delta_before = colour.delta_E(lab(unconverted, "Adobe RGB (1998)"), reference, "CIE 2000")

    # measured: before 6.8, default 0.011, input 0.25 (8-bit Adobe RGB output)
    assert delta_before.mean() > 1.0  # the grade makes the mistake visible
    assert delta_default.mean() < 0.3 and delta_back.mean() < 0.5
    assert np.percentile(delta_default, 99) < 2.0


@pytest.mark.parametrize("space, curve", [("ProPhoto RGB", 1.8), ("Display P3", "srgb")])
def test_sixteen_bit_inputs_in_wide_gamuts_are_converted_first(tmp_path, rng, model_dir,
                                                               space, curve):
    pixels = np.rint(photo(rng) * 65535).astype(np.uint16)
    cs = colour.RGB_COLOURSPACES[space]
    icc = build_matrix_profile(space, cs.primaries, cs.whitepoint, curve)
    if space == "ProPhoto RGB":  # colour-science's ProPhoto curve has a linear toe
        pixels = np.maximum(pixels, 2200).astype(np.uint16)
    source = write_photo(tmp_path / "in" / "wide.png", pixels, PhotoMetadata(icc_profile=icc))
    first = write_photo(tmp_path / "ref" / "first.png",
                        to_srgb_by_colour_science(pixels, space), None)
    ours = retouched(source, model_dir, tmp_path / "out")
    assert ours.pixels.dtype == np.uint16
    reference = retouched(first, model_dir, tmp_path / "out-ref").pixels
    delta = colour.delta_E(lab(ours.pixels, "sRGB"), lab(reference, "sRGB"), "CIE 2000")
    assert delta.mean() < 0.05 and delta.max() < 1.0


def test_output_profile_path_converts_and_tags(tmp_path, rng, model_dir):
    cs = colour.RGB_COLOURSPACES["Display P3"]
    profile = tmp_path / "p3.icc"
    profile.write_bytes(build_matrix_profile("P3 out", cs.primaries, cs.whitepoint, "srgb"))
    source = write_photo(tmp_path / "in" / "s.png",
                         np.rint(photo(rng) * 65535).astype(np.uint16), None)
    srgb_out = retouched(source, model_dir, tmp_path / "a")
    p3_out = retouched(source, model_dir, tmp_path / "b", output_profile=str(profile))
    assert p3_out.metadata.icc_profile == profile.read_bytes()
    delta = colour.delta_E(lab(p3_out.pixels, "Display P3"), lab(srgb_out.pixels, "sRGB"),
                           "CIE 2000")
    assert delta.mean() < 0.05
    assert np.abs(p3_out.pixels.astype(int) - srgb_out.pixels).mean() > 100  # converted


def test_cli_refuses_a_cmyk_output_profile_in_one_line(tmp_path, capsys, model_dir):
    icc = bytearray(adobe_rgb_icc_profile())
    icc[16:20] = b"CMYK"
    (tmp_path / "cmyk.icc").write_bytes(bytes(icc))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    code = main(["retouch", str(tmp_path / "a.png"), "--model", str(model_dir), "--out",
                 str(tmp_path / "out"), "--output-profile", str(tmp_path / "cmyk.icc"),
                 "--quiet", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert "cmyk.icc" in err and "not RGB" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "a.png").exists()


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool")
def test_exif_adobe_rgb_without_a_profile_is_converted_like_an_embedded_one(tmp_path, rng,
                                                                         model_dir):
    pixels = np.rint(photo(rng) * 255).astype(np.uint8)
    tagged = tmp_path / "icc" / "a.jpg"
    tagged.parent.mkdir()
    Image.fromarray(pixels).save(tagged, quality=95, icc_profile=adobe_rgb_icc_profile())
    exif_only = tmp_path / "exif" / "a.jpg"
    exif_only.parent.mkdir()
    Image.fromarray(pixels).save(exif_only, quality=95)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-ColorSpace=Uncalibrated",
                    "-InteropIndex=R03", str(exif_only)], check=True)
    plain = write_photo(tmp_path / "plain" / "a.png", read_photo(exif_only).pixels, None)
    by_icc = retouched(tagged, model_dir, tmp_path / "o1", fmt="png").pixels
    by_exif = retouched(exif_only, model_dir, tmp_path / "o2", fmt="png")
    as_srgb = retouched(plain, model_dir, tmp_path / "o3").pixels
    np.testing.assert_array_equal(by_exif.pixels, by_icc)
    assert np.abs(by_exif.pixels.astype(int) - as_srgb).mean() > 2  # it was converted
    assert by_exif.metadata.icc_profile == srgb_profile().icc
    tags = subprocess.run(["exiftool", "-s3", "-ColorSpace", "-InteropIndex",
                           str(tmp_path / "o2" / "a.png")], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    assert tags[0] == "sRGB" and tags[1].startswith("R98")  # EXIF says what the ICC says
    back = retouched(exif_only, model_dir, tmp_path / "o4", output_profile="input")
    assert back.metadata.icc_profile == adobe_rgb_icc_profile()
