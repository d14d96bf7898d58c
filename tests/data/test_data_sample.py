"""The built-in sample set: exact official layout, types, determinism, masks and looks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.data.sample import (
    EXPERT_STYLES,
    PEOPLE,
    Look,
    astronaut_person_mask,
    develop,
    expert_render,
    linear_to_srgb,
    make_sample_dataset,
    person_mask,
    person_of_group,
    s_curve,
    srgb_to_linear,
    white_balance_gains,
)
from required import require_module


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    """The default-sized sample set (6 groups x 4 photos, 5 augmented versions)."""
    root = tmp_path_factory.mktemp("sample") / "ppr10k"
    make_sample_dataset(root, seed=0, progress=False)
    return root


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_layout_and_names_are_exactly_the_official_ones(sample_root):
    train_groups, val_groups, photos = range(4), range(1356, 1358), range(4)
    assert _names(sample_root) == {"train", "val", "sample.json", "xmp_source",
                                   "xmp_target_a", "xmp_target_b", "xmp_target_c"}
    assert _names(sample_root / "train") == {"source_aug", "target_a", "target_b", "target_c",
                                             "masks"}
    assert _names(sample_root / "val") == {"source", "target_a", "target_b", "target_c",
                                           "masks"}
    train_photos = [f"{g}_{i}" for g in train_groups for i in photos]
    val_photos = [f"{g}_{i}" for g in val_groups for i in photos]
    expected_aug = {f"{s}.tif" for s in train_photos} | {
        f"{s}_{k}.tif" for s in train_photos for k in range(1, 6)}
    assert _names(sample_root / "train" / "source_aug") == expected_aug
    assert len(expected_aug) == 16 * 6
    for folder in ("xmp_source", "xmp_target_a", "xmp_target_b", "xmp_target_c"):
        assert _names(sample_root / folder) == {f"{s}.xmp" for s in train_photos + val_photos}
    for expert in "abc":
        assert _names(sample_root / "train" / f"target_{expert}") == {
            f"{s}.tif" for s in train_photos}
        assert _names(sample_root / "val" / f"target_{expert}") == {f"{s}.tif" for s in val_photos}
    assert _names(sample_root / "train" / "masks") == {f"{s}.png" for s in train_photos}
    assert _names(sample_root / "val" / "masks") == {f"{s}.png" for s in val_photos}
    assert _names(sample_root / "val" / "source") == {f"{s}.tif" for s in val_photos}


def test_sample_types_sizes_and_masks(sample_root):
    sizes = set()
    for split, source_dir in (("train", "source_aug"), ("val", "source")):
        for mask_path in sorted((sample_root / split / "masks").glob("*.png")):
            stem = mask_path.stem
            source = tifffile.imread(sample_root / split / source_dir / f"{stem}.tif")
            assert source.dtype == np.uint16 and source.ndim == 3 and source.shape[2] == 3
            assert source.max() > 255  # really 16-bit samples, not 8-bit values in 16 bits
            with tifffile.TiffFile(sample_root / split / source_dir / f"{stem}.tif") as tif:
                assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
            for expert in "abc":
                target = tifffile.imread(sample_root / split / f"target_{expert}" / f"{stem}.tif")
                assert target.dtype == np.uint8 and target.shape == source.shape
            with Image.open(mask_path) as img:
                assert img.mode == "L"
                mask = np.asarray(img)
            assert mask.shape == source.shape[:2]
            assert set(np.unique(mask)) <= {0, 255}
            assert 0.15 < (mask > 0).mean() < 0.85  # a person, not nothing or everything
            sizes.add(source.shape[:2])
    assert sizes <= {(360, 540), (540, 360)}


def test_sample_passes_the_dataset_check(sample_root):
    from ppr10k.data import check_dataset

    report = check_dataset(sample_root)
    assert report.ok, [str(p) for p in report.problems]


def test_sample_info_names_seed_and_groups(sample_root):
    info = json.loads((sample_root / "sample.json").read_text())
    assert info["seed"] == 0
    assert info["train_groups"] == [0, 1, 2, 3]
    assert info["val_groups"] == [1356, 1357]
    assert set(info["photographs"]) == set(PEOPLE) == {"astronaut", "grace_hopper"}


def test_both_people_occur_in_both_splits(sample_root):
    """Groups take turns: even groups show the astronaut, odd ones Grace Hopper."""
    info = json.loads((sample_root / "sample.json").read_text())
    people = {int(g): name for g, name in info["people"].items()}
    assert people == {0: "astronaut", 1: "grace_hopper", 2: "astronaut", 3: "grace_hopper",
                      1356: "astronaut", 1357: "grace_hopper"}
    assert people == {g: person_of_group(g) for g in people}
    for split in ("train_groups", "val_groups"):
        assert {people[g] for g in info[split]} == {"astronaut", "grace_hopper"}, split


def _person_descriptor(target: Path, mask: Path) -> np.ndarray:
    """Hue x value histogram (12 x 4 bins, sums to 1) of the person region of a target."""
    from skimage.color import rgb2hsv

    hsv = rgb2hsv(tifffile.imread(target))[np.asarray(Image.open(mask)) > 0]
    hist, _, _ = np.histogram2d(hsv[:, 0], hsv[:, 2], bins=(12, 4), range=((0, 1), (0, 1)))
    return (hist / hist.sum()).ravel()


def test_groups_differ_in_who_is_in_them(sample_root):
    """From the pixels alone: each photo's person region (colours and tones of the neutral
    expert's target) is nearest to a photo of the same person in another group, and farther
    from every photo of the other person on average; the two people's masks also differ."""
    info = json.loads((sample_root / "sample.json").read_text())
    descriptors, groups, people, areas = [], [], [], {}
    for split in ("train", "val"):
        for mask in sorted((sample_root / split / "masks").glob("*.png")):
            group = int(mask.stem.split("_")[0])
            descriptors.append(_person_descriptor(
                sample_root / split / "target_b" / f"{mask.stem}.tif", mask))
            groups.append(group)
            people.append(info["people"][str(group)])
            areas.setdefault(people[-1], []).append((np.asarray(Image.open(mask)) > 0).mean())
    d, groups, people = np.asarray(descriptors), np.asarray(groups), np.asarray(people)
    distance = np.abs(d[:, None] - d[None]).sum(axis=-1)
    distance[groups[:, None] == groups[None]] = np.inf  # compare across groups only
    nearest = distance.argmin(axis=1)
    assert np.array_equal(people[nearest], people)
    for i in range(len(d)):
        same = distance[i][(people == people[i]) & np.isfinite(distance[i])]
        assert same.mean() < distance[i][people != people[i]].mean()
    # different people, different outlines: mean person area of the shots differs
    assert abs(np.mean(areas["astronaut"]) - np.mean(areas["grace_hopper"])) > 0.02


