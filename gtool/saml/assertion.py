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
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from lxml import etree


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
    # verify(): assertions no valid signature covers, as sent (untrusted). Kept only to say why they
    # were dropped (their ``signature`` carries the problem); never base a decision on their content.
    rejected: tuple[Assertion, ...] = ()

    @property
    def assertion(self) -> Assertion | None:
        """The assertion Grafana uses: crewjam returns the first valid one."""
        return self.assertions[0] if self.assertions else None


# -- reading ----------------------------------------------------------------------------------------
# lxml, cryptography, signxml and xmlsec are imported inside the functions that need them: `gtool saml
# lint` imports this module for the model alone and must start fast.

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"  # == gtool.saml.xml.SAML; that module imports lxml
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"

MAX_ATTRIBUTES = 10_000
MAX_VALUES = 10_000

_XML_HINT = "pass the message exactly as captured; a hand-copied message is often cut off"
_ROOT_HINT = (
    "pass the SAMLResponse the IdP posted to Grafana's /saml/acs; in a HAR or SAML-tracer capture, "
    "use --list and --index to pick it"
)
_WRONG_ROOTS = {
    (SAMLP, "AuthnRequest"): "this is the request Grafana sent, not the IdP's response",
    (SAMLP, "LogoutRequest"): "this is a single-logout request, not the IdP's login response",
    (SAMLP, "LogoutResponse"): "this is a single-logout response, not the IdP's login response",
    (SAML, "EncryptedAssertion"): "this is an EncryptedAssertion taken out of its Response",
    (MD, "EntityDescriptor"): "this is SAML metadata, not a message from a login",
    (MD, "EntitiesDescriptor"): "this is SAML metadata, not a message from a login",
}
# crewjam's RelaxedTime: RFC 3339 with optional fraction, or the same without a zone (read as UTC).
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?")
_SHA1 = re.compile(r"sha-?1(?!\d)", re.IGNORECASE)
_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+\.[^\s@<>\"']+")

Lines = Callable[["etree._Element"], "int | None"]


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _split(tag: object) -> tuple[str, str]:
    """(namespace, local name) of an lxml tag; ("", "") for comments and processing instructions."""
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _child(el: etree._Element | None, ns: str, name: str) -> etree._Element | None:
    return None if el is None else next(el.iterchildren(_tag(ns, name)), None)


def _children(el: etree._Element | None, ns: str, name: str) -> list[etree._Element]:
    return [] if el is None else list(el.iterchildren(_tag(ns, name)))


def _chardata(el: etree._Element | None) -> str | None:
    """The element's own character data, as Go's ``xml:",chardata"`` collects it: text between child
    elements and comments is concatenated, text inside children is not, nothing is trimmed."""
    if el is None:
        return None
    return (el.text or "") + "".join(child.tail or "" for child in el)


def _where(el: etree._Element, lines: Lines) -> str:
    line = lines(el)
    return f" (line {line})" if line else ""


def _time(el: etree._Element | None, attr: str, lines: Lines) -> dt.datetime | None:
    """An ``xs:dateTime`` attribute as an aware UTC datetime; empty or absent is ``None`` (crewjam: zero)."""
    if el is None:
        return None
    raw = el.get(attr)
    if not raw:
        return None
    m = _DATETIME.fullmatch(raw)
    try:
        if m is None:
            raise ValueError(raw)
        year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
        micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
        zone = m.group(8) or "Z"
        offset = dt.timedelta(0)
        if zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            offset = sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        stamp = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=dt.timezone(offset))
        return stamp.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        _, local = _split(el.tag)
        raise SamlError(
            f"{local}/@{attr} is not a valid xs:dateTime: {raw!r}{_where(el, lines)}",
            "SAML times look like 2026-06-01T12:00:00Z; Grafana rejects a message it cannot read",
            lines(el),
        ) from None


def is_sha1(algorithm: str | None) -> bool:
    """An XML-DSig algorithm URI based on SHA-1 (``rsa-sha1``, ``#sha1``)."""
    return bool(algorithm and _SHA1.search(algorithm))


