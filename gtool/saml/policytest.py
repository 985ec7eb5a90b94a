"""Mapping-policy tests (``gtool saml test CASES.toml --config grafana.ini``): each case names a user's
SAML attributes and what the login must grant; :func:`run_cases` simulates every case with
:func:`gtool.saml.mapping.simulate` and compares only the expectations the case gives.

The CASES.toml format is documented in docs/explain.md; samples/mapping-tests.toml is a working example.
Errors in the file (TOML syntax, unknown keys, wrong types) raise :class:`CasesError` naming the file and
line, so a CI log points at what to fix.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtool.saml.assertion import Attribute
from gtool.saml.mapping import (
    AssumptionError,
    Assumptions,
    Org,
    Outcome,
    Team,
    simulate,
)
from gtool.saml.settings import GrafanaConfig
from gtool.saml.values import ORG_ROLES, Version

TOP_KEYS = ("grafana_version", "assume", "orgs", "teams", "org", "team", "case")
CASE_KEYS = ("name", "description", "attributes", "user_exists", "current_memberships", "assume", "expect")
EXPECT_KEYS = (
    "login_allowed",
    "login_denied_reason",
    "org_roles",
    "grafana_admin",
    "role_sync",
    "teams",
    "groups",
    "login",
    "email",
    "name",
)
UNMANAGED = "unmanaged"


class CasesError(Exception):
    """CASES.toml cannot be used; ``message`` starts with ``file:line`` and ``hint`` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message} ({hint})")
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Case:
    name: str
    line: int
    attributes: tuple[Attribute, ...]
    expect: Mapping[str, Any]
    user_exists: bool | None = None
    current_memberships: Mapping[int, str] | None = None
    assume: tuple[str, ...] = ()


@dataclass(frozen=True)
class CasesFile:
    path: str
    cases: tuple[Case, ...]
    orgs: list[Org] | None = None
    teams: list[Team] | None = None
    assume: tuple[str, ...] = ()
    grafana_version: Version | None = None


@dataclass(frozen=True)
class Mismatch:
    """One expectation the outcome does not meet."""

    field: str
    expected: Any
    actual: Any
    diff: str  # for people: what is missing, extra or different

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "expected": self.expected, "actual": self.actual, "diff": self.diff}