def _pixels(root: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): (tifffile.imread(p) if p.suffix == ".tif"
                                       else np.asarray(Image.open(p)))
            for p in sorted(root.rglob("*")) if p.suffix in (".tif", ".png")}


def test_sample_is_deterministic_for_a_seed(tmp_path):
    kwargs = {"groups": 2, "per_group": 2, "n_aug": 1, "progress": False}
    first = _pixels(make_sample_dataset(tmp_path / "one", seed=3, **kwargs).root)
    second = _pixels(make_sample_dataset(tmp_path / "two", seed=3, **kwargs).root)
    other = _pixels(make_sample_dataset(tmp_path / "three", seed=4, **kwargs).root)
    assert first.keys() == second.keys() == other.keys()
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not all(first[k].shape == other[k].shape and np.array_equal(first[k], other[k])
                   for k in first)


def test_sample_refuses_to_overwrite_and_replaces_with_force(tmp_path):
    root = tmp_path / "set"
    args = ["data", "sample", str(root), "--groups", "2", "--per-group", "1",
            "--augmented", "0"]
    assert main(args) == 0
    assert sorted(p.name for p in (root / "train" / "source_aug").iterdir()) == ["0_0.tif"]
    assert sorted(p.name for p in (root / "val" / "source").iterdir()) == ["1356_0.tif"]
    assert main(args) == 1  # exists
    assert main(args + ["--force"]) == 0
    foreign = tmp_path / "foreign"
    (foreign / "train").mkdir(parents=True)
    with pytest.raises(FileExistsError):
        make_sample_dataset(foreign, groups=2, per_group=1, overwrite=True, progress=False)
    assert (foreign / "train").is_dir()  # someone else's folder is never deleted


@pytest.mark.parametrize("kwargs", [{"groups": 1}, {"per_group": 0}, {"val_groups": 6},
                                    {"experts": ("d",)}])
def test_sample_rejects_impossible_sizes(tmp_path, kwargs):
    with pytest.raises(ValueError):
        make_sample_dataset(tmp_path / "x", progress=False, **kwargs)


def _mean_ab(path: Path) -> np.ndarray:
    from skimage.color import rgb2lab

    image = tifffile.imread(path).astype(np.float64)
    lab = rgb2lab(image / (65535.0 if image.max() > 255 else 255.0))
    return lab[..., 1:].reshape(-1, 2).mean(axis=0)


