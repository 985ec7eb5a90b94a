"""The SAML Response/Assertion model gtool reasons about, and how it is read from XML.

The model keeps what Grafana (crewjam/saml v0.4.14) looks at: the Response envelope, each Assertion's
Issuer, Subject, Conditions, AuthnStatement and every AttributeStatement, which elements carry a
signature, and whether an EncryptedAssertion was present. Attribute values are kept exactly as sent
(crewjam does not trim ``AttributeValue`` character data); whether Grafana Enterprise trims is an
assumption the simulator names.

Reading is split in steps so each can fail with a clear message: :mod:`gtool.saml.capture` finds the
message in what the user captured, :func:`parse` reads the XML with :mod:`gtool.saml.xml`'s hardened
parser, :func:`verify` checks signatures (and rebuilds the model from signed content only), and
:func:`decrypt` opens an EncryptedAssertion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


class SamlError(ValueError):
    """The message cannot be read, verified or decrypted; ``message`` and ``hint`` are for the user."""

    def __init__(self, message: str, hint: str = "", line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.line = line


@dataclass(frozen=True)
class Attribute:
    """One ``<saml:Attribute>``; ``values`` are the AttributeValue texts exactly as sent (not trimmed)."""

    name: str
    values: tuple[str, ...]
    friendly_name: str | None = None
    name_format: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class SignatureInfo:
    """A ``<ds:Signature>`` found on the Response or an Assertion."""

    element: str  # "Response" | "Assertion"
    reference: str | None  # the Reference URI (#ID) it covers
    signature_method: str | None  # algorithm URI
    digest_method: str | None
    verified: bool | None = None  # None: not checked (no --idp-cert/--idp-metadata given)
    problem: str | None = None  # why verification failed
    sha1: bool = False  # RSA-SHA1 or SHA-1 digest: legacy, refused unless --allow-sha1


@dataclass(frozen=True)
class SubjectConfirmation:
    method: str | None
    recipient: str | None = None
    not_on_or_after: dt.datetime | None = None
    not_before: dt.datetime | None = None
    in_response_to: str | None = None


@dataclass(frozen=True)
class Conditions:
    not_before: dt.datetime | None = None
    not_on_or_after: dt.datetime | None = None
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assertion:
    id: str | None
    issuer: str | None
    issue_instant: dt.datetime | None = None
    name_id: str | None = None
    name_id_format: str | None = None
    subject_confirmations: tuple[SubjectConfirmation, ...] = ()
    conditions: Conditions | None = None
    session_index: str | None = None
    authn_instant: dt.datetime | None = None
    attributes: tuple[Attribute, ...] = ()  # from every AttributeStatement, in document order
    signature: SignatureInfo | None = None
    line: int | None = None

    def values(self, name: str, *, case_sensitive: bool = True) -> tuple[str, ...] | None:
        """Values of the attribute whose Name or FriendlyName is ``name`` (Grafana accepts either),
        across all AttributeStatements; ``None`` when no attribute has that name."""
        found: list[str] = []
        hit = False
        for a in self.attributes:
            names = (a.name, a.friendly_name or "")
            matches = name in names if case_sensitive else name.lower() in (n.lower() for n in names)
            if matches:
                hit = True
                found.extend(a.values)
        return tuple(found) if hit else None


@dataclass(frozen=True)
class Status:
    code: str | None
    sub_code: str | None = None
    message: str | None = None

    @property
    def success(self) -> bool:
        return self.code == "urn:oasis:names:tc:SAML:2.0:status:Success"


@dataclass(frozen=True)
class Response:
    """A ``samlp:Response`` (``kind="Response"``) or a bare ``saml:Assertion`` given on its own."""

    kind: str  # "Response" | "Assertion"
    assertions: tuple[Assertion, ...]
    id: str | None = None
    destination: str | None = None
    in_response_to: str | None = None
    issue_instant: dt.datetime | None = None
    issuer: str | None = None
    status: Status | None = None
    signature: SignatureInfo | None = None
    encrypted_assertions: int = 0  # EncryptedAssertion elements left encrypted
    decrypted: bool = False  # the assertion came out of an EncryptedAssertion
    verified_only: bool = False  # the model was rebuilt from signature-verified content only
    notes: tuple[str, ...] = field(default=())  # what the reader noticed on the way (for inspect)

    @property
    def assertion(self) -> Assertion | None:
        """The assertion Grafana uses: crewjam returns the first valid one."""
        return self.assertions[0] if self.assertions else None
