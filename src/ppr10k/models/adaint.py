"""AdaInt (Yang et al., CVPR 2022): basis LUTs on an image-adaptive, non-uniform lattice.

Besides the LUT weights, a linear head predicts for each input channel the ``D - 1``
interval lengths of its lattice axis (softmax, so they sum to 1); their cumulative sum with
a leading 0 gives ``D`` non-decreasing vertices. Looking a colour up in the LUT on that
lattice is exactly a per-channel piecewise-linear remap (vertex ``k`` -> ``k / (D - 1)``)
followed by the uniform trilinear lookup, which is how :class:`AdaIntLUT` plans it.

References:
    Yang, Jin, Jia, Xu, Chen, "AdaInt: Learning Adaptive Intervals for 3D Lookup Tables on
    Real-time Image Enhancement", CVPR 2022.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ppr10k.lut import fuse_luts
from ppr10k.models import official
from ppr10k.models.lut3d import AdaptiveLUT, ApplyPlan, Params
from ppr10k.models.registry import Family, register_family


class AdaIntLUT(AdaptiveLUT):
    """Basis LUTs, predicted weights and predicted per-channel lattice vertices.

    ``params = {"weights": (B, N), "vertices": (B, 3, D)}``; row 0 of the vertices is the
    red axis (the LUT's last), row 1 green, row 2 blue.

    Example:
        >>> from ppr10k.models.config import ModelConfig
        >>> model = AdaIntLUT(ModelConfig("adaint", backbone="tiny", lut_dim=9)).eval()
        >>> x = torch.rand(1, 3, 20, 30)
        >>> out, params = model(x)
        >>> params["vertices"].shape, torch.allclose(out, x, atol=1e-5)
        (torch.Size([1, 3, 9]), True)
    """

    pool = "grid2"

    def __init__(self, config, backbone_weights: str | None = None) -> None:
        super().__init__(config, backbone_weights)
        dim = self.config.lut_dim
        self.intervals = nn.Linear(self.backbone.out_features, 3 * (dim - 1))
        # uniform intervals to start (AdaInt's own start): zero weights, equal biases
        nn.init.zeros_(self.intervals.weight)
        nn.init.ones_(self.intervals.bias)

    def predict(self, images: torch.Tensor) -> Params:
        code = self.backbone(images)
        intervals = self.intervals(code).view(code.shape[0], 3, -1).softmax(dim=-1)
        vertices = F.pad(intervals.cumsum(dim=-1), (1, 0), value=0.0)
        return {"weights": self.head(code), "vertices": vertices}

    def plan(self, params: Params) -> ApplyPlan:
        vertices = params["vertices"]
        dim = vertices.shape[-1]
        coordinate = torch.linspace(0.0, 1.0, dim, dtype=vertices.dtype,
                                    device=vertices.device).expand_as(vertices)
        return ApplyPlan(fuse_luts(self.luts, params["weights"]), (vertices, coordinate))

    def parameter_groups(self) -> list[tuple[str, list[nn.Parameter], float]]:
        """As the base, with the interval head at a tenth of the predictor's learning rate
        (AdaInt's PPR10K setting)."""
        own = {id(p) for p in self.intervals.parameters()}
        groups = [(name, [p for p in params if id(p) not in own], scale)
                  for name, params, scale in super().parameter_groups()]
        return groups + [("intervals", list(self.intervals.parameters()), 0.1)]


register_family(Family(
    "adaint", AdaIntLUT,
    "basis 3D LUTs on an image-adaptive non-uniform lattice",
    "Yang et al., CVPR 2022",
    defaults={"lut_dim": 33, "width": 16},
    regularisation={"sparse": 1e-4, "smooth": 0.0, "mono": 10.0},
    recognise=official.is_adaint, convert=official.convert_adaint))
