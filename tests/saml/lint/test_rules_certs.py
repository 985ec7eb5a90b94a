"""CERT-001…CERT-007: the SP certificate and private key (saml-reference.md §10 "Certificates / keys")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gtool.saml.settings import SsoRecord
from tests.saml.lint.cases import Case, check, fail, ok
from tests.saml.lint.pki_fixtures import (
    b64,
    cert_der,
    cert_pem,
    ec_key,
    ed25519_key,
    expiring_cert,
    key_bytes,
    make_cert,
    rsa_key,
)

SAML = "[auth.saml]\nenabled = true\n"
PAIR = {"sp.crt": cert_pem(), "sp.key": key_bytes()}
PATHS = SAML + "certificate_path = sp.crt\nprivate_key_path = sp.key\n"
PKCS8_HINT = "openssl pkcs8 -topk8 -nocrypt"
REDACTED = SsoRecord(
    "sso.json", "database", {"enabled": "true", "certificate": "*********", "private_key": "*********"}
)


def key_file(data: bytes) -> dict[str, bytes]:
    return {"sp.crt": cert_pem(), "sp.key": data}


CASES = [
    # CERT-001: PKCS#8 only
    fail("CERT-001", PATHS, "pkcs1-file", files=key_file(key_bytes(fmt="pkcs1")), message="PKCS#1"),
    fail("CERT-001", PATHS, "pkcs1-hint", files=key_file(key_bytes(fmt="pkcs1")), message=PKCS8_HINT),
    fail("CERT-001", PATHS, "sec1-ec", files=key_file(key_bytes(ec_key(), "sec1")), message="EC PRIVATE KEY"),
    fail(
        "CERT-001",
        SAML + f"private_key = {b64(key_bytes(fmt='pkcs1'))}\n",
        "pkcs1-inline",
        message="base64 -w0 key-pkcs8.pem",
    ),
    fail("CERT-001", PATHS, "pkcs12-file", files=key_file(key_bytes(fmt="pkcs12")), message="PKCS#12"),
    fail(
        "CERT-001",
        SAML + f"private_key = {b64(key_bytes(fmt='pkcs12'))}\n",
        "pkcs12-inline",
        message="PKCS#12",
    ),
    fail("CERT-001", PATHS, "der-file", files=key_file(key_bytes(fmt="der")), message="-inform DER"),
    fail(
        "CERT-001", PATHS, "openssh", files=key_file(key_bytes(ed25519_key(), "openssh")), message="OpenSSH"
    ),
    fail("CERT-001", PATHS, "certificate-in-key-file", files=key_file(cert_pem()), message="swapped"),
    fail("CERT-001", PATHS, "not-pem", files=key_file(b"hello\n"), message="no PEM block"),
    fail(
        "CERT-001",
        PATHS,
        "broken-pkcs8",
        files=key_file(b"-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n"),
        message="does not parse",
    ),
    ok("CERT-001", PATHS, "pkcs8-file", files=PAIR),
    ok("CERT-001", SAML + f"private_key = {b64(key_bytes())}\n", "pkcs8-inline"),
    ok("CERT-001", PATHS, "key-and-cert-in-one-file", files=key_file(cert_pem() + key_bytes())),
    ok("CERT-001", PATHS, "encrypted-is-CERT-007", files=key_file(key_bytes(fmt="encrypted"))),
    ok("CERT-001", PATHS, "missing-file-is-CERT-006", files={"sp.crt": cert_pem()}),
    ok("CERT-001", SAML + "private_key = aGVsbG8=\n", "inline-garbage-is-CERT-002"),
    ok("CERT-001", SAML + "private_key_path = $__file{nope}\n", "unresolved-is-INI-009"),
    ok("CERT-001", "[auth.saml]\nenabled = true\n", "redacted-sso-secret", options={"sso": REDACTED}),
    # CERT-002: base64 of the PEM file
    fail(
        "CERT-002",
        SAML + "certificate = -----BEGIN CERTIFICATE-----MIIBsz\n",
        "raw-pem",
        message="base64 -w0",
    ),
    fail(
        "CERT-002",
        SAML + "private_key = -----BEGIN PRIVATE KEY-----MIIE\n",
        "raw-pem-key",
        message="PEM text",
    ),
    fail("CERT-002", SAML + "certificate = not base64\n", "spaces", message="' ' at position 4"),
    fail(
        "CERT-002",
        SAML + "certificate = /etc/grafana/saml/sp.crt\n",
        "a-path",
        message="certificate_path = /etc/grafana/saml/sp.crt",
    ),
    fail("CERT-002", SAML + "private_key = C:\\grafana\\sp.key\n", "a-windows-path", message="file path"),
    fail("CERT-002", SAML + f"certificate = {b64(cert_pem()).rstrip('=')}x\n", "padding"),
    fail("CERT-002", SAML + "certificate = LS0tLS1C-_8=\n", "url-safe-alphabet", message="'-' at position 9"),
    fail("CERT-002", SAML + f"certificate = {b64(cert_der())}\n", "pem-body-only", message="without its"),
    fail("CERT-002", SAML + f"private_key = {b64(key_bytes(fmt='der'))}\n", "key-body-only", message="DER"),
    fail("CERT-002", SAML + "certificate = aGVsbG8gd29ybGQ=\n", "decodes-to-text", message="no PEM block"),
    fail(
        "CERT-002",
        PATHS,
        "key-in-cert-file",
        files={"sp.crt": key_bytes(), "sp.key": key_bytes()},
        message="swapped",
    ),
    fail(
        "CERT-002",
        PATHS,
        "der-cert-file",
        files={"sp.crt": cert_der(), "sp.key": key_bytes()},
        message="openssl x509 -inform DER",
    ),
    fail(
        "CERT-002",
        PATHS,
        "broken-cert",
        files={
            "sp.crt": b"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
            "sp.key": key_bytes(),
        },
        message="not a valid X.509",
    ),
    ok(
        "CERT-002",
        SAML + f"certificate = {b64(cert_pem())}\nprivate_key = {b64(key_bytes())}\n",
        "inline-pair",
    ),
    ok("CERT-002", PATHS, "path-pair", files=PAIR),
    ok("CERT-002", SAML + f"private_key = {b64(key_bytes(fmt='pkcs12'))}\n", "pkcs12-is-CERT-001"),
    ok("CERT-002", PATHS, "missing-files-are-CERT-006"),
    ok("CERT-002", "[auth.saml]\nenabled = true\n", "redacted-sso-secret", options={"sso": REDACTED}),
    ok(
        "CERT-002",
        SAML + "certificate = ${SP_CERT}\n",
        "from-env",
        options={"env": {"SP_CERT": b64(cert_pem())}},
    ),
    # CERT-003: the key belongs to the certificate
    fail(
        "CERT-003",
        PATHS,
        "other-key",
        files={"sp.crt": cert_pem(make_cert(rsa_key(1))), "sp.key": key_bytes()},
        message="does not belong",
    ),
    fail(
        "CERT-003",
        SAML + f"certificate = {b64(cert_pem(make_cert(ec_key())))}\nprivate_key_path = sp.key\n",
        "inline-cert-file-key",
        files={"sp.key": key_bytes()},
    ),
    ok("CERT-003", PATHS, "matching", files=PAIR),
    ok(
        "CERT-003",
        SAML + f"certificate = {b64(cert_pem())}\nprivate_key = {b64(key_bytes())}\n",
        "matching-inline",
    ),
    ok("CERT-003", PATHS, "key-unreadable", files={"sp.crt": cert_pem(make_cert(rsa_key(1)))}),
    ok("CERT-003", SAML + "certificate_path = sp.crt\n", "no-key", files={"sp.crt": cert_pem()}),
    # CERT-004: expiry, relative to NOW (2026-06-01)
    fail(
        "CERT-004",
        PATHS,
        "expired",
        files={"sp.crt": cert_pem(expiring_cert(-1)), "sp.key": key_bytes()},
        message="expired on 2026-05-31",
        severity="error",
    ),
    fail(
        "CERT-004",
        PATHS,
        "expires-soon",
        files={"sp.crt": cert_pem(expiring_cert(10)), "sp.key": key_bytes()},
        message="in 10 days",
        severity="warning",
    ),
    fail(
        "CERT-004",
        SAML + f"certificate = {b64(cert_pem(expiring_cert(-400)))}\n",
        "inline-expired",
        severity="error",
    ),
    ok("CERT-004", PATHS, "31-days", files={"sp.crt": cert_pem(expiring_cert(31)), "sp.key": key_bytes()}),
    ok("CERT-004", PATHS, "long-valid", files=PAIR),
    ok("CERT-004", SAML + "certificate = bm90IGEgY2VydA==\n", "unparseable-is-CERT-002"),
    # CERT-005: crewjam signs with RSA only
    fail(
        "CERT-005",
        PATHS + "signature_algorithm = rsa-sha256\n",
        "ec-key",
        files={"sp.crt": cert_pem(make_cert(ec_key())), "sp.key": key_bytes(ec_key())},
        message="EC secp256r1",
    ),
    fail(
        "CERT-005",
        PATHS + "signature_algorithm = rsa-sha512\n",
        "ed25519-key",
        files={"sp.crt": cert_pem(make_cert(ed25519_key())), "sp.key": key_bytes(ed25519_key())},
        message="Ed25519",
    ),
    fail(
        "CERT-005",
        SAML + "certificate_path = sp.crt\nsignature_algorithm = rsa-sha256\n",
        "cert-only",
        files={"sp.crt": cert_pem(make_cert(ec_key()))},
        message="certificate's key",
    ),
    ok(
        "CERT-005",
        PATHS,
        "ec-unsigned-requests",
        files={"sp.crt": cert_pem(make_cert(ec_key())), "sp.key": key_bytes(ec_key())},
    ),
    ok("CERT-005", PATHS + "signature_algorithm = rsa-sha256\n", "rsa", files=PAIR),
    # CERT-006: the files exist
    fail("CERT-006", PATHS, "missing-relative", message="No such file"),
    fail(
        "CERT-006",
        SAML + "private_key_path = keys\n",
        "directory",
        files={"keys/README": "x"},
        message="is a directory",
    ),
    fail(
        "CERT-006",
        SAML + "certificate_path = /nonexistent/gtool/sp.crt\n",
        "missing-absolute",
        message="/nonexistent/gtool/sp.crt",
    ),
    ok("CERT-006", PATHS, "present", files=PAIR),
    ok("CERT-006", SAML + f"certificate = {b64(cert_pem())}\n", "inline"),
    ok("CERT-006", SAML + "private_key_path =\n", "empty-value"),
    # CERT-007: no passphrase option
    fail(
        "CERT-007", PATHS, "encrypted-pkcs8", files=key_file(key_bytes(fmt="encrypted")), message="passphrase"
    ),
    fail("CERT-007", PATHS, "encrypted-pkcs1", files=key_file(key_bytes(fmt="pkcs1-encrypted"))),
    fail("CERT-007", SAML + f"private_key = {b64(key_bytes(fmt='encrypted'))}\n", "inline"),
    ok("CERT-007", PATHS, "plain-pkcs8", files=PAIR),
    ok("CERT-007", PATHS, "pkcs1-is-CERT-001", files=key_file(key_bytes(fmt="pkcs1"))),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def test_missing_file_message_shows_resolved_path(tmp_path: Path) -> None:
    from tests.saml.lint.cases import run

    found = run(fail("CERT-006", PATHS), tmp_path)
    assert {d.key for d in found} == {"certificate_path", "private_key_path"}
    assert all(str(tmp_path / "sp.") in d.message for d in found), found
    assert all("absolute path" in d.hint for d in found)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root in CI, where chmod 000 does not stop reads: make the open itself fail instead.
    real_open = Path.open

    def deny(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "sp.key":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    (tmp_path / "sp.key").write_bytes(key_bytes())
    monkeypatch.setattr(Path, "open", deny)
    check(fail("CERT-006", SAML + "private_key_path = sp.key\n", message="Permission denied"), tmp_path)


def test_key_and_certificate_rules_never_raise_on_garbage(tmp_path: Path) -> None:
    from tests.saml.lint.cases import run

    garbage: dict[str, bytes | str | Callable[[Path], bytes]] = {
        "sp.crt": bytes(range(256)) * 8,
        "sp.key": b"-----BEGIN PRIVATE KEY-----\n\x00\xff\n",
    }
    for code in ("CERT-001", "CERT-002", "CERT-003", "CERT-004", "CERT-005", "CERT-006", "CERT-007"):
        run(Case(code, PATHS + "signature_algorithm = rsa-sha256\n", True, files=garbage), tmp_path)