def test_shots_share_their_shoots_cast_and_experts_remove_it(sample_root):
    """Per photo, mean b* (CIELAB, computed with scikit-image) of source minus target measures
    the cast the expert took out: nearly the same for the shots of a group (one shoot, one
    lighting), different between groups, and warmer for shoots drawn warmer."""
    from ppr10k.data.sample import _draw_group

    casts, temperatures = [], []
    for split, source_dir, groups in (("train", "source_aug", range(4)),
                                      ("val", "source", (1356, 1357))):
        for group in groups:
            casts.append([_mean_ab(sample_root / split / source_dir / f"{group}_{i}.tif")[1]
                          - _mean_ab(sample_root / split / "target_a" / f"{group}_{i}.tif")[1]
                          for i in range(4)])
            temperatures.append(_draw_group(group, np.random.default_rng([0, group]))
                                .scene.temperature)
    casts = np.array(casts)
    within = casts.var(axis=1, ddof=1).mean()
    between = casts.mean(axis=1).var(ddof=1)
    assert within < 0.1 * between
    order = np.argsort(temperatures)
    assert np.corrcoef(np.arange(6), np.argsort(np.argsort(casts.mean(axis=1)[order])))[0, 1] > 0.8


def test_person_mask_covers_the_person_only():
    from skimage import data
    from skimage.color import rgb2hsv

    mask = astronaut_person_mask()
    inside = [(100, 225), (60, 230), (400, 200), (300, 100), (250, 320), (480, 60)]  # (row, col)
    outside = [(440, 390), (100, 20), (250, 400), (30, 120), (130, 330), (480, 500), (60, 480)]
    assert all(mask[r, c] for r, c in inside)
    assert not any(mask[r, c] for r, c in outside)
    # the orange suit is only on the person: almost all strongly orange pixels are inside
    hsv = rgb2hsv(data.astronaut())
    orange = (hsv[..., 0] > 0.02) & (hsv[..., 0] < 0.1) & (hsv[..., 1] > 0.55) & (
        hsv[..., 2] > 0.5)
    assert orange.sum() > 20000
    assert mask[orange].mean() > 0.97
    # the black helmet on the right (held, not worn) and the dark table are outside
    dark_right = (hsv[..., 2] < 0.1)
    dark_right[:, :300] = False
    assert mask[dark_right].mean() < 0.03


def test_both_peoples_shoots_vary_about_as_much_in_colour(sample_root):
    """M^GLC term (variance of the mean a*, b* over a group's photos) of the expert targets,
    averaged per person: neither person's groups dominate the demo's M^GLC."""
    from skimage.color import rgb2lab

    info = json.loads((sample_root / "sample.json").read_text())
    terms: dict[str, list[float]] = {}
    for split, groups in (("train", info["train_groups"]), ("val", info["val_groups"])):
        for group in groups:
            ab = np.array([rgb2lab(tifffile.imread(path))[..., 1:].reshape(-1, 2).mean(axis=0)
                           for path in sorted((sample_root / split / "target_a")
                                              .glob(f"{group}_*.tif"))])
            terms.setdefault(info["people"][str(group)], []).append(
                float(ab.var(axis=0, ddof=1).sum()))
    means = sorted(np.mean(v) for v in terms.values())
    assert len(means) == 2 and means[0] > 0
    assert means[1] < 4 * means[0], terms


def test_grace_hopper_mask_covers_the_person_only():
    from matplotlib import cbook
    from skimage.color import rgb2hsv

    from ppr10k.io import read_image

    photo = read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    mask = person_mask("grace_hopper")
    assert mask.shape == photo.shape[:2] == (600, 512)
    inside = [(40, 260), (120, 200), (230, 260), (280, 195), (440, 250), (500, 60), (580, 480),
              (420, 480)]  # (row, col): cap, cap, face, hair, tie, jacket, jacket, shoulder
    outside = [(60, 440), (300, 460), (150, 30), (330, 60), (60, 400), (590, 5), (330, 180)]
    assert all(mask[r, c] for r, c in inside)
    assert not any(mask[r, c] for r, c in outside)
    hsv = rgb2hsv(photo)
    # the blue backdrop on the right is outside
    blue = (hsv[..., 0] > 0.55) & (hsv[..., 0] < 0.7) & (hsv[..., 1] > 0.3) & (hsv[..., 2] > 0.5)
    blue[:, :300] = False
    assert blue.sum() > 15000
    assert mask[blue].mean() < 0.03
    # the dark uniform below the shoulders (right of the flag) is inside
    dark = hsv[..., 2] < 0.15
    dark[:420] = False
    dark[:, :60] = False
    assert dark.sum() > 40000
    assert mask[dark].mean() > 0.97
    # each person's polygon gives a mask of a sensible share of the photo
    for name, person in PEOPLE.items():
        share = person_mask(name).mean()
        assert person_mask(name).shape == person.size_wh[::-1]
        assert 0.3 < share < 0.7, name


