"""gtool.saml.capture: every form a person captures a SAML message in is found, and says which form it
was; everything else fails with a CaptureError that carries a hint."""

from __future__ import annotations

import base64
import io
import json
import zlib
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from gtool.saml import assertion, capture
from gtool.saml.capture import CaptureError, Message, find_messages, pick, read_source
from tests.saml import saml_fixtures as fx

XML = fx.response_xml()
REQUEST = (
    f'<samlp:AuthnRequest xmlns:samlp="{fx.SAMLP}" ID="{fx.REQUEST_ID}" Version="2.0" '
    'IssueInstant="2026-06-01T11:59:20Z" Destination="https://example.okta.com/app/sso/saml">'
    f'<saml:Issuer xmlns:saml="{fx.SAML}">{fx.SP_ENTITY}</saml:Issuer></samlp:AuthnRequest>'
).encode()


def one(data: bytes) -> Message:
    found = find_messages(data, "capture")
    assert len(found) == 1, found
    return found[0]


def assert_is_the_response(m: Message) -> None:
    """The XML found is the message itself: it parses to the same issuer and attributes."""
    parsed = assertion.parse(m.xml)
    assert parsed.issuer == fx.OKTA_ISSUER
    assert parsed.assertion is not None
    assert parsed.assertion.values("groups") == ("Everyone", "Grafana Admins")


@pytest.mark.parametrize("form", list(fx.every_form(XML)))
def test_every_form_is_detected_and_reported(form: str) -> None:
    m = one(fx.every_form(XML)[form])
    assert m.form == form
    assert m.parameter == ("xml" if form in ("xml", "base64") else "SAMLResponse")
    assert m.deflated is (form == "redirect-query")
    assert_is_the_response(m)


def test_raw_xml_with_bom_and_leading_whitespace() -> None:
    m = one(b"\xef\xbb\xbf\n  " + XML)
    assert m.form == "xml"


def test_utf16_xml_file_is_read_as_xml() -> None:
    text = XML.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    m = one(text.encode("utf-16"))
    assert m.form == "xml"
    assert_is_the_response(m)


def test_base64_with_line_breaks_and_crlf() -> None:
    m = one(fx.b64(XML, wrap=64).replace("\n", "\r\n").encode() + b"\r\n")
    assert m.form == "base64"
    assert_is_the_response(m)


def test_indented_wrapped_base64() -> None:
    text = "    " + fx.b64(XML, wrap=76).replace("\n", "\n    ")
    assert_is_the_response(one(text.encode()))


def test_url_safe_base64_without_padding() -> None:
    value = base64.urlsafe_b64encode(XML).decode().rstrip("=")
    assert "-" in value or "_" in value, "the sample must exercise the URL-safe alphabet"
    m = one(value.encode())
    assert m.form == "base64"
    assert_is_the_response(m)


def test_base64_of_deflated_xml() -> None:
    m = one(base64.b64encode(fx.deflate(XML)))
    assert (m.form, m.deflated) == ("base64", True)
    assert_is_the_response(m)


def test_percent_encoded_form_body_keeps_relay_state() -> None:
    body = f"SAMLResponse={quote_plus(fx.b64(XML))}&RelayState={quote_plus('/d/abc?orgId=2')}"
    m = one(body.encode())
    assert (m.form, m.relay_state) == ("form-body", "/d/abc?orgId=2")
    assert_is_the_response(m)


def test_form_body_pasted_without_url_encoding() -> None:
    # '+' in the base64 value turns into a space when the body is form-decoded.
    value = fx.b64(XML)
    assert "+" in value
    m = one(f"RelayState=https://grafana.example.com/d/x&SAMLResponse={value}".encode())
    assert m.form == "form-body"
    assert m.relay_state == "https://grafana.example.com/d/x"
    assert_is_the_response(m)


def test_redirect_query_without_scheme_and_path_only() -> None:
    url = fx.redirect_url(XML).decode()
    for variant in (url, url[url.index("/saml") :], url[url.index("?") :]):
        m = one(variant.encode())
        assert (m.form, m.deflated) == ("redirect-query", True)
        assert_is_the_response(m)


