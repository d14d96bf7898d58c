"""The predictor's thumbnail (area downscale, orientation) and grouping / weight blending."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import torch

from ppr10k.models import blend
from ppr10k.retouch import (
    area_resize,
    group_photos,
    predictor_input,
    thumbnail_size,
)


def test_area_resize_integer_ratio_is_block_mean(rng):
    image = rng.uniform(0, 1, (8, 12, 3)).astype(np.float32)
    expected = image.reshape(2, 4, 3, 4, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(area_resize(image, (2, 3)), expected, atol=1e-6)


def test_area_resize_fractional_footprints_by_hand():
    # 3 columns -> 2: output 0 covers column 0 and half of column 1, output 1 the rest
    row = np.array([[[0.0] * 3, [0.6] * 3, [0.9] * 3]], dtype=np.float32)  # (1, 3, 3)
    out = area_resize(row, (1, 2))[0, :, 0]
    np.testing.assert_allclose(out, [(0.0 + 0.5 * 0.6) / 1.5, (0.5 * 0.6 + 0.9) / 1.5],
                               atol=1e-6)


@pytest.mark.parametrize("size", [(7, 11), (360, 540), (1, 1), (45, 45)])
def test_area_resize_keeps_the_mean_and_constants(rng, size):
    image = rng.integers(0, 65536, (361, 541, 3)).astype(np.uint16)
    out = area_resize(image, size)
    assert out.shape == (*size, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 1)), image.mean(axis=(0, 1)) / 65535,
                               rtol=1e-5)
    flat = np.full((100, 130, 3), 200, np.uint8)
    np.testing.assert_allclose(area_resize(flat, (33, 41)), 200 / 255, atol=1e-6)


def test_area_resize_refuses_upscaling():
    with pytest.raises(ValueError, match="only reduces"):
        area_resize(np.zeros((4, 4, 3), np.float32), (8, 8))


def test_thumbnail_size_and_orientation(rng):
    assert thumbnail_size(4320, 7680) == (304, 540)
    assert thumbnail_size(7680, 4320) == (540, 304)
    assert thumbnail_size(300, 400) == (300, 400)  # never enlarged
    image = rng.integers(0, 256, (1080, 1620, 3)).astype(np.uint8)
    upright = predictor_input(image, orientation=1)
    turned = predictor_input(image, orientation=6)  # stored sideways: shown rotated 90 cw
    assert upright.shape == (1, 3, 360, 540) and turned.shape == (1, 3, 540, 360)
    torch.testing.assert_close(turned[0], torch.rot90(upright[0], -1, dims=(1, 2)))


def test_blend_pulls_every_parameter_to_the_group_mean():
    w = torch.tensor([[1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    v = torch.tensor([[[0.0, 0.2, 1.0]], [[0.0, 0.6, 1.0]]])
    torch.testing.assert_close(blend({"weights": w}, 0.0)["weights"], w)
    same = blend({"weights": w, "vertices": v}, 1.0)
    torch.testing.assert_close(same["weights"], torch.tensor([[2.0, 1.0, 1.0], [2.0, 1.0, 1.0]]))
    torch.testing.assert_close(same["vertices"][1, 0], torch.tensor([0.0, 0.4, 1.0]))
    torch.testing.assert_close(blend({"weights": w}, 0.25)["weights"][0],
                               torch.tensor([1.25, 0.25, 1.75]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        blend({"weights": w}, 1.5)


def test_group_by_prefix_folder_and_time():
    paths = [Path("a/1_1.jpg"), Path("a/1_2_3.jpg"), Path("a/2_1.jpg"), Path("b/1_4.jpg"),
             Path("a/IMG_1.jpg"), Path("a/IMG_2.jpg"), Path("a/IMG_3.jpg"),
             Path("a/IMG_4.jpg")]
    t0 = dt.datetime(2024, 1, 1, 12, 0, 0)
    times = [None] * 4 + [t0, t0 + dt.timedelta(seconds=60),
                          t0 + dt.timedelta(seconds=1000), None]
    # prefix: G within a folder; the rest fall back to their folder
    assert group_photos(paths, "prefix") == [[0, 1], [2], [3], [4, 5, 6, 7]]
    assert group_photos(paths, "folder") == [[0, 1, 2, 4, 5, 6, 7], [3]]
    # time: 4 and 5 are 60 s apart, 6 comes 940 s later; 7 has no time -> its folder
    assert group_photos(paths, "time", times, gap_s=300) == [[0, 1, 2, 7], [3], [4, 5], [6]]
    assert group_photos(paths, "auto", times, gap_s=300) == [[0, 1], [2], [3], [4, 5], [6],
                                                             [7]]
    assert group_photos(paths, "auto", times, gap_s=2000) == [[0, 1], [2], [3], [4, 5, 6],
                                                              [7]]
    with pytest.raises(ValueError, match="group mode"):
        group_photos(paths, "exif")
