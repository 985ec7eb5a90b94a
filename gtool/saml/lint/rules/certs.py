"""CERT rules: the SP certificate and private key (saml-reference.md §1, §10 CERT-001…CERT-007).

Each of ``certificate``/``private_key`` (base64 of the PEM file) and ``certificate_path``/``private_key_path``
is read on its own; a value an SSO settings record redacted, or one whose ``$__file{}``/``${}`` reference
did not resolve (INI-009), is not checked. Where both forms are set (REQ-003), the pairwise checks
(CERT-003, CERT-005) use the inline value: which one Grafana Enterprise prefers is not public [U].
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from gtool.saml import pki
from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.settings import Setting

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
    from cryptography.x509 import Certificate

CERT, KEY = "certificate", "private_key"
EXPIRY_WARNING_DAYS = 30
_PATH_LIKE = re.compile(r"^(/|\./|\.\./|~|[A-Za-z]:[\\/])|\.(pem|crt|cer|key|der|p12|pfx)$", re.IGNORECASE)
_TO_PKCS8 = "openssl pkcs8 -topk8 -nocrypt -in {src} -out {dst}"


@dataclass(frozen=True)
class Material:
    """The bytes behind one certificate/key setting, or why there are none."""

    setting: Setting
    inline: bool
    data: bytes | None
    problem: str | None = None  # raw-pem | not-base64 | the OS error of a *_path file
    resolved: str = ""  # the file a *_path value names, resolved as gtool read it

    @property
    def key(self) -> str:
        return self.setting.key

    @property
    def where(self) -> str:
        return f"`{self.key}`" if self.inline else f"`{self.key}` file {self.resolved}"

    @property
    def file_name(self) -> str:
        """A file name for command hints: the configured one, or a placeholder for inline values."""
        if self.inline:
            return "key.pem" if self.key == KEY else "sp.crt"
        return self.setting.value


def usable(setting: Setting | None) -> bool:
    """Whether a value is worth checking: set, not redacted by the SSO API, fully expanded."""
    return (
        setting is not None
        and setting.value != ""
        and not setting.redacted
        and all(e.resolved for e in setting.expansions)
    )


def materials(ctx: LintContext, kind: str) -> list[Material]:
    """The inline and the ``*_path`` form of ``certificate`` or ``private_key``, where set."""
    out = []
    inline = ctx.setting(kind)
    if inline is not None and usable(inline):
        value = inline.value
        if value.lstrip().startswith("-----BEGIN"):
            out.append(Material(inline, True, None, "raw-pem"))
        else:
            data = pki.b64decode_strict(value)
            out.append(Material(inline, True, data, None if data is not None else "not-base64"))
    path = ctx.setting(f"{kind}_path")
    if path is not None and usable(path):
        resolved = os.path.abspath(ctx.resolve(path.value))
        try:
            out.append(Material(path, False, ctx.read_bytes(path.value), resolved=resolved))
        except OSError as exc:
            out.append(Material(path, False, None, exc.strerror or str(exc), resolved))
    return out


def first_key_block(data: bytes) -> pki.PemBlock | None:
    return next((b for b in pki.split_pem(data) if b.is_private_key), None)


def first_certificate(data: bytes) -> Certificate | None:
    """The first PEM CERTIFICATE that parses (``None`` when there is none)."""
    for block in pki.split_pem(data):
        if block.label == "CERTIFICATE" and block.der is not None:
            try:
                return pki.load_certificate(block.der)
            except pki.PkiError:
                return None
    return None


def load_key(data: bytes) -> PrivateKeyTypes | None:
    block = first_key_block(data)
    if block is None or block.encrypted:
        return None
    try:
        return pki.load_private_key(block)
    except pki.PkiError:
        return None


def _effective(ctx: LintContext, kind: str) -> Material | None:
    return next((m for m in materials(ctx, kind) if m.data is not None), None)


# -- CERT-001 ---------------------------------------------------------------------------------------


def _pkcs8_parse_problem(m: Material, block: pki.PemBlock) -> tuple[str, str] | None:
    if block.label != pki.PKCS8 or block.encrypted:
        return None  # encrypted keys are CERT-007's finding
    try:
        pki.load_private_key(block)
    except pki.PkiError as exc:
        return (
            f"{m.where} holds a PRIVATE KEY block that does not parse: {exc}",
            "export the key again as PKCS#8 PEM (`openssl pkcs8 -topk8 -nocrypt` from the original)",
        )
    return None


def _key_format_problem(m: Material, data: bytes) -> tuple[str, str] | None:
    """(message, hint) when the key is not an unencrypted-or-encrypted PKCS#8 PEM; ``None`` if it is."""
    to_pkcs8 = _TO_PKCS8.format(src=m.file_name, dst="key-pkcs8.pem")
    use = (
        "then set `private_key` to `base64 -w0 key-pkcs8.pem`"
        if m.inline
        else "and point `private_key_path` at it"
    )
    blocks = pki.split_pem(data)
    block = next((b for b in blocks if b.is_private_key), None)
    if block is not None:
        if block.label in (pki.PKCS8, pki.ENCRYPTED_PKCS8):
            return _pkcs8_parse_problem(m, block)
        kind = pki.KEY_LABELS.get(block.label, block.label)
        return (
            f"{m.where} is a {kind} key (`-----BEGIN {block.label}-----`); Grafana reads only PKCS#8 "
            "(`-----BEGIN PRIVATE KEY-----`) and fails with `asn1: structure error: tags don't match`",
            f"convert it: `{to_pkcs8}`, {use}",
        )
    if blocks:
        labels = ", ".join(sorted({b.label for b in blocks}))
        swapped = " (are `certificate` and `private_key` swapped?)" if "CERTIFICATE" in labels else ""
        return (
            f"{m.where} holds {labels} but no private key{swapped}",
            "set it to the SP private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`)",
        )
    der = pki.sniff_der(data)
    if der == "pkcs12":
        return (
            f"{m.where} is a PKCS#12 bundle (.p12/.pfx); Grafana reads only a PKCS#8 PEM key",
            "extract the key: `openssl pkcs12 -in bundle.p12 -nocerts -nodes | openssl pkcs8 -topk8 "
            f"-nocrypt -out key-pkcs8.pem`, {use}",
        )
    if der in ("private key", "encrypted private key") and not m.inline:
        return (
            f"{m.where} is a binary DER key, not PEM; Grafana reads only a PKCS#8 PEM key",
            f"convert it: `openssl pkcs8 -topk8 -nocrypt -inform DER -in {m.file_name} -out key-pkcs8.pem`, "
            + use,
        )
    if not m.inline:  # inline bytes that are no key at all are CERT-002's finding
        return (
            f"{m.where} holds no PEM block ({len(data)} bytes, no `-----BEGIN PRIVATE KEY-----` line)",
            "point `private_key_path` at the SP private key in PKCS#8 PEM",
        )
    return None


