"""Model families (a registry), encoders and checkpoints.

Families: ``lut3d`` (:class:`AdaptiveLUT`), ``adaint`` (:class:`AdaIntLUT`), ``seplut``
(:class:`SepLUT`). Each predicts parameters from an image (``predict``), turns them into an
:class:`ApplyPlan` (optional per-channel curves, then one 3D LUT: ``plan``), averages a
group's parameters (``average``) and names its regularisers (``regularisation``).
"""

# the built-in families register themselves on import, in this order
from ppr10k.models.lut3d import AdaptiveLUT, ApplyPlan, blend  # isort: skip
from ppr10k.models.adaint import AdaIntLUT  # isort: skip
from ppr10k.models.seplut import SepLUT  # isort: skip
from ppr10k.models.backbones import BACKBONES, create_backbone
from ppr10k.models.checkpoint import (
    import_official,
    load_model,
    load_official,
    read_checkpoint_info,
    save_model,
)
from ppr10k.models.config import ModelConfig
from ppr10k.models.device import resolve_device
from ppr10k.models.registry import FAMILIES, create_model, get_family, register_family

__all__ = [
    "BACKBONES",
    "FAMILIES",
    "AdaIntLUT",
    "AdaptiveLUT",
    "ApplyPlan",
    "ModelConfig",
    "SepLUT",
    "blend",
    "create_backbone",
    "create_model",
    "get_family",
    "import_official",
    "load_model",
    "load_official",
    "read_checkpoint_info",
    "register_family",
    "resolve_device",
    "save_model",
]
