"""The SAML login simulator, :func:`simulate` (saml-reference.md §9): from a config and the
attributes of an assertion, what a SAML login grants (org roles, Grafana Admin, teams, whether the login
is allowed), each step recorded as a :class:`Decision` citing the config line that caused it. Facts the
reference marks unknown are named, overridable :class:`Assumptions` (docs/explain.md lists them).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gtool.saml.assertion import Attribute
from gtool.saml.ini import GO_SPACE
from gtool.saml.keys import SAML, USERS
from gtool.saml.orgmapping import (  # re-exported: the simulator and its callers use them as mapping.X
    ALL_ORGS as ALL_ORGS,
)
from gtool.saml.orgmapping import (
    DEFAULT_ROLE as DEFAULT_ROLE,
)
from gtool.saml.orgmapping import (
    MAX_PARTS as MAX_PARTS,
)
from gtool.saml.orgmapping import (
    InvalidEntry as InvalidEntry,
)
from gtool.saml.orgmapping import (
    InvalidKind as InvalidKind,
)
from gtool.saml.orgmapping import (
    MappingEntry as MappingEntry,
)
from gtool.saml.orgmapping import (
    Org as Org,
)
from gtool.saml.orgmapping import (
    OrgKey as OrgKey,
)
from gtool.saml.orgmapping import (
    OrgKind as OrgKind,
)
from gtool.saml.orgmapping import (
    OrgMapping as OrgMapping,
)
from gtool.saml.orgmapping import (
    OrgRef as OrgRef,
)
from gtool.saml.orgmapping import (
    ResolvedMapping as ResolvedMapping,
)
from gtool.saml.orgmapping import (
    Team as Team,
)
from gtool.saml.orgmapping import (
    count_parts as count_parts,
)
from gtool.saml.orgmapping import (
    fix_json_escapes as fix_json_escapes,
)
from gtool.saml.orgmapping import (
    go_atoi as go_atoi,
)
from gtool.saml.orgmapping import (
    has_bad_json_escape as has_bad_json_escape,
)
from gtool.saml.orgmapping import (
    parse_org_mapping as parse_org_mapping,
)
from gtool.saml.orgmapping import (
    parse_org_ref as parse_org_ref,
)
from gtool.saml.orgmapping import (
    resolve_mapping as resolve_mapping,
)
from gtool.saml.orgmapping import (
    split_org_mapping as split_org_mapping,
)
from gtool.saml.settings import GrafanaConfig
from gtool.saml.values import ORG_ROLES, ROLE_RANK, Version, parse_bool, split_string, top_role

if TYPE_CHECKING:
    from gtool.saml.lint.diagnostic import Diagnostic

# ---------------------------------------------------------------------------------------------------------
# Login simulator (saml-reference.md §9): what a SAML login would grant, with every decision and its cause.
# Grafana's SAML login code is closed source (Enterprise); where the reference marks a fact [U], the
# simulator follows a named, overridable assumption (see ``ASSUMPTIONS`` and docs/explain.md).
# ---------------------------------------------------------------------------------------------------------

DIRECT_ROLE_LISTS = (  # (key, role, first Grafana version that reads the key)
    ("role_values_none", "None", "10.2"),
    ("role_values_viewer", "Viewer", "11.1"),
    ("role_values_editor", "Editor", None),
    ("role_values_admin", "Admin", None),
)
GRAFANA_ADMIN_KEY = "role_values_grafana_admin"
ORG_NAMES_SINCE = "11.5"  # org names in org_mapping (docs; grafana/grafana#100439)
SIGN_UP_DISABLED = "Sign up is disabled"  # user_sync.go errSignupNotAllowed, shared by every auth client
DOCS_ATTRIBUTE_DEFAULTS = {  # the documented defaults of the attribute keys (the strategy default is "")
    "assertion_attribute_login": "mail",
    "assertion_attribute_email": "mail",
    "assertion_attribute_name": "displayName",
}
ASRT_MISSING = ("ASRT-001", "attribute-not-in-assertion")  # the slug lint registers
_SAML_VAR = re.compile(r"\$__saml\{([^}]*)\}")
_GO_TEMPLATE_VAR = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))", re.ASCII)
# Syntax Python's re accepts and Go's RE2 refuses: such a pattern does not compile in Grafana.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=")


class AssumptionError(ValueError):
    """A ``--assume NAME=VALUE`` item gtool does not know; ``hint`` lists what it accepts."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class AssumptionSpec:
    """A behaviour the simulator cannot read from Grafana's source: its name, choices and default."""

    name: str  # kebab-case, as users write it in --assume
    field: str  # the Assumptions attribute
    choices: tuple[str, ...]
    default: str
    description: str


ASSUMPTIONS: tuple[AssumptionSpec, ...] = (
    AssumptionSpec(
        "role-precedence",
        "role_precedence",
        ("top-role", "lowest-role"),
        "top-role",
        "when a user's role values match several role_values_* lists, the highest role wins (top-role, "
        "as every role merge in Grafana's OSS code) or the lowest (lowest-role); undocumented, §2.4",
    ),
    AssumptionSpec(
        "trim-values",
        "trim_values",
        ("true", "false"),
        "true",
        "surrounding whitespace of attribute values is removed before matching; crewjam keeps it, "
        "whether Grafana Enterprise trims is unknown, §2.3",
    ),
    AssumptionSpec(
        "attribute-name-case",
        "attribute_name_case",
        ("exact", "insensitive"),
        "exact",
        "attribute names are matched to Name/FriendlyName exactly (exact) or ignoring case, §7.1",
    ),
    AssumptionSpec(
        "grafana-admin-implies-org-admin",
        "grafana_admin_implies_org_admin",
        ("false", "true"),
        "false",
        "a role_values_grafana_admin match also gives the org Admin role (OAuth does; SAML unknown), §2.4",
    ),
    AssumptionSpec(
        "new-user-when-sync-skipped",
        "new_user_when_sync_skipped",
        ("default-org", "mapped"),
        "default-org",
        "with skip_org_role_sync, a new user gets the default org with auto_assign_org_role (default-org) "
        "or the roles the mapping computes, once (mapped), §2.8",
    ),
    AssumptionSpec(
        "org-mapping-matching",
        "org_mapping_matching",
        ("exact", "regex"),
        "exact",
        "org_mapping external values are compared exactly (exact) or as unanchored regular expressions "
        "(regex, grafana/grafana PR #121892, not known to be in any release), §12.2",
    ),
    AssumptionSpec(
        "sign-up-default",
        "sign_up_default",
        ("false", "true"),
        "false",
        "what allow_sign_up means when unset or not a boolean: the SSO settings code says false, the docs "
        "say true, §1",
    ),
    AssumptionSpec(
        "attribute-name-defaults",
        "attribute_name_defaults",
        ("docs", "empty"),
        "docs",
        "unset assertion_attribute_login/email/name read the documented defaults mail/mail/displayName "
        "(docs) or nothing (empty, the SSO settings code default), §1",
    ),
)
ASSUMPTIONS_BY_NAME = {a.name: a for a in ASSUMPTIONS}