def _signature(el: etree._Element, element: str) -> SignatureInfo | None:
    """The ``ds:Signature`` that is a direct child of ``el``: the only place crewjam looks for one."""
    sig = _child(el, DS, "Signature")
    if sig is None:
        return None
    signed_info = _child(sig, DS, "SignedInfo")
    reference = _child(signed_info, DS, "Reference")
    method = _child(signed_info, DS, "SignatureMethod")
    digest = _child(reference, DS, "DigestMethod")
    method_uri = method.get("Algorithm") if method is not None else None
    digest_uri = digest.get("Algorithm") if digest is not None else None
    return SignatureInfo(
        element=element,
        reference=reference.get("URI") if reference is not None else None,
        signature_method=method_uri,
        digest_method=digest_uri,
        sha1=is_sha1(method_uri) or is_sha1(digest_uri),
    )


def _confirmation(el: etree._Element, lines: Lines) -> SubjectConfirmation:
    data = _child(el, SAML, "SubjectConfirmationData")
    return SubjectConfirmation(
        method=el.get("Method"),
        recipient=data.get("Recipient") if data is not None else None,
        not_on_or_after=_time(data, "NotOnOrAfter", lines),
        not_before=_time(data, "NotBefore", lines),
        in_response_to=data.get("InResponseTo") if data is not None else None,
    )


def _conditions(el: etree._Element | None, lines: Lines) -> Conditions | None:
    if el is None:
        return None
    audiences = tuple(
        _chardata(a) or ""
        for r in _children(el, SAML, "AudienceRestriction")
        for a in _children(r, SAML, "Audience")
    )
    return Conditions(_time(el, "NotBefore", lines), _time(el, "NotOnOrAfter", lines), audiences)


def _attributes(el: etree._Element, lines: Lines) -> Iterator[Attribute]:
    for statement in _children(el, SAML, "AttributeStatement"):
        for a in _children(statement, SAML, "Attribute"):
            yield Attribute(
                name=a.get("Name", ""),
                values=tuple(_chardata(v) or "" for v in _children(a, SAML, "AttributeValue")),
                friendly_name=a.get("FriendlyName"),
                name_format=a.get("NameFormat"),
                line=lines(a),
            )


def _assertion(el: etree._Element, lines: Lines) -> Assertion:
    subject = _child(el, SAML, "Subject")
    name_id = _child(subject, SAML, "NameID")
    authn = _child(el, SAML, "AuthnStatement")
    return Assertion(
        id=el.get("ID"),
        issuer=_chardata(_child(el, SAML, "Issuer")),
        issue_instant=_time(el, "IssueInstant", lines),
        name_id=_chardata(name_id),
        name_id_format=name_id.get("Format") if name_id is not None else None,
        subject_confirmations=tuple(
            _confirmation(c, lines) for c in _children(subject, SAML, "SubjectConfirmation")
        ),
        conditions=_conditions(_child(el, SAML, "Conditions"), lines),
        session_index=authn.get("SessionIndex") if authn is not None else None,
        authn_instant=_time(authn, "AuthnInstant", lines),
        attributes=tuple(_attributes(el, lines)),
        signature=_signature(el, "Assertion"),
        line=lines(el),
    )


def _status(root: etree._Element) -> Status | None:
    status = _child(root, SAMLP, "Status")
    if status is None:
        return None
    code = _child(status, SAMLP, "StatusCode")
    sub = _child(code, SAMLP, "StatusCode")
    return Status(
        code=code.get("Value") if code is not None else None,
        sub_code=sub.get("Value") if sub is not None else None,
        message=_chardata(_child(status, SAMLP, "StatusMessage")),
    )


def _envelope(root: etree._Element, lines: Lines) -> dict[str, Any]:
    """The Response's own fields (everything but its assertions)."""
    return {
        "id": root.get("ID"),
        "destination": root.get("Destination"),
        "in_response_to": root.get("InResponseTo"),
        "issue_instant": _time(root, "IssueInstant", lines),
        "issuer": _chardata(_child(root, SAML, "Issuer")),
        "status": _status(root),
        "signature": _signature(root, "Response"),
        "encrypted_assertions": len(_children(root, SAML, "EncryptedAssertion")),
    }


