"""The family seam: every family answers predict / plan / average / regularisation the same way."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from lut_reference import reference_trilinear
from ppr10k.cli.main import main
from ppr10k.models import (
    FAMILIES,
    AdaIntLUT,
    AdaptiveLUT,
    ModelConfig,
    SepLUT,
    create_model,
    get_family,
    load_model,
    save_model,
)
from ppr10k.models.zoo import ZOO, resolve_model

TINY = {"backbone": "tiny", "width": 4, "n_luts": 3, "lut_dim": 5}


def _perturbed(family: str, seed: int = 0) -> torch.nn.Module:
    """A model whose every head and table is away from its identity start."""
    config = ModelConfig(family, curve_dim=7 if family == "seplut" else None, **TINY)
    model = create_model(config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=gen))
    return model.eval()


def test_registry_lists_the_three_families_and_dispatches():
    assert list(FAMILIES) == ["lut3d", "adaint", "seplut"]
    classes = {"lut3d": AdaptiveLUT, "adaint": AdaIntLUT, "seplut": SepLUT}
    for name, cls in classes.items():
        assert type(create_model(ModelConfig(name, **TINY))) is cls
    with pytest.raises(ValueError, match="did you mean adaint"):
        get_family("adaint2")


@pytest.mark.parametrize("family", ["lut3d", "adaint", "seplut"])
def test_identity_start_returns_the_input(family):
    model = create_model(ModelConfig(family, **TINY)).eval()
    x = torch.rand(2, 3, 20, 28)
    out, params = model(x)
    # seplut's sigmoid 1D LUTs start at 0.001 + 0.998 x (the sigmoid never reaches 0 or 1)
    torch.testing.assert_close(out, x, atol=1.1e-3 if family == "seplut" else 1e-5, rtol=0)
    assert params["weights"].shape == (2, 3)


def test_adaint_plan_is_a_lookup_on_its_non_uniform_lattice():
    """AdaInt's definition: find each channel's cell among its vertices, then blend the 8
    lattice entries with the in-cell fractions: written here directly, without curves."""
    model = _perturbed("adaint")
    x = torch.rand(1, 3, 6, 7)
    with torch.no_grad():
        out, params = model(x)
    lut = model.plan(params).lut[0].detach().double().numpy()
    vertices = params["vertices"][0].double().numpy()
    assert (vertices[:, 1:] >= vertices[:, :-1]).all() and vertices[:, 0].max() == 0
    pixels = x[0].double().numpy().reshape(3, -1)
    coords = []
    for c in range(3):  # r, g, b rows
        v = vertices[c]
        k = (v[None, :] < pixels[c][:, None]).sum(axis=1) - 1
        k = k.clip(0, len(v) - 2)
        frac = (pixels[c] - v[k]) / (v[k + 1] - v[k] + 1e-10)
        coords.append((k + frac) / (len(v) - 1))
    uniform = np.stack(coords).reshape(3, 6, 7)
    expected = reference_trilinear(lut, uniform)
    torch.testing.assert_close(out[0].double(), torch.from_numpy(expected), atol=1e-5, rtol=0)


def test_seplut_plan_is_1d_luts_then_the_3d_lut():
    model = _perturbed("seplut")
    x = torch.rand(1, 3, 5, 4)
    with torch.no_grad():
        out, params = model(x)
    lut1d = params["lut1d"][0].double().numpy()
    knots = lut1d.shape[-1]
    pixels = x[0].double().numpy().reshape(3, -1)
    mapped = []
    for c in range(3):
        t = pixels[c] * (knots - 1)
        i = t.astype(int).clip(0, knots - 2)
        mapped.append(lut1d[c, i] + (t - i) * (lut1d[c, i + 1] - lut1d[c, i]))
    expected = reference_trilinear(model.plan(params).lut[0].detach().double().numpy(),
                                   torch.tensor(mapped).reshape(3, 5, 4).numpy())
    torch.testing.assert_close(out[0].double(), torch.from_numpy(expected), atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", ["lut3d", "adaint", "seplut"])
def test_average_with_full_strength_gives_one_plan(family):
    model = _perturbed(family)
    with torch.no_grad():
        params = model.predict(torch.rand(3, 3, 16, 16))
        shared = model.average(params, 1.0)
        plan = model.plan(shared)
    for i in (1, 2):
        torch.testing.assert_close(plan.lut[i], plan.lut[0])
        if plan.curves is not None:
            torch.testing.assert_close(plan.curves[0][i], plan.curves[0][0])
            torch.testing.assert_close(plan.curves[1][i], plan.curves[1][0])
    for key, value in params.items():  # the mean of the members
        torch.testing.assert_close(shared[key][0], value.mean(dim=0))


@pytest.mark.parametrize("family", ["lut3d", "adaint", "seplut"])
def test_every_parameter_is_trained_once(family):
    model = _perturbed(family).train()
    groups = model.parameter_groups()
    listed = [id(p) for _, params, _ in groups for p in params]
    assert sorted(listed) == sorted(id(p) for p in model.parameters())
    out, params = model(torch.rand(2, 3, 16, 16))
    loss = out.square().mean() + model.regularisation(params, 1e-4, 1e-4, 10.0)
    loss.backward()
    for name, param in model.named_parameters():
        if "dropout" in name:
            continue
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("family", ["lut3d", "adaint", "seplut"])
def test_save_and_load_dispatch_on_the_family(tmp_path, family):
    model = _perturbed(family)
    save_model(model, tmp_path / "m")
    info = json.loads((tmp_path / "m" / "config.json").read_text())
    assert info["model"]["family"] == family
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model)
    x = torch.rand(1, 3, 12, 18)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], model(x)[0])


def test_first_format_checkpoints_still_load(tmp_path):
    """A tiny lut3d model saved before families (head inside the backbone) loads unchanged."""
    # the first format's keys, written out by hand: features.{0,3,6,9,12} convolutions,
    # features.{2,5,8,11} instance norms, head_conv an 8x8 convolution over the 8x8 map
    model = create_model(ModelConfig("lut3d", backbone="tiny", n_luts=3, lut_dim=5))
    state = model.state_dict()
    old = {"luts": state["luts"] + 0.01}
    for block, (conv, norm) in enumerate(((0, 2), (3, 5), (6, 8), (9, 11), (12, None))):
        for part in ("weight", "bias"):
            old[f"backbone.features.{conv}.{part}"] = state[f"backbone.blocks.{block}.0.{part}"]
            if norm is not None:
                old[f"backbone.features.{norm}.{part}"] = state[
                    f"backbone.blocks.{block}.2.{part}"]
    old["backbone.head_conv.weight"] = torch.randn(3, 128, 8, 8) * 0.01
    old["backbone.head_conv.bias"] = torch.tensor([1.0, 0.1, -0.1])
    config = {"n_luts": 3, "lut_dim": 5, "backbone": "tiny", "expert": "a", "init": "identity"}
    (tmp_path / "old").mkdir()
    save_file({k: v.contiguous() for k, v in old.items()},
              str(tmp_path / "old" / "model.safetensors"),
              metadata={"ppr10k": json.dumps({"format": "ppr10k-adaptive-lut/1",
                                              "model": config})})
    loaded = load_model(tmp_path / "old")
    torch.testing.assert_close(loaded.head.weight, old["backbone.head_conv.weight"].flatten(1))
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        code = loaded.backbone(x)
        direct = torch.nn.functional.conv2d(code.reshape(1, 128, 8, 8),
                                            old["backbone.head_conv.weight"],
                                            old["backbone.head_conv.bias"]).flatten(1)
        torch.testing.assert_close(loaded.predict_weights(x), direct)


def test_model_names_resolve_to_zoo_folders_and_run_folders(tmp_path):
    assert resolve_model("adaint-fivek-srgb") == ZOO["adaint-fivek-srgb"].path
    run = tmp_path / "run"
    save_model(_perturbed("lut3d"), run / "best")
    assert resolve_model(run) == run / "best"
    assert resolve_model(run / "best") == run / "best"
    with pytest.raises(ValueError, match="did you mean .*adaint-fivek-srgb"):
        resolve_model("adaint-fivek")


def test_models_command_lists_families_and_zoo(capsys):
    assert main(["models"]) == 0
    printed = capsys.readouterr().out
    for name in list(FAMILIES) + list(ZOO):
        assert name in printed
    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert sum(row["default"] for row in listing["zoo"]) == 1
    assert {row["licence"] for row in listing["zoo"]} == {"Apache-2.0"}
