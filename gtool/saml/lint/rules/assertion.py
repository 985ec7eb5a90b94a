"""Assertion rules (ROLE-005, TEAM-002/003, ASRT-001…ASRT-011): a captured SAML message checked against
the configuration (saml-reference.md §2.3, §4, §7, §10 "Assertion vs config").

They run only in assertion mode (`gtool saml lint --assertion`). Grafana's SAML library (crewjam/saml
v0.4.14) checks the Response envelope and the first Assertion and stops at the first problem; these rules
report every problem they see. Attribute rules read the first Assertion, the one crewjam returns.
A finding about the pairing with a config key points at that key; the others point at the element in
the assertion file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from gtool.saml.keys import NAME_ID_FORMATS, ROLE_LIST_KEYS, ROLE_OF_LIST
from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.lint.rules.metadata import load_metadata
from gtool.saml.lint.rules.orgs import REGEX_MATCHING_SINCE
from gtool.saml.orgmapping import parse_org_mapping
from gtool.saml.settings import Setting
from gtool.saml.values import DurationError, format_duration, parse_duration, split_string

if TYPE_CHECKING:  # the model is only needed for annotations; lint stays fast without it
    from gtool.saml.assertion import Assertion, Attribute, Response, SignatureInfo
    from gtool.saml.orgmapping import Team

MAX_CLOCK_SKEW = 180.0  # crewjam MaxClockSkew: fixed, Grafana has no setting for it
DEFAULT_ISSUE_DELAY = 90.0  # max_issue_delay's default; MustDuration falls back to it silently
ENTITY_ID_SINCE = "11.5"  # before it, Grafana ignores entity_id and uses <root_url>saml/metadata
GRAPH_API_SINCE = "11.2"
TRANSIENT, UNSPECIFIED = NAME_ID_FORMATS[0], NAME_ID_FORMATS[1]
OVERAGE_CLAIMS = ("http://schemas.microsoft.com/claims/groups.link", "_claim_names")
GROUPS_KEY = "assertion_attribute_groups"
ROLE_KEY = "assertion_attribute_role"
ORG_KEY = "assertion_attribute_org"
ROLE_VALUE_KEYS = (*ROLE_LIST_KEYS, "role_values_grafana_admin")
DESTINATION = "the Response Destination"
_TEMPLATE_VAR = re.compile(r"\$__saml\{([^}]*)\}")
_NAME_SEPARATORS = re.compile(r"[/#:]")
_REGEX_META = re.compile(r"[.+*?()\[\]{}|^$\\]")
# An LDAP distinguished name (ADFS can send groups as DNs): one group whose name has commas.
_DN = re.compile(r"\s*[A-Za-z][\w.-]*=[^,]*(?:,\s*[A-Za-z][\w.-]*=[^,]*)+\s*")
_ENTRA_TENANT = re.compile(r"https://sts\.windows\.net/([0-9a-fA-F-]{36})/?")

# What Grafana loses when it cannot read the attribute a key names (an outcome, for messages).
_EFFECT = {
    "assertion_attribute_login": "Grafana gets no login for the user",
    "assertion_attribute_email": "Grafana gets no email for the user",
    "assertion_attribute_name": "Grafana gets no display name for the user",
    ROLE_KEY: "Grafana reads no role values, so no `role_values_*` list matches and the user gets the "
    "default role",
    GROUPS_KEY: "Grafana reads no groups, so team sync adds the user to no team",
    ORG_KEY: "Grafana reads no org values, so only `*` entries of `org_mapping` apply",
    "assertion_attribute_external_uid": "Grafana cannot link the user to a SCIM-provisioned user",
}
# IdPs leave an attribute out when the user has no value for it (no groups): not always a config error.
_MAY_BE_ABSENT = (ROLE_KEY, GROUPS_KEY, ORG_KEY)


# -- shared helpers ----------------------------------------------------------------------------------


def _where(ctx: LintContext, line: int | None) -> tuple[str, int, int]:
    return (ctx.assertion_path or "<assertion>", line or 1, 1)


def _user_set(setting: Setting | None) -> Setting | None:
    """The setting when a user set it; a value only Grafana's defaults hold has no line to point at."""
    return setting if setting is not None and setting.source.kind != "default" else None


def _first(ctx: LintContext) -> Assertion | None:
    return ctx.assertion.assertion if ctx.assertion is not None else None


def _assertions(ctx: LintContext) -> tuple[Assertion, ...]:
    return ctx.assertion.assertions if ctx.assertion is not None else ()


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: str) -> str:
    """A value in a message: in backticks, or as a Python literal when whitespace would hide in them."""
    if value != value.strip() or not value.isprintable() or "`" in value:
        return repr(_short(value, 80))
    return f"`{_short(value, 80)}`"