def _structure_notes(root: etree._Element) -> list[str]:
    """What a reader should know about where assertions sit in a Response."""
    notes = []
    direct = _children(root, SAML, "Assertion")
    if len(direct) > 1:
        notes.append(
            f"the Response holds {len(direct)} assertions; Grafana uses the first valid one and ignores "
            "the rest"
        )
    for el in root.iter(_tag(SAML, "Assertion")):
        parent = el.getparent()
        if el is root or parent is root or parent is None:
            continue
        if any(
            _split(a.tag) in ((SAML, "Assertion"), (SAML, "EncryptedAssertion")) for a in el.iterancestors()
        ):
            continue  # an assertion inside another assertion's Advice is legitimate
        line = _source_lines(el)
        at = f" at line {line}" if line else ""
        notes.append(
            f"an Assertion{at} sits inside <{_split(parent.tag)[1]}> instead of "
            "directly in the Response: Grafana ignores it (moving a signed assertion like this is how "
            "signature-wrapping attacks hide it)"
        )
    encrypted = len(_children(root, SAML, "EncryptedAssertion"))
    if encrypted:
        notes.append(
            f"{encrypted} EncryptedAssertion{'s' if encrypted > 1 else ''} left encrypted: give the SP "
            "private key (Grafana's `private_key_path`) to read the assertion"
        )
    return notes


def _build(root: etree._Element, lines: Lines) -> Response:
    """The model of an already checked root (see :func:`_read`), every assertion as it stands."""
    if _split(root.tag) == (SAML, "Assertion"):
        return Response(kind="Assertion", assertions=(_assertion(root, lines),))
    return Response(
        kind="Response",
        assertions=tuple(_assertion(a, lines) for a in _children(root, SAML, "Assertion")),
        notes=tuple(_structure_notes(root)),
        **_envelope(root, lines),
    )


def _source_lines(el: etree._Element) -> int | None:
    line = el.sourceline
    return line if isinstance(line, int) else None


def _check_root(root: etree._Element, what: str) -> None:
    ns, local = _split(root.tag)
    if (ns, local) in ((SAMLP, "Response"), (SAML, "Assertion")):
        return
    shown = f"{root.prefix}:{local}" if root.prefix else local
    if (ns, local) in _WRONG_ROOTS:
        reason = _WRONG_ROOTS[ns, local]
    elif local in ("Response", "Assertion"):
        version = " (SAML 1.x: Grafana speaks SAML 2.0 only)" if ":SAML:1." in ns else ""
        reason = f"a <{local}> in namespace {ns or '(none)'!r}, not the SAML 2.0 one{version}"
    elif local.lower() == "html":
        reason = "a web page, not a SAML message"
    else:
        reason = "not a SAML login message"
    raise SamlError(
        f"{what}: the root element is <{shown}>: {reason}; expected a samlp:Response or a saml:Assertion",
        _ROOT_HINT,
        _source_lines(root),
    )


def _check_caps(root: etree._Element, what: str) -> None:
    for name, limit, label in (
        ("Attribute", MAX_ATTRIBUTES, "attributes"),
        ("AttributeValue", MAX_VALUES, "attribute values"),
    ):
        if next(islice(root.iter(_tag(SAML, name)), limit, None), None) is not None:
            raise SamlError(
                f"{what} holds more than {limit:,} {label}; refusing to read it",
                "no IdP sends that many: this message was crafted or is not a real login response",
            )


def _read(xml: bytes, what: str) -> etree._Element:
    """Parse with the hardened parser and check the root and the size caps."""
    from gtool.saml.xml import XmlError, parse_xml

    try:
        root = parse_xml(xml, what=what)
    except XmlError as exc:
        hint = (
            "SAML messages never contain a DOCTYPE: this input is not what an IdP sends"
            if "DOCTYPE" in exc.message
            else _XML_HINT
        )
        raise SamlError(exc.message, hint, exc.line) from None
    _check_root(root, what)
    _check_caps(root, what)
    return root