def test_srgb_transfer_matches_colour_science():
    colour = require_module("colour")
    x = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(srgb_to_linear(x), colour.models.eotf_sRGB(x), atol=1e-7)
    np.testing.assert_allclose(linear_to_srgb(x), colour.models.eotf_inverse_sRGB(x), atol=1e-7)


def test_s_curve_fixed_points_slope_and_monotonicity():
    x = np.linspace(0.0, 1.0, 1001)
    for c in (-0.5, -0.2, 0.0, 0.3, 0.5):
        y = s_curve(x, c)
        assert np.all(np.diff(y) >= -1e-12)
        np.testing.assert_allclose(s_curve(np.array([0.0, 0.5, 1.0]), c), [0.0, 0.5, 1.0],
                                   atol=1e-12)
        h = 1e-6
        slope = (s_curve(np.array(0.5 + h), c) - s_curve(np.array(0.5 - h), c)) / (2 * h)
        assert slope == pytest.approx(1.0 + c, abs=1e-6)


def test_white_balance_gains_keep_luminance_and_shift_colour():
    luma = np.array([0.2126, 0.7152, 0.0722])
    for t, m in [(0.0, 0.0), (0.7, 0.0), (-0.5, 0.2), (0.3, -0.3)]:
        gains = white_balance_gains(t, m)
        assert float(luma @ gains) == pytest.approx(1.0, abs=1e-6)
    warm = white_balance_gains(0.5, 0.0)
    assert warm[0] > warm[1] > warm[2]
    np.testing.assert_allclose(white_balance_gains(0.0, 0.0), [1.0, 1.0, 1.0], atol=1e-6)


def test_neutral_develop_is_the_srgb_encoding():
    rng = np.random.default_rng(1)
    linear = rng.uniform(0.0, 0.75, size=(8, 8, 3)).astype(np.float32)  # below the shoulder
    np.testing.assert_allclose(develop(linear, Look()), linear_to_srgb(linear), atol=1e-6)
    brighter = develop(linear, Look(exposure=1.0))
    np.testing.assert_allclose(brighter[linear < 0.3],
                               linear_to_srgb(2 * linear[linear < 0.3]), atol=1e-6)


def test_every_expert_favours_the_person():
    """On a mid-grey frame, the person half comes out brighter than the background half."""
    linear = np.full((4, 8, 3), 0.18, dtype=np.float32)
    soft = np.zeros((4, 8), dtype=np.float32)
    soft[:, :4] = 1.0
    looks = []
    for name, style in EXPERT_STYLES.items():
        out = expert_render(linear, soft, style)
        assert out[:, :4].mean() > out[:, 4:].mean() + 0.02, name
        looks.append(out)
    # three distinct looks
    assert min(np.abs(a - b).max() for i, a in enumerate(looks) for b in looks[i + 1:]) > 0.01


def test_render_group_reproduces_the_validation_files_and_scales(sample_root):
    from ppr10k.data.sample import render_group

    shots = render_group(1357, per_group=4, seed=0)
    for index, shot in enumerate(shots):
        stem = f"1357_{index}"
        source = tifffile.imread(sample_root / "val" / "source" / f"{stem}.tif")
        np.testing.assert_array_equal(np.rint(shot.sources[0] * 65535).astype(np.uint16), source)
        target = tifffile.imread(sample_root / "val" / "target_b" / f"{stem}.tif")
        np.testing.assert_array_equal(np.rint(shot.targets["b"] * 255).astype(np.uint8), target)
        mask = np.asarray(Image.open(sample_root / "val" / "masks" / f"{stem}.png")) > 0
        np.testing.assert_array_equal(shot.mask, mask)
    big = render_group(1357, per_group=1, seed=0, scale=2.0)[0]
    assert big.sources[0].shape[:2] == (2 * source.shape[0], 2 * source.shape[1])
    # the same shot with more pixels: its 2x2 means are close to the 360p render
    small = shots[0].sources[0]
    h, w = small.shape[:2]
    pooled = big.sources[0].reshape(h, 2, w, 2, 3).mean(axis=(1, 3))
    assert np.abs(pooled - small).mean() < 0.01
