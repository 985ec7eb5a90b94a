"""assertion.parse and assertion.redact: the model of a SAML Response as crewjam reads it (saml-reference.md
§7), the shipped sample captures, and hostile XML through every decoder path of capture + parse."""

from __future__ import annotations

import base64
import datetime as dt
import re
import socket
import time
import zlib
from pathlib import Path

import pytest

from gtool.saml import capture
from gtool.saml.assertion import MAX_ATTRIBUTES, MAX_VALUES, Assertion, Response, SamlError, parse, redact
from gtool.saml.capture import CaptureError, find_messages
from gtool.saml.values import split_string
from tests.saml import saml_fixtures as fx

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "assertions"
UTC = dt.UTC


def only(r: Response) -> Assertion:
    assert len(r.assertions) == 1
    return r.assertions[0]


# -- the model -----------------------------------------------------------------------------------------


def test_okta_response_fills_every_field() -> None:
    xml = fx.response_xml()
    r = parse(xml)
    assert (r.kind, r.id, r.destination, r.in_response_to) == (
        "Response",
        "id-response-1",
        fx.ACS,
        fx.REQUEST_ID,
    )
    assert r.issue_instant == dt.datetime(2026, 6, 1, 11, 59, 30, tzinfo=UTC)
    assert r.issuer == fx.OKTA_ISSUER
    assert r.status is not None and r.status.success and r.status.sub_code is None
    assert (r.signature, r.encrypted_assertions, r.decrypted, r.verified_only) == (None, 0, False, False)
    assert r.notes == () and r.rejected == ()
    a = only(r)
    assert r.assertion is a
    assert (a.id, a.issuer, a.name_id) == ("id-assertion-1", fx.OKTA_ISSUER, "jane.doe@example.com")
    assert a.name_id_format == fx.EMAIL_FORMAT
    (sc,) = a.subject_confirmations
    assert sc.method == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    assert (sc.recipient, sc.in_response_to, sc.not_before) == (fx.ACS, fx.REQUEST_ID, None)
    assert sc.not_on_or_after == dt.datetime(2026, 6, 1, 12, 5, tzinfo=UTC)
    assert a.conditions is not None
    assert a.conditions.not_before == dt.datetime(2026, 6, 1, 11, 59, tzinfo=UTC)
    assert a.conditions.not_on_or_after == dt.datetime(2026, 6, 1, 12, 5, tzinfo=UTC)
    assert a.conditions.audiences == (fx.SP_ENTITY,)
    assert a.session_index == "_id-assertion-1-session"
    assert a.authn_instant == dt.datetime(2026, 6, 1, 11, 58, tzinfo=UTC)
    assert a.issue_instant == dt.datetime(2026, 6, 1, 11, 59, 30, tzinfo=UTC)
    assert [x.name for x in a.attributes] == ["email", "firstName", "lastName", "organization", "groups"]
    assert a.values("groups") == ("Everyone", "Grafana Admins")
    assert a.attributes[0].name_format == fx.UNSPECIFIED and a.attributes[0].friendly_name is None
    assert a.signature is None
    lines = xml.decode().splitlines()
    assert a.line is not None and "<saml2:Assertion" in lines[a.line - 1]
    assert all(x.line and f'Name="{x.name}"' in lines[x.line - 1] for x in a.attributes)


def test_entra_default_namespace_and_claim_uris() -> None:
    a = only(parse(fx.response_xml(style="entra")))
    assert a.values(fx.ENTRA_GROUPS) == (fx.ENTRA_EDITORS,)
    assert a.values("groups") is None  # names match exactly, never by suffix
    assert a.values(f"{fx.XMLSOAP}/emailaddress") == ("sam.lee@example.com",)


def test_bare_assertion_with_any_prefix() -> None:
    xml = (
        fx.assertion_xml(fx.okta_attributes(), standalone=True)
        .replace("saml2:", "a:")
        .replace("xmlns:saml2", "xmlns:a")
    )
    r = parse(xml.encode())
    assert r.kind == "Assertion" and r.id is None and r.status is None
    assert only(r).values("email") == ("jane.doe@example.com",)


