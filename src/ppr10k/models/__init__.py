"""Image-adaptive 3D-LUT models, backbones and checkpoints."""

from ppr10k.models.adaptive_lut import AdaptiveLUT, ModelConfig
from ppr10k.models.backbones import BACKBONES, create_backbone
from ppr10k.models.checkpoint import (
    import_official,
    load_model,
    load_official,
    load_official_luts,
    read_checkpoint_info,
    save_model,
)
from ppr10k.models.device import resolve_device

__all__ = [
    "BACKBONES",
    "AdaptiveLUT",
    "ModelConfig",
    "create_backbone",
    "import_official",
    "load_model",
    "load_official",
    "load_official_luts",
    "read_checkpoint_info",
    "resolve_device",
    "save_model",
]
