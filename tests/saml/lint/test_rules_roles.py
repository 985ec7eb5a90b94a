"""ROLE-001…ROLE-012 except ROLE-005: role mapping (saml-reference.md §2, §10)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.saml.lint.cases import Case, check, fail, ok

S = "[auth.saml]\n"
ENTRA_URL = "idp_metadata_url = https://login.microsoftonline.com/t/federationmetadata/2007-06/federationmetadata.xml\n"
ENTRA_XML = (
    '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sts.windows.net/t/">'
)
GROUPS_CLAIM = "assertion_attribute_role = http://schemas.microsoft.com/ws/2008/06/identity/claims/groups\n"
GUID = "8f3c2a50-1b7e-4c1d-9a8e-2f4b6c7d8e9f"

CASES = [
    # ROLE-001
    fail("ROLE-001", S + "role_values_admin = admins\n", "admin-list", message="role_values_admin"),
    fail("ROLE-001", S + "role_values_grafana_admin = platform\n", "grafana-admin-list"),
    fail("ROLE-001", S + "assertion_attribute_role =\nrole_values_editor = devs\n", "blank-attribute"),
    ok("ROLE-001", S + "assertion_attribute_role = Role\nrole_values_admin = admins\n"),
    ok("ROLE-001", S + "role_values_admin =\n", "empty-list"),
    ok("ROLE-001", S + 'role_values_admin = ","\n', "quote-stripped-separator-only-is-ROLE-010"),
    # ROLE-002
    fail(
        "ROLE-002",
        S + "role_values_editor = devs, leads\nrole_values_admin = leads\n",
        "editor-admin",
        message="get Admin",
    ),
    fail(
        "ROLE-002",
        S + "role_values_none = guests\nrole_values_viewer = guests\n",
        "none-viewer",
        message="get Viewer",
    ),
    # §2.2: go-ini strips the quotes, so "Grafana Admins" becomes Grafana + Admins, colliding with editor
    fail(
        "ROLE-002",
        S + 'role_values_admin = "Grafana Admins"\nrole_values_editor = Admins\n',
        "quote-stripping",
        message="`Admins`",
    ),
    ok(
        "ROLE-002",
        S + 'role_values_admin = ["Grafana Admins"]\nrole_values_editor = Admins\n',
        "json-keeps-space",
    ),
    ok("ROLE-002", S + "role_values_editor = devs\nrole_values_admin = Devs\n", "case-differs"),
    ok("ROLE-002", S + "role_values_admin = a, a\n", "same-list-twice"),
    # ROLE-003
    fail(
        "ROLE-003",
        S + "role_values_grafana_admin = platform\nrole_values_admin = org-admins\n",
        message="`platform`",
        severity="info",
    ),
    ok("ROLE-003", S + "role_values_grafana_admin = platform\nrole_values_admin = org-admins, platform\n"),
    # §2.1: a quoted run in a plain list and a JSON item are the same value
    ok(
        "ROLE-003",
        S + 'role_values_grafana_admin = ["Platform Team"]\nrole_values_admin = "Platform Team", ops\n',
        "json-vs-quoted-run",
    ),
    ok("ROLE-003", S + "role_values_admin = admins\n", "no-grafana-admin"),
    # ROLE-004
    fail("ROLE-004", S + "role_values_editor = Admin\n", "wrong-list", message="names the Admin role"),
    fail("ROLE-004", S + "role_values_admin = admin\n", "case-variant", message="case variant"),
    fail(
        "ROLE-004",
        S + "role_values_admin = GrafanaAdmin\n",
        "grafana-admin-in-org-list",
        message="Grafana Admin role",
    ),
    fail("ROLE-004", S + 'role_values_admin = ["grafana admin"]\n', "spaced-json"),
    fail("ROLE-004", S + "role_values_grafana_admin = Viewer\n", "viewer-as-server-admin"),
    fail("ROLE-004", S + "role_values_viewer = VIEWER\n", "upper-case"),
    ok("ROLE-004", S + "role_values_admin = Admin\nrole_values_editor = Editor\nrole_values_none = None\n"),
    ok("ROLE-004", S + "role_values_grafana_admin = Admin\n", "admin-as-server-admin"),
    ok("ROLE-004", S + "role_values_admin = admins, Administrators\n", "not-role-names"),
    # ROLE-006
    fail(
        "ROLE-006",
        S + "skip_org_role_sync = true\nrole_values_admin = admins\n",
        "role-list",
        message="role_values_admin",
    ),
    fail(
        "ROLE-006",
        S + "skip_org_role_sync = true\norg_mapping = g:1:Admin\n",
        "org-mapping",
        message="org_mapping",
    ),
    fail("ROLE-006", S + "skip_org_role_sync = yes\nrole_values_editor = devs\n", "go-ini-literal"),
    fail("ROLE-006", S + 'skip_org_role_sync = "true"\nrole_values_none = guests\n', "quoted-bool"),
    ok("ROLE-006", S + "skip_org_role_sync = false\nrole_values_admin = admins\n"),
    ok("ROLE-006", S + "skip_org_role_sync = true\n", "nothing-to-ignore"),
    ok("ROLE-006", S + "skip_org_role_sync = treu\nrole_values_admin = admins\n", "invalid-bool-is-false"),
    ok(
        "ROLE-006",
        S + "skip_org_role_sync = true\nrole_values_grafana_admin = p\n",
        "grafana-admin-is-ROLE-007",
    ),
    # ROLE-007
    fail(
        "ROLE-007",
        S + "skip_org_role_sync = true\nrole_values_grafana_admin = platform\n",
        message="not synced",
    ),
    ok("ROLE-007", S + "skip_org_role_sync = false\nrole_values_grafana_admin = platform\n"),
    ok("ROLE-007", S + "skip_org_role_sync = true\n", "no-grafana-admin"),
    # ROLE-008
    fail("ROLE-008", S + "enabled = true\n", "bare", message="cannot change role for externally synced user"),
    fail(
        "ROLE-008",
        "[users]\nauto_assign_org_role = Editor\nauto_assign_org_id = 3\n" + S + "enabled = true\n",
        "users-settings",
        message="org 3 as Editor",
    ),
    fail(
        "ROLE-008",
        "[users]\nauto_assign_org_role = editor\n" + S + "enabled = true\n",
        "invalid-role-is-viewer",
        message="org 1 as Viewer",
    ),
    fail(
        "ROLE-008",
        "[users]\nauto_assign_org = false\nauto_assign_org_id = 3\n" + S + "enabled = true\n",
        "auto-assign-off",
        message="org 1",
    ),
    fail("ROLE-008", S + "enabled = true\nrole_values_admin = admins\n", "lists-without-attribute"),
    ok("ROLE-008", S + "enabled = true\nassertion_attribute_role = Role\n"),
    ok("ROLE-008", S + "enabled = true\norg_mapping = *:1:Viewer\n", "org-mapping"),
    ok("ROLE-008", S + "enabled = true\nskip_org_role_sync = true\n", "skip"),
    ok("ROLE-008", S + "enabled = false\n", "disabled"),
    # ROLE-009
    fail(
        "ROLE-009",
        S + "role_values_viewer = readers\n",
        "viewer",
        options={"grafana_version": "10.4"},
        message="11.1",
    ),
    fail(
        "ROLE-009",
        S + "entity_id = https://g/saml/metadata\n",
        "entity-id",
        options={"grafana_version": "11.4.2"},
    ),
    fail("ROLE-009", S + "role_values_none = guests\n", "none", options={"grafana_version": "10.1"}),
    fail(
        "ROLE-009",
        S + "assertion_attribute_external_uid = uid\n",
        "external-uid",
        options={"grafana_version": "11.0"},
    ),
    ok("ROLE-009", S + "role_values_viewer = readers\n", "new-enough", options={"grafana_version": "11.1"}),
    ok("ROLE-009", S + "role_values_viewer = readers\n", "version-unknown"),
    ok("ROLE-009", S + "role_values_admin = admins\n", "old-key", options={"grafana_version": "9.5"}),
    # ROLE-010
    # Broken JSON is TYPE-006's finding (ORG-006's for `\\:`): one problem, one diagnostic.
    ok("ROLE-010", S + 'role_values_admin = ["admins",]\n', "json-trailing-comma-is-TYPE-006"),
    fail("ROLE-010", S + "role_values_editor = , ,\n", "separators-only", message="separators"),
    ok("ROLE-010", S + 'org_mapping = ["External\\:Admin:ACME Corp:Admin"]\n', "json-bad-escape-is-ORG-006"),
    # §2.2: go-ini strips the quotes around a lone comma
    fail("ROLE-010", S + 'allowed_organizations = ","\n', "quote-stripped"),
    # an env value bypasses go-ini: literal "" is one empty item
    fail(
        "ROLE-010",
        S + "role_values_admin = admins\n",
        "env-empty-quotes",
        options={"env": {"GF_AUTH_SAML_ROLE_VALUES_ADMIN": '""'}},
    ),
    ok("ROLE-010", S + "role_values_admin = []\n", "explicit-empty-json"),
    ok("ROLE-010", S + "role_values_admin = admins\n"),
    ok("ROLE-010", S + "role_values_admin =\n", "empty-value"),
    ok("ROLE-010", S + 'role_values_admin = ["Grafana Admins"]\n', "json"),
    # ROLE-011
    fail("ROLE-011", S + "role_values_grafana_admin = platform\n", severity="info", message="platform"),
    ok(
        "ROLE-011",
        S + "role_values_grafana_admin = platform\nskip_org_role_sync = true\n",
        "skip-is-ROLE-007",
    ),
    ok("ROLE-011", S + "role_values_admin = admins\n", "not-set"),
    # ROLE-012
    fail(
        "ROLE-012",
        S + ENTRA_URL + GROUPS_CLAIM + 'role_values_admin = ["Grafana Admins"]\n',
        "url",
        message="`Grafana Admins`",
    ),
    fail(
        "ROLE-012",
        S
        + "idp_metadata_url = https://sts.windows.net/t/metadata\n"
        + GROUPS_CLAIM
        + f"role_values_admin = {GUID}, ops\n",
        "sts-url-mixed",
        message="`ops`",
    ),
    fail(
        "ROLE-012",
        S + "idp_metadata_path = idp.xml\n" + GROUPS_CLAIM + "role_values_editor = devs\n",
        "metadata-file",
        files={"idp.xml": ENTRA_XML},
        message="idp_metadata_path",
    ),
    fail(
        "ROLE-012",
        S
        + f"idp_metadata = {base64.b64encode(ENTRA_XML.encode()).decode()}\n"
        + GROUPS_CLAIM
        + "role_values_editor = devs\n",
        "inline-metadata",
        message="`idp_metadata`",
    ),
    fail(
        "ROLE-012",
        S + ENTRA_URL + "assertion_attribute_org = groups\norg_mapping = Engineering:2:Editor\n",
        "org-mapping",
        message="org_mapping",
    ),
    ok("ROLE-012", S + ENTRA_URL + GROUPS_CLAIM + f"role_values_admin = {GUID}\n", "guids"),
    ok(
        "ROLE-012",
        S
        + ENTRA_URL
        + "assertion_attribute_role = http://schemas.microsoft.com/ws/2008/06/identity/claims/role\n"
        + "role_values_admin = Admin\n",
        "app-roles-claim",
    ),
    ok(
        "ROLE-012",
        S
        + "idp_metadata_url = https://dev-1.okta.com/app/x/sso/saml/metadata\n"
        + GROUPS_CLAIM
        + "role_values_admin = admins\n",
        "not-entra",
    ),
    ok(
        "ROLE-012",
        S + "idp_metadata_path = missing.xml\n" + GROUPS_CLAIM + "role_values_admin = admins\n",
        "missing-file",
    ),
    ok(
        "ROLE-012",
        S + "idp_metadata = !!!not-base64!!!\n" + GROUPS_CLAIM + "role_values_admin = admins\n",
        "bad-base64",
    ),
    ok(
        "ROLE-012",
        S + "idp_metadata_path = idp.xml\n" + GROUPS_CLAIM + "role_values_admin = admins\n",
        "other-idp-file",
        files={"idp.xml": '<EntityDescriptor entityID="https://idp.example.org/">'},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)