def test_friendly_name_name_format_and_several_statements() -> None:
    attrs = [
        fx.Attr("urn:oid:2.5.4.42", ["Jane"], friendly_name="givenName", name_format=fx.BASIC),
        fx.Attr("groups", ["a"]),
    ]
    xml = fx.response_xml(attrs).decode()
    second = (
        '<saml2:AttributeStatement><saml2:Attribute Name="groups"><saml2:AttributeValue>b'
        "</saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement>"
    )
    xml = xml.replace("</saml2:AttributeStatement>", "</saml2:AttributeStatement>" + second)
    a = only(parse(xml.encode()))
    assert a.attributes[0].friendly_name == "givenName" and a.attributes[0].name_format == fx.BASIC
    assert a.values("givenName") == a.values("urn:oid:2.5.4.42") == ("Jane",)
    assert a.values("groups") == ("a", "b")  # appended across AttributeStatements, in order
    assert a.values("GROUPS") is None and a.values("GROUPS", case_sensitive=False) == ("a", "b")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("  Grafana Admins\n", "  Grafana Admins\n"),  # crewjam does not trim
        ("Grafana <!-- c -->Admins", "Grafana Admins"),  # Go chardata joins text around a comment
        ("<![CDATA[a & b]]>", "a & b"),
        ("", ""),
        ("x&amp;y&#x20;", "x&y "),
        ("<saml2:NameID>inner</saml2:NameID>tail", "tail"),  # text inside child elements is not chardata
    ],
    ids=["whitespace", "comment", "cdata", "empty", "entities", "child-element"],
)
def test_attribute_values_are_raw_chardata(raw: str, value: str) -> None:
    xml = fx.response_xml().decode().replace(">Everyone<", f">{raw}<", 1)
    assert only(parse(xml.encode())).values("groups") == (value, "Grafana Admins")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01T12:00:00Z", dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
        ("2026-06-01T14:00:00+02:00", dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
        ("2026-06-01T07:30:00-04:30", dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
        ("2026-06-01T12:00:00.123456789Z", dt.datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2026-06-01T12:00:00.5Z", dt.datetime(2026, 6, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2026-06-01T12:00:00", dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),  # crewjam: no zone is UTC
        ("", None),  # crewjam: empty is the zero time
    ],
)
def test_times_become_aware_utc(text: str, expected: dt.datetime | None) -> None:
    xml = fx.response_xml().decode()
    xml = re.sub(r'(<saml2:Conditions NotBefore=")[^"]*', lambda m: m.group(1) + text, xml)
    c = only(parse(xml.encode())).conditions
    assert c is not None and c.not_before == expected
    assert c.not_before is None or c.not_before.tzinfo == UTC


@pytest.mark.parametrize(
    "bad",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-06-01 12:00:00Z",
        "2026-06-01T25:00:00Z",
        " 2026-06-01T12:00:00Z",
    ],
)
def test_malformed_time_names_the_attribute(bad: str) -> None:
    xml = fx.response_xml().decode()
    xml = re.sub(
        r'(SubjectConfirmationData InResponseTo="[^"]*" NotOnOrAfter=")[^"]*', lambda m: m.group(1) + bad, xml
    )
    with pytest.raises(SamlError) as err:
        parse(xml.encode())
    assert "SubjectConfirmationData/@NotOnOrAfter is not a valid xs:dateTime" in err.value.message
    assert repr(bad) in err.value.message
    assert err.value.line is not None and err.value.hint


def test_status_with_sub_code_and_message() -> None:
    xml = fx.response_xml(assertions=[], status="urn:oasis:names:tc:SAML:2.0:status:Responder").decode()
    xml = xml.replace(
        '<saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"/>',
        '<saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder">'
        '<saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:RequestDenied"/></saml2p:StatusCode>'
        "<saml2p:StatusMessage>User bob@example.com is not assigned to this application"
        "</saml2p:StatusMessage>",
    )
    r = parse(xml.encode())
    assert r.assertions == () and r.assertion is None
    assert r.status is not None and not r.status.success
    assert r.status.sub_code == "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
    assert r.status.message == "User bob@example.com is not assigned to this application"


