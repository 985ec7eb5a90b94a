"""assertion.verify and assertion.decrypt against messages signed (signxml) and encrypted in the test.

Follows saml-reference.md §7.3 (crewjam v0.4.14): a valid Response signature covers its assertions;
otherwise every assertion needs its own valid signature. The verified model is rebuilt from signed
content only, so signature-wrapping tricks can never put unsigned data in front of the simulator.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from lxml import etree

from gtool.saml import assertion
from gtool.saml.assertion import Assertion, Response, SamlError, certs_from_metadata, decrypt, parse, verify
from tests.saml import saml_fixtures as fx

IDP = fx.keypair("idp")
OTHER = fx.keypair("other")
SP = fx.keypair("sp")
SAMPLES = Path(__file__).resolve().parents[2] / "samples"

PLAIN_USER = fx.okta_attributes(["Everyone"])
ADMIN = fx.okta_attributes(
    ["Everyone", "Grafana Admins", "Grafana Server Admins"], email="mallory@example.com"
)


def S(tag: str) -> str:
    return f"{{{fx.SAML}}}{tag}"


def DS(tag: str) -> str:
    return f"{{{fx.DS}}}{tag}"


def signed(target: str = "assertion", attributes: list[fx.Attr] | None = None, **kw: Any) -> bytes:
    return fx.sign(fx.response_xml(attributes or PLAIN_USER, **kw), IDP, target=target)


def problem(a: Assertion) -> str:
    assert a.signature is not None and a.signature.verified is False
    return a.signature.problem or ""


def groups(r: Response) -> tuple[str, ...] | None:
    assert r.assertion is not None
    return r.assertion.values("groups")


# -- valid signatures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["okta", "entra"])
def test_signed_assertion_verifies_and_model_is_complete(style: str) -> None:
    xml = fx.sign(fx.response_xml(style=style), IDP)
    r = verify(xml, [IDP.cert_pem])
    assert r.verified_only and not r.rejected
    a = r.assertion
    assert a is not None and a.signature is not None
    assert (a.signature.verified, a.signature.problem, a.signature.sha1) == (True, None, False)
    assert a.signature.reference == "#id-assertion-1"
    assert a.signature.signature_method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert a.issuer == (fx.OKTA_ISSUER if style == "okta" else fx.ENTRA_ISSUER)
    assert a.conditions is not None and a.conditions.audiences == (fx.SP_ENTITY,)
    assert a.subject_confirmations[0].recipient == fx.ACS
    assert r.signature is None  # the Response itself is not signed
    assert any("envelope" in n and "not covered" in n for n in r.notes)
    # Same attributes, lines included, as an unverified parse of the same bytes.
    assert a.attributes == parse(xml).assertions[0].attributes


def test_verified_model_keeps_line_numbers_of_the_input() -> None:
    xml = signed()
    r = verify(xml, [IDP.cert_pem])
    lines = xml.decode().splitlines()
    a = r.assertion
    assert a is not None and a.line is not None
    assert "<saml2:Assertion" in lines[a.line - 1]
    for attr in a.attributes:
        assert attr.line is not None and f'Name="{attr.name}"' in lines[attr.line - 1]


def test_signed_response_covers_an_unsigned_assertion() -> None:
    r = verify(signed("response"), [IDP.cert_pem])
    assert r.signature is not None and r.signature.verified is True
    assert r.signature.reference == "#id-response-1"
    assert r.assertion is not None and r.assertion.signature is None
    assert groups(r) == ("Everyone",)
    assert not r.rejected and not any("dropped" in n for n in r.notes)
    assert not any("envelope" in n for n in r.notes)
    assert (r.destination, r.in_response_to, r.issuer) == (fx.ACS, fx.REQUEST_ID, fx.OKTA_ISSUER)


def test_both_signed() -> None:
    r = verify(signed("both"), [IDP.cert_pem])
    assert r.signature is not None and r.signature.verified
    assert r.assertion is not None and r.assertion.signature is not None and r.assertion.signature.verified


def test_bare_signed_assertion() -> None:
    bare = fx.assertion_xml(PLAIN_USER, standalone=True).encode()
    r = verify(fx.sign(bare, IDP), [IDP.cert_pem])
    assert r.kind == "Assertion" and r.assertion is not None
    assert r.assertion.signature is not None and r.assertion.signature.verified


def test_bare_unsigned_assertion_is_dropped() -> None:
    r = verify(fx.assertion_xml(PLAIN_USER, standalone=True).encode(), [IDP.cert_pem])
    assert r.assertions == () and len(r.rejected) == 1
    assert any("dropped: it is not signed" in n for n in r.notes)


def test_certificate_rotation_any_given_cert_may_match() -> None:
    r = verify(signed(), [OTHER.cert_pem, IDP.cert_pem])
    assert r.assertion is not None and r.assertion.signature is not None and r.assertion.signature.verified
    r = verify(signed(), [OTHER.cert_pem + IDP.cert_pem])  # one PEM file holding both
    assert r.assertion is not None


def test_expired_window_still_verifies_and_carries_its_times() -> None:
    # Validity windows are ASRT-008's business in the linter; the model must carry them exactly.
    old = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)
    r = verify(signed(now=old), [IDP.cert_pem])
    a = r.assertion
    assert a is not None and a.signature is not None and a.signature.verified
    assert a.conditions is not None
    assert a.conditions.not_before == old - dt.timedelta(minutes=1)
    assert a.conditions.not_on_or_after == old + dt.timedelta(minutes=5)
    assert a.subject_confirmations[0].not_on_or_after == old + dt.timedelta(minutes=5)
    assert a.issue_instant == old - dt.timedelta(seconds=30)
    assert r.issue_instant == old - dt.timedelta(seconds=30)
    assert a.conditions.not_on_or_after < fx.NOW  # expired at the samples' "now"


def test_comment_inside_a_signed_value_reads_as_crewjam_reads_it() -> None:
    xml = fx.response_xml().replace(b"Grafana Admins", b"Grafana <!-- note -->Admins")
    r = verify(fx.sign(xml, IDP), [IDP.cert_pem])
    # Exclusive c14n drops the comment from what was signed; Go's chardata joins the text around it.
    assert groups(r) == ("Everyone", "Grafana Admins")
    assert groups(parse(xml)) == ("Everyone", "Grafana Admins")


# -- failures are findings, not crashes ------------------------------------------------------------------


def test_tampered_attribute_value_after_signing() -> None:
    xml = signed()
    evil = xml.replace(b">Everyone<", b">Grafana Admins<")
    assert evil != xml
    r = verify(evil, [IDP.cert_pem])
    assert r.assertions == ()
    (rej,) = r.rejected
    assert rej.signature is not None and rej.signature.verified is False
    assert "digest mismatch" in (rej.signature.problem or "")
    assert any("dropped" in n and "digest mismatch" in n for n in r.notes)


def test_tampered_signed_response() -> None:
    evil = signed("response").replace(b">Everyone<", b">Grafana Admins<")
    r = verify(evil, [IDP.cert_pem])
    assert r.signature is not None and r.signature.verified is False
    assert "digest mismatch" in (r.signature.problem or "")
    assert r.assertions == () and len(r.rejected) == 1
    assert any("Grafana rejects this response" in n for n in r.notes)


def test_wrong_certificate() -> None:
    r = verify(signed(), [OTHER.cert_pem])
    assert r.assertions == ()
    (rej,) = r.rejected
    assert rej.signature is not None and rej.signature.verified is False
    assert "does not match the IdP certificate given" in (rej.signature.problem or "")
    r = verify(signed(), [OTHER.cert_pem, SP.cert_pem])
    assert "any of the 2 IdP certificates" in problem(r.rejected[0])


def test_certificate_not_valid_at_the_verification_time() -> None:
    before = IDP.cert.not_valid_before_utc - dt.timedelta(days=1)
    r = verify(signed(), [IDP.cert_pem], now=before)
    (rej,) = r.rejected
    assert "certificate is not usable" in problem(rej)


def test_unsigned_response_and_assertion() -> None:
    r = verify(fx.response_xml(), [IDP.cert_pem])
    assert r.assertions == () and r.signature is None and len(r.rejected) == 1
    assert any("dropped: it is not signed and no valid Response signature covers it" in n for n in r.notes)
    # Unverified reading still works, for inspect.
    assert groups(parse(fx.response_xml())) == ("Everyone", "Grafana Admins")


def test_signed_assertion_with_unsigned_evil_sibling() -> None:
    root = etree.fromstring(signed())
    root.append(
        etree.fromstring(fx.assertion_xml(ADMIN, assertion_id="id-evil", name_id="mallory@example.com"))
    )
    r = verify(etree.tostring(root), [IDP.cert_pem])
    assert [a.id for a in r.assertions] == ["id-assertion-1"]
    assert [a.id for a in r.rejected] == ["id-evil"]
    assert groups(r) == ("Everyone",)
    assert any("holds 2 assertions" in n for n in r.notes)
    assert any("'id-evil'" in n and "dropped" in n for n in r.notes)


def test_wrapping_signed_assertion_moved_into_extensions() -> None:
    root = etree.fromstring(signed())
    original = root.find(S("Assertion"))
    assert original is not None
    position = root.index(original)
    extensions = etree.Element(f"{{{fx.SAMLP}}}Extensions")
    extensions.append(original)  # moves it
    root.insert(1, extensions)
    evil = etree.fromstring(fx.assertion_xml(ADMIN, name_id="mallory@example.com"))  # same ID as the original
    root.insert(position + 1, evil)
    xml = etree.tostring(root)

    naive = parse(xml)  # what a reader that ignores signatures would believe
    assert naive.assertion is not None and naive.assertion.name_id == "mallory@example.com"
    assert any("sits inside <Extensions>" in n for n in naive.notes)

    r = verify(xml, [IDP.cert_pem])
    assert r.assertions == ()
    assert [a.name_id for a in r.rejected] == ["mallory@example.com"]
    assert any("sits inside <Extensions>" in n for n in r.notes)


def test_wrapping_evil_assertion_carries_the_signature_of_a_hidden_one() -> None:
    """The signature is valid, but it covers the original assertion hidden in the evil one's Advice."""
    root = etree.fromstring(signed())
    original = root.find(S("Assertion"))
    assert original is not None
    sig = original.find(DS("Signature"))
    assert sig is not None
    position = root.index(original)
    root.remove(original)
    original.remove(sig)  # the signed content, exactly as it was signed
    evil = etree.fromstring(fx.assertion_xml(ADMIN, assertion_id="id-evil", name_id="mallory@example.com"))
    evil.insert(1, sig)
    etree.SubElement(evil, S("Advice")).append(original)
    root.insert(position, evil)

    r = verify(etree.tostring(root), [IDP.cert_pem])
    assert r.assertions == ()
    (rej,) = r.rejected
    assert rej.id == "id-evil" and rej.signature is not None and rej.signature.verified is False
    assert "covers <Assertion ID='id-assertion-1'>" in (rej.signature.problem or "")
    assert "signature wrapping" in (rej.signature.problem or "")


