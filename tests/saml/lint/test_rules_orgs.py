"""ORG-001…ORG-011: org mapping (saml-reference.md §3, §10, §12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.saml.lint.cases import Case, check, fail, ok

S = "[auth.saml]\nassertion_attribute_org = groups\n"
NO_ATTR = "[auth.saml]\n"
HUGE = ", ".join(f"external-group-{i:05d}:{i}:Viewer" for i in range(1, 2501))  # ~82 kB

CASES = [
    # ORG-001
    fail(
        "ORG-001",
        S + "org_mapping = team:ops:2:Editor\n",
        "four-parts",
        message="entry 1 `team:ops:2:Editor`",
    ),
    fail("ORG-001", S + "org_mapping = Ops:3, Engineering\n", "one-part", message="entry 2 `Engineering`"),
    fail("ORG-001", S + "org_mapping = admins::Admin\n", "empty-org", message="org part is empty"),
    # §2.2: go-ini strips the quotes, then the space splits the entry into `Team` and `One:2:Editor`
    fail("ORG-001", S + 'org_mapping = "Team One:2:Editor"\n', "quote-stripped", message="`Team`"),
    fail("ORG-001", S + 'org_mapping = ["a:b:c:d:Admin"]\n', "json"),
    ok("ORG-001", S + "org_mapping = team\\:ops:2:Editor\n", "escaped-colon"),
    # §3.1: inside JSON the escape is spelled `\\:`
    ok("ORG-001", S + 'org_mapping = ["External\\\\:Admin:ACME Corp:Admin"]\n', "json-escape"),
    ok("ORG-001", S + "org_mapping = *:1:Viewer, Engineering:2\n"),
    ok("ORG-001", S + 'org_mapping = ["External\\:Admin:ACME:Admin"]\n', "invalid-json-is-ORG-006"),
    # ORG-002
    fail("ORG-002", S + "org_mapping = admins:1:admin\n", "lower-case", message="`Admin`"),
    fail(
        "ORG-002",
        S + "org_mapping = admins:1:GrafanaAdmin\n",
        "grafana-admin",
        message="role_values_grafana_admin",
    ),
    fail("ORG-002", S + "org_mapping = admins:1:\n", "empty-role", message="gives Viewer"),
    fail("ORG-002", S + 'org_mapping = ["admins:1:Admin "]\n', "trailing-space-in-json"),
    ok("ORG-002", S + "org_mapping = admins:1:Admin, devs:2:Editor, guests:3:None\n"),
    ok("ORG-002", S + "org_mapping = readers:1\n", "role-omitted"),
    # ORG-003
    fail(
        "ORG-003",
        S + 'org_mapping = ["Engineering:ACME Corp:Editor"]\n',
        "old-version",
        options={"grafana_version": "11.4"},
        severity="warning",
        message="11.5",
    ),
    fail(
        "ORG-003",
        S + 'org_mapping = ["Engineering:ACME Corp:Editor"]\n',
        "version-unknown",
        severity="info",
        message="case-sensitive",
    ),
    fail(
        "ORG-003",
        S + 'org_mapping = ["Engineering: 2:Editor"]\n',
        "spaced-id",
        severity="warning",
        options={"grafana_version": "12.0"},
        message="spaces",
    ),
    ok(
        "ORG-003",
        S + 'org_mapping = ["Engineering:ACME Corp:Editor"]\n',
        "new-enough",
        options={"grafana_version": "11.5"},
    ),
    ok("ORG-003", S + "org_mapping = Engineering:2:Editor, *:*:Viewer\n", "ids"),
    # ORG-004
    fail("ORG-004", NO_ATTR + "org_mapping = Engineering:2:Editor, *:1:Viewer\n", message="`Engineering`"),
    ok("ORG-004", S + "org_mapping = Engineering:2:Editor\n"),
    ok("ORG-004", NO_ATTR + "org_mapping = *:1:Viewer\n", "star-only"),
    # ORG-005
    fail(
        "ORG-005",
        S + "org_mapping = Team One:2:Editor, Ops:3:Viewer\n",
        "mapping",
        message='["Team One:2:Editor", "Ops:3:Viewer"]',
    ),
    fail(
        "ORG-005",
        S + 'org_mapping = "Team One:2:Editor"\n',
        "quote-stripped",
        message='["Team One:2:Editor"]',
    ),
    fail("ORG-005", S + "org_mapping = Big Data Team:2\n", "three-words", message='["Big Data Team:2"]'),
    fail(
        "ORG-005",
        S + "allowed_organizations = Org One, Org Two\n",
        "allowed-orgs",
        message='["Org One", "Org Two"]',
    ),
    ok("ORG-005", S + 'org_mapping = ["Team One:2:Editor", "Ops:3:Viewer"]\n', "json"),
    ok("ORG-005", S + "org_mapping = Eng:2:Editor Ops:3:Viewer\n", "space-separated-entries"),
    ok("ORG-005", S + 'org_mapping = "Team One:2:Editor", Ops:3\n', "quoted-run"),
    ok("ORG-005", S + "allowed_organizations = OrgOne OrgTwo\n", "no-commas"),
    # ORG-006
    fail(
        "ORG-006", S + 'org_mapping = ["External\\:Admin:ACME Corp:Admin"]\n', message="no org mapping at all"
    ),
    fail("ORG-006", S + 'org_mapping = ["a\\:b:1", "c:2"]\n', "hint-has-fix", message='["a\\\\:b:1", "c:2"]'),
    ok("ORG-006", S + 'org_mapping = ["External\\\\:Admin:ACME Corp:Admin"]\n', "double-backslash"),
    ok("ORG-006", S + "org_mapping = External\\:Admin:ACME:Admin\n", "plain-form"),
    ok("ORG-006", S + 'org_mapping = ["a:1",]\n', "other-json-error-is-TYPE-006"),
    # ORG-007
    fail("ORG-007", S + "org_mapping = admins:0:Admin\n", "zero", message="id 0"),
    fail("ORG-007", S + "org_mapping = admins:-1:Admin\n", "minus-one", message="every org"),
    fail("ORG-007", S + "org_mapping = admins:-5:Admin\n", "negative"),
    ok("ORG-007", S + "org_mapping = admins:1:Admin, devs:*:Viewer\n"),
    # ORG-008
    fail("ORG-008", NO_ATTR + "allowed_organizations = Engineering, Sales\n", message="`Engineering`"),
    ok("ORG-008", S + "allowed_organizations = Engineering, Sales\n"),
    ok("ORG-008", NO_ATTR + 'allowed_organizations = ","\n', "no-values"),
    # ORG-009
    fail(
        "ORG-009",
        S + "org_mapping = admins:1:Admin, admins:1:Viewer\n",
        "later-wins",
        message="later entry wins, so the role is Viewer",
    ),
    fail(
        "ORG-009", S + "org_mapping = *:1:Editor, devs:1:Viewer\n", "star-outranks", message="changes nothing"
    ),
    fail("ORG-009", S + "org_mapping = g:*:Admin, g:-1:Viewer\n", "star-and-minus-one"),
    ok("ORG-009", S + "org_mapping = admins:1:Admin, admins:2:Viewer\n", "different-orgs"),
    ok("ORG-009", S + "org_mapping = *:1:Viewer, admins:1:Admin\n", "base-role-plus-higher"),
    ok("ORG-009", S + "org_mapping = admins:1:Admin, admins:1:Admin\n", "same-role"),
    # ORG-010
    fail("ORG-010", S + f"org_mapping = {HUGE}\n", message="65,535"),
    ok("ORG-010", S + f"org_mapping = {HUGE}\n", "mediumtext", options={"grafana_version": "12.3"}),
    ok("ORG-010", S + "org_mapping = admins:1:Admin\n", "small"),
    # ORG-011
    fail(
        "ORG-011",
        S + "org_mapping = admin:1:Admin\n",
        "version-unknown",
        severity="info",
        message="if your Grafana reads org_mapping as regexes",
    ),
    fail(
        "ORG-011",
        S + "org_mapping = admin:1:Admin\n",
        "admin-error",
        options={"grafana_version": "13.0"},
        severity="error",
        message="^admin$",
    ),
    fail(
        "ORG-011",
        S + "org_mapping = team.ops:2:Editor\n",
        "metachar",
        options={"grafana_version": "13.0"},
        severity="warning",
        message="regular-expression characters",
    ),
    fail(
        "ORG-011",
        S + "org_mapping = team\\:ops:2:Editor\n",
        "escaped-colon-hint",
        options={"grafana_version": "13.0"},
        message="^team\\:ops$",
    ),
    ok(
        "ORG-011",
        S + "org_mapping = admin:1:Admin\n",
        "exact-matching-version",
        options={"grafana_version": "12.4"},
    ),
    ok("ORG-011", S + "org_mapping = ^admin$:1:Admin\n", "anchored", options={"grafana_version": "13.0"}),
    ok("ORG-011", S + "org_mapping = *:1:Viewer\n", "star", options={"grafana_version": "13.0"}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)
