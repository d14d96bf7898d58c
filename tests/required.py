"""What a missing test resource does: the test skips locally and fails under CI.

Real third-party files (``../shared/data``, ``../shared/models``) and colour-science are
where the tests check real-data behaviour (CRLF-preserving XMP writes, 16-bit outputs,
colour references). A developer without them gets skips; a CI run (environment variable
``CI`` set to anything but ``""``, ``0``, ``false`` or ``no``) must not pass by skipping.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to a true value."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> NoReturn:
    """Skip (locally) or fail (under CI) with ``reason``; works at module level too."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: this resource is required)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else :func:`missing`."""
    if not path.is_dir():
        missing(f"{what} not found at {path}")
    return path


def require_module(name: str) -> ModuleType:
    """The imported module ``name``, else :func:`missing` (like ``pytest.importorskip``)."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing(f"could not import {name!r}: {error}")