def test_unsigned_assertion_in_a_response_envelope_whose_signature_covers_something_else() -> None:
    """A Response-level Signature that references the first assertion, not the Response: it covers
    neither the envelope nor the evil assertion added next to it."""
    root = etree.fromstring(signed())
    first = root.find(S("Assertion"))
    assert first is not None
    sig = first.find(DS("Signature"))
    assert sig is not None
    first.remove(sig)
    root.insert(1, sig)
    root.append(etree.fromstring(fx.assertion_xml(ADMIN, assertion_id="id-evil")))

    r = verify(etree.tostring(root), [IDP.cert_pem])
    assert r.signature is not None and r.signature.verified is False
    assert "covers <Assertion ID='id-assertion-1'>, not the <Response>" in (r.signature.problem or "")
    assert r.assertions == ()
    assert sorted(a.id or "" for a in r.rejected) == ["id-assertion-1", "id-evil"]


def test_invalid_assertion_signature_inside_a_valid_response_signature() -> None:
    tampered = signed().replace(b">Everyone<", b">Everybody<")
    xml = fx.sign(tampered, IDP, target="response")
    r = verify(xml, [IDP.cert_pem])
    assert r.signature is not None and r.signature.verified
    a = r.assertion
    assert a is not None and a.signature is not None and a.signature.verified is False
    assert groups(r) == ("Everybody",)  # covered by the Response signature: signed content
    assert any("Grafana rejects a response whose signatures do not all verify" in n for n in r.notes)


