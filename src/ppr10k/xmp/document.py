"""Secure, position-aware reading of XMP sidecars (RDF/XML).

Defines:

- :class:`XmpError`: a file that is not a usable XMP packet (malformed, hostile).
- :class:`XmpDocument`: the bytes of a sidecar, its encoding and line endings, and a small
  element tree that remembers where every attribute value and element text sits in the
  file, so that :mod:`ppr10k.xmp.write` can change one value and leave every other byte
  as it was.
- :func:`parse_xmp`, :func:`read_xmp`.

Security: every document is first parsed by :mod:`defusedxml` with document type
declarations refused (XMP never needs a DTD; refusing it refuses entity expansion,
"billion laughs", and external entities in one rule), then by a plain expat pass that
records positions and refuses the same constructs again. Nothing is fetched from disk or
network while parsing.

References:
    Adobe, *XMP Specification Part 1: Data model, Serialization, and Core Properties*
    (2012), §7 (RDF/XML serialisation: properties as attributes or child elements,
    ``rdf:parseType="Resource"``, ``rdf:Seq``/``rdf:Bag``/``rdf:Alt`` arrays).
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

import defusedxml
import defusedxml.ElementTree as DefusedET

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XMLNS_NS = "http://www.w3.org/2000/xmlns/"

_NAME = rb"[^\s=/>]+"
_ATTRIBUTE = re.compile(rb"(\s+)(" + _NAME + rb")\s*=\s*(\"[^\"]*\"|'[^']*')")
_TAG_NAME = re.compile(rb"<(" + _NAME + rb")")
_TAG_CLOSE = re.compile(rb"\s*(/?)>")
_XML_DECL_ENCODING = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


#: Deepest element nesting accepted (Camera Raw writes under 10 levels); deeper documents
#: are refused, so that nothing downstream recurses without bound.
MAX_DEPTH = 100


class XmpError(ValueError):
    """An XMP file that cannot be used: malformed, hostile, or missing what was asked."""


@dataclass
class Attribute:
    """One attribute of a start tag, with the byte span of its value (inside the quotes)."""

    uri: str
    local: str
    prefix: str | None
    value: str
    value_start: int
    value_end: int
    quote: str
    separator: bytes  # the whitespace written before this attribute

    @property
    def qname(self) -> str:
        return f"{self.prefix}:{self.local}" if self.prefix else self.local


@dataclass
class Node:
    """An element with the byte positions needed for minimal textual edits.

    ``start`` is the index of ``<``; ``start_tag_end`` is the index just after the start
    tag's ``>``; ``attributes_end`` the index just after its last attribute (or its name);
    ``end_tag_start`` the index of ``</`` (``None`` for an empty-element tag ``<a/>``).
    """

    uri: str
    local: str
    prefix: str | None
    attributes: list[Attribute]
    namespaces: dict[str | None, str]  # prefixes in scope (None: default namespace)
    declared: dict[str | None, str]  # declared on this element
    start: int
    start_tag_end: int
    attributes_end: int
    empty: bool
    last_separator: bytes = b" "  # white space before the tag's last attribute (xmlns too)
    last_quote: str = '"'  # quote character of the tag's last attribute
    children: list[Node] = field(default_factory=list)
    text: str = ""
    end_tag_start: int | None = None

    @property
    def qname(self) -> str:
        return f"{self.prefix}:{self.local}" if self.prefix else self.local

    def is_(self, uri: str, local: str) -> bool:
        return self.uri == uri and self.local == local

    def attribute(self, uri: str, local: str) -> Attribute | None:
        for attribute in self.attributes:
            if attribute.uri == uri and attribute.local == local:
                return attribute
        return None

    def prefix_for(self, uri: str) -> str | None:
        """A prefix bound to ``uri`` in this element's scope (``""`` for the default)."""
        for prefix, bound in self.namespaces.items():
            if bound == uri:
                return "" if prefix is None else prefix
        return None