@dataclass
class CaseResult:
    name: str
    path: str
    line: int
    outcome: Outcome
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "location": f"{self.path}:{self.line}",
            "passed": self.passed,
            "mismatches": [m.to_json() for m in self.mismatches],
            "outcome": self.outcome.to_json(),
        }

    def to_text(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'}  {self.name}  ({self.path}:{self.line})"
        lines = [head]
        for m in self.mismatches:
            lines.append(f"      {m.field}: {m.diff}")
        if not self.passed:
            fields = {m.field for m in self.mismatches}
            who = {"login", "email", "name", "sign-up"} - fields
            if fields & {"login_allowed", "login_denied_reason"}:
                who.discard("sign-up")
            why = [d for d in self.outcome.decisions if d.what not in who and d.result != "passed"]
            if why:
                lines.append("      why:")
                lines.extend(f"        {d.what}: {d.result} — {d.because} [{d.source}]" for d in why[-8:])
        for diag in self.outcome.diagnostics:
            lines.append(f"      note: {diag.code} {diag.message}")
        return "\n".join(lines)


def to_text(results: Sequence[CaseResult]) -> str:
    """Every case as PASS/FAIL with the differences, then a one-line summary."""
    failed = sum(not r.passed for r in results)
    body = [r.to_text() for r in results]
    summary = f"{len(results) - failed} passed, {failed} failed" + (
        "" if not failed else " — a FAIL lists what differs and the decisions that led there"
    )
    return "\n".join([*body, "", summary]) + "\n"


# -- reading CASES.toml ---------------------------------------------------------------------------------


class _Locator:
    """Line numbers for values tomllib reports without them: the ``[[case]]`` headers and keys below them."""

    _HEADER = re.compile(r"^\s*\[\[\s*(case|org|team)\s*\]\]")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.headers: dict[str, list[int]] = {"case": [], "org": [], "team": []}
        for n, line in enumerate(self.lines, 1):
            m = self._HEADER.match(line)
            if m:
                self.headers[m.group(1)].append(n)

    def table(self, kind: str, index: int) -> int:
        found = self.headers[kind]
        return found[index] if index < len(found) else 1

    def key(self, kind: str, index: int, key: str) -> int:
        """The first line under the table's header that assigns ``key`` (or the header itself)."""
        start = self.table(kind, index)
        following = [n for ns in self.headers.values() for n in ns if n > start]
        end = min(following, default=len(self.lines) + 1)
        pattern = re.compile(
            rf'(^|[\s{{,.])["\']?{re.escape(key)}["\']?\s*=|\[\s*{kind}\.{re.escape(key)}\s*\]'
        )
        for n in range(start, end):
            if pattern.search(self.lines[n - 1]):
                return n
        return start

    def top_key(self, key: str) -> int:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n, line in enumerate(self.lines, 1):
            if self._HEADER.match(line):
                break
            if pattern.match(line):
                return n
        return 1

    def error(self, line: int, message: str, hint: str) -> CasesError:
        return CasesError(f"{self.path}:{line}: {message}", hint)


def _unknown(keys: Sequence[str], known: Sequence[str]) -> list[str]:
    return [k for k in keys if k not in known]


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_cases(path: str | Path) -> CasesFile:
    """Read and validate a CASES.toml; every problem is a :class:`CasesError` with file:line."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CasesError(f"{shown}: {exc.strerror or exc}", "check the CASES.toml path") from None
    except UnicodeDecodeError as exc:
        raise CasesError(f"{shown}: not UTF-8 ({exc.reason})", "save the file as UTF-8") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{shown}:{m.group(1)}:{m.group(2)}" if m else shown
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise CasesError(
            f"{where}: not valid TOML: {message}",
            'fix the syntax; strings need double quotes, lists are ["a", "b"], see docs/explain.md',
        ) from None
    at = _Locator(shown, text)
    bad = _unknown(list(doc), TOP_KEYS)
    if bad:
        raise at.error(
            at.top_key(bad[0]), f"unknown top-level key {bad[0]!r}", f"known keys: {', '.join(TOP_KEYS)}"
        )
    base = Path(path).parent
    version = _version(doc, at)
    assume = _assume(doc.get("assume", []), at, at.top_key("assume"))
    orgs = _orgs(doc, at, base)
    teams = _teams(doc, at, base)
    raw_cases = doc.get("case")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise at.error(1, "no [[case]] tables", "add at least one [[case]] with name, attributes and expect")
    cases = [_case(i, raw, at) for i, raw in enumerate(raw_cases)]
    seen: dict[str, int] = {}
    for c in cases:
        if c.name in seen:
            raise at.error(c.line, f"case name {c.name!r} is used twice", "give every case its own name")
        seen[c.name] = c.line
    return CasesFile(shown, tuple(cases), orgs, teams, assume, version)


def _version(doc: Mapping[str, Any], at: _Locator) -> Version | None:
    raw = doc.get("grafana_version")
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        return Version.parse(raw)
    except ValueError:
        raise at.error(
            at.top_key("grafana_version"),
            f'grafana_version must be a string like "12.3", not {raw!r}',
            "quote the version",
        ) from None


def _assume(raw: Any, at: _Locator, line: int) -> tuple[str, ...]:
    if not _strings(raw):
        raise at.error(line, "assume must be a list of strings", 'write assume = ["trim-values=false"]')
    try:
        Assumptions.parse(raw)
    except AssumptionError as exc:
        raise at.error(line, exc.message, exc.hint) from None
    return tuple(raw)


def _load_json(base: Path, ref: Any, what: str, at: _Locator) -> Any:
    line = at.top_key(what)
    if not isinstance(ref, str):
        raise at.error(
            line,
            f"{what} must be a file name (a string) or [[{what[:-1]}]] tables",
            f'write {what} = "{what}.json"',
        )
    target = base / ref
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise at.error(
            line, f"{what} = {ref!r}: {exc.strerror or exc}", "the path is relative to CASES.toml"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise at.error(
            line, f"{what} = {ref!r}: not JSON: {exc}", f"give the JSON list --{what} reads"
        ) from None


def _orgs(doc: Mapping[str, Any], at: _Locator, base: Path) -> list[Org] | None:
    if "orgs" in doc and "org" in doc:
        raise at.error(at.top_key("orgs"), "both orgs = FILE and [[org]] tables", "use one of them")
    if "orgs" in doc:
        items, kind = _load_json(base, doc["orgs"], "orgs", at), None
    elif "org" in doc:
        items, kind = doc["org"], "org"
    else:
        return None
    if not isinstance(items, list):
        raise at.error(
            at.top_key("orgs"), "the org list must be a list", 'give [{"id": 1, "name": "Main Org."}]'
        )
    orgs = []
    for i, item in enumerate(items):
        line = at.table(kind, i) if kind else at.top_key("orgs")
        if not isinstance(item, dict) or not _int(item.get("id")) or not isinstance(item.get("name"), str):
            raise at.error(
                line,
                f"org {i + 1}: needs an integer id and a string name",
                'write id = 1, name = "Main Org."',
            )
        if kind:
            bad = _unknown(list(item), ("id", "name"))
            if bad:
                raise at.error(
                    at.key(kind, i, bad[0]), f"unknown key {bad[0]!r} in [[org]]", "known keys: id, name"
                )
        orgs.append(Org(item["id"], item["name"]))
    return orgs


_TEAM_KEYS = ("id", "name", "orgId", "org_id", "externalGroups", "external_groups")


def _teams(doc: Mapping[str, Any], at: _Locator, base: Path) -> list[Team] | None:
    if "teams" in doc and "team" in doc:
        raise at.error(at.top_key("teams"), "both teams = FILE and [[team]] tables", "use one of them")
    if "teams" in doc:
        items, kind = _load_json(base, doc["teams"], "teams", at), None
    elif "team" in doc:
        items, kind = doc["team"], "team"
    else:
        return None
    if not isinstance(items, list):
        raise at.error(at.top_key("teams"), "the team list must be a list", "see docs/explain.md")
    teams = []
    for i, item in enumerate(items):
        line = at.table(kind, i) if kind else at.top_key("teams")
        hint = 'write id = 3, name = "SRE", org_id = 1, external_groups = ["sre"]'
        if not isinstance(item, dict):
            raise at.error(line, f"team {i + 1}: expected a table", hint)
        bad = _unknown(list(item), _TEAM_KEYS)
        if bad:
            where = at.key(kind, i, bad[0]) if kind else line
            raise at.error(
                where, f"unknown key {bad[0]!r} in team {i + 1}", f"known keys: {', '.join(_TEAM_KEYS)}"
            )
        org_id: Any = item.get("org_id", item.get("orgId", 1))
        groups: Any = item.get("external_groups", item.get("externalGroups", []))
        if not _int(item.get("id")) or not isinstance(item.get("name"), str) or not _int(org_id):
            raise at.error(
                line, f"team {i + 1}: needs an integer id, a string name and an integer org_id", hint
            )
        if not _strings(groups):
            raise at.error(line, f"team {i + 1}: external_groups must be a list of strings", hint)
        teams.append(Team(item["id"], item["name"], org_id, tuple(groups)))
    return teams


def _case(index: int, raw: Any, at: _Locator) -> Case:
    line = at.table("case", index)
    if not isinstance(raw, dict):
        raise at.error(line, f"case {index + 1} is not a table", "write each case as a [[case]] table")
    bad = _unknown(list(raw), CASE_KEYS)
    if bad:
        raise at.error(
            at.key("case", index, bad[0]),
            f"unknown key {bad[0]!r} in a case",
            f"known keys: {', '.join(CASE_KEYS)}",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise at.error(line, f"case {index + 1} has no name", 'write name = "what this case shows"')
    attributes = _attributes(raw.get("attributes"), at, index, name)
    exists = raw.get("user_exists")
    if exists is not None and not isinstance(exists, bool):
        raise at.error(
            at.key("case", index, "user_exists"), "user_exists must be true or false", "or leave it out"
        )
    current = _memberships(raw.get("current_memberships"), at, index)
    assume = _assume(raw.get("assume", []), at, at.key("case", index, "assume"))
    expect = _expect(raw.get("expect"), at, index, name)
    return Case(name, line, attributes, expect, exists, current, assume)


def _attributes(raw: Any, at: _Locator, index: int, name: str) -> tuple[Attribute, ...]:
    line = at.key("case", index, "attributes")
    hint = 'write attributes = { email = "ada@example.com", groups = ["Grafana Admins"] }'
    if not isinstance(raw, dict):
        raise at.error(line, f"case {name!r} has no attributes table", hint)
    attributes = []
    for attr, value in raw.items():
        if isinstance(value, str):
            values: tuple[str, ...] = (value,)
        elif _strings(value):
            values = tuple(value)
        else:
            raise at.error(
                at.key("case", index, attr), f"attribute {attr!r} must be a string or a list of strings", hint
            )
        attributes.append(Attribute(attr, values))
    return tuple(attributes)


def _memberships(raw: Any, at: _Locator, index: int) -> dict[int, str] | None:
    if raw is None:
        return None
    line = at.key("case", index, "current_memberships")
    hint = 'write current_memberships = { "1" = "Viewer" } (org id = role)'
    if not isinstance(raw, dict):
        raise at.error(line, "current_memberships must be a table of org id = role", hint)
    out = {}
    for org, role in raw.items():
        if not org.isdigit() or role not in ORG_ROLES:
            raise at.error(line, f"current_memberships: {org!r} = {role!r} is not an org id and a role", hint)
        out[int(org)] = role
    return out


def _expect(raw: Any, at: _Locator, index: int, name: str) -> dict[str, Any]:
    line = at.key("case", index, "expect")
    if not isinstance(raw, dict) or not raw:
        raise at.error(
            line,
            f"case {name!r} expects nothing",
            'add expect = { org_roles = { "1" = "Viewer" } } or similar',
        )
    bad = _unknown(list(raw), EXPECT_KEYS)
    if bad:
        raise at.error(
            at.key("case", index, bad[0]),
            f"unknown expectation {bad[0]!r}",
            f"known: {', '.join(EXPECT_KEYS)}",
        )
    for key, value in raw.items():
        problem = _expect_problem(key, value)
        if problem:
            raise at.error(at.key("case", index, key), f"expect.{key}: {problem[0]}", problem[1])
    return dict(raw)


def _expect_problem(key: str, value: Any) -> tuple[str, str] | None:
    roles = ", ".join(ORG_ROLES)
    if key == "login_allowed" and not isinstance(value, bool):
        return "must be true or false", "write login_allowed = false"
    if key == "org_roles":
        if not isinstance(value, dict):
            return "must be a table of org = role", 'write org_roles = { "1" = "Editor" }'
        for org, role in value.items():
            if role not in ORG_ROLES:
                return (
                    f"{org!r} = {role!r} is not a Grafana role",
                    f"roles are exactly {roles} (case-sensitive)",
                )
    if key == "grafana_admin" and value not in (True, False, UNMANAGED):
        return f'must be true, false or "{UNMANAGED}", not {value!r}', "unmanaged: SAML leaves the flag alone"
    if key == "role_sync" and value not in ("applied", "skipped"):
        return f'must be "applied" or "skipped", not {value!r}', 'write role_sync = "skipped"'
    if key in ("teams", "groups") and not (
        isinstance(value, list) and all(isinstance(v, str) or _int(v) for v in value)
    ):
        return "must be a list of names (or team ids)", f'write {key} = ["SRE"]'
    if key in ("login_denied_reason", "login", "email", "name") and not isinstance(value, str):
        return "must be a string", f'write {key} = "…"'
    return None


# -- running --------------------------------------------------------------------------------------------


def run_cases(
    path: str | Path,
    config: GrafanaConfig,
    *,
    orgs: Sequence[Org] | None = None,
    teams: Sequence[Team] | None = None,
    assume: Sequence[str] = (),
    grafana_version: Version | None = None,
) -> list[CaseResult]:
    """Simulate every case of ``path`` against ``config``; orgs, teams, assumptions and version given here
    override the file's own."""
    cases = load_cases(path)
    org_list = orgs if orgs is not None else cases.orgs
    team_list = teams if teams is not None else cases.teams
    version = grafana_version if grafana_version is not None else cases.grafana_version
    results = []
    for case in cases.cases:
        try:
            assumptions = Assumptions.parse([*cases.assume, *case.assume, *assume])
        except AssumptionError as exc:
            raise CasesError(exc.message, exc.hint) from None
        outcome = simulate(
            config,
            case.attributes,
            orgs=org_list,
            teams=team_list,
            assumptions=assumptions,
            grafana_version=version,
            user_exists=case.user_exists,
            current_memberships=case.current_memberships,
        )
        results.append(CaseResult(case.name, cases.path, case.line, outcome, compare(case.expect, outcome)))
    return results


def compare(expect: Mapping[str, Any], outcome: Outcome) -> list[Mismatch]:
    """The expectations ``outcome`` does not meet, one :class:`Mismatch` per field."""
    actual = outcome.to_json()
    mismatches = []
    for key, wanted in expect.items():
        diff = _DIFFS[key](wanted, actual, outcome)
        if diff is not None:
            got = UNMANAGED if key == "grafana_admin" and actual[key] is None else actual.get(key)
            if key == "teams":
                got = [t["name"] for t in actual["teams"]]
            mismatches.append(Mismatch(key, wanted, got, diff))
    return mismatches


_Diff = Callable[[Any, Mapping[str, Any], Outcome], str | None]


def _diff_org_roles(wanted: Mapping[str, str], actual: Mapping[str, Any], _: Outcome) -> str | None:
    got: Mapping[str, str] = actual["org_roles"]
    if dict(wanted) == dict(got):
        return None
    parts = []
    for org in sorted(
        set(wanted) | set(got), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)
    ):
        w, g = wanted.get(org), got.get(org)
        if w == g:
            continue
        if g is None:
            parts.append(f"org {org}: expected {w}, the user gets no role there")
        elif w is None:
            parts.append(f"org {org}: not expected, the user gets {g}")
        else:
            parts.append(f"org {org}: expected {w}, got {g}")
    if not got:
        parts.append("(the user gets no org role at all)")
    return "; ".join(parts)


