"""Camera Raw settings (and any other XMP namespace) as typed Python values.

Defines:

- :data:`CRS_NS`: the Camera Raw settings namespace URI; properties are matched by this
  URI, never by the prefix a file happens to use (``crs:`` by convention).
- :class:`XmpProperties`: a namespace's top-level properties split by shape: ``settings``
  (simple values), ``sequences`` (``rdf:Seq``/``rdf:Bag`` of simple values, e.g. tone
  curves), ``alternatives`` (``rdf:Alt`` language alternatives, e.g. a preset's name) and
  ``structures`` (nested structures and arrays of them: looks, masks, local corrections).
- :func:`parse_value` / :func:`format_setting`: text <-> typed value.
- :func:`read_camera_raw`, :func:`camera_raw_settings`, :func:`read_properties`,
  :func:`diff_properties`.

Typing rule: ``True``/``False`` -> ``bool``; an integer (``+12``, ``-7``, ``0``) ->
``int``; a decimal (``+0.35``, ``0.231776``) -> ``float``; anything else, and any setting
whose name ends in ``Version``, ``Digest``, ``UUID`` or ``Name`` (identifiers that only
look numeric, e.g. ``crs:Version="9.10"``), stays ``str``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ppr10k.xmp.document import RDF_NS, XML_NS, Node, XmpDocument, read_xmp

CRS_NS = "http://ns.adobe.com/camera-raw-settings/1.0/"

Scalar = bool | int | float | str

_INTEGER = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"[+-]?(?:0|[1-9][0-9]*)\.[0-9]+")
_STRING_SUFFIXES = ("Version", "Digest", "UUID", "Name")

#: Written as an unsigned integer (``5200``).
UNSIGNED_INTEGER_SETTINGS = frozenset({"Temperature", "AsShotTemperature"})
#: Written as a signed integer (``+12``, ``-7``, ``0``): the Basic-panel sliders.
SIGNED_INTEGER_SETTINGS = frozenset({
    "Tint", "AsShotTint", "Contrast2012", "Highlights2012", "Shadows2012", "Whites2012",
    "Blacks2012", "Clarity2012", "Texture", "Dehaze", "Vibrance", "Saturation", "Contrast",
    "Brightness", "Shadows", "Clarity", "FillLight", "HighlightRecovery",
})
#: Written with a sign and two decimals (``+0.35``, ``-1.20``; exactly zero as ``0.00``).
SIGNED_DECIMAL_SETTINGS = {"Exposure2012": 2, "Exposure": 2}


def parse_value(text: str, name: str | None = None) -> Scalar:
    """Type an XMP simple value: bool, int, float, or the text unchanged.

    Args:
        text: the value as stored (``"+0.35"``, ``"True"``, ``"Adobe Standard"``).
        name: the property's local name; identifiers (``...Version``, ``...Digest``,
            ``...UUID``, ``...Name``) stay text.

    Examples:
        >>> parse_value("+12"), parse_value("+0.35"), parse_value("False")
        (12, 0.35, False)
        >>> parse_value("9.10", name="Version")
        '9.10'
    """
    stripped = text.strip()
    if stripped in ("True", "False"):
        return stripped == "True"
    if name is not None and name.endswith(_STRING_SUFFIXES):
        return text
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    if _DECIMAL.fullmatch(stripped):
        return float(stripped)
    return text


def _signed_integer(value: float) -> str:
    number = math.floor(value + 0.5)
    return "0" if number == 0 else f"{number:+d}"


def _signed_decimal(value: float, decimals: int) -> str:
    text = f"{value:+.{decimals}f}"
    return f"{0:.{decimals}f}" if float(text) == 0 else text


def format_setting(name: str, value: Scalar, previous: str | None = None) -> str:
    """Format a typed value the way Camera Raw writes it.

    Known settings use Camera Raw's own formats: ``Temperature`` as an unsigned integer,
    ``Exposure2012`` with a sign and two decimals (``+0.35``; exactly zero is ``0.00``, as
    Lightroom writes it), the Basic-panel sliders as signed integers (``+12``, ``-7``,
    ``0``). Other numbers follow the style of the ``previous`` text (sign, decimals);
    strings are written as given.

    Args:
        name: the setting's local name (``"Exposure2012"``).
        value: the new value.
        previous: the text the file held before, if any.
    """
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"crs:{name}: cannot write {value!r}; expected a finite number, "
                         "bool or str")
    if name in UNSIGNED_INTEGER_SETTINGS:
        return str(math.floor(value + 0.5))
    if name in SIGNED_DECIMAL_SETTINGS:
        return _signed_decimal(float(value), SIGNED_DECIMAL_SETTINGS[name])
    if name in SIGNED_INTEGER_SETTINGS:
        return _signed_integer(value)
    signed = previous is not None and previous.strip()[:1] in ("+", "-")
    decimals = None
    if previous is not None and _DECIMAL.fullmatch(previous.strip()):
        decimals = len(previous.strip().split(".")[1])
    if decimals is None and isinstance(value, int):
        return _signed_integer(value) if signed else str(value)
    if decimals is None:
        text = repr(float(value))
        return f"+{text}" if signed and value > 0 else text
    return _signed_decimal(float(value), decimals) if signed else f"{value:.{decimals}f}"


@dataclass
class XmpProperties:
    """The top-level properties of one namespace in an XMP document, by shape.

    Attributes:
        settings: simple values, typed (``{"Exposure2012": 0.35, "WhiteBalance": "Custom"}``).
        raw: the stored text of each simple value (``{"Exposure2012": "+0.35"}``).
        sequences: ordered / unordered arrays of simple values (``rdf:Seq``, ``rdf:Bag``),
            e.g. ``{"ToneCurvePV2012": ["0, 0", "255, 255"]}``.
        alternatives: language alternatives (``rdf:Alt``): ``{"Name": {"x-default": ...}}``.
        structures: nested structures and arrays containing them (``Look``, mask groups),
            as dicts/lists of typed values; kept apart so that a nested ``Name`` or
            ``Exposure2012`` never shadows a top-level setting.
    """

    settings: dict[str, Scalar] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    sequences: dict[str, list[Scalar]] = field(default_factory=dict)
    alternatives: dict[str, dict[str, str]] = field(default_factory=dict)
    structures: dict[str, Any] = field(default_factory=dict)

    def names(self) -> set[str]:
        """Every top-level property name, whatever its shape."""
        return (set(self.settings) | set(self.sequences) | set(self.alternatives)
                | set(self.structures))

    def tone_curve(self, name: str = "ToneCurvePV2012") -> list[tuple[float, float]]:
        """A tone curve as (input, output) points in 0..255 (``"75, 65"`` -> (75, 65))."""
        if name not in self.sequences:
            raise KeyError(f"no tone curve {name!r}; present: {sorted(self.sequences)}")
        points = []
        for item in self.sequences[name]:
            x, y = str(item).split(",")
            points.append((float(x), float(y)))
        return points

    def to_json(self, everything: bool = False) -> dict[str, Any]:
        """``settings`` only, or all four groups when ``everything``."""
        if not everything:
            return dict(self.settings)
        return {"settings": dict(self.settings), "sequences": dict(self.sequences),
                "alternatives": dict(self.alternatives), "structures": dict(self.structures)}


def _key(node_uri: str, local: str, prefix: str | None, namespace: str) -> str:
    return local if node_uri == namespace else (f"{prefix}:{local}" if prefix else local)


def _struct_fields(node: Node, attributes, children, namespace: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for attribute in attributes:
        if attribute.uri in (RDF_NS, XML_NS):
            continue
        name = _key(attribute.uri, attribute.local, attribute.prefix, namespace)
        fields[name] = parse_value(attribute.value, attribute.local)
    for child in children:
        _, value = _node_value(child, namespace)
        fields[_key(child.uri, child.local, child.prefix, namespace)] = value
    return fields


def _qualifiers(node: Node) -> list:
    return [a for a in node.attributes if a.uri not in (RDF_NS, XML_NS)]


def _node_value(node: Node, namespace: str) -> tuple[str, Any]:
    """Classify a property element: ("scalar"|"sequence"|"alternative"|"structure", value)."""
    resource = node.attribute(RDF_NS, "resource")
    if resource is not None:
        return "scalar", resource.value
    parse_type = node.attribute(RDF_NS, "parseType")
    if parse_type is not None and parse_type.value == "Resource":
        return "structure", _struct_fields(node, _qualifiers(node), node.children, namespace)
    if len(node.children) == 1 and node.children[0].uri == RDF_NS:
        container = node.children[0]
        items = [li for li in container.children if li.is_(RDF_NS, "li")]
        if container.local in ("Seq", "Bag"):
            values = [_node_value(li, namespace) for li in items]
            if all(kind == "scalar" for kind, _ in values):
                return "sequence", [parse_value(value, None) for _, value in values]
            return "structure", [value if kind != "scalar" else parse_value(value)
                                 for kind, value in values]
        if container.local == "Alt":
            alternatives = {}
            for li in items:
                lang = li.attribute(XML_NS, "lang")
                alternatives[lang.value if lang else "x-default"] = li.text
            return "alternative", alternatives
        if container.local == "Description":
            return "structure", _struct_fields(container, _qualifiers(container),
                                               container.children, namespace)
    if node.children or _qualifiers(node):
        return "structure", _struct_fields(node, _qualifiers(node), node.children, namespace)
    return "scalar", node.text


def properties(document: XmpDocument, namespace: str = CRS_NS) -> XmpProperties:
    """Top-level properties of ``namespace`` from every top-level ``rdf:Description``.

    Properties may be attributes of a Description or its child elements, spread over
    several Description blocks; where a name appears twice, the first occurrence wins.
    """
    result = XmpProperties()
    seen: set[str] = set()
    for description in document.descriptions():
        for attribute in description.attributes:
            if attribute.uri != namespace or attribute.local in seen:
                continue
            seen.add(attribute.local)
            result.raw[attribute.local] = attribute.value
            result.settings[attribute.local] = parse_value(attribute.value, attribute.local)
        for child in description.children:
            if child.uri != namespace or child.local in seen:
                continue
            seen.add(child.local)
            kind, value = _node_value(child, namespace)
            if kind == "scalar":
                result.raw[child.local] = value
                result.settings[child.local] = parse_value(value, child.local)
            elif kind == "sequence":
                result.sequences[child.local] = value
            elif kind == "alternative":
                result.alternatives[child.local] = value
            else:
                result.structures[child.local] = value
    return result


def camera_raw_settings(document: XmpDocument) -> XmpProperties:
    """The Camera Raw (``crs``) properties of a parsed document."""
    return properties(document, CRS_NS)


def read_properties(path: str | os.PathLike, namespace: str = CRS_NS) -> XmpProperties:
    """Read a sidecar securely and return the top-level properties of ``namespace``."""
    return properties(read_xmp(path), namespace)


def read_camera_raw(path: str | os.PathLike) -> XmpProperties:
    """Read a sidecar securely and return its Camera Raw settings.

    Examples:
        >>> settings = read_camera_raw("IMG_0001.xmp")  # doctest: +SKIP
        >>> settings.settings["Exposure2012"]           # doctest: +SKIP
        0.35
    """
    return read_properties(path, CRS_NS)


@dataclass(frozen=True)
class SettingChange:
    """One property that differs between two sidecars (``None``: absent on that side)."""

    name: str
    group: str  # "settings", "sequences", "alternatives" or "structures"
    before: Any
    after: Any

    @property
    def delta(self) -> float | None:
        """``after - before`` for two numbers (bools excluded), else ``None``."""
        numbers = (int, float)
        if (isinstance(self.before, numbers) and isinstance(self.after, numbers)
                and not isinstance(self.before, bool) and not isinstance(self.after, bool)):
            return self.after - self.before
        return None


def diff_properties(before: XmpProperties, after: XmpProperties) -> list[SettingChange]:
    """Properties whose value differs (or exists on one side only), in a stable order.

    Simple settings come first (sorted by name), then sequences (tone curves),
    alternatives and structures.
    """
    changes = []
    for group in ("settings", "sequences", "alternatives", "structures"):
        a, b = getattr(before, group), getattr(after, group)
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name) or (name in a) != (name in b):
                changes.append(SettingChange(name, group, a.get(name), b.get(name)))
    return changes
