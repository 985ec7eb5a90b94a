"""Role mapping rules: `role_values_*`, `skip_org_role_sync` and the role lock (saml-reference.md §2,
§10 ROLE-001…ROLE-012; ROLE-005 needs an assertion and lives with the assertion rules).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from gtool.saml.keys import LIST_KEYS, ROLE_LIST_KEYS, ROLE_OF_LIST, SAML_KEYS, USERS
from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.orgmapping import parse_org_mapping
from gtool.saml.values import ORG_ROLES, ROLE_RANK, parse_bool, split_string

GRAFANA_ADMIN_LIST = "role_values_grafana_admin"
ALL_ROLE_LISTS = (*ROLE_LIST_KEYS, GRAFANA_ADMIN_LIST)


def _items(ctx: LintContext, key: str) -> tuple[str, ...]:
    return split_string(ctx.value(key)).items


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listing(values: list[str] | tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(f"`{_short(v, 40)}`" for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


@rule("ROLE-001", "role-values-without-role-attribute", Severity.WARNING)
def role_values_without_attribute(ctx: LintContext) -> Iterator[Finding]:
    """`role_values_*` is set but `assertion_attribute_role` is empty, so no value can ever match.

    ## What it does
    Reports each `role_values_none/viewer/editor/admin/grafana_admin` key that has values while
    `assertion_attribute_role` is not set.

    ## Why is this bad?
    Grafana compares the role lists with the values of the assertion attribute that
    `assertion_attribute_role` names. Without it there is nothing to compare: every user gets
    `[users] auto_assign_org_role`, and the lists look active but do nothing.

    ## Example
    ```ini
    [auth.saml]
    role_values_admin = grafana-admins
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_role = Role
    role_values_admin = grafana-admins
    ```
    """
    if ctx.value("assertion_attribute_role").strip():
        return
    for key in ALL_ROLE_LISTS:
        setting = ctx.setting(key)
        if setting is not None and _items(ctx, key):
            yield ctx.at(
                setting,
                f"`{key}` is set ({_listing(_items(ctx, key))}) but `assertion_attribute_role` is empty: "
                "Grafana reads no role values from the assertion, so these never match",
                "set `assertion_attribute_role` to the assertion attribute carrying these values "
                "(it may be the same attribute as `assertion_attribute_groups`), or remove the line",
            )


@rule("ROLE-002", "value-in-several-role-lists", Severity.WARNING)
def value_in_several_lists(ctx: LintContext) -> Iterator[Finding]:
    """The same value is listed for two or more roles (`role_values_editor` and `role_values_admin`).

    ## What it does
    Finds values that appear in more than one of `role_values_none`, `role_values_viewer`,
    `role_values_editor` and `role_values_admin`, and says which role would win if the highest role
    wins.

    ## Why is this bad?
    Grafana does not document which list wins when a user's value is in several. gtool assumes the
    highest role wins, as everywhere else Grafana merges roles, but that is an assumption: the same
    user may get a different role after an upgrade, and a reader cannot tell what was meant.

    ## Example
    ```ini
    [auth.saml]
    role_values_editor = devs, leads
    role_values_admin = leads
    ```

    ## Use instead
    ```ini
    [auth.saml]
    role_values_editor = devs
    role_values_admin = leads
    ```
    """
    where: dict[str, list[str]] = {}
    for key in ROLE_LIST_KEYS:
        for value in dict.fromkeys(_items(ctx, key)):
            where.setdefault(value, []).append(key)
    for value, keys in where.items():
        if len(keys) < 2:
            continue
        top = max(keys, key=lambda k: ROLE_RANK[ROLE_OF_LIST[k]])
        setting = ctx.setting(top)
        yield ctx.at(
            setting,
            f"`{_short(value)}` is in {' and '.join(f'`{k}`' for k in keys)}: Grafana does not document "
            "which wins; assuming the highest role wins (gtool's assumption), users with it get "
            f"{ROLE_OF_LIST[top]}",
            f"keep `{_short(value)}` in the one list for the role you mean",
            at_value=True,
        )


@rule("ROLE-003", "grafana-admin-not-org-admin", Severity.INFO)
def grafana_admin_not_org_admin(ctx: LintContext) -> Iterator[Finding]:
    """A `role_values_grafana_admin` value that is not also in `role_values_admin`.

    ## What it does
    Lists the Grafana Admin values that give no org `Admin` role.

    ## Why is this bad?
    Grafana Admin (server admin) is a separate flag from the org role. Whether a Grafana Admin match
    also makes the user org `Admin` is not documented for SAML; if it does not, your server admins
    get the org role from the other lists, possibly `Viewer`.

    ## Example
    ```ini
    [auth.saml]
    role_values_grafana_admin = platform-team
    role_values_admin = org-admins
    ```

    ## Use instead
    ```ini
    [auth.saml]
    role_values_grafana_admin = platform-team
    role_values_admin = org-admins, platform-team
    ```
    """
    setting = ctx.setting(GRAFANA_ADMIN_LIST)
    if setting is None:
        return
    admins = set(_items(ctx, "role_values_admin"))
    missing = [v for v in dict.fromkeys(_items(ctx, GRAFANA_ADMIN_LIST)) if v not in admins]
    if missing:
        yield ctx.at(
            setting,
            f"{_listing(missing)} in `role_values_grafana_admin` {'is' if len(missing) == 1 else 'are'} "
            "not in `role_values_admin`: these users become Grafana Admin, but their org role comes from the "
            "other lists (whether Grafana Admin implies org Admin for SAML is not documented)",
            "also list these values in `role_values_admin` if server admins should be org admins",
        )


# A value naming a Grafana role: compared case-insensitively, ignoring spaces, `_` and `-`.
_ROLE_NAMES = {"none": "None", "viewer": "Viewer", "editor": "Editor", "admin": "Admin"}
_GRAFANA_ADMIN_NAMES = {"grafanaadmin", "serveradmin", "superadmin"}
_NAME_NOISE = re.compile(r"[\s_-]+")


def _role_name_problem(key: str, value: str) -> tuple[str, str] | None:
    """(what is wrong, hint) when ``value`` in list ``key`` names a Grafana role it does not give."""
    norm = _NAME_NOISE.sub("", value).lower()
    own = ROLE_OF_LIST.get(key)
    if norm in _GRAFANA_ADMIN_NAMES and key != GRAFANA_ADMIN_LIST:
        return (
            f"names the Grafana Admin role, but `{key}` gives {own}",
            f"move `{value}` to `role_values_grafana_admin` if it should make users Grafana Admin",
        )
    named = _ROLE_NAMES.get(norm)
    if named is None:
        return None
    if key == GRAFANA_ADMIN_LIST:
        if named == "Admin":
            return None  # an IdP role "Admin" granting server admin is a plausible choice
        return (
            f"names the {named} role, but `{key}` makes users Grafana Admin",
            f"move `{value}` to `role_values_{named.lower()}`",
        )
    if named != own:
        return (
            f"names the {named} role, but `{key}` gives {own}",
            f"move `{value}` to `role_values_{named.lower()}`, or check which IdP value means {own}",
        )
    if value != named:
        return (
            f"is a case variant of the role name `{named}`; values match case-sensitively",
            f"write the value exactly as the IdP sends it (`{named}`?); if the IdP really sends "
            f"`{value}`, suppress this with `; gtool: ignore[ROLE-004]`",
        )
    return None


@rule("ROLE-004", "role-name-in-wrong-list", Severity.WARNING)
def role_name_in_wrong_list(ctx: LintContext) -> Iterator[Finding]:
    """A role list holding another role's name (`role_values_editor = Admin`) or a case variant (`admin`).

    ## What it does
    Checks every value of the `role_values_*` lists that spells a Grafana role name (`None`, `Viewer`,
    `Editor`, `Admin`, `GrafanaAdmin`), ignoring case, spaces, `_` and `-`.

    ## Why is this bad?
    The lists hold values your IdP sends, not Grafana roles. `role_values_editor = Admin` makes users
    whose IdP value is `Admin` Editors, which is rarely meant; `admin` does not match an IdP value
    `Admin`, because values compare case-sensitively.

    ## Example
    ```ini
    [auth.saml]
    role_values_editor = Admin
    role_values_admin = admin
    ```

    ## Use instead
    ```ini
    [auth.saml]
    role_values_editor = Editor
    role_values_admin = Admin
    ```
    """
    for key in ALL_ROLE_LISTS:
        setting = ctx.setting(key)
        if setting is None:
            continue
        for value in dict.fromkeys(_items(ctx, key)):
            problem = _role_name_problem(key, value)
            if problem is not None:
                what, hint = problem
                yield ctx.at(setting, f"`{key}` value `{_short(value)}` {what}", hint, at_value=True)


_ROLE_MAPPING_KEYS = (*ROLE_LIST_KEYS, "org_mapping")


@rule("ROLE-006", "skip-sync-with-mappings", Severity.ERROR)
def skip_sync_with_mappings(ctx: LintContext) -> Iterator[Finding]:
    """`skip_org_role_sync = true` together with `role_values_*` or `org_mapping`, which it switches off.

    ## What it does
    Reports `skip_org_role_sync = true` when any of `role_values_none/viewer/editor/admin` or
    `org_mapping` is set.

    ## Why is this bad?
    With `skip_org_role_sync = true` Grafana does not sync org memberships and roles from SAML at all:
    the role lists and the org mapping are ignored, and roles stay whatever was set in Grafana.

    ## Example
    ```ini
    [auth.saml]
    skip_org_role_sync = true
    assertion_attribute_role = Role
    role_values_admin = admins
    ```

    ## Use instead
    ```ini
    [auth.saml]
    skip_org_role_sync = false
    assertion_attribute_role = Role
    role_values_admin = admins
    ```
    """
    if not ctx.bool("skip_org_role_sync"):
        return
    keys = [k for k in _ROLE_MAPPING_KEYS if ctx.is_set(k)]
    if keys:
        yield ctx.at(
            ctx.setting("skip_org_role_sync"),
            f"`skip_org_role_sync` is true, so Grafana ignores {', '.join(f'`{k}`' for k in keys)}: "
            "org roles and memberships are not synced from SAML",
            "set `skip_org_role_sync = false` to take roles from the IdP, or remove "
            f"{', '.join(f'`{k}`' for k in keys)} if roles are managed in Grafana",
        )


@rule("ROLE-007", "skip-sync-with-grafana-admin", Severity.WARNING)
def skip_sync_with_grafana_admin(ctx: LintContext) -> Iterator[Finding]:
    """`skip_org_role_sync = true` with `role_values_grafana_admin`: Grafana Admin is not synced either.

    ## What it does
    Reports `role_values_grafana_admin` when `skip_org_role_sync` is true.

    ## Why is this bad?
    Grafana treats the Grafana Admin flag as synced only while org roles are synced, so skipping org
    role sync also stops Grafana Admin from being granted or removed from SAML (OAuth's validator
    says it plainly: "Grafana Admin role will not be synced").

    ## Example
    ```ini
    [auth.saml]
    skip_org_role_sync = true
    role_values_grafana_admin = platform-team
    ```

    ## Use instead
    ```ini
    [auth.saml]
    skip_org_role_sync = false
    role_values_grafana_admin = platform-team
    ```
    """
    setting = ctx.setting(GRAFANA_ADMIN_LIST)
    if ctx.bool("skip_org_role_sync") and setting is not None and _items(ctx, GRAFANA_ADMIN_LIST):
        yield ctx.at(
            setting,
            "`role_values_grafana_admin` is set but `skip_org_role_sync` is true: "
            "Grafana Admin is not synced from SAML",
            "set `skip_org_role_sync = false`, or grant Grafana Admin by hand and remove this line",
        )


def _default_org(ctx: LintContext) -> tuple[int, str]:
    """``DefaultOrgID()``, and the role ``auto_assign_org_role`` yields (``In`` falls back to Viewer)."""
    auto_org = parse_bool(ctx.value("auto_assign_org", USERS))
    raw_id = ctx.value("auto_assign_org_id", USERS).strip()
    org_id = int(raw_id) if re.fullmatch(r"[+-]?[0-9]{1,18}", raw_id) else 1
    default_org = org_id if auto_org is not False and org_id > 0 else 1
    role = ctx.value("auto_assign_org_role", USERS)
    return default_org, role if role in ORG_ROLES else "Viewer"


@rule("ROLE-008", "roles-locked-without-mapping", Severity.WARNING)
def roles_locked_without_mapping(ctx: LintContext) -> Iterator[Finding]:
    """SAML locks org roles in the UI although neither `assertion_attribute_role` nor `org_mapping` is set.

    ## What it does
    Reports enabled SAML with `skip_org_role_sync = false` and neither `assertion_attribute_role`
    nor `org_mapping` set.

    ## Why is this bad?
    Grafana locks the org role of every user whose last login was SAML as soon as SAML is enabled and
    `skip_org_role_sync` is false, whatever else is configured: changing it in the UI or API fails
    with `cannot change role for externally synced user`. With nothing to map from, every SAML user
    gets the default org and `[users] auto_assign_org_role` at each login, and nobody can promote them.

    ## Example
    ```ini
    [auth.saml]
    enabled = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    ; roles come from the IdP...
    assertion_attribute_role = Role
    role_values_admin = admins
    ; ...or are managed in Grafana:
    ; skip_org_role_sync = true
    ```
    """
    if not ctx.enabled or ctx.bool("skip_org_role_sync"):
        return
    if ctx.value("assertion_attribute_role").strip() or ctx.is_set("org_mapping"):
        return
    org_id, role = _default_org(ctx)
    yield ctx.at(
        ctx.setting("enabled"),
        "SAML is enabled with `skip_org_role_sync = false` but neither `assertion_attribute_role` nor "
        f"`org_mapping` is set: every SAML user gets org {org_id} as {role} (`auto_assign_org_role`) at each "
        "login, and role changes in Grafana fail with `cannot change role for externally synced user`",
        "map roles from the IdP (`assertion_attribute_role` + `role_values_*`, or `org_mapping`), "
        "or set `skip_org_role_sync = true` to manage roles in Grafana",
    )


@rule("ROLE-009", "key-newer-than-version", Severity.INFO)
def key_newer_than_version(ctx: LintContext) -> Iterator[Finding]:
    """A key the declared Grafana version does not read yet (`role_values_viewer` before 11.1, ...).

    ## What it does
    With `--grafana-version`, reports keys introduced later: `role_values_none` (10.2),
    `role_values_viewer` (about 11.1), the Entra ID Graph API keys (11.2), `entity_id` and
    `assertion_attribute_external_uid` (11.5). Without a version it reports nothing.

    ## Why is this bad?
    An older Grafana ignores keys it does not know, silently: users meant to be Viewers or None get
    `auto_assign_org_role` instead, and the SP entity ID stays the default.

    ## Example
    ```ini
    ; linted with --grafana-version 10.4
    [auth.saml]
    role_values_viewer = readers
    ```

    ## Use instead
    Upgrade Grafana, or leave such users to `[users] auto_assign_org_role = Viewer`.
    """
    for key, spec in SAML_KEYS.items():
        if spec.since is None or not ctx.is_set(key):
            continue
        if ctx.version_at_least(spec.since) is False:
            yield ctx.at(
                ctx.setting(key),
                f"`{key}` needs Grafana {spec.since} or later; Grafana {ctx.grafana_version} ignores it",
                f"upgrade to Grafana {spec.since}+, or remove `{key}`",
            )


@rule("ROLE-010", "list-has-no-values", Severity.WARNING)
def list_has_no_values(ctx: LintContext) -> Iterator[Finding]:
    """A list key with a value from which Grafana reads no values at all.

    ## What it does
    Reports `role_values_*`, `allowed_organizations` and `org_mapping` when the value is not empty but
    Grafana's list splitting yields nothing: separators only (`,`, spaces), empty quotes, or a value
    starting with `[` that is not a JSON list of strings. An explicit `[]` is not reported.

    ## Why is this bad?
    Grafana drops such a value silently: the key behaves as if it were not set, so nobody matches the
    role list, or the org mapping and the `allowed_organizations` gate vanish.

    ## Example
    ```ini
    [auth.saml]
    role_values_admin = ["admins",]
    ```

    ## Use instead
    ```ini
    [auth.saml]
    role_values_admin = ["admins"]
    ```
    """
    for key in LIST_KEYS:
        setting = ctx.setting(key)
        if setting is None or not setting.value.strip():
            continue
        split = split_string(setting.value)
        if split.form == "json" and (split.error is not None or not split.items):
            continue  # `[]` is empty on purpose; broken JSON is TYPE-006's (or ORG-006's) finding
        if any(item for item in split.items):
            continue
        why = (
            "it starts with `[`, so Grafana reads it as JSON, and it is not a JSON list of strings "
            "(see TYPE-006)"
            if split.form == "json"
            else "it holds only separators or empty quotes"
        )
        yield ctx.at(
            setting,
            f"`{key}` = {_short(setting.value)!r} gives no values at all: {why}; Grafana treats the key "
            "as unset",
            f"list the values separated by commas (`{key} = a, b`) or as a JSON list "
            f'(`{key} = ["a b", "c"]`)',
            at_value=True,
        )


@rule("ROLE-011", "grafana-admin-sync-on", Severity.INFO)
def grafana_admin_sync_on(ctx: LintContext) -> Iterator[Finding]:
    """`role_values_grafana_admin` is set, which makes SAML manage the Grafana Admin flag.

    ## What it does
    Notes that setting `role_values_grafana_admin` (with org role sync on) turns on Grafana Admin sync.

    ## Why is this bad?
    From then on the Grafana Admin flag of SAML users follows the IdP at every login: existing server
    admins whose values are not in the list are demoted, the flag can no longer be changed in the UI,
    and only a Grafana Admin may change this key through the SSO settings API.

    ## Example
    ```ini
    [auth.saml]
    role_values_grafana_admin = platform-team
    ```

    ## Use instead
    Make sure every current server admin who logs in with SAML carries one of the listed values, or
    leave the key unset to manage Grafana Admin by hand.
    """
    setting = ctx.setting(GRAFANA_ADMIN_LIST)
    if setting is None or not _items(ctx, GRAFANA_ADMIN_LIST) or ctx.bool("skip_org_role_sync"):
        return
    yield ctx.at(
        setting,
        f"`role_values_grafana_admin` ({_listing(_items(ctx, GRAFANA_ADMIN_LIST))}) makes SAML manage "
        "Grafana Admin: SAML users without a listed value lose server admin at their next login, and the "
        "flag is locked in the UI",
        "check that every current server admin who logs in with SAML carries one of these values",
    )


_ENTRA_HOSTS = ("login.microsoftonline.com", "sts.windows.net")
_ENTRA_ENTITY = re.compile(rb"""entityID\s*=\s*["']https://sts\.windows\.net/""")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The Entra app-role claim carries app role *values* (strings), not object IDs.
_ROLE_CLAIM = re.compile(r"(^|/)roles?$", re.IGNORECASE)


