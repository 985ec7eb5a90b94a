"""PEM, X.509 and private-key helpers for the certificate and metadata rules.

Splitting PEM blocks and sniffing DER needs nothing but the standard library. Everything that parses
a certificate or a key imports ``cryptography`` inside the function: it costs tens of milliseconds
at import, and ``gtool saml lint`` only pays for it when a configuration actually holds a cert or key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
    from cryptography.x509 import Certificate

__all__ = [
    "KEY_LABELS",
    "PKCS8",
    "PemBlock",
    "PkiError",
    "b64decode_strict",
    "certificate_from_base64",
    "describe_certificate",
    "is_rsa",
    "key_matches_certificate",
    "key_type",
    "load_certificate",
    "load_private_key",
    "not_valid_after",
    "sniff_der",
    "split_pem",
]

PKCS8 = "PRIVATE KEY"
ENCRYPTED_PKCS8 = "ENCRYPTED PRIVATE KEY"
# Labels a private key PEM can carry; only PKCS#8 "PRIVATE KEY" is what Grafana accepts.
KEY_LABELS = {
    PKCS8: "PKCS#8",
    ENCRYPTED_PKCS8: "encrypted PKCS#8",
    "RSA PRIVATE KEY": "PKCS#1 (traditional OpenSSL RSA)",
    "EC PRIVATE KEY": "SEC1 (traditional OpenSSL EC)",
    "DSA PRIVATE KEY": "traditional OpenSSL DSA",
    "OPENSSH PRIVATE KEY": "OpenSSH",
}

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_HEADER = re.compile(r"^([A-Za-z-]+):\s*(.*)$")


class PkiError(ValueError):
    """A certificate or key that does not parse; the message says what is wrong, in words."""


@dataclass(frozen=True)
class PemBlock:
    label: str  # CERTIFICATE, PRIVATE KEY, RSA PRIVATE KEY, ...
    der: bytes | None  # None when the body is not valid base64
    headers: dict[str, str] = field(default_factory=dict)  # RFC 1421 (Proc-Type, DEK-Info)
    pem: bytes = b""  # the block as written, BEGIN to END line

    @property
    def encrypted(self) -> bool:
        """Encrypted PKCS#8, or a traditional key with ``Proc-Type: 4,ENCRYPTED``."""
        return self.label == ENCRYPTED_PKCS8 or "ENCRYPTED" in self.headers.get("Proc-Type", "")

    @property
    def is_private_key(self) -> bool:
        return self.label in KEY_LABELS or self.label.endswith("PRIVATE KEY")


def split_pem(data: bytes) -> list[PemBlock]:
    """Every ``-----BEGIN X-----`` … ``-----END X-----`` block, in order; text around them is ignored."""
    blocks = []
    for m in _PEM.finditer(data):
        label = m.group(1).decode("ascii")
        headers: dict[str, str] = {}
        body_lines: list[str] = []
        for raw in m.group(2).decode("ascii", errors="replace").splitlines():
            line = raw.strip()
            header = _HEADER.match(line) if not body_lines else None
            if header:
                headers[header.group(1)] = header.group(2)
            elif line:
                body_lines.append(line)
        try:
            der: bytes | None = base64.b64decode("".join(body_lines), validate=True)
        except (binascii.Error, ValueError):
            der = None
        blocks.append(PemBlock(label, der or None, headers, m.group(0)))
    return blocks


def b64decode_strict(text: str) -> bytes | None:
    """Go ``base64.StdEncoding.DecodeString``: standard alphabet, padding required; CR and LF are
    skipped, any other character (spaces, ``-``/``_``) is an error. ``None`` when it does not decode.
    """
    cleaned = text.replace("\r", "").replace("\n", "")
    if not cleaned:
        return None
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return None


def _tlv(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, start of value, end of value) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        return None
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            return None
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        return None
    return tag, pos, pos + length


