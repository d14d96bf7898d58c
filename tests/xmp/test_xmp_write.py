"""Writing settings back: round trip, one-value changes, insertion, CRLF, escaping."""

from __future__ import annotations

import os
import re

import pytest
from xmp_testing import (
    ALL,
    ATTRIBUTE_FORM,
    CRLF_FORM,
    CRS,
    ELEMENT_FORM,
    ELEMENT_FORM_LOOK,
    PRESET,
    stdlib_all_values,
)

from ppr10k.xmp import (
    XmpError,
    camera_raw_settings,
    format_setting,
    parse_xmp,
    read_camera_raw,
    read_xmp,
    set_settings,
    update_xmp_file,
    write_xmp,
)

MINIMAL = ('<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           '02/22-rdf-syntax-ns#">\n  <rdf:Description rdf:about=""\n    xmlns:dc="http://purl.'
           'org/dc/elements/1.1/"\n   dc:format="image/x-canon-cr2"/>\n </rdf:RDF>\n</x:xmpmeta>\n')


@pytest.mark.parametrize("name", ALL)
def test_round_trip_without_change_is_identical(xmp_dir, tmp_path, name):
    original = (xmp_dir / name).read_bytes()
    document = read_xmp(xmp_dir / name)
    assert document.to_bytes() == original
    out = write_xmp(tmp_path / name, set_settings(document, {}))
    assert out.read_bytes() == original


def _changed_values(before: bytes, after: bytes) -> dict:
    a, b = stdlib_all_values(before), stdlib_all_values(after)
    return {key: (a.get(key), b.get(key)) for key in set(a) | set(b) if a.get(key) != b.get(key)}


@pytest.mark.parametrize("name", [ATTRIBUTE_FORM, CRLF_FORM, PRESET])
def test_change_one_attribute_value_only(xmp_dir, name):
    original = (xmp_dir / name).read_bytes()
    changed = set_settings(read_xmp(xmp_dir / name), {"Exposure2012": 0.35}).to_bytes()
    differences = _changed_values(original, changed)
    assert len(differences) == 1
    (key, (old, new)), = differences.items()
    assert key[-1] == f"@{{{CRS}}}Exposure2012" and new == "+0.35"
    # textually: the same bytes except the value itself
    match = re.search(rb'crs:Exposure2012="([^"]*)"', original)
    assert match.group(1).decode() == old
    assert changed == original[:match.start(1)] + b"+0.35" + original[match.end(1):]


@pytest.mark.parametrize("name", [ELEMENT_FORM, ELEMENT_FORM_LOOK])
def test_change_one_element_value_only(xmp_dir, name):
    original = (xmp_dir / name).read_bytes()
    changed = set_settings(read_xmp(xmp_dir / name), {"Highlights2012": -42}).to_bytes()
    differences = _changed_values(original, changed)
    assert list(differences.values()) == [("0", "-42")]
    assert changed == original.replace(b"<crs:Highlights2012>0</crs:Highlights2012>",
                                       b"<crs:Highlights2012>-42</crs:Highlights2012>")


def test_crlf_is_preserved(xmp_dir):
    original = (xmp_dir / CRLF_FORM).read_bytes()
    changed = set_settings(read_xmp(xmp_dir / CRLF_FORM),
                           {"Temperature": 5000, "Texture": 12}).to_bytes()
    assert changed.count(b"\n") == changed.count(b"\r\n") == original.count(b"\r\n") + 1
    assert b'\r\n   crs:Texture="+12"' in changed  # inserted on its own CRLF line, same indent
    assert read_camera_raw_bytes(changed)["Texture"] == 12


def read_camera_raw_bytes(data: bytes) -> dict:
    return camera_raw_settings(parse_xmp(data)).settings


def test_absent_setting_is_inserted_where_crs_lives(xmp_dir):
    document = read_xmp(xmp_dir / ELEMENT_FORM)  # no Temperature: a JPEG's settings
    changed = set_settings(document, {"Temperature": 5150, "WhiteBalance": "Custom"})
    settings = camera_raw_settings(changed).settings
    assert settings["Temperature"] == 5150 and settings["WhiteBalance"] == "Custom"
    differences = _changed_values(document.to_bytes(), changed.to_bytes())
    assert {key[-1] for key in differences} == {f"@{{{CRS}}}Temperature",
                                                f"@{{{CRS}}}WhiteBalance"}
    assert all(old is None for old, _ in differences.values())
    # single quotes, like the rest of this file
    assert b"crs:Temperature='5150'" in changed.to_bytes()


