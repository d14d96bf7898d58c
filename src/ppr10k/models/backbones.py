"""Weight predictors: a small registry of backbones mapping an image to N LUT weights.

Each backbone takes ``(B, 3, H, W)`` RGB in [0, 1] of any size, resizes it to its input
size inside (bilinear, ``align_corners=False``, no antialiasing, no mean/std
normalisation, as the reference does) and returns ``(B, N)`` unconstrained weights. Its
final linear layer is exposed as ``head`` so that the model can initialise it.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

BACKBONES: dict[str, Callable[..., Backbone]] = {}


def register_backbone(fn: Callable[..., Backbone]) -> Callable[..., Backbone]:
    """Add a constructor ``fn(n_outputs, weights=None) -> Backbone`` to the registry."""
    BACKBONES[fn.__name__] = fn
    return fn


def create_backbone(name: str, n_outputs: int, weights: str | None = None) -> Backbone:
    """Build a registered backbone by name (``resnet18`` or ``tiny``)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {sorted(BACKBONES)}")
    return BACKBONES[name](n_outputs, weights=weights)


class Backbone(nn.Module):
    """Base class: resize to ``input_size`` then run ``features_to_weights``."""

    input_size: int = 224
    head: nn.Linear | nn.Conv2d

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                          align_corners=False)
        return self.predict(x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class ResNet18Predictor(Backbone):
    """torchvision ResNet-18 under the attribute ``model`` with ``fc`` 512 -> N.

    The state-dict keys (``model.conv1.weight``, ``model.layer1.0...``, ``model.fc.weight``)
    match the official PPR10K classifier checkpoints.
    """

    input_size = 224

    def __init__(self, n_outputs: int) -> None:
        super().__init__()
        from torchvision.models import resnet18 as tv_resnet18

        self.model = tv_resnet18(weights=None)
        self.model.fc = nn.Linear(512, n_outputs)

    @property
    def head(self) -> nn.Linear:  # type: ignore[override]
        return self.model.fc

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class TinyPredictor(Backbone):
    """The small 5-conv CNN of the original image-adaptive 3D-LUT paper (~270K parameters).

    Input resized to 256x256; five stride-2 3x3 convolutions (16, 32, 64, 128, 128
    channels) with LeakyReLU(0.2) and instance norm, dropout 0.5, then an 8x8 convolution
    to N outputs.

    Reference: Zeng et al., "Learning Image-adaptive 3D Lookup Tables...", TPAMI 2020.
    """

    input_size = 256

    def __init__(self, n_outputs: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = [3, 16, 32, 64, 128, 128]
        for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            if i < 4:
                layers.append(nn.InstanceNorm2d(c_out, affine=True))
        layers.append(nn.Dropout(p=0.5))
        self.features = nn.Sequential(*layers)
        self.head_conv = nn.Conv2d(128, n_outputs, 8)

    @property
    def head(self) -> nn.Conv2d:  # type: ignore[override]
        return self.head_conv

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_conv(self.features(x)).flatten(1)


def _torchvision_cached_resnet18() -> Path | None:
    """The ImageNet ResNet-18 file in torch's hub cache, if it was downloaded before."""
    from torchvision.models import ResNet18_Weights

    filename = Path(ResNet18_Weights.IMAGENET1K_V1.url).name
    path = Path(torch.hub.get_dir()) / "checkpoints" / filename
    return path if path.is_file() else None


def load_imagenet_weights(predictor: ResNet18Predictor, weights: str | None) -> str:
    """Load ImageNet weights into ``predictor.model`` (all but ``fc``).

    Args:
        weights: ``"auto"`` (torchvision's cached ImageNet file when present, otherwise
            random with a warning), ``"imagenet"`` (torchvision's normal mechanism, which may
            download), ``"none"``/``None`` (random), or a path to a local state dict.

    Returns:
        Where the weights came from (for logs).
    """
    if weights in (None, "none"):
        return "random"
    if weights == "imagenet":
        from torchvision.models import ResNet18_Weights

        state = ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
        origin = "torchvision ImageNet weights"
    else:
        path = _torchvision_cached_resnet18() if weights == "auto" else Path(weights)
        if path is None:
            warnings.warn(
                "no ImageNet ResNet-18 weights found (torchvision cache is empty and no "
                "--backbone-weights PATH was given): the backbone starts from random weights",
                stacklevel=2,
            )
            return "random"
        if not path.is_file():
            raise FileNotFoundError(f"backbone weights not found: {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        origin = str(path)
    state = {k.removeprefix("model."): v for k, v in state.items() if not k.endswith(
        ("fc.weight", "fc.bias"))}
    missing, unexpected = predictor.model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise ValueError(f"{origin}: not a ResNet-18 state dict (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    return origin


@register_backbone
def resnet18(n_outputs: int, weights: str | None = None) -> ResNet18Predictor:
    """ResNet-18 weight predictor (PPR10K's choice); ImageNet weights per ``weights``."""
    predictor = ResNet18Predictor(n_outputs)
    predictor.weights_origin = load_imagenet_weights(predictor, weights)
    return predictor


@register_backbone
def tiny(n_outputs: int, weights: str | None = None) -> TinyPredictor:
    """The 5-conv CNN of the 3D-LUT paper, trained from scratch (``weights`` ignored)."""
    if weights not in (None, "none", "auto"):
        warnings.warn("the tiny backbone has no pretrained weights; ignoring --backbone-weights",
                      stacklevel=2)
    return TinyPredictor(n_outputs)
