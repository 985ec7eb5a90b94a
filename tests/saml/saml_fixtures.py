"""Realistic SAML messages made at test time: Okta- and Entra-style Responses, key pairs and
certificates, XML-DSig signatures (signxml), XML-Enc encryption (written here with `cryptography`, so
the decryption tests do not grade xmlsec against itself), and every capture form a user may hand in.

No private key is committed: each key pair is generated once per test session.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from lxml import etree

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"

# The fixed time the sample configurations are linted at (samples/README.md).
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
ACS = "https://grafana.example.com/saml/acs"
SP_ENTITY = "https://grafana.example.com/saml/metadata"
OKTA_ISSUER = "http://www.okta.com/exk1demo0000000000"
ENTRA_ISSUER = "https://sts.windows.net/0b5e1f7a-0000-4000-8000-000000000001/"
REQUEST_ID = "id-4c3b2a1908f7e6d5c4b3a291"

EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
CLAIMS = "http://schemas.microsoft.com/ws/2008/06/identity/claims"
XMLSOAP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
ENTRA_GROUPS = f"{CLAIMS}/groups"
ENTRA_EDITORS = "0d7e4b2a-9c13-4f5e-8a61-7b2c9d0e1f35"
ENTRA_ADMINS = "a3c9e1f4-5b72-4d08-9e6a-1f2b3c4d5e60"


# -- keys and certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    key_pem: bytes  # PKCS#8, what Grafana's private_key_path holds
    cert_pem: bytes


@functools.cache
def keypair(name: str = "idp") -> KeyPair:
    """An RSA key and a self-signed certificate valid around the real current time (signxml checks
    certificate validity against the clock). Cached per name: key generation is the slow part."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(key, cert, key_pem, cert.public_bytes(serialization.Encoding.PEM))


# -- messages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attr:
    name: str
    values: Sequence[str]
    friendly_name: str | None = None
    name_format: str | None = UNSPECIFIED