def _diff_admin(wanted: Any, actual: Mapping[str, Any], _: Outcome) -> str | None:
    got = actual["grafana_admin"]
    if wanted == got or (wanted == UNMANAGED and got is None):
        return None
    shown = {True: "true", False: "false", None: UNMANAGED, UNMANAGED: UNMANAGED}
    return f"expected {shown[wanted]}, got {shown[got]}"


def _team_matches(wanted: str | int, team: Mapping[str, Any]) -> bool:
    return bool(wanted == team["name"] if isinstance(wanted, str) else wanted == team["id"])


def _diff_teams(wanted: Sequence[str | int], actual: Mapping[str, Any], outcome: Outcome) -> str | None:
    teams = actual["teams"]
    missing = [w for w in wanted if not any(_team_matches(w, t) for t in teams)]
    extra = [t["name"] for t in teams if not any(_team_matches(w, t) for w in wanted)]
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append("missing " + ", ".join(json.dumps(m, ensure_ascii=False) for m in missing))
    if extra:
        parts.append("unexpected " + ", ".join(json.dumps(e, ensure_ascii=False) for e in extra))
    if any(d.what == "team sync" and d.result == "not computed" for d in outcome.decisions):
        parts.append("(no team list: add [[team]] tables or teams = FILE)")
    return "; ".join(parts)


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _diff_set(key: str) -> _Diff:
    def diff(wanted: Sequence[str], actual: Mapping[str, Any], _: Outcome) -> str | None:
        got = actual[key]
        missing = [w for w in wanted if w not in got]
        extra = [g for g in got if g not in wanted]
        if not missing and not extra:
            return None
        parts = []
        if missing:
            parts.append("missing " + ", ".join(json.dumps(m, ensure_ascii=False) for m in missing))
        if extra:
            parts.append("unexpected " + ", ".join(json.dumps(e, ensure_ascii=False) for e in extra))
        return "; ".join(parts)

    return diff