def test_signature_info_only_for_direct_children() -> None:
    signed = fx.sign(fx.response_xml(), target="both", sha1=True)
    r = parse(signed)
    assert (
        r.signature is not None
        and r.signature.element == "Response"
        and r.signature.reference == "#id-response-1"
    )
    a = only(r)
    assert a.signature is not None and a.signature.element == "Assertion" and a.signature.sha1
    assert a.signature.digest_method == "http://www.w3.org/2000/09/xmldsig#sha1"
    assert a.signature.verified is None  # parse never checks
    # A Signature deeper down (here inside the Subject) is not the assertion's signature.
    moved = fx.sign(fx.response_xml()).decode()
    sig = re.search(r"<ds:Signature .*?</ds:Signature>", moved, re.S)
    assert sig is not None
    moved = moved.replace(sig.group(0), "").replace("</saml2:Subject>", sig.group(0) + "</saml2:Subject>")
    assert only(parse(moved.encode())).signature is None


def test_multiple_and_nested_assertions_are_noted() -> None:
    two = fx.response_xml(assertions=[fx.assertion_xml([]), fx.assertion_xml([], assertion_id="id-2")])
    r = parse(two)
    assert [a.id for a in r.assertions] == ["id-assertion-1", "id-2"]
    assert any("holds 2 assertions" in n and "first valid one" in n for n in r.notes)
    nested = fx.response_xml().replace(
        b"<saml2p:Status>",
        b"<saml2p:Extensions>"
        + fx.assertion_xml([], assertion_id="id-x").encode()
        + b"</saml2p:Extensions><saml2p:Status>",
    )
    r = parse(nested)
    assert [a.id for a in r.assertions] == ["id-assertion-1"]
    assert any("sits inside <Extensions>" in n and "Grafana ignores it" in n for n in r.notes)


def test_advice_assertions_are_not_noted() -> None:
    inner = fx.assertion_xml([], assertion_id="id-advice")
    xml = fx.response_xml().replace(
        b"</saml2:AttributeStatement>",
        b"</saml2:AttributeStatement><saml2:Advice>" + inner.encode() + b"</saml2:Advice>",
    )
    assert parse(xml).notes == ()


def test_encrypted_assertions_are_counted() -> None:
    r = parse(fx.encrypt(fx.response_xml(), fx.keypair("sp").cert))
    assert (r.assertions, r.encrypted_assertions) == ((), 1)
    assert any("1 EncryptedAssertion left encrypted" in n for n in r.notes)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (
            f'<samlp:AuthnRequest xmlns:samlp="{fx.SAMLP}" ID="x"/>',
            "<samlp:AuthnRequest>: this is the request Grafana sent, not the IdP's response",
        ),
        (f'<samlp:LogoutResponse xmlns:samlp="{fx.SAMLP}"/>', "single-logout response"),
        (f'<md:EntityDescriptor xmlns:md="{fx.SAMLP[:-8]}metadata"/>', "SAML metadata"),
        (
            '<Response xmlns="urn:oasis:names:tc:SAML:1.0:protocol"/>',
            "SAML 1.x: Grafana speaks SAML 2.0 only",
        ),
        ("<Response/>", "in namespace '(none)'"),
        ("<html><body>Login</body></html>", "a web page"),
        (f'<saml:EncryptedAssertion xmlns:saml="{fx.SAML}"/>', "taken out of its Response"),
        ("<foo/>", "not a SAML login message"),
    ],
    ids=["authn-request", "logout", "metadata", "saml11", "no-namespace", "html", "encrypted-alone", "other"],
)
def test_other_roots_say_what_they_are(xml: str, message: str) -> None:
    with pytest.raises(SamlError) as err:
        parse(xml.encode(), what="capture.xml")
    assert message in err.value.message
    assert "expected a samlp:Response or a saml:Assertion" in err.value.message
    assert err.value.message.startswith("capture.xml: ") and "--index" in err.value.hint


