"""The shipped samples check themselves: the clean configs give no diagnostic at all, and each file in
samples/broken/ reports exactly the codes its `; expect:` line lists (see samples/README.md).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from gtool.saml.lint import LintOptions, Version, lint_file

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CLEAN = sorted(SAMPLES.glob("*/grafana.ini"))
BROKEN = sorted((SAMPLES / "broken").glob("*.ini"))

# The options the expect lines are written for: an explicit environment (never the developer's own),
# a declared Grafana version, and a fixed "now" so certificate and metadata expiry never drift.
OPTIONS = LintOptions(
    env={"GRAFANA_SAML_CLIENT_SECRET": "demo-secret-from-the-environment"},
    grafana_version=Version.parse("12.3"),
    now=dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC),
)

_EXPECT = re.compile(r"^[;#]\s*expect:(?P<codes>.*)$")
_CODE = re.compile(r"[A-Z]+-\d{3}")


def header(path: Path) -> list[str]:
    """The comment block the file starts with, each line without its comment marker."""
    block = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped.startswith((";", "#")):
            break
        block.append(stripped[1:].strip())
    return block


def expected_codes(path: Path) -> set[str]:
    lines = [m for line in header(path) if (m := _EXPECT.match("; " + line))]
    assert len(lines) == 1, f"{path.name}: needs exactly one `; expect: CODE, CODE` line in its header"
    items = [c.strip() for c in lines[0].group("codes").split(",") if c.strip()]
    bad = [c for c in items if not _CODE.fullmatch(c)]
    assert not bad, f"{path.name}: not rule codes in the expect line: {bad}"
    return set(items)


def reported(path: Path) -> list[tuple[str, int, str]]:
    result = lint_file(str(path), OPTIONS, raise_crashes=True)
    assert result.error is None, result.error
    return [(d.code, d.line, d.message) for d in result.diagnostics]


def test_samples_exist() -> None:
    assert {p.parent.name for p in CLEAN} >= {"okta", "entra"}
    assert 8 <= len(BROKEN) <= 12


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.parent.name)
def test_clean_sample_has_no_diagnostic(path: Path) -> None:
    found = reported(path)
    assert not found, "\n".join(f"{path.name}:{line}: {code} {message}" for code, line, message in found)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_sample_reports_exactly_its_expect_line(path: Path) -> None:
    expected = expected_codes(path)
    found = reported(path)
    got = {code for code, _, _ in found}
    missing, extra = sorted(expected - got), sorted(got - expected)
    details = "\n".join(f"  line {line}: {code} {message}" for code, line, message in found)
    assert not missing and not extra, f"{path.name}: missing {missing}, unexpected {extra}\n{details}"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_sample_explains_itself(path: Path) -> None:
    prose = [line for line in header(path) if line and not _EXPECT.match("; " + line)]
    text = " ".join(prose)
    assert len(prose) >= 3 and len(text) >= 120, (
        f"{path.name}: say in plain words what is wrong and why it hurts"
    )
    assert "Fix:" in text, f"{path.name}: the explanation ends with what to change (`Fix: ...`)"
    assert expected_codes(path), f"{path.name}: a broken sample must expect at least one code"
