"""Data-driven rule cases: each rule gets ``fail`` cases (its code must be reported) and ``ok`` cases
(its code must not be reported). Test modules define ``CASES`` and call :func:`check`;
``test_registry.py`` proves every registered rule has both kinds.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtool.saml.lint import Diagnostic, LintOptions, Version, lint_file

# A fixed "now" keeps certificate-expiry and metadata cases deterministic.
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Case:
    code: str
    ini: str
    expect: bool  # True: the code is reported; False: it is not
    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    # Extra files next to the ini: name -> bytes, or a callable (tmp_path) -> bytes for generated content.
    files: dict[str, bytes | str | Callable[[Path], bytes]] = field(default_factory=dict)
    message: str | None = None  # a substring the diagnostic's message must contain
    severity: str | None = None  # the severity the diagnostic must have

    @property
    def id(self) -> str:
        return f"{self.code}-{'fail' if self.expect else 'ok'}-{self.name or 'case'}"


def fail(code: str, ini: str, name: str = "", **kw: Any) -> Case:
    return Case(code, ini, True, name, **kw)


def ok(code: str, ini: str, name: str = "", **kw: Any) -> Case:
    return Case(code, ini, False, name, **kw)


def run(case: Case, tmp_path: Path) -> list[Diagnostic]:
    for rel, content in case.files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content(tmp_path) if callable(content) else content
        target.write_bytes(data.encode() if isinstance(data, str) else data)
    path = tmp_path / "grafana.ini"
    path.write_text(textwrap.dedent(case.ini).lstrip("\n"), encoding="utf-8")
    options = dict(case.options)
    if "grafana_version" in options and isinstance(options["grafana_version"], str):
        options["grafana_version"] = Version.parse(options["grafana_version"])
    options.setdefault("env", {})  # never the developer's own environment
    options.setdefault("now", NOW)
    result = lint_file(str(path), LintOptions(select=[case.code], **options), raise_crashes=True)
    assert result.error is None, result.error
    return result.diagnostics


def check(case: Case, tmp_path: Path) -> None:
    found = [d for d in run(case, tmp_path) if d.code == case.code]
    if not case.expect:
        assert not found, f"{case.code} reported where it should not be: {found}"
        return
    assert found, f"{case.code} not reported for:\n{case.ini}"
    if case.message is not None:
        assert any(case.message in d.message or case.message in d.hint for d in found), found
    if case.severity is not None:
        assert any(d.severity == case.severity for d in found), found
    for d in found:
        assert d.message and d.hint, "every diagnostic says what is wrong and what to do"
