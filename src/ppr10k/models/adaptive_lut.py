"""The image-adaptive 3D-LUT model (Zeng et al., TPAMI 2020; PPR10K, CVPR 2021).

``N`` basis LUTs ``(N, 3, D, D, D)`` in the official layout and a backbone that predicts
``N`` weights per image; the output is the image passed through the fused LUT
``sum_n w_n LUT_n`` (equal to ``sum_n w_n LUT_n(x)`` because interpolation is linear in
the table).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ppr10k.lut import fuse_luts, identity_lut, trilinear
from ppr10k.models.backbones import create_backbone


@dataclass
class ModelConfig:
    """What a model is; saved with every checkpoint.

    Attributes:
        n_luts: number of basis LUTs N (paper: 5).
        lut_dim: lattice points per axis D (paper: 33).
        backbone: weight predictor, ``resnet18`` (PPR10K) or ``tiny`` (3D-LUT paper CNN).
        expert: the expert (a, b, c) whose retouching the model learns, or None.
        init: ``identity`` (final layer weights 0, bias (1, 0, ...): the first prediction is
            the input) or ``reference`` (the reference code's random final layer).
    """

    n_luts: int = 5
    lut_dim: int = 33
    backbone: str = "resnet18"
    expert: str | None = "a"
    init: str = "identity"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


class AdaptiveLUT(nn.Module):
    """Image-adaptive 3D LUTs: ``N`` basis LUTs fused with predicted per-image weights.

    Args:
        config: the model's shape and initialisation.
        backbone_weights: where ImageNet weights for ``resnet18`` come from (see
            :func:`ppr10k.models.backbones.load_imagenet_weights`); ``None`` = random.

    Example:
        >>> model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9)).eval()
        >>> x = torch.rand(1, 3, 32, 48)
        >>> out, weights = model(x)
        >>> out.shape, weights.shape, torch.allclose(out, x, atol=1e-5)
        (torch.Size([1, 3, 32, 48]), torch.Size([1, 5]), True)
    """

    def __init__(self, config: ModelConfig | None = None,
                 backbone_weights: str | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        n, dim = self.config.n_luts, self.config.lut_dim
        luts = torch.zeros(n, 3, dim, dim, dim)
        luts[0] = identity_lut(dim)
        self.luts = nn.Parameter(luts)
        self.backbone = create_backbone(self.config.backbone, n, weights=backbone_weights)
        if self.config.init == "identity":
            head = self.backbone.head
            nn.init.zeros_(head.weight)
            with torch.no_grad():
                head.bias.zero_()
                head.bias[0] = 1.0
        elif self.config.init != "reference":
            raise ValueError(f"init must be 'identity' or 'reference', got {self.config.init!r}")

    def predict_weights(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1], any size -> ``(B, N)`` LUT weights."""
        return self.backbone(images)

    def fuse(self, weights: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` weights -> ``(B, 3, D, D, D)`` fused LUTs."""
        return fuse_luts(self.luts, weights)

    def fused_lut(self, images: torch.Tensor) -> torch.Tensor:
        """The fused LUT of each image: ``(B, 3, D, D, D)``."""
        return self.fuse(self.predict_weights(images))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Retouch ``(B, 3, H, W)`` images; returns ``(outputs, weights)``."""
        weights = self.predict_weights(images)
        return trilinear(self.fuse(weights), images), weights
