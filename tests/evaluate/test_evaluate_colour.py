"""`ppr10k evaluate` scores sRGB: predictions and targets tagged with another profile are
converted to sRGB first (colour-science builds the tagged files), or refused one line each
under ``--strict-colour``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ppr10k.cli.main import main
from ppr10k.evaluate import evaluate_folders
from ppr10k.io import PhotoMetadata, write_photo
from ppr10k.io.colour import adobe_rgb_icc_profile

H, W = 24, 36


def make_set(root: Path, rng, ref, tagged: bool) -> dict[str, Path]:
    """One pair: an sRGB target and its exact Adobe RGB (16-bit) encoding as prediction."""
    folders = {name: root / name for name in ("pred", "target", "masks")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    y, x = np.mgrid[0:H, 0:W] / W
    target = np.rint(np.clip(np.stack([0.2 + 0.7 * x, 0.3 + 0.6 * y, 0.5 + 0.3 * x * y], -1)
                             + 0.03 * rng.standard_normal((H, W, 3)), 0, 1) * 255)
    target = target.astype(np.uint8)
    adobe = ref.colour.RGB_to_RGB(target / 255.0, "sRGB", "Adobe RGB (1998)",
                                  apply_cctf_decoding=True, apply_cctf_encoding=True)
    prediction = np.rint(np.clip(adobe, 0, 1) * 65535).astype(np.uint16)
    write_photo(folders["pred"] / "1356_0.png", prediction,
                PhotoMetadata(icc_profile=adobe_rgb_icc_profile() if tagged else None))
    Image.fromarray(target).save(folders["target"] / "1356_0.png")
    Image.fromarray(np.full((H, W), 255, np.uint8)).save(folders["masks"] / "1356_0.png")
    return folders


def test_tagged_prediction_is_converted_to_srgb_before_scoring(tmp_path, rng, ref):
    folders = make_set(tmp_path / "a", rng, ref, tagged=True)
    images, _, _ = evaluate_folders(*folders.values(), progress=False)
    assert images[0]["delta_e"] < 0.3 and images[0]["psnr"] > 45
    # the same numbers untagged are scored as sRGB: far off (what conversion corrects)
    untagged = make_set(tmp_path / "b", rng, ref, tagged=False)
    images, _, _ = evaluate_folders(*untagged.values(), progress=False)
    assert images[0]["delta_e"] > 2.0


def test_strict_colour_refuses_a_tagged_prediction_in_one_line(tmp_path, rng, ref, capsys):
    folders = make_set(tmp_path, rng, ref, tagged=True)
    code = main(["evaluate", "--pred", str(folders["pred"]), "--target",
                 str(folders["target"]), "--masks", str(folders["masks"]), "--strict-colour",
                 "--no-progress", "--workers", "1"])
    err = capsys.readouterr().err
    assert code != 0
    (line,) = [line for line in err.splitlines() if "1356_0.png" in line]
    assert "not sRGB" in line and "Adobe RGB" in line
