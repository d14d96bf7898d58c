"""Image encoders: a small registry of backbones mapping an image to a code vector.

Each backbone takes ``(B, 3, H, W)`` RGB in [0, 1] of any size, resizes it to its input
size inside (bilinear, ``align_corners=False``, no antialiasing, no mean/std
normalisation, as the 3D-LUT, AdaInt and SepLUT papers do) and returns a ``(B, C)`` code
(``out_features = C``). A model family puts its heads (LUT weights, lattice vertices,
1D LUTs) on top of that code.

Registered backbones:

* ``resnet18``: torchvision ResNet-18 without its classifier, 224x224 input, global
  average pool, 512 features (PPR10K's weight predictor; ImageNet weights on request).
* ``tiny``: the 5-block CNN of the 3D-LUT paper (TPAMI 2020), 256x256 input, channels
  ``m, 2m, 4m, 8m, 8m`` (``m = width``, 16 in 3D-LUT and AdaInt, 6 or 8 in SepLUT). The
  8x8 map is either flattened (``pool="map"``, 3D-LUT: ``64 * 8m`` features) or averaged
  over 2x2 cells (``pool="grid2"``, AdaInt/SepLUT: ``4 * 8m`` features, channel-first).
* ``tiny_unpaired``: the same CNN with instance norm after the first block only (the
  3D-LUT paper's unpaired classifier).
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

#: How the ``tiny`` backbones reduce their 8x8 map: flattened, or 2x2 cell means.
POOLINGS = ("map", "grid2")


def register_backbone(fn: Callable[..., Backbone]) -> Callable[..., Backbone]:
    """Add a constructor ``fn(weights=None, width=None, pool=None) -> Backbone``."""
    BACKBONES[fn.__name__] = fn
    return fn


def create_backbone(name: str, *, weights: str | None = None, width: int | None = None,
                    pool: str | None = None) -> Backbone:
    """Build a registered backbone by name (``resnet18``, ``tiny``, ``tiny_unpaired``)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {sorted(BACKBONES)}")
    return BACKBONES[name](weights=weights, width=width, pool=pool)


class Backbone(nn.Module):
    """Base class: resize to ``input_size`` x ``input_size``, then :meth:`encode`."""

    input_size: int = 224
    out_features: int
    weights_origin: str = "random"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> ``(B, out_features)``."""
        x = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                          align_corners=False)
        return self.encode(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class ResNet18Backbone(Backbone):
    """torchvision ResNet-18 under the attribute ``model``, its ``fc`` removed (512 features)."""

    input_size = 224
    out_features = 512

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet18 as tv_resnet18

        self.model = tv_resnet18(weights=None)
        self.model.fc = nn.Identity()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class TinyBackbone(Backbone):
    """The 3D-LUT paper's CNN: five stride-2 3x3 conv blocks, 256x256 -> 8x8.

    Block ``k`` is ``blocks[k] = (conv, LeakyReLU(0.2)[, InstanceNorm(affine)])``; the last
    block has no norm, and ``norm_blocks`` says how many of the first blocks have one (4 in
    the paired models, 1 in the unpaired 3D-LUT classifier). Dropout(0.5) follows.

    Reference: Zeng, Cai, Li, Cao, Zhang, "Learning Image-adaptive 3D Lookup Tables for High
    Performance Photo Enhancement in Real-time", TPAMI 2020.
    """

    input_size = 256

    def __init__(self, width: int = 16, pool: str = "map", norm_blocks: int = 4) -> None:
        super().__init__()
        if pool not in POOLINGS:
            raise ValueError(f"pool must be one of {POOLINGS}, got {pool!r}")
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        channels = [3, width, 2 * width, 4 * width, 8 * width, 8 * width]
        blocks = []
        for k, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                                       nn.LeakyReLU(0.2)]
            if k < norm_blocks:
                layers.append(nn.InstanceNorm2d(c_out, affine=True))
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(p=0.5)
        self.pool = pool
        self.width = width
        self.out_features = 8 * width * (64 if pool == "map" else 4)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.blocks(x))
        if self.pool == "grid2":
            x = F.adaptive_avg_pool2d(x, 2)
        return x.flatten(1)


def _torchvision_cached_resnet18() -> Path | None:
    """The ImageNet ResNet-18 file in torch's hub cache, if it was downloaded before."""
    from torchvision.models import ResNet18_Weights

    filename = Path(ResNet18_Weights.IMAGENET1K_V1.url).name
    path = Path(torch.hub.get_dir()) / "checkpoints" / filename
    return path if path.is_file() else None


def load_imagenet_weights(backbone: ResNet18Backbone, weights: str | None) -> str:
    """Load ImageNet weights into ``backbone.model`` (all but ``fc``).

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
        from ppr10k.models.official import load_checkpoint_file

        state = load_checkpoint_file(path)
        origin = str(path)
    if not isinstance(state, dict):
        raise ValueError(f"{origin}: not a ResNet-18 state dict")  # noqa: TRY004
    state = {k.removeprefix("model."): v for k, v in state.items() if not k.endswith(
        ("fc.weight", "fc.bias"))}
    missing, unexpected = backbone.model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{origin}: not a ResNet-18 state dict (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    return origin


@register_backbone
def resnet18(weights: str | None = None, width: int | None = None,
             pool: str | None = None) -> ResNet18Backbone:
    """ResNet-18 encoder (PPR10K's choice); ImageNet weights per ``weights``.

    ``width`` and ``pool`` do not apply (the ResNet always pools globally) and are ignored.
    """
    backbone = ResNet18Backbone()
    backbone.weights_origin = load_imagenet_weights(backbone, weights)
    return backbone


def _untrained(weights: str | None) -> None:
    if weights not in (None, "none", "auto"):
        warnings.warn("the tiny backbones have no pretrained weights; ignoring "
                      "--backbone-weights", stacklevel=3)


@register_backbone
def tiny(weights: str | None = None, width: int | None = None,
         pool: str | None = None) -> TinyBackbone:
    """The 3D-LUT paper's CNN (``width`` 16, ``pool`` ``map`` by default), from scratch."""
    _untrained(weights)
    return TinyBackbone(width or 16, pool or "map")


@register_backbone
def tiny_unpaired(weights: str | None = None, width: int | None = None,
                  pool: str | None = None) -> TinyBackbone:
    """The 3D-LUT paper's unpaired classifier CNN: instance norm after block 1 only."""
    _untrained(weights)
    return TinyBackbone(width or 16, pool or "map", norm_blocks=1)