@dataclass
class XmpDocument:
    """An XMP file held as UTF-8 bytes plus how to write it back exactly as it came.

    Attributes:
        data: the document as UTF-8 bytes (positions in :class:`Node` index into it).
        encoding: the file's text encoding (``"utf-8"``, ``"utf-16-le"``, ...).
        bom: whether the file started with a byte-order mark.
        root: the document element.
        source: where it was read from (for messages), or ``None``.
    """

    data: bytes
    encoding: str
    bom: bool
    root: Node
    source: str | None = None

    @property
    def newline(self) -> str:
        """The file's line ending: ``"\\r\\n"`` if it uses CRLF, else ``"\\n"``."""
        return "\r\n" if b"\r\n" in self.data else "\n"

    def to_bytes(self) -> bytes:
        """The document in its original encoding, BOM included (same bytes if unchanged)."""
        if self.encoding == "utf-8":
            body = self.data
        else:
            body = self.data.decode("utf-8").encode(self.encoding)
        if self.bom:
            body = {name: bom for bom, name in _BOMS}[self.encoding] + body
        return body

    def descriptions(self) -> list[Node]:
        """The top-level ``rdf:Description`` blocks (children of every ``rdf:RDF``)."""
        return [child for rdf in _find_all(self.root, RDF_NS, "RDF") for child in rdf.children
                if child.is_(RDF_NS, "Description")]


def _find_all(node: Node, uri: str, local: str) -> list[Node]:
    if node.is_(uri, local):
        return [node]
    return [found for child in node.children for found in _find_all(child, uri, local)]


