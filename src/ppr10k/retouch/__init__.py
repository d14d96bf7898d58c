"""Full-resolution, group-consistent retouching of photos and raws (``ppr10k retouch``)."""

from ppr10k.retouch.discover import FORMATS, Job, OutputFolderError, discover, plan_outputs
from ppr10k.retouch.engine import (
    Decoded,
    DecodeSpec,
    JobPlan,
    PhotoJob,
    Rendered,
    Retoucher,
    check_params,
    decode_photo,
    render,
    write_rendered,
)
from ppr10k.retouch.groups import GROUP_MODES, group_photos
from ppr10k.retouch.options import GroupOptions, OutputOptions, RunOptions
from ppr10k.retouch.pipeline import (
    PhotoResult,
    RetouchReport,
    apply_plan,
    output_profile_of,
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
    "DecodeSpec",
    "Decoded",
    "GroupOptions",
    "Job",
    "JobPlan",
    "OutputFolderError",
    "OutputOptions",
    "PhotoJob",
    "PhotoResult",
    "Rendered",
    "RetouchReport",
    "Retoucher",
    "RunOptions",
    "apply_plan",
    "area_resize",
    "check_params",
    "decode_photo",
    "discover",
    "group_photos",
    "output_profile_of",
    "plan_outputs",
    "predictor_input",
    "render",
    "retouch",
    "retouch_photo",
    "thumbnail_size",
    "write_rendered",
]
