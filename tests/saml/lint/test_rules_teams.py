"""TEAM-001: team sync (saml-reference.md §4, §10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.saml.lint.cases import Case, check, fail, ok

CASES = [
    fail("TEAM-001", "[auth.saml]\nenabled = true\n", severity="info", message="team sync is disabled"),
    fail("TEAM-001", "[auth.saml]\nenabled = true\nassertion_attribute_groups =\n", "empty-value"),
    # §2.2: go-ini strips the quotes, leaving an empty value
    fail("TEAM-001", '[auth.saml]\nenabled = "true"\nassertion_attribute_groups = ""\n', "quoted-empty"),
    ok("TEAM-001", "[auth.saml]\nenabled = true\nassertion_attribute_groups = groups\n"),
    ok("TEAM-001", "[auth.saml]\nenabled = false\n", "disabled"),
    ok("TEAM-001", "[auth.saml]\nenabled = on\nassertion_attribute_groups = Group\n", "go-ini-literal"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)
