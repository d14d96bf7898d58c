"""The decoded training cache and the device-side augmentation (`ppr10k.data.cache`).

Expected values come from the files read with tifffile / Pillow, from NumPy slicing of the
cached arrays with ``torch.nn.functional.interpolate`` called here, and from the CPU path
(`TrainingPairs`) with the same seed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from ppr10k.data import TrainingPairs
from ppr10k.data.cache import (
    CACHE_FOLDER,
    IMAGES_FILE,
    CachedCrops,
    augment_batch,
    build_cache,
)
from ppr10k.data.pairs import index_training_data
from ppr10k.io import read_photo_image
from ppr10k.train import TrainConfig, train

CPU = torch.device("cpu")


@pytest.fixture
def samples(tiny_ppr10k):
    found, problems = index_training_data(str(tiny_ppr10k), "train", "a", True)
    assert found and not problems
    return found


def test_cache_holds_the_files_samples_exactly(samples) -> None:
    cache = build_cache(samples)
    for i, sample in enumerate(samples):
        source = tifffile.imread(sample.source)
        assert source.dtype == np.uint16  # the fixture's sources are 16-bit TIFFs
        np.testing.assert_array_equal(cache.source(i), source.transpose(2, 0, 1))
        target = tifffile.imread(sample.target)
        assert target.dtype == np.uint8
        np.testing.assert_array_equal(cache.target(i),
                                      target.transpose(2, 0, 1).astype(np.uint16) * 257)
        mask = np.asarray(Image.open(sample.mask))
        np.testing.assert_array_equal(cache.mask(i)[0], (mask.max(axis=2) != 0).astype(np.uint8))
        # as floats, exactly what the CPU path reads (x / 65535 == (x / 257) / 255)
        as_float = torch.from_numpy(cache.target(i).astype(np.float32)) / 65535.0
        expected = torch.from_numpy(read_photo_image(sample.target).transpose(2, 0, 1).copy())
        assert torch.equal(as_float, expected)
    # one slot per file: versions share their photo's target and mask
    assert len(cache.plan.images) == len(samples) + len({s.target for s in samples})


def test_memory_mapped_cache_equals_the_one_in_memory(samples, tmp_path) -> None:
    in_memory = build_cache(samples)
    mapped = build_cache(samples, tmp_path / "cache", memory_limit=0)
    assert isinstance(mapped.images, np.memmap) and not mapped.images.flags.writeable
    assert (tmp_path / "cache" / IMAGES_FILE).stat().st_size == 2 * in_memory.plan.image_samples
    for i in range(len(samples)):
        np.testing.assert_array_equal(mapped.source(i), in_memory.source(i))
        np.testing.assert_array_equal(mapped.target(i), in_memory.target(i))
        np.testing.assert_array_equal(mapped.mask(i), in_memory.mask(i))
    with pytest.raises(ValueError, match="memory limit, and no folder"):
        build_cache(samples, None, memory_limit=0)


def by_hand(array: np.ndarray, top: int, left: int, height: int, width: int, size: int,
            flip: bool, mask: bool = False) -> torch.Tensor:
    """NumPy slicing of a cached array, float, resized with F.interpolate, flipped."""
    crop = array[:, top:top + height, left:left + width].astype(np.float32)
    crop = crop if mask else crop / 65535.0
    tensor = torch.from_numpy(np.ascontiguousarray(crop))[None]
    if mask:
        resized = F.interpolate(tensor, size=(size, size), mode="nearest")[0]
    else:
        resized = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False,
                                antialias=True)[0]
    return resized.flip(-1) if flip else resized


def test_device_augmentation_equals_slicing_by_hand(samples) -> None:
    cache = build_cache(samples)
    crops = CachedCrops(cache, samples, crop_size=32)
    torch.manual_seed(1)
    order = [3, 0, 5, 2, 7, 1]
    items = [crops[i] for i in order]
    assert {item["flip"] for item in items} == {True, False}  # both cases drawn
    batch = augment_batch(items, CPU, crop_size=32)
    for row, (i, item) in enumerate(zip(order, items)):
        box = (item["box"].top, item["box"].left, item["box"].height, item["box"].width)
        torch.testing.assert_close(batch["source"][row],
                                   by_hand(cache.source(i), *box, 32, item["flip"]),
                                   rtol=0, atol=1e-6)
        torch.testing.assert_close(batch["target"][row],
                                   by_hand(cache.target(i), *box, 32, item["flip"]),
                                   rtol=0, atol=1e-6)
        assert torch.equal(batch["mask"][row],
                           by_hand(cache.mask(i), *box, 32, item["flip"], mask=True))


def test_glc_device_augmentation_equals_slicing_by_hand(samples) -> None:
    cache = build_cache(samples)
    size, crop = 32, 24
    crops = CachedCrops(cache, samples, crop_size=size, glc=True, glc_crop=crop)
    torch.manual_seed(2)
    order = [0, 4, 8, 1]
    items = [crops[i] for i in order]
    batch = augment_batch(items, CPU, crop_size=size, glc=True)
    for row, item in enumerate(items):
        b1, b2, flip = item["box1"], item["box2"], item["flip"]
        full = {key: by_hand(item[key].numpy(), 0, 0, *item[key].shape[1:], size, flip,
                             mask=key == "mask")
                for key in ("source", "target", "mask", "source2")}
        cut1 = (slice(None), slice(b1.top, b1.top + crop), slice(b1.left, b1.left + crop))
        cut2 = (slice(None), slice(b2.top, b2.top + crop), slice(b2.left, b2.left + crop))
        for name, key, cut in (("source", "source", cut1), ("target", "target", cut1),
                               ("mask", "mask", cut1), ("source2", "source2", cut2),
                               ("target2", "target", cut2), ("mask2", "mask", cut2)):
            torch.testing.assert_close(batch[name][row], full[key][cut], rtol=0, atol=1e-6)
        # the overlap in each crop's coordinates, worked out from the two boxes
        top, left = max(b1.top, b2.top), max(b1.left, b2.left)
        h = min(b1.top, b2.top) + crop - top
        w = min(b1.left, b2.left) + crop - left
        assert batch["overlap1"][row].tolist() == [top - b1.top, left - b1.left, h, w]
        assert batch["overlap2"][row].tolist() == [top - b2.top, left - b2.left, h, w]
    # source2 is another version of the same photo
    for i, item in zip(order, items):
        others = [j for j, s in enumerate(samples) if s.key.photo == samples[i].key.photo]
        assert any(torch.equal(item["source2"], torch.from_numpy(cache.source(j)))
                   for j in others if j != i)


@pytest.mark.parametrize("resident", [False, True])
@pytest.mark.parametrize("glc", [False, True])
def test_same_seed_same_batches_as_the_cpu_path(samples, glc: bool, resident: bool) -> None:
    """Host cache, and a cache copied to the device (here the CPU, as torch tensors), give
    the CPU path's batches."""
    cache = build_cache(samples)
    if resident:
        cache = cache.to(CPU)
        assert cache.resident and cache.images.dtype == torch.int16
    torch.manual_seed(5)
    expected = list(DataLoader(TrainingPairs(samples, 32, glc, 24), batch_size=4,
                               shuffle=True))
    torch.manual_seed(5)
    loader = DataLoader(CachedCrops(cache, samples, 32, glc, 24), batch_size=4, shuffle=True,
                        collate_fn=list)
    got = [augment_batch(items, CPU, 32, glc) for items in loader]
    assert len(got) == len(expected) == 3
    for a, b in zip(expected, got):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, check_dtype=False)


@pytest.mark.parametrize(("memory_gb", "on_device"), [(8.0, "yes"), (0.0, "no")])
def test_training_with_the_cache_learns(tiny_ppr10k, tmp_path, memory_gb: float,
                                        on_device: str) -> None:
    run = tmp_path / "run"
    config = TrainConfig(data=str(tiny_ppr10k), out=str(run), epochs=4, batch_size=4,
                         crop_size=32, glc_crop=24, num_workers=0, backbone_weights="none",
                         lr=1e-2, backbone_lr=1e-4, device="cpu", pipeline="cached",
                         cache_memory_gb=memory_gb, cache_on_device=on_device)
    seen = []
    result = train(config.updated(backbone="tiny", lut_dim=9), progress=False,
                   on_epoch_end=lambda epoch, row: seen.append(
                       (run / CACHE_FOLDER).is_dir()))
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert rows[-1]["mse"] < 0.7 * rows[0]["mse"], [r["mse"] for r in rows]
    assert result.best_psnr > rows[0]["val_psnr"]
    assert seen == [memory_gb == 0.0] * 4  # a file only beyond the memory limit
    assert not (run / CACHE_FOLDER).exists()  # removed at the end