def _entra_source(ctx: LintContext) -> str | None:
    """Which setting shows the IdP is Entra ID, read without parsing XML; ``None`` if none does."""
    url = ctx.value("idp_metadata_url").lower()
    for host in _ENTRA_HOSTS:
        if host in url:
            return f"`idp_metadata_url` points at {host}"
    path = ctx.value("idp_metadata_path").strip()
    if path:
        try:
            if _ENTRA_ENTITY.search(ctx.read_bytes(path)):
                return "the metadata in `idp_metadata_path` has an sts.windows.net entityID"
        except OSError:
            pass  # CERT-006 reports unreadable files
    inline = ctx.value("idp_metadata").strip()
    if inline:
        try:
            data = base64.b64decode(inline)
        except (binascii.Error, ValueError):
            return None  # another rule reports bad base64
        if _ENTRA_ENTITY.search(data):
            return "the metadata in `idp_metadata` has an sts.windows.net entityID"
    return None


def _id_checked_keys(ctx: LintContext) -> list[str]:
    keys: list[str] = []
    role_attr = ctx.value("assertion_attribute_role").strip()
    if role_attr and not _ROLE_CLAIM.search(role_attr):
        keys.extend(ALL_ROLE_LISTS)
    org_attr = ctx.value("assertion_attribute_org").strip()
    if org_attr and not _ROLE_CLAIM.search(org_attr):
        keys.extend(("org_mapping", "allowed_organizations"))
    return keys