# -- SHA-1 ------------------------------------------------------------------------------------------------


def test_rsa_sha1_is_reported_and_refused_unless_allowed() -> None:
    xml = fx.sign(fx.response_xml(), IDP, sha1=True)
    info = parse(xml).assertions[0].signature
    assert info is not None and info.sha1 and info.verified is None

    refused = verify(xml, [IDP.cert_pem])
    assert refused.assertions == ()
    why = problem(refused.rejected[0])
    assert "signed with RSA-SHA1 (legacy)" in why and "explicitly allowed" in why

    allowed = verify(xml, [IDP.cert_pem], allow_sha1=True)
    a = allowed.assertion
    assert a is not None and a.signature is not None
    assert a.signature.verified is True and a.signature.sha1
    assert any("RSA-SHA1 (legacy)" in n and "allowed" in n for n in allowed.notes)


def test_sha1_allowed_does_not_accept_a_wrong_key() -> None:
    r = verify(fx.sign(fx.response_xml(), IDP, sha1=True), [OTHER.cert_pem], allow_sha1=True)
    assert r.assertions == ()


# -- certificates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("certs", "message"),
    [
        ([], "no IdP certificate"),
        ([IDP.key_pem], "a private key, not a certificate"),
        ([b"hello"], "no PEM certificate found"),
        (
            [b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
            "not a valid X.509 certificate",
        ),
    ],
    ids=["none", "private-key", "garbage", "bad-der"],
)
def test_unusable_certificates_raise(certs: list[bytes], message: str) -> None:
    with pytest.raises(SamlError) as err:
        verify(signed(), certs)
    assert message in err.value.message and err.value.hint