def parse(xml: bytes, *, what: str = "SAML message") -> Response:
    """Read a ``samlp:Response`` or a bare ``saml:Assertion`` (any prefixes), without checking signatures.

    Everything is read as sent: use :func:`verify` before trusting any of it. Raises :class:`SamlError`
    for XML gtool refuses (see :mod:`gtool.saml.xml`), another kind of message, a malformed time, or more
    than :data:`MAX_ATTRIBUTES` attributes or :data:`MAX_VALUES` values.
    """
    return _build(_read(xml, what), _source_lines)


# -- verifying --------------------------------------------------------------------------------------


def _certificates(certs: list[bytes]) -> list[Certificate]:
    """Every certificate in the given PEM (or DER) blobs; :class:`SamlError` when there is none."""
    from gtool.saml import pki

    out: list[Certificate] = []
    for i, blob in enumerate(certs, 1):
        blocks = pki.split_pem(blob)
        ders = [
            b.der for b in blocks if b.label in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
        ]
        if not blocks and pki.sniff_der(blob):
            ders = [blob]
        if not ders:
            found = "a private key, not a certificate" if any(b.is_private_key for b in blocks) else None
            raise SamlError(
                f"IdP certificate {i}: {found or 'no PEM certificate found'}",
                "give the IdP's signing certificate (-----BEGIN CERTIFICATE-----), e.g. from its metadata",
            )
        for der in ders:
            try:
                if der is None:
                    raise pki.PkiError("the PEM body is not valid base64")
                out.append(pki.load_certificate(der))
            except pki.PkiError as exc:
                raise SamlError(f"IdP certificate {i}: {exc}", "export the certificate again") from None
    if not out:
        raise SamlError(
            "no IdP certificate to verify the signatures with",
            "give the IdP's signing certificate, or its metadata",
        )
    return out


def _describe_failure(exc: Exception, count: int) -> tuple[int, str]:
    """(rank, text) for a signxml failure; the lowest rank is the most telling across several certs."""
    from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature

    text = str(exc).strip()
    if isinstance(exc, InvalidDigest):
        return 0, "the signed content was changed after it was signed (digest mismatch)"
    if isinstance(exc, InvalidCertificate):
        return 2, f"the IdP certificate is not usable: {text}"
    if isinstance(exc, InvalidSignature):
        which = "the IdP certificate given" if count == 1 else f"any of the {count} IdP certificates given"
        return 3, (
            f"the signature does not match {which} (signed with another key, or its SignedInfo was changed)"
        )
    if isinstance(exc, InvalidInput):
        if text.startswith("Ambiguous reference URI"):
            return 1, f"{text}: duplicate IDs, a signature-wrapping attempt"
        if text.startswith("Unable to resolve reference URI"):
            return 1, f"{text}: the signature refers to an element outside the one it is on"
        return 1, f"the signature cannot be checked: {text}"
    return 1, f"the signature cannot be checked: {text or type(exc).__name__}"


def _legacy(info: SignatureInfo) -> str:
    if is_sha1(info.signature_method):
        fragment = (info.signature_method or "").rpartition("#")[2].upper()
        return f"signed with {fragment or 'SHA-1'} (legacy)"
    return "signed with SHA-1 digests (legacy)"


