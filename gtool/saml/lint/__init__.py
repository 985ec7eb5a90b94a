"""Lint Grafana's ``[auth.saml]`` configuration: the runner that feeds files to the registered rules.

>>> from gtool.saml.lint import lint_text
>>> [d.code for d in lint_text("[auth.saml]\\nenabeld = true\\n", select=["INI-002"])]
['INI-002']
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gtool.saml import ini, settings
from gtool.saml.keys import SAML
from gtool.saml.lint.context import Finding, LintContext, Version
from gtool.saml.lint.diagnostic import Diagnostic
from gtool.saml.lint.registry import Rule, Severity, select

if TYPE_CHECKING:  # assertion mode types only: plain lint runs never load the model
    from gtool.saml.assertion import Response
    from gtool.saml.orgmapping import Org, Team

__all__ = [
    "Diagnostic",
    "FileResult",
    "LintOptions",
    "RuleCrash",
    "Severity",
    "Version",
    "expand_paths",
    "lint_file",
    "lint_ini",
    "lint_text",
]


@dataclass
class LintOptions:
    select: list[str] | None = None
    ignore: list[str] | None = None
    env: Mapping[str, str] | None = None  # a snapshot (--env-file); None = this process's environment
    defaults: ini.IniFile | None = None
    sso: settings.SsoRecord | None = None
    cli_args: list[str] = field(default_factory=list)
    grafana_version: Version | None = None
    now: dt.datetime | None = None
    fetch_metadata: bool = False
    homepath: Path | None = None  # default: the directory of each linted file
    # Assertion mode (`gtool saml lint --assertion`): the parsed message, where it came from, and the
    # existing teams/orgs when known. Rules with needs="assertion" run only when `assertion` is set.
    assertion: Response | None = None
    assertion_path: str | None = None
    teams: list[Team] | None = None
    orgs: list[Org] | None = None


@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    error: ini.IniReadError | None = None


class RuleCrash(Exception):
    """A rule raised: a bug in gtool, reported as such instead of a traceback."""

    def __init__(self, code: str, path: str, exc: Exception) -> None:
        super().__init__(f"rule {code} failed on {path}: {type(exc).__name__}: {exc}")
        self.code = code


def _has_saml(file: ini.IniFile, config: settings.GrafanaConfig) -> bool:
    return (
        file.section(SAML) is not None
        or config.sso is not None
        or any(s.source.kind == "env" for s in config.section_keys(SAML))
    )


def _sso_line(path: str, json_key: str) -> int:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return 1
    for n, line in enumerate(text.splitlines(), 1):
        if f'"{json_key}"' in line:
            return n
    return 1


def _locate(ctx: LintContext, finding: Finding) -> tuple[str, int, int, str]:
    """Path, line, column for a finding, and a note naming a non-file source of the value."""
    file = ctx.file
    header = file.section(SAML)
    fallback = (file.path, header.headers[0] if header and header.headers else 1, 1, "")
    target = finding.target
    if target is None:
        return fallback
    if isinstance(target, tuple):
        return (*target, "")
    if isinstance(target, ini.IniKey):
        return target.path, target.line, target.value_column if finding.at_value else target.column, ""
    src = target.source
    if src.kind == "sso-settings":
        from gtool.saml.keys import SAML_KEYS

        spec = SAML_KEYS.get(target.key)
        json_key = spec.json_name if spec else target.key
        return (
            src.path or "sso-settings",
            _sso_line(src.path or "", json_key),
            1,
            " (from the SSO settings record)",
        )
    note = "" if src.kind == "file" else f" (value from {src})"
    # A key only the built-in defaults hold has no line a user can open ("<defaults.ini>").
    if target.written is not None and not target.written.path.startswith("<"):
        w = target.written
        return w.path, w.line, w.value_column if finding.at_value else w.column, note
    return (*fallback[:3], note)


def lint_ini(
    file: ini.IniFile,
    options: LintOptions | None = None,
    *,
    rules: list[Rule] | None = None,
    raise_crashes: bool = True,
) -> tuple[list[Diagnostic], list[RuleCrash]]:
    """Run the rules over one parsed custom file layered with the options' defaults, env and SSO record."""
    opts = options or LintOptions()
    base = Path(file.path).parent if not file.path.startswith("<") else None
    homepath = opts.homepath or base
    config = settings.load(
        [file], defaults=opts.defaults, env=opts.env, cli_args=opts.cli_args, sso=opts.sso, base_dir=homepath
    )
    ctx = LintContext(
        file,
        config,
        grafana_version=opts.grafana_version,
        now=opts.now or dt.datetime.now(dt.UTC),
        fetch_metadata=opts.fetch_metadata,
        homepath=homepath,
        assertion=opts.assertion,
        assertion_path=opts.assertion_path,
        teams=opts.teams,
        orgs=opts.orgs,
    )
    chosen = rules if rules is not None else select(opts.select, opts.ignore)
    has_saml = _has_saml(file, config)
    out: list[Diagnostic] = []
    crashes: list[RuleCrash] = []
    for r in chosen:
        if r.needs == "assertion" and opts.assertion is None:
            continue
        if r.scope == "saml" and not has_saml:
            continue
        try:
            findings = list(r.check(ctx))
        except Exception as exc:
            if raise_crashes:
                raise
            crashes.append(RuleCrash(r.code, file.path, exc))
            continue
        for f in findings:
            path, line, column, note = _locate(ctx, f)
            source_file = (
                file if path == file.path else next((x for x in config.files if x.path == path), None)
            )
            if source_file is not None and source_file.is_suppressed(r.code, line):
                continue
            severity = (f.severity or r.severity).value
            out.append(
                Diagnostic(
                    path, line, column, r.code, r.slug, severity, f.section, f.key, f.message + note, f.hint
                )
            )
    return sorted(set(out)), crashes


def lint_text(text: str, path: str = "grafana.ini", **options: object) -> list[Diagnostic]:
    """Lint ini text (used by tests and the docs); keyword arguments are :class:`LintOptions` fields."""
    opts = LintOptions(**options)  # type: ignore[arg-type]
    diagnostics, _ = lint_ini(ini.parse_text(text, path), opts)
    return diagnostics


def lint_file(path: str, options: LintOptions | None = None, *, raise_crashes: bool = False) -> FileResult:
    try:
        file = ini.read_file(path)
    except ini.IniReadError as exc:
        return FileResult(path, error=exc)
    diagnostics, crashes = lint_ini(file, options, raise_crashes=raise_crashes)
    if crashes:
        raise crashes[0]
    return FileResult(path, diagnostics)


def expand_paths(paths: Iterable[str]) -> tuple[list[str], list[ini.IniReadError]]:
    """Files to lint: each file argument as given, every ``*.ini`` under a directory argument (sorted)."""
    files: list[str] = []
    errors: list[ini.IniReadError] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*.ini") if f.is_file())
            if not found:
                errors.append(
                    ini.IniReadError(raw, "directory holds no *.ini file", "pass a grafana.ini file")
                )
            files.extend(found)
        elif not p.exists():
            errors.append(ini.IniReadError(raw, "no such file or directory", "check the path"))
        else:
            files.append(raw)
    return files, errors


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
