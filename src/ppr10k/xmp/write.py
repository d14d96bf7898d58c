"""Writing changed Camera Raw settings back with the smallest possible textual edit.

Defines :func:`set_settings` (document in, document out) and :func:`write_xmp` /
:func:`update_xmp_file` (atomic file writes).

How a value is changed: the parser (:mod:`ppr10k.xmp.document`) records the byte span of
every attribute value and element text. A setting present as an attribute
(``crs:Exposure2012="+0.12"``) or a simple child element
(``<crs:Exposure2012>0.00</crs:Exposure2012>``), under whatever prefix the file binds to
the Camera Raw namespace, has only that span replaced; every other byte (other settings,
white space, CRLF line endings, quotes, the ``xpacket`` padding, the encoding and BOM)
stays as it was. An absent setting is inserted as an attribute of the first top-level
``rdf:Description`` that already holds Camera Raw settings (or declares the namespace;
failing both, of the first Description, declaring ``xmlns:crs`` there), written after the
last attribute with the same white space and quote style. The result is parsed again and
the new values are checked before it is returned.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ppr10k.xmp.document import (
    RDF_NS,
    Attribute,
    Node,
    XmpDocument,
    XmpError,
    parse_xmp,
    read_xmp,
)
from ppr10k.xmp.settings import CRS_NS, Scalar, _node_value, format_setting, properties


def _escape(text: str, quote: str | None) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote == '"':
        text = text.replace('"', "&quot;")
    elif quote == "'":
        text = text.replace("'", "&apos;")
    return text


def _locations(document: XmpDocument, name: str, namespace: str) -> list[Attribute | Node]:
    found: list[Attribute | Node] = []
    for description in document.descriptions():
        found += [a for a in description.attributes if a.uri == namespace and a.local == name]
        found += [c for c in description.children if c.uri == namespace and c.local == name]
    return found


def _host(document: XmpDocument, namespace: str) -> tuple[Node, str, bool]:
    """The Description to insert into, the prefix to use, and whether to declare it."""
    descriptions = document.descriptions()
    if not descriptions:
        raise XmpError(f"{document.source or '<xmp>'}: no top-level rdf:Description to "
                       "hold the setting")
    for description in descriptions:
        for item in [*description.attributes, *description.children]:
            if item.uri == namespace and item.prefix:
                return description, item.prefix, False
    for description in descriptions:
        prefix = description.prefix_for(namespace)
        if prefix:
            return description, prefix, False
    host = descriptions[0]
    prefix = "crs"
    while prefix in host.namespaces:
        prefix += "_"
    return host, prefix, True


def set_settings(document: XmpDocument, changes: Mapping[str, Scalar],
                 namespace: str = CRS_NS) -> XmpDocument:
    """Return a copy of ``document`` with top-level simple settings changed or added.

    Args:
        document: a parsed sidecar.
        changes: setting local name -> new value; numbers and bools are formatted as
            Camera Raw writes them (:func:`ppr10k.xmp.settings.format_setting`), strings
            are written as given (escaped).
        namespace: the namespace URI (Camera Raw settings by default).

    Returns:
        A new document; only the changed values' bytes differ (plus an inserted
        attribute for each setting that was absent).

    Raises:
        XmpError: a name that is an array or structure in this file (tone curves, looks),
            or a result that does not read back as intended.
    """
    edits: list[tuple[int, int, bytes]] = []
    missing: list[tuple[str, str]] = []
    expected: dict[str, str] = {}
    current = properties(document, namespace)
    for name, value in changes.items():
        places = _locations(document, name, namespace)
        simple = [p for p in places if isinstance(p, Attribute) or
                  (_node_value(p, namespace)[0] == "scalar"
                   and p.attribute(RDF_NS, "resource") is None)]
        if len(simple) != len(places):
            raise XmpError(f"{document.source or '<xmp>'}: {name} is an array or structure "
                           "in this file, not a simple setting; it cannot be set to a value")
        text = format_setting(name, value, current.raw.get(name))
        expected[name] = text
        if not places:
            missing.append((name, text))
        for place in places:
            if isinstance(place, Attribute):
                edits.append((place.value_start, place.value_end,
                              _escape(text, place.quote).encode("utf-8")))
            elif place.empty:  # <crs:Name/> -> <crs:Name>text</crs:Name>
                slash = document.data.rindex(b"/", place.start, place.start_tag_end)
                edits.append((slash, place.start_tag_end,
                              f">{_escape(text, None)}</{place.qname}>".encode()))
            else:
                edits.append((place.start_tag_end, place.end_tag_start,
                              _escape(text, None).encode("utf-8")))
    if missing:
        host, prefix, declare = _host(document, namespace)
        separator, quote = host.last_separator.decode("utf-8"), host.last_quote
        inserted = ""
        if declare:
            inserted += f"{separator}xmlns:{prefix}={quote}{_escape(namespace, quote)}{quote}"
        for name, text in missing:
            inserted += f"{separator}{prefix}:{name}={quote}{_escape(text, quote)}{quote}"
        edits.append((host.attributes_end, host.attributes_end, inserted.encode("utf-8")))
    data = document.data
    for start, end, replacement in sorted(edits, key=lambda edit: edit[0], reverse=True):
        data = data[:start] + replacement + data[end:]
    updated = parse_xmp(data, document.source)
    updated.encoding, updated.bom = document.encoding, document.bom
    check = properties(updated, namespace)
    for name, text in expected.items():
        if check.raw.get(name) != text:
            raise XmpError(f"{document.source or '<xmp>'}: {name} reads back as "
                           f"{check.raw.get(name)!r}, not {text!r}")
    return updated


def write_bytes_atomic(path: str | os.PathLike, content: bytes) -> Path:
    """Write ``content`` atomically, with ordinary permissions (``atomic_write`` gives them)."""
    from ppr10k.io import atomic_write  # lazy: keeps `ppr10k xmp` light to import

    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_bytes(content)
    return path


def write_xmp(path: str | os.PathLike, document: XmpDocument) -> Path:
    """Write a document atomically in its original encoding (temp file + rename)."""
    return write_bytes_atomic(path, document.to_bytes())


def update_xmp_file(source: str | os.PathLike, destination: str | os.PathLike,
                    changes: Mapping[str, Scalar]) -> Path:
    """Read ``source``, change ``changes``, write ``destination`` (never ``source``)."""
    source, destination = Path(source), Path(destination)
    if destination.exists() and destination.resolve() == source.resolve():
        raise ValueError(f"refusing to overwrite the input {source}; choose another output")
    return write_xmp(destination, set_settings(read_xmp(source), changes))