def test_redirect_with_the_request_is_labelled_samlrequest() -> None:
    m = one(fx.redirect_url(REQUEST, "SAMLRequest"))
    assert m.parameter == "SAMLRequest"
    with pytest.raises(assertion.SamlError, match="the request Grafana sent"):
        assertion.parse(m.xml)


def har_login(*responses: bytes) -> bytes:
    """A login as devtools records it: Grafana redirects to the IdP, then the IdP posts to /saml/acs."""
    steps: list[tuple[str, str, bytes | None]] = [
        ("GET", "https://grafana.example.com/login/saml", None),
        (
            "GET",
            fx.redirect_url(REQUEST, "SAMLRequest").decode().replace(fx.ACS, "https://example.okta.com/sso"),
            None,
        ),
    ]
    steps += [("POST", fx.ACS, fx.form_body(r)) for r in responses]
    steps.append(("GET", "https://grafana.example.com/", None))
    return fx.har(*steps)


def test_har_with_several_messages_keeps_order_and_pick_semantics() -> None:
    first = fx.response_xml(fx.okta_attributes(["Everyone"]), response_id="id-first")
    second = fx.response_xml(response_id="id-second")
    found = find_messages(har_login(first, second), "login.har")
    assert [m.parameter for m in found] == ["SAMLRequest", "SAMLResponse", "SAMLResponse"]
    assert all(m.form == "har" for m in found)
    assert "HAR entry 1: GET https://example.okta.com/sso" in found[0].origin
    assert found[1].origin.startswith("HAR entry 2: POST https://grafana.example.com/saml/acs")
    # No --index: the last SAMLResponse, the one the login ended with.
    assert assertion.parse(pick(found, None).xml).id == "id-second"
    assert assertion.parse(pick(found, 1).xml).id == "id-first"
    assert pick(found, 0).parameter == "SAMLRequest"
    for bad in (3, -1):
        with pytest.raises(CaptureError) as err:
            pick(found, bad)
        assert "holds 3 message(s)" in err.value.message and "--list" in err.value.hint


def test_pick_without_responses_returns_the_last_message() -> None:
    found = find_messages(fx.redirect_url(REQUEST, "SAMLRequest"))
    assert pick(found, None) is found[-1]


def test_har_post_text_without_params() -> None:
    doc = json.loads(fx.har(("POST", fx.ACS, fx.form_body(XML))))
    del doc["log"]["entries"][0]["request"]["postData"]["params"]
    m = one(json.dumps(doc).encode())
    assert m.form == "har"
    assert_is_the_response(m)


def test_har_skips_an_unreadable_entry_but_reads_the_others() -> None:
    bad = ("POST", fx.ACS, b"SAMLResponse=not-base64-at-all!!")
    found = find_messages(fx.har(bad, ("POST", fx.ACS, fx.form_body(XML))))
    assert len(found) == 1 and "HAR entry 1" in found[0].origin


def test_har_with_only_an_unreadable_message_says_why() -> None:
    with pytest.raises(CaptureError) as err:
        find_messages(fx.har(("POST", fx.ACS, b"SAMLResponse=not-base64-at-all!!")), "x.har")
    assert "SAMLResponse parameter is not base64" in err.value.message
    assert err.value.hint


def test_saml_tracer_post_pairs() -> None:
    data = fx.tracer(
        {"method": "GET", "url": fx.redirect_url(REQUEST, "SAMLRequest").decode()},
        {"method": "POST", "url": fx.ACS, "post": [["SAMLResponse", fx.b64(XML)], ["RelayState", "r9"]]},
    )
    found = find_messages(data, "trace.json")
    assert [(m.form, m.parameter) for m in found] == [
        ("saml-tracer", "SAMLRequest"),
        ("saml-tracer", "SAMLResponse"),
    ]
    assert found[1].relay_state == "r9"
    assert_is_the_response(found[1])


def test_saml_tracer_with_only_the_decoded_saml_field() -> None:
    data = fx.tracer({"method": "POST", "url": fx.ACS, "post": [], "saml": XML.decode()})
    m = one(data)
    assert (m.form, m.parameter) == ("saml-tracer", "SAMLResponse")
    assert_is_the_response(m)