def test_not_well_formed_keeps_the_line() -> None:
    with pytest.raises(SamlError) as err:
        parse(b"<samlp:Response xmlns:samlp='x'>\n<a>\n</b>", what="resp.xml")
    assert "resp.xml is not well-formed XML" in err.value.message
    assert err.value.line == 3 and err.value.hint


def test_attribute_caps_allow_exactly_the_limit() -> None:
    attrs = [fx.Attr(f"a{i}", []) for i in range(MAX_ATTRIBUTES)]
    assert len(only(parse(fx.response_xml(attrs))).attributes) == MAX_ATTRIBUTES
    values = [fx.Attr("groups", ["g"] * MAX_VALUES)]
    assert len(only(parse(fx.response_xml(values))).attributes[0].values) == MAX_VALUES


# -- redaction ------------------------------------------------------------------------------------------


def test_redact_masks_personal_data_and_keeps_what_mapping_needs() -> None:
    attrs = fx.okta_attributes(["Grafana Admins", " Grafana Admins", "Grafana Admins", ""])
    r = parse(fx.response_xml(attrs, name_id="jane.doe@example.com"))
    red = redact(r, salt=b"k")
    a = only(red)
    assert a.name_id is not None and "jane" not in a.name_id and a.name_id.startswith("[redacted 20 chars #")
    assert a.session_index is not None and a.session_index.startswith("[redacted")
    assert [x.name for x in a.attributes] == [x.name for x in only(r).attributes]
    text = repr(red)
    for secret in ("jane.doe", "Jane", "Doe", "Platform", "Grafana Admins"):
        assert secret not in text
    g = a.values("groups")
    assert g is not None
    assert g[0] == g[2] != g[1]  # the same value masks the same; a different one does not
    assert g[1].startswith(" [redacted 14 chars")  # surrounding whitespace stays visible
    assert g[3] == ""
    # Unkeyed by default: two calls disagree, so masks cannot be matched against guesses across runs.
    assert only(redact(r)).values("groups") != only(redact(r)).values("groups")
    assert redact(r, salt=b"k") == red
    assert only(r).values("groups") == (
        "Grafana Admins",
        " Grafana Admins",
        "Grafana Admins",
        "",
    )  # unchanged


def test_redact_masks_emails_in_free_text() -> None:
    xml = fx.response_xml(assertions=[]).replace(
        b"<saml2p:StatusCode",
        b"<saml2p:StatusMessage>bob@example.com is not assigned</saml2p:StatusMessage><saml2p:StatusCode",
    )
    red = redact(parse(xml))
    assert red.status is not None and red.status.message is not None
    assert "bob@" not in red.status.message and red.status.message.endswith(" is not assigned")
    assert red.issuer == fx.OKTA_ISSUER and red.destination == fx.ACS


# -- the shipped samples ----------------------------------------------------------------------------------


def config_names(ini: str) -> dict[str, str]:
    return dict(
        re.findall(r"^(assertion_attribute_\w+|role_values_\w+|allowed_organizations)\s*=\s*(.+)$", ini, re.M)
    )


def attribute_names(value: str) -> list[str]:
    """Attribute names a setting refers to: a plain name, or each $__saml{name} of a template."""
    return re.findall(r"\$__saml\{([^}]*)\}", value) or [value.strip()]