@dataclass
class _Checker:
    """Checks one ``ds:Signature`` at a time against the trusted certificates, the way crewjam does:
    the signature must be a direct child of the element and its reference must be that element."""

    certs: list[Certificate]
    allow_sha1: bool
    now: dt.datetime | None
    notes: list[str] = field(default_factory=list)

    def check(self, el: etree._Element, element: str) -> tuple[SignatureInfo, etree._Element | None]:
        """The signature's status, and the signed element as signxml returns it (None if not valid)."""
        info = _signature(el, element)
        assert info is not None, "only called for signed elements"
        if info.sha1 and not self.allow_sha1:
            return replace(
                info, verified=False, problem=f"{_legacy(info)}; refused unless SHA-1 is explicitly allowed"
            ), None
        from lxml import etree

        # The element on its own, as crewjam checks it (NSDetatch): a reference can only reach inside it.
        data = etree.tostring(el)
        failures = []
        for cert in self.certs:
            try:
                signed = self._verify(data, cert)
            except Exception as exc:  # signxml raises many kinds on hostile input; each is a finding
                failures.append(_describe_failure(exc, len(self.certs)))
                continue
            covered = self._covers(signed, el)
            if covered is not None:
                return replace(info, verified=False, problem=covered), None
            if info.sha1:
                self.notes.append(
                    f"the {element} signature is {_legacy(info)}; verified because SHA-1 was allowed"
                )
            return replace(info, verified=True), signed
        return replace(info, verified=False, problem=min(failures)[1]), None

    def _verify(self, data: bytes, cert: Certificate) -> etree._Element | None:
        from lxml import etree
        from signxml.algorithms import DigestAlgorithm, SignatureMethod
        from signxml.verifier import SignatureConfiguration, XMLVerifier

        config = SignatureConfiguration(
            location="./",
            expect_references=1,
            ignore_ambiguous_key_info=True,  # trust comes from our certificate, never from KeyInfo
            verification_time=self.now,
        )
        if self.allow_sha1:
            config = replace(
                config,
                signature_methods=frozenset(SignatureMethod),
                digest_algorithms=frozenset(DigestAlgorithm),
            )
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        result = XMLVerifier().verify(data, x509_cert=cert, parser=parser, expect_config=config)
        if isinstance(result, list):  # only with expect_references != 1
            raise ValueError("a signature with more than one reference")
        return result.signed_xml

    @staticmethod
    def _covers(signed: etree._Element | None, el: etree._Element) -> str | None:
        """Why the signed content is not ``el`` itself, or None when it is (goxmldsig: URI == #ID)."""
        if signed is None:
            return "the signature covers content that is not XML"
        if signed.tag == el.tag and signed.get("ID") == el.get("ID"):
            return None
        _, local = _split(signed.tag)
        ident = signed.get("ID") or signed.get("Id") or signed.get("id")
        return (
            f"the signature is valid but covers <{local}{f' ID={ident!r}' if ident else ''}>, not the "
            f"<{_split(el.tag)[1]}> it sits on (signature wrapping): ignored"
        )


def _pair_lines(
    original: etree._Element, signed: etree._Element, out: dict[etree._Element, int | None]
) -> None:
    """Map elements of the re-parsed signed content to their lines in the original input.

    They are the same elements (the digests match) except for the enveloped signature, which the
    signed content lacks; pairing stops at the first element that differs.
    """
    out[signed] = _source_lines(original)
    theirs = [c for c in original if isinstance(c.tag, str)]
    i = 0
    for child in signed:
        if not isinstance(child.tag, str):
            continue
        while i < len(theirs) and theirs[i].tag != child.tag:
            i += 1
        if i == len(theirs):
            return
        _pair_lines(theirs[i], child, out)
        i += 1


def _lines_from(original: etree._Element, signed: etree._Element) -> Lines:
    table: dict[etree._Element, int | None] = {}
    _pair_lines(original, signed, table)
    return lambda el: table.get(el)


def _label(el: etree._Element, lines: Lines) -> str:
    ident = el.get("ID")
    return f"assertion{f' {ident!r}' if ident else ''}{_where(el, lines)}"


