"""Reading photos leaves process-wide state alone (Pillow's pixel limit, the umask), and
every valid grey layout is read."""

from __future__ import annotations

import os

import imagecodecs
import numpy as np
import pytest
from PIL import Image

from ppr10k.io import read_metadata, read_photo, write_photo
from ppr10k.io.photo import photo_size


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_large_limit_does_not_change_pillows_global_limit(tmp_path, rng, monkeypatch, suffix):
    # Pillow refuses images over twice its limit; a limit of 100 pixels makes this 40x60
    # photo a "bomb" for Pillow, which our own max_pixels (None: no limit) allows.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    pixels = rng.integers(0, 256, (40, 60, 3)).astype(np.uint8)
    path = tmp_path / f"a{suffix}"
    write_photo(path, pixels, None)
    photo = read_photo(path, max_pixels=None)
    assert photo.pixels.shape == (40, 60, 3)
    assert photo_size(path, max_pixels=None) == (40, 60)
    assert read_metadata(path).icc_profile  # read (not given up as a "bomb")
    assert Image.MAX_IMAGE_PIXELS == 100


def test_sixteen_bit_grey_alpha_png_is_read_as_grey(tmp_path, rng):
    grey = rng.integers(0, 65536, (10, 12)).astype(np.uint16)
    alpha = np.full_like(grey, 65535)
    path = tmp_path / "la16.png"
    path.write_bytes(bytes(imagecodecs.png_encode(np.stack([grey, alpha], axis=-1))))
    assert path.read_bytes()[24:26] == b"\x10\x04"  # IHDR: 16 bits, grey + alpha
    photo = read_photo(path)
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, np.repeat(grey[:, :, None], 3, axis=2))


def test_eight_bit_grey_alpha_png_is_read_as_grey(tmp_path, rng):
    grey = rng.integers(0, 256, (10, 12)).astype(np.uint8)
    Image.fromarray(np.stack([grey, grey // 2], axis=-1), mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_photo(tmp_path / "la.png").pixels,
                                  np.repeat(grey[:, :, None], 3, axis=2))


def test_writing_photos_and_sidecars_does_not_touch_the_umask(tmp_path, rng, monkeypatch):
    from ppr10k.xmp import write as xmp_write

    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real(mask))
    write_photo(tmp_path / "a.png", rng.integers(0, 256, (8, 8, 3)).astype(np.uint8), None)
    xmp_write.write_bytes_atomic(tmp_path / "a.xmp", b"<x:xmpmeta/>")
    assert calls == []
    mode = (tmp_path / "a.xmp").stat().st_mode & 0o777
    assert mode == (tmp_path / "a.png").stat().st_mode & 0o777
    assert mode & 0o044  # readable by others, as a plain open() makes it (not mkstemp's 0600)
