"""Metadata through `ppr10k retouch`, read back by exiftool: EXIF (IFD0, Exif and GPS IFDs),
IPTC, XMP, ICC profile and resolution survive into JPEG, PNG, 8- and 16-bit TIFF outputs,
from a JPEG, a TIFF and a camera raw; the orientation tag is kept with the stored pixels.

exiftool (Debian ``libimage-exiftool-perl``) is an independent reader: these tests skip
without it locally and fail without it under CI (``required.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.io.colour import adobe_rgb_icc_profile
from ppr10k.models import AdaptiveLUT, ModelConfig, save_model
from required import missing

OUTPUTS = [("jpg", 8, "jpg"), ("png", 8, "png"), ("tif", 8, "tif"), ("tif", 16, "tif"),
           ("png", 16, "png")]

#: tags written into the test JPEG by exiftool: (exiftool -G1 key, value as exiftool prints)
CAMERA_TAGS = {
    "ExifIFD:DateTimeOriginal": "2021:05:06 07:08:09",
    "ExifIFD:ISO": 400,
    "ExifIFD:FNumber": 2.8,
    "ExifIFD:ExposureTime": "1/125",
    "ExifIFD:FocalLength": "85.0 mm",
    "ExifIFD:LensModel": "EF85mm f/1.8 USM",
    "IFD0:Make": "Canon",
    "IFD0:Model": "Canon EOS 5D",
    "IFD0:Artist": "Ada Photographer",
    "IFD0:ResolutionUnit": "inches",
    "IFD0:XResolution": 300,
    "GPS:GPSLatitudeRef": "North",
    "GPS:GPSLatitude": "48 deg 51' 23.76\"",
    "GPS:GPSLongitude": "2 deg 21' 7.92\"",
    "XMP-dc:Creator": "Ada Photographer",
    "XMP-xmp:Rating": 4,
    "XMP-dc:Subject": ["portrait", "studio"],
    "IPTC:Keywords": ["portrait", "studio"],
}


def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        missing("exiftool not installed (apt-get install libimage-exiftool-perl)")
    return path


def read_tags(path: Path) -> dict:
    """Every tag exiftool reads, keyed ``group1:name`` (``-G1 -a``)."""
    out = subprocess.run([exiftool(), "-j", "-G1", "-a", str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)[0]


def write_tags(path: Path, *args: str) -> None:
    subprocess.run([exiftool(), "-q", "-overwrite_original", *args, str(path)], check=True)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return save_model(AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9)).eval(),
                      tmp_path / "model")


def non_srgb_profile() -> bytes:
    """A real RGB profile other than sRGB (Adobe RGB): carried with --output-profile input."""
    return adobe_rgb_icc_profile()


def tagged_jpeg(folder: Path, orientation: int = 1) -> Path:
    """A JPEG with an Exif sub-IFD, GPS, IPTC, XMP and an ICC profile, written by exiftool."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "shot.jpg"
    y, x = np.mgrid[0:48, 0:64]
    pixels = np.stack([x * 3, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=95, icc_profile=non_srgb_profile())
    write_tags(path, "-DateTimeOriginal=2021:05:06 07:08:09", "-ISO=400", "-FNumber=2.8",
               "-ExposureTime=1/125", "-FocalLength=85", "-LensModel=EF85mm f/1.8 USM",
               "-Make=Canon", "-Model=Canon EOS 5D", "-Artist=Ada Photographer",
               f"-Orientation#={orientation}", "-XResolution=300", "-YResolution=300",
               "-ResolutionUnit=inches", "-GPSLatitude=48.8566", "-GPSLatitudeRef=N",
               "-GPSLongitude=2.3522", "-GPSLongitudeRef=E",
               "-XMP-dc:Creator=Ada Photographer", "-XMP-xmp:Rating=4",
               "-XMP-dc:Subject=portrait", "-XMP-dc:Subject=studio",
               "-IPTC:Keywords=portrait", "-IPTC:Keywords=studio")
    return path


def retouch_to(source: Path, out: Path, model_dir: Path, fmt: str, bits: int,
               *options: str) -> Path:
    code = main(["retouch", str(source), "--model", str(model_dir), "--out", str(out),
                 "--format", fmt, "--bits", str(bits), "--device", "cpu", "--quiet",
                 *options])
    assert code == 0
    (written,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    return written


def assert_carried(tags: dict, expected: dict) -> None:
    lost = {key: (value, tags.get(key)) for key, value in expected.items()
            if tags.get(key) != value}
    assert not lost, f"tags lost or changed (expected, got): {lost}"


@pytest.mark.parametrize("fmt, bits, suffix", OUTPUTS)
def test_jpeg_metadata_survives_into_every_output_format(tmp_path, model_dir, fmt, bits,
                                                         suffix):
    source = tagged_jpeg(tmp_path / "in")
    written = retouch_to(source, tmp_path / "out", model_dir, fmt, bits,
                         "--output-profile", "input")
    assert written.suffix == f".{suffix}"
    tags = read_tags(written)
    assert_carried(tags, CAMERA_TAGS)
    assert tags["ICC_Profile:ProfileDescription"] == read_tags(source)[
        "ICC_Profile:ProfileDescription"]
    assert tags["ICC_Profile:ProfileDescription"] != "sRGB built-in"
    # by default the output is converted to sRGB and tagged so
    default = read_tags(retouch_to(source, tmp_path / "out-srgb", model_dir, fmt, bits))
    assert default["ICC_Profile:ProfileDescription"] == "sRGB built-in"
    assert_carried(default, CAMERA_TAGS)
    if suffix == "tif":  # the output describes its own pixels
        assert tags["IFD0:BitsPerSample"] == ("8 8 8" if bits == 8 else "16 16 16")


@pytest.mark.parametrize("input_name", ["scan.tif", "export.png"])
@pytest.mark.parametrize("fmt, bits, suffix", OUTPUTS)
def test_tiff_and_png_inputs_keep_exif_sub_ifd_gps_iptc_xmp(tmp_path, model_dir, input_name,
                                                            fmt, bits, suffix):
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / input_name
    y, x = np.mgrid[0:40, 0:56]
    pixels = np.stack([x * 1000, y * 1500, (x + y) * 600], axis=-1).astype(np.uint16)
    if input_name.endswith(".tif"):  # 16-bit TIFF
        tifffile.imwrite(source, pixels, photometric="rgb")
    else:
        Image.fromarray((pixels >> 8).astype(np.uint8)).save(source)
    write_tags(source, "-DateTimeOriginal=2021:05:06 07:08:09", "-ISO=400", "-FNumber=2.8",
               "-ExposureTime=1/125", "-FocalLength=85", "-LensModel=EF85mm f/1.8 USM",
               "-Make=Canon", "-Model=Canon EOS 5D", "-XResolution=300", "-YResolution=300",
               "-ResolutionUnit=inches", "-GPSLatitude=48.8566", "-GPSLatitudeRef=N",
               "-XMP-xmp:Rating=4", "-IPTC:Keywords=studio")
    written = retouch_to(source, tmp_path / "out", model_dir, fmt, bits)
    tags = read_tags(written)
    assert_carried(tags, {k: CAMERA_TAGS[k] for k in (
        "ExifIFD:DateTimeOriginal", "ExifIFD:ISO", "ExifIFD:FNumber", "ExifIFD:ExposureTime",
        "ExifIFD:FocalLength", "ExifIFD:LensModel", "IFD0:Make", "IFD0:ResolutionUnit",
        "IFD0:XResolution", "GPS:GPSLatitude", "XMP-xmp:Rating")})
    assert tags["IPTC:Keywords"] == "studio"
    if suffix == "tif":  # the output's own layout, not the source's
        assert (tags["IFD0:ImageWidth"], tags["IFD0:BitsPerSample"]) == (
            56, "8 8 8" if bits == 8 else "16 16 16")


@pytest.mark.parametrize("fmt, bits, suffix", OUTPUTS)
def test_raw_capture_settings_survive_and_orientation_is_reset(tmp_path, model_dir,
                                                               shared_data, fmt, bits,
                                                               suffix):
    raw = shared_data / "raw" / "kodak_dc50.kdc"
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / "kodak.kdc"
    shutil.copyfile(raw, source)
    written = retouch_to(source, tmp_path / "out", model_dir, fmt, bits)
    tags = read_tags(written)
    assert_carried(tags, {
        "ExifIFD:ExposureTime": "1/230", "ExifIFD:FNumber": 6.2,
        "ExifIFD:FocalLength": "37.0 mm", "ExifIFD:Flash": "Auto, Did not fire",
        "IFD0:Make": "Eastman Kodak Company",
        "IFD0:Model": "Kodak Digital Science DC50 Zoom Camera",
        "IFD0:ResolutionUnit": "inches", "IFD0:XResolution": 72,
        "IFD0:Orientation": "Horizontal (normal)",
    })
    # the raw's own layout (its thumbnail IFD0, CFA sub-IFD) is not claimed for the output
    assert not any(key.startswith("SubIFD") for key in tags)
    assert tags.get("IFD0:SubfileType", "Full-resolution image") == "Full-resolution image"
    assert tags["ICC_Profile:ProfileDescription"] == "sRGB built-in"


@pytest.mark.parametrize("fmt, bits", [("jpg", 8), ("tif", 16)])
def test_sideways_jpeg_is_written_as_stored_with_its_orientation_tag(tmp_path, model_dir,
                                                                     fmt, bits):
    source = tagged_jpeg(tmp_path / "in", orientation=6)
    written = retouch_to(source, tmp_path / "out", model_dir, fmt, bits)
    tags = read_tags(written)
    assert tags["IFD0:Orientation"] == "Rotate 90 CW"
    stored = tifffile.imread(written) if fmt == "tif" else np.asarray(Image.open(written))
    assert stored.shape[:2] == (48, 64)  # stored pixels, not rotated


def test_xmp_and_iptc_reach_a_real_portrait(tmp_path, model_dir, shared_data):
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / "niaz.jpg"
    shutil.copyfile(shared_data / "portraits" / "librephotos_niaz.jpg", source)
    write_tags(source, "-XMP-dc:Creator=NASA", "-XMP-xmp:Rating=5",
               "-XMP-dc:Subject=astronaut", "-IPTC:Keywords=astronaut", "-Artist=NASA")
    for fmt, bits in (("jpg", 8), ("tif", 16)):
        tags = read_tags(retouch_to(source, tmp_path / f"out{fmt}", model_dir, fmt, bits))
        assert_carried(tags, {"XMP-dc:Creator": "NASA", "XMP-xmp:Rating": 5,
                              "XMP-dc:Subject": "astronaut", "IPTC:Keywords": "astronaut",
                              "IFD0:Artist": "NASA"})


#: what may differ after retouching: the output's own layout and the writing toolkit
LAYOUT = {"IFD0:PhotometricInterpretation", "IFD0:ImageWidth", "IFD0:ImageHeight",
          "IFD0:BitsPerSample", "IFD0:Compression", "IFD0:StripOffsets",
          "IFD0:RowsPerStrip", "IFD0:StripByteCounts", "IFD0:PlanarConfiguration",
          "IFD0:SamplesPerPixel", "XMP-x:XMPToolkit", "Photoshop:IPTCDigest"}
CARRIED_GROUPS = ("IFD0:", "ExifIFD:", "GPS:", "XMP-", "IPTC:", "InteropIFD:")


@pytest.mark.parametrize("fmt, bits", [("jpg", 8), ("tif", 16), ("png", 16)])
@pytest.mark.parametrize("name", ["fivek5x_a0001-jmac_DSC1459_B.jpg",
                                  "fivek5x_a4607-050801_080948__I2E5512_A.jpg"])
def test_real_camera_exports_keep_every_tag(tmp_path, model_dir, shared_data, name, fmt,
                                            bits):
    """Real Lightroom exports (Nikon D70, Canon EOS-1D Mark II): every EXIF, XMP and IPTC
    tag exiftool reads in the input reads the same in the output (SubjectDistance
    4294967295 = infinity included)."""
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / name
    shutil.copyfile(shared_data / "fivek_experts" / name, source)
    before = {k: v for k, v in read_tags(source).items()
              if k.startswith(CARRIED_GROUPS) and k not in LAYOUT}
    assert len(before) > 60  # the fixture really is a camera export
    after = read_tags(retouch_to(source, tmp_path / "out", model_dir, fmt, bits))
    assert_carried(after, before)
