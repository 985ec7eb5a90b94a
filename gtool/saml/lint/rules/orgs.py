"""Org mapping rules: `org_mapping`, `allowed_organizations` and `assertion_attribute_org`
(saml-reference.md §3, §10 ORG-001…ORG-010, §12 ORG-011).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator

from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.orgmapping import (
    ALL_ORGS,
    MappingEntry,
    OrgMapping,
    fix_json_escapes,
    has_bad_json_escape,
    parse_org_mapping,
    resolve_mapping,
)
from gtool.saml.settings import Setting
from gtool.saml.values import ORG_ROLES, ROLE_RANK, split_string

# Org names in org_mapping: "Available in Grafana 11.5+" per the org-mapping docs.
ORG_NAMES_SINCE = "11.5"
# The MySQL column holding SSO settings is TEXT before 12.3, MEDIUMTEXT from 12.3 (docs).
LARGE_COLUMN_SINCE = "12.3"
MYSQL_TEXT_BYTES = 65_535
OLDER_DOC_CHARS = 34_783
# ASSUMPTION: the first Grafana version that matches org_mapping external values as regular expressions
# (saml-reference.md §12.2, grafana/grafana PR #121892, April 2026). The stored thread shows that PR as
# closed, not merged, and the newest stored org_role_mapper.go still compares exactly, so no release is
# confirmed; 13.0 is a guess. Versions below it are treated as exact matching.
REGEX_MATCHING_SINCE = "13.0"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _entry(position: int, text: str) -> str:
    return f"`org_mapping` entry {position} `{_short(text)}`"


def _mapping(ctx: LintContext) -> tuple[Setting, OrgMapping] | None:
    setting = ctx.setting("org_mapping")
    if setting is None or not setting.value.strip():
        return None
    return setting, parse_org_mapping(setting.value)


@rule("ORG-001", "org-mapping-entry-invalid", Severity.ERROR)
def entry_invalid(ctx: LintContext) -> Iterator[Finding]:
    """An `org_mapping` entry Grafana skips: no `:`, more than three `:`-separated parts, or no org.

    ## What it does
    Splits `org_mapping` as Grafana does (a `:` preceded by `\\` is not a separator) and reports entries
    with one part, with more than three parts, or with an empty org part (`admins::Admin`).

    ## Why is this bad?
    Grafana logs `Skipping org mapping due to invalid format.` (or `the org name or id is empty`) and
    ignores the entry: those users land in the default org with `auto_assign_org_role`.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = team:ops:2:Editor
    ```

    ## Use instead
    ```ini
    [auth.saml]
    org_mapping = team\\:ops:2:Editor
    ```
    """
    found = _mapping(ctx)
    if found is None:
        return
    setting, mapping = found
    for bad in mapping.invalid:
        if bad.kind == "empty-org":
            hint = "put the org id, org name or `*` after the first `:`"
        elif bad.part_count == 1:
            hint = "write `<external value>:<org id or name>[:<role>]`, e.g. `Engineering:2:Editor`"
        else:
            hint = "escape a `:` that belongs to the external value as `\\:` (in a JSON list, `\\\\:`)"
        yield ctx.at(
            setting,
            f"{_entry(bad.position, bad.text)} is skipped by Grafana: {bad.reason}",
            hint,
            at_value=True,
        )


@rule("ORG-002", "org-mapping-role-invalid", Severity.WARNING)
def role_invalid(ctx: LintContext) -> Iterator[Finding]:
    """The role part of an `org_mapping` entry is not exactly `None`, `Viewer`, `Editor` or `Admin`.

    ## What it does
    Reports entries whose third part is another word or another spelling (`editor`, `Admin `,
    `GrafanaAdmin`, an empty role after a trailing `:`).

    ## Why is this bad?
    Grafana compares the role case-sensitively and silently uses `Viewer` for anything else, so
    `admins:1:admin` makes admins Viewers.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = admins:1:admin
    ```

    ## Use instead
    ```ini
    [auth.saml]
    org_mapping = admins:1:Admin
    ```
    """
    found = _mapping(ctx)
    if found is None:
        return
    setting, mapping = found
    lowered = {r.lower(): r for r in ORG_ROLES}
    for entry in mapping.entries:
        if entry.raw_role is None or entry.role_is_valid:
            continue
        meant = lowered.get(entry.raw_role.strip().lower())
        if meant:
            hint = f"write the role exactly as `{meant}`"
        elif "admin" in entry.raw_role.lower():
            hint = "org_mapping gives org roles only; grant Grafana Admin with `role_values_grafana_admin`"
        else:
            hint = "use one of None, Viewer, Editor, Admin, or drop the third part to mean Viewer"
        yield ctx.at(
            setting,
            f"{_entry(entry.position, entry.text)}: role `{entry.raw_role}` is not one of None, Viewer, "
            "Editor, Admin (case-sensitive), so Grafana gives Viewer",
            hint,
            at_value=True,
        )


def _spaced_number(text: str) -> bool:
    return text != text.strip() and re.fullmatch(r"[+-]?[0-9]+", text.strip()) is not None


@rule("ORG-003", "org-mapping-org-name", Severity.WARNING)
def org_name(ctx: LintContext) -> Iterator[Finding]:
    """An `org_mapping` entry names its org instead of giving the org id.

    ## What it does
    Reports entries whose org part is neither `*` nor an integer. On a declared Grafana older than
    11.5 it is a warning; without `--grafana-version` it is a note. An org id with spaces around it
    (`Eng: 2:Editor` in a JSON list) is always a warning: Grafana looks for an org named ` 2`.

    ## Why is this bad?
    Org names work from Grafana 11.5, are matched with exact case, and must exist: otherwise Grafana
    logs `Could not fetch organization. Skipping.` and ignores the entry. Older versions cannot look
    names up at all.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = ["Engineering:Main Org.:Editor"]
    ```

    ## Use instead
    ```ini
    [auth.saml]
    org_mapping = ["Engineering:1:Editor"]
    ```
    """
    found = _mapping(ctx)
    if found is None:
        return
    setting, mapping = found
    supported = ctx.version_at_least(ORG_NAMES_SINCE)
    for entry in mapping.entries:
        if entry.org.kind != "name":
            continue
        where = _entry(entry.position, entry.text)
        if _spaced_number(entry.org.text):
            yield ctx.at(
                setting,
                f"{where}: org `{entry.org.text}` has spaces around the number, so Grafana looks for an org "
                "with that name and skips the entry",
                f"remove the spaces: `{entry.external}:{entry.org.text.strip()}"
                + (f":{entry.raw_role}`" if entry.raw_role is not None else "`"),
                at_value=True,
            )
        elif supported is False:
            yield ctx.at(
                setting,
                f"{where} names org `{entry.org.text}`; Grafana {ctx.grafana_version} accepts only org ids "
                f"(names need {ORG_NAMES_SINCE}+), so it skips the entry",
                "use the org id (Administration > Organizations), or upgrade",
                at_value=True,
            )
        elif supported is None:
            yield ctx.at(
                setting,
                f"{where} names org `{entry.org.text}`: this needs Grafana {ORG_NAMES_SINCE}+ and an org "
                "with exactly this name (case-sensitive); otherwise Grafana skips the entry",
                "check the name in Administration > Organizations, or use the org id; pass --grafana-version "
                "to check the version",
                severity=Severity.INFO,
                at_value=True,
            )


