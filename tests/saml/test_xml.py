"""gtool.saml.xml.parse_xml: the hardened XML entry point refuses every XML attack, fast and offline."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtool.saml.xml import MD, NSMAP, XmlError, local_name, parse_xml, source_line

DOCTYPE = "DOCTYPE declarations are not allowed"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Any attempt to open a socket from Python fails the test (and is recorded)."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_parses_metadata_with_namespaces() -> None:
    root = parse_xml(
        f'<md:EntityDescriptor xmlns:md="{MD}" entityID="x">\n<md:IDPSSODescriptor/></md:EntityDescriptor>'
    )
    assert local_name(root) == "EntityDescriptor"
    child = root.xpath("md:IDPSSODescriptor", namespaces=NSMAP)
    assert isinstance(child, list) and len(child) == 1
    assert source_line(root[0]) == 2


def test_str_input_ignores_its_encoding_declaration() -> None:
    assert parse_xml("<?xml version='1.0' encoding='ISO-8859-1'?><a>é</a>").text == "é"


def test_comments_are_kept() -> None:
    assert len(parse_xml("<a><!-- note --></a>")) == 1


def test_xxe_file_entity_never_reads_the_file(tmp_path: Path, no_network: list[object]) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE-1234")
    doc = f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY s SYSTEM "file://{secret}">]><a>&s;</a>'
    with pytest.raises(XmlError) as err:
        parse_xml(doc, what="IdP metadata")
    assert DOCTYPE in str(err.value) and "IdP metadata" in str(err.value)
    assert "TOP-SECRET" not in str(err.value)


def test_xxe_http_entity(no_network: list[object]) -> None:
    doc = b'<!DOCTYPE a [<!ENTITY s SYSTEM "http://127.0.0.1:9/x">]><a>&s;</a>'
    with pytest.raises(XmlError, match=DOCTYPE):
        parse_xml(doc)
    assert no_network == []


def test_parameter_entity_and_external_dtd(no_network: list[object]) -> None:
    for doc in (
        b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/evil.dtd"><a/>',
        b'<!DOCTYPE a PUBLIC "-//X//Y" "http://127.0.0.1:9/evil.dtd"><a/>',
        b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><a/>',
    ):
        with pytest.raises(XmlError, match=DOCTYPE):
            parse_xml(doc)
    assert no_network == []


def test_billion_laughs_is_refused_fast() -> None:
    started = time.monotonic()
    with pytest.raises(XmlError, match=DOCTYPE):
        parse_xml(BILLION_LAUGHS)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_doctype_refused_in_other_encodings(codec: str, no_network: list[object]) -> None:
    doc = '<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1:9/x.dtd"><a/>'
    if codec.endswith(("-le", "-be")):
        data = doc.replace('<?xml version="1.0"?>', "").encode(codec)
    else:
        data = doc.replace("?>", f' encoding="{codec.upper()}"?>', 1).encode(codec)
    with pytest.raises(XmlError, match=DOCTYPE):
        parse_xml(data)
    assert no_network == []


def test_libxml2_never_connects() -> None:
    """libxml2 opens sockets in C, out of reach of a Python monkeypatch: listen and see nobody calls."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.3)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/evil.dtd"
        docs = [
            f'<!DOCTYPE a SYSTEM "{url}"><a/>'.encode(),
            f'<!DOCTYPE a [<!ENTITY s SYSTEM "{url}">]><a>&s;</a>'.encode(),
            f'<!DOCTYPE a [<!ENTITY % p SYSTEM "{url}"> %p;]><a/>'.encode(),
            f'<!DOCTYPE a SYSTEM "{url}"><a/>'.encode("utf-32"),  # past the pre-check, to the backstop
            f'<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}"/></a>'.encode(),
            f'<a xmlns:xsi="{XSI}" xsi:schemaLocation="urn:x {url}"/>'.encode(),
        ]
        for doc in docs:
            with contextlib.suppress(XmlError):
                parse_xml(doc)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_doctype_after_comments_and_pis() -> None:
    with pytest.raises(XmlError, match=DOCTYPE):
        parse_xml(b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- x -->\n<?pi y?>\n  <!doctype a><a/>')


def test_doctype_text_inside_the_document_is_fine() -> None:
    assert parse_xml("<a><!-- <!DOCTYPE x> --><![CDATA[<!DOCTYPE y>]]></a>")[0].tail == "<!DOCTYPE y>"


def test_50_mb_fails_fast_before_parsing() -> None:
    big = b"<a>" + b"x" * (50 * 1024 * 1024) + b"</a>"
    started = time.monotonic()
    with pytest.raises(XmlError, match="larger than 10 MiB"):
        parse_xml(big, what="SAML response")
    with pytest.raises(XmlError, match="larger than 10 MiB"):
        parse_xml(big.decode("ascii"))
    assert time.monotonic() - started < 1.0


def test_custom_size_cap() -> None:
    with pytest.raises(XmlError, match="larger than 10 bytes"):
        parse_xml(b"<a>0123456789</a>", max_bytes=10)


def test_deep_nesting_is_refused() -> None:
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    with pytest.raises(XmlError, match="deeper than 256 levels"):
        parse_xml(deep)


def test_custom_depth_cap() -> None:
    assert parse_xml(b"<a>" * 10 + b"</a>" * 10, max_depth=10) is not None
    with pytest.raises(XmlError, match="deeper than 10 levels"):
        parse_xml(b"<a>" * 11 + b"</a>" * 11, max_depth=10)


def test_syntax_error_has_line_number() -> None:
    with pytest.raises(XmlError) as err:
        parse_xml(b"<a>\n\n<b></a>", what="IdP metadata")
    assert err.value.line == 3
    assert str(err.value).startswith("IdP metadata is not well-formed XML: ")
    assert "<string>" not in str(err.value)


@pytest.mark.parametrize(
    "data", [b"", b"   ", "", b"\x00", b"\xff\xfe", "\ud800", b"&amp;", b"<a>&undefined;</a>"]
)
def test_odd_inputs_are_xml_errors(data: bytes | str) -> None:
    with pytest.raises(XmlError):
        parse_xml(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_only_ever_raise_xml_error(data: bytes) -> None:
    try:
        parse_xml(data)
    except XmlError as exc:
        assert exc.message


_PIECES = st.sampled_from(
    [
        "<a>", "</a>", "<b x='1'>", "</b>", "<c/>", "<!DOCTYPE a>", "<!ENTITY x 'y'>", "&x;", "&amp;", "&#0;",
        "<![CDATA[", "]]>", "<!--", "-->", "<?xml version='1.0'?>", "<?pi?>", "text", "\x00", "\ufeff", "é",
        "\ud800", "<md:a xmlns:md='urn:x'>", "</md:a>", ">", "<", '"', "\n",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join), st.booleans())
def test_xml_like_text_only_ever_raises_xml_error(text: str, as_bytes: bool) -> None:
    data: bytes | str = text.encode("utf-8", "surrogatepass") if as_bytes else text
    try:
        parse_xml(data)
    except XmlError as exc:
        assert exc.message
