"""TYPE-001…TYPE-008: values Grafana parses with Go semantics (saml-reference.md §1, §2.5, §5.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtool.saml.settings import SsoRecord
from tests.saml.lint.cases import Case, check, fail, ok


def sso(**settings: str) -> dict[str, object]:
    """Options with an SSO settings record stored in the database (snake_case keys, Go-style strings)."""
    return {"sso": SsoRecord("sso-settings.json", "database", dict(settings))}


URI_256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"

CASES = [
    # TYPE-001
    fail("TYPE-001", "[auth.saml]\nenabled = enable\n", "enable", message="`false`"),
    fail("TYPE-001", "[auth.saml]\nallow_sign_up = yES\n", "mixed-case", message="docs say true"),
    fail("TYPE-001", "[auth.saml]\nskip_org_role_sync = ture\n", "typo", message="true` or"),
    fail(
        "TYPE-001",
        "[auth.saml]\nenabled = false\n",
        "from-env",
        options={"env": {"GF_AUTH_SAML_ENABLED": "yes please"}},
        message="env:GF_AUTH_SAML_ENABLED",
    ),
    fail("TYPE-001", "[auth.saml]\nname = x\n", "from-sso-record", options=sso(enabled="enable")),
    ok("TYPE-001", "[auth.saml]\nenabled = true\nsingle_logout = off\nauto_login = 1\nallow_sign_up = Yes\n"),
    ok("TYPE-001", '[auth.saml]\nenabled = "true"\n', "quotes-stripped-by-go-ini"),
    ok("TYPE-001", "[auth.saml]\nenabled = $__file{missing.txt}\n", "unexpanded-file-is-INI-009"),
    # TYPE-002
    fail("TYPE-002", "[auth.saml]\nmax_issue_delay = 1d\n", "days", message="24h"),
    fail(
        "TYPE-002", "[auth.saml]\nmax_issue_delay = 90\n", "no-unit", message='missing unit in duration "90"'
    ),
    fail("TYPE-002", "[auth.saml]\nmetadata_valid_duration = 2 days\n", "words", message="48h"),
    fail("TYPE-002", "[auth.saml]\nmetadata_valid_duration = 1h 30m\n", "space", message="1h30m"),
    fail("TYPE-002", "[auth.saml]\nmax_issue_delay = 90S\n", "upper-unit", message="`max_issue_delay = 90s`"),
    fail(
        "TYPE-002", "[auth.saml]\nmax_issue_delay = soon\n", "no-guess", message="Grafana silently uses 90s"
    ),
    ok("TYPE-002", "[auth.saml]\nmax_issue_delay = 90s\nmetadata_valid_duration = 1h30m\n"),
    ok("TYPE-002", "[auth.saml]\nmax_issue_delay = 0\n", "zero-needs-no-unit"),
    ok("TYPE-002", "[auth.saml]\nname = x\n", "sso-nanoseconds", options=sso(max_issue_delay="90000000000")),
    # TYPE-003
    fail("TYPE-003", "[auth.saml]\nmax_issue_delay = 5s\n", "short", message="IssueInstant expired"),
    fail("TYPE-003", "[auth.saml]\nmax_issue_delay = 2h\n", "long", message="replayed"),
    fail("TYPE-003", "[auth.saml]\nmax_issue_delay = -1s\n", "negative", message="zero or negative"),
    fail("TYPE-003", "[auth.saml]\nmetadata_valid_duration = 8760h\n", "year", message="720h"),
    fail("TYPE-003", "[auth.saml]\nmetadata_valid_duration = 30m\n", "half-hour"),
    ok("TYPE-003", "[auth.saml]\nmax_issue_delay = 90s\nmetadata_valid_duration = 48h\n"),
    ok("TYPE-003", "[auth.saml]\nmax_issue_delay = 1h\nmetadata_valid_duration = 720h\n", "at-the-limits"),
    ok("TYPE-003", "[auth.saml]\nmax_issue_delay = 1d\n", "unparseable-is-TYPE-002"),
    # TYPE-004
    fail("TYPE-004", "[auth.saml]\nsignature_algorithm = RSA-SHA256\n", "case", message="= rsa-sha256`"),
    fail("TYPE-004", f'[auth.saml]\nsignature_algorithm = """{URI_256}"""\n', "uri", message="= rsa-sha256`"),
    fail(
        "TYPE-004",
        f"[auth.saml]\nsignature_algorithm = {URI_256}\n",
        "uri-cut-at-hash",
        message="= rsa-sha256`",
    ),
    fail("TYPE-004", "[auth.saml]\nsignature_algorithm = SHA512withRSA\n", "java-name", message="rsa-sha512"),
    fail("TYPE-004", "[auth.saml]\nsignature_algorithm = ecdsa-sha256\n", "not-rsa", message="RSA keys only"),
    fail("TYPE-004", "[auth.saml]\nsignature_algorithm = rsa-sha1\n", "sha1", severity="warning"),
    ok("TYPE-004", "[auth.saml]\nsignature_algorithm = rsa-sha256\n"),
    ok("TYPE-004", "[auth.saml]\nsignature_algorithm = rsa-sha512\n", "sha512"),
    ok("TYPE-004", "[auth.saml]\nenabled = true\n", "unset-means-unsigned"),
    # TYPE-005
    fail(
        "TYPE-005",
        "[auth.saml]\nname_id_format = urn:oasis:names:tc:SAML:2.0:nameid-format:emailAddress\n",
        "wrong-version",
        message="SAML:1.1:nameid-format:emailAddress",
    ),
    fail(
        "TYPE-005",
        "[auth.saml]\nname_id_format = persistent\n",
        "short-name",
        message="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    ),
    fail(
        "TYPE-005",
        "[auth.saml]\nname_id_format = urn:oasis:names:tc:SAML:2.0:nameid-format:entity\n",
        "other",
    ),
    ok("TYPE-005", "[auth.saml]\nname_id_format = urn:oasis:names:tc:SAML:2.0:nameid-format:transient\n"),
    ok(
        "TYPE-005",
        "[auth.saml]\nname_id_format = urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\n",
        "1.1",
    ),
    ok("TYPE-005", "[auth.saml]\nenabled = true\n", "unset"),
    # TYPE-006
    fail(
        "TYPE-006",
        '[auth.saml]\nrole_values_admin = ["Grafana Admins", "ops",]\n',
        "trailing-comma",
        message='role_values_admin = ["Grafana Admins", "ops"]',
    ),
    # ORG-006 reports this one with the exact fix; TYPE-006 stays quiet rather than repeat it.
    ok("TYPE-006", '[auth.saml]\norg_mapping = ["team\\:ops:2:Editor"]\n', "lone-backslash-is-ORG-006"),
    fail(
        "TYPE-006",
        '[auth.saml]\nrole_values_admin = ["C\\:drive"]\n',
        "lone-backslash-other-key",
        message='role_values_admin = ["C\\\\:drive"]',
    ),
    fail(
        "TYPE-006", "[auth.saml]\nrole_values_editor = [devs, ops]\n", "bare-words", message='["devs", "ops"]'
    ),
    fail(
        "TYPE-006",
        "[auth.saml]\nrole_values_viewer = ['a b', 'c']\n",
        "single-quotes",
        message='["a b", "c"]',
    ),
    fail("TYPE-006", "[auth.saml]\nrole_values_none = [1, 2]\n", "numbers", message='["1", "2"]'),
    fail("TYPE-006", '[auth.saml]\nrole_values_admin = [{"name": "a"}]\n', "object", message="JSON array of"),
    fail(
        "TYPE-006", '[auth.saml]\nallowed_organizations = ["a",\n', "gate-off", message="no longer restricts"
    ),
    fail(
        "TYPE-006",
        "[auth.saml]\nrole_values_admin = admins\n",
        "from-env",
        options={"env": {"GF_AUTH_SAML_ROLE_VALUES_ADMIN": "[admins,"}},
        message="env:GF_AUTH_SAML",
    ),
    ok(
        "TYPE-006",
        '[auth.saml]\nrole_values_admin = ["Grafana Admins", "ops"]\norg_mapping = ["a\\\\:b:1"]\n',
    ),
    ok("TYPE-006", "[auth.saml]\nrole_values_admin = admins, ops\n", "plain-list"),
    ok("TYPE-006", '[auth.saml]\nrole_values_admin = ["a", null]\n', "null-is-empty-string"),
    ok("TYPE-006", "[auth.saml]\nrelay_state = [x\n", "not-a-list-key"),
    # TYPE-007
    fail(
        "TYPE-007",
        "[auth.saml]\nidp_metadata_url = idp.example.com/app/metadata\n",
        "no-scheme",
        message="https://idp.example.com/app/metadata",
    ),
    fail(
        "TYPE-007",
        "[auth.saml]\nidp_metadata_url = /etc/grafana/idp.xml\n",
        "a-path",
        message="idp_metadata_path = /etc/grafana/idp.xml",
    ),
    fail("TYPE-007", "[auth.saml]\nidp_metadata_url = ftp://idp.example.com/md.xml\n", "ftp"),
    fail("TYPE-007", "[auth.saml]\ntoken_url = https://login.example.com/a b\n", "space", severity="error"),
    fail(
        "TYPE-007", "[auth.saml]\nidp_metadata_url = http://idp.example.com/md\n", "http", severity="warning"
    ),
    ok("TYPE-007", "[auth.saml]\nidp_metadata_url = https://idp.example.com/app/metadata\n"),
    ok(
        "TYPE-007",
        "[auth.saml]\ntoken_url = HTTPS://login.microsoftonline.com/t/oauth2/v2.0/token\n",
        "scheme-case",
    ),
    # TYPE-008
    fail(
        "TYPE-008",
        "[users]\nauto_assign_org_role = editor\n",
        "case-without-saml",
        message="auto_assign_org_role = Editor",
    ),
    fail(
        "TYPE-008",
        "[users]\nauto_assign_org_role = Grafana Admin\n",
        "server-admin",
        message="role_values_grafana_admin",
    ),
    fail(
        "TYPE-008", '[users]\nauto_assign_org_role = """Viewer """\n', "trailing-space", message="'Viewer '"
    ),
    fail(
        "TYPE-008",
        "[auth.saml]\nenabled = true\n",
        "from-env",
        options={"env": {"GF_USERS_AUTO_ASSIGN_ORG_ROLE": "admin"}},
        message="Grafana silently uses Viewer",
    ),
    ok("TYPE-008", "[users]\nauto_assign_org_role = Editor\n"),
    ok("TYPE-008", "[users]\nauto_assign_org_role = None\n", "none-role"),
    ok("TYPE-008", "[auth.saml]\nenabled = true\n", "default"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)
