"""Every configuration rule of saml-reference.md §10 exists under its exact code, is documented with the
fixed headings, and has at least one failing and one passing case in the data-driven tables."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from gtool.saml.lint.registry import all_rules, get_rule, select
from tests.saml.lint.cases import Case


def _codes(prefix: str, numbers: range | list[int]) -> list[str]:
    return [f"{prefix}-{n:03d}" for n in numbers]


# §10 rules whose input is configuration (issue 2): ROLE-005, TEAM-002/003 and ASRT-* need an assertion.
EXPECTED = (
    _codes("INI", range(1, 13))
    + _codes("TYPE", range(1, 9))
    + _codes("REQ", range(1, 11))
    + _codes("CERT", range(1, 8))
    + _codes("META", range(1, 6))
    + _codes("ROLE", [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12])
    + _codes("ORG", range(1, 12))
    + ["TEAM-001"]
    + _codes("CTX", range(1, 8))
)
# §10 rules that check an assertion against the configuration (issue 3): they run only with --assertion.
ASSERTION_EXPECTED = ["ROLE-005", "TEAM-002", "TEAM-003", *_codes("ASRT", range(1, 12))]
HEADINGS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


def _all_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(Path(__file__).parent.glob("test_rules_*.py")):
        module = importlib.import_module(f"tests.saml.lint.{path.stem}")
        cases.extend(getattr(module, "CASES", []))
    return cases


def test_config_rules_are_exactly_the_catalogue() -> None:
    config_codes = sorted(r.code for r in all_rules() if r.needs == "config")
    assert config_codes == sorted(EXPECTED)


@pytest.mark.parametrize("code", EXPECTED)
def test_rule_is_documented(code: str) -> None:
    r = get_rule(code)
    assert r is not None
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", r.slug), r.slug
    assert r.summary.endswith((".", ")")) and len(r.summary) < 120, r.summary
    positions = [r.doc.find(h) for h in HEADINGS]
    assert all(p > 0 for p in positions) and positions == sorted(positions), f"{code}: headings {HEADINGS}"
    assert "```ini" in r.doc or code.startswith("INI-009"), f"{code}: the example shows an ini snippet"


def test_slugs_are_unique_and_resolve() -> None:
    rules = all_rules()
    assert len({r.slug for r in rules}) == len(rules)
    for r in rules:
        assert get_rule(r.slug) is r and get_rule(r.code.lower()) is r


@pytest.mark.parametrize("code", EXPECTED)
def test_rule_has_fail_and_pass_cases(code: str) -> None:
    cases = [c for c in _all_cases() if c.code == code]
    assert any(c.expect for c in cases), f"{code} has no failing case"
    assert any(not c.expect for c in cases), f"{code} has no passing case"


def test_selectors() -> None:
    assert {r.code for r in select(["ROLE"], ["ROLE-002"])} == {
        c for c in (*EXPECTED, *ASSERTION_EXPECTED) if c.startswith("ROLE")
    } - {"ROLE-002"}
    assert [r.code for r in select(["quoted-list-value"], None)] == ["INI-012"]


def test_assertion_rules_are_exactly_the_catalogue() -> None:
    assertion_codes = sorted(r.code for r in all_rules() if r.needs == "assertion")
    assert assertion_codes == sorted(ASSERTION_EXPECTED)


@pytest.mark.parametrize("code", ASSERTION_EXPECTED)
def test_assertion_rule_is_documented(code: str) -> None:
    test_rule_is_documented(code)
    r = get_rule(code)
    assert r is not None and r.needs == "assertion"


@pytest.mark.parametrize("code", ASSERTION_EXPECTED)
def test_assertion_rule_has_fail_and_pass_cases(code: str) -> None:
    test_rule_has_fail_and_pass_cases(code)