def _decode(raw: bytes, source: str) -> tuple[str, str, bool]:
    """Return (text, encoding, had_bom) of an XML file's bytes."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(name), name, True
            except UnicodeDecodeError as error:
                raise XmpError(f"{source}: not valid {name} text ({error})") from None
    try:
        return raw.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    declared = _XML_DECL_ENCODING.match(raw)
    if declared:
        name = codecs.lookup(declared.group(1).decode("ascii")).name
        try:
            return raw.decode(name), name, False
        except (UnicodeDecodeError, LookupError) as error:
            raise XmpError(f"{source}: not valid {name} text ({error})") from None
    raise XmpError(f"{source}: not UTF-8 text and no encoding declared; XMP must be Unicode")


def _refuse(*_args) -> None:
    raise XmpError("document type / entity declarations are not allowed in XMP")


def _defused_check(data: bytes, source: str) -> None:
    """Parse with defusedxml (DTDs, entities and external references refused)."""
    parser = DefusedET.DefusedXMLParser(encoding="utf-8", forbid_dtd=True,
                                        forbid_entities=True, forbid_external=True)
    try:
        parser.feed(data)
        parser.close()
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden,
            defusedxml.ExternalReferenceForbidden, defusedxml.NotSupportedError) as error:
        raise XmpError(
            f"{source}: refused: a document type declaration, entity or external reference "
            f"({type(error).__name__}); XMP sidecars never contain one, the file may be "
            "hostile") from None
    except DefusedET.ParseError as error:
        raise XmpError(f"{source}: not well-formed XML ({error})") from None


class _TreeBuilder:
    """Expat callbacks building :class:`Node` objects with byte positions."""

    def __init__(self, data: bytes, parser) -> None:
        self.data = data
        self.parser = parser
        self.stack: list[Node] = []
        self.root: Node | None = None
        self.pending: dict[str | None, str] = {}
        self.text: list[str] = []

    @staticmethod
    def _split(name: str) -> tuple[str, str, str | None]:
        parts = name.split(" ")
        if len(parts) == 3:
            return parts[0], parts[1], parts[2]
        if len(parts) == 2:
            return parts[0], parts[1], None
        return "", parts[0], None

    def namespace(self, prefix: str | None, uri: str | None) -> None:
        self.pending[prefix] = uri or ""

    def start(self, name: str, attrs: list[str]) -> None:
        data, index = self.data, self.parser.CurrentByteIndex
        if len(self.stack) >= MAX_DEPTH:
            raise XmpError(f"nested deeper than {MAX_DEPTH} element levels (at byte "
                           f"{index}); not a Camera Raw sidecar")
        uri, local, prefix = self._split(name)
        tag = _TAG_NAME.match(data, index)
        position = tag.end()
        spans: dict[bytes, tuple[int, int, str, bytes]] = {}
        attributes_end = position
        while True:
            match = _ATTRIBUTE.match(data, position)
            if not match:
                break
            value = match.group(3)
            spans[match.group(2)] = (match.start(3) + 1, match.end(3) - 1,
                                     chr(value[0]), match.group(1))
            position = attributes_end = match.end()
        close = _TAG_CLOSE.match(data, position)
        if close is None:  # expat accepted it, so this cannot happen for well-formed XML
            raise XmpError(f"cannot locate the end of the start tag at byte {index}")
        parent_ns = self.stack[-1].namespaces if self.stack else {}
        namespaces = {**parent_ns, **self.pending}
        attributes = []
        for key, value in zip(attrs[::2], attrs[1::2]):
            a_uri, a_local, a_prefix = self._split(key)
            qname = f"{a_prefix}:{a_local}" if a_prefix else a_local
            start, end, quote, separator = spans[qname.encode("utf-8")]
            attributes.append(Attribute(a_uri, a_local, a_prefix, value, start, end, quote,
                                        separator))
        node = Node(uri, local, prefix, attributes, namespaces, dict(self.pending), index,
                    close.end(), attributes_end, close.group(1) == b"/")
        if spans:
            _, _, node.last_quote, node.last_separator = list(spans.values())[-1]
        self.pending = {}
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
        self.stack.append(node)
        self.text = []

    def end(self, _name: str) -> None:
        node = self.stack.pop()
        if not node.empty:
            node.end_tag_start = self.parser.CurrentByteIndex
        if not node.children:
            node.text = "".join(self.text)
        self.text = []

    def characters(self, text: str) -> None:
        self.text.append(text)


def _build_tree(data: bytes, source: str) -> Node:
    parser = expat.ParserCreate(encoding="UTF-8", namespace_separator=" ")
    parser.namespace_prefixes = True
    parser.ordered_attributes = True
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = _TreeBuilder(data, parser)
    parser.StartNamespaceDeclHandler = builder.namespace
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.characters
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise XmpError(f"{source}: not well-formed XML ({error})") from None
    except XmpError as error:
        raise XmpError(f"{source}: {error}") from None
    if builder.root is None:
        raise XmpError(f"{source}: empty document")
    return builder.root


def parse_xmp(content: bytes | str, source: str | None = None) -> XmpDocument:
    """Parse an XMP packet (bytes as stored, or text) securely.

    Args:
        content: the file's bytes (any Unicode encoding, with or without BOM) or text.
        source: a name for error messages (usually the path).

    Returns:
        The document; ``to_bytes()`` gives back ``content`` unchanged.

    Raises:
        XmpError: malformed XML, a DTD / entity declaration / external reference, or a
            document without ``rdf:RDF``.
    """
    name = source or "<xmp>"
    if isinstance(content, str):
        text, encoding, bom = content, "utf-8", False
    else:
        text, encoding, bom = _decode(bytes(content), name)
    data = text.encode("utf-8")
    _defused_check(data, name)
    root = _build_tree(data, name)
    document = XmpDocument(data, encoding, bom, root, source)
    if not _find_all(root, RDF_NS, "RDF"):
        raise XmpError(f"{name}: no rdf:RDF element; not an XMP packet")
    return document


def read_xmp(path: str | os.PathLike) -> XmpDocument:
    """Read and securely parse an XMP sidecar file (see :func:`parse_xmp`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such XMP file: {path}")
    return parse_xmp(path.read_bytes(), source=str(path))
