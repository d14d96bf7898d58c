"""SepLUT (Yang et al., ECCV 2022): per-channel 1D LUTs, then a 3D LUT, both image-adaptive.

A linear head predicts, for each input channel, a 1D LUT of ``K`` values on the uniform
knots ``k / (K - 1)`` (through a sigmoid, so in (0, 1)); the three curves' outputs are
then looked up in the fused 3D LUT. The apply plan is exactly that: curves (uniform knots,
predicted values), then the uniform trilinear lookup.

References:
    Yang, Jin, Xu, Zhang, Chen, Liu, "SepLUT: Separable Image-adaptive Lookup Tables for
    Real-time Image Enhancement", ECCV 2022.
"""

from __future__ import annotations

import torch
from torch import nn

from ppr10k.lut import fuse_luts
from ppr10k.models import official
from ppr10k.models.lut3d import AdaptiveLUT, ApplyPlan, Params
from ppr10k.models.registry import Family, register_family

#: 1D LUT values of the identity start are kept this far inside (0, 1) (the sigmoid's range)
_IDENTITY_MARGIN = 1e-3


class SepLUT(AdaptiveLUT):
    """Basis 3D LUTs, predicted weights and predicted per-channel 1D LUTs.

    ``params = {"weights": (B, N), "lut1d": (B, 3, K)}``; row 0 acts on red, 1 on green,
    2 on blue.

    Example:
        >>> from ppr10k.models.config import ModelConfig
        >>> model = SepLUT(ModelConfig("seplut", backbone="tiny", width=6)).eval()
        >>> out, params = model(torch.rand(2, 3, 16, 16))
        >>> params["lut1d"].shape, params["weights"].shape
        (torch.Size([2, 3, 17]), torch.Size([2, 5]))
    """

    pool = "grid2"

    def __init__(self, config, backbone_weights: str | None = None) -> None:
        super().__init__(config, backbone_weights)
        knots = self.config.curve_dim
        self.curves = nn.Linear(self.backbone.out_features, 3 * knots)
        with torch.no_grad():
            nn.init.zeros_(self.curves.weight)
            ramp = torch.linspace(_IDENTITY_MARGIN, 1 - _IDENTITY_MARGIN, knots)
            self.curves.bias.copy_(torch.logit(ramp).repeat(3))

    def predict(self, images: torch.Tensor) -> Params:
        code = self.backbone(images)
        lut1d = self.curves(code).view(code.shape[0], 3, -1).sigmoid()
        return {"weights": self.head(code), "lut1d": lut1d}

    def plan(self, params: Params) -> ApplyPlan:
        lut1d = params["lut1d"]
        knots = torch.linspace(0.0, 1.0, lut1d.shape[-1], dtype=lut1d.dtype,
                               device=lut1d.device).expand_as(lut1d)
        return ApplyPlan(fuse_luts(self.luts, params["weights"]), (knots, lut1d))


register_family(Family(
    "seplut", SepLUT,
    "image-adaptive per-channel 1D LUTs, then an image-adaptive 3D LUT",
    "Yang et al., ECCV 2022",
    defaults={"lut_dim": 17, "curve_dim": 17, "width": 8},
    regularisation={"sparse": 1e-4, "smooth": 0.0, "mono": 0.0},
    recognise=official.is_seplut, convert=official.convert_seplut))