def test_der_certificate_is_accepted() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    r = verify(signed(), [IDP.cert.public_bytes(Encoding.DER)])
    assert r.assertion is not None


MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def cert_text(pair: fx.KeyPair) -> str:
    """The certificate as metadata carries it: base64 DER, with the usual surrounding whitespace."""
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding

    return f"\n  {base64.b64encode(pair.cert.public_bytes(Encoding.DER)).decode()}\n"


def metadata(*descriptors: tuple[str | None, str], wrap: bool = False) -> bytes:
    kds = "".join(
        f'<md:KeyDescriptor{f" use={use!r}" if use else ""}><ds:KeyInfo xmlns:ds="{fx.DS}"><ds:X509Data>'
        f"<ds:X509Certificate>{text}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for use, text in descriptors
    )
    entity = (
        f'<md:EntityDescriptor xmlns:md="{MD}" entityID="{fx.OKTA_ISSUER}">'
        f"<md:IDPSSODescriptor>{kds}</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
    if not wrap:
        return entity.encode()
    sp = '<md:EntityDescriptor entityID="sp"><md:SPSSODescriptor/></md:EntityDescriptor>'
    return f'<md:EntitiesDescriptor xmlns:md="{MD}">{sp}{entity}</md:EntitiesDescriptor>'.encode()


def test_certs_from_metadata_picks_signing_certs_as_crewjam_does() -> None:
    data = metadata(("signing", cert_text(IDP)), ("encryption", cert_text(OTHER)), (None, cert_text(SP)))
    certs = certs_from_metadata(data)
    assert certs == [IDP.cert_pem, SP.cert_pem]
    r = verify(signed(), certs)
    assert r.assertion is not None and r.assertion.signature is not None and r.assertion.signature.verified


def test_certs_from_metadata_in_an_entities_descriptor() -> None:
    assert certs_from_metadata(metadata(("signing", cert_text(IDP)), wrap=True)) == [IDP.cert_pem]


@pytest.mark.parametrize("name", ["okta-metadata.xml", "entra-metadata.xml"])
def test_certs_from_sample_metadata(name: str) -> None:
    (pem,) = certs_from_metadata((SAMPLES / "idp" / name).read_bytes())
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            f'<md:EntityDescriptor xmlns:md="{MD}"><md:SPSSODescriptor/></md:EntityDescriptor>'.encode(),
            "no EntityDescriptor holding an IDPSSODescriptor",
        ),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DOCTYPE"),
        (b"<html><body>Sign in</body></html>", "<html> root"),
        (metadata(("signing", "!!!")), "not valid base64"),
    ],
    ids=["sp-metadata", "doctype", "html", "bad-cert"],
)
def test_certs_from_bad_metadata(data: bytes, message: str) -> None:
    with pytest.raises(SamlError) as err:
        certs_from_metadata(data)
    assert message in err.value.message and err.value.hint


# -- decryption ---------------------------------------------------------------------------------------------


@pytest.fixture
def xmlsec_backend() -> str:
    """The real xmlsec (the decrypt extra, installed with the test extras): decryption is tested for real."""
    import xmlsec  # noqa: F401  # fails loudly if the test environment lost the extra

    return "xmlsec"


CIPHERS = [
    ("aes256-cbc", "rsa-oaep-mgf1p", False),
    ("aes128-gcm", "rsa-oaep", False),
    ("aes128-cbc", "rsa-oaep-mgf1p", True),
]


