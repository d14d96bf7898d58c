import torch

from ppr10k.data import TrainingPairs, index_split
from ppr10k.data.transforms import (
    CropBox,
    overlap_in_crops,
    overlapping_crop_pair,
    random_crop_box,
    random_resized_crop,
)


def test_crop_ratio_within_spec_bounds():
    torch.manual_seed(0)
    for _ in range(200):
        box = random_crop_box(360, 540)
        assert 0.6 * 360 - 1 <= box.height <= 360 and 0.6 * 540 - 1 <= box.width <= 540
        assert box.top + box.height <= 360 and box.left + box.width <= 540


def test_same_geometry_on_source_target_and_mask():
    torch.manual_seed(1)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 60), torch.linspace(0, 1, 90), indexing="ij")
    source = torch.stack([xx, yy, xx * yy])
    mask = (xx > 0.5).float()[None]  # right half: where the first channel > 0.5
    for _ in range(20):
        src, tgt, msk = random_resized_crop([source, source.clone(), mask], [False, False, True], 32)
        assert src.shape == (3, 32, 32) and msk.shape == (1, 32, 32)
        torch.testing.assert_close(src, tgt)
        # the mask still marks pixels whose x coordinate is > 0.5 (up to resampling at the edge)
        agree = ((src[0] > 0.52) & (msk[0] == 1)) | ((src[0] < 0.48) & (msk[0] == 0))
        undecided = (src[0] - 0.5).abs() <= 0.02
        assert bool((agree | undecided).all())


def test_glc_crop_pairs_always_overlap():
    torch.manual_seed(2)
    for size, crop in ((448, 336), (100, 30), (50, 10)):
        for _ in range(300):
            a, b = overlapping_crop_pair(size, crop)
            ov_a, _ = overlap_in_crops(a, b)
            assert ov_a.height > 0 and ov_a.width > 0
            assert max(a.top, a.left, b.top, b.left) <= size - crop


def test_overlap_boxes_address_the_same_pixels():
    image = torch.arange(100.0).view(1, 10, 10)
    a, b = CropBox(1, 2, 6, 6), CropBox(3, 0, 6, 6)
    ov_a, ov_b = overlap_in_crops(a, b)
    torch.testing.assert_close(ov_a.cut(a.cut(image)), ov_b.cut(b.cut(image)))
    assert (ov_a.height, ov_a.width) == (4, 4)


def test_glc_items_cut_each_mask_at_its_own_crop(tiny_ppr10k):
    torch.manual_seed(3)
    samples, _ = index_split(tiny_ppr10k, "train", "a")
    pairs = TrainingPairs(samples, crop_size=40, glc=True, glc_crop=24)
    for i in range(len(pairs)):
        item = pairs[i]
        assert item["source"].shape == item["source2"].shape == (3, 24, 24)
        t1, l1, h, w = item["overlap1"].tolist()
        t2, l2, h2, w2 = item["overlap2"].tolist()
        assert (h, w) == (h2, w2) and h > 0 and w > 0
        # target and mask are the same photo's: on the overlap, both crops agree exactly,
        # which fails if the second mask/target were cut at the first crop's position
        for key in ("target", "mask"):
            torch.testing.assert_close(item[key][:, t1:t1 + h, l1:l1 + w],
                                       item[key + "2"][:, t2:t2 + h, l2:l2 + w])