@rule("ORG-004", "org-mapping-without-org-attribute", Severity.ERROR)
def mapping_without_attribute(ctx: LintContext) -> Iterator[Finding]:
    """`org_mapping` maps external values but `assertion_attribute_org` is empty.

    ## What it does
    Reports `org_mapping` entries with an external value other than `*` while
    `assertion_attribute_org` is not set.

    ## Why is this bad?
    Grafana compares the external values with the values of the `assertion_attribute_org` attribute.
    Without it users have no org values: only `*` entries ever apply, and everybody else lands in
    the default org.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = Engineering:2:Editor
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_org = Org
    org_mapping = Engineering:2:Editor
    ```
    """
    if ctx.value("assertion_attribute_org").strip():
        return
    found = _mapping(ctx)
    if found is None:
        return
    setting, mapping = found
    externals = list(dict.fromkeys(e.external for e in mapping.entries if not e.all_users))
    if externals:
        shown = ", ".join(f"`{_short(x, 40)}`" for x in externals[:5])
        yield ctx.at(
            setting,
            f"`org_mapping` maps external values ({shown}) but `assertion_attribute_org` is empty: users "
            "have no org values, so only `*` entries can apply",
            "set `assertion_attribute_org` to the assertion attribute that carries these values "
            "(it may be the groups attribute)",
        )


_ITEM = re.compile(r'"[^"]+"|[^,\t\n\v\f\r ]+')  # util.SplitString's item pattern


