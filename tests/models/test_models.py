import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from lut_reference import reference_trilinear
from ppr10k.models import (
    AdaptiveLUT,
    ModelConfig,
    import_official,
    load_model,
    read_checkpoint_info,
    save_model,
)


@pytest.mark.parametrize("backbone", ["tiny", "resnet18"])
def test_identity_start_returns_the_input(backbone):
    model = AdaptiveLUT(ModelConfig(backbone=backbone, lut_dim=17)).eval()
    x = torch.rand(2, 3, 40, 30)
    out, params = model(x)
    torch.testing.assert_close(params["weights"], torch.tensor([[1.0, 0, 0, 0, 0]] * 2))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_reference_start_has_random_weights():
    torch.manual_seed(0)
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9, init="reference")).eval()
    weights = model.predict_weights(torch.rand(1, 3, 32, 32))
    assert not torch.allclose(weights, torch.tensor([[1.0, 0, 0, 0, 0]]), atol=1e-3)


def test_luts_are_one_parameter_with_identity_first():
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=5, n_luts=3))
    assert model.luts.shape == (3, 3, 5, 5, 5)
    axis = torch.linspace(0, 1, 5)
    torch.testing.assert_close(model.luts[0, 0, 2, 3], axis)  # lut[c=0, b, g, r] = r/(D-1)
    assert torch.count_nonzero(model.luts[1:]) == 0


def test_tiny_backbone_size_matches_paper():
    model = AdaptiveLUT(ModelConfig(backbone="tiny"))
    n = sum(p.numel() for p in model.backbone.parameters()) + sum(
        p.numel() for p in model.head.parameters())
    assert 250_000 < n < 300_000  # "~270K parameters" (the 8x8 head included)


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(1)
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9, expert="b", init="reference"))
    with torch.no_grad():
        model.luts.add_(0.05 * torch.randn_like(model.luts))
    save_model(model, tmp_path / "m", extra={"epoch": 3})
    info = read_checkpoint_info(tmp_path / "m")
    assert info["model"]["expert"] == "b" and info["model"]["lut_dim"] == 9
    assert info["epoch"] == 3
    assert (tmp_path / "m" / "config.json").is_file()
    loaded = load_model(tmp_path / "m")
    x = torch.rand(1, 3, 24, 36)
    model.eval()
    torch.testing.assert_close(loaded(x)[0], model(x)[0])


def test_load_model_names_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="ppr10k train"):
        load_model(tmp_path / "nothing")


def write_official_files(tmp_path, dim=9, n=5, seed=0):
    """Files in the official layout: {'1': {'LUT': ...}, ...} and a classifier state dict."""
    g = torch.Generator().manual_seed(seed)
    luts = {str(i + 1): {"LUT": torch.randn(3, dim, dim, dim, generator=g) * 0.1
                         + (i == 0) * torch.stack(torch.meshgrid(
                             *[torch.linspace(0, 1, dim)] * 3, indexing="ij")[::-1])}
            for i in range(n)}
    net = torchvision.models.resnet18(weights=None)
    net.fc = torch.nn.Linear(512, n)
    torch.nn.init.normal_(net.fc.weight, std=0.01, generator=g)
    classifier = {f"model.{k}": v for k, v in net.state_dict().items()}
    torch.save(luts, tmp_path / "LUTs_a.pth")
    torch.save(classifier, tmp_path / "classifier_a.pth")
    return luts, net


def test_import_official_matches_direct_computation(tmp_path):
    luts, net = write_official_files(tmp_path)
    out_dir = import_official([tmp_path / "classifier_a.pth", tmp_path / "LUTs_a.pth"],
                              tmp_path / "ours", expert="a")
    model = load_model(out_dir)
    x = torch.rand(1, 3, 60, 90)
    ours, _ = model(x)

    # direct: nn.Upsample(224, bilinear) -> resnet18 -> weights -> sum_n w_n LUT_n(x)
    net.eval()
    with torch.no_grad():
        w = net(F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False))[0]
    expected = sum(float(w[n]) * reference_trilinear(luts[str(n + 1)]["LUT"].numpy(), x[0].numpy())
                   for n in range(5))
    np.testing.assert_allclose(ours[0].detach().numpy(), expected, atol=1e-4)


def test_import_official_rejects_mismatched_files(tmp_path):
    write_official_files(tmp_path, n=5)
    torch.save({"1": {"LUT": torch.zeros(3, 9, 9, 9)}}, tmp_path / "LUTs_1.pth")
    with pytest.raises(ValueError, match="5 weights for 1 LUTs"):
        import_official([tmp_path / "LUTs_1.pth", tmp_path / "classifier_a.pth"], tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_resnet_loads_local_imagenet_file_and_warns_without(tmp_path, monkeypatch):
    net = torchvision.models.resnet18(weights=None)
    torch.save(net.state_dict(), tmp_path / "resnet18.pth")
    model = AdaptiveLUT(ModelConfig(backbone="resnet18"),
                        backbone_weights=str(tmp_path / "resnet18.pth"))
    torch.testing.assert_close(model.backbone.model.conv1.weight, net.conv1.weight)
    assert model.backbone.weights_origin == str(tmp_path / "resnet18.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty_hub"))  # no cache
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = AdaptiveLUT(ModelConfig(backbone="resnet18"), backbone_weights="auto")
    assert model.backbone.weights_origin == "random"
    assert any("random weights" in str(w.message) for w in caught)


def test_import_official_cli(tmp_path):
    from ppr10k.cli.main import main

    write_official_files(tmp_path, dim=5)
    code = main(["import-official", "--luts", str(tmp_path / "LUTs_a.pth"), "--classifier",
                 str(tmp_path / "classifier_a.pth"), "--out", str(tmp_path / "m"),
                 "--expert", "c"])
    assert code == 0
    info = read_checkpoint_info(tmp_path / "m")
    assert {k: info["model"][k] for k in ("family", "n_luts", "lut_dim", "backbone", "expert",
                                          "init")} == {
        "family": "lut3d", "n_luts": 5, "lut_dim": 5, "backbone": "resnet18", "expert": "c",
        "init": "reference"}
    assert main(["import-official", "--luts", str(tmp_path / "nope.pth"), "--classifier",
                 str(tmp_path / "classifier_a.pth"), "--out", str(tmp_path / "m2")]) == 1


def test_resolve_device():
    from ppr10k.models import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="auto, cpu, cuda or cuda:N"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