@rule("CERT-001", "private-key-not-pkcs8", Severity.ERROR)
def private_key_not_pkcs8(ctx: LintContext) -> Iterator[Finding]:
    """The SP private key is not a PKCS#8 PEM key.

    ## What it does
    Reads `private_key` (base64 of the PEM file) and `private_key_path` and reports keys in another
    format: traditional OpenSSL PEM (`-----BEGIN RSA PRIVATE KEY-----`, `-----BEGIN EC PRIVATE KEY-----`),
    OpenSSH keys, binary DER keys, PKCS#12 bundles (`.p12`, `.pfx`), a certificate where the key
    should be, and `PRIVATE KEY` blocks that do not parse.

    ## Why is this bad?
    Grafana supports one private key format, PKCS#8 (`-----BEGIN PRIVATE KEY-----`). Any other makes
    SAML fail at startup with `asn1: structure error: tags don't match`.

    ## Example
    ```ini
    [auth.saml]
    # key.pem starts with -----BEGIN RSA PRIVATE KEY-----
    private_key_path = /etc/grafana/saml/key.pem
    ```

    ## Use instead
    ```ini
    [auth.saml]
    # openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem
    private_key_path = /etc/grafana/saml/key-pkcs8.pem
    ```
    """
    for m in materials(ctx, KEY):
        if m.data is None:
            continue
        problem = _key_format_problem(m, m.data)
        if problem:
            yield ctx.at(m.setting, problem[0], problem[1], at_value=True)


# -- CERT-002 ---------------------------------------------------------------------------------------


def _first_bad_base64(value: str) -> str:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n")
    for i, ch in enumerate(value):
        if ch not in alphabet:
            return f": {ch!r} at position {i + 1}"
    return ": wrong length or padding"