def verify(
    xml: bytes,
    certs: list[bytes],
    *,
    allow_sha1: bool = False,
    sp_key_pem: bytes | None = None,
    now: dt.datetime | None = None,
    what: str = "SAML message",
) -> Response:
    """Check the signatures against the IdP certificate(s) and return a model of the signed content only.

    crewjam's rule: when the Response carries a valid signature its assertions need not be signed;
    otherwise every assertion must carry its own valid signature. An assertion that no valid signature
    covers is dropped (kept in ``rejected`` with the reason, for explaining only) and a note says so.
    Assertions and a signed Response are rebuilt from what signxml returns as signed, never from the
    input tree (signature wrapping). An unsigned Response envelope (ID, Destination, Issuer, Status) is
    read as sent, as Grafana reads it, with a note.

    ``sp_key_pem`` decrypts EncryptedAssertions after the Response signature was checked (that
    signature covers the encrypted form), then checks the decrypted assertions' own signatures.
    ``now`` is the time certificates must be valid at (default: now). A failed verification is not an
    exception: see each ``signature.verified`` / ``problem`` and the notes. :class:`SamlError` is raised
    for input :func:`parse` refuses, unusable certificates, or a decryption failure.
    """
    try:
        import signxml  # noqa: F401
    except ImportError:
        raise SamlError(
            "verifying signatures needs signxml, which is not installed", "pip install signxml"
        ) from None
    checker = _Checker(_certificates(certs), allow_sha1, now)
    root = _read(xml, what)
    if _split(root.tag) == (SAML, "Assertion"):
        kept, rejected = _verify_assertions([root], checker, covered=False, lines=_source_lines)
        return Response(
            kind="Assertion",
            assertions=tuple(kept),
            rejected=tuple(rejected),
            verified_only=True,
            notes=tuple(checker.notes),
        )
    notes = _structure_notes(root)
    response_sig: SignatureInfo | None = None
    base: etree._Element = root
    lines: Lines = _source_lines
    if _child(root, DS, "Signature") is not None:
        response_sig, signed_root = checker.check(root, "Response")
        if signed_root is not None:
            base, lines = signed_root, _lines_from(root, signed_root)
        else:
            checker.notes.append(
                f"the Response signature is not valid ({response_sig.problem}): Grafana rejects this response"
            )
    if base is root:
        checker.notes.append(
            "the Response envelope (Destination, Issuer, Status, InResponseTo) is not covered by a valid "
            "signature: it is shown as sent, as Grafana reads it"
        )
    decrypted = False
    if sp_key_pem is not None and _children(base, SAML, "EncryptedAssertion"):
        _decrypt_tree(base, sp_key_pem)
        _check_caps(base, what)
        decrypted = True
        notes = [n for n in notes if "left encrypted" not in n]
    kept, rejected = _verify_assertions(
        _children(base, SAML, "Assertion"), checker, covered=base is not root, lines=lines
    )
    envelope = _envelope(base, lines)
    envelope["signature"] = response_sig
    return Response(
        kind="Response",
        assertions=tuple(kept),
        rejected=tuple(rejected),
        decrypted=decrypted,
        verified_only=True,
        notes=tuple(notes + checker.notes),
        **envelope,
    )


def _verify_assertions(
    elements: list[etree._Element], checker: _Checker, *, covered: bool, lines: Lines
) -> tuple[list[Assertion], list[Assertion]]:
    """Split assertions into kept (signed content) and rejected.

    ``covered``: they sit in a Response whose valid signature covers them.
    """
    kept: list[Assertion] = []
    rejected: list[Assertion] = []
    for el in elements:
        info: SignatureInfo | None = None
        signed: etree._Element | None = None
        if _child(el, DS, "Signature") is not None:
            info, signed = checker.check(el, "Assertion")
        label = _label(el, lines)
        if covered:
            # The Response signature covers this element: el already is signed content.
            kept.append(replace(_assertion(el, lines), signature=info))
            if info is not None and not info.verified:
                checker.notes.append(
                    f"{label}: its own signature is not valid ({info.problem}); Grafana rejects a response "
                    "whose signatures do not all verify"
                )
        elif signed is not None:
            kept.append(replace(_assertion(signed, _lines_from(el, signed)), signature=info))
        else:
            rejected.append(replace(_assertion(el, lines), signature=info))
            why = "it is not signed" if info is None else f"its signature is not valid ({info.problem})"
            checker.notes.append(
                f"{label} dropped: {why} and no valid Response signature covers it; Grafana would refuse it"
            )
    return kept, rejected