def _listing(values: Iterable[str], limit: int = 5) -> str:
    items = list(values)
    shown = ", ".join(_show(v) for v in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(seconds: float) -> str:
    return format_duration(max(1, round(abs(seconds))))


def _label(a: Assertion, index: int, count: int) -> str:
    if a.id:
        return f"Assertion {a.id}"
    return f"Assertion #{index + 1}" if count > 1 else "the Assertion"


# -- attribute names ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """An attribute name the configuration makes Grafana look up."""

    key: str
    name: str
    defaulted: bool = False  # the key is unset: Grafana's documented default `mail`
    template: bool = False  # a `$__saml{name}` variable of assertion_attribute_name


def _references(ctx: LintContext) -> list[_Ref]:
    refs: list[_Ref] = []
    for key in ("assertion_attribute_login", "assertion_attribute_email"):
        value = ctx.value(key)
        refs.append(_Ref(key, value) if value.strip() else _Ref(key, "mail", defaulted=True))
    name = ctx.value("assertion_attribute_name")
    variables = [v for v in dict.fromkeys(_TEMPLATE_VAR.findall(name)) if v]
    if variables:
        refs.extend(_Ref("assertion_attribute_name", v, template=True) for v in variables)
    elif name.strip():
        refs.append(_Ref("assertion_attribute_name", name))
    for key in (ROLE_KEY, GROUPS_KEY, ORG_KEY, "assertion_attribute_external_uid"):
        value = ctx.value(key)
        if value.strip():
            refs.append(_Ref(key, value))
    return refs


def _exact(a: Assertion, name: str) -> list[Attribute]:
    """Grafana's lookup: an attribute whose Name or FriendlyName is exactly ``name``."""
    return [attr for attr in a.attributes if name in (attr.name, attr.friendly_name)]


def _suffix(name: str) -> str:
    """The last segment of a claim URI or URN (`…/claims/role` -> `role`); the name itself otherwise."""
    return _NAME_SEPARATORS.split(name.rstrip("/"))[-1]


def _near_misses(a: Assertion, wanted: str) -> list[tuple[Attribute, str, str]]:
    """Attributes whose name matches ``wanted`` only ignoring case or as a URI suffix: (attr, name, how)."""
    out: list[tuple[Attribute, str, str]] = []
    folded, wanted_suffix = wanted.casefold(), _suffix(wanted).casefold()
    for attr in a.attributes:
        for name in dict.fromkeys(n for n in (attr.name, attr.friendly_name) if n):
            suffix = _suffix(name).casefold()
            if name.casefold() == folded:
                out.append((attr, name, "case"))
            elif suffix == wanted_suffix and any(c.isalpha() for c in suffix) and suffix:
                out.append((attr, name, "suffix"))
    return out


def _attribute_names(a: Assertion, limit: int = 8) -> str:
    names = list(dict.fromkeys(n for attr in a.attributes for n in (attr.name, attr.friendly_name) if n))
    return _listing(names, limit)


def _key_says(ref: _Ref) -> str:
    if ref.defaulted:
        return f"`{ref.key}` is not set, so Grafana reads `mail` (the documented default)"
    if ref.template:
        return f"`assertion_attribute_name` uses `$__saml{{{ref.name}}}`"
    return f"`{ref.key} = {ref.name}`"


def _fix(ref: _Ref, name: str) -> str:
    if ref.template:
        return f"write `$__saml{{{name}}}` in assertion_attribute_name"
    return f"set {ref.key} = {name}"


def _values_of(a: Assertion | None, key_value: str) -> tuple[str, ...]:
    if a is None or not key_value.strip():
        return ()
    return tuple(v for attr in _exact(a, key_value) for v in attr.values)


# -- ASRT-001 / ASRT-002 / ASRT-003 ------------------------------------------------------------------


@rule("ASRT-001", "attribute-not-in-assertion", Severity.ERROR, needs="assertion")
def attribute_not_in_assertion(ctx: LintContext) -> Iterator[Finding]:
    """An attribute the configuration names is not in the assertion (as Name or FriendlyName).

    ## What it does
    Looks up every attribute the configuration makes Grafana read: `assertion_attribute_login`,
    `_email`, `_name` (or each `$__saml{…}` variable of a name template), `_role`, `_groups`, `_org`
    and `_external_uid`. When `assertion_attribute_login` or `_email` is not set, Grafana's documented
    default `mail` is looked up. An attribute that is present but has only empty values is reported
    too.

    ## Why is this bad?
    Grafana matches an attribute by its exact Name or FriendlyName. When none matches, the user
    gets no login, email or name, no role values (the default role applies), no groups (no team
    sync) or no org values (only `*` org mappings apply). A missing template variable makes Grafana
    log an error on every login.

    ## Example
    ```xml
    <saml:Attribute Name="email"><saml:AttributeValue>ann@example.com</saml:AttributeValue></saml:Attribute>
    <saml:Attribute Name="memberOf"><saml:AttributeValue>admins</saml:AttributeValue></saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_login = mail
    assertion_attribute_groups = groups
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_login = email
    assertion_attribute_groups = memberOf
    ```
    """
    a = _first(ctx)
    if a is None:
        return
    for ref in _references(ctx):
        found = _exact(a, ref.name)
        target = ctx.setting(ref.key)
        if not found:
            if _near_misses(a, ref.name):
                continue  # ASRT-002 names the attribute to write
            yield _missing(ctx, a, ref, target)
        elif not any(v.strip() for attr in found for v in attr.values):
            yield ctx.at(
                target,
                f"{_key_says(ref)}: the assertion's attribute `{ref.name}` has no value (only empty "
                f"AttributeValues): {_EFFECT[ref.key]}",
                "fill the attribute at the IdP (the user's directory entry lacks it, or the IdP maps it "
                "from an empty field)",
                at_value=not ref.defaulted,
            )


def _missing(ctx: LintContext, a: Assertion, ref: _Ref, target: Setting | None) -> Finding:
    effect = _EFFECT[ref.key]
    if ref.template:
        effect = "Grafana logs an error for the missing template variable and gets no display name"
    elif ref.key == ORG_KEY and ctx.value("allowed_organizations").strip():
        effect += ", and `allowed_organizations` denies the login"
    if a.attributes:
        hint = f"the assertion's attributes are {_attribute_names(a)}: " + (
            f"{_fix(ref, '<the one that holds it>')}" if not ref.template else "use one of these names"
        )
    else:
        hint = "the assertion carries no attributes at all: add attribute statements (claims) at the IdP"
    severity = None
    if ref.key in _MAY_BE_ABSENT:
        severity = Severity.WARNING
        hint += "; IdPs leave an attribute out when the user has no value for it, so also check with a user "
        hint += "who has one"
    return ctx.at(
        target,
        f"{_key_says(ref)}, but the assertion has no attribute with Name or FriendlyName `{ref.name}`: "
        f"{effect}",
        hint,
        severity=severity,
        at_value=not ref.defaulted,
    )


@rule("ASRT-002", "attribute-name-near-miss", Severity.WARNING, needs="assertion")
def attribute_name_near_miss(ctx: LintContext) -> Iterator[Finding]:
    """An attribute name matches the assertion only ignoring case, or only as the end of a claim URI.

    ## What it does
    For each attribute the configuration names that is not in the assertion exactly, looks for an
    attribute whose Name or FriendlyName differs only in upper/lower case (`Email` for `email`), or
    shares the last segment of a claim URI (`role` for
    `http://schemas.microsoft.com/ws/2008/06/identity/claims/role`), and gives the exact name.

    ## Why is this bad?
    Grafana compares attribute names exactly. Microsoft Entra ID and ADFS name their claims with
    full URIs, so `assertion_attribute_role = role` reads nothing and every user falls back to the
    default role.

    ## Example
    ```xml
    <saml:Attribute Name="http://schemas.microsoft.com/ws/2008/06/identity/claims/role">
      <saml:AttributeValue>Grafana.Admin</saml:AttributeValue>
    </saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_role = role
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_role = http://schemas.microsoft.com/ws/2008/06/identity/claims/role
    ```
    """
    a = _first(ctx)
    if a is None:
        return
    for ref in _references(ctx):
        if _exact(a, ref.name):
            continue
        misses = _near_misses(a, ref.name)
        if not misses:
            continue
        attr, name, how = misses[0]
        role = "FriendlyName" if name == attr.friendly_name and name != attr.name else "Name"
        why = (
            "differs only in upper/lower case"
            if how == "case"
            else "is the same claim written as a full URI"
            if len(name) > len(ref.name)
            else "is the short form of the configured URI"
        )
        others = f" (also: {_listing(n for _, n, _ in misses[1:])})" if len(misses) > 1 else ""
        yield ctx.at(
            ctx.setting(ref.key),
            f"{_key_says(ref)}, but the assertion has the attribute {role} `{name}`{others}, which {why}; "
            f"attribute names are matched exactly, so {_EFFECT[ref.key]}",
            _fix(ref, name)
            + (" (Entra ID and ADFS need the full claim URI)" if len(name) > len(ref.name) else ""),
            at_value=not ref.defaulted,
        )


@rule("ASRT-003", "attribute-value-whitespace", Severity.WARNING, needs="assertion")
def attribute_value_whitespace(ctx: LintContext) -> Iterator[Finding]:
    """A value of an attribute Grafana reads has leading or trailing whitespace.

    ## What it does
    Checks the values of every attribute the configuration names (login, email, name, role, groups,
    org, external UID) for spaces, tabs or line breaks at either end, and shows each such value
    with its whitespace made visible.

    ## Why is this bad?
    Grafana's SAML library does not trim `AttributeValue` text, and role values, org mappings and
    team External group IDs are compared exactly: `'admins\\n'` does not match `admins`. A login or
    email with a trailing space creates a different user.

    ## Example
    ```xml
    <saml:Attribute Name="groups">
      <saml:AttributeValue>admins </saml:AttributeValue>
    </saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_groups = groups
    role_values_admin = admins
    ```

    ## Use instead
    ```xml
    <saml:Attribute Name="groups">
      <saml:AttributeValue>admins</saml:AttributeValue>
    </saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_groups = groups
    role_values_admin = admins
    ```
    """
    a = _first(ctx)
    if a is None:
        return
    keys_of: dict[int, list[str]] = {}
    attrs: dict[int, Attribute] = {}
    for ref in _references(ctx):
        for attr in _exact(a, ref.name):
            attrs[id(attr)] = attr
            keys_of.setdefault(id(attr), [])
            if ref.key not in keys_of[id(attr)]:
                keys_of[id(attr)].append(ref.key)
    for key_id, attr in attrs.items():
        padded = [v for v in attr.values if v != v.strip() and v.strip()]
        if not padded:
            continue
        keys = ", ".join(f"`{k}`" for k in keys_of[key_id])
        shown = ", ".join(repr(_short(v, 80)) for v in padded[:5])
        shown += f" and {len(padded) - 5} more" if len(padded) > 5 else ""
        yield ctx.at(
            _where(ctx, attr.line),
            f"attribute `{attr.name}` (read by {keys}) has {len(padded)} value(s) with leading or trailing "
            f"whitespace: {shown}; Grafana's SAML library "
            "does not trim them, so exact comparisons (role values, org mapping, team groups) fail",
            "remove the whitespace at the IdP (the attribute mapping or the directory value); if the XML "
            "was pretty-printed or reformatted before linting, lint the original capture instead",
        )


# -- ROLE-005 ----------------------------------------------------------------------------------------


def _near_value(value: str, candidates: Iterable[str]) -> tuple[str, str] | None:
    """The candidate ``value`` matches only after trimming or ignoring case: (candidate, how); ``None``
    when one matches exactly or none matches at all."""
    items = list(candidates)
    if value in items:
        return None
    for c in items:
        if value.strip() == c.strip():
            return c, "only after trimming whitespace"
    for c in items:
        if value.strip().casefold() == c.strip().casefold():
            trimmed = "" if value.casefold() == c.casefold() else " and whitespace is trimmed"
            return c, f"only when upper/lower case is ignored{trimmed}"
    return None


def _regex_matches(pattern: str, value: str) -> bool:
    """Grafana's unanchored regex match, for patterns without metacharacters only: then it is a substring
    test. Python's backtracking engine could hang on a pattern Go's RE2 runs in linear time."""
    return not _REGEX_META.search(pattern) and pattern in value


@rule("ROLE-005", "role-value-near-miss", Severity.WARNING, needs="assertion")
def role_value_near_miss(ctx: LintContext) -> Iterator[Finding]:
    """A role or org value in the assertion matches the configuration only ignoring case or whitespace.

    ## What it does
    Compares the values of the `assertion_attribute_role` attribute with the `role_values_*` lists,
    and the values of the `assertion_attribute_org` attribute with the external values of
    `org_mapping` and with `allowed_organizations`. Reports a value that has no exact match but
    matches after trimming whitespace or ignoring upper/lower case.

    ## Why is this bad?
    Grafana compares these values exactly and case-sensitively ("Group names are case-sensitive"):
    `Admins` does not match `admins`, and the user silently gets the default role, lands in the
    default org, or is refused by `allowed_organizations`.

    ## Example
    ```xml
    <saml:Attribute Name="role"><saml:AttributeValue>Admins</saml:AttributeValue></saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_role = role
    role_values_admin = admins
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_role = role
    role_values_admin = Admins
    ```
    """
    a = _first(ctx)
    roles = _values_of(a, ctx.value(ROLE_KEY))
    for key in ROLE_VALUE_KEYS:
        items = split_string(ctx.value(key)).items
        for value in dict.fromkeys(roles):
            if value in items:
                continue
            near = _near_value(value, items)
            if near is not None:
                what = f"the {ROLE_OF_LIST[key]} role" if key in ROLE_OF_LIST else "Grafana Admin"
                yield _role_near(ctx, key, value, near, f"the user does not get {what} from it")
    orgs = _values_of(a, ctx.value(ORG_KEY))
    regex = ctx.version_at_least(REGEX_MATCHING_SINCE) is not False
    externals = [e.external for e in parse_org_mapping(ctx.value("org_mapping")).entries if not e.all_users]
    allowed = split_string(ctx.value("allowed_organizations")).items
    for value in dict.fromkeys(orgs):
        if value not in externals and not (regex and any(_regex_matches(e, value) for e in externals)):
            near = _near_value(value, externals)
            if near is not None:
                yield _role_near(ctx, "org_mapping", value, near, "the org mapping entry does not apply")
        if allowed and value not in allowed:
            near = _near_value(value, allowed)
            if near is not None:
                yield _role_near(
                    ctx, "allowed_organizations", value, near, "it does not count for the login gate"
                )


def _role_near(ctx: LintContext, key: str, value: str, near: tuple[str, str], effect: str) -> Finding:
    configured, how = near
    if "case" in how:
        hint = f"write {_show(value.strip())} in `{key}` exactly as the IdP sends it"
        if value != value.strip():
            hint += ", and remove the whitespace around the value at the IdP"
    else:
        hint = (
            "remove the whitespace around the value at the IdP; whether Grafana Enterprise trims values "
            "is not documented, so do not rely on it"
        )
    return ctx.at(
        ctx.setting(key),
        f"assertion value {_show(value)} matches {_show(configured)} in `{key}` {how}: Grafana compares "
        f"exactly, so {effect}",
        hint,
        at_value=True,
    )


# -- TEAM-002 / TEAM-003 -----------------------------------------------------------------------------


def _group_attributes(ctx: LintContext) -> list[Attribute]:
    a = _first(ctx)
    name = ctx.value(GROUPS_KEY)
    return _exact(a, name) if a is not None and name.strip() else []


def _packed(value: str) -> str | None:
    """Why ``value`` looks like several groups in one AttributeValue, or ``None``."""
    text = value.strip()
    if text.startswith("["):
        return "starts with `[` (a list written as text)"
    if "," in text and not _DN.fullmatch(text):
        return "contains `,`"
    for sep in (";", "|"):
        if sep in text:
            return f"contains `{sep}`"
    return None


@rule("TEAM-002", "groups-packed-in-one-value", Severity.WARNING, needs="assertion")
def groups_packed_in_one_value(ctx: LintContext) -> Iterator[Finding]:
    """A groups AttributeValue holds several groups joined by `,`, `;` or `|`, or a `[…]` list.

    ## What it does
    Checks each value of the `assertion_attribute_groups` attribute for a comma, semicolon or pipe,
    or a leading `[`. LDAP distinguished names (`CN=Admins,OU=Groups,DC=example,DC=com`) are one group
    and are not reported for their commas.

    ## Why is this bad?
    Grafana takes each `AttributeValue` as one group name. "Do not include multiple groups within a
    single AttributeValue delimited by a comma or any other character" (Grafana docs): the joined
    text matches no team's External group ID, so team sync adds the user to no team.

    ## Example
    ```xml
    <saml:Attribute Name="groups">
      <saml:AttributeValue>admins,editors</saml:AttributeValue>
    </saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_groups = groups
    ```

    ## Use instead
    ```xml
    <saml:Attribute Name="groups">
      <saml:AttributeValue>admins</saml:AttributeValue>
      <saml:AttributeValue>editors</saml:AttributeValue>
    </saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_groups = groups
    ```
    """
    for attr in _group_attributes(ctx):
        for value in attr.values:
            why = _packed(value)
            if why is None:
                continue
            yield ctx.at(
                _where(ctx, attr.line),
                f"groups value {_show(value)} of attribute `{attr.name}` {why}: it looks like several groups "
                "in one AttributeValue, and Grafana takes it as one group name that matches no team",
                "configure the IdP to send one <AttributeValue> per group, not a joined string (if this is "
                "one group whose name contains the character, ignore this: its team's External group ID "
                "must then contain it exactly)",
            )


def _near_team(teams: Iterable[Team], value: str) -> tuple[Team, str, str] | None:
    for team in teams:
        near = _near_value(value, team.external_groups)
        if near is not None:
            return team, near[0], near[1]
    return None


def _team_label(team: Team) -> str:
    return f"team `{team.name}` (id {team.id}, org {team.org_id})"


@rule("TEAM-003", "group-without-team", Severity.INFO, needs="assertion")
def group_without_team(ctx: LintContext) -> Iterator[Finding]:
    """A group in the assertion matches no team's External group ID (needs the team list).

    ## What it does
    With a team list (`--teams`), compares each value of the `assertion_attribute_groups` attribute
    with the External group IDs of every team. A value that matches a team only ignoring case or
    whitespace is reported on its own, naming the team; the other unmatched values are reported
    together.

    ## Why is this bad?
    Team sync adds the user only to existing teams whose External group ID equals a group exactly
    (case-sensitive); it does not create teams. A group meant for a team but spelled differently
    leaves the user out of it without any error.

    ## Example
    ```xml
    <saml:Attribute Name="groups"><saml:AttributeValue>Ops</saml:AttributeValue></saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_groups = groups
    ; teams.json: team "Operations" with External group ID "ops"
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_groups = groups
    ; teams.json: team "Operations" with External group ID "Ops"
    ```
    """
    if ctx.teams is None:
        return
    attrs = _group_attributes(ctx)
    groups = list(dict.fromkeys(v for attr in attrs for v in attr.values))
    if not groups:
        return
    exact = {g for team in ctx.teams for g in team.external_groups}
    where = _where(ctx, attrs[0].line)
    unmatched: list[str] = []
    for value in groups:
        if value in exact:
            continue
        near = _near_team(ctx.teams, value)
        if near is None:
            unmatched.append(value)
            continue
        team, external, how = near
        yield ctx.at(
            where,
            f"group {_show(value)} matches the External group ID {_show(external)} of {_team_label(team)} "
            f"{how}: team sync compares exactly, so the user is not added to that team",
            f"change the team's External group ID to {_show(value.strip())} (team settings > External group "
            "sync) or the group name at the IdP"
            + ("; also remove the whitespace at the IdP" if value != value.strip() else ""),
        )
    if unmatched:
        yield ctx.at(
            where,
            f"{len(unmatched)} of {len(groups)} group value(s) match no team's External group ID: "
            f"{_listing(unmatched)}; team sync adds the user to no team for them",
            "teams are not created automatically: create the team and add the group as its External group "
            "ID, or ignore this for groups you do not use in Grafana",
        )


# -- URLs: ASRT-004 / ASRT-005 -----------------------------------------------------------------------


def _root(ctx: LintContext) -> str:
    """Grafana's AppURL: `[server] root_url`, always ending in `/` (setting.go parseAppUrlAndSubUrl)."""
    value = ctx.value("root_url", "server")
    return value if value.endswith("/") else value + "/"


def _root_target(ctx: LintContext) -> Setting | None:
    return _user_set(ctx.setting("root_url", "server"))


def _url_parts(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises on a non-numeric port
    except ValueError:
        return None
    return parts if parts.scheme and parts.netloc else None


def _port(parts: SplitResult) -> int | None:
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.port if parts.port is not None else default


def _difference(actual: str, expected: str) -> str:
    """Which part of two URLs differs, in words (``""`` when they are equal)."""
    if actual == expected:
        return ""
    got, want = _url_parts(actual), _url_parts(expected)
    if got is None or want is None:
        return "they are different strings"
    diffs: list[str] = []
    if got.scheme.lower() != want.scheme.lower():
        diffs.append(f"the scheme differs ({got.scheme} vs {want.scheme})")
    if (got.hostname or "") != (want.hostname or ""):
        diffs.append(f"the host differs ({got.hostname} vs {want.hostname})")
    explicit = got.port is not None or want.port is not None
    if _port(got) != _port(want) and (explicit or got.scheme.lower() == want.scheme.lower()):
        diffs.append(f"the port differs ({_port(got)} vs {_port(want)})")
    if got.path.rstrip("/") != want.path.rstrip("/"):
        diffs.append(f"the path differs ({got.path or '/'} vs {want.path or '/'})")
    elif got.path != want.path:
        diffs.append("a trailing `/` differs")
    if got.query != want.query or got.fragment != want.fragment:
        diffs.append("the query or fragment differs")
    if not diffs:
        return (
            "the same address written differently (letter case, or an explicit default port), but Grafana "
            "compares the text exactly"
        )
    return "; ".join(diffs)


@rule("ASRT-004", "audience-mismatch", Severity.ERROR, needs="assertion")
def audience_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """The assertion's Audience is not Grafana's entity ID (`entity_id`, or `<root_url>saml/metadata`).

    ## What it does
    Compares the `AudienceRestriction/Audience` values of each assertion with the entity ID Grafana
    expects: `entity_id` when set (Grafana 11.5+), otherwise `[server] root_url` followed by
    `saml/metadata`, and says which part of the URL differs.

    ## Why is this bad?
    Grafana refuses an assertion whose audiences do not include its entity ID:
    `assertion Conditions AudienceRestriction does not contain "…"`. The SP Entity ID / Audience URI
    registered at the IdP must be exactly Grafana's.

    ## Example
    ```xml
    <saml:Audience>https://grafana.example.com/</saml:Audience>
    ```
    ```ini
    [server]
    root_url = https://grafana.example.com/
    ```

    ## Use instead
    ```ini
    [server]
    root_url = https://grafana.example.com/
    ; and set the IdP's Audience URI (SP Entity ID) to https://grafana.example.com/saml/metadata
    ```
    """
    root = _root(ctx)
    metadata_url = root + "saml/metadata"
    entity = ctx.value("entity_id").strip()
    ignored = bool(entity) and ctx.version_at_least(ENTITY_ID_SINCE) is False
    if entity and not ignored:
        expected, source, target = entity, "`entity_id`", ctx.setting("entity_id")
    else:
        expected, source = metadata_url, f"`[server] root_url` ({root}) + saml/metadata"
        target = ctx.setting("entity_id") if ignored else _root_target(ctx)
        if ignored:
            source += f"; Grafana {ctx.grafana_version} ignores `entity_id` (it needs {ENTITY_ID_SINCE}+)"
    assertions = _assertions(ctx)
    for index, a in enumerate(assertions):
        audiences = a.conditions.audiences if a.conditions is not None else ()
        if not audiences or expected in audiences:
            continue
        closest = audiences[0]
        if entity and not ignored:
            hint = f"set entity_id = {closest} if that is what the IdP registered, or set the IdP's "
        else:
            hint = "set the IdP's "
        hint += f"Audience URI / SP Entity ID to {expected}"
        if not entity and ctx.version_at_least(ENTITY_ID_SINCE) is not False:
            hint += f" (or, on Grafana {ENTITY_ID_SINCE}+, set entity_id = {closest})"
        yield ctx.at(
            target,
            f"{_label(a, index, len(assertions))} is for audience {_listing(audiences, 3)} but Grafana's "
            f"entity ID is `{expected}` (from {source}): {_difference(closest, expected)}; Grafana rejects "
            f'it with `assertion Conditions AudienceRestriction does not contain "{expected}"`',
            hint,
            at_value=True,
        )


@rule("ASRT-005", "acs-url-mismatch", Severity.ERROR, needs="assertion")
def acs_url_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """The Response Destination or SubjectConfirmation Recipient is not `<root_url>saml/acs`.

    ## What it does
    Compares the Response's `Destination` (checked by Grafana when present or when the Response is
    signed) and every `SubjectConfirmationData Recipient` with Grafana's Assertion Consumer Service
    URL, `[server] root_url` followed by `saml/acs`, and says whether the scheme, host, port or path
    (a sub-path) differs.

    ## Why is this bad?
    Grafana compares these strings exactly and refuses the response: ``Destination` does not match
    AcsURL` or `assertion SubjectConfirmation Recipient is not …`. Typical causes: Grafana behind a
    proxy with `root_url` still `http://localhost:3000/`, a missing sub-path, http vs https.

    ## Example
    ```xml
    <samlp:Response Destination="https://grafana.example.com/grafana/saml/acs">
    ```
    ```ini
    [server]
    root_url = https://grafana.example.com/
    ```

    ## Use instead
    ```ini
    [server]
    root_url = https://grafana.example.com/grafana/
    serve_from_sub_path = true
    ```
    """
    resp = ctx.assertion
    if resp is None:
        return
    root = _root(ctx)
    acs = root + "saml/acs"
    seen: dict[str, list[str]] = {}
    if resp.kind == "Response" and (resp.destination is not None or resp.signature is not None):
        seen.setdefault(resp.destination or "", []).append(DESTINATION)
    assertions = resp.assertions
    for index, a in enumerate(assertions):
        for sc in a.subject_confirmations:
            what = f"the SubjectConfirmation Recipient of {_label(a, index, len(assertions))}"
            seen.setdefault(sc.recipient or "", []).append(what)
    for actual, where in seen.items():
        if actual == acs:
            continue
        named = list(dict.fromkeys(where))
        quoted = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
        verb = "are" if len(named) > 1 else "is"
        errors = []
        if DESTINATION in where:
            errors.append(f'`Destination` does not match AcsURL (expected "{acs}", actual "{actual}")')
        if any(w != DESTINATION for w in where):
            errors.append(f"assertion SubjectConfirmation Recipient is not {acs}")
        if not actual:
            detail = "Grafana compares it with the ACS URL exactly, so a missing one fails"
            hint = f"configure the IdP to send {acs} as Destination and Recipient"
        else:
            detail = _difference(actual, acs)
            hint = _acs_hint(actual, acs)
        yield ctx.at(
            _root_target(ctx),
            f"{quoted} {verb} {f'`{actual}`' if actual else 'empty'} but Grafana's ACS URL is `{acs}` (from "
            f"`[server] root_url` {root}): {detail}; Grafana rejects it with "
            + " / ".join(f"`{e}`" for e in errors),
            hint,
            at_value=True,
        )


def _acs_hint(actual: str, acs: str) -> str:
    if actual.endswith("/saml/acs"):
        base = actual[: -len("saml/acs")]
        return (
            f"if users open Grafana at {base}, set [server] root_url = {base}; otherwise set the ACS (Reply) "
            f"URL at the IdP to {acs}"
        )
    return f"set the ACS URL (Reply URL, Single sign-on URL) at the IdP to {acs}"


# -- ASRT-006 ----------------------------------------------------------------------------------------


@rule("ASRT-006", "issuer-mismatch", Severity.ERROR, needs="assertion")
def issuer_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """The Issuer of the Response or an Assertion is not the entityID of the configured IdP metadata.

    ## What it does
    Reads the IdP metadata the configuration names (`idp_metadata`, `idp_metadata_path`, or
    `idp_metadata_url` with `--fetch-metadata`) and compares its `entityID` with the Response's
    `Issuer` (when present) and each Assertion's `Issuer`. Without readable metadata it reports
    nothing.

    ## Why is this bad?
    Grafana refuses a message from an issuer other than the IdP it trusts:
    `response Issuer does not match the IDP metadata (expected "…")` or `issuer is not "…"`. Usually
    the metadata belongs to another IdP application or tenant, or was downloaded from a test IdP.

    ## Example
    ```xml
    <saml:Issuer>https://sts.windows.net/11111111-2222-3333-4444-555555555555/</saml:Issuer>
    ```
    ```ini
    [auth.saml]
    ; metadata of another tenant: entityID="https://sts.windows.net/aaaaaaaa-…/"
    idp_metadata_path = /etc/grafana/saml/old-tenant.xml
    ```

    ## Use instead
    ```ini
    [auth.saml]
    ; the federation metadata of the Entra ID application that sends the assertions
    idp_metadata_path = /etc/grafana/saml/idp.xml
    ```
    """
    resp = ctx.assertion
    if resp is None:
        return
    meta = next((m for m in load_metadata(ctx) if m.entity is not None), None)
    if meta is None or meta.entity is None:
        return
    entity_id = str(meta.entity.get("entityID") or "")
    issuers: list[tuple[str, str, str]] = []
    if resp.kind == "Response" and resp.issuer is not None:
        expected_msg = f'response Issuer does not match the IDP metadata (expected "{entity_id}")'
        issuers.append(("the Response Issuer", resp.issuer, expected_msg))
    for index, a in enumerate(resp.assertions):
        label = f"the Issuer of {_label(a, index, len(resp.assertions))}"
        issuers.append((label, a.issuer or "", f'issuer is not "{entity_id}"'))
    for what, issuer, crewjam in issuers:
        if issuer == entity_id:
            continue
        shown = f"`{issuer}`" if issuer else "empty"
        yield ctx.at(
            meta.setting,
            f"{what} is {shown} but the IdP metadata in {meta.origin} has entityID `{entity_id}`"
            + (f" ({_difference(issuer, entity_id)})" if issuer else "")
            + f": Grafana rejects it with `{crewjam}`",
            "use the metadata of the IdP application that sent this message (its entityID must equal the "
            "Issuer), or check that the message came from the IdP you meant",
            at_value=True,
        )


# -- ASRT-007 ----------------------------------------------------------------------------------------


def _signature_problem(sig: SignatureInfo, what: str) -> str | None:
    if sig.verified is not False:
        return None
    why = f": {sig.problem}" if sig.problem else ""
    sha1 = " (it uses SHA-1)" if sig.sha1 else ""
    return f"the signature on {what} does not verify{sha1}{why}"


@rule("ASRT-007", "message-not-signed", Severity.ERROR, needs="assertion")
def message_not_signed(ctx: LintContext) -> Iterator[Finding]:
    """Neither the Response nor the Assertion is signed, or a signature does not verify.

    ## What it does
    Checks that the Response is signed or, if it is not, that each Assertion is. When signatures
    were verified (`--idp-cert` / `--idp-metadata`), reports each one that failed and why. An
    `EncryptedAssertion` that was not decrypted is reported as unchecked, with how to decrypt it.

    ## Why is this bad?
    Grafana accepts only signed content: `either the Response or Assertion must be signed`, and an
    invalid signature fails with `cannot validate signature on Response: …`. An unsigned assertion
    would let anyone log in as anyone, so the IdP must sign the Response or the Assertion (most
    sign the Assertion; signing both is best).

    ## Example
    ```xml
    <samlp:Response ...><saml:Assertion ...><!-- no ds:Signature --></saml:Assertion></samlp:Response>
    ```
    ```ini
    [auth.saml]
    idp_metadata_path = /etc/grafana/saml/idp.xml
    ```

    ## Use instead
    ```ini
    [auth.saml]
    idp_metadata_path = /etc/grafana/saml/idp.xml
    ; and enable "Sign assertion" (or "Sign response") in the IdP application
    ```
    """
    resp = ctx.assertion
    if resp is None:
        return
    response_signed = resp.kind == "Response" and resp.signature is not None
    # A Response whose signature failed covers nothing: its assertions need their own.
    response_covers = response_signed and resp.signature is not None and resp.signature.verified is not False
    if resp.signature is not None and (problem := _signature_problem(resp.signature, "the Response")):
        yield ctx.at(
            _where(ctx, 1),
            f"{problem}: Grafana rejects it with `cannot validate signature on Response`",
            "check that the IdP metadata (its signing certificate) is current, and that nothing changed the "
            "XML after the IdP signed it (a proxy, or editing the capture)",
        )
    # verify() moves assertions no valid signature covers to `rejected`; they are reported the same way.
    every = (*resp.assertions, *resp.rejected)
    for index, a in enumerate(every):
        label = _label(a, index, len(every))
        if a.signature is None:
            if not response_covers:
                what = (
                    f"{label} is not signed and the Response signature does not verify"
                    if response_signed
                    else f"neither the Response nor {label} is signed"
                )
                yield ctx.at(
                    _where(ctx, a.line),
                    f"{what}: Grafana rejects it with `either the Response or Assertion must be signed`",
                    "enable assertion signing (or response signing) in the IdP application",
                )
        elif problem := _signature_problem(a.signature, label):
            yield ctx.at(
                _where(ctx, a.line),
                f"{problem}: Grafana rejects it with `cannot validate signature on Response`",
                "check that the IdP metadata (its signing certificate) is current, and that nothing changed "
                "the XML after the IdP signed it",
            )
    if resp.encrypted_assertions:
        yield _encrypted(ctx, resp, response_signed)


def _encrypted(ctx: LintContext, resp: Response, response_signed: bool) -> Finding:
    key_path = ctx.value("private_key_path").strip()
    key = key_path or "sp-key.pem"
    hint = f"run again with `--sp-key {key}` (the SP private key Grafana decrypts with"
    hint += ")" if key_path else "; the key of `private_key`/`private_key_path`)"
    unsigned = "" if response_signed else "; the Response is unsigned, so the assertion inside must be signed"
    return ctx.at(
        _where(ctx, 1),
        f"the message holds {resp.encrypted_assertions} EncryptedAssertion(s) that were not decrypted: their "
        f"attributes, audience, validity and signature could not be checked{unsigned}",
        hint,
        severity=Severity.INFO,
    )


# -- ASRT-008 ----------------------------------------------------------------------------------------


def _max_issue_delay(ctx: LintContext) -> tuple[float, str]:
    """The delay Grafana applies and how to name it in a message."""
    value = ctx.value("max_issue_delay").strip()
    try:
        seconds = parse_duration(value or "90s")
    except DurationError:
        # MustDuration: an invalid value silently means the default.
        return DEFAULT_ISSUE_DELAY, f"max_issue_delay (90s: `{_short(value, 30)}` is not a Go duration)"
    shown = f"{seconds:g}s" if abs(seconds) < 600 else format_duration(seconds)
    return seconds, f"max_issue_delay ({shown})"


def _issue_problem(
    ctx: LintContext, instant: dt.datetime, delay: tuple[float, str], crewjam: str
) -> str | None:
    limit = _utc(instant) + dt.timedelta(seconds=delay[0])
    if limit >= _utc(ctx.now):
        return None
    age = (_utc(ctx.now) - _utc(instant)).total_seconds()
    return (
        f"`{crewjam} {_stamp(limit)}`: IssueInstant {_stamp(instant)} is {_span(age)} old, more than "
        + delay[1]
    )


def _window_problems(ctx: LintContext, a: Assertion) -> list[str]:
    out: list[str] = []
    skew = dt.timedelta(seconds=MAX_CLOCK_SKEW)
    now = _utc(ctx.now)
    for sc in a.subject_confirmations:
        if sc.not_on_or_after is None:
            out.append(
                "`assertion SubjectConfirmationData is expired`: it has no NotOnOrAfter, which Grafana's "
                "SAML library reads as the year 1"
            )
        elif _utc(sc.not_on_or_after) + skew < now:
            ago = (now - _utc(sc.not_on_or_after)).total_seconds()
            out.append(
                f"`assertion SubjectConfirmationData is expired`: NotOnOrAfter {_stamp(sc.not_on_or_after)} "
                f"passed {_span(ago)} ago, beyond the fixed 180 s clock skew"
            )
    cond = a.conditions
    if cond is None:
        return out
    if cond.not_before is not None and _utc(cond.not_before) - skew > now:
        ahead = (_utc(cond.not_before) - now).total_seconds()
        out.append(
            f"`assertion Conditions is not yet valid`: NotBefore {_stamp(cond.not_before)} is {_span(ahead)} "
            "after the lint time, beyond the fixed 180 s clock skew"
        )
    if cond.not_on_or_after is None:
        out.append(
            "`assertion Conditions is expired`: Conditions has no NotOnOrAfter, which Grafana's SAML library "
            "reads as the year 1"
        )
    elif _utc(cond.not_on_or_after) + skew < now:
        ago = (now - _utc(cond.not_on_or_after)).total_seconds()
        out.append(
            f"`assertion Conditions is expired`: NotOnOrAfter {_stamp(cond.not_on_or_after)} passed "
            f"{_span(ago)} ago, beyond the fixed 180 s clock skew"
        )
    return out


@rule("ASRT-008", "assertion-time-window", Severity.WARNING, needs="assertion")
def assertion_time_window(ctx: LintContext) -> Iterator[Finding]:
    """The message is too old for `max_issue_delay`, or outside its validity window (±180 s skew).

    ## What it does
    Compares, with the lint time (`--now`, default: now), the `IssueInstant` of the Response and of
    each Assertion with `max_issue_delay` (default 90s; an invalid value means 90s, as in Grafana),
    and the `NotBefore`/`NotOnOrAfter` of `Conditions` and `SubjectConfirmationData` with the fixed
    180-second clock skew of Grafana's SAML library. A missing `NotOnOrAfter` counts as expired, as
    it does there. Messages use the library's own words.

    ## Why is this bad?
    Grafana refuses such a message (`response IssueInstant expired at …`, `expired on …`,
    `assertion Conditions is expired`, `assertion Conditions is not yet valid`). A captured message
    is usually old by the time it is linted: pass `--now` with the capture time to check the window
    as Grafana saw it. If it still fails, the clocks of the IdP and Grafana differ.

    ## Example
    ```xml
    <saml:Assertion IssueInstant="2026-06-01T11:55:00Z">
      <saml:Conditions NotBefore="2026-06-01T11:54:30Z" NotOnOrAfter="2026-06-01T12:00:00Z"/>
    ```
    ```ini
    ; Grafana's clock says 12:05:00: the assertion is 5 minutes old
    [auth.saml]
    max_issue_delay = 90s
    ```

    ## Use instead
    ```ini
    ; synchronise the IdP's and Grafana's clocks (NTP); raise the delay only for slow logins
    [auth.saml]
    max_issue_delay = 90s
    ```
    """
    resp = ctx.assertion
    if resp is None:
        return
    delay = _max_issue_delay(ctx)
    elements: list[tuple[int | None, str, list[str], dt.datetime | None]] = []
    if resp.kind == "Response" and resp.issue_instant is not None:
        problem = _issue_problem(ctx, resp.issue_instant, delay, "response IssueInstant expired at")
        elements.append((1, "the Response", [problem] if problem else [], resp.issue_instant))
    for index, a in enumerate(resp.assertions):
        problems: list[str] = []
        if a.issue_instant is not None:
            problem = _issue_problem(ctx, a.issue_instant, delay, "expired on")
            problems += [problem] if problem else []
        problems += _window_problems(ctx, a)
        elements.append((a.line, _label(a, index, len(resp.assertions)), problems, a.issue_instant))
    captured = next((t for _, _, _, t in elements if t is not None), None)
    for line, label, problems, _ in elements:
        if problems:
            yield ctx.at(
                _where(ctx, line),
                f"at the lint time {_stamp(ctx.now)}, Grafana would reject {label}: " + "; ".join(problems),
                _time_hint(ctx, captured, problems),
            )


def _time_hint(ctx: LintContext, captured: dt.datetime | None, problems: list[str]) -> str:
    if all("not yet valid" in p for p in problems):
        return (
            "the IdP's clock is ahead of Grafana's (or `--now` is before the capture): synchronise both "
            "clocks with NTP; Grafana allows only 180 s of skew"
        )
    when = _stamp(captured) if captured is not None else "<capture time, ISO 8601>"
    hint = (
        f"a captured message is usually older than the lint time: run again with `--now {when}` (when it "
        "was captured) to check it as Grafana saw it; if it still fails, the IdP's and Grafana's clocks "
        "differ: synchronise both with NTP"
    )
    if any("IssueInstant" in p for p in problems):
        hint += ", or raise max_issue_delay if logins are slow"
    return hint


# -- ASRT-009 / ASRT-010 / ASRT-011 ------------------------------------------------------------------


@rule("ASRT-009", "name-id-format-mismatch", Severity.WARNING, needs="assertion")
def name_id_format_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """The assertion's NameID Format is not the `name_id_format` Grafana requests.

    ## What it does
    Compares the `Format` of the assertion's `Subject/NameID` with `name_id_format` (default
    `urn:oasis:names:tc:SAML:2.0:nameid-format:transient`). Requesting `…:unspecified` accepts any
    format. With `single_logout` enabled this is a warning, otherwise a note.

    ## Why is this bad?
    The IdP ignored the NameID policy Grafana asked for. With single logout, Grafana names the user
    in its LogoutRequest with the configured format, and the IdP may not find the session, so
    logging out of Grafana leaves the IdP session open.

    ## Example
    ```xml
    <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">ann@example.com</saml:NameID>
    ```
    ```ini
    [auth.saml]
    single_logout = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    single_logout = true
    name_id_format = urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress
    ```
    """
    a = _first(ctx)
    if a is None or (a.name_id is None and a.name_id_format is None):
        return
    configured = ctx.value("name_id_format").strip()
    requested = configured or TRANSIENT
    got = a.name_id_format or UNSPECIFIED
    if requested == UNSPECIFIED or got == requested:
        return
    slo = ctx.bool("single_logout")
    effect = (
        "with single_logout, Grafana's LogoutRequest names the user in the requested format and the IdP "
        "may not find the session"
        if slo
        else "harmless without single_logout, but the IdP ignores what Grafana asks for"
    )
    shown = f"`{a.name_id_format}`" if a.name_id_format else "absent (unspecified)"
    fix = (
        f"set name_id_format = {got}" if got in NAME_ID_FORMATS else f"configure the IdP to send {requested}"
    )
    yield ctx.at(
        _user_set(ctx.setting("name_id_format")) or (ctx.setting("single_logout") if slo else None),
        f"the assertion's NameID Format is {shown} but `name_id_format` requests `{requested}`"
        + (" (the default)" if not configured else "")
        + f": {effect}",
        f"{fix}, or set the IdP's NameID format to match",
        severity=None if slo else Severity.INFO,
        at_value=bool(configured),
    )


@rule("ASRT-010", "idp-initiated-not-allowed", Severity.WARNING, needs="assertion")
def idp_initiated_not_allowed(ctx: LintContext) -> Iterator[Finding]:
    """The message has no `InResponseTo` (IdP-initiated) but `allow_idp_initiated` is false.

    ## What it does
    Reports a Response, or a `SubjectConfirmationData`, without `InResponseTo` while
    `allow_idp_initiated` is false (the default). A message without it was not answering a login
    request from Grafana: the user started at the IdP's portal or app tile.

    ## Why is this bad?
    Grafana then accepts only answers to its own requests and refuses the message:
    ``InResponseTo` does not match any of the possible request IDs`. Users who click the app in
    the IdP portal cannot log in.

    ## Example
    ```xml
    <samlp:Response ID="_r1" IssueInstant="2026-06-01T12:00:00Z"> <!-- no InResponseTo -->
    ```
    ```ini
    [auth.saml]
    allow_idp_initiated = false
    ```

    ## Use instead
    ```ini
    [auth.saml]
    allow_idp_initiated = true
    relay_state = <the relay state configured at the IdP>
    ```
    """
    resp = ctx.assertion
    if resp is None or ctx.bool("allow_idp_initiated"):
        return
    missing: list[str] = []
    errors: list[str] = []
    if resp.kind == "Response" and not resp.in_response_to:
        missing.append("the Response")
        errors.append("`InResponseTo` does not match any of the possible request IDs")
    for index, a in enumerate(resp.assertions):
        if any(not sc.in_response_to for sc in a.subject_confirmations):
            missing.append(f"the SubjectConfirmationData of {_label(a, index, len(resp.assertions))}")
            errors.append("assertion SubjectConfirmation one of the possible request IDs")
    if not missing:
        return
    yield ctx.at(
        _user_set(ctx.setting("allow_idp_initiated")),
        f"{' and '.join(missing)} {'has' if len(missing) == 1 else 'have'} no InResponseTo: the login was "
        "started at the IdP (IdP-initiated), and with `allow_idp_initiated` false Grafana rejects it with "
        + " / ".join(f"`{e}`" for e in dict.fromkeys(errors)),
        "start the login from Grafana's login page, or set allow_idp_initiated = true and relay_state to "
        "the relay state configured at the IdP (IdP-initiated login is weaker against login CSRF)",
    )


def _graph_api_configured(ctx: LintContext) -> bool:
    return all(ctx.is_set(k) for k in ("client_id", "client_secret", "token_url"))


@rule("ASRT-011", "entra-groups-overage", Severity.INFO, needs="assertion")
def entra_groups_overage(ctx: LintContext) -> Iterator[Finding]:
    """The assertion carries Entra ID's groups overage claim instead of the user's groups.

    ## What it does
    Finds the attribute `http://schemas.microsoft.com/claims/groups.link` (or `_claim_names`) that
    Microsoft Entra ID sends instead of the groups when a user is in more than 150 groups, unless the
    Graph API lookup (`client_id`, `client_secret`, `token_url`) is configured on Grafana 11.2+.

    ## Why is this bad?
    The assertion then carries no groups: team sync and group-based role and org mapping give the
    user nothing. Grafana 11.2+ can fetch the groups from the Microsoft Graph API instead.

    ## Example
    ```xml
    <saml:Attribute Name="http://schemas.microsoft.com/claims/groups.link">
      <saml:AttributeValue>https://graph.windows.net/…/users/…/getMemberObjects</saml:AttributeValue>
    </saml:Attribute>
    ```
    ```ini
    [auth.saml]
    assertion_attribute_groups = http://schemas.microsoft.com/ws/2008/06/identity/claims/groups
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_groups = http://schemas.microsoft.com/ws/2008/06/identity/claims/groups
    client_id = <application (client) ID>
    client_secret = <client secret>
    token_url = https://login.microsoftonline.com/<tenant ID>/oauth2/v2.0/token
    force_use_graph_api = true
    ```
    """
    resp = ctx.assertion
    if resp is None:
        return
    too_old = ctx.version_at_least(GRAPH_API_SINCE) is False
    if _graph_api_configured(ctx) and not too_old:
        return
    for a in resp.assertions:
        for attr in a.attributes:
            claim = next((n for n in (attr.name, attr.friendly_name) if n in OVERAGE_CLAIMS), None)
            if claim is None:
                continue
            yield ctx.at(
                _where(ctx, attr.line),
                f"the assertion carries Entra ID's groups overage claim `{claim}`: the user is in more "
                "than 150 groups, so Entra ID sent a link instead of the groups and Grafana reads none",
                _overage_hint(resp, too_old),
            )


def _overage_hint(resp: Response, too_old: bool) -> str:
    issuer = resp.issuer or (resp.assertion.issuer if resp.assertion else None) or ""
    m = _ENTRA_TENANT.match(issuer)
    tenant = m.group(1) if m else "<tenant ID>"
    fix = (
        "let Grafana fetch the groups from the Graph API: set client_id and client_secret (an app "
        f"registration allowed to read group memberships), token_url = https://login.microsoftonline.com/"
        f"{tenant}/oauth2/v2.0/token, and force_use_graph_api = true to always use it"
    )
    if too_old:
        return f"upgrade to Grafana {GRAPH_API_SINCE}+ and {fix}; or emit only the groups assigned to the app"
    return (
        f"{fix} (Grafana {GRAPH_API_SINCE}+); or emit only the groups assigned to the application in Entra ID"
    )
