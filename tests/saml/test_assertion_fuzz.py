"""Fuzzing the readers: random bytes and mutated real messages (byte flips, truncation, duplicated or
deleted elements), in every capture form, through capture.find_messages, assertion.parse and
assertion.verify. The only acceptable failures are CaptureError and SamlError: never a traceback."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gtool.saml.assertion import Response, SamlError, parse, verify
from gtool.saml.capture import CaptureError, find_messages
from tests.saml import saml_fixtures as fx

IDP = fx.keypair("idp")
SIGNED = fx.sign(fx.response_xml(), IDP, target="both")
BASES = [
    fx.response_xml(),
    fx.response_xml(style="entra"),
    SIGNED,
    fx.sign(fx.assertion_xml(fx.okta_attributes(), standalone=True).encode(), IDP),
    fx.encrypt(fx.response_xml(), fx.keypair("sp").cert),
]
FORMS = ["xml", "base64", "form-body", "redirect-query", "har", "saml-tracer"]
ELEMENT = re.compile(rb"<((?:\w+:)?\w+)[\s>/]")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_all(data: bytes, *, check_signatures: bool = False) -> None:
    """Everything a command does with an input; raises only what a command turns into a message."""
    try:
        messages = find_messages(data, "fuzz")
    except CaptureError as exc:
        assert exc.message and exc.hint
        return
    assert messages
    for m in messages:
        for read in (parse, lambda x: verify(x, [IDP.cert_pem])) if check_signatures else (parse,):
            try:
                assert isinstance(read(m.xml), Response)
            except SamlError as exc:
                assert exc.message


def duplicate_element(data: bytes, pick: int) -> bytes:
    """Repeat one element (start tag to its end tag) right after itself, or a slice if none closes."""
    starts = list(ELEMENT.finditer(data))
    if not starts:
        return data + data[: pick % (len(data) + 1)]
    m = starts[pick % len(starts)]
    end = data.find(b"</" + m.group(1) + b">", m.start())
    if end < 0:
        return data[: m.end()] + data[m.start() :]
    end += len(m.group(1)) + 3
    return data[:end] + data[m.start() : end] + data[end:]


def delete_element(data: bytes, pick: int) -> bytes:
    starts = list(ELEMENT.finditer(data))
    if not starts:
        return data
    m = starts[pick % len(starts)]
    end = data.find(b"</" + m.group(1) + b">", m.start())
    return data[: m.start()] + (data[end + len(m.group(1)) + 3 :] if end >= 0 else b"")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(BASES))
    form = draw(st.sampled_from(FORMS))
    before_encoding = draw(st.booleans())
    if not before_encoding:
        data = fx.every_form(data)[form]
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["flip", "truncate", "duplicate", "delete", "insert"]))
        pick = draw(st.integers(0, 1 << 30))
        if how == "flip" and buf:
            for _ in range(draw(st.integers(1, 8))):
                buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
        elif how == "truncate":
            del buf[pick % (len(buf) + 1) :]
        elif how == "duplicate":
            buf = bytearray(duplicate_element(bytes(buf), pick))
        elif how == "delete":
            buf = bytearray(delete_element(bytes(buf), pick))
        else:
            at = pick % (len(buf) + 1)
            snippet = draw(
                st.sampled_from([b"<!DOCTYPE x>", b"&lol;", b"<!--", b"]]>", b"%", b"=", b"\x00", b"\xff"])
            )
            buf[at:at] = snippet
    return fx.every_form(bytes(buf))[form] if before_encoding else bytes(buf)


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes(data: bytes) -> None:
    read_all(data)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                "<",
                ">",
                "/",
                "=",
                "&",
                '"',
                "{",
                "}",
                "[",
                "]",
                ":",
                "%",
                "+",
                " ",
                "\n",
                "a",
                "Z",
                "0",
                "SAMLResponse=",
                "SAMLRequest=",
                '"log":',
                '"requests":',
                '"entries":',
                '"post":',
                "<saml:",
                "Assertion",
                "Response",
                "PHNhbWw",
                "https://",
            ]
        ),
        max_size=80,
    )
)
@example(["https://", "[", "SAMLResponse="])  # found by this test: urlsplit raised "Invalid IPv6 URL"
def test_random_capture_shaped_text(parts: list[str]) -> None:
    read_all("".join(parts).encode())


@FUZZ
@given(mutated())
def test_mutated_real_messages(data: bytes) -> None:
    read_all(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_real_messages_through_verify(data: bytes) -> None:
    read_all(data, check_signatures=True)


def test_mutations_do_what_they_say() -> None:
    xml = b"<a><b>1</b><c/></a>"
    assert duplicate_element(xml, 1) == b"<a><b>1</b><b>1</b><c/></a>"
    assert delete_element(xml, 1) == b"<a><c/></a>"
    assert duplicate_element(b"plain", 3) == b"plainpla"