def _space_joined(value: str, is_mapping: bool) -> list[str] | None:
    """The items as probably meant when spaces split them, or ``None`` if nothing looks split."""
    spans = [(m.start(), m.end()) for m in _ITEM.finditer(value)]
    gaps = [value[a[1] : b[0]] for a, b in itertools.pairwise(spans)]
    uses_commas = any("," in g for g in gaps)
    groups: list[list[int]] = [[0]] if spans else []
    changed = False
    for i, gap in enumerate(gaps):
        only_spaces = gap.strip(" \t") == "" and "\n" not in gap
        if is_mapping:
            fragment = value[spans[i][0] : spans[i][1]]
            # A fragment without any `:` followed by an item: "Team One:2:Editor" split on its space.
            joined = only_spaces and ":" not in fragment.replace("\\:", "")
        else:
            joined = only_spaces and uses_commas
        if joined:
            groups[-1].append(i + 1)
            changed = True
        else:
            groups.append([i + 1])
    if not changed:
        return None
    return [value[spans[g[0]][0] : spans[g[-1]][1]].strip('"') for g in groups]


@rule("ORG-005", "list-split-on-space", Severity.WARNING)
def split_on_space(ctx: LintContext) -> Iterator[Finding]:
    """A plain (non-JSON) `org_mapping` or `allowed_organizations` item that contains a space.

    ## What it does
    Finds values that Grafana's list splitting breaks at a space: in `org_mapping`, a word without
    `:` followed by an entry (`Team One:2:Editor` becomes `Team` and `One:2:Editor`); in
    `allowed_organizations`, a space-separated pair in a comma-separated list (`Org One, Org Two`).

    ## Why is this bad?
    Outside JSON, spaces separate items just like commas. `Team` is skipped as invalid and
    `One:2:Editor` maps a value nobody has; the allowed organization `Org One` becomes `Org` and `One`.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = Team One:2:Editor, Ops:3:Viewer
    ```

    ## Use instead
    ```ini
    [auth.saml]
    org_mapping = ["Team One:2:Editor", "Ops:3:Viewer"]
    ```
    """
    for key in ("org_mapping", "allowed_organizations"):
        setting = ctx.setting(key)
        if setting is None or split_string(setting.value).form != "plain":
            continue
        meant = _space_joined(setting.value, key == "org_mapping")
        if meant is None:
            continue
        split = ", ".join(f"`{_short(item, 40)}`" for item in meant if " " in item)
        got = _short(json.dumps(list(split_string(setting.value).items)), 100)
        yield ctx.at(
            setting,
            f"`{key}` is not a JSON list, so Grafana splits {split} at the space: it reads {got}",
            f"use a JSON list: {key} = {_short(json.dumps(meant), 200)}",
            at_value=True,
        )


@rule("ORG-006", "json-org-mapping-bad-escape", Severity.ERROR)
def json_bad_escape(ctx: LintContext) -> Iterator[Finding]:
    """A JSON `org_mapping` with `\\:` (one backslash), which makes the whole list invalid JSON.

    ## What it does
    Reports a JSON-form `org_mapping` that escapes a colon with a single backslash.

    ## Why is this bad?
    `\\:` is not a JSON escape. Grafana then fails to read the JSON and uses an empty list, silently:
    no entry applies, not even the correct ones. The docs' own example has this mistake.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = ["External\\:Admin:ACME Corp:Admin"]
    ```

    ## Use instead
    ```ini
    [auth.saml]
    org_mapping = ["External\\\\:Admin:ACME Corp:Admin"]
    ```
    """
    found = _mapping(ctx)
    if found is None:
        return
    setting, _ = found
    if not has_bad_json_escape(setting.value):
        return
    fixed = fix_json_escapes(setting.value)
    still_broken = split_string(fixed).error is not None
    yield ctx.at(
        setting,
        "`org_mapping` is a JSON list containing `\\:`, which is not a JSON escape: Grafana cannot read the "
        "JSON and uses no org mapping at all",
        f"write the escape as `\\\\:` inside JSON: org_mapping = {_short(fixed, 200)}"
        + (" (the list has other JSON errors too)" if still_broken else ""),
        at_value=True,
    )