def _inline_problem(m: Material) -> tuple[str, str] | None:
    name = m.file_name
    encode = f"set it to the output of `base64 -w0 {name}` (one line), or use `{m.key}_path`"
    if m.problem == "raw-pem":
        return f"`{m.key}` holds PEM text; Grafana expects the base64 of the whole PEM file", encode
    if m.problem == "not-base64":
        if _PATH_LIKE.search(m.setting.value.strip()):
            return (
                f"`{m.key}` holds a file path, but it takes the base64 of the file's contents",
                f"write `{m.key}_path = {m.setting.value.strip()}` instead",
            )
        return f"`{m.key}` is not valid base64{_first_bad_base64(m.setting.value)}", encode
    if m.data is None or pki.split_pem(m.data):
        return None
    der = pki.sniff_der(m.data)
    if der == "pkcs12" and m.key == KEY:
        return None  # CERT-001 explains PKCS#12
    if der is not None:
        return (
            f"`{m.key}` decodes to binary DER ({der}), not to a PEM file: it looks like the base64 body of "
            "a PEM file without its -----BEGIN/END----- lines",
            encode,
        )
    return f"`{m.key}` decodes to {len(m.data)} bytes that hold no PEM block (-----BEGIN …-----)", encode


def _certificate_problem(m: Material) -> tuple[str, str] | None:
    """A certificate value or file without a usable PEM CERTIFICATE."""
    if m.data is None or (m.inline and not pki.split_pem(m.data)):
        return None  # unreadable (CERT-006) or already reported by _inline_problem
    blocks = pki.split_pem(m.data)
    certs = [b for b in blocks if b.label == "CERTIFICATE"]
    fix = "set it to the SP certificate in PEM (`-----BEGIN CERTIFICATE-----`)"
    if not certs:
        if any(b.is_private_key for b in blocks):
            return f"{m.where} holds a private key, not a certificate (swapped with `private_key`?)", fix
        if blocks:
            return f"{m.where} holds {', '.join(b.label for b in blocks)} but no CERTIFICATE", fix
        if pki.sniff_der(m.data) == "certificate":
            return (
                f"{m.where} is a binary DER certificate, not PEM",
                f"convert it: `openssl x509 -inform DER -in {m.file_name} -out sp.crt`",
            )
        return f"{m.where} holds no PEM block ({len(m.data)} bytes)", fix
    if certs[0].der is None:
        return f"{m.where}: the CERTIFICATE block is not valid base64", fix
    try:
        pki.load_certificate(certs[0].der)
    except pki.PkiError as exc:
        return f"{m.where}: the CERTIFICATE block is {exc}", fix
    return None


@rule("CERT-002", "cert-key-encoding", Severity.ERROR)
def cert_key_encoding(ctx: LintContext) -> Iterator[Finding]:
    """`certificate`/`private_key` is not base64 of a PEM file, or the certificate is no PEM certificate.

    ## What it does
    Checks that the inline `certificate` and `private_key` values are valid base64 (standard alphabet,
    padded) that decodes to a PEM file, reports PEM text pasted inline, and checks that the certificate
    (inline or `certificate_path`) holds a PEM `CERTIFICATE` that parses.

    ## Why is this bad?
    The inline settings hold the *base64 of the PEM file*, not the PEM text and not the base64 body
    between the `-----BEGIN-----` lines. Anything else fails when SAML starts, and a certificate that
    does not parse cannot sign requests or be published in Grafana's SP metadata.

    ## Example
    ```ini
    [auth.saml]
    certificate = -----BEGIN CERTIFICATE-----MIIC...
    ```

    ## Use instead
    ```ini
    [auth.saml]
    # base64 -w0 sp.crt
    certificate = LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM...
    ```
    """
    for kind in (CERT, KEY):
        for m in materials(ctx, kind):
            problem = _inline_problem(m) if m.inline else None
            if problem is None and kind == CERT:
                problem = _certificate_problem(m)
            if problem:
                yield ctx.at(m.setting, problem[0], problem[1], at_value=True)


# -- CERT-003 ---------------------------------------------------------------------------------------


