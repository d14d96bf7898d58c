"""Reading Camera Raw settings from real sidecars (both serialisations, CRLF, presets)."""

from __future__ import annotations

import pytest
from xmp_testing import (
    ALL,
    ATTRIBUTE_FORM,
    CRLF_FORM,
    ELEMENT_FORM,
    ELEMENT_FORM_LOOK,
    PRESET,
    stdlib_crs_simple_values,
)

from ppr10k.xmp import (
    CRS_NS,
    XmpError,
    camera_raw_settings,
    diff_properties,
    parse_value,
    parse_xmp,
    read_camera_raw,
    read_xmp,
)


@pytest.mark.parametrize("name", ALL)
def test_simple_values_match_a_second_parser(xmp_dir, name):
    data = (xmp_dir / name).read_bytes()
    expected = stdlib_crs_simple_values(data)
    settings = read_camera_raw(xmp_dir / name)
    assert settings.raw == expected
    assert len(expected) > 80


def test_attribute_form_values_from_the_manifest(xmp_dir):
    # MANIFEST.md: WB As Shot 4300/+20, Exposure2012 +0.12, Highlights2012 -83, Shadows +64
    s = read_camera_raw(xmp_dir / ATTRIBUTE_FORM).settings
    assert s["WhiteBalance"] == "As Shot"
    assert s["Temperature"] == 4300 and isinstance(s["Temperature"], int)
    assert s["Tint"] == 20 and isinstance(s["Tint"], int)
    assert s["Exposure2012"] == 0.12 and isinstance(s["Exposure2012"], float)
    assert s["Highlights2012"] == -83
    assert s["Shadows2012"] == 64
    assert s["ConvertToGrayscale"] is False and s["HasCrop"] is True
    assert s["Version"] == "9.1"


def test_crlf_file_is_read(xmp_dir):
    data = (xmp_dir / CRLF_FORM).read_bytes()
    assert data.count(b"\r\n") > 100  # the fixture really is CRLF
    settings = read_camera_raw(xmp_dir / CRLF_FORM)
    assert settings.settings["Temperature"] == 4600
    assert settings.settings["Tint"] == -1
    assert settings.tone_curve("ToneCurve") == [(0, 0), (32, 22), (64, 56), (128, 128),
                                                (192, 196), (255, 255)]
    assert read_xmp(xmp_dir / CRLF_FORM).newline == "\r\n"


def test_preset_sequences_and_alternatives_are_kept_apart(xmp_dir):
    settings = read_camera_raw(xmp_dir / PRESET)
    assert settings.settings["Exposure2012"] == 0.61
    assert settings.settings["Contrast2012"] == -67
    assert settings.settings["SupportsAmount"] is True
    assert settings.sequences["ToneCurvePV2012"] == ["0, 0", "75, 65", "127, 127",
                                                     "183, 199", "255, 255"]
    assert settings.alternatives["Name"] == {"x-default": "Bretagne Glow"}
    assert "Name" not in settings.settings and "ToneCurvePV2012" not in settings.settings


def test_element_form_with_several_descriptions(xmp_dir):
    document = read_xmp(xmp_dir / ELEMENT_FORM)
    assert len(document.descriptions()) > 5
    s = camera_raw_settings(document).settings
    assert s["Exposure2012"] == 0.0 and s["HasCrop"] is True
    assert s["CropTop"] == pytest.approx(0.266726)
    assert "Temperature" not in s  # a JPEG's settings: incremental white balance only
    assert s["IncrementalTemperature"] == 0


def test_nested_look_does_not_shadow_top_level(xmp_dir):
    settings = read_camera_raw(xmp_dir / ELEMENT_FORM_LOOK)
    assert settings.settings["Temperature"] == 6650 and settings.settings["Tint"] == -60
    assert settings.structures["Look"] == {"Name": ""}
    assert "Name" not in settings.settings


def test_namespace_is_matched_by_uri_not_prefix(xmp_dir):
    text = (xmp_dir / PRESET).read_text(encoding="utf-8")
    renamed = text.replace("xmlns:crs=", "xmlns:cameraRaw=").replace("crs:", "cameraRaw:")
    assert "crs:" not in renamed
    original = read_camera_raw(xmp_dir / PRESET)
    assert camera_raw_settings(parse_xmp(renamed)) == original
    other_uri = text.replace(CRS_NS, "http://example.com/not-camera-raw/")
    assert camera_raw_settings(parse_xmp(other_uri)).settings == {}


def test_utf16_with_bom_is_read():
    text = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
            '02/22-rdf-syntax-ns#"><rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-'
            'settings/1.0/" crs:Exposure2012="-0.50" crs:CameraProfile="Adobe Standard \u00e9"/>'
            '</rdf:RDF></x:xmpmeta>')
    data = b"\xff\xfe" + text.encode("utf-16-le")
    document = parse_xmp(data)
    s = camera_raw_settings(document).settings
    assert s == {"Exposure2012": -0.5, "CameraProfile": "Adobe Standard \u00e9"}
    assert document.to_bytes() == data
    from ppr10k.xmp import set_settings

    changed = set_settings(document, {"Exposure2012": 0.25}).to_bytes()
    assert changed == b"\xff\xfe" + text.replace("-0.50", "+0.25").encode("utf-16-le")