@dataclass(frozen=True)
class Assumptions:
    """The simulator's policy for facts Grafana's public source does not settle (see ``ASSUMPTIONS``)."""

    role_precedence: str = "top-role"
    trim_values: bool = True
    attribute_name_case: str = "exact"
    grafana_admin_implies_org_admin: bool = False
    new_user_when_sync_skipped: str = "default-org"
    org_mapping_matching: str = "exact"
    sign_up_default: bool = False
    attribute_name_defaults: str = "docs"
    explicit: frozenset[str] = frozenset()  # names set with --assume: always reported

    @classmethod
    def parse(cls, items: Iterable[str], base: Assumptions | None = None) -> Assumptions:
        """``["trim-values=false", …]`` on top of ``base``; later items win."""
        changes: dict[str, object] = {}
        explicit = set(base.explicit if base else ())
        for item in items:
            name, sep, value = item.partition("=")
            name, value = name.strip(), value.strip()
            spec = ASSUMPTIONS_BY_NAME.get(name)
            if spec is None:
                raise AssumptionError(
                    f"unknown assumption {name!r} in {item!r}",
                    "known assumptions: " + ", ".join(a.name for a in ASSUMPTIONS),
                )
            if not sep or value.lower() not in spec.choices:
                raise AssumptionError(
                    f"assumption {name} cannot be {value!r}" if sep else f"{item!r} gives no value",
                    f"write {name}=VALUE with VALUE one of: {', '.join(spec.choices)}",
                )
            value = value.lower()
            changes[spec.field] = value == "true" if set(spec.choices) == {"true", "false"} else value
            explicit.add(name)
        start = base if base is not None else cls()
        return dataclasses.replace(start, explicit=frozenset(explicit), **changes)  # type: ignore[arg-type]

    def text(self, name: str) -> str:
        value = getattr(self, ASSUMPTIONS_BY_NAME[name].field)
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    def entry(self, name: str) -> dict[str, str]:
        return {"name": name, "value": self.text(name), "description": ASSUMPTIONS_BY_NAME[name].description}


@dataclass(frozen=True)
class Decision:
    """One step of the login: what was decided, the result, why in plain words, and the config line."""

    what: str
    result: str
    because: str
    source: str  # "grafana.ini:14", "env:GF_…", or "default"

    def to_json(self) -> dict[str, str]:
        return {"what": self.what, "result": self.result, "because": self.because, "source": self.source}


@dataclass(frozen=True)
class TeamMatch:
    team: Team
    matched_groups: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.team.id,
            "name": self.team.name,
            "orgId": self.team.org_id,
            "matchedGroups": list(self.matched_groups),
        }


def org_key_text(key: OrgKey) -> str:
    """An org as a JSON object key: the id, ``*`` for every org, or an org name not resolved to an id."""
    return "*" if key == ALL_ORGS else str(key)


def _org_sort(key: OrgKey) -> tuple[int, int, str]:
    if isinstance(key, int):
        return (0 if key != ALL_ORGS else 1, key, "")
    return (2, 0, key)


@dataclass(frozen=True)
class SyncDiff:
    """What Grafana's org sync changes in a user's memberships (saml-reference.md §2.9, org_sync.go)."""

    added: Mapping[OrgKey, str]
    updated: Mapping[OrgKey, tuple[str, str]]  # org -> (current role, new role)
    removed: Mapping[OrgKey, str]  # org -> the role the user loses
    unchanged: Mapping[OrgKey, str]
    notes: tuple[str, ...] = ()
    synced: bool = True  # False: Grafana does not sync at all (no mapped roles)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_json(self) -> dict[str, object]:
        return {
            "synced": self.synced,
            "added": {org_key_text(k): v for k, v in self.added.items()},
            "updated": {org_key_text(k): {"from": a, "to": b} for k, (a, b) in self.updated.items()},
            "removed": {org_key_text(k): v for k, v in self.removed.items()},
            "unchanged": {org_key_text(k): v for k, v in self.unchanged.items()},
            "notes": list(self.notes),
        }


def _widen(memberships: Mapping[int, str]) -> dict[OrgKey, str]:
    return {org: role for org, role in memberships.items()}


def sync_diff(
    current: Mapping[int, str],
    target: Mapping[OrgKey, str],
    *,
    existing_orgs: Iterable[int] | None = None,
) -> SyncDiff:
    """``SyncOrgRolesHook``: memberships not in ``target`` are removed, differing roles updated, new orgs
    added (an org that does not exist is skipped, ``ErrOrgNotFound``); an empty target syncs nothing.

    Removing the last Admin of an org fails with ``ErrLastOrgAdmin`` and Grafana keeps the membership: the
    member count is not known here, so that case is a note.
    """
    if not target:
        note = "the login maps no org roles, so Grafana does not sync memberships at all"
        return SyncDiff({}, {}, {}, _widen(current), (note,), synced=False)
    known = set(existing_orgs) if existing_orgs is not None else None
    added: dict[OrgKey, str] = {}
    updated: dict[OrgKey, tuple[str, str]] = {}
    removed: dict[OrgKey, str] = {}
    unchanged: dict[OrgKey, str] = {}
    notes: list[str] = []
    for org_id, role in sorted(current.items()):
        new = target.get(org_id)
        if new is None:
            removed[org_id] = role
            if role == "Admin":
                notes.append(
                    f"org {org_id}: if the user is its last Admin, Grafana cannot remove them "
                    "(ErrLastOrgAdmin) and keeps the membership"
                )
        elif new != role:
            updated[org_id] = (role, new)
        else:
            unchanged[org_id] = role
    for key in sorted(target, key=_org_sort):
        if key in current:
            continue
        if known is not None and isinstance(key, int) and key not in known:
            notes.append(f"org {key} does not exist: Grafana skips adding the membership (ErrOrgNotFound)")
            continue
        added[key] = target[key]
    ids = sorted(k for k in target if isinstance(k, int) and k != ALL_ORGS)
    if ids:
        notes.append(
            f"if the user's current org is not one of these, Grafana switches it to org {ids[0]} "
            "(the lowest mapped org id)"
        )
    return SyncDiff(added, updated, removed, unchanged, tuple(notes))