@pytest.mark.parametrize(
    ("algorithm", "transport", "key_outside"), CIPHERS, ids=["okta-cbc", "gcm-oaep", "key-outside"]
)
def test_encrypted_assertion_decrypts_with_the_right_key(
    xmlsec_backend: str, algorithm: str, transport: str, key_outside: bool
) -> None:
    plain = fx.response_xml()
    encrypted = fx.encrypt(plain, SP.cert, algorithm=algorithm, transport=transport, key_outside=key_outside)
    before = parse(encrypted)
    assert before.assertions == () and before.encrypted_assertions == 1
    assert any("left encrypted" in n for n in before.notes)
    assert b"Grafana Admins" not in encrypted

    after = parse(decrypt(encrypted, SP.key_pem))
    assert after.encrypted_assertions == 0

    def names_values(r: Response) -> list[tuple[str, tuple[str, ...]]]:
        return [(x.name, x.values) for a in r.assertions for x in a.attributes]

    assert names_values(after) == names_values(parse(plain))
    assert groups(after) == ("Everyone", "Grafana Admins")


def test_wrong_key_fails_clearly(xmlsec_backend: str) -> None:
    encrypted = fx.encrypt(fx.response_xml(), SP.cert)
    with pytest.raises(SamlError) as err:
        decrypt(encrypted, OTHER.key_pem)
    assert err.value.message.startswith("cannot decrypt the EncryptedAssertion with this key (")
    assert "private_key_path" in err.value.hint


def test_certificate_given_as_key(xmlsec_backend: str) -> None:
    with pytest.raises(SamlError, match="holds a certificate, not the SP private key"):
        decrypt(fx.encrypt(fx.response_xml(), SP.cert), SP.cert_pem)


def test_nothing_to_decrypt_returns_the_input(xmlsec_backend: str) -> None:
    xml = fx.response_xml()
    assert decrypt(xml, SP.key_pem) is xml


def test_missing_xmlsec_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xmlsec", None)  # makes `import xmlsec` raise ImportError
    with pytest.raises(SamlError) as err:
        decrypt(fx.encrypt(fx.response_xml(), SP.cert), SP.key_pem)
    assert err.value.message == "decrypting needs the optional extra: pip install 'gtool[decrypt]'"


def test_xmlsec_that_fails_to_load(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    def broken(name: str) -> ModuleType:
        raise RuntimeError("lxml & xmlsec libxml2 library version mismatch")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(SamlError, match="does not load: lxml & xmlsec libxml2"):
        assertion._xmlsec()


def test_signed_response_with_encrypted_assertion(xmlsec_backend: str) -> None:
    """Okta's usual setup: the Response is signed over the EncryptedAssertion; verify checks that
    signature first, then decrypts the signed content."""
    xml = fx.sign(fx.encrypt(fx.response_xml(), SP.cert), IDP, target="response")
    r = verify(xml, [IDP.cert_pem], sp_key_pem=SP.key_pem)
    assert r.decrypted and r.encrypted_assertions == 0
    assert r.signature is not None and r.signature.verified
    assert groups(r) == ("Everyone", "Grafana Admins") and not r.rejected
    assert not any("left encrypted" in n for n in r.notes)

    without_key = verify(xml, [IDP.cert_pem])
    assert without_key.assertions == () and without_key.encrypted_assertions == 1
    assert without_key.signature is not None and without_key.signature.verified


def test_signed_then_encrypted_assertion_verifies_after_decryption(xmlsec_backend: str) -> None:
    xml = fx.encrypt(signed(attributes=fx.okta_attributes()), SP.cert)
    r = verify(xml, [IDP.cert_pem], sp_key_pem=SP.key_pem)
    a = r.assertion
    assert r.decrypted and a is not None and a.signature is not None and a.signature.verified
    # decrypt() alone, then verify(): the assertion's own signature survives decryption.
    again = verify(decrypt(xml, SP.key_pem), [IDP.cert_pem])
    assert again.assertion is not None and again.assertion.signature is not None
    assert again.assertion.signature.verified


def test_unsigned_encrypted_assertion_is_dropped_after_decryption(xmlsec_backend: str) -> None:
    r = verify(fx.encrypt(fx.response_xml(), SP.cert), [IDP.cert_pem], sp_key_pem=SP.key_pem)
    assert r.decrypted and r.assertions == () and len(r.rejected) == 1


def test_missing_signxml_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    xml = signed()
    monkeypatch.setitem(sys.modules, "signxml", None)
    with pytest.raises(SamlError, match="verifying signatures needs signxml"):
        verify(xml, [IDP.cert_pem])
