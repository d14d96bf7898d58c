"""Colour profiles at the edges (ppr10k.io.colour): Adobe RGB, ProPhoto and Display P3 inputs
converted to sRGB match colour-science's RGB colourspace conversions (a second way) and
LittleCMS (ImageCms) at 8 bits; unreadable, grey and CMYK profiles give a one-line reason."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess

import colour
import numpy as np
import pytest
from PIL import Image, ImageCms

from ppr10k.io import PhotoMetadata, read_photo, write_photo
from ppr10k.io.colour import (
    adobe_rgb_icc_profile,
    build_matrix_profile,
    from_srgb,
    input_profile,
    parse_profile,
    srgb_profile,
    to_srgb,
)
from ppr10k.io.decode import PhotoError

#: name -> (colour-science colourspace, tone curve of the profile built here)
SPACES = {
    "adobe": ("Adobe RGB (1998)", 563 / 256),
    "prophoto": ("ProPhoto RGB", 1.8),
    "p3": ("Display P3", "srgb"),
}


def profile_bytes(name: str) -> bytes:
    space, curve = SPACES[name]
    cs = colour.RGB_COLOURSPACES[space]
    return build_matrix_profile(f"{name} test", cs.primaries, cs.whitepoint, curve)


def decode(encoded: np.ndarray, curve) -> np.ndarray:
    """Encoded [0, 1] -> linear, the way the profile defines it (colour-science for sRGB)."""
    if curve == "srgb":
        return colour.models.eotf_sRGB(encoded)
    return encoded ** curve


def reference_srgb_linear(pixels: np.ndarray, name: str) -> np.ndarray:
    """colour-science: linear RGB in the space -> linear sRGB (Bradford), clipped to [0, 1]."""
    space, curve = SPACES[name]
    peak = np.iinfo(pixels.dtype).max
    linear = decode(pixels / peak, curve)
    return np.clip(colour.RGB_to_RGB(linear, space, "sRGB",
                                     chromatic_adaptation_transform="Bradford"), 0.0, 1.0)


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_conversion_to_srgb_matches_colour_science(rng, name, dtype):
    peak = np.iinfo(dtype).max
    pixels = rng.integers(0, peak + 1, (32, 48, 3)).astype(dtype)
    profile = parse_profile(profile_bytes(name), "test")
    assert profile.is_matrix
    ours = to_srgb(pixels, profile)
    assert ours.dtype == dtype
    expected = reference_srgb_linear(pixels, name)
    got = colour.models.eotf_sRGB(ours / peak)
    # in linear light: the ICC s15Fixed16 colourants (and 8-bit rounding) are the difference
    assert np.abs(got - expected).max() < (5e-4 if dtype == np.uint16 else 6e-3)
    encoded = np.rint(colour.models.eotf_inverse_sRGB(expected) * peak)
    assert np.median(np.abs(ours - encoded)) <= (3 if dtype == np.uint16 else 0)
    # and it is a real conversion: the numbers change
    assert np.abs(ours.astype(float) - pixels).mean() > peak / 200


@pytest.mark.parametrize("name", sorted(SPACES))
def test_eight_bit_conversion_matches_littlecms(rng, name):
    pixels = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    icc = profile_bytes(name)
    transform = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile().icc)), "RGB", "RGB",
        ImageCms.Intent.RELATIVE_COLORIMETRIC)
    lcms = np.asarray(ImageCms.applyTransform(Image.fromarray(pixels), transform))
    ours = to_srgb(pixels, parse_profile(icc, "test"))
    assert np.abs(ours.astype(int) - lcms).max() <= 1


def test_sixteen_bit_round_trip_keeps_precision(rng):
    # sRGB colours to Adobe RGB (a wider gamut) and back at 16 bits: in linear light
    # within the 16-bit step of the Adobe RGB intermediate (an 8-bit round trip: ~4e-3)
    srgb = rng.integers(2000, 63000, (64, 64, 3)).astype(np.uint16)
    adobe = parse_profile(adobe_rgb_icc_profile(), "adobe")
    back = to_srgb(from_srgb(srgb, adobe), adobe)
    error = np.abs(colour.models.eotf_sRGB(back / 65535) - colour.models.eotf_sRGB(srgb / 65535))
    assert error.max() < 4e-5
    # a smooth 16-bit ramp stays smooth: no 8-bit banding (many distinct levels survive)
    ramp = np.linspace(0, 65535, 4096).astype(np.uint16)[None, :, None].repeat(3, axis=2)
    assert len(np.unique(from_srgb(ramp, adobe)[..., 1])) > 3000


def test_srgb_profile_is_recognised_as_such():
    assert srgb_profile().same_as(parse_profile(srgb_profile().icc))
    assert not srgb_profile().same_as(parse_profile(adobe_rgb_icc_profile()))


def grey_profile() -> bytes:
    icc = bytearray(profile_bytes("adobe"))
    icc[16:20] = b"GRAY"
    return bytes(icc)


def cmyk_profile() -> bytes:
    icc = bytearray(profile_bytes("adobe"))
    icc[16:20] = b"CMYK"
    return bytes(icc)


@pytest.mark.parametrize("icc, words", [
    (b"\x00\x00\x01\x00fake-profile" * 10, "unreadable ICC profile"),
    (b"", "unreadable ICC profile"),
    (grey_profile(), "for GRAY data, not RGB"),
    (cmyk_profile(), "for CMYK data, not RGB"),
])
def test_bad_profiles_give_a_one_line_reason_naming_the_file(tmp_path, icc, words):
    path = tmp_path / "shot.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, icc_profile=icc or None)
    photo = read_photo(path)
    if not icc:  # no profile at all: sRGB, nothing to convert
        assert input_profile(photo) is None
        with pytest.raises(PhotoError) as error:
            parse_profile(icc, str(path))
    else:
        with pytest.raises(PhotoError) as error:
            input_profile(photo)
    message = str(error.value)
    assert words in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("bits", [8, 16])
def test_embedded_profile_is_found_in_png_and_tiff(tmp_path, rng, name, bits):
    dtype = np.uint8 if bits == 8 else np.uint16
    pixels = rng.integers(0, np.iinfo(dtype).max + 1, (16, 24, 3)).astype(dtype)
    icc = profile_bytes(name)
    for suffix in (".png", ".tif"):
        path = tmp_path / f"p{suffix}"
        write_photo(path, pixels, PhotoMetadata(icc_profile=icc))
        photo = read_photo(path)
        profile = input_profile(photo)
        assert profile is not None and profile.name == f"{name} test"
        np.testing.assert_array_equal(to_srgb(photo.pixels, profile),
                                      to_srgb(pixels, parse_profile(icc)))


def test_without_a_profile_the_photo_is_srgb(tmp_path, rng):
    path = tmp_path / "plain.jpg"
    Image.fromarray(rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)).save(path)
    assert input_profile(read_photo(path)) is None


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool")
def test_exif_interop_r03_without_a_profile_means_adobe_rgb(tmp_path, rng):
    path = tmp_path / "adobe.jpg"
    Image.fromarray(rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)).save(path)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-ColorSpace=Uncalibrated",
                    "-InteropIndex=R03", str(path)], check=True)
    photo = read_photo(path)
    assert photo.metadata.icc_profile is None
    profile = input_profile(photo)
    assert profile is not None and profile.same_as(parse_profile(adobe_rgb_icc_profile()))
    # the same file saying sRGB (R98) stays sRGB
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-ColorSpace=sRGB",
                    "-InteropIndex=R98", str(path)], check=True)
    assert input_profile(read_photo(path)) is None


def test_adobe_profile_built_here_is_adobe_rgb_by_colour_science():
    cs = colour.RGB_COLOURSPACES["Adobe RGB (1998)"]
    profile = parse_profile(adobe_rgb_icc_profile())
    d50 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["ICC D50"]
    expected = colour.adaptation.matrix_chromatic_adaptation_VonKries(
        colour.xy_to_XYZ(cs.whitepoint), colour.xy_to_XYZ(d50), "Bradford"
    ) @ cs.matrix_RGB_to_XYZ
    assert np.abs(profile.colourants - expected).max() < 2e-3
    assert struct.unpack(">I", adobe_rgb_icc_profile()[:4])[0] == len(adobe_rgb_icc_profile())


@pytest.mark.parametrize("name", sorted(SPACES))
def test_float_samples_convert_like_sixteen_bit_ones(rng, name):
    # float TIFF samples take the NumPy route, integers the compiled one: both the same
    pixels = rng.integers(0, 65536, (16, 16, 3)).astype(np.uint16)
    profile = parse_profile(profile_bytes(name))
    as_float = to_srgb((pixels / 65535).astype(np.float32), profile)
    assert as_float.dtype == np.float32
    assert np.abs(as_float * 65535 - to_srgb(pixels, profile)).max() < 1.5


def with_a2b0(icc: bytes, name: str, grid: int = 33) -> bytes:
    """``icc`` (a matrix/TRC profile of ``SPACES[name]``) plus an ``A2B0`` lut16 table that
    colour-science fills (RGB -> PCS XYZ, D50): a lookup-table profile LittleCMS prefers."""
    space, curve = SPACES[name]
    axis = np.linspace(0.0, 1.0, grid)
    rgb = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    d50 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["ICC D50"]
    xyz = colour.RGB_to_XYZ(decode(rgb, curve), space, illuminant=d50,
                            chromatic_adaptation_transform="Bradford")
    clut = np.rint(np.clip(xyz, 0, 1.99) * 32768).astype(">u2")  # u1Fixed15 XYZ
    identity = struct.pack(">9i", 65536, 0, 0, 0, 65536, 0, 0, 0, 65536)
    ramps = struct.pack(">6H", 0, 65535, 0, 65535, 0, 65535)
    tag = (b"mft2" + bytes(4) + bytes([3, 3, grid, 0]) + identity + struct.pack(">HH", 2, 2)
           + ramps + clut.tobytes() + ramps)
    (count,) = struct.unpack_from(">I", icc, 128)
    entries = [struct.unpack_from(">4sII", icc, 132 + 12 * i) for i in range(count)]
    tags = [(sig, icc[offset:offset + size]) for sig, offset, size in entries] + [
        (b"A2B0", tag)]
    table, body = b"", b""
    start = 132 + 12 * len(tags)
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += struct.pack(">4sII", sig, start + len(body), len(data))
        body += data
    header = struct.pack(">I", start + len(body)) + icc[4:128]
    return header + struct.pack(">I", len(tags)) + table + body


def test_lookup_table_profile_goes_through_littlecms(rng):
    pixels = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    profile = parse_profile(with_a2b0(profile_bytes("adobe"), "adobe"), "camera.icc")
    assert not profile.is_matrix
    ours = to_srgb(pixels, profile)
    expected = colour.models.eotf_inverse_sRGB(reference_srgb_linear(pixels, "adobe")) * 255
    error = np.abs(ours - expected)
    # 8-bit, through a 33-point table interpolated on gamma-encoded input: close except a
    # few near-black samples (where the sRGB curve's slope magnifies interpolation error)
    assert np.median(error) <= 1.0 and np.percentile(error, 95) <= 3.0
    # the A2B0 table is what counts: one filled with another space's numbers changes them
    other = parse_profile(with_a2b0(profile_bytes("adobe"), "prophoto"), "camera.icc")
    assert np.abs(to_srgb(pixels, other).astype(int) - ours).mean() > 5
