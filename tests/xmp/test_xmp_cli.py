"""`ppr10k xmp show` and `ppr10k xmp diff`."""

from __future__ import annotations

import json

from xmp_testing import (
    ATTRIBUTE_FORM,
    CRLF_FORM,
    ELEMENT_FORM_LOOK,
    PRESET,
    stdlib_crs_simple_values,
)

from ppr10k.cli.main import main


def test_show_json_is_top_level_settings_typed(xmp_dir, capsys):
    assert main(["xmp", "show", "--json", str(xmp_dir / PRESET)]) == 0
    shown = json.loads(capsys.readouterr().out)
    expected_names = set(stdlib_crs_simple_values((xmp_dir / PRESET).read_bytes()))
    assert set(shown) == expected_names
    assert shown["Exposure2012"] == 0.61 and shown["Tint"] == 29
    assert shown["SupportsAmount"] is True and shown["WhiteBalance"] == "Custom"
    assert "ToneCurvePV2012" not in shown and "Name" not in shown


def test_show_json_element_form(xmp_dir, capsys):
    assert main(["xmp", "show", "--json", str(xmp_dir / ELEMENT_FORM_LOOK)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["Temperature"] == 6650 and "Look" not in shown


def test_show_text_and_all(xmp_dir, capsys):
    assert main(["xmp", "show", str(xmp_dir / CRLF_FORM)]) == 0
    out = capsys.readouterr().out
    assert any(line.split() == ["Temperature", "4600"] for line in out.splitlines())
    assert "--all" in out
    assert main(["xmp", "show", "--all", "--json", str(xmp_dir / PRESET)]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert everything["alternatives"]["Name"] == {"x-default": "Bretagne Glow"}
    assert len(everything["sequences"]["ToneCurvePV2012"]) == 5


def test_diff(xmp_dir, capsys):
    a, b = str(xmp_dir / CRLF_FORM), str(xmp_dir / ATTRIBUTE_FORM)
    assert main(["xmp", "diff", a, b]) == 0
    lines = capsys.readouterr().out.splitlines()
    temperature = next(line for line in lines if line.startswith("Temperature "))
    assert "4600 -> 4300" in temperature and "(-300)" in temperature
    assert main(["xmp", "diff", "--json", a, b]) == 0
    changes = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert changes["Exposure2012"]["before"] == 0.0 and changes["Exposure2012"]["after"] == 0.12
    assert main(["xmp", "diff", a, a]) == 0
    assert "no differences" in capsys.readouterr().out


def test_missing_file_is_one_line_error(tmp_path, capsys):
    assert main(["xmp", "show", str(tmp_path / "nope.xmp")]) == 1
    assert "nope.xmp" in capsys.readouterr().err
