"""read_photo / write_photo: every input format, 8/16-bit round trips, EXIF/ICC carry-over,
capture time, and each kind of bad input reported with its reason."""

import datetime as dt
import io
import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from ppr10k.io import (
    PhotoError,
    PhotoMetadata,
    PhotoTooLargeError,
    orient,
    read_metadata,
    read_photo,
    write_image,
    write_photo,
)
from ppr10k.io.metadata import icc_description

FAKE_ICC = b"\x00\x00\x02\x00test-profile-bytes" * 20


def make_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "TestMake"
    exif[0x0110] = "TestModel 5"
    exif[0x0112] = orientation
    exif[0x0132] = "2024:05:06 10:11:12"
    exif[0x8769] = {0x9003: "2024:05:06 07:08:09", 0x829A: 0.004}
    return exif.tobytes()


def rgb16(rng, h=24, w=36) -> np.ndarray:
    return rng.integers(0, 65536, (h, w, 3)).astype(np.uint16)


# ---------------------------------------------------------------- formats and depths

@pytest.mark.parametrize("name, dtype", [("a.png", np.uint8), ("a.png", np.uint16),
                                         ("a.tif", np.uint8), ("a.tif", np.uint16)])
def test_lossless_round_trip_keeps_every_bit(tmp_path, rng, name, dtype):
    peak = np.iinfo(dtype).max
    pixels = rng.integers(0, peak + 1, (24, 36, 3)).astype(dtype)
    write_photo(tmp_path / name, pixels, PhotoMetadata())
    photo = read_photo(tmp_path / name)
    assert photo.pixels.dtype == dtype and photo.bits == (16 if dtype == np.uint16 else 8)
    np.testing.assert_array_equal(photo.pixels, pixels)
    # read a second way: tifffile / Pillow+imagecodecs, not our reader
    if name.endswith(".tif"):
        np.testing.assert_array_equal(tifffile.imread(tmp_path / name), pixels)


def test_sixteen_bit_values_are_not_8bit_multiples(tmp_path, rng):
    pixels = rgb16(rng)
    assert np.any(pixels % 257 != 0)
    for name in ("b.png", "b.tif"):
        write_photo(tmp_path / name, pixels, None)
        np.testing.assert_array_equal(read_photo(tmp_path / name).pixels, pixels)


def test_jpeg_round_trip_is_close(tmp_path):
    y, x = np.mgrid[0:64, 0:96]
    pixels = np.stack([x * 2, y * 3, (x + y)], axis=-1).astype(np.uint8)
    write_photo(tmp_path / "c.jpg", pixels, None)
    back = read_photo(tmp_path / "c.jpg").pixels
    assert back.dtype == np.uint8 and back.shape == pixels.shape
    assert np.abs(back.astype(int) - pixels).mean() < 2.0


def test_grey_and_rgba_inputs_become_rgb(tmp_path, rng):
    grey = rng.integers(0, 256, (10, 12)).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_photo(tmp_path / "g.png").pixels,
                                  np.repeat(grey[:, :, None], 3, axis=2))
    rgba = rng.integers(0, 256, (10, 12, 4)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=[2])
    np.testing.assert_array_equal(read_photo(tmp_path / "a.tif").pixels, rgba[..., :3])


def test_planar_tiff(tmp_path, rng):
    pixels = rgb16(rng)
    tifffile.imwrite(tmp_path / "p.tif", pixels.transpose(2, 0, 1), photometric="rgb",
                     planarconfig="separate")
    np.testing.assert_array_equal(read_photo(tmp_path / "p.tif").pixels, pixels)


def test_camera_raw_decodes_to_16bit_srgb(shared_data):
    import rawpy

    path = shared_data / "raw" / "kodak_dc50.kdc"
    photo = read_photo(path)
    with rawpy.imread(str(path)) as raw:
        height, width = raw.sizes.height, raw.sizes.width
    assert photo.kind == "raw" and photo.bits == 16
    assert photo.pixels.dtype == np.uint16 and photo.pixels.shape == (height, width, 3)
    # real 16-bit data: far more than 256 levels, not an 8-bit image scaled up
    assert len(np.unique(photo.pixels)) > 1024
    assert np.any(photo.pixels % 257 != 0)
    assert photo.metadata.orientation == 1