def certs_from_metadata(data: bytes) -> list[bytes]:
    """The IdP signing certificates (PEM) in SAML metadata, as crewjam picks them: every X509Certificate
    of a ``KeyDescriptor`` with ``use="signing"`` or no ``use``, in the entity crewjam would use."""
    from gtool.saml import pki
    from gtool.saml.xml import XmlError, parse_xml

    hint = "download the IdP's SAML 2.0 metadata again from its admin console"
    try:
        root = parse_xml(data, what="IdP metadata")
    except XmlError as exc:
        raise SamlError(exc.message, hint, exc.line) from None
    entity = _idp_entity(root)
    if entity is None:
        raise SamlError(
            f"the IdP metadata has a <{_split(root.tag)[1]}> root with no EntityDescriptor holding an "
            "IDPSSODescriptor",
            hint,
        )
    out = []
    path = f"{_tag(DS, 'KeyInfo')}/{_tag(DS, 'X509Data')}/{_tag(DS, 'X509Certificate')}"
    for idp in _children(entity, MD, "IDPSSODescriptor"):
        for kd in _children(idp, MD, "KeyDescriptor"):
            if kd.get("use", "") not in ("", "signing"):
                continue
            for el in kd.iterfind(path):
                try:
                    cert = pki.certificate_from_base64(el.text or "")
                except pki.PkiError as exc:
                    raise SamlError(
                        f"IdP metadata{_where(el, _source_lines)}: {exc}", hint, _source_lines(el)
                    ) from None
                from cryptography.hazmat.primitives.serialization import Encoding

                out.append(cert.public_bytes(Encoding.PEM))
    return out


def _idp_entity(root: etree._Element) -> etree._Element | None:
    """crewjam ``ParseMetadata``: an EntityDescriptor, or the first one with an IDPSSODescriptor."""
    ns, local = _split(root.tag)
    if ns != MD:
        return None
    if local == "EntityDescriptor":
        return root if _child(root, MD, "IDPSSODescriptor") is not None else None
    if local == "EntitiesDescriptor":
        return next(
            (
                e
                for e in _children(root, MD, "EntityDescriptor")
                if _child(e, MD, "IDPSSODescriptor") is not None
            ),
            None,
        )
    return None


# -- decrypting -------------------------------------------------------------------------------------

_DECRYPT_EXTRA = "decrypting needs the optional extra: pip install 'gtool[decrypt]'"


def _xmlsec() -> Any:
    import importlib

    try:
        return importlib.import_module("xmlsec")
    except ImportError:
        raise SamlError(
            _DECRYPT_EXTRA,
            "xmlsec must be built against the same libxml2 as lxml; the extra pins a matching version",
        ) from None
    except Exception as exc:  # xmlsec refuses to load when its libxml2 differs from lxml's
        raise SamlError(
            f"{_DECRYPT_EXTRA} (xmlsec is installed but does not load: {exc})",
            "reinstall with the versions gtool pins: pip install --force-reinstall 'gtool[decrypt]'",
        ) from None


def _sp_key(xmlsec: Any, pem: bytes) -> Any:
    from gtool.saml import pki

    blocks = pki.split_pem(pem)
    hint = "give Grafana's SP private key (`private_key_path`, -----BEGIN PRIVATE KEY-----)"
    if not any(b.is_private_key for b in blocks):
        what = "a certificate" if any(b.label == "CERTIFICATE" for b in blocks) else "no PEM private key"
        raise SamlError(f"the SP key file holds {what}, not the SP private key", hint)
    if any(b.encrypted for b in blocks if b.is_private_key):
        raise SamlError(
            "the SP private key is encrypted with a passphrase", "decrypt it first: openssl pkey -in sp.key"
        )
    try:
        return xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatPem, None)
    except Exception as exc:  # xmlsec.Error, or anything its C layer reports
        raise SamlError(f"cannot read the SP private key: {exc}", hint) from None


def _attach_sibling_keys(encrypted: etree._Element, data: etree._Element) -> None:
    """Entra/ADFS put the EncryptedKey next to EncryptedData (referenced by RetrievalMethod) rather than
    inside its KeyInfo, where xmlsec looks: move a copy in."""
    import copy

    from lxml import etree

    keys = _children(encrypted, XENC, "EncryptedKey")
    key_info = _child(data, DS, "KeyInfo")
    if not keys or (key_info is not None and _child(key_info, XENC, "EncryptedKey") is not None):
        return
    if key_info is None:
        key_info = etree.Element(_tag(DS, "KeyInfo"))
        method = _child(data, XENC, "EncryptionMethod")
        data.insert(1 if method is not None else 0, key_info)
    for retrieval in _children(key_info, DS, "RetrievalMethod"):
        key_info.remove(retrieval)
    key_info.append(copy.deepcopy(keys[0]))