def _values_of(ctx: LintContext, key: str) -> tuple[str, ...]:
    if key == "org_mapping":
        return tuple(e.external for e in parse_org_mapping(ctx.value(key)).entries if not e.all_users)
    return _items(ctx, key)


@rule("ROLE-012", "entra-values-not-object-ids", Severity.WARNING)
def entra_values_not_object_ids(ctx: LintContext) -> Iterator[Finding]:
    """The IdP is Microsoft Entra ID, but role or org values are names instead of object IDs.

    ## What it does
    Recognises Entra ID from `idp_metadata_url` (`login.microsoftonline.com`, `sts.windows.net`) or
    from an `entityID="https://sts.windows.net/…"` in the metadata file or inline metadata, then
    reports values in the `role_values_*` lists, `org_mapping` and `allowed_organizations` that are not
    GUIDs. Lists read from Entra's app-role claim (`…/claims/role`) are skipped: app roles carry
    their own string values.

    ## Why is this bad?
    Entra ID sends a user's groups as object IDs such as `8f3c2a50-…` unless the app is configured to
    emit names, so a group name never matches and users fall back to `auto_assign_org_role`.

    ## Example
    ```ini
    [auth.saml]
    idp_metadata_url = https://login.microsoftonline.com/<tenant>/federationmetadata/2007-06/federationmetadata.xml
    assertion_attribute_role = http://schemas.microsoft.com/ws/2008/06/identity/claims/groups
    role_values_admin = Grafana Admins
    ```

    ## Use instead
    ```ini
    [auth.saml]
    idp_metadata_url = https://login.microsoftonline.com/<tenant>/federationmetadata/2007-06/federationmetadata.xml
    assertion_attribute_role = http://schemas.microsoft.com/ws/2008/06/identity/claims/groups
    role_values_admin = 8f3c2a50-1b7e-4c1d-9a8e-2f4b6c7d8e9f
    ```
    """
    keys = _id_checked_keys(ctx)
    if not keys:
        return
    source = _entra_source(ctx)
    if source is None:
        return
    for key in keys:
        setting = ctx.setting(key)
        if setting is None:
            continue
        names = [v for v in dict.fromkeys(_values_of(ctx, key)) if not _GUID.fullmatch(v.strip())]
        if names:
            yield ctx.at(
                setting,
                f"the IdP is Entra ID ({source}) and `{key}` holds values that are not object IDs: "
                f"{_listing(names)}; Entra sends group object IDs (GUIDs) unless told to emit names",
                "use the groups' object IDs from Entra ID (Groups > Overview > Object ID), or configure the "
                "group claim to emit names (sAMAccountName or cloud group names) in the Entra app",
                at_value=True,
            )
