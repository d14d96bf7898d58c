"""Fixtures for the XMP tests: the real sidecars of ../shared/data/xmp (see MANIFEST.md)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def xmp_dir(shared_data: Path) -> Path:
    return shared_data / "xmp"
