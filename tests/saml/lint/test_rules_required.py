"""REQ-001…REQ-010: required and mutually exclusive keys (saml-reference.md §1, §6.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtool.saml.settings import SsoRecord
from tests.saml.lint.cases import Case, check, fail, ok


def sso(**settings: str) -> dict[str, object]:
    """Options with an SSO settings record stored in the database (snake_case keys, Go-style strings)."""
    return {"sso": SsoRecord("sso-settings.json", "database", dict(settings))}


ON = "[auth.saml]\nenabled = true\n"
MD = "idp_metadata_url = https://idp.example.com/md\n"
PAIR = "certificate_path = sp.crt\nprivate_key_path = sp.key\n"

CASES = [
    # REQ-001
    fail("REQ-001", ON + PAIR, "no-metadata", message="no IdP metadata"),
    fail(
        "REQ-001",
        "[auth.saml]\nidp_metadata_path = idp.xml\n",
        "ini-metadata-ignored-by-record",
        options=sso(enabled="true"),
        message="the SSO settings record owns these keys",
    ),
    ok("REQ-001", ON + MD),
    ok("REQ-001", "[auth.saml]\nenabled = false\n", "disabled"),
    ok(
        "REQ-001",
        "[auth.saml]\nname = x\n",
        "metadata-in-record",
        options=sso(enabled="true", idp_metadata_url="https://idp.example.com/md"),
    ),
    # REQ-002
    fail(
        "REQ-002",
        "[auth.saml]\nidp_metadata_path = idp.xml\nidp_metadata_url = https://idp/md\n",
        "path-and-url",
        message="`idp_metadata_path` and `idp_metadata_url`",
    ),
    fail(
        "REQ-002",
        "[auth.saml]\nname = x\n",
        "both-in-record",
        options=sso(idp_metadata_path="/etc/idp.xml", idp_metadata_url="https://idp/md"),
    ),
    ok(
        "REQ-002",
        "[auth.saml]\nidp_metadata_path = idp.xml\n",
        "record-owns-metadata",
        options=sso(idp_metadata_url="https://idp/md"),
    ),
    ok("REQ-002", ON + MD),
    # REQ-003
    fail("REQ-003", "[auth.saml]\ncertificate = LS0t\ncertificate_path = sp.crt\n", "certificate"),
    fail(
        "REQ-003",
        "[auth.saml]\nprivate_key = LS0t\nprivate_key_path = sp.key\n",
        "private-key",
        message="`private_key_path`",
    ),
    ok("REQ-003", "[auth.saml]\ncertificate_path = sp.crt\nprivate_key = LS0t\n"),
    # REQ-004
    fail("REQ-004", "[auth.saml]\ncertificate_path = sp.crt\n", "cert-only", message="no private key"),
    fail("REQ-004", "[auth.saml]\nprivate_key = LS0t\n", "key-only", message="no certificate"),
    ok("REQ-004", "[auth.saml]\n" + PAIR),
    ok("REQ-004", "[auth.saml]\nenabled = false\n", "neither"),
    ok(
        "REQ-004",
        "[auth.saml]\nname = x\n",
        "redacted-in-record",
        options=sso(certificate="*********", private_key="*********"),
    ),
    # REQ-005
    fail("REQ-005", ON + MD, "enabled-without", message="required"),
    fail(
        "REQ-005",
        ON + MD + "signature_algorithm = rsa-sha256\n",
        "signing-without",
        message="nothing to sign with",
    ),
    ok("REQ-005", ON + MD + PAIR),
    ok("REQ-005", "[auth.saml]\nenabled = false\n", "disabled"),
    # REQ-006
    fail(
        "REQ-006",
        ON + "allow_idp_initiated = true\n",
        "no-relay-state",
        severity="warning",
        message="login CSRF",
    ),
    fail("REQ-006", ON + "allow_idp_initiated = true\nrelay_state = abc\n", "risk-note", severity="info"),
    ok("REQ-006", ON + "allow_idp_initiated = false\n"),
    ok("REQ-006", ON, "unset"),
    # REQ-007
    fail("REQ-007", ON + "single_logout = true\n", "unset-format", message="transient by default"),
    fail(
        "REQ-007",
        ON + "single_logout = true\nname_id_format = urn:oasis:names:tc:SAML:2.0:nameid-format:transient\n",
        "transient",
    ),
    ok(
        "REQ-007",
        ON + "single_logout = true\nname_id_format = urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\n",
    ),
    ok("REQ-007", ON + "single_logout = false\n", "no-slo"),
    # REQ-008
    fail(
        "REQ-008",
        "[auth.saml]\nclient_id = abc\n",
        "client-id-only",
        message="`client_secret` and `token_url`",
    ),
    fail("REQ-008", "[auth.saml]\nforce_use_graph_api = true\n", "force-without"),
    ok("REQ-008", "[auth.saml]\nclient_id = a\nclient_secret = b\ntoken_url = https://login/t\n"),
    ok(
        "REQ-008",
        "[auth.saml]\nclient_id = a\ntoken_url = https://login/t\n",
        "secret-in-record",
        options=sso(client_id="a", client_secret="*********", token_url="https://login/t"),
    ),
    ok("REQ-008", ON, "none"),
    # REQ-009
    fail("REQ-009", ON, "unset", message="docs say the default is true", severity="info"),
    ok("REQ-009", ON + "allow_sign_up = false\n"),
    ok("REQ-009", "[auth.saml]\nenabled = false\n", "disabled"),
    # REQ-010
    fail("REQ-010", ON, "both-unset", message="`mail`", severity="info"),
    fail(
        "REQ-010",
        ON + "assertion_attribute_login = login\n",
        "email-unset",
        message="`assertion_attribute_email` is not set",
    ),
    ok("REQ-010", ON + "assertion_attribute_login = login\nassertion_attribute_email = email\n"),
    ok("REQ-010", "[auth.saml]\nenabled = false\n", "disabled"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def test_unresolved_env_reference_counts_as_set_without_a_snapshot(tmp_path: Path) -> None:
    """Linting on a laptop: GRAPH_SECRET exists on the Grafana host, not here. REQ-008 must not claim
    client_secret is missing; with an --env-file that lacks it, it really is empty for Grafana."""
    import os

    from gtool.saml.lint import LintOptions, lint_file

    ini = tmp_path / "grafana.ini"
    ini.write_text(
        "[auth.saml]\nenabled = true\nclient_id = app\nclient_secret = $__env{GRAPH_SECRET_NOT_HERE}\n"
        "token_url = https://login.microsoftonline.com/t/oauth2/v2.0/token\n"
    )
    assert "GRAPH_SECRET_NOT_HERE" not in os.environ
    shell = lint_file(str(ini), LintOptions(select=["REQ-008"]))
    assert shell.diagnostics == []
    snapshot = lint_file(str(ini), LintOptions(select=["REQ-008"], env={}))
    assert [d.code for d in snapshot.diagnostics] == ["REQ-008"]
