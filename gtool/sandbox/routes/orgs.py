"""Orgs, org users and invites: ``/api/org…`` (the request's org) and ``/api/orgs…`` (contract §4, §5).

Middleware order as Grafana's: sign-in (401), the org-user UID resolver on ``/api/orgs/:orgId/users/:userId``
(404 ``User not found``), RBAC — in the request's org for ``/api/org``, in the path org for
``/api/orgs/:orgId`` (``authorizeInOrg(UseOrgFromContextParams)``), in the global org for ``/api/orgs`` — and
then the handler: bind the body, parse the ids, check the role, write.
"""

from __future__ import annotations

from typing import Any

from gtool.sandbox import dtos, errors, listings, orgdata
from gtool.sandbox.auth import (
    GLOBAL_ACTIONS,
    ORG_ROLE_ACTIONS,
    AuthSettings,
    Identity,
    auth_label,
    require,
    require_global,
    role_includes,
)
from gtool.sandbox.gojson import GoMap, Raw, go_time
from gtool.sandbox.routes.users import parse_sort, resolve_user_id
from gtool.sandbox.store import Org, OrgNameTaken, OrgNotFound, OrgUserAlreadyAdded, UserNotFound
from gtool.sandbox.web import Ctx, Field, api, go_atoi, success

# notifications.ErrSmtpNotEnabled: the sandbox never has a mail server unless [smtp] enabled says so.
SMTP_NOT_ENABLED = "SMTP not configured, check your grafana.ini config file's [smtp] section"

# GET /api/org/users/lookup in OSS: any of these (ac.EvalAny).
LOOKUP_ACTIONS = (
    "org.users:read",
    "teams.permissions:write",
    "folders.permissions:write",
    "dashboards.permissions:write",
)


# -- DTOs ------------------------------------------------------------------------------------------------


def org_details(org: Org) -> dict[str, Any]:
    """``OrgDetailsDTO``."""
    address = {
        "address1": org.address1,
        "address2": org.address2,
        "city": org.city,
        "zipCode": org.zip_code,
        "state": org.state,
        "country": org.country,
    }
    return {"id": org.id, "name": org.name, "address": address}


def org_user_dto(
    user: orgdata.OrgUser,
    module: str | None,
    settings: AuthSettings,
    now: int,
    access: dict[str, bool] | None,
) -> dict[str, Any]:
    """``OrgUserDTO`` (newest field order, §4.2/E3); ``authLabels`` stays null without an auth module.

    The listings send :func:`gtool.sandbox.listings.org_users`' encoding of it, byte for byte the same.
    """
    body: dict[str, Any] = {
        "orgId": user.org_id,
        "userId": user.user_id,
        "uid": user.uid,
        "email": user.email,
        "name": user.name,
        "avatarUrl": dtos.avatar_url(user.email),
        "login": user.login,
        "role": user.role,
        "lastSeenAt": go_time(user.last_seen_at),
        "created": go_time(user.created),
        "lastSeenAtAge": dtos.age_string(user.last_seen_at, now),
    }
    if access:  # `json:"accessControl,omitempty"`
        body["accessControl"] = GoMap(access)
    body.update(
        isDisabled=user.is_disabled,
        authLabels=None if module is None else [auth_label(module)],
        isExternallySynced=module is not None and settings.is_externally_synced(module),
        isProvisioned=user.is_provisioned,
    )
    return body


def invite_dto(invite: orgdata.Invite, app_url: str) -> dict[str, Any]:
    """``TempUserDTO`` with ``url`` = ``<root_url>invite/<code>``."""
    return {
        "id": invite.id,
        "orgId": invite.org_id,
        "name": invite.name,
        "email": invite.email,
        "role": invite.role,
        "invitedByLogin": invite.invited_by_login,
        "invitedByEmail": invite.invited_by_email,
        "invitedByName": invite.invited_by_name,
        "code": invite.code,
        "status": invite.status,
        "url": app_url.rstrip("/") + "/invite/" + invite.code,
        "emailSent": invite.email_sent,
        "emailSentOn": go_time(invite.email_sent_on),
        "createdOn": go_time(invite.created),
    }


