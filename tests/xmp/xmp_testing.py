"""Helpers for the XMP tests: fixture names and a second (stdlib) way to read values."""

from __future__ import annotations

import xml.etree.ElementTree as ET

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CRS = "http://ns.adobe.com/camera-raw-settings/1.0/"

ATTRIBUTE_FORM = "exifr_IMG_5910.xmp"  # Lightroom 6.1, settings as attributes
CRLF_FORM = "goxmp_Canon-EOS30D.xmp"  # Camera Raw, attributes, CRLF line endings
PRESET = "kikoio_Bretagne_Glow.xmp"  # Lightroom Classic preset, tone curves, rdf:Alt
ELEMENT_FORM = "photoprism_ladybug.xmp"  # ExifTool: child elements, single quotes
ELEMENT_FORM_LOOK = "librephotos_niaz.xmp"  # ExifTool: child elements, nested crs:Look
ALL = (ATTRIBUTE_FORM, CRLF_FORM, PRESET, ELEMENT_FORM, ELEMENT_FORM_LOOK)


def stdlib_crs_simple_values(data: bytes) -> dict[str, str]:
    """Top-level simple crs values found a second way: the stdlib ElementTree (trusted files).

    Attributes of each top-level rdf:Description, and child elements without children or
    attributes; the first occurrence of a name wins.
    """
    root = ET.fromstring(data)
    rdf = root if root.tag == f"{{{RDF}}}RDF" else next(root.iter(f"{{{RDF}}}RDF"))
    found: dict[str, str] = {}
    for description in rdf.findall(f"{{{RDF}}}Description"):
        for key, value in description.attrib.items():
            if key.startswith(f"{{{CRS}}}"):
                found.setdefault(key[len(CRS) + 2:], value)
        for child in description:
            if child.tag.startswith(f"{{{CRS}}}") and len(child) == 0 and not child.attrib:
                found.setdefault(child.tag[len(CRS) + 2:], child.text or "")
    return found


def stdlib_all_values(data: bytes) -> dict[tuple, str]:
    """Every attribute value and element text of a document, keyed by a structural path."""
    root = ET.fromstring(data)
    values: dict[tuple, str] = {}

    def walk(element: ET.Element, path: tuple) -> None:
        for key, value in element.attrib.items():
            values[(*path, "@" + key)] = value
        values[(*path, "#text")] = (element.text or "").strip()
        counts: dict[str, int] = {}
        for child in element:
            counts[child.tag] = counts.get(child.tag, 0) + 1
            walk(child, (*path, f"{child.tag}[{counts[child.tag]}]"))

    walk(root, (root.tag,))
    return values