@dataclass
class Outcome:
    """What a SAML login grants; :meth:`to_json` is the ``gtool saml explain --format json`` contract."""

    login: str | None = None
    email: str | None = None
    name: str | None = None
    login_allowed: bool = True
    login_denied_reason: str | None = None
    org_roles: dict[OrgKey, str] = field(default_factory=dict)
    grafana_admin: bool | None = None
    role_sync: str = "applied"  # applied | skipped
    groups: list[str] = field(default_factory=list)
    teams: list[TeamMatch] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    assumptions: Assumptions = field(default_factory=Assumptions)
    used_assumptions: list[str] = field(default_factory=list)  # names, in ASSUMPTIONS order
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sync: SyncDiff | None = None  # with current_memberships: what the login changes
    org_reasons: dict[OrgKey, str] = field(default_factory=dict)  # org -> why this role (for to_text)
    org_names: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "email": self.email,
            "name": self.name,
            "login_allowed": self.login_allowed,
            "login_denied_reason": self.login_denied_reason,
            "org_roles": {org_key_text(k): self.org_roles[k] for k in sorted(self.org_roles, key=_org_sort)},
            "grafana_admin": self.grafana_admin,
            "role_sync": self.role_sync,
            "groups": list(self.groups),
            "teams": [t.to_json() for t in self.teams],
            "decisions": [d.to_json() for d in self.decisions],
            "assumptions": [self.assumptions.entry(n) for n in self.used_assumptions],
            "diagnostics": [d.to_json() | {"path": d.path} for d in self.diagnostics],
        }

    def to_text(self) -> str:
        return _outcome_text(self)


def _q(value: str) -> str:
    """A value quoted so surrounding whitespace and control characters show."""
    return json.dumps(value, ensure_ascii=False)