def stamp(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def okta_attributes(
    groups: Sequence[str] = ("Everyone", "Grafana Admins"),
    *,
    email: str = "jane.doe@example.com",
    first: str = "Jane",
    last: str = "Doe",
    organization: str = "Platform Engineering",
) -> list[Attr]:
    """The attribute statements samples/okta/grafana.ini maps."""
    return [
        Attr("email", [email]),
        Attr("firstName", [first]),
        Attr("lastName", [last]),
        Attr("organization", [organization]),
        Attr("groups", list(groups)),
    ]


def entra_attributes(
    groups: Sequence[str] = (ENTRA_EDITORS,),
    *,
    upn: str = "sam.lee@example.com",
    display: str = "Sam Lee",
) -> list[Attr]:
    """The claims samples/entra/grafana.ini maps (full claim URIs, group object IDs)."""
    return [
        Attr(
            "http://schemas.microsoft.com/identity/claims/tenantid", ["0b5e1f7a-0000-4000-8000-000000000001"]
        ),
        Attr(
            "http://schemas.microsoft.com/identity/claims/objectidentifier",
            ["7f3e2d1c-0b9a-4887-a665-544332211000"],
        ),
        Attr("http://schemas.microsoft.com/identity/claims/displayname", [display]),
        Attr(ENTRA_GROUPS, list(groups)),
        Attr("http://schemas.microsoft.com/identity/claims/identityprovider", [ENTRA_ISSUER]),
        Attr(f"{XMLSOAP}/emailaddress", [upn]),
        Attr(f"{XMLSOAP}/name", [upn]),
    ]


def _attribute_xml(a: Attr, p: str) -> str:
    extra = f" FriendlyName={quoteattr(a.friendly_name)}" if a.friendly_name is not None else ""
    extra += f" NameFormat={quoteattr(a.name_format)}" if a.name_format else ""
    values = "".join(
        f'<{p}AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">'
        f"{escape(v)}</{p}AttributeValue>"
        for v in a.values
    )
    return f"\n      <{p}Attribute Name={quoteattr(a.name)}{extra}>{values}</{p}Attribute>"


def assertion_xml(
    attributes: Iterable[Attr],
    *,
    style: str = "okta",
    issuer: str | None = None,
    name_id: str = "jane.doe@example.com",
    assertion_id: str = "id-assertion-1",
    now: dt.datetime = NOW,
    lifetime: dt.timedelta = dt.timedelta(minutes=5),
    audience: str = SP_ENTITY,
    recipient: str = ACS,
    in_response_to: str | None = REQUEST_ID,
    standalone: bool = False,
) -> str:
    """One ``saml:Assertion``: Okta style (``saml2:`` prefixes) or Entra style (default namespace)."""
    p = "saml2:" if style == "okta" else ""
    issuer = issuer or (OKTA_ISSUER if style == "okta" else ENTRA_ISSUER)
    xmlns = f'xmlns:saml2="{SAML}"' if style == "okta" else f'xmlns="{SAML}"'
    if standalone or style != "okta":
        xmlns += ' xmlns:xs="http://www.w3.org/2001/XMLSchema"'
    irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
    attrs = "".join(_attribute_xml(a, p) for a in attributes)
    issued, expires = stamp(now - dt.timedelta(seconds=30)), stamp(now + lifetime)
    authn, session = stamp(now - dt.timedelta(minutes=2)), f"_{assertion_id}-session"
    context = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    return f"""<{p}Assertion {xmlns} ID="{assertion_id}" IssueInstant="{issued}" Version="2.0">
    <{p}Issuer>{escape(issuer)}</{p}Issuer>
    <{p}Subject>
      <{p}NameID Format="{EMAIL_FORMAT}">{escape(name_id)}</{p}NameID>
      <{p}SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <{p}SubjectConfirmationData{irt} NotOnOrAfter="{expires}" Recipient={quoteattr(recipient)}/>
      </{p}SubjectConfirmation>
    </{p}Subject>
    <{p}Conditions NotBefore="{stamp(now - dt.timedelta(minutes=1))}" NotOnOrAfter="{expires}">
      <{p}AudienceRestriction>
        <{p}Audience>{escape(audience)}</{p}Audience>
      </{p}AudienceRestriction>
    </{p}Conditions>
    <{p}AuthnStatement AuthnInstant="{authn}" SessionIndex="{session}">
      <{p}AuthnContext>
        <{p}AuthnContextClassRef>{context}</{p}AuthnContextClassRef>
      </{p}AuthnContext>
    </{p}AuthnStatement>
    <{p}AttributeStatement>{attrs}
    </{p}AttributeStatement>
  </{p}Assertion>"""


def response_xml(
    attributes: Iterable[Attr] | None = None,
    *,
    style: str = "okta",
    response_id: str = "id-response-1",
    assertions: Sequence[str] | None = None,
    destination: str = ACS,
    in_response_to: str | None = REQUEST_ID,
    status: str = "urn:oasis:names:tc:SAML:2.0:status:Success",
    now: dt.datetime = NOW,
    **assertion_args: Any,
) -> bytes:
    """A whole ``samlp:Response`` as the IdP posts it to /saml/acs."""
    if assertions is None:
        attrs = (
            attributes
            if attributes is not None
            else (okta_attributes() if style == "okta" else entra_attributes())
        )
        assertions = [
            assertion_xml(attrs, style=style, now=now, in_response_to=in_response_to, **assertion_args)
        ]
    pp, ap = ("saml2p:", "saml2:") if style == "okta" else ("samlp:", "")
    issuer = assertion_args.get("issuer") or (OKTA_ISSUER if style == "okta" else ENTRA_ISSUER)
    ns = (
        f'xmlns:saml2p="{SAMLP}" xmlns:xs="http://www.w3.org/2001/XMLSchema"'
        if style == "okta"
        else f'xmlns:samlp="{SAMLP}"'
    )
    issuer_ns = f' xmlns:saml2="{SAML}"' if style == "okta" else f' xmlns="{SAML}"'
    irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
    body = "\n  ".join(assertions)
    issued, dest = stamp(now - dt.timedelta(seconds=30)), quoteattr(destination)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{pp}Response {ns} Destination={dest} ID="{response_id}"{irt} IssueInstant="{issued}" Version="2.0">
  <{ap}Issuer{issuer_ns}>{escape(issuer)}</{ap}Issuer>
  <{pp}Status>
    <{pp}StatusCode Value="{status}"/>
  </{pp}Status>
  {body}
</{pp}Response>
""".encode()


# -- signing ------------------------------------------------------------------------------------------


def _signer(sha1: bool) -> Any:
    from signxml import algorithms
    from signxml.signer import XMLSigner

    class LegacySigner(XMLSigner):
        def check_deprecated_methods(self) -> None:  # signxml refuses to make SHA-1 signatures
            pass

    cls = LegacySigner if sha1 else XMLSigner
    return cls(
        signature_algorithm="rsa-sha1" if sha1 else "rsa-sha256",
        digest_algorithm="sha1" if sha1 else "sha256",
        c14n_algorithm=algorithms.CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )


def sign_element(el: etree._Element, pair: KeyPair, *, sha1: bool = False) -> etree._Element:
    """``el`` signed as IdPs do: enveloped, exclusive c14n, the Signature right after the Issuer."""
    data = etree.fromstring(etree.tostring(el))
    placeholder = etree.Element(f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
    issuer = data.find(f"{{{SAML}}}Issuer")
    data.insert(data.index(issuer) + 1 if issuer is not None else 0, placeholder)
    signed: etree._Element = _signer(sha1).sign(
        data, key=pair.key, cert=[pair.cert], reference_uri=f"#{el.get('ID')}"
    )
    return signed


def sign(xml: bytes, pair: KeyPair | None = None, *, target: str = "assertion", sha1: bool = False) -> bytes:
    """Sign the assertions (``assertion``), the Response (``response``) or both (``both``)."""
    pair = pair or keypair()
    root = etree.fromstring(xml)
    if target in ("assertion", "both"):
        for a in list(root.iterchildren(f"{{{SAML}}}Assertion")) or (
            [root] if root.tag.endswith("Assertion") else []
        ):
            signed = sign_element(a, pair, sha1=sha1)
            if a is root:
                root = signed
            else:
                root.replace(a, signed)
    if target in ("response", "both"):
        root = sign_element(root, pair, sha1=sha1)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# -- encrypting (XML-Enc 1.1, written out so that xmlsec is tested against an independent encoder) ---

AES_CBC = {"aes128-cbc": 16, "aes256-cbc": 32}
AES_GCM = {"aes128-gcm": 16, "aes256-gcm": 32}
KEY_TRANSPORT = {
    "rsa-oaep-mgf1p": f"{XENC}rsa-oaep-mgf1p",  # OAEP, SHA-1 digest and MGF1: the SAML default
    "rsa-oaep": f"{XENC11}rsa-oaep",  # OAEP with SHA-256 digest and MGF1-SHA-256 stated explicitly
}


def _data_uri(algorithm: str) -> str:
    return f"{XENC11 if algorithm in AES_GCM else XENC}{algorithm}"


def _encrypt_key(session_key: bytes, cert: x509.Certificate, transport: str) -> bytes:
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    digest = hashes.SHA1() if transport == "rsa-oaep-mgf1p" else hashes.SHA256()
    return public.encrypt(session_key, asym_padding.OAEP(asym_padding.MGF1(digest), digest, None))


def _encrypt_data(plain: bytes, algorithm: str) -> tuple[bytes, bytes]:
    """(session key, IV || ciphertext [|| tag]) for the XML-Enc algorithm."""
    if algorithm in AES_GCM:
        key = os.urandom(AES_GCM[algorithm])
        iv = os.urandom(12)
        return key, iv + AESGCM(key).encrypt(iv, plain, None)
    key = os.urandom(AES_CBC[algorithm])
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()  # a valid instance of XML-Enc's ISO 10126 padding
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return key, iv + encryptor.update(padded) + encryptor.finalize()


def _encrypted_key_xml(cipher: bytes, transport: str, key_id: str | None = None) -> str:
    ident = f' Id="{key_id}"' if key_id else ""
    if transport == "rsa-oaep-mgf1p":
        method = f'<ds:DigestMethod Algorithm="{DS}sha1"/>'
    else:
        method = (
            '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
            f'<xenc11:MGF xmlns:xenc11="{XENC11}" Algorithm="{XENC11}mgf1sha256"/>'
        )
    return (
        f'<xenc:EncryptedKey xmlns:xenc="{XENC}" xmlns:ds="{DS}"{ident}>'
        f'<xenc:EncryptionMethod Algorithm="{KEY_TRANSPORT[transport]}">{method}</xenc:EncryptionMethod>'
        f"<xenc:CipherData><xenc:CipherValue>{base64.b64encode(cipher).decode()}</xenc:CipherValue>"
        "</xenc:CipherData></xenc:EncryptedKey>"
    )


def encrypt(
    xml: bytes,
    cert: x509.Certificate,
    *,
    algorithm: str = "aes256-cbc",
    transport: str = "rsa-oaep-mgf1p",
    key_outside: bool = False,
) -> bytes:
    """Replace every Assertion child of the Response with an EncryptedAssertion to ``cert``.

    ``key_outside`` puts the EncryptedKey next to EncryptedData with a RetrievalMethod, as Entra and
    ADFS do, instead of inside its KeyInfo (Okta).
    """
    root = etree.fromstring(xml)
    for a in list(root.iterchildren(f"{{{SAML}}}Assertion")):
        session, cipher = _encrypt_data(etree.tostring(a), algorithm)
        key_xml = _encrypted_key_xml(
            _encrypt_key(session, cert, transport), transport, "ek-1" if key_outside else None
        )
        key_info = f'<ds:RetrievalMethod Type="{XENC}EncryptedKey" URI="#ek-1"/>' if key_outside else key_xml
        encrypted = etree.fromstring(
            f'<saml2:EncryptedAssertion xmlns:saml2="{SAML}">'
            f'<xenc:EncryptedData xmlns:xenc="{XENC}" xmlns:ds="{DS}" Type="{XENC}Element">'
            f'<xenc:EncryptionMethod Algorithm="{_data_uri(algorithm)}"/>'
            f"<ds:KeyInfo>{key_info}</ds:KeyInfo>"
            f"<xenc:CipherData><xenc:CipherValue>{base64.b64encode(cipher).decode()}</xenc:CipherValue>"
            f"</xenc:CipherData></xenc:EncryptedData>{key_xml if key_outside else ''}"
            "</saml2:EncryptedAssertion>"
        )
        root.replace(a, encrypted)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def b64(xml: bytes, *, wrap: int = 0) -> str:
    text = base64.b64encode(xml).decode()
    return "\n".join(text[i : i + wrap] for i in range(0, len(text), wrap)) if wrap else text


def deflate(xml: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(xml) + c.flush()


def form_body(xml: bytes, relay_state: str = "/d/abc?orgId=1") -> bytes:
    return urlencode({"SAMLResponse": b64(xml), "RelayState": relay_state}).encode()


def redirect_url(xml: bytes, parameter: str = "SAMLResponse") -> bytes:
    value = base64.b64encode(deflate(xml)).decode()
    return f"{ACS}?{parameter}={quote(value, safe='')}&RelayState=r1".encode()


def har(*requests: tuple[str, str, bytes | None]) -> bytes:
    """A HAR file as browser devtools export it; each request is (method, url, form body or None)."""
    entries = []
    for method, url, body in requests:
        request: dict[str, Any] = {"method": method, "url": url, "httpVersion": "HTTP/2", "headers": []}
        if "?" in url:
            from urllib.parse import parse_qsl, urlsplit

            request["queryString"] = [
                {"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
            ]
        if body is not None:
            text = body.decode()
            request["postData"] = {
                "mimeType": "application/x-www-form-urlencoded",
                "text": text,
                # Chrome leaves the values URL-encoded here.
                "params": [
                    {"name": k, "value": v} for k, _, v in (pair.partition("=") for pair in text.split("&"))
                ],
            }
        entries.append({"startedDateTime": "2026-06-01T11:59:30.000Z", "request": request, "response": {}})
    return json.dumps(
        {"log": {"version": "1.2", "creator": {"name": "WebInspector"}, "entries": entries}}
    ).encode()


def tracer(*requests: dict[str, Any]) -> bytes:
    """A SAML-tracer export: ``{"requests": [...]}`` with ``post`` pairs and/or the decoded ``saml``."""
    return json.dumps({"requests": list(requests), "timestamp": "2026-06-01T11:59:30.000Z"}).encode()


def every_form(xml: bytes) -> dict[str, bytes]:
    """The message in each input form capture.find_messages reads, keyed by the form it reports."""
    return {
        "xml": xml,
        "base64": b64(xml, wrap=76).encode(),
        "form-body": form_body(xml),
        "redirect-query": redirect_url(xml),
        "har": har(("POST", ACS, form_body(xml))),
        "saml-tracer": tracer({"method": "POST", "url": ACS, "post": [["SAMLResponse", b64(xml)]]}),
    }
