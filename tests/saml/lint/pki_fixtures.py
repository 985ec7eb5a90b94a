"""Keys, certificates and IdP metadata generated for tests: no private key is ever committed.

Keys are generated once per test session (``lru_cache``); certificates are cheap and made per case.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.saml.lint.cases import NOW

UTC = dt.UTC
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=UTC)
FAR_AHEAD = dt.datetime(2055, 1, 1, tzinfo=UTC)

REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

KeyFormat = Literal["pkcs8", "pkcs1", "sec1", "encrypted", "pkcs1-encrypted", "openssh", "der", "pkcs12"]


def rsa_key(n: int = 0) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key; ``n`` picks another one (for mismatch cases)."""
    return _rsa(n)


@cache
def _rsa(n: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@cache
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def make_cert(
    key: CertificateIssuerPrivateKeyTypes | None = None,
    *,
    not_before: dt.datetime = LONG_AGO,
    not_after: dt.datetime = FAR_AHEAD,
    cn: str = "grafana.example.com",
) -> x509.Certificate:
    """A self-signed certificate for ``key`` (default: :func:`rsa_key`)."""
    key = key if key is not None else rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, algorithm)
    )


def cert_pem(cert: x509.Certificate | None = None) -> bytes:
    return (cert if cert is not None else make_cert()).public_bytes(serialization.Encoding.PEM)


def cert_der(cert: x509.Certificate | None = None) -> bytes:
    return (cert if cert is not None else make_cert()).public_bytes(serialization.Encoding.DER)


def expiring_cert(days: float) -> x509.Certificate:
    """A certificate whose ``notAfter`` is ``days`` after :data:`NOW` (negative: before)."""
    return make_cert(not_after=NOW + dt.timedelta(days=days))


def key_bytes(key: object | None = None, fmt: KeyFormat = "pkcs8") -> bytes:
    """``key`` (default :func:`rsa_key`) serialized as a file would hold it."""
    k = key if key is not None else rsa_key()
    assert isinstance(k, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
    enc, fm = serialization.Encoding, serialization.PrivateFormat
    none = serialization.NoEncryption()
    secret = serialization.BestAvailableEncryption(b"passphrase")
    if fmt == "pkcs8":
        return k.private_bytes(enc.PEM, fm.PKCS8, none)
    if fmt in ("pkcs1", "sec1"):
        return k.private_bytes(enc.PEM, fm.TraditionalOpenSSL, none)
    if fmt == "encrypted":
        return k.private_bytes(enc.PEM, fm.PKCS8, secret)
    if fmt == "pkcs1-encrypted":
        return k.private_bytes(enc.PEM, fm.TraditionalOpenSSL, secret)
    if fmt == "openssh":
        return k.private_bytes(enc.PEM, fm.OpenSSH, none)
    if fmt == "der":
        return k.private_bytes(enc.DER, fm.PKCS8, none)
    return pkcs12.serialize_key_and_certificates(b"sp", k, make_cert(k), None, none)


def b64(data: bytes | str) -> str:
    """What `base64 -w0 file` prints."""
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def metadata(
    *,
    entity_id: str = "https://idp.example.com/saml",
    certs: Sequence[tuple[str | None, x509.Certificate | str]] | None = None,
    sso: Iterable[tuple[str, str]] = (
        (REDIRECT, "https://idp.example.com/sso"),
        (POST, "https://idp.example.com/sso"),
    ),
    slo: Iterable[tuple[str, str]] = ((REDIRECT, "https://idp.example.com/slo"),),
    valid_until: str | None = None,
    wrap: bool = False,
    idp: bool = True,
) -> bytes:
    """IdP metadata XML. ``certs`` = (use attribute or None, certificate or raw base64 text) pairs,
    default one long-valid signing certificate; ``wrap`` puts the entity in an ``EntitiesDescriptor``.
    """
    pairs = certs if certs is not None else [("signing", make_cert())]
    key_descriptors = []
    for use, cert in pairs:
        text = cert if isinstance(cert, str) else b64(cert_der(cert))
        use_attr = f' use="{use}"' if use is not None else ""
        key_descriptors.append(
            f'<md:KeyDescriptor{use_attr}><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            f"<ds:X509Data><ds:X509Certificate>{text}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
            "</md:KeyDescriptor>"
        )
    services = [f'<md:SingleLogoutService Binding="{b}" Location="{loc}"/>' for b, loc in slo]
    services += [f'<md:SingleSignOnService Binding="{b}" Location="{loc}"/>' for b, loc in sso]
    role = (
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        + "".join(key_descriptors)
        + "".join(services)
        + "</md:IDPSSODescriptor>"
        if idp
        else '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:AssertionConsumerService Binding="' + POST + '" Location="https://grafana.example.com/saml/acs" '
        'index="0"/></md:SPSSODescriptor>'
    )
    until = f' validUntil="{valid_until}"' if valid_until else ""
    ns = 'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
    if wrap:
        entity = f'<md:EntityDescriptor entityID="{entity_id}">{role}</md:EntityDescriptor>'
        doc = f"<md:EntitiesDescriptor {ns}{until}>{entity}</md:EntitiesDescriptor>"
    else:
        doc = f'<md:EntityDescriptor {ns} entityID="{entity_id}"{until}>{role}</md:EntityDescriptor>'
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doc + "\n").encode()
