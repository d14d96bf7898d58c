"""Image-adaptive 3D LUTs (Zeng et al., TPAMI 2020; PPR10K, CVPR 2021): the ``lut3d`` family.

``N`` basis LUTs ``(N, 3, D, D, D)`` in the official layout and an encoder + linear head
that predicts ``N`` weights per image; the output is the image passed through the fused
LUT ``sum_n w_n LUT_n`` (equal to ``sum_n w_n LUT_n(x)`` because interpolation is linear
in the table).

:class:`AdaptiveLUT` is also the base class of every family: a family predicts parameters
from a thumbnail (:meth:`~AdaptiveLUT.predict`), turns them into an :class:`ApplyPlan`
(optional per-channel curves, then one uniform 3D LUT: :meth:`~AdaptiveLUT.plan`),
averages a group's parameters (:meth:`~AdaptiveLUT.average`) and lists its regularisers
(:meth:`~AdaptiveLUT.regularisation`). Code outside ``ppr10k.models`` uses only these.

References:
    Zeng, Cai, Li, Cao, Zhang, "Learning Image-adaptive 3D Lookup Tables for High
    Performance Photo Enhancement in Real-time", TPAMI 2020.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ppr10k.lut import (
    apply_curves_and_lut,
    fuse_luts,
    identity_lut,
    lut_monotonicity,
    lut_total_variation,
)
from ppr10k.models import official
from ppr10k.models.backbones import create_backbone
from ppr10k.models.config import ModelConfig
from ppr10k.models.registry import Family, register_family

Params = dict[str, torch.Tensor]


@dataclass
class ApplyPlan:
    """How to retouch an image: optional per-channel curves, then a uniform 3D LUT.

    Attributes:
        lut: ``(B, 3, D, D, D)`` in the layout ``lut[c, b, g, r]``.
        curves: ``(knots, values)``, each ``(B, 3, K)``, for
            :func:`ppr10k.lut.apply_curves`, or None.
    """

    lut: torch.Tensor
    curves: tuple[torch.Tensor, torch.Tensor] | None = None

    def __getitem__(self, index: int) -> ApplyPlan:
        """The plan of one image (batch dimension dropped)."""
        curves = None if self.curves is None else (self.curves[0][index],
                                                   self.curves[1][index])
        return ApplyPlan(self.lut[index], curves)

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """Retouch ``(B, 3, H, W)`` images in [0, 1] (differentiable; no clamp of the output)."""
        return apply_curves_and_lut(self.lut, images, self.curves)


def blend(params: Params, strength: float = 1.0) -> Params:
    """Pull each image's parameters toward the batch mean: ``(1 - s) p + s mean(p)``.

    Example:
        >>> blend({"weights": torch.tensor([[1.0, 0.0], [0.0, 1.0]])}, 0.5)["weights"].tolist()
        [[0.75, 0.25], [0.25, 0.75]]
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"group strength must be in [0, 1], got {strength}")
    return {key: (1.0 - strength) * value + strength * value.mean(dim=0, keepdim=True)
            for key, value in params.items()}