@pytest.mark.parametrize(
    ("sample", "form", "config", "role_keys"),
    [
        # The Okta admin is also in "SRE On-Call" (an editor group): the top role, Admin, wins.
        ("okta-admin.xml", "xml", "okta", {"role_values_admin", "role_values_editor"}),
        ("okta-admin.b64", "base64", "okta", {"role_values_admin", "role_values_editor"}),
        ("okta-viewer.xml", "xml", "okta", set()),
        ("okta-viewer-form-body.b64", "form-body", "okta", set()),
        ("okta-login.har", "har", "okta", {"role_values_admin", "role_values_editor"}),
        ("entra-editor.xml", "xml", "entra", {"role_values_editor"}),
        ("entra-saml-tracer.json", "saml-tracer", "entra", {"role_values_editor"}),
    ],
)
def test_samples_match_their_configs(sample: str, form: str, config: str, role_keys: set[str]) -> None:
    messages = find_messages((SAMPLES / sample).read_bytes(), sample)
    m = capture.pick(messages, None)
    assert m.form == form and m.parameter in ("xml", "SAMLResponse")
    r = parse(m.xml, what=sample)
    a = only(r)
    if form == "xml":
        assert "UNSIGNED" in (SAMPLES / sample).read_text().splitlines()[1]
    ini = config_names((ROOT / "samples" / config / "grafana.ini").read_text())
    for key, value in ini.items():
        if key.startswith("assertion_attribute_"):
            for name in attribute_names(value):
                assert a.values(name), f"{sample}: {key} refers to {name!r}, which the sample does not send"
    groups = set(a.values(ini["assertion_attribute_role"].strip()) or ())
    granted = {
        k for k, v in ini.items() if k.startswith("role_values_") and groups & set(split_string(v).items)
    }
    assert granted == role_keys
    assert r.issuer == (fx.OKTA_ISSUER if config == "okta" else fx.ENTRA_ISSUER)
    if "allowed_organizations" in ini:
        assert set(a.values("organization") or ()) <= set(split_string(ini["allowed_organizations"]).items)


def test_har_sample_holds_the_request_and_the_response() -> None:
    messages = find_messages((SAMPLES / "okta-login.har").read_bytes())
    assert [m.parameter for m in messages] == ["SAMLRequest", "SAMLResponse"]
    with pytest.raises(SamlError, match="the request Grafana sent"):
        parse(messages[0].xml)
    assert parse(messages[1].xml).in_response_to == fx.REQUEST_ID


# -- hostile input through every decoder path --------------------------------------------------------------

SECRET = "TOP-SECRET-7d1e4f"
FORMS = ["xml", "base64", "form-body", "redirect-query", "har", "saml-tracer"]


def wrap(form: str, xml: bytes = b"", *, deflated: bytes | None = None) -> bytes:
    """``xml`` (or ready-made raw DEFLATE data) in a capture form, cheaply enough for 50 MB inputs."""
    if form == "xml":
        return xml
    if form == "redirect-query" and deflated is None:
        c = zlib.compressobj(1, zlib.DEFLATED, -15)
        deflated = c.compress(xml) + c.flush()
    raw = base64.b64encode(deflated if deflated is not None else xml)
    encoded = raw.replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")
    if form == "base64":
        return raw
    if form == "form-body":
        return b"SAMLResponse=" + encoded + b"&RelayState=x"
    if form == "redirect-query":
        return fx.ACS.encode() + b"?SAMLResponse=" + encoded
    if form == "har":
        request = b'{"method": "POST", "url": "u", "postData": {"text": "SAMLResponse=' + encoded + b'"}}'
        return b'{"log": {"entries": [{"request": ' + request + b"}]}}"
    assert form == "saml-tracer"
    return b'{"requests": [{"method": "POST", "url": "u", "post": [["SAMLResponse", "' + raw + b'"]]}]}'


HEAD = f'<samlp:Response xmlns:samlp="{fx.SAMLP}" xmlns:saml="{fx.SAML}" ID="r">'
DOCTYPE = "DOCTYPE declarations are not allowed"


def with_statement(statement: str) -> bytes:
    assertion = f"<saml:Assertion ID='a'><saml:AttributeStatement>{statement}</saml:AttributeStatement>"
    return f"{HEAD}{assertion}</saml:Assertion></samlp:Response>".encode()