@rule("ORG-007", "org-mapping-org-id-not-positive", Severity.WARNING)
def org_id_not_positive(ctx: LintContext) -> Iterator[Finding]:
    """An `org_mapping` entry with org id `0` or a negative number.

    ## What it does
    Reports org ids below 1. `-1` is special: it is Grafana's internal code for `*`.

    ## Why is this bad?
    Org ids start at 1. An entry for org `0` or `-5` never finds its org, so Grafana skips it when
    the user logs in. An entry for `-1` maps the user in every org, which is rarely what was meant.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = admins:0:Admin
    ```

    ## Use instead
    ```ini
    [auth.saml]
    org_mapping = admins:1:Admin
    ```
    """
    found = _mapping(ctx)
    if found is None:
        return
    setting, mapping = found
    for entry in mapping.entries:
        if entry.org.kind != "id" or entry.org.id is None or entry.org.id > 0:
            continue
        where = _entry(entry.position, entry.text)
        if entry.org.id == ALL_ORGS:
            message = f"{where}: org id -1 is Grafana's internal code for `*`, so it maps to every org"
            hint = "write `*` if every org is meant, or the real org id"
        else:
            message = f"{where}: no org has id {entry.org.id} (ids start at 1), so Grafana skips the entry"
            hint = "use the org id from Administration > Organizations"
        yield ctx.at(setting, message, hint, at_value=True)


@rule("ORG-008", "allowed-orgs-without-org-attribute", Severity.WARNING)
def allowed_without_attribute(ctx: LintContext) -> Iterator[Finding]:
    """`allowed_organizations` is set but `assertion_attribute_org` is empty.

    ## What it does
    Reports `allowed_organizations` with values while `assertion_attribute_org` is not set.

    ## Why is this bad?
    A user must carry one of the allowed organizations in the `assertion_attribute_org` attribute to
    log in. Without that attribute nobody has any organization values, so most likely nobody can log
    in.

    ## Example
    ```ini
    [auth.saml]
    allowed_organizations = Engineering, Sales
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_org = Org
    allowed_organizations = Engineering, Sales
    ```
    """
    setting = ctx.setting("allowed_organizations")
    if setting is None or ctx.value("assertion_attribute_org").strip():
        return
    items = split_string(setting.value).items
    if any(items):
        yield ctx.at(
            setting,
            f"`allowed_organizations` ({', '.join(f'`{_short(i, 40)}`' for i in items[:5])}) is set but "
            "`assertion_attribute_org` is empty: users have no organization values, so they cannot pass",
            "set `assertion_attribute_org` to the assertion attribute carrying these organizations",
        )


@rule("ORG-009", "org-mapping-entry-overridden", Severity.INFO)
def entry_overridden(ctx: LintContext) -> Iterator[Finding]:
    """An `org_mapping` entry overridden by a later entry for the same value and org, or by a `*` entry.

    ## What it does
    Reports an entry replaced by a later entry for the same external value and org with another role
    (the later entry wins, not the higher role), and a specific entry whose role is not above the role
    a `*` entry gives in the same org (the specific entry then changes nothing).

    ## Why is this bad?
    Grafana keeps one role per external value and org, the last one written; a reader usually expects
    the higher role. A user who matches both a `*` entry and a specific entry gets the higher of the two,
    so a lower specific role has no effect.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = admins:1:Admin, admins:1:Viewer
    ```

    ## Use instead
    ```ini
    [auth.saml]
    org_mapping = admins:1:Admin
    ```
    """
    found = _mapping(ctx)
    if found is None:
        return
    setting, mapping = found
    resolved = resolve_mapping(mapping.entries)
    for earlier, later in resolved.replaced:
        if earlier.role != later.role:
            yield ctx.at(
                setting,
                f"{_entry(later.position, later.text)} replaces entry {earlier.position} "
                f"`{_short(earlier.text)}`: for the same value and org the later entry wins, so the role is "
                f"{later.role}, not {earlier.role}",
                "keep one entry per external value and org, with the role you mean",
                at_value=True,
            )
    everyone = resolved.winners.get("*", {})
    for external, per_org in resolved.winners.items():
        if external == "*":
            continue
        for org, entry in per_org.items():
            base = everyone.get(org)
            if base is not None and ROLE_RANK[base.role] >= ROLE_RANK[entry.role]:
                yield ctx.at(
                    setting,
                    f"{_entry(entry.position, entry.text)} gives {entry.role} in org {entry.org}, but "
                    f"entry {base.position} `{_short(base.text)}` already gives every user {base.role} "
                    "there: users get the higher role, so this entry changes nothing",
                    "remove the entry, or give it a role above the `*` entry's",
                    at_value=True,
                )


