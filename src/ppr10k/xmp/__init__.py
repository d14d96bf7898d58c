"""Camera Raw XMP sidecars: secure reading, minimal-change writing, augmentation.

- :func:`read_xmp` / :func:`parse_xmp`: a sidecar as an :class:`XmpDocument` (secure:
  DTDs, entities and external references are refused with :class:`XmpError`).
- :func:`read_camera_raw` / :func:`camera_raw_settings`: its Camera Raw settings, typed
  (:class:`XmpProperties`: ``settings``, ``sequences``, ``alternatives``, ``structures``).
- :func:`set_settings` / :func:`write_xmp` / :func:`update_xmp_file`: change values,
  leaving every other byte of the file as it was.
- :mod:`ppr10k.xmp.augment`: the two PPR10K augmentation schemes (pure functions);
  :mod:`ppr10k.xmp.batch`: applying them to folders of sidecars (and raws).
"""

from ppr10k.xmp.document import RDF_NS, XmpDocument, XmpError, parse_xmp, read_xmp
from ppr10k.xmp.settings import (
    CRS_NS,
    SettingChange,
    XmpProperties,
    camera_raw_settings,
    diff_properties,
    format_setting,
    parse_value,
    properties,
    read_camera_raw,
    read_properties,
)
from ppr10k.xmp.write import set_settings, update_xmp_file, write_xmp

__all__ = [
    "CRS_NS",
    "RDF_NS",
    "SettingChange",
    "XmpDocument",
    "XmpError",
    "XmpProperties",
    "camera_raw_settings",
    "diff_properties",
    "format_setting",
    "parse_value",
    "parse_xmp",
    "properties",
    "read_camera_raw",
    "read_properties",
    "read_xmp",
    "set_settings",
    "update_xmp_file",
    "write_xmp",
]