def test_saml_tracer_request_in_decoded_field_is_a_request() -> None:
    m = one(fx.tracer({"method": "GET", "url": "https://idp/sso", "saml": REQUEST.decode()}))
    assert m.parameter == "SAMLRequest"


def test_read_source_stdin_with_bytesio() -> None:
    data, name = read_source("-", io.BytesIO(fx.form_body(XML)))
    assert name == "<stdin>"
    assert one(data).form == "form-body"


def test_read_source_file(tmp_path: Path) -> None:
    p = tmp_path / "resp.b64"
    p.write_text(fx.b64(XML, wrap=76))
    data, name = read_source(str(p))
    assert name == str(p) and one(data).form == "base64"


def test_read_source_refuses_oversized_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "MAX_INPUT_BYTES", 100)
    with pytest.raises(CaptureError) as err:
        read_source("-", io.BytesIO(b"x" * 101))
    assert "larger than" in err.value.message and err.value.hint


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: str(p / "missing.xml"), "no such file"),
        (lambda p: str(p), "is a directory"),
    ],
    ids=["missing", "directory"],
)
def test_read_source_errors(tmp_path: Path, make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(CaptureError) as err:
        read_source(make(tmp_path))
    assert message in err.value.message and err.value.hint


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"log": {"entries": [', "looks like JSON but is not valid"),
        (b'{"name": "not a capture"}', "neither a HAR file nor a SAML-tracer export"),
        (b'{"log": {"entries": {}}}', "log.entries is not a list"),
        (b'{"requests": {}}', "'requests' is not a list"),
        (
            fx.har(("GET", "https://grafana.example.com/", None)),
            "HAR file holds no SAMLResponse or SAMLRequest",
        ),
        (fx.tracer({"method": "GET", "url": "https://x/"}), "SAML-tracer export holds no SAMLResponse"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests too deeply"),
        (b'{"requests": [{"post": 5, "saml": 7}]}', "holds no SAMLResponse"),
        (
            b'{"log": {"entries": [{"request": {"queryString": 5, "postData": [1]}}]}}',
            "holds no SAMLResponse",
        ),
        (b"hello, world", "no SAML message found"),
        (b"", "no SAML message found"),
        (b"\x00\xff\xfe binary", "not text"),
        (b"SAMLResponse=%%%%", "SAMLResponse parameter is not base64"),
        (b"MySAMLResponse=abc", "holds no such parameter"),
        (b"https://[SAMLResponse=", "holds no such parameter"),
        (base64.b64encode(b"just some text, not XML"), "no SAML message found"),
    ],
    ids=[
        "bad-json",
        "json-not-capture",
        "har-entries-not-list",
        "tracer-requests-not-list",
        "har-without-saml",
        "tracer-without-saml",
        "json-too-deep",
        "tracer-odd-types",
        "har-odd-types",
        "prose",
        "empty",
        "binary",
        "param-not-base64",
        "param-name-lookalike",
        "url-unbalanced-bracket",
        "base64-not-xml",
    ],
)
def test_unreadable_inputs_raise_capture_error_with_hint(data: bytes, message: str) -> None:
    with pytest.raises(CaptureError) as err:
        find_messages(data, "capture")
    assert message in err.value.message
    assert err.value.hint.strip()


def test_deflate_bomb_is_refused_without_inflating_it_all() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(c.compress(chunk) for _ in range(64)) + c.flush()  # 64 MiB of zeros
    for data in (base64.b64encode(bomb), f"SAMLRequest={quote(base64.b64encode(bomb).decode())}".encode()):
        with pytest.raises(CaptureError) as err:
            find_messages(data)
        assert "expands beyond 10 MiB" in err.value.message and err.value.hint


def test_values_too_long_for_a_message_are_refused_before_decoding() -> None:
    huge = "A" * (capture.MAX_VALUE_CHARS + 4)
    for data in (
        huge.encode(),
        f"SAMLResponse={huge}".encode(),
        fx.tracer({"post": [["SAMLResponse", huge]]}),
    ):
        with pytest.raises(CaptureError) as err:
            find_messages(data)
        assert "too large for a SAML message" in err.value.message