# -- permissions -----------------------------------------------------------------------------------------


def _role_in(ctx: Ctx, org_id: int) -> str | None:
    identity = ctx.identity
    if org_id == identity.org_id:
        return identity.org_role
    return ctx.store.org_role(org_id, identity.user.id)


def path_org(ctx: Ctx, action: str) -> int:
    """``authorizeInOrg(UseOrgFromContextParams, action)``: ``:orgId`` 0 or not a number is denied; the
    caller needs ``action`` through its role in that org (Grafana Admins hold it everywhere).
    """
    org_id = go_atoi(ctx.params.get("orgId", "")) or 0
    if org_id <= 0:
        raise errors.access_denied(action)
    if not ctx.identity.is_grafana_admin and action not in ORG_ROLE_ACTIONS.get(
        _role_in(ctx, org_id) or "None", ()
    ):
        raise errors.access_denied(action)
    return org_id


def _check_role_grant(identity: Identity, role: str) -> None:
    """``!callerOrgRole.Includes(role) && !isGrafanaAdmin`` → 403 (the caller's role in the request's org)."""
    if not role_includes(identity.org_role, role) and not identity.is_grafana_admin:
        raise errors.error(403, "Cannot assign a role higher than user's role")


def _access_metadata(ctx: Ctx) -> dict[str, bool] | None:
    """``?accesscontrol=true``: the caller's actions on users (``users:id:<id>`` scopes)."""
    if not ctx.query_bool("accesscontrol"):
        return None
    identity = ctx.identity
    actions = set(ORG_ROLE_ACTIONS.get(identity.org_role or "None", ()))
    if identity.is_grafana_admin:
        actions |= GLOBAL_ACTIONS | ORG_ROLE_ACTIONS["Admin"]
    return {a: True for a in sorted(actions) if a.startswith(("org.users", "users"))} or None


# -- orgs ------------------------------------------------------------------------------------------------


def get_current_org(ctx: Ctx) -> Any:
    """``GET /api/org``."""
    require(ctx.identity, "orgs:read")
    return _org_by_id(ctx, ctx.identity.org_id)


def _org_by_id(ctx: Ctx, org_id: int) -> Any:
    org = ctx.store.get_org(org_id)
    if org is None:
        raise errors.error_with_err(404, "Organization not found")
    return org_details(org)


def get_org_by_id(ctx: Ctx) -> Any:
    """``GET /api/orgs/:orgId``."""
    return _org_by_id(ctx, path_org(ctx, "orgs:read"))


def get_org_by_name(ctx: Ctx) -> Any:
    """``GET /api/orgs/name/:name``."""
    require_global(ctx.identity, "orgs:read")
    org = ctx.store.get_org_by_name(ctx.params["name"])
    if org is None:
        raise errors.error_with_err(404, "Organization not found")
    return org_details(org)


def search_orgs(ctx: Ctx) -> Any:
    """``GET /api/orgs``: 0-based ``page`` (offset = perpage × page), bare array of ``OrgDTO``."""
    require_global(ctx.identity, "orgs:read")
    per_page = ctx.query_int("perpage")
    if per_page <= 0:
        per_page = 1000
    orgs = orgdata.search_orgs(
        ctx.store,
        query=ctx.query("query"),
        name=ctx.query("name"),
        limit=per_page,
        page=ctx.query_int("page"),
    )
    return [{"id": o.id, "name": o.name} for o in orgs]


def create_org(ctx: Ctx) -> Any:
    """``POST /api/orgs``: the creator becomes the new org's Admin.

    RBAC grants ``orgs:create`` to Grafana Admins, and to every user when ``[users] allow_org_create`` is on.
    """
    identity = ctx.identity
    allowed = identity.is_grafana_admin or (
        identity.is_user and ctx.sandbox.ini_bool("users", "allow_org_create")
    )
    if not allowed:
        raise errors.access_denied("orgs:create")
    form = ctx.bind(Field("name", required=True))
    try:
        org = orgdata.create_org_with_member(
            ctx.store, form["name"], identity.user.id if identity.is_user else 0
        )
    except OrgNameTaken:
        raise errors.error_with_err(409, "Organization name taken") from None
    return GoMap(message="Organization created", orgId=org.id)


