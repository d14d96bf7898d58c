"""Missing test resources skip locally and fail under CI (``required.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from required import in_ci, require_dir, require_module


@pytest.mark.parametrize(("value", "strict"), [("1", True), ("true", True), ("yes", True),
                                               ("", False), ("0", False), ("false", False)])
def test_ci_variable(monkeypatch: pytest.MonkeyPatch, value: str, strict: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is strict


def test_missing_folder_or_module_fails_under_ci(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        require_dir(tmp_path / "shared" / "data", "real test data")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_for_ppr10k"):
        require_module("no_such_module_for_ppr10k")
    assert require_dir(tmp_path, "a folder that exists") == tmp_path
    assert require_module("math").sqrt(4.0) == 2.0


def test_missing_folder_or_module_skips_locally(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        require_dir(tmp_path / "missing", "real test data")
    with pytest.raises(pytest.skip.Exception):
        require_module("no_such_module_for_ppr10k")
