"""Hostile XML: entity expansion and external references are refused, reading nothing.

The work a hostile document can cause is bounded and checked without a clock: a DTD is
refused where it starts (before any entity is declared or expanded), and parsing an entity
bomb allocates no more than a small, fixed amount of memory.
"""

from __future__ import annotations

import sys
import tracemalloc

import pytest

from ppr10k.cli.main import main
from ppr10k.xmp import XmpError, parse_xmp, read_xmp

_OPENED: list[str] = []
_WATCHING = [False]


def _audit(event: str, args: tuple) -> None:
    if _WATCHING[0] and event in ("open", "urllib.Request", "socket.connect"):
        _OPENED.append(f"{event} {args[0]!r}")


sys.addaudithook(_audit)

BODY = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
        'rdf-syntax-ns#"><rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-settings/'
        '1.0/" crs:CameraProfile="{value}"/></rdf:RDF></x:xmpmeta>')


def laughs(levels: int = 10) -> str:
    """The entity declarations of a "laughs" bomb: &lol{levels-1}; is 3 * 10**(levels-1) chars."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, levels)]
    return "\n".join(entities)


def billion_laughs(levels: int = 10) -> bytes:
    return (f"<?xml version=\"1.0\"?>\n<!DOCTYPE x:xmpmeta [\n{laughs(levels)}\n]>\n"
            + BODY.format(value=f"&lol{levels - 1};")).encode()


def external_entity(target: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [<!ENTITY xxe SYSTEM "{target}">]>\n'
            + BODY.format(value="&xxe;")).encode()


def external_dtd(target: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta SYSTEM "{target}">\n'
            + BODY.format(value="x")).encode()


def parameter_entity(target: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [<!ENTITY % p SYSTEM "{target}"> %p;]>\n'
            + BODY.format(value="x")).encode()


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path


#: Most memory (bytes) that parsing a ~1 kB hostile document may allocate: a refusal needs
#: about 20 kB; expanding even the million-laughs bomb below would need over 3 MB.
MEMORY_BOUND = 256 * 1024


def _refused(data: bytes) -> tuple[str, list[str], int]:
    """Parse ``data`` expecting a refusal: (message, files opened, peak bytes allocated)."""
    _OPENED.clear()
    _WATCHING[0] = True
    tracemalloc.start()
    try:
        with pytest.raises(XmpError) as error:
            parse_xmp(data, source="hostile.xmp")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        _WATCHING[0] = False
    return str(error.value), list(_OPENED), peak


@pytest.mark.parametrize("levels", [7, 10])  # a million and a billion laughs
def test_entity_bomb_is_refused_with_bounded_memory(levels: int) -> None:
    message, opened, peak = _refused(billion_laughs(levels))
    assert "refused" in message and "hostile.xmp" in message
    assert opened == []
    assert peak < MEMORY_BOUND, f"parsing allocated {peak} bytes: entities were expanded"


def test_dtd_is_refused_where_it_starts_before_any_declaration() -> None:
    """A DOCTYPE whose internal subset never ends: the only way to answer "refused"
    rather than "not well-formed" is to refuse at the DOCTYPE, before reading the entity
    declarations, let alone expanding one."""
    unfinished = f'<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [\n{laughs(10)}\n<!ENTITY'
    message, opened, peak = _refused(unfinished.encode())
    assert "refused" in message and "not well-formed" not in message
    assert opened == [] and peak < MEMORY_BOUND


@pytest.mark.parametrize("make", [external_entity, external_dtd, parameter_entity])
def test_external_references_are_refused_and_nothing_is_read(secret, make):
    for target in (str(secret), secret.as_uri()):
        message, opened, peak = _refused(make(target))
        assert "refused" in message
        assert "TOP-SECRET" not in message
        assert not any("secret" in entry for entry in opened), opened
        assert peak < MEMORY_BOUND


def test_the_audit_hook_does_see_opens(secret):
    _OPENED.clear()
    _WATCHING[0] = True
    try:
        secret.read_text()
    finally:
        _WATCHING[0] = False
    assert any("secret" in entry for entry in _OPENED)


def test_plain_entity_reference_without_declaration_is_an_error():
    with pytest.raises(XmpError, match="not well-formed"):
        parse_xmp(BODY.format(value="&undefined;").encode())


def test_predefined_entities_still_work():
    document = parse_xmp(BODY.format(value="a &amp; b &lt;c&gt;").encode())
    from ppr10k.xmp import camera_raw_settings

    assert camera_raw_settings(document).settings["CameraProfile"] == "a & b <c>"


def test_cli_reports_one_line_and_exit_1(tmp_path, capsys, secret):
    for name, data in (("laughs.xmp", billion_laughs()),
                       ("xxe.xmp", external_entity(str(secret)))):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(XmpError):
            read_xmp(path)
        assert main(["xmp", "show", str(path)]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1 and name in captured.err
        assert "TOP-SECRET" not in captured.err


def _nested(depth: int) -> str:
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>'
            + "<a>" * depth + "</a>" * depth + "</rdf:Description></rdf:RDF></x:xmpmeta>")


def test_nesting_deeper_than_the_limit_is_refused_in_one_line() -> None:
    from ppr10k.xmp.document import MAX_DEPTH

    parse_xmp(_nested(MAX_DEPTH - 4), source="ok.xmp")  # 4 levels above the <a>s
    with pytest.raises(XmpError, match=r"^deep\.xmp: nested deeper than 100 element levels"):
        parse_xmp(_nested(MAX_DEPTH), source="deep.xmp")
    with pytest.raises(XmpError, match="nested deeper"):
        parse_xmp(_nested(sys.getrecursionlimit() * 3), source="deeper.xmp")