# -- org users: listing ----------------------------------------------------------------------------------


def _hidden(ctx: Ctx) -> frozenset[str]:
    """``[users] hidden_users``: logins hidden from others (not from Grafana Admins or themselves)."""
    if ctx.sandbox.config is None or ctx.identity.is_grafana_admin:
        return frozenset()
    raw: str = ctx.sandbox.config.value("users", "hidden_users") or ""
    names = {n.strip() for n in raw.split(",") if n.strip()}
    names.discard(ctx.identity.user.login)
    return frozenset(names)


def _org_user_page(
    ctx: Ctx, org_id: int, *, query: str = "", limit: int = 0, page: int = 1, sort: str = ""
) -> tuple[int, Raw]:
    """``searchOrgUsersHelper``: the store's page, hidden users filtered out (``totalCount`` unchanged);
    the items are :func:`org_user_dto`'s, encoded by :func:`gtool.sandbox.listings.org_users`."""
    order = parse_sort(sort)
    total, rows = orgdata.org_user_rows(ctx.store, org_id, query=query, limit=limit, page=page, order=order)
    hidden = _hidden(ctx)
    if hidden:
        rows = [row for row in rows if row[5] not in hidden]  # row[5]: the login
    now = ctx.store.now()
    return total, listings.org_users(rows, now, ctx.settings.is_externally_synced, _access_metadata(ctx))


def get_current_org_users(ctx: Ctx) -> Any:
    """``GET /api/org/users``: bare array; ``limit`` 0 or absent is everyone."""
    require(ctx.identity, "org.users:read")
    return _org_user_page(ctx, ctx.identity.org_id, query=ctx.query("query"), limit=ctx.query_int("limit"))[1]


def get_org_users(ctx: Ctx) -> Any:
    """``GET /api/orgs/:orgId/users``: every member, bare array."""
    return _org_user_page(ctx, path_org(ctx, "org.users:read"))[1]


def _search_page(ctx: Ctx, org_id: int) -> Any:
    """``SearchOrgUsersQueryResult``: 1-based ``page``, ``perpage`` defaulting to 1000."""
    per_page = ctx.query_int("perpage")
    if per_page <= 0:
        per_page = 1000
    page = ctx.query_int("page")
    if page < 1:
        page = 1
    total, users = _org_user_page(
        ctx, org_id, query=ctx.query("query"), limit=per_page, page=page, sort=ctx.query("sort")
    )
    return {"totalCount": total, "orgUsers": users, "page": page, "perPage": per_page}


def search_current_org_users(ctx: Ctx) -> Any:
    """``GET /api/org/users/search``."""
    require(ctx.identity, "org.users:read")
    return _search_page(ctx, ctx.identity.org_id)


def search_org_users(ctx: Ctx) -> Any:
    """``GET /api/orgs/:orgId/users/search``."""
    return _search_page(ctx, path_org(ctx, "org.users:read"))


def lookup_current_org_users(ctx: Ctx) -> Any:
    """``GET /api/org/users/lookup``: ``UserLookupDTO`` items (newest struct order: userId, uid, login,
    avatarUrl; the position of ``uid`` is not confirmed, §12.2)."""
    if not any(ctx.identity.can(a) for a in LOOKUP_ACTIONS):
        raise errors.access_denied("any of " + ", ".join(LOOKUP_ACTIONS))
    users = orgdata.lookup_org_users(
        ctx.store, ctx.identity.org_id, query=ctx.query("query"), limit=ctx.query_int("limit")
    )
    hidden = _hidden(ctx)
    return [
        {"userId": u.user_id, "uid": u.uid, "login": u.login, "avatarUrl": dtos.avatar_url(u.email)}
        for u in users
        if u.login not in hidden
    ]


# -- org users: add, update, remove ----------------------------------------------------------------------