@rule("CERT-003", "key-cert-mismatch", Severity.ERROR)
def key_cert_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """The SP private key does not belong to the SP certificate.

    ## What it does
    Compares the public key of the certificate (`certificate`/`certificate_path`) with the public half
    of the private key (`private_key`/`private_key_path`).

    ## Why is this bad?
    The IdP checks Grafana's signed requests with the certificate from Grafana's SP metadata, and
    encrypts assertions to it. With a key from another pair, signatures do not verify and encrypted
    assertions cannot be decrypted: every login fails.

    ## Example
    ```ini
    [auth.saml]
    certificate_path = /etc/grafana/saml/sp.crt
    private_key_path = /etc/grafana/saml/old-sp.key
    ```

    ## Use instead
    ```ini
    [auth.saml]
    certificate_path = /etc/grafana/saml/sp.crt
    private_key_path = /etc/grafana/saml/sp.key
    ```
    """
    cert_m, key_m = _effective(ctx, CERT), _effective(ctx, KEY)
    if cert_m is None or key_m is None or cert_m.data is None or key_m.data is None:
        return
    cert, key = first_certificate(cert_m.data), load_key(key_m.data)
    if cert is None or key is None or pki.key_matches_certificate(key, cert):
        return
    yield ctx.at(
        key_m.setting,
        f"the private key ({pki.key_type(key)}) in {key_m.where} does not belong to the certificate "
        f"{pki.describe_certificate(cert)} ({pki.key_type(cert.public_key())}) in {cert_m.where}",
        f"use the key the certificate was issued for; compare `openssl x509 -noout -pubkey -in "
        f"{cert_m.file_name}` with `openssl pkey -pubout -in {key_m.file_name}`",
        at_value=True,
    )


# -- CERT-004 ---------------------------------------------------------------------------------------


def _days(delta: dt.timedelta) -> str:
    days = abs(delta.days)
    return "1 day" if days == 1 else f"{days} days"


@rule("CERT-004", "sp-cert-expiry", Severity.ERROR)
def sp_cert_expiry(ctx: LintContext) -> Iterator[Finding]:
    """The SP certificate has expired (error) or expires within 30 days (warning).

    ## What it does
    Reads the validity end (`notAfter`) of the certificate in `certificate`/`certificate_path` and
    compares it with the lint time.

    ## Why is this bad?
    Many IdPs reject signed requests, or refuse to encrypt to, an expired SP certificate. Rotating it
    needs new SP metadata at the IdP, which takes lead time: start before it expires.

    ## Example
    ```ini
    [auth.saml]
    # sp.crt: notAfter = 2025-03-01
    certificate_path = /etc/grafana/saml/sp.crt
    ```

    ## Use instead
    ```ini
    [auth.saml]
    # a new pair, uploaded to the IdP with Grafana's new SP metadata
    certificate_path = /etc/grafana/saml/sp-2026.crt
    private_key_path = /etc/grafana/saml/sp-2026.key
    ```
    """
    for m in materials(ctx, CERT):
        cert = first_certificate(m.data) if m.data is not None else None
        if cert is None:
            continue
        end = pki.not_valid_after(cert)
        left = end - ctx.now
        subject = pki.describe_certificate(cert)
        rotate = "create a new key pair and certificate, and give the IdP Grafana's new SP metadata"
        if left <= dt.timedelta(0):
            yield ctx.at(
                m.setting,
                f"the SP certificate {subject} in {m.where} expired on {end:%Y-%m-%d} ({_days(left)} ago)",
                rotate,
                at_value=True,
            )
        elif left <= dt.timedelta(days=EXPIRY_WARNING_DAYS):
            yield ctx.at(
                m.setting,
                f"the SP certificate {subject} in {m.where} expires on {end:%Y-%m-%d} (in {_days(left)})",
                rotate + " before then",
                severity=Severity.WARNING,
                at_value=True,
            )


# -- CERT-005 ---------------------------------------------------------------------------------------