def test_namespace_is_declared_when_absent():
    changed = set_settings(parse_xmp(MINIMAL), {"Exposure2012": -1.5, "Contrast2012": -20})
    assert camera_raw_settings(changed).settings == {"Exposure2012": -1.5, "Contrast2012": -20}
    text = changed.to_bytes().decode()
    assert 'xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"' in text
    assert 'crs:Exposure2012="-1.50"' in text and 'crs:Contrast2012="-20"' in text


def test_other_prefix_is_reused(xmp_dir):
    text = (xmp_dir / PRESET).read_text().replace("xmlns:crs=", "xmlns:cr=").replace("crs:",
                                                                                      "cr:")
    changed = set_settings(parse_xmp(text), {"Exposure2012": 1.0, "Texture": 3})
    out = changed.to_bytes().decode()
    assert 'cr:Exposure2012="+1.00"' in out and 'cr:Texture="+3"' in out
    assert "crs:" not in out


def test_strings_are_escaped_and_read_back():
    value = 'A "quoted" <profile> & more'
    changed = set_settings(parse_xmp(MINIMAL), {"CameraProfile": value})
    assert camera_raw_settings(changed).settings["CameraProfile"] == value


def test_empty_element_gets_a_value():
    text = MINIMAL.replace(
        '   dc:format="image/x-canon-cr2"/>',
        '   dc:format="image/x-canon-cr2"\n    xmlns:crs="http://ns.adobe.com/camera-raw-'
        'settings/1.0/">\n   <crs:CameraProfile/>\n  </rdf:Description>')
    changed = set_settings(parse_xmp(text), {"CameraProfile": "Adobe Portrait"})
    assert "<crs:CameraProfile>Adobe Portrait</crs:CameraProfile>" in changed.to_bytes().decode()


def test_structures_cannot_be_set_as_values(xmp_dir):
    with pytest.raises(XmpError, match="structure"):
        set_settings(read_xmp(xmp_dir / CRLF_FORM), {"ToneCurve": "0, 0"})
    with pytest.raises(XmpError, match="structure"):
        set_settings(read_xmp(xmp_dir / ELEMENT_FORM_LOOK), {"Look": "x"})


def test_update_file_never_overwrites_its_input(xmp_dir, tmp_path):
    source = tmp_path / "0_0.xmp"
    source.write_bytes((xmp_dir / ATTRIBUTE_FORM).read_bytes())
    with pytest.raises(ValueError, match="overwrite"):
        update_xmp_file(source, source, {"Exposure2012": 0.5})
    out = update_xmp_file(source, tmp_path / "out" / "0_0_1.xmp", {"Exposure2012": 0.5})
    assert read_camera_raw(out).settings["Exposure2012"] == 0.5
    assert read_camera_raw(source).settings["Exposure2012"] == 0.12
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize(("name", "value", "previous", "expected"), [
    ("Exposure2012", 0.35, None, "+0.35"), ("Exposure2012", -0.3, None, "-0.30"),
    ("Exposure2012", 0.0, None, "0.00"), ("Exposure2012", 1, "+0.12", "+1.00"),
    ("Temperature", 5123.4, None, "5123"), ("Temperature", 4999.6, "4600", "5000"),
    ("Tint", 12, None, "+12"), ("Tint", -7, None, "-7"), ("Tint", 0, None, "0"),
    ("Highlights2012", -35.0, None, "-35"), ("Saturation", 30, None, "+30"),
    ("Sharpness", 40, "25", "40"), ("SharpenRadius", 1.5, "+1.0", "+1.5"),
    ("CropTop", 0.25, "0.231776", "0.250000"), ("HasCrop", False, "True", "False"),
    ("CameraProfile", "Adobe Standard", None, "Adobe Standard"),
])
def test_format_setting(name, value, previous, expected):
    assert format_setting(name, value, previous) == expected


def test_format_refuses_nan():
    with pytest.raises(ValueError, match="finite"):
        format_setting("Exposure2012", float("nan"))
