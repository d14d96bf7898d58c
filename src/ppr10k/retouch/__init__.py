"""Full-resolution, group-consistent retouching of photos and raws (``ppr10k retouch``)."""

from ppr10k.retouch.discover import FORMATS, Job, OutputFolderError, discover, plan_outputs
from ppr10k.retouch.groups import GROUP_MODES, group_photos
from ppr10k.retouch.pipeline import (
    PhotoResult,
    RetouchReport,
    apply_plan,
    retouch,
    retouch_photo,
)
from ppr10k.retouch.thumbnail import (
    PREDICTOR_LONG_EDGE,
    area_resize,
    predictor_input,
    thumbnail_size,
)

__all__ = [
    "FORMATS",
    "GROUP_MODES",
    "PREDICTOR_LONG_EDGE",
    "Job",
    "OutputFolderError",
    "PhotoResult",
    "RetouchReport",
    "apply_plan",
    "area_resize",
    "discover",
    "group_photos",
    "plan_outputs",
    "predictor_input",
    "retouch",
    "retouch_photo",
    "thumbnail_size",
]