# ---------------------------------------------------------------- metadata

@pytest.mark.parametrize("out_name", ["o.jpg", "o.png", "o8.tif", "o16.png"])
def test_jpeg_exif_and_icc_carry_over(tmp_path, rng, out_name):
    src = tmp_path / "in.jpg"
    pixels = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(src, exif=make_exif(orientation=6), icc_profile=FAKE_ICC)
    photo = read_photo(src)
    assert photo.metadata.orientation == 6
    assert photo.metadata.capture_time == dt.datetime(2024, 5, 6, 7, 8, 9)
    assert photo.metadata.icc_profile == FAKE_ICC
    out = tmp_path / out_name
    samples = photo.pixels.astype(np.uint16) * 257 if out_name == "o16.png" else photo.pixels
    write_photo(out, samples, photo.metadata)
    with Image.open(out) as img:  # read back with Pillow, not our reader
        assert img.info.get("icc_profile") == FAKE_ICC
        exif = img.getexif()
        assert exif[0x010F] == "TestMake" and exif[0x0110] == "TestModel 5"
        assert exif[0x0112] == 6
        assert exif.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
    if out_name == "o.jpg":
        with Image.open(out) as img:
            assert img.info["exif"] == b"Exif\x00\x00" + photo.metadata.exif  # untouched


def test_sixteen_bit_tiff_keeps_icc_and_camera_tags(tmp_path, rng):
    meta = PhotoMetadata(exif=make_exif(orientation=3)[6:], icc_profile=FAKE_ICC)
    write_photo(tmp_path / "o.tif", rgb16(rng), meta)
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        tags = tif.pages[0].tags
        assert tags[34675].value == FAKE_ICC
        assert tags["Make"].value == "TestMake" and tags["Model"].value == "TestModel 5"
        assert tags["Orientation"].value == 3
        assert tags["DateTime"].value == "2024:05:06 10:11:12"
        assert tif.pages[0].dtype == np.uint16


def test_tiff_input_metadata_to_jpeg(tmp_path, rng):
    src = tmp_path / "in.tif"
    Image.fromarray(rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)).save(
        src, exif=make_exif(), icc_profile=FAKE_ICC)
    photo = read_photo(src)
    assert photo.metadata.capture_time == dt.datetime(2024, 5, 6, 7, 8, 9)
    write_photo(tmp_path / "o.jpg", photo.pixels, photo.metadata)
    with Image.open(tmp_path / "o.jpg") as img:
        assert img.info["icc_profile"] == FAKE_ICC
        assert img.getexif()[0x010F] == "TestMake"
        assert 0x0111 not in img.getexif()  # the TIFF's strip offsets are not copied


def test_output_without_input_profile_is_tagged_srgb(tmp_path, rng):
    pixels = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    for name in ("s.jpg", "s.png", "s.tif"):
        write_photo(tmp_path / name, pixels, PhotoMetadata())
        with Image.open(tmp_path / name) as img:
            assert "sRGB" in icc_description(img.info["icc_profile"])
    write_photo(tmp_path / "s16.tif", pixels.astype(np.uint16) * 257, None)
    with tifffile.TiffFile(tmp_path / "s16.tif") as tif:
        assert "sRGB" in icc_description(tif.pages[0].tags[34675].value)


def test_raw_metadata_orientation_reset(shared_data):
    meta = read_metadata(shared_data / "raw" / "kodak_dc50.kdc")
    assert meta.orientation == 1


def test_orient_matches_pillow_exif_transpose(rng):
    pixels = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    for orientation in range(1, 9):
        img = Image.fromarray(pixels)
        exif = img.getexif()
        exif[0x0112] = orientation
        buffer = io.BytesIO()
        img.save(buffer, format="PNG", exif=exif)
        expected = np.asarray(ImageOps.exif_transpose(Image.open(buffer)))
        np.testing.assert_array_equal(orient(pixels, orientation), expected)


def test_write_image_default_behaviour_unchanged(tmp_path, rng):
    image = rng.uniform(0, 1, (6, 7, 3)).astype(np.float32)
    write_image(tmp_path / "w.png", image, bits=16)
    back = read_photo(tmp_path / "w.png").pixels
    np.testing.assert_array_equal(back, np.rint(image * 65535).astype(np.uint16))
    assert (tmp_path / "w.png").stat().st_mode & 0o044  # readable by others: not 0600