def _diff_value(key: str) -> _Diff:
    def diff(wanted: Any, actual: Mapping[str, Any], _: Outcome) -> str | None:
        got = actual[key]
        if wanted == got:
            return None
        extra = ""
        if key == "login_allowed" and got is False:
            extra = f" (denied: {actual['login_denied_reason']})"
        return f"expected {_js(wanted)}, got {_js(got)}{extra}"

    return diff


def _diff_reason(wanted: str, actual: Mapping[str, Any], _: Outcome) -> str | None:
    got = actual["login_denied_reason"]
    if got is not None and wanted in got:
        return None
    if got is None:
        return f"expected a denial containing {wanted!r}, but the login is allowed"
    return f"expected the reason to contain {wanted!r}, got {got!r}"


_DIFFS: dict[str, _Diff] = {
    "login_allowed": _diff_value("login_allowed"),
    "login_denied_reason": _diff_reason,
    "org_roles": _diff_org_roles,
    "grafana_admin": _diff_admin,
    "role_sync": _diff_value("role_sync"),
    "teams": _diff_teams,
    "groups": _diff_set("groups"),
    "login": _diff_value("login"),
    "email": _diff_value("email"),
    "name": _diff_value("name"),
}

__all__ = [
    "CaseResult",
    "CasesError",
    "CasesFile",
    "Mismatch",
    "compare",
    "load_cases",
    "run_cases",
    "to_text",
]