def _decrypt_tree(root: etree._Element, sp_key_pem: bytes) -> int:
    """Replace each EncryptedAssertion child of ``root`` with the Assertion inside, in place."""
    from lxml import etree

    encrypted = _children(root, SAML, "EncryptedAssertion")
    if not encrypted:
        return 0
    xmlsec = _xmlsec()
    key = _sp_key(xmlsec, sp_key_pem)
    for ea in encrypted:
        data = _child(ea, XENC, "EncryptedData")
        if data is None:
            raise SamlError(
                f"the EncryptedAssertion{_where(ea, _source_lines)} holds no xenc:EncryptedData",
                _XML_HINT,
                _source_lines(ea),
            )
        _attach_sibling_keys(ea, data)
        manager = xmlsec.KeysManager()
        manager.add_key(key)
        try:
            plain = xmlsec.EncryptionContext(manager).decrypt(data)
        except Exception as exc:  # xmlsec.Error and its subclasses, whatever the cause
            raise SamlError(
                f"cannot decrypt the EncryptedAssertion with this key ({exc})",
                "use the private key of the certificate the IdP encrypts to (Grafana's `private_key_path`, "
                "matching `certificate_path`)",
            ) from None
        if not isinstance(plain, etree._Element) or _split(plain.tag) != (SAML, "Assertion"):
            raise SamlError("the EncryptedAssertion does not hold a saml:Assertion", _XML_HINT)
        root.replace(ea, plain)
    return len(encrypted)


def decrypt(xml: bytes, sp_key_pem: bytes) -> bytes:
    """The message with each EncryptedAssertion replaced by the Assertion inside (xmlsec, optional extra).

    Input without an EncryptedAssertion is returned unchanged. A Response signature covers the
    encrypted form, so it no longer verifies on the output: to verify and decrypt, use
    ``verify(xml, certs, sp_key_pem=...)``. Signatures inside the decrypted assertions do verify.
    """
    root = _read(xml, "SAML message")
    if not _children(root, SAML, "EncryptedAssertion"):
        return xml
    from lxml import etree

    _decrypt_tree(root, sp_key_pem)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


# -- redacting --------------------------------------------------------------------------------------


def _masker(salt: bytes) -> Callable[[str], str]:
    def mask(value: str) -> str:
        core = value.strip()
        if not core:
            return value  # empty and whitespace-only values stay visible: they matter for mapping
        lead = value[: len(value) - len(value.lstrip())]
        trail = value[len(value.rstrip()) :]
        digest = hmac.new(salt, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:6]
        return f"{lead}[redacted {len(core)} chars #{digest}]{trail}"

    return mask


def redact(response: Response, *, salt: bytes | None = None) -> Response:
    """A copy safe to share: NameID, SessionIndex and every attribute value masked, emails elsewhere too.

    A mask keeps the length, the surrounding whitespace (crewjam does not trim, so it matters) and a
    short keyed hash, so equal values still look equal. The key is random per call unless ``salt`` is
    given: the hashes cannot be matched against guesses.
    """
    mask = _masker(salt if salt is not None else os.urandom(16))

    def emails(text: str | None) -> str | None:
        return None if text is None else _EMAIL.sub(lambda m: mask(m.group(0)), text)

    def one(a: Assertion) -> Assertion:
        return replace(
            a,
            issuer=emails(a.issuer),
            name_id=None if a.name_id is None else mask(a.name_id),
            session_index=None if a.session_index is None else mask(a.session_index),
            subject_confirmations=tuple(
                replace(c, recipient=emails(c.recipient)) for c in a.subject_confirmations
            ),
            conditions=None
            if a.conditions is None
            else replace(a.conditions, audiences=tuple(emails(x) or "" for x in a.conditions.audiences)),
            attributes=tuple(replace(x, values=tuple(mask(v) for v in x.values)) for x in a.attributes),
        )

    status = response.status
    return replace(
        response,
        assertions=tuple(one(a) for a in response.assertions),
        rejected=tuple(one(a) for a in response.rejected),
        issuer=emails(response.issuer),
        destination=emails(response.destination),
        status=None if status is None else replace(status, message=emails(status.message)),
        notes=tuple(emails(n) or "" for n in response.notes),
    )
