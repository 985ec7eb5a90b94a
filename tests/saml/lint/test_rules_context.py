"""CTX-001…CTX-007: settings around `[auth.saml]` and the deployment (saml-reference.md §5.2-5.3, §6.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtool.saml.lint import lint_text
from gtool.saml.settings import SsoRecord
from tests.saml.lint.cases import Case, check, fail, ok


def sso(source: str = "database", **settings: str) -> dict[str, object]:
    """Options with an SSO settings record (snake_case keys, Go-style strings)."""
    return {"sso": SsoRecord("sso-settings.json", source, dict(settings))}


ON = "[auth.saml]\nenabled = true\n"
PUBLIC = "[server]\nroot_url = https://grafana.example.com/\n"

CASES = [
    # CTX-001
    fail("CTX-001", ON, "default-root-url", message="is not set, so Grafana uses http://localhost:3000/"),
    fail("CTX-001", "[server]\nroot_url = http://127.0.0.1:3000/\n" + ON, "loopback", message="127.0.0.1"),
    fail(
        "CTX-001",
        "[server]\nroot_url = http://grafana.example.com/\n"
        + ON
        + "entity_id = https://grafana.example.com/saml/metadata\n",
        "scheme-mismatch",
        message="root_url = https://grafana.example.com/",
    ),
    ok("CTX-001", PUBLIC + ON),
    ok("CTX-001", "[server]\nprotocol = https\ndomain = grafana.example.com\n" + ON, "derived-from-domain"),
    ok(
        "CTX-001",
        ON + "idp_metadata_url = http://localhost:8080/realms/x/protocol/saml/descriptor\n",
        "local-test-setup",
    ),
    ok("CTX-001", "[auth.saml]\nenabled = false\n", "disabled"),
    # CTX-002
    fail("CTX-002", "[security]\ncookie_samesite = strict\n" + ON, message="cookie_samesite = lax"),
    ok("CTX-002", "[security]\ncookie_samesite = lax\n" + ON),
    ok("CTX-002", "[security]\ncookie_samesite = Strict\n" + ON, "grafana-reads-Strict-as-lax"),
    ok("CTX-002", "[security]\ncookie_samesite = strict\n[auth.saml]\nenabled = false\n", "saml-disabled"),
    # CTX-003
    fail("CTX-003", ON, "no-license", message="Grafana Enterprise or Grafana Cloud", severity="info"),
    ok("CTX-003", "[enterprise]\nlicense_path = /var/lib/grafana/license.jwt\n" + ON),
    ok("CTX-003", ON, "license-in-env", options={"env": {"GF_ENTERPRISE_LICENSE_TEXT": "eyJ..."}}),
    ok("CTX-003", "[auth.saml]\nname = x\n", "sso-record-implies-enterprise", options=sso(enabled="true")),
    ok("CTX-003", "[auth.saml]\nenabled = false\n", "disabled"),
    # CTX-004
    fail(
        "CTX-004",
        "[auth.saml]\ncertificate_path = sp.crt\nname = Corp\n",
        "database-record",
        options=sso(enabled="true", name="SSO"),
        message="this file's certificate_path, name have no effect",
    ),
    fail("CTX-004", "", "record-without-ini-section", options=sso(enabled="true")),
    ok("CTX-004", "[auth.saml]\nenabled = true\n", "system-record", options=sso("system", enabled="true")),
    ok("CTX-004", ON, "no-record"),
    # CTX-005
    fail(
        "CTX-005",
        ON,
        "misspelt",
        options={"env": {"GF_AUTH_SAML_ENABLE": "true"}},
        message="GF_AUTH_SAML_ENABLED",
    ),
    fail(
        "CTX-005",
        ON,
        "no-key-to-override",
        options={"env": {"GF_AUTH_SAML_ROLE_VALUES_ADMIN": "admins"}},
        message="role_values_admin = <placeholder>",
    ),
    fail(
        "CTX-005",
        ON + "name = Corp\n",
        "empty",
        options={"env": {"GF_AUTH_SAML_NAME": ""}},
        message="keeps its value from the file",
    ),
    fail(
        "CTX-005",
        ON,
        "wrong-section-name",
        options={"env": {"GF_SAML_IDP_METADATA_URL": "https://idp/md"}},
        message="GF_AUTH_SAML_IDP_METADATA_URL",
    ),
    fail(
        "CTX-005",
        ON,
        "lower-case",
        options={"env": {"gf_auth_saml_enabled": "true"}},
        message="GF_AUTH_SAML_ENABLED",
    ),
    fail(
        "CTX-005",
        "[server]\nroot_url = https://grafana.example.com/\n",
        "env-only-saml",
        options={"env": {"GF_AUTH_SAML_ENABLED": "true"}},
        message="no loaded file sets `enabled`",
    ),
    ok("CTX-005", ON, "overrides-existing-key", options={"env": {"GF_AUTH_SAML_ENABLED": "false"}}),
    ok("CTX-005", ON, "unrelated", options={"env": {"GF_SERVER_ROOT_URL": "https://g/", "SAML_HOME": "/x"}}),
    # CTX-006
    fail(
        "CTX-006",
        ON,
        "base64-padding",
        options={"cli_args": ["cfg:auth.saml.certificate=abc=="]},
        message="certificate_path",
    ),
    fail("CTX-006", ON, "no-equals", options={"cli_args": ["cfg:auth.saml.enabled"]}, message="has no `=`"),
    ok("CTX-006", ON, "one-equals", options={"cli_args": ["cfg:auth.saml.enabled=true", "--homepath=/a=b"]}),
    # CTX-007
    fail(
        "CTX-007",
        "[auth.generic_oauth]\nenabled = true\nauto_login = true\n" + ON + "auto_login = true\n",
        message="[auth.generic_oauth]",
    ),
    fail(
        "CTX-007",
        "[auth]\noauth_auto_login = true\n[auth.github]\nenabled = true\n" + ON + "auto_login = true\n",
        "legacy-oauth-auto-login",
        message="[auth.github]",
    ),
    ok(
        "CTX-007",
        "[auth.generic_oauth]\nenabled = false\nauto_login = true\n" + ON + "auto_login = true\n",
        "other-provider-disabled",
    ),
    ok(
        "CTX-007", "[auth.generic_oauth]\nenabled = true\nauto_login = true\n" + ON, "saml-without-auto-login"
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def test_env_rule_quiet_without_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --env-file the runner reads this process's environment: CTX-005 must not judge a shell."""
    monkeypatch.setenv("GF_AUTH_SAML_ENABLE", "true")
    monkeypatch.setenv("GF_AUTH_SAML_NAME", "")
    assert not [d for d in lint_text(ON, select=["CTX-005"], env=None) if d.code == "CTX-005"]


def test_cli_arg_value_is_not_echoed() -> None:
    """A `cfg:` value may be a private key: the diagnostic names the argument, never the value."""
    secret = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t=="
    found = lint_text(ON, select=["CTX-006"], env={}, cli_args=[f"cfg:auth.saml.private_key={secret}"])
    assert found and all(secret not in d.message + d.hint for d in found)
