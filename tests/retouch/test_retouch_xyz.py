"""The XYZ zoo models take camera raws developed by LibRaw to linear XYZ, channels (Z, Y, X)."""

from __future__ import annotations

import numpy as np
import tifffile
import torch

from ppr10k.io.raw import read_raw
from ppr10k.models import load_model
from ppr10k.models.zoo import ZOO
from ppr10k.retouch import retouch
from ppr10k.retouch.thumbnail import predictor_input


def test_xyz_model_retouches_a_raw_from_its_linear_xyz(tmp_path, shared_data):
    raw = shared_data / "raw" / "kodak_dc50.kdc"
    entry = ZOO["lut3d-fivek-xyz"]
    report = retouch([raw], entry.name, tmp_path / "out", fmt="tif", bits=16, progress=False)
    assert report.exit_code == 0, report.summary()
    ours = tifffile.imread(report.results[0].output).astype(np.int64)
    # the same thing by hand: LibRaw linear XYZ, reversed to (Z, Y, X), model on the thumbnail,
    # its fused LUT applied to the full image
    xyz = read_raw(raw, space="xyz")
    zyx = np.ascontiguousarray(xyz[..., ::-1])
    model = load_model(entry.path)
    with torch.no_grad():
        params = model.predict(predictor_input(zyx, 1, model.config.thumbnail))
        full = torch.from_numpy(zyx.astype(np.float32) / 65535).permute(2, 0, 1)[None]
        expected = model.plan(params).apply(full)[0].permute(1, 2, 0).numpy()
    expected16 = np.round(np.clip(expected, 0, 1) * 65535).astype(np.int64)
    assert ours.shape == expected16.shape
    assert np.abs(ours - expected16).max() <= 2
    # and it is not what the sRGB development would give: the space matters
    assert not np.array_equal(read_raw(raw)[..., 0], xyz[..., 0])


def test_xyz_model_refuses_non_raw_photos(tmp_path):
    from ppr10k.io import write_image

    photo = write_image(tmp_path / "in" / "a.jpg", np.full((16, 16, 3), 0.5, np.float32))
    report = retouch([photo], "adaint-fivek-xyz", tmp_path / "out", progress=False)
    assert report.exit_code == 1
    assert "XYZ model takes camera raws only" in report.failed[0].reason
    assert not (tmp_path / "out" / "a.jpg").exists()
