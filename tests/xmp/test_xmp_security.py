"""Hostile XML: entity expansion and external references are refused, quickly, reading nothing."""

from __future__ import annotations

import sys
import time

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


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    return (f"<?xml version=\"1.0\"?>\n<!DOCTYPE x:xmpmeta [\n{chr(10).join(entities)}\n]>\n"
            + BODY.format(value="&lol9;")).encode()


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


def _refused(data: bytes) -> tuple[str, list[str], float]:
    _OPENED.clear()
    _WATCHING[0] = True
    start = time.perf_counter()
    try:
        with pytest.raises(XmpError) as error:
            parse_xmp(data, source="hostile.xmp")
    finally:
        _WATCHING[0] = False
    return str(error.value), list(_OPENED), time.perf_counter() - start


def test_billion_laughs_is_refused_fast():
    message, opened, seconds = _refused(billion_laughs())
    assert seconds < 1.0
    assert "refused" in message and "hostile.xmp" in message
    assert opened == []


@pytest.mark.parametrize("make", [external_entity, external_dtd, parameter_entity])
def test_external_references_are_refused_and_nothing_is_read(secret, make):
    for target in (str(secret), secret.as_uri()):
        message, opened, _ = _refused(make(target))
        assert "refused" in message
        assert "TOP-SECRET" not in message
        assert not any("secret" in entry for entry in opened), opened


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