def attack(name: str, tmp: Path) -> tuple[bytes, str]:
    """The hostile document ``name`` and a pattern of the error it must give (built on demand: some
    are large)."""
    secret = tmp / "secret.txt"
    secret.write_text(SECRET)
    xxe = f'<!DOCTYPE r [<!ENTITY s SYSTEM "file://{secret}">]>{HEAD}&s;</samlp:Response>'
    if name == "xxe-file":
        return f'<?xml version="1.0"?>{xxe}'.encode(), DOCTYPE
    if name == "xxe-utf16":  # the DOCTYPE check must read through the encoding
        return f'<?xml version="1.0" encoding="UTF-16"?>{xxe}'.encode("utf-16"), DOCTYPE
    if name == "xxe-http":
        return (
            f'<!DOCTYPE r [<!ENTITY s SYSTEM "http://127.0.0.1:9/x">]>{HEAD}&s;</samlp:Response>'.encode(),
            DOCTYPE,
        )
    if name == "parameter-entity":
        return (
            f'<!DOCTYPE r [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>{HEAD}</samlp:Response>'.encode(),
            DOCTYPE,
        )
    if name == "external-dtd":
        return f'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">{HEAD}</samlp:Response>'.encode(), DOCTYPE
    if name == "billion-laughs":
        lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
        return f'<!DOCTYPE r [<!ENTITY l0 "lol">{lol}]>{HEAD}&l9;</samlp:Response>'.encode(), DOCTYPE
    if name == "huge-attribute-count":
        return with_statement(
            '<saml:Attribute Name="a"/>' * (MAX_ATTRIBUTES + 1)
        ), "more than 10,000 attributes"
    if name == "huge-value-count":
        values = "<saml:AttributeValue>g</saml:AttributeValue>" * (MAX_VALUES + 1)
        return with_statement(
            f'<saml:Attribute Name="g">{values}</saml:Attribute>'
        ), "more than 10,000 attribute values"
    if name == "deep-nesting":
        return f"{HEAD}{'<x>' * 5000}{'</x>' * 5000}</samlp:Response>".encode(), "nests elements deeper than"
    assert name == "50-mb"
    padding = b"<x>padding</x>" * (50 * 1024 * 1024 // 14)
    return (
        HEAD.encode() + padding + b"</samlp:Response>",
        "larger than 10 MiB|too large for a SAML message|expands beyond 10 MiB",
    )


ATTACKS = [
    "xxe-file",
    "xxe-http",
    "parameter-entity",
    "external-dtd",
    "billion-laughs",
    "xxe-utf16",
    "huge-attribute-count",
    "huge-value-count",
    "deep-nesting",
    "50-mb",
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def read(data: bytes) -> list[Response]:
    return [parse(m.xml, what=m.origin) for m in find_messages(data, "capture")]


def assert_refused(data: bytes, expected: str, limit: float = 3.0) -> Exception:
    start = time.perf_counter()
    with pytest.raises((CaptureError, SamlError)) as err:
        read(data)
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"took {elapsed:.2f} s"
    assert re.search(expected, err.value.message), err.value.message
    assert err.value.hint.strip()
    return err.value


# A UTF-16 document only makes sense as a raw file; every other attack goes through every form.
HOSTILE = [(a, f) for a in ATTACKS for f in FORMS if a != "xxe-utf16" or f == "xml"]


@pytest.mark.parametrize(("attack_name", "form"), HOSTILE, ids=[f"{a}-{f}" for a, f in HOSTILE])
def test_hostile_xml_is_refused_quickly_offline(
    attack_name: str, form: str, tmp_path: Path, no_network: list[object]
) -> None:
    data, expected = attack(attack_name, tmp_path)
    err = assert_refused(wrap(form, data), expected)
    assert SECRET not in str(err) and SECRET not in repr(vars(err))
    assert no_network == []


@pytest.mark.parametrize("form", ["base64", "form-body", "redirect-query", "har", "saml-tracer"])
def test_deflate_bomb_in_every_form(form: str, no_network: list[object]) -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(c.compress(zeros) for _ in range(48)) + c.flush()  # 48 MiB of zeros in ~50 KB
    assert_refused(wrap(form, deflated=bomb), "expands beyond 10 MiB", limit=2.0)


def test_no_file_is_read_even_if_the_doctype_check_were_bypassed(tmp_path: Path) -> None:
    """Belt and braces: the parser parse_xml builds resolves no entity and loads no DTD."""
    from lxml import etree

    from gtool.saml import xml as gxml

    data, _ = attack("xxe-file", tmp_path)
    tree = etree.fromstring(data, gxml._parser(None))
    assert SECRET not in etree.tostring(tree).decode()
