"""INI-001…INI-012: how go-ini reads the file (saml-reference.md §5.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.saml.lint.cases import Case, check, fail, ok

CASES = [
    fail("INI-001", "[Auth.SAML]\nenabled = true\n", "case"),
    fail("INI-001", "[ auth.saml ]\nenabled = true\n", "spaces"),
    fail("INI-001", "[auth_saml]\nenabled = true\n", "underscore"),
    fail("INI-001", "[saml]\nenabled = true\n", "bare"),
    ok("INI-001", "[auth.saml]\nenabled = true\n[auth.ldap]\nenabled = false\n"),
    fail("INI-002", "[auth.saml]\nasssertion_attribute_groups = g\n", "okta-typo", message="asssertion"),
    fail("INI-002", "[auth.saml]\nmetadata_path = /m.xml\n", "old-docs"),
    fail("INI-002", "[auth.saml]\nrole_attribute_path = x\n", "oauth-key"),
    fail("INI-002", "[auth.saml]\nenabeld = true\n", "typo-suggests", message="enabled"),
    ok(
        "INI-002",
        "[auth.saml]\nenabled = true\nrole_values_viewer = v\nassertion_attribute_external_uid = u\n",
    ),
    ok("INI-002", "[auth.saml]\nEnabled = true\n", "case-variant-is-INI-003"),
    fail("INI-003", "[auth.saml]\nEnabled = true\n"),
    fail("INI-003", "[auth.saml]\nIDP_METADATA_URL = https://idp/m\n", "upper"),
    ok("INI-003", "[auth.saml]\nenabled = true\n"),
    fail("INI-004", "[auth.saml]\nrole_values_admin = a\nrole_values_admin = b\n", "key", message="line 3"),
    fail("INI-004", "[auth.saml]\nenabled = true\n[users]\n[auth.saml]\nname = x\n", "section"),
    ok("INI-004", "[auth.saml]\nrole_values_admin = a\n[auth.ldap]\nrole_values_admin = a\n"),
    ok(
        "INI-004",
        "[auth.saml]\n; gtool: ignore[INI-004]\nrole_values_admin = a\nrole_values_admin = b\n",
        "suppressed-line-above",
    ),
    ok(
        "INI-004",
        "[auth.saml]\nrole_values_admin = a ; gtool: ignore[INI-004, ROLE-002]\nrole_values_admin = b\n",
        "suppressed-same-line",
    ),
    fail("INI-005", "[auth.saml]\nrole_values_editor = C#-devs\n", "hash", message="'C'"),
    fail("INI-005", "[auth.saml]\nrelay_state = a;b\n", "semicolon"),
    fail("INI-005", '[auth.saml]\nrole_values_admin = "a#b"\n', "quotes-do-not-protect"),
    ok("INI-005", "[auth.saml]\nrole_values_editor = devs ; the developers\n", "comment-after-space"),
    ok("INI-005", '[auth.saml]\nrole_values_editor = """C#-devs"""\n', "triple-quoted"),
    ok("INI-005", "[auth.saml]\nrole_values_editor = `C#-devs`\n", "backticks"),
    fail("INI-006", "[auth.saml]\ncertificate_path = C:\\certs\\\nprivate_key_path = k\n"),
    ok("INI-006", "[auth.saml]\ncertificate_path = C:\\certs\\sp.crt\n"),
    fail("INI-007", "[auth.saml]\nenabled = true\nallow_sign_up\n", "no-delimiter"),
    fail("INI-007", "[auth.saml\nenabled = true\n", "unclosed-section"),
    fail("INI-007", '[auth.saml]\nrelay_state = """abc\n', "unterminated"),
    fail("INI-007", "[server]\n= 3000\n", "empty-key"),
    ok("INI-007", "; a comment\n# another\n[auth.saml]\nenabled: true\n"),
    fail("INI-008", "[users]\nauto_assign_org_role =\n", message="Viewer"),
    ok("INI-008", "[users]\nauto_assign_org_role = Editor\n[auth.saml]\nenabled = true\n"),
    ok("INI-008", "[auth.saml]\nrelay_state =\n", "no-default-to-keep"),
    fail("INI-009", "[auth.saml]\nenabled = true\nclient_secret = ${MISSING_SECRET}\n", "unset-env"),
    fail("INI-009", "[auth.saml]\nenabled = true\nprivate_key = $__file{nope.b64}\n", "missing-file"),
    ok(
        "INI-009",
        "[auth.saml]\nenabled = true\nclient_secret = ${SECRET}\n",
        "set-env",
        options={"env": {"SECRET": "s"}},
    ),
    ok("INI-009", "[auth.saml]\nrelay_state = $__file{rs.txt}\n", "file-present", files={"rs.txt": "abc\n"}),
    fail("INI-010", "[auth.saml]\nassertion_attribute_name = ${firstName} ${lastName}\n"),
    fail("INI-010", "[auth.saml]\nassertion_attribute_name = $__env{displayName}\n", "env-provider"),
    ok("INI-010", "[auth.saml]\nassertion_attribute_name = $__saml{firstName} $__saml{lastName}\n"),
    fail("INI-011", "domain = example.org\n[auth.saml]\nrelay_state = %(domain)s\n", message="example.org"),
    ok("INI-011", "[auth.saml]\nrelay_state = 100%\n"),
    fail("INI-012", '[auth.saml]\nrole_values_admin = "Grafana Admins"\n', message="Grafana"),
    fail("INI-012", "[auth.saml]\nallowed_organizations = 'Org One'\n", "single-quotes"),
    ok("INI-012", '[auth.saml]\nrole_values_admin = ["Grafana Admins"]\n', "json"),
    ok("INI-012", '[auth.saml]\nrole_values_admin = "Grafana Admins", ops\n', "quoted-item-kept"),
    ok("INI-012", '[auth.saml]\nname = "My SAML"\n', "not-a-list"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)