@pytest.mark.parametrize(("text", "name", "expected"), [
    ("+12", None, 12), ("-7", None, -7), ("0", None, 0), ("+0.35", None, 0.35),
    ("-1.20", None, -1.2), ("0.00", None, 0.0), ("True", None, True), ("False", None, False),
    ("Adobe Standard", None, "Adobe Standard"), ("9.10", "Version", "9.10"),
    ("00000000", "CameraProfileDigest", "00000000"), ("0221", None, "0221"), ("", None, ""),
])
def test_parse_value(text, name, expected):
    value = parse_value(text, name)
    assert value == expected and type(value) is type(expected)


def test_diff_shows_what_changed(xmp_dir):
    a = read_camera_raw(xmp_dir / CRLF_FORM)
    b = read_camera_raw(xmp_dir / ATTRIBUTE_FORM)
    changes = {c.name: c for c in diff_properties(a, b)}
    assert changes["Temperature"].before == 4600 and changes["Temperature"].after == 4300
    assert changes["Temperature"].delta == -300
    assert changes["Highlights2012"].delta == -83
    assert "CropTop" in changes and changes["CropTop"].before is None
    assert "Sharpness" in changes  # 25 -> 55
    assert "ParametricShadowSplit" not in changes  # 25 in both
    assert diff_properties(a, a) == []


def test_not_xmp_is_a_clear_error(tmp_path):
    with pytest.raises(XmpError, match="not well-formed"):
        parse_xmp(b"<a><b></a>")
    with pytest.raises(XmpError, match="rdf:RDF"):
        parse_xmp(b"<a/>")
    with pytest.raises(FileNotFoundError):
        read_xmp(tmp_path / "missing.xmp")


LIGHTROOM_CLASSIC = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
   crs:Exposure2012="-0.40" crs:Temperature="5600">
   <crs:Look>
    <rdf:Description crs:Name="Adobe Portrait" crs:Amount="1" crs:Exposure2012="+2.00">
     <crs:Group><rdf:Alt><rdf:li xml:lang="x-default">Profiles</rdf:li>
      <rdf:li xml:lang="de-DE">Profile</rdf:li></rdf:Alt></crs:Group>
     <crs:Parameters>
      <rdf:Description crs:Version="14.0" crs:ConvertToGrayscale="False"/>
     </crs:Parameters>
    </rdf:Description>
   </crs:Look>
   <crs:MaskGroupBasedCorrections>
    <rdf:Seq>
     <rdf:li>
      <rdf:Description crs:What="Correction" crs:LocalExposure2012="+0.5" crs:Tint="7">
       <crs:CorrectionMasks>
        <rdf:Seq>
         <rdf:li crs:What="Mask/Image" crs:MaskSubType="1" crs:Temperature="9999"/>
        </rdf:Seq>
       </crs:CorrectionMasks>
      </rdf:Description>
     </rdf:li>
    </rdf:Seq>
   </crs:MaskGroupBasedCorrections>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def test_looks_and_masks_are_structures_not_settings():
    settings = camera_raw_settings(parse_xmp(LIGHTROOM_CLASSIC))
    assert settings.settings == {"Exposure2012": -0.4, "Temperature": 5600}
    look = settings.structures["Look"]
    assert look["Name"] == "Adobe Portrait" and look["Amount"] == 1
    assert look["Exposure2012"] == 2.0
    assert look["Group"] == {"x-default": "Profiles", "de-DE": "Profile"}
    assert look["Parameters"] == {"Version": "14.0", "ConvertToGrayscale": False}
    (correction,) = settings.structures["MaskGroupBasedCorrections"]
    assert correction["What"] == "Correction" and correction["LocalExposure2012"] == 0.5
    assert correction["CorrectionMasks"] == [{"What": "Mask/Image", "MaskSubType": 1,
                                              "Temperature": 9999}]


def test_writing_a_top_level_value_leaves_nested_namesakes_alone():
    from ppr10k.xmp import set_settings

    document = parse_xmp(LIGHTROOM_CLASSIC)
    changed = set_settings(document, {"Exposure2012": 0.25, "Temperature": 5000, "Tint": 3})
    text = changed.to_bytes().decode()
    assert text == (LIGHTROOM_CLASSIC.replace('crs:Exposure2012="-0.40"',
                                              'crs:Exposure2012="+0.25"')
                    .replace('crs:Temperature="5600">',
                             'crs:Temperature="5000" crs:Tint="+3">'))
    new = camera_raw_settings(changed)
    assert new.structures == camera_raw_settings(document).structures
