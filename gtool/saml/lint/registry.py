"""The rule registry: one rule = one small function with a stable code, a slug, a default severity and a
docstring that is its documentation (headings: What it does / Why is this bad? / Example / Use instead).

Rule modules are imported only when rules are needed (:func:`all_rules`), so importing the package
stays cheap.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gtool.saml.lint.context import Finding, LintContext


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


CheckFn = Callable[["LintContext"], Iterable["Finding"]]


@dataclass(frozen=True)
class Rule:
    code: str  # saml-reference.md §10 ID, e.g. ROLE-006
    slug: str  # kebab-case, e.g. skip-sync-with-mappings
    severity: Severity
    check: CheckFn
    scope: str  # "saml": runs when an [auth.saml] section or SSO record exists; "file": always
    needs: str  # "config" or "assertion"

    @property
    def category(self) -> str:
        return self.code.split("-")[0]

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0].strip() if self.doc else ""


_RULES: dict[str, Rule] = {}

RULE_MODULES = (
    "gtool.saml.lint.rules.ini_rules",
    "gtool.saml.lint.rules.types",
    "gtool.saml.lint.rules.required",
    "gtool.saml.lint.rules.certs",
    "gtool.saml.lint.rules.metadata",
    "gtool.saml.lint.rules.roles",
    "gtool.saml.lint.rules.orgs",
    "gtool.saml.lint.rules.teams",
    "gtool.saml.lint.rules.context",
    "gtool.saml.lint.rules.assertion",
)
_loaded = False


def rule(
    code: str, slug: str, severity: Severity, *, scope: str = "saml", needs: str = "config"
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under ``code``."""

    def register(fn: CheckFn) -> CheckFn:
        if code in _RULES:
            raise RuntimeError(f"rule {code} registered twice")
        if not fn.__doc__:
            raise RuntimeError(f"rule {code} has no docstring")
        _RULES[code] = Rule(code, slug, severity, fn, scope, needs)
        return fn

    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        for name in RULE_MODULES:
            importlib.import_module(name)
        _loaded = True


def _sort_key(code: str) -> tuple[int, str]:
    order = ("INI", "TYPE", "REQ", "CERT", "META", "ROLE", "ORG", "TEAM", "ASRT", "CTX")
    prefix = code.split("-")[0]
    return (order.index(prefix) if prefix in order else len(order), code)


def all_rules() -> list[Rule]:
    _load()
    return [_RULES[c] for c in sorted(_RULES, key=_sort_key)]


def get_rule(code_or_slug: str) -> Rule | None:
    _load()
    wanted = code_or_slug.strip()
    if wanted.upper() in _RULES:
        return _RULES[wanted.upper()]
    return next((r for r in _RULES.values() if r.slug == wanted.lower()), None)


class SelectionError(ValueError):
    pass


def matches(rule_: Rule, selector: str) -> bool:
    """A selector is ``ALL``, a category (``ROLE``), a code prefix (``ROLE-00``), a code or a slug."""
    s = selector.strip()
    return s.upper() == "ALL" or rule_.code.startswith(s.upper()) or rule_.slug == s.lower()


def select(selectors: Iterable[str] | None, ignores: Iterable[str] | None) -> list[Rule]:
    """The rules ``--select``/``--ignore`` leave in; an unknown selector is an error, not a silent no-op."""
    rules = all_rules()
    sel = [s for s in (selectors or []) if s.strip()]
    ign = [s for s in (ignores or []) if s.strip()]
    for s in (*sel, *ign):
        if not any(matches(r, s) for r in rules):
            raise SelectionError(f"unknown rule selector {s!r}: see `gtool saml rules` for codes and slugs")
    chosen = [r for r in rules if not sel or any(matches(r, s) for s in sel)]
    return [r for r in chosen if not any(matches(r, s) for s in ign)]


def iter_codes() -> Iterator[str]:
    return (r.code for r in all_rules())