@rule("CERT-005", "non-rsa-key", Severity.ERROR)
def non_rsa_key(ctx: LintContext) -> Iterator[Finding]:
    """An EC, Ed25519 or other non-RSA SP key while `signature_algorithm` is an `rsa-*` value.

    ## What it does
    Reports a private key (or, when the key cannot be read, a certificate public key) that is not RSA
    while `signature_algorithm` asks for `rsa-sha1`, `rsa-sha256` or `rsa-sha512`.

    ## Why is this bad?
    The SAML library Grafana uses (crewjam/saml v0.4.14) signs requests with RSA only: with an EC or
    Ed25519 key, signing every AuthnRequest fails and nobody can log in.

    ## Example
    ```ini
    [auth.saml]
    signature_algorithm = rsa-sha256
    # sp.key is an EC P-256 key
    private_key_path = /etc/grafana/saml/sp.key
    ```

    ## Use instead
    ```ini
    [auth.saml]
    signature_algorithm = rsa-sha256
    # openssl req -x509 -newkey rsa:2048 -nodes -keyout sp.key -out sp.crt -days 730
    private_key_path = /etc/grafana/saml/sp.key
    ```
    """
    algorithm = ctx.value("signature_algorithm").strip()
    if not algorithm.lower().startswith("rsa-"):
        return
    key_m, cert_m = _effective(ctx, KEY), _effective(ctx, CERT)
    key = load_key(key_m.data) if key_m is not None and key_m.data is not None else None
    public: PrivateKeyTypes | PublicKeyTypes
    if key_m is not None and key is not None:
        target, public, where = key_m, key, "private key"
    else:
        cert = first_certificate(cert_m.data) if cert_m is not None and cert_m.data is not None else None
        if cert_m is None or cert is None:
            return
        target, public, where = cert_m, cert.public_key(), "certificate's key"
    if pki.is_rsa(public):
        return
    yield ctx.at(
        target.setting,
        f"the {where} in {target.where} is {pki.key_type(public)}, but `signature_algorithm = {algorithm}` "
        "needs RSA: Grafana's SAML library signs with RSA only, so signing requests fails",
        "use an RSA key pair (2048 bits or more), e.g. "
        "`openssl req -x509 -newkey rsa:2048 -nodes -keyout sp.key -out sp.crt -days 730`",
        at_value=True,
    )


# -- CERT-006 ---------------------------------------------------------------------------------------


@rule("CERT-006", "cert-key-file-unreadable", Severity.ERROR)
def cert_key_file_unreadable(ctx: LintContext) -> Iterator[Finding]:
    """A `certificate_path` or `private_key_path` file is missing or unreadable.

    ## What it does
    Opens the files `certificate_path` and `private_key_path` name. A relative path is resolved from
    the directory of the linted ini file (or the home path given to gtool); Grafana resolves it from
    its working directory.

    ## Why is this bad?
    Grafana cannot start SAML without the files: login fails, and the error only appears in the
    server log.

    ## Example
    ```ini
    [auth.saml]
    certificate_path = saml/sp.crt
    ```

    ## Use instead
    ```ini
    [auth.saml]
    certificate_path = /etc/grafana/saml/sp.crt
    ```
    """
    for kind in (CERT, KEY):
        for m in materials(ctx, kind):
            if m.inline or m.data is not None:
                continue
            relative = not PurePath(m.setting.value).is_absolute()
            hint = "check the path and that the Grafana user can read the file"
            if relative:
                hint += (
                    "; relative paths resolve from Grafana's working directory, so prefer an absolute path"
                )
            yield ctx.at(
                m.setting,
                f"`{m.key} = {m.setting.value}`: cannot read {m.resolved}: {m.problem}",
                hint,
                at_value=True,
            )


# -- CERT-007 ---------------------------------------------------------------------------------------


@rule("CERT-007", "encrypted-private-key", Severity.WARNING)
def encrypted_private_key(ctx: LintContext) -> Iterator[Finding]:
    """The SP private key is encrypted with a passphrase.

    ## What it does
    Reports `-----BEGIN ENCRYPTED PRIVATE KEY-----` keys, traditional PEM keys with
    `Proc-Type: 4,ENCRYPTED`, and encrypted binary PKCS#8 keys.

    ## Why is this bad?
    Grafana has no setting for a key passphrase, so it cannot read an encrypted key and SAML fails
    to start.

    ## Example
    ```ini
    [auth.saml]
    # key.pem starts with -----BEGIN ENCRYPTED PRIVATE KEY-----
    private_key_path = /etc/grafana/saml/key.pem
    ```

    ## Use instead
    ```ini
    [auth.saml]
    # openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem (asks for the passphrase once)
    private_key_path = /etc/grafana/saml/key-pkcs8.pem
    ```
    """
    for m in materials(ctx, KEY):
        if m.data is None:
            continue
        block = first_key_block(m.data)
        encrypted = block.encrypted if block else pki.sniff_der(m.data) == "encrypted private key"
        if not encrypted:
            continue
        to_pkcs8 = _TO_PKCS8.format(src=m.file_name, dst="key-pkcs8.pem")
        yield ctx.at(
            m.setting,
            f"the private key in {m.where} is encrypted with a passphrase; Grafana has no passphrase setting "
            "and cannot read it",
            f"store it unencrypted and readable only by Grafana: `{to_pkcs8}` (asks for the passphrase)",
            at_value=True,
        )