@rule("ORG-010", "org-mapping-too-large", Severity.WARNING)
def too_large(ctx: LintContext) -> Iterator[Finding]:
    """An `org_mapping` too large for the MySQL column that stores it before Grafana 12.3.

    ## What it does
    Measures `org_mapping` as Grafana stores it in the database (JSON) and reports it above 65,535
    bytes, unless `--grafana-version` is 12.3 or later.

    ## Why is this bad?
    The SSO settings are stored as JSON; on MySQL before 12.3 the column is TEXT, limited to 65,535
    bytes (an older revision of the docs said 34,783 characters). Saving a larger mapping through the
    UI or API fails.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = team-0001:1:Viewer, team-0002:2:Viewer, ... (thousands of entries)
    ```

    ## Use instead
    Upgrade to Grafana 12.3 (MEDIUMTEXT), use `*` entries, or map fewer external values.
    """
    setting = ctx.setting("org_mapping")
    if setting is None or ctx.version_at_least(LARGE_COLUMN_SINCE):
        return
    size = len(json.dumps(setting.value, ensure_ascii=False).encode("utf-8"))
    if size > MYSQL_TEXT_BYTES:
        yield ctx.at(
            setting,
            f"`org_mapping` takes {size:,} bytes as JSON; before Grafana {LARGE_COLUMN_SINCE} MySQL stores "
            f"it in a TEXT column limited to {MYSQL_TEXT_BYTES:,} bytes (an older docs revision said "
            f"{OLDER_DOC_CHARS:,} characters), so saving it fails",
            f"upgrade to Grafana {LARGE_COLUMN_SINCE}+, or shorten the mapping (e.g. with `*` entries)",
        )


_REGEX_META = re.compile(r"[.+*?()\[\]{}|^$\\]")


def _quote_meta(text: str) -> str:
    """Go ``regexp.QuoteMeta``; a `:` is escaped again for org_mapping."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text).replace(":", "\\:")


def _anchored(external: str) -> bool:
    return external.startswith("^") and external.endswith("$") and not external.endswith("\\$")


def _regex_problem(entry: MappingEntry) -> str | None:
    """What is risky about the external part, and what it would also match; ``None`` if nothing."""
    if entry.all_users or _anchored(entry.external):
        return None
    chars = "".join(dict.fromkeys(_REGEX_META.findall(entry.external)))
    if chars:
        return (
            f"contains regular-expression characters (`{chars}`) and is not anchored, so it can match "
            "other values and any value containing a match"
        )
    return f"is not anchored, so it also matches any value containing it (`{entry.external}-old`)"


@rule("ORG-011", "org-mapping-external-matches-as-regex", Severity.WARNING)
def external_regex(ctx: LintContext) -> Iterator[Finding]:
    """An `org_mapping` external value that matches more than meant when Grafana reads it as a regex.

    ## What it does
    For Grafana versions that match external values as regular expressions (assumed from 13.0,
    unconfirmed), and when the version is not declared, reports external parts other than `*` that are
    not anchored as `^…$` or that contain regular-expression characters (`.`, `+`, `(`, …). It is an
    error when the entry gives `Admin`; with no `--grafana-version` it is a note.

    ## Why is this bad?
    A regular expression matches anywhere in the value: `admin:1:Admin` also makes `sysadmin` and
    `non-admin-users` org admins, and `team.ops` matches `team-ops`.

    ## Example
    ```ini
    [auth.saml]
    org_mapping = admin:1:Admin
    ```

    ## Use instead
    ```ini
    [auth.saml]
    ; only on versions that match as regular expressions: older versions compare exactly
    org_mapping = ^admin$:1:Admin
    ```
    """
    found = _mapping(ctx)
    if found is None:
        return
    setting, mapping = found
    regex_version = ctx.version_at_least(REGEX_MATCHING_SINCE)
    if regex_version is False:
        return
    for entry in mapping.entries:
        problem = _regex_problem(entry)
        if problem is None:
            continue
        if regex_version is None:
            severity = Severity.INFO
            when = f"if your Grafana reads org_mapping as regexes (assumed {REGEX_MATCHING_SINCE}+)"
        else:
            severity = Severity.ERROR if entry.role == "Admin" else Severity.WARNING
            when = f"on Grafana {ctx.grafana_version}, which reads org_mapping as regular expressions"
        anchored = "^" + _quote_meta(entry.external) + "$"
        yield ctx.at(
            setting,
            f"{_entry(entry.position, entry.text)}: external value `{_short(entry.external, 40)}` {problem} "
            f"{when}; those users get {entry.role} in org {entry.org}",
            f"on Grafana {REGEX_MATCHING_SINCE}+ write `{_short(anchored, 60)}`; on older versions, which "
            "compare exactly, keep the plain value (anchors would never match there)",
            severity=severity,
            at_value=True,
        )
