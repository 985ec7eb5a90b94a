"""Output formats for lint results: text (like ruff), json (a contract), sarif 2.1.0, github annotations."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gtool import __version__
from gtool.saml.ini import IniReadError
from gtool.saml.lint import FileResult
from gtool.saml.lint.diagnostic import Diagnostic
from gtool.saml.lint.registry import Rule, all_rules

FORMATS = ("text", "json", "sarif", "github")


def summary(results: Sequence[FileResult]) -> dict[str, int]:
    counts = {"errors": 0, "warnings": 0, "infos": 0, "files": len(results)}
    for r in results:
        for d in r.diagnostics:
            counts[{"error": "errors", "warning": "warnings", "info": "infos"}[d.severity]] += 1
    return counts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def text(results: Sequence[FileResult], errors: Sequence[IniReadError], color: bool = False) -> str:
    def style(s: str, code: str) -> str:
        return f"\x1b[{code}m{s}\x1b[0m" if color else s

    sev_color = {"error": "31", "warning": "33", "info": "36"}
    lines: list[str] = []
    for r in results:
        for d in r.diagnostics:
            where = style(f"{d.path}:{d.line}:{d.column}:", "1")
            code = style(d.code, sev_color[d.severity] + ";1")
            lines.append(f"{where} {code} [{d.slug}] {d.message}")
            lines.append(f"  {style('hint:', '2')} {d.hint}")
    counts = summary(results)
    total = counts["errors"] + counts["warnings"] + counts["infos"]
    files = _plural(counts["files"], "file")
    if total:
        parts = [_plural(counts["errors"], "error"), _plural(counts["warnings"], "warning")]
        parts.append(_plural(counts["infos"], "info"))
        lines.append(f"Found {_plural(total, 'problem')} ({', '.join(parts)}) in {files}.")
    elif results:
        lines.append(f"All checks passed ({files}).")
    if errors:
        lines.append(f"{_plural(len(errors), 'path')} could not be linted (see above).")
    return "\n".join(lines)


def to_json(results: Sequence[FileResult], errors: Sequence[IniReadError]) -> str:
    doc: dict[str, Any] = {
        "files": [{"path": r.path, "diagnostics": [d.to_json() for d in r.diagnostics]} for r in results],
        "summary": summary(results),
    }
    if errors:
        doc["errors"] = [{"path": e.path, "message": e.message, "hint": e.hint} for e in errors]
    return json.dumps(doc, indent=2, ensure_ascii=False)


_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return p.as_uri()
    return p.as_posix()


def _relative(path: str) -> str:
    """Annotations name files relative to the workspace (the working directory in a workflow)."""
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return path
    return p.as_posix()


def sarif(results: Sequence[FileResult], errors: Sequence[IniReadError]) -> str:
    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}

    def rule_meta(r: Rule) -> dict[str, Any]:
        return {
            "id": r.code,
            "name": r.slug,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.summary},
            "help": {"text": r.doc, "markdown": r.doc},
            "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity.value]},
            "properties": {"category": r.category},
        }

    def result(d: Diagnostic) -> dict[str, Any]:
        return {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _SARIF_LEVEL[d.severity],
            "message": {"text": f"{d.message}\nhint: {d.hint}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(d.path)},
                        "region": {"startLine": d.line, "startColumn": d.column},
                    }
                }
            ],
        }

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "gtool",
                "version": __version__,
                "rules": [rule_meta(r) for r in rules],
            }
        },
        "results": [result(d) for r in results for d in r.diagnostics],
        "invocations": [
            {
                "executionSuccessful": not errors,
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": f"{e.path}: {e.message}"}} for e in errors
                ],
            }
        ],
    }
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s


def github(results: Sequence[FileResult], errors: Sequence[IniReadError]) -> str:
    """GitHub Actions workflow commands: one annotation per diagnostic."""
    level = {"error": "error", "warning": "warning", "info": "notice"}
    lines = []
    for r in results:
        for d in r.diagnostics:
            props = (
                f"file={_gh_escape(_relative(d.path), True)},line={d.line},col={d.column},"
                f"title={_gh_escape(f'{d.code} [{d.slug}]', True)}"
            )
            lines.append(f"::{level[d.severity]} {props}::{_gh_escape(f'{d.message} (hint: {d.hint})')}")
    for e in errors:
        lines.append(f"::error file={_gh_escape(e.path, True)}::{_gh_escape(f'{e.message} ({e.hint})')}")
    return "\n".join(lines)


def render(
    fmt: str, results: Sequence[FileResult], errors: Sequence[IniReadError], color: bool = False
) -> str:
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: text(results, errors, color),
        "json": lambda: to_json(results, errors),
        "sarif": lambda: sarif(results, errors),
        "github": lambda: github(results, errors),
    }
    return renderers[fmt]()


def use_color(stream_isatty: bool) -> bool:
    """Colour only on a terminal and never with NO_COLOR set (https://no-color.org)."""
    return stream_isatty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