# ---------------------------------------------------------------- bad inputs

def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)


def _jpeg_bytes(rng) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)).save(
        buffer, format="JPEG")
    return buffer.getvalue()


def test_empty_file(tmp_path):
    (tmp_path / "e.jpg").write_bytes(b"")
    with pytest.raises(PhotoError, match="e.jpg: empty file"):
        read_photo(tmp_path / "e.jpg")


@pytest.mark.parametrize("name", ["t.jpg", "t.png", "t16.png", "t.tif"])
def test_truncated_files(tmp_path, rng, name):
    full = tmp_path / ("full" + name)
    if name == "t.jpg":
        full.write_bytes(_jpeg_bytes(rng))
    else:
        write_photo(full, rgb16(rng, 64, 64) if name != "t.png" else
                    rng.integers(0, 256, (64, 64, 3)).astype(np.uint8), None)
    data = full.read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(PhotoError, match=f"{name}: .*(truncated|cannot decode)"):
        read_photo(tmp_path / name)


def test_truncated_raw(tmp_path, shared_data):
    data = (shared_data / "raw" / "kodak_dc50.kdc").read_bytes()
    (tmp_path / "t.kdc").write_bytes(data[: len(data) // 3])
    with pytest.raises(PhotoError, match="t.kdc: .*(truncated|raw decoding failed)"):
        read_photo(tmp_path / "t.kdc")


def test_corrupt_header(tmp_path):
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff" + bytes(200))
    with pytest.raises(PhotoError, match="c.jpg: "):
        read_photo(tmp_path / "c.jpg")


def test_mislabelled_files(tmp_path, rng):
    (tmp_path / "m.jpg").write_bytes(_png_header(4, 4))
    with pytest.raises(PhotoError, match="m.jpg: mislabelled.*PNG.*rename it to .png"):
        read_photo(tmp_path / "m.jpg")
    (tmp_path / "m.cr2").write_bytes(_jpeg_bytes(rng))
    with pytest.raises(PhotoError, match="m.cr2: mislabelled: the content is JPEG"):
        read_photo(tmp_path / "m.cr2")
    (tmp_path / "text.nef").write_text("not a raw at all " * 50)
    with pytest.raises(PhotoError, match="text.nef: not a camera raw LibRaw can decode"):
        read_photo(tmp_path / "text.nef")
    (tmp_path / "text.tif").write_text("hello " * 50)
    with pytest.raises(PhotoError, match="text.tif: mislabelled.*not an image file"):
        read_photo(tmp_path / "text.tif")


def test_unsupported_formats(tmp_path, rng):
    Image.fromarray(rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)).save(tmp_path / "u.gif")
    (tmp_path / "notes.txt").write_text("hi")
    for name in ("u.gif", "notes.txt"):
        with pytest.raises(PhotoError, match=f"{name}: unsupported format"):
            read_photo(tmp_path / name)
    cmyk = rng.integers(0, 256, (4, 4, 4)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "k.tif", cmyk, photometric="separated")
    with pytest.raises(PhotoError, match="k.tif: SEPARATED TIFF is not supported"):
        read_photo(tmp_path / "k.tif")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        read_photo(tmp_path / "nope.jpg")


def test_pixel_limit_refuses_decompression_bomb_before_decoding(tmp_path, rng):
    # a PNG that claims 60000 x 60000 pixels (3.6 GP) in a few bytes
    idat = zlib.compress(bytes(1 << 20))  # 1 MB of zeros -> 1 KB; a bomb streams on
    (tmp_path / "bomb.png").write_bytes(_png_header(60000, 60000) + _chunk(b"IDAT", idat)
                                        + _chunk(b"IEND", b""))
    with pytest.raises(PhotoTooLargeError, match="bomb.png: 60000x60000 = 3600 MP is over"):
        read_photo(tmp_path / "bomb.png")
    write_photo(tmp_path / "ok.tif", rgb16(rng, 100, 100), None)
    with pytest.raises(PhotoTooLargeError, match="--max-pixels"):
        read_photo(tmp_path / "ok.tif", max_pixels=9_999)
    assert read_photo(tmp_path / "ok.tif", max_pixels=10_000).pixels.shape == (100, 100, 3)