class AdaptiveLUT(nn.Module):
    """Image-adaptive 3D LUTs: ``N`` basis LUTs fused with predicted per-image weights.

    Args:
        config: the model's shape and initialisation (family ``lut3d`` here; subclasses
            for the other families).
        backbone_weights: where ImageNet weights for ``resnet18`` come from (see
            :func:`ppr10k.models.backbones.load_imagenet_weights`); ``None`` = random.

    Example:
        >>> model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=9)).eval()
        >>> x = torch.rand(1, 3, 32, 48)
        >>> out, params = model(x)
        >>> out.shape, params["weights"].shape, torch.allclose(out, x, atol=1e-5)
        (torch.Size([1, 3, 32, 48]), torch.Size([1, 5]), True)
    """

    #: the backbone's pooling of its feature map for this family (``tiny`` only)
    pool: str = "map"

    def __init__(self, config: ModelConfig | None = None,
                 backbone_weights: str | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        n, dim = self.config.n_luts, self.config.lut_dim
        luts = torch.zeros(n, 3, dim, dim, dim)
        luts[0] = identity_lut(dim)
        self.luts = nn.Parameter(luts)
        self.backbone = create_backbone(self.config.backbone, weights=backbone_weights,
                                        width=self.config.width, pool=self.pool)
        self.head = nn.Linear(self.backbone.out_features, n)
        if self.config.init == "identity":
            nn.init.zeros_(self.head.weight)
            with torch.no_grad():
                self.head.bias.zero_()
                self.head.bias[0] = 1.0

    # -- the family interface ---------------------------------------------------------
    def predict(self, images: torch.Tensor) -> Params:
        """``(B, 3, H, W)`` in [0, 1], any size -> ``{"weights": (B, N)}``."""
        return {"weights": self.head(self.backbone(images))}

    def plan(self, params: Params) -> ApplyPlan:
        """Parameters -> the fused LUT ``sum_n w_n LUT_n``, ``(B, 3, D, D, D)``."""
        return ApplyPlan(fuse_luts(self.luts, params["weights"]))

    def average(self, params: Params, strength: float = 1.0) -> Params:
        """A group's parameters pulled toward their mean (see :func:`blend`).

        Weights, vertices and 1D LUTs all enter the applied transform linearly or keep
        their constraints under averaging (a mean of non-decreasing vertex rows is
        non-decreasing), so the plain mean is the group's consensus.
        """
        return blend(params, strength)

    def regularisation(self, params: Params, sparse: float, smooth: float,
                       mono: float) -> torch.Tensor:
        """``sparse * mean(w^2) + smooth * sum_n TV(LUT_n) + mono * sum_n MN(LUT_n)``.

        TV and MN as in spec §4 (:func:`ppr10k.lut.lut_total_variation`,
        :func:`ppr10k.lut.lut_monotonicity`) on the basis LUTs.
        """
        loss = sparse * torch.mean(params["weights"] ** 2)
        if smooth:
            loss = loss + smooth * lut_total_variation(self.luts)
        if mono:
            loss = loss + mono * lut_monotonicity(self.luts)
        return loss

    def parameter_groups(self) -> list[tuple[str, list[nn.Parameter], float]]:
        """``(name, parameters, lr multiplier)``: ``luts`` (the basis tables) and
        ``predictor`` (encoder and heads: everything that maps an image to parameters)."""
        return [("luts", [self.luts], 1.0),
                ("predictor", [p for p in self.parameters() if p is not self.luts], 1.0)]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, Params]:
        """Retouch ``(B, 3, H, W)`` images; returns ``(outputs, parameters)``."""
        params = self.predict(images)
        return self.plan(params).apply(images), params

    @property
    def backbone_origin(self) -> str:
        """Where the encoder's starting weights came from (``random``, a file, ImageNet)."""
        return getattr(self.backbone, "weights_origin", "random")

    # -- conveniences of this family ----------------------------------------------------
    def predict_weights(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, N)`` LUT weights."""
        return self.predict(images)["weights"]

    def fuse(self, weights: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` weights -> ``(B, 3, D, D, D)`` fused LUTs."""
        return fuse_luts(self.luts, weights)

    def fused_lut(self, images: torch.Tensor) -> torch.Tensor:
        """The fused LUT of each image: ``(B, 3, D, D, D)``."""
        return self.fuse(self.predict_weights(images))


register_family(Family(
    "lut3d", AdaptiveLUT,
    "N basis 3D LUTs fused with per-image weights",
    "Zeng et al., TPAMI 2020; PPR10K (Liang et al., CVPR 2021)",
    defaults={"lut_dim": 33, "width": 16},
    regularisation={"sparse": None, "smooth": 1e-4, "mono": 10.0},
    recognise=official.is_lut3d, convert=official.convert_lut3d))