def _add(ctx: Ctx, org_id: int) -> Any:
    """``addOrgUserHelper``: role check, lookup (404), add (409 with the user id, sorted DynMap)."""
    form = ctx.bind(Field("loginOrEmail", required=True), Field("role", "role", required=True))
    _check_role_grant(ctx.identity, form["role"])
    user = ctx.store.get_user_by_login_or_email(form["loginOrEmail"])
    if user is None:
        raise errors.error(404, "User not found")
    try:
        ctx.store.add_org_user(org_id, user.id, form["role"])
    except OrgUserAlreadyAdded:
        raise errors.GrafanaError(
            409, GoMap(message="User is already member of this organization", userId=user.id)
        ) from None
    except OrgNotFound:
        raise errors.error_with_err(500, "Could not add user to organization") from None
    return GoMap(message="User added to organization", userId=user.id)


def add_current_org_user(ctx: Ctx) -> Any:
    """``POST /api/org/users``."""
    require(ctx.identity, "org.users:add")
    return _add(ctx, ctx.identity.org_id)


def add_org_user(ctx: Ctx) -> Any:
    """``POST /api/orgs/:orgId/users``."""
    return _add(ctx, path_org(ctx, "org.users:add"))


def _update(ctx: Ctx, org_id: int) -> Any:
    """``updateOrgUserHelper``: role check, the externally-synced refusal, the last-admin check."""
    form = ctx.bind(Field("role", "role", required=True))
    user_id = ctx.param_int("userId", "userId is invalid")
    _check_role_grant(ctx.identity, form["role"])
    info = ctx.store.get_auth_info(user_id)
    if info is not None and info.auth_module != "" and ctx.settings.is_externally_synced(info.auth_module):
        raise errors.public_error(
            403, "org.externallySynced", "cannot change role for externally synced user"
        )
    try:
        orgdata.update_org_user_role(ctx.store, org_id, user_id, form["role"])
    except orgdata.LastOrgAdmin:
        raise errors.error(400, "Cannot change role so that there is no organization admin left") from None
    except orgdata.OrgUserNotFound:
        raise errors.error_with_err(500, "Failed update org user") from None
    return success("Organization user updated")


def update_current_org_user(ctx: Ctx) -> Any:
    """``PATCH /api/org/users/:userId``."""
    require(ctx.identity, "org.users:write")
    return _update(ctx, ctx.identity.org_id)


def update_org_user(ctx: Ctx) -> Any:
    """``PATCH /api/orgs/:orgId/users/:userId``."""
    resolve_user_id(ctx, "userId")
    return _update(ctx, path_org(ctx, "org.users:write"))


def _remove(ctx: Ctx, org_id: int, *, delete_orphan: bool) -> Any:
    """``removeOrgUserHelper`` (externally synced users may be removed: there is no check, §5.4)."""
    user_id = ctx.param_int("userId", "userId is invalid")
    try:
        deleted = orgdata.remove_org_user(ctx.store, org_id, user_id, delete_orphan=delete_orphan)
    except orgdata.LastOrgAdmin:
        raise errors.error(400, "Cannot remove last organization admin") from None
    except UserNotFound:
        raise errors.error_with_err(500, "Failed to remove user from organization") from None
    return success("User deleted" if deleted else "User removed from organization")


def remove_current_org_user(ctx: Ctx) -> Any:
    """``DELETE /api/org/users/:userId``: ``ShouldDeleteOrphanedUser`` is set here only."""
    require(ctx.identity, "org.users:remove")
    return _remove(ctx, ctx.identity.org_id, delete_orphan=True)


def remove_org_user(ctx: Ctx) -> Any:
    """``DELETE /api/orgs/:orgId/users/:userId``: never deletes the user."""
    resolve_user_id(ctx, "userId")
    return _remove(ctx, path_org(ctx, "org.users:remove"), delete_orphan=False)


# -- invites ---------------------------------------------------------------------------------------------


def get_pending_invites(ctx: Ctx) -> Any:
    """``GET /api/org/invites``."""
    require(ctx.identity, "org.users:add")
    return [
        invite_dto(i, ctx.sandbox.app_url) for i in orgdata.pending_invites(ctx.store, ctx.identity.org_id)
    ]