def sniff_der(data: bytes) -> str | None:
    """What a binary (DER) blob looks like: ``pkcs12``, ``private key``, ``encrypted private key``,
    ``certificate``, or ``None``. A sniff of the first ASN.1 elements, enough to give good advice.
    """
    outer = _tlv(data, 0)
    if outer is None or outer[0] != 0x30:
        return None
    first = _tlv(data, outer[1])
    if first is None:
        return None
    tag, start, end = first
    if tag == 0x02:  # INTEGER: PFX version 3, or a key's version 0/1
        version = int.from_bytes(data[start:end], "big")
        if version == 3:
            return "pkcs12"
        return "private key" if version in (0, 1) else None
    if tag == 0x30:
        inner = _tlv(data, start)
        if inner is None:
            return None
        # EncryptedPrivateKeyInfo starts with an AlgorithmIdentifier (an OID); a TBSCertificate does not.
        return "encrypted private key" if inner[0] == 0x06 else "certificate"
    return None


def load_certificate(der: bytes) -> Certificate:
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise PkiError(f"not a valid X.509 certificate ({exc})") from None


def certificate_from_base64(text: str) -> Certificate:
    """A certificate as metadata carries it: base64 DER, whitespace anywhere (crewjam strips it)."""
    der = b64decode_strict(re.sub(r"\s+", "", text))
    if der is None:
        raise PkiError("the X509Certificate text is not valid base64")
    return load_certificate(der)


def load_private_key(block: PemBlock) -> PrivateKeyTypes:
    """An unencrypted private key from any PEM label (PKCS#8, PKCS#1, SEC1, OpenSSH)."""
    if block.der is None:
        raise PkiError("the PEM body is not valid base64")
    if block.encrypted:
        raise PkiError("the key is encrypted with a passphrase")
    return _load_private_key(block.label, block.pem, block.der)


@functools.lru_cache(maxsize=64)
def _load_private_key(label: str, pem: bytes, der: bytes) -> PrivateKeyTypes:
    # Several rules read the same key; loading it once per process keeps a 1,000-file run fast.
    from cryptography.hazmat.primitives import serialization

    try:
        if label == "OPENSSH PRIVATE KEY":
            return serialization.load_ssh_private_key(pem, None)
        # The RSA consistency check costs ~30 ms per 2048-bit key; a key that does not belong to its
        # certificate is still caught by CERT-003's public-key comparison.
        return serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"the key does not parse ({exc})") from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for exotic keys
        raise PkiError(f"unsupported key ({exc})") from None


def key_type(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    """``RSA 2048``, ``EC secp256r1``, ``Ed25519`` …"""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    named: list[tuple[type, str]] = [
        (ed25519.Ed25519PrivateKey, "Ed25519"),
        (ed25519.Ed25519PublicKey, "Ed25519"),
        (ed448.Ed448PrivateKey, "Ed448"),
        (ed448.Ed448PublicKey, "Ed448"),
        (x25519.X25519PrivateKey, "X25519"),
        (x25519.X25519PublicKey, "X25519"),
        (x448.X448PrivateKey, "X448"),
        (x448.X448PublicKey, "X448"),
    ]
    return next((name for cls, name in named if isinstance(key, cls)), type(key).__name__)


def is_rsa(key: PrivateKeyTypes | PublicKeyTypes) -> bool:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey)


def key_matches_certificate(key: PrivateKeyTypes, cert: Certificate) -> bool:
    """Whether the key's public half is the certificate's public key (compared as SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization

    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        return bool(key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki))
    except ValueError:  # a certificate whose public key cryptography cannot load
        return False


def not_valid_after(cert: Certificate) -> dt.datetime:
    """The end of the validity period, timezone-aware UTC."""
    return cert.not_valid_after_utc


def describe_certificate(cert: Certificate) -> str:
    """``CN=grafana.example.com`` (the subject), for messages."""
    try:
        return cert.subject.rfc4514_string() or "(empty subject)"
    except ValueError:
        return "(unreadable subject)"