def _listing(values: Iterable[str], limit: int = 6) -> str:
    items = list(values)
    shown = ", ".join(_q(v) for v in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _go_int(value: str, default: int) -> int:
    """go-ini ``MustInt``: ``strconv.Atoi``, or the default when that fails."""
    number = go_atoi(value)
    return number if number is not None else default


def _expand_go_template(template: str, match: re.Match[str]) -> str:
    """Go ``Regexp.Expand``: ``$1``/``${1}``/``$name``; unknown or unmatched references become ``""``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        ref = m.group(1) or m.group(2)
        try:
            value = match.group(int(ref)) if ref.isdigit() else match.group(ref)
        except IndexError:
            return ""
        return value or ""

    return _GO_TEMPLATE_VAR.sub(sub, template)


def _compile_go(pattern: str) -> re.Pattern[str] | None:
    """The pattern as Go would compile it, or ``None`` where Go fails (Grafana then compares exactly)."""
    if _NOT_RE2.search(pattern):
        return None
    try:
        return re.compile(pattern, re.ASCII)  # RE2's \d, \w, \s and \b are ASCII-only
    except (re.error, RecursionError, OverflowError):
        return None


def _index_attributes(attributes: Sequence[Attribute], fold: bool) -> dict[str, list[str]]:
    """Values by Name and by FriendlyName (Grafana accepts either), across every attribute, in order."""
    index: dict[str, list[str]] = {}
    for attribute in attributes:
        names = {attribute.name}
        if attribute.friendly_name:
            names.add(attribute.friendly_name)
        for name in names:
            index.setdefault(name.lower() if fold else name, []).extend(attribute.values)
    return index


def _near_names(attributes: Sequence[Attribute], wanted: str) -> list[str]:
    """Attribute names a user may have meant: same letters in another case, or a claim URI ending in it."""
    low = wanted.lower()
    found: list[str] = []
    for attribute in attributes:
        for name in (attribute.name, attribute.friendly_name or ""):
            if name and name != wanted and name not in found:
                tail = re.split(r"[/#:]", name)[-1]
                if name.lower() == low or tail == wanted or tail.lower() == low:
                    found.append(name)
    return found


class _Simulation:
    """One run of :func:`simulate`: the inputs, and the outcome being built step by step."""

    def __init__(
        self,
        config: GrafanaConfig,
        attributes: Sequence[Attribute],
        orgs: Sequence[Org] | None,
        teams: Sequence[Team] | None,
        assumptions: Assumptions,
        version: Version | None,
        user_exists: bool | None,
        current: Mapping[int, str] | None,
    ) -> None:
        self.cfg = config
        self.attributes = attributes
        self.orgs = orgs
        self.org_ids = {o.name: o.id for o in orgs} if orgs is not None else None
        self.teams = teams
        self.a = assumptions
        self.version = version
        self.current = current
        # Memberships only exist for existing users.
        self.user_exists = user_exists if user_exists is not None or current is None else True
        self.fold = assumptions.attribute_name_case == "insensitive"
        self.index = _index_attributes(attributes, fold=False)
        self.folded = _index_attributes(attributes, fold=True) if self.fold else None
        self.used: set[str] = set(assumptions.explicit)
        self.out = Outcome(assumptions=assumptions)
        if orgs is not None:
            self.out.org_names = {o.id: o.name for o in orgs}
        self.reasons: dict[OrgKey, list[str]] = {}
        self.looked_up: dict[str, tuple[str, ...] | None] = {}

    # -- bookkeeping -------------------------------------------------------------------------------------
    def source(self, key: str, section: str = SAML) -> str:
        setting = self.cfg.get(section, key)
        return str(setting.source) if setting is not None else "default"

    def decide(
        self, what: str, result: str, because: str, key: str | None = None, section: str = SAML
    ) -> None:
        source = self.source(key, section) if key is not None else "default"
        self.out.decisions.append(Decision(what, result, because, source))

    def use(self, name: str) -> None:
        self.used.add(name)

    def deny(self, reason: str) -> None:
        if self.out.login_allowed:
            self.out.login_allowed = False
            self.out.login_denied_reason = reason

    def diagnose(self, key: str, message: str, hint: str, severity: str = "error") -> None:
        from gtool.saml.lint.diagnostic import Diagnostic  # deferred: gtool.saml.lint imports this module

        path, line, column = self._locate(key)
        code, slug = ASRT_MISSING
        self.out.diagnostics.append(
            Diagnostic(path, line, column, code, slug, severity, SAML, key, message, hint)
        )

    def _locate(self, key: str) -> tuple[str, int, int]:
        setting = self.cfg.get(SAML, key)
        if setting is not None and setting.written is not None and not setting.written.path.startswith("<"):
            return setting.written.path, setting.written.line, setting.written.column
        for file in self.cfg.custom_files:
            section = file.section(SAML)
            if section is not None and section.headers:
                return file.path, section.headers[0], 1
        return "<config>", 1, 1

    def since(self, version: str | None) -> bool:
        """False only when a --grafana-version older than ``version`` was given."""
        return version is None or self.version is None or self.version >= Version.parse(version)

    # -- attributes (§9 step 2) --------------------------------------------------------------------------
    def attribute_name(self, key: str) -> str:
        configured = self.cfg.saml(key)
        if configured or key not in DOCS_ATTRIBUTE_DEFAULTS:
            return configured
        if self.a.attribute_name_defaults == "empty":
            # It matters only if the assertion has the attribute the docs name.
            if DOCS_ATTRIBUTE_DEFAULTS[key] in self.index:
                self.use("attribute-name-defaults")
            return ""
        return DOCS_ATTRIBUTE_DEFAULTS[key]

    def lookup(self, name: str, key: str) -> tuple[str, ...] | None:
        """The values of attribute ``name`` (cleaned), or ``None`` when the assertion lacks it."""
        # One attribute often serves two keys (the Okta example reads `groups` for roles and teams).
        if name not in self.looked_up:
            self.looked_up[name] = self._lookup(name, key)
        return self.looked_up[name]

    def _lookup(self, name: str, key: str) -> tuple[str, ...] | None:
        raw = self.index.get(name)
        if raw is None and self.folded is not None:
            raw = self.folded.get(name.lower())
            if raw is not None:
                self.use("attribute-name-case")
                self.decide(
                    f"attribute {_q(name)}",
                    "found ignoring case",
                    "no attribute has exactly this Name or FriendlyName; one differs only in case "
                    "(assumption attribute-name-case=insensitive)",
                    key,
                )
        if raw is None:
            return None
        return self.clean(name, raw, key)

    def clean(self, name: str, values: Sequence[str], key: str) -> tuple[str, ...]:
        padded = [v for v in values if v != v.strip(GO_SPACE)]
        if not padded:
            return tuple(values)
        self.use("trim-values")
        if self.a.trim_values:
            self.decide(
                f"attribute {_q(name)}",
                f"{len(padded)} value(s) trimmed",
                f"{_listing(padded, 3)} has surrounding whitespace; it is removed before matching "
                "(assumption trim-values=true; crewjam keeps it)",
                key,
            )
            return tuple(v.strip(GO_SPACE) for v in values)
        self.decide(
            f"attribute {_q(name)}",
            f"{len(padded)} value(s) kept with whitespace",
            f"{_listing(padded, 3)} has surrounding whitespace and is compared as sent "
            "(assumption trim-values=false), so it matches no configured value without it",
            key,
        )
        return tuple(values)

    def read(self, key: str, purpose: str, severity: str | None = "error") -> tuple[str, ...] | None:
        """The values of the attribute ``key`` names; a missing attribute is a decision and an ASRT-001
        (an error, or a warning when only the documented default names it; ``severity=None``: no finding)."""
        name = self.attribute_name(key)
        if not name:
            return None
        values = self.lookup(name, key)
        if values is not None and not self.cfg.saml(key):
            self.use("attribute-name-defaults")
        if values is None and severity is None:
            self.decide(purpose.split(":")[0], "attribute missing", f"no attribute {_q(name)}", key)
        elif values is None and severity is not None:
            near = _near_names(self.attributes, name)
            hint = (
                f"the assertion has {_listing(near, 3)}: names must match exactly; set {key} = {near[0]}"
                if near
                else f"make the IdP send an attribute named {_q(name)}, or set {key} to the name it sends"
            )
            configured = bool(self.cfg.saml(key))
            names = (
                f"names attribute {_q(name)}"
                if configured
                else f"is not set; its documented default {_q(name)}"
            )
            self.diagnose(
                key,
                f"{key} {names}, which is not in the assertion (as Name or FriendlyName): {purpose}",
                hint,
                severity if configured else "warning",
            )
            self.decide(purpose.split(":")[0], "attribute missing", f"no attribute {_q(name)}", key)
        return values

    # -- step 3: login, email, name ----------------------------------------------------------------------
    def user_fields(self) -> None:
        for key, what in (("assertion_attribute_login", "login"), ("assertion_attribute_email", "email")):
            values = self.read(key, f"{what}: Grafana gets no {what}")
            value = values[0] if values else None
            setattr(self.out, what, value)
            if value is not None:
                many = f" (the first of {len(values or ())} values)" if len(values or ()) > 1 else ""
                self.decide(what, _q(value), f"attribute {_q(self.attribute_name(key))}{many}", key)
            elif values is not None:
                self.decide(what, "empty", f"attribute {_q(self.attribute_name(key))} has no value", key)
            elif not self.attribute_name(key):
                self.decide(what, "not set", f"{key} is empty", key)
        self.out.name = self.display_name()

    def display_name(self) -> str | None:
        key = "assertion_attribute_name"
        template = self.cfg.saml(key)
        if "$__saml{" not in template:
            # An unset name key is common and harmless: the user simply gets no display name.
            values = self.read(key, "name: Grafana gets no display name", "warning" if template else None)
            if values:
                self.decide("name", _q(values[0]), f"attribute {_q(self.attribute_name(key))}", key)
                return values[0]
            return None
        missing: list[str] = []

        def fill(m: re.Match[str]) -> str:
            values = self.lookup(m.group(1), key)
            if values is None:
                missing.append(m.group(1))
                return ""
            return values[0] if values else ""

        name = _SAML_VAR.sub(fill, template)
        for var in missing:
            near = _near_names(self.attributes, var)
            self.diagnose(
                key,
                f"the name template uses $__saml{{{var}}}, but the assertion has no attribute {_q(var)}: "
                "Grafana logs an error after the login and the name lacks that part",
                f"the assertion has {_listing(near, 3)}: write $__saml{{{near[0]}}}"
                if near
                else f"make the IdP send {_q(var)}, or remove it from {key}",
            )
        because = f"template {_q(template)}" + (
            f"; missing: {', '.join(missing)} (replaced by nothing)" if missing else ""
        )
        self.decide("name", _q(name), because, key)
        return name

    # -- step 5: allowed_organizations -------------------------------------------------------------------
    def gate_organizations(self, org_values: tuple[str, ...]) -> None:
        key = "allowed_organizations"
        raw = self.cfg.saml(key)
        if not raw:
            return
        split = split_string(raw)
        if split.error:
            self.decide(
                "allowed_organizations",
                "no restriction",
                "the value starts with `[` but is not a JSON list of strings, so Grafana reads an empty "
                "list and does not restrict logins",
                key,
            )
            return
        allowed = set(split.items)
        hits = [v for v in org_values if v in allowed]
        if hits:
            self.decide(
                "allowed_organizations", "passed", f"the user's organization {_q(hits[0])} is listed", key
            )
            return
        if not self.cfg.saml("assertion_attribute_org"):
            because = "assertion_attribute_org is not set, so the user has no organization values"
        elif not org_values:
            because = "the user has no organization values"
        else:
            because = f"none of the user's organizations ({_listing(org_values)}) is listed"
            folded = {v.lower() for v in allowed}
            near = [v for v in org_values if v.lower() in folded]
            if near:
                because += f"; {_listing(near, 3)} differs only in case (matching is exact)"
        self.decide("allowed_organizations", "login denied", because, key)
        self.deny(f"not a member of an allowed organization: {because}")

    # -- step 7: sign-up ---------------------------------------------------------------------------------
    def gate_sign_up(self) -> None:
        key = "allow_sign_up"
        setting = self.cfg.get(SAML, key)
        parsed = parse_bool(setting.value) if setting is not None else None
        if parsed is None:
            self.use("sign-up-default")
            parsed = self.a.sign_up_default
            how = "unset" if setting is None else f"not a boolean ({_q(setting.value)})"
            why = f"allow_sign_up is {how}; assumed {str(parsed).lower()} (assumption sign-up-default)"
        else:
            why = f"allow_sign_up = {setting.value if setting else ''}"
        if self.user_exists is True:
            self.decide("sign-up", "not needed", "the user already exists", key)
        elif self.user_exists is False:
            if parsed:
                self.decide("sign-up", "user created", why, key)
            else:
                self.decide("sign-up", "login denied", f"the user does not exist and {why}", key)
                self.deny(SIGN_UP_DISABLED)
        elif not parsed:
            self.decide(
                "sign-up",
                "unknown",
                f"whether the user exists is not known; {why}, so a new user would be refused "
                f"({SIGN_UP_DISABLED!r}) while an existing one logs in",
                key,
            )
        else:
            self.decide("sign-up", "allowed", f"a new user would be created: {why}", key)

    # -- step 4: direct role and Grafana Admin -----------------------------------------------------------
    def direct_role(self, role_values: tuple[str, ...], attribute_set: bool) -> str:
        """The role from ``role_values_*`` (``""`` when no list matches)."""
        present = set(role_values)
        matched: list[tuple[str, str, list[str]]] = []  # (key, role, matching values)
        any_list = False
        for key, role, since in DIRECT_ROLE_LISTS:
            raw = self.cfg.saml(key)
            if not raw:
                continue
            any_list = True
            if not self.since(since):
                self.decide(
                    key, "ignored", f"Grafana {self.version} does not read {key} (added in {since})", key
                )
                continue
            split = split_string(raw)
            if split.error:
                self.decide(
                    key,
                    "empty list",
                    "the value starts with `[` but is not a JSON list of strings, so Grafana reads no values",
                    key,
                )
                continue
            hits = [v for v in split.items if v in present]
            if hits:
                matched.append((key, role, hits))
                self.decide(
                    key, f"matches: {role}", f"the user's role values include {_listing(hits, 3)}", key
                )
            elif attribute_set:
                self._near_miss(key, split.items, role_values)
        if any_list and not attribute_set:
            self.decide(
                "role_values_*",
                "unused",
                "assertion_attribute_role is not set, so no role value can match",
                "assertion_attribute_role",
            )
        if not matched:
            return ""
        roles = [role for _, role, _ in matched]
        if len(set(roles)) > 1:
            self.use("role-precedence")
            pick = max if self.a.role_precedence == "top-role" else min
            role = pick(roles, key=lambda r: ROLE_RANK[r])
            self.decide(
                "direct role",
                role,
                f"the user matches {', '.join(k for k, _, _ in matched)}; the "
                f"{'highest' if pick is max else 'lowest'} role wins (assumption role-precedence="
                f"{self.a.role_precedence})",
                matched[-1][0] if pick is max else matched[0][0],
            )
            return role
        key, role, _ = matched[0]
        self.decide("direct role", role, f"from {key}", key)
        return role

    def _near_miss(self, key: str, items: Sequence[str], values: Sequence[str]) -> None:
        folded = {i.lower(): i for i in items}
        stripped = {i.strip(GO_SPACE): i for i in items}
        for v in values:
            if v.lower() in folded:
                self.decide(
                    key,
                    "no match",
                    f"the user's {_q(v)} differs from {_q(folded[v.lower()])} only in case (exact match)",
                    key,
                )
                return
            if v.strip(GO_SPACE) in stripped:
                self.decide(
                    key,
                    "no match",
                    f"the user's {_q(v)} equals {_q(stripped[v.strip(GO_SPACE)])} only without whitespace",
                    key,
                )
                return

    def grafana_admin(self, role_values: tuple[str, ...], skip: bool) -> bool | None:
        key = GRAFANA_ADMIN_KEY
        raw = self.cfg.saml(key)
        if skip:
            why = "skip_org_role_sync is on, so Grafana does not manage it"
            self.decide("Grafana Admin", "not managed", why, "skip_org_role_sync")
            return None
        if not raw:
            self.decide("Grafana Admin", "not managed", f"{key} is empty: the flag is left as it is", key)
            return None
        split = split_string(raw)
        # IsGrafanaAdminExternallySynced checks the raw string: a broken JSON list still turns management
        # on, and then nobody matches.
        hits = [v for v in split.items if v in set(role_values)]
        if split.error:
            because = (
                f"{key} is set, so Grafana manages the flag, but its value is not a JSON list of strings and "
                "reads as empty: nobody matches and every SAML user loses Grafana Admin"
            )
        elif hits:
            because = f"the user's role values include {_listing(hits, 3)}"
        else:
            because = f"no role value of the user is in {key}; Grafana removes the flag if the user has it"
        self.decide("Grafana Admin", "yes" if hits else "no", because, key)
        return bool(hits)

    # -- step 5: org roles (§3.2 MapOrgRoles) ------------------------------------------------------------
    def default_org_id(self) -> int:
        auto = parse_bool(self.cfg.value(USERS, "auto_assign_org"))
        auto = True if auto is None else auto
        org_id = _go_int(self.cfg.value(USERS, "auto_assign_org_id"), 1)
        return org_id if auto and org_id > 0 else 1

    def auto_role(self) -> str:
        raw = self.cfg.value(USERS, "auto_assign_org_role")
        return raw if raw in ORG_ROLES else DEFAULT_ROLE  # Key.In("Viewer", roles): exact or Viewer

    def _auto_role_note(self) -> str:
        raw = self.cfg.value(USERS, "auto_assign_org_role")
        if raw == self.auto_role():
            return ""
        return f" ({_q(raw)} is not exactly None, Viewer, Editor or Admin, so Viewer)"

    def default_org(self, direct: str, why: str) -> dict[OrgKey, str]:
        org_id = self.default_org_id()
        where = self._default_org_because()
        if direct:
            role, because, key, section = direct, f"{why}; the direct role applies", None, SAML
        else:
            role = self.auto_role()
            because = f"{why}; no role value matched, so auto_assign_org_role applies{self._auto_role_note()}"
            key, section = "auto_assign_org_role", USERS
        self.decide(f"org {org_id}", role, f"{because}; {where}", key, section)
        self.reasons[org_id] = [f"default org, {'direct role' if direct else 'auto_assign_org_role'}"]
        return {org_id: role}

    def _default_org_because(self) -> str:
        auto = parse_bool(self.cfg.value(USERS, "auto_assign_org"))
        org_id = _go_int(self.cfg.value(USERS, "auto_assign_org_id"), 1)
        if auto is False:
            return "the default org is 1 because [users] auto_assign_org is false"
        if org_id <= 0:
            return f"the default org is 1 because auto_assign_org_id ({org_id}) is not positive"
        return f"org {org_id} is the default org ([users] auto_assign_org_id)"

    def org_roles(self, org_values: tuple[str, ...], direct: str) -> dict[OrgKey, str]:
        key = "org_mapping"
        raw = self.cfg.saml(key)
        mapping = parse_org_mapping(raw) if raw else None
        if mapping is None:
            return self.default_org(direct, "org_mapping is empty")
        if mapping.json_error:
            self.decide(
                "org_mapping",
                "ignored",
                "the value starts with `[` but is not a JSON list of strings, so Grafana reads no entries "
                "(write `\\\\:` for an escaped colon inside JSON)",
                key,
            )
        for bad in mapping.invalid:
            self.decide(f"org_mapping entry {_q(bad.text)}", "skipped", bad.reason, key)
        entries = self._usable_entries(mapping.entries)
        resolved = resolve_mapping(entries, self.org_ids)
        for earlier, later in resolved.replaced:
            self.decide(
                f"org_mapping entry {_q(earlier.text)}",
                "replaced",
                f"the later entry {_q(later.text)} maps the same value to the same org; the later one wins",
                key,
            )
        for entry in resolved.unresolved:
            self.decide(
                f"org_mapping entry {_q(entry.text)}",
                "skipped",
                f"no org is named {_q(entry.org.text)} (names are exact and case-sensitive)",
                key,
            )
        if not resolved.winners:
            return self.default_org(direct, "org_mapping has no usable entry")
        roles = self._match(resolved, org_values)
        roles = self._expand_all_orgs(roles)
        if not roles:
            why = "no org_mapping entry matches the user's organizations" + (
                f" ({_listing(org_values)})" if org_values else " (the user has none)"
            )
            return self.default_org(direct, why)
        if direct:
            for org, role in roles.items():
                merged = top_role(direct, role) or role
                if merged != role:
                    self.decide(
                        f"org {org_key_text(org)}",
                        merged,
                        f"the direct role {direct} is higher than the mapped {role}; the higher one wins",
                        key,
                    )
                    self.reasons.setdefault(org, []).append(f"direct role {direct}")
                roles[org] = merged
        return roles

    def _usable_entries(self, entries: Sequence[MappingEntry]) -> list[MappingEntry]:
        if self.since(ORG_NAMES_SINCE):
            return list(entries)
        usable = []
        for entry in entries:
            if entry.org.kind == "name":
                self.decide(
                    f"org_mapping entry {_q(entry.text)}",
                    "skipped",
                    f"org names are read from Grafana {ORG_NAMES_SINCE}; {self.version} needs an org id",
                    "org_mapping",
                )
            else:
                usable.append(entry)
        return usable

    def _grant(self, roles: dict[OrgKey, str], org: OrgKey, entry: MappingEntry, role: str, how: str) -> None:
        before = roles.get(org)
        roles[org] = top_role(before, role) or role
        invalid = ""
        if entry.raw_role is None:
            invalid = "; the entry names no role, so Viewer"
        elif role != entry.raw_role and "$" not in entry.raw_role:
            invalid = f"; {_q(entry.raw_role)} is not exactly None, Viewer, Editor or Admin, so Viewer"
        kept = f"; the higher {before} is kept" if before is not None and roles[org] != role else ""
        self.decide(
            f"org {org_key_text(org)}",
            roles[org],
            f"org_mapping {_q(entry.text)}: {how}{invalid}{kept}",
            "org_mapping",
        )
        self.reasons.setdefault(org, []).append(f"org_mapping {_q(entry.text)}")
        if isinstance(org, str):
            self.decide(
                f"org {org}",
                "name not resolved",
                "no org list was given (--orgs), so the name is shown; Grafana looks it up at login and "
                "skips the entry when no org has exactly this name",
                "org_mapping",
            )

    def _match(self, resolved: ResolvedMapping, org_values: tuple[str, ...]) -> dict[OrgKey, str]:
        roles: dict[OrgKey, str] = {}
        for org, entry in resolved.winners.get("*", {}).items():
            self._grant(roles, org, entry, entry.role, "`*` matches every user")
        patterns = [p for p in resolved.winners if p != "*"]
        if patterns:
            self.use("org-mapping-matching")
        regex = self.a.org_mapping_matching == "regex"
        for value in dict.fromkeys(org_values):  # a repeated value changes nothing (top role is idempotent)
            for pattern in patterns if regex else ([value] if value in resolved.winners else []):
                per_org = resolved.winners[pattern]
                if not regex:
                    for org, entry in per_org.items():
                        self._grant(roles, org, entry, entry.role, f"the user's organization {_q(value)}")
                    continue
                compiled = _compile_go(pattern)
                match = compiled.search(value) if compiled is not None else None
                if compiled is None and value != pattern:
                    continue
                if compiled is not None and match is None:
                    continue
                how = f"the user's organization {_q(value)} matches the regular expression {_q(pattern)}"
                for org, entry in per_org.items():
                    self._grant_regex(roles, org, entry, match, how)
        return roles

    def _grant_regex(
        self,
        roles: dict[OrgKey, str],
        org: OrgKey,
        entry: MappingEntry,
        match: re.Match[str] | None,
        how: str,
    ) -> None:
        if match is None or "$" not in entry.org.text + (entry.raw_role or ""):
            self._grant(roles, org, entry, entry.role, how)
            return
        org_text = _expand_go_template(entry.org.text, match)
        raw_role = _expand_go_template(entry.raw_role, match) if entry.raw_role is not None else None
        role = raw_role if raw_role in ORG_ROLES else DEFAULT_ROLE
        ref = parse_org_ref(org_text)
        if ref is None:
            self.decide(
                f"org_mapping {_q(entry.text)}",
                "skipped",
                f"{how}, but the org expands to nothing",
                "org_mapping",
            )
            return
        key: OrgKey = ref.key
        if ref.kind == "name" and self.org_ids is not None:
            if ref.text not in self.org_ids:
                self.decide(
                    f"org_mapping {_q(entry.text)}",
                    "skipped",
                    f"{how}; no org is named {_q(ref.text)}",
                    "org_mapping",
                )
                return
            key = self.org_ids[ref.text]
        self._grant(roles, key, entry, role, f"{how} (expanded to {_q(org_text)}:{raw_role or ''})")

    def _expand_all_orgs(self, roles: dict[OrgKey, str]) -> dict[OrgKey, str]:
        if ALL_ORGS not in roles:
            return roles
        if self.orgs is None:
            self.decide(
                "org *",
                roles[ALL_ORGS],
                "the entry applies to every existing org; no org list was given (--orgs), so it is shown "
                "as `*`",
                "org_mapping",
            )
            return roles
        everyone = roles.pop(ALL_ORGS)
        reason = self.reasons.pop(ALL_ORGS, [])
        for org in self.orgs:
            roles[org.id] = top_role(roles.get(org.id), everyone) or everyone
            self.reasons.setdefault(org.id, []).extend(reason)
        self.decide(
            "org *",
            f"{everyone} in {len(self.orgs)} org(s)",
            "a Grafana-side `*` applies to every existing org; where another entry maps the same org, the "
            "higher role wins",
            "org_mapping",
        )
        return roles

    def drop_missing_orgs(self, roles: dict[OrgKey, str]) -> dict[OrgKey, str]:
        if self.orgs is None:
            return roles
        known = {o.id for o in self.orgs}
        for org in [k for k in roles if isinstance(k, int) and k != ALL_ORGS and k not in known]:
            self.decide(
                f"org {org}",
                "skipped",
                "no such org in the org list: Grafana skips the membership (ErrOrgNotFound)",
                "org_mapping" if self.cfg.saml("org_mapping") else "auto_assign_org_id",
                SAML if self.cfg.saml("org_mapping") else USERS,
            )
            del roles[org]
            self.reasons.pop(org, None)
        return roles

    # -- step 7: skip_org_role_sync ----------------------------------------------------------------------
    def skipped_roles(self, org_values: tuple[str, ...]) -> dict[OrgKey, str]:
        key = "skip_org_role_sync"
        self.decide(
            "role sync",
            "skipped",
            "skip_org_role_sync is on: role_values_*, org_mapping and Grafana Admin are not applied and "
            "roles stay editable in Grafana",
            key,
        )
        if self.user_exists is True:
            if self.current is None:
                self.decide("org roles", "unchanged", "the existing user keeps their current org roles", key)
                return {}
            for org in self.current:
                self.reasons[org] = ["current membership, not synced"]
            self.decide("org roles", "unchanged", "the existing user keeps their current org roles", key)
            return _widen(self.current)
        self.use("new-user-when-sync-skipped")
        prefix = "" if self.user_exists is False else "if the user is new: "
        if self.a.new_user_when_sync_skipped == "mapped":
            role_values = self.read("assertion_attribute_role", "role: no role value can match") or ()
            direct = self.direct_role(role_values, bool(self.cfg.saml("assertion_attribute_role")))
            roles = self.org_roles(org_values, direct)
            self.decide(
                "org roles",
                "mapped once",
                f"{prefix}the mapping sets the roles at creation "
                "(assumption new-user-when-sync-skipped=mapped)",
                key,
            )
            return roles
        org_id, role = self.default_org_id(), self.auto_role()
        extra = "" if self.user_exists is False else "; an existing user keeps their current org roles"
        personal = (
            "; with auto_assign_org = false Grafana also creates an org of the user's own"
            if parse_bool(self.cfg.value(USERS, "auto_assign_org")) is False
            else ""
        )
        self.decide(
            f"org {org_id}",
            role,
            f"{prefix}a new user joins the default org with auto_assign_org_role{self._auto_role_note()} "
            f"(assumption new-user-when-sync-skipped=default-org){personal}{extra}",
            "auto_assign_org_role",
            USERS,
        )
        self.reasons[org_id] = ["default org for a new user, auto_assign_org_role"]
        return {org_id: role}

    # -- step 6: teams -----------------------------------------------------------------------------------
    def team_sync(self, groups: tuple[str, ...] | None) -> None:
        key = "assertion_attribute_groups"
        if not self.cfg.saml(key):
            self.decide("team sync", "off", "assertion_attribute_groups is not set", key)
            return
        if self.teams is None:
            self.decide("team sync", "not computed", "no team list was given (--teams)", key)
            return
        present = set(groups or ())
        for team in self.teams:
            hits = tuple(g for g in team.external_groups if g in present)
            if hits:
                self.out.teams.append(TeamMatch(team, hits))
                self.decide(f"team {_q(team.name)}", "member", f"external group {_listing(hits, 3)}", key)
        if not self.out.teams:
            self.decide(
                "team sync",
                "no team",
                "no team has an external group equal to one of the user's groups (exact, case-sensitive)",
                key,
            )

    # -- the whole login ---------------------------------------------------------------------------------
    def run(self) -> Outcome:
        if not self.cfg.saml_bool("enabled"):
            self.decide("SAML", "disabled", "[auth.saml] enabled is not true", "enabled")
            self.deny("SAML is not enabled ([auth.saml] enabled)")
        self.user_fields()
        org_values = (
            self.read("assertion_attribute_org", "organizations: no org_mapping entry can match") or ()
        )
        groups = self.read("assertion_attribute_groups", "groups: the user joins no team")
        self.out.groups = list(groups or ())
        self.gate_organizations(org_values)
        self.gate_sign_up()
        skip = self.cfg.saml_bool("skip_org_role_sync")
        self.out.role_sync = "skipped" if skip else "applied"
        if not self.out.login_allowed:
            self.decide("access", "nothing granted", self.out.login_denied_reason or "", None)
            return self.finish()
        if skip:
            self.out.grafana_admin = self.grafana_admin((), skip=True)
            roles = self.skipped_roles(org_values)
        else:
            roles = self.synced_roles(org_values)
        self.out.org_roles = self.drop_missing_orgs(roles)
        self.team_sync(groups)
        if self.current is not None and not skip:
            self.apply_diff()
        return self.finish()

    def synced_roles(self, org_values: tuple[str, ...]) -> dict[OrgKey, str]:
        attribute_set = bool(self.cfg.saml("assertion_attribute_role"))
        role_values = (
            (self.read("assertion_attribute_role", "role: no role value can match") or ())
            if attribute_set
            else ()
        )
        direct = self.direct_role(role_values, attribute_set)
        self.out.grafana_admin = self.grafana_admin(role_values, skip=False)
        if self.out.grafana_admin:
            self.use("grafana-admin-implies-org-admin")
            if self.a.grafana_admin_implies_org_admin and direct != "Admin":
                direct = "Admin"
                self.decide(
                    "direct role",
                    "Admin",
                    "Grafana Admins are org Admins too (assumption grafana-admin-implies-org-admin=true)",
                    GRAFANA_ADMIN_KEY,
                )
        return self.org_roles(org_values, direct)

    def apply_diff(self) -> None:
        assert self.current is not None
        known = [o.id for o in self.orgs] if self.orgs is not None else None
        diff = sync_diff(self.current, self.out.org_roles, existing_orgs=known)
        self.out.sync = diff
        mapped = bool(self.cfg.saml("org_mapping"))
        key, section = ("org_mapping", SAML) if mapped else ("auto_assign_org_role", USERS)
        for org, role in diff.added.items():
            self.decide(f"membership in org {org_key_text(org)}", "added", f"as {role}", key, section)
        for org, (old, new) in diff.updated.items():
            self.decide(
                f"membership in org {org_key_text(org)}", "updated", f"{old} becomes {new}", key, section
            )
        for org, role in diff.removed.items():
            self.decide(
                f"membership in org {org_key_text(org)}",
                "removed",
                f"the login maps no role in this org, so the {role} membership is removed",
                key,
                section,
            )
        for note in diff.notes:
            self.decide("org sync", "note", note, key, section)

    def finish(self) -> Outcome:
        self.out.used_assumptions = [a.name for a in ASSUMPTIONS if a.name in self.used]
        self.out.org_reasons = {k: "; ".join(v) for k, v in self.reasons.items()}
        return self.out


def simulate(
    config: GrafanaConfig,
    attributes: Sequence[Attribute],
    *,
    orgs: Sequence[Org] | None = None,
    teams: Sequence[Team] | None = None,
    assumptions: Assumptions = Assumptions(),  # frozen: one shared default is safe
    grafana_version: Version | None = None,
    user_exists: bool | None = None,
    current_memberships: Mapping[int, str] | None = None,
) -> Outcome:
    """Simulate a SAML login (saml-reference.md §9 steps 2-8): what the user gets and why.

    ``orgs`` resolves org names and the Grafana-side ``*``; ``teams`` enables team matching;
    ``user_exists=None`` means unknown; ``current_memberships`` (org id -> role) adds the §2.9 diff.
    """
    sim = _Simulation(
        config, attributes, orgs, teams, assumptions, grafana_version, user_exists, current_memberships
    )
    return sim.run()


def _org_label(outcome: Outcome, org: OrgKey) -> str:
    if org == ALL_ORGS:
        return "every org (*)"
    if isinstance(org, str):
        return f"org named {_q(org)}"
    name = outcome.org_names.get(org)
    return f"org {org} ({name})" if name else f"org {org}"


def _outcome_text(outcome: Outcome) -> str:
    """The short report ``gtool saml explain`` prints: who, allowed?, org roles with why, admin, teams."""
    who = outcome.login or outcome.email or "(no login)"
    lines = [f"SAML login of {who}"]
    lines.append(
        f"  login {_q(outcome.login) if outcome.login is not None else '-'}   "
        f"email {_q(outcome.email) if outcome.email is not None else '-'}   "
        f"name {_q(outcome.name) if outcome.name is not None else '-'}"
    )
    if outcome.login_allowed:
        lines.append("  login allowed")
    else:
        lines.append(f"  LOGIN DENIED: {outcome.login_denied_reason}")
    sync = (
        "applied (roles are set at each login and locked in the Grafana UI)"
        if outcome.role_sync == "applied"
        else "skipped (skip_org_role_sync: roles are not changed by SAML)"
    )
    lines.append(f"  role sync: {sync}")
    lines.append("")
    lines.append("Org roles")
    if not outcome.org_roles:
        lines.append("  (none)")
    labels = {k: _org_label(outcome, k) for k in outcome.org_roles}
    width = max((len(v) for v in labels.values()), default=0)
    for org in sorted(outcome.org_roles, key=_org_sort):
        why = outcome.org_reasons.get(org, "")
        lines.append(f"  {labels[org]:<{width}}  {outcome.org_roles[org]:<6}  {why}".rstrip())
    admin = {
        True: "yes (managed by role_values_grafana_admin)",
        False: "no (managed by role_values_grafana_admin: removed if the user had it)",
        None: "not managed by SAML (left as it is)",
    }[outcome.grafana_admin]
    lines.append(f"Grafana Admin: {admin}")
    lines.append(f"Groups: {_listing(outcome.groups, 10) if outcome.groups else '(none)'}")
    if outcome.teams:
        lines.append("Teams:")
        for t in outcome.teams:
            lines.append(
                f"  {t.team.name} (id {t.team.id}, org {t.team.org_id}) via {_listing(t.matched_groups, 3)}"
            )
    else:
        lines.append("Teams: (none)")
    if outcome.sync is not None and outcome.sync.changed:
        lines.append("Membership changes:")
        for org, role in outcome.sync.added.items():
            lines.append(f"  + {_org_label(outcome, org)} as {role}")
        for org, (old, new) in outcome.sync.updated.items():
            lines.append(f"  ~ {_org_label(outcome, org)}: {old} -> {new}")
        for org, role in outcome.sync.removed.items():
            lines.append(f"  - {_org_label(outcome, org)} (was {role})")
    lines.append("")
    lines.append("Why")
    for n, d in enumerate(outcome.decisions, 1):
        lines.append(f"  {n:>2}. {d.what}: {d.result} — {d.because} [{d.source}]")
    if outcome.used_assumptions:
        lines.append("")
        lines.append("Assumptions (change with --assume NAME=VALUE)")
        for name in outcome.used_assumptions:
            spec = ASSUMPTIONS_BY_NAME[name]
            lines.append(f"  {name}={outcome.assumptions.text(name)}: {spec.description}")
    if outcome.diagnostics:
        lines.append("")
        lines.append("Diagnostics")
        for diag in outcome.diagnostics:
            lines.append(f"  {diag.path}:{diag.line}: {diag.severity} {diag.code} {diag.message}")
            lines.append(f"      hint: {diag.hint}")
    return "\n".join(lines) + "\n"