def add_invite(ctx: Ctx) -> Any:
    """``POST /api/org/invites``: an existing user is added directly; anyone else gets a pending invite."""
    identity = ctx.identity
    require(identity, "org.users:add")
    form = ctx.bind(
        Field("loginOrEmail", required=True),
        Field("name"),
        Field("role", "role", required=True),
        Field("sendEmail", "bool"),
    )
    _check_role_grant(identity, form["role"])
    smtp = ctx.sandbox.ini_bool("smtp", "enabled")
    user = ctx.store.get_user_by_login_or_email(form["loginOrEmail"])
    if user is not None:
        try:
            ctx.store.add_org_user(identity.org_id, user.id, form["role"])
        except OrgUserAlreadyAdded:
            raise errors.error_with_err(
                412, f"User {form['loginOrEmail']} is already added to organization"
            ) from None
        except OrgNotFound:
            raise errors.error_with_err(500, "Error while trying to create org user") from None
        if form["sendEmail"] and "@" in user.email and not smtp:
            # inviteExistingUserToOrg maps every mail failure to 500, after the user was added.
            raise errors.error_with_err(500, "Failed to send email invited_to_org")
        org = ctx.store.get_org(identity.org_id)
        org_name = org.name if org else ""
        return GoMap(
            message=f"Existing Grafana user {user.name_or_fallback} added to org {org_name}", userId=user.id
        )
    if ctx.sandbox.ini_bool("auth", "disable_login_form"):
        raise errors.error(400, "Cannot invite external user when login is disabled.")
    wants_email = form["sendEmail"] and "@" in form["loginOrEmail"]
    invite = orgdata.create_invite(
        ctx.store,
        identity.org_id,
        email=form["loginOrEmail"],
        name=form["name"],
        role=form["role"],
        invited_by=identity.user.id if identity.is_user else 0,
        remote_addr=ctx.request.client.host if ctx.request.client else "",
        email_sent=wants_email and smtp,
    )
    if wants_email:
        if not smtp:
            raise errors.error_with_err(412, SMTP_NOT_ENABLED)
        return success(f"Sent invite to {invite.email}")
    return success(f"Created invite for {invite.email}")


def revoke_invite(ctx: Ctx) -> Any:
    """``PATCH /api/org/invites/:code/revoke`` (registered as PATCH whatever the docs say, §4.1)."""
    require(ctx.identity, "org.users:add")
    try:
        invite = orgdata.invite_by_code(ctx.store, ctx.params["code"])
    except orgdata.InviteNotFound:
        raise errors.error(404, "Invite not found") from None
    if invite.org_id != ctx.identity.org_id and not ctx.identity.is_grafana_admin:
        raise errors.error(403, "Permission denied: not permitted to revoke invite")
    orgdata.set_invite_status(ctx.store, invite.code, orgdata.INVITE_REVOKED)
    return success("Invite revoked")


ROUTES = [
    api("GET", "/api/org", get_current_org),
    api("GET", "/api/org/users", get_current_org_users),
    api("POST", "/api/org/users", add_current_org_user),
    api("GET", "/api/org/users/search", search_current_org_users),
    api("GET", "/api/org/users/lookup", lookup_current_org_users),
    api("PATCH", "/api/org/users/{userId}", update_current_org_user),
    api("DELETE", "/api/org/users/{userId}", remove_current_org_user),
    api("GET", "/api/org/invites", get_pending_invites),
    api("POST", "/api/org/invites", add_invite),
    api("PATCH", "/api/org/invites/{code}/revoke", revoke_invite),
    api("GET", "/api/orgs", search_orgs),
    api("POST", "/api/orgs", create_org),
    api("GET", "/api/orgs/name/{name}", get_org_by_name),
    api("GET", "/api/orgs/{orgId}", get_org_by_id),
    api("GET", "/api/orgs/{orgId}/users", get_org_users),
    api("POST", "/api/orgs/{orgId}/users", add_org_user),
    api("GET", "/api/orgs/{orgId}/users/search", search_org_users),
    api("PATCH", "/api/orgs/{orgId}/users/{userId}", update_org_user),
    api("DELETE", "/api/orgs/{orgId}/users/{userId}", remove_org_user),
]
