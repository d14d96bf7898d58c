import json

import pytest
import torch

from ppr10k.cli.main import build_parser
from ppr10k.cli.train import config_from_args
from ppr10k.lut import identity_lut
from ppr10k.models import AdaptiveLUT, ModelConfig
from ppr10k.train import TrainConfig
from ppr10k.train.losses import human_region_mse, overlap_consistency


def test_hrp_mse_hand_example():
    pred = torch.tensor([0.5, 0.2]).view(1, 1, 1, 2)
    target = torch.tensor([0.3, 0.1]).view(1, 1, 1, 2)
    mask = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    # human pixel: (5*0.5 - 5*0.3)^2 = 1.0 ; background: (0.2 - 0.1)^2 = 0.01
    assert float(human_region_mse(pred, target, mask, 5.0)) == pytest.approx((1.0 + 0.01) / 2)
    assert float(human_region_mse(pred, target, None)) == pytest.approx((0.04 + 0.01) / 2)


def test_overlap_consistency_hand_example():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.zeros(2, 3, 4, 4)
    b[0, :, 2:, 2:] = 1.0   # differs only inside sample 0's overlap
    b[1, :, :2, :2] = 3.0   # outside sample 1's overlap: ignored
    ov1 = torch.tensor([[2, 2, 2, 2], [2, 2, 2, 2]])
    ov2 = torch.tensor([[2, 2, 2, 2], [2, 2, 2, 2]])
    # sample 0: 12 squared diffs of 1, sample 1: 12 of 0 -> mean 0.5
    assert float(overlap_consistency(a, b, ov1, ov2)) == pytest.approx(0.5)


def test_lut_regularisation_combines_terms():
    model = AdaptiveLUT(ModelConfig(backbone="tiny", n_luts=2, lut_dim=5))
    with torch.no_grad():
        model.luts.copy_(torch.stack([identity_lut(5), torch.zeros(3, 5, 5, 5)]))
    weights = torch.tensor([[1.0, 0.0], [3.0, 1.0]])
    value = model.regularisation({"weights": weights}, sparse=1.0, smooth=1.0, mono=10.0)
    # identity: monotone (MN 0); TV of identity: per axis the changing channel has
    # differences 1/4 everywhere; weighted mean over (3 channels) = (1/16) * (2+1+1+2)/4 / 3
    tv_identity = 3 * (1 / 16) * (6 / 4) / 3
    assert float(value.detach()) == pytest.approx((1 + 0 + 9 + 1) / 4 + tv_identity)


def test_booleans_are_real_flags():
    parser = build_parser()
    args = parser.parse_args(["train", "--data", "d", "--no-hrp", "--glc"])
    config = config_from_args(args)
    assert config.hrp is False and config.glc is True
    with pytest.raises(SystemExit):  # the reference's `--use_mask False` form does not parse
        parser.parse_args(["train", "--data", "d", "--hrp", "False"])


def test_config_defaults_match_paper():
    c = TrainConfig()
    assert (c.epochs, c.batch_size, c.lr, c.betas) == (200, 16, 1e-4, (0.9, 0.999))
    assert c.regularisation() == {"sparse": 1e-4, "smooth": 1e-4, "mono": 10.0}
    assert c.hrp_weight == 5.0
    assert (c.crop_size, c.glc_crop, c.model.n_luts, c.model.lut_dim) == (448, 336, 5, 33)
    # spec §4: one lambda_s for mean(w^2) and TV
    assert c.updated(lambda_smooth=0.5).regularisation()["sparse"] == 0.5


@pytest.mark.parametrize("family, expected, dims", [
    # the AdaInt and SepLUT repositories' PPR10K configs: sparse 1e-4, smooth 0, mono 10 / 0;
    # 5 ranks; AdaInt 33 vertices, SepLUT 17 (3D) and 17 (1D)
    ("adaint", {"sparse": 1e-4, "smooth": 0.0, "mono": 10.0}, (5, 33, None)),
    ("seplut", {"sparse": 1e-4, "smooth": 0.0, "mono": 0.0}, (5, 17, 17)),
])
def test_family_defaults_follow_their_papers(family, expected, dims):
    args = build_parser().parse_args(["train", "--data", "d", "--family", family])
    config = config_from_args(args)
    assert config.model.family == family and config.regularisation() == expected
    assert (config.model.n_luts, config.model.lut_dim, config.model.curve_dim) == dims
    assert config.model.backbone == "resnet18"
    args = build_parser().parse_args(["train", "--data", "d", "--family", family,
                                      "--lut-dim", "9"])
    assert config_from_args(args).model.lut_dim == 9


def test_config_file_then_cli_precedence(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"epochs": 7, "lr": 0.5, "model": {"lut_dim": 17}}))
    (tmp_path / "c.toml").write_text('epochs = 9\nbackbone_weights = "none"\n')
    parser = build_parser()
    args = parser.parse_args(["train", "--data", "d", "--config", str(tmp_path / "c.json"),
                              "--lr", "0.01", "--backbone", "tiny"])
    config = config_from_args(args)
    assert (config.epochs, config.lr, config.model.lut_dim) == (7, 0.01, 17)
    assert config.model.backbone == "tiny" and config.batch_size == 16
    args = parser.parse_args(["train", "--data", "d", "--config", str(tmp_path / "c.toml")])
    assert config_from_args(args).epochs == 9


def test_unknown_config_key_is_an_error(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"epoch": 7}))
    args = build_parser().parse_args(["train", "--config", str(tmp_path / "c.json")])
    with pytest.raises(ValueError, match="unknown training config keys"):
        config_from_args(args)
