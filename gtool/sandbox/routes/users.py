"""Users and the admin user API: ``/api/users…``, ``/api/user…``, ``/api/admin/users…`` (contract §2, §3).

Middleware runs in Grafana's order: sign-in (401), the UID resolver where the route has one (404
``User not found``), ``reqGrafanaAdmin`` (403 ``Permission denied``), then RBAC (403 ``ACE…`` body), then the
handler's own checks in the order the handler makes them.
"""

from __future__ import annotations

from typing import Any

from gtool.sandbox import dtos, errors, listings
from gtool.sandbox.auth import GLOBAL_ACTIONS, require_global, require_grafana_admin
from gtool.sandbox.gojson import Raw
from gtool.sandbox.store import LastGrafanaAdmin, OrgNotFound, UserAlreadyExists, UserNotFound
from gtool.sandbox.web import Ctx, Field, api, success

# sortopts.SortOptionsByQueryParam: value -> (column, descending, index); applied in index order.
SORT_OPTIONS = {
    "login-asc": ("login", False, 0),
    "login-desc": ("login", True, 0),
    "email-asc": ("email", False, 1),
    "email-desc": ("email", True, 1),
    "name-asc": ("name", False, 2),
    "name-desc": ("name", True, 2),
    "lastSeenAtAge-asc": ("last_seen_at", False, 3),
    "lastSeenAtAge-desc": ("last_seen_at", True, 3),
}

# Actions a Grafana Admin holds on global.users:id:<id>, for ?accesscontrol=true.
_USER_SCOPED_ACTIONS = sorted(a for a in GLOBAL_ACTIONS if a.startswith("users") and a != "users:create")

MIN_PASSWORD_LENGTH = 4  # user.Password.IsWeak: shorter is refused without the strong password policy


def parse_sort(value: str) -> list[tuple[str, bool]]:
    """``ParseSortQueryParam``: comma list, unknown → errutil 400, sorted by option index then name."""
    if value == "":
        return []
    chosen: list[tuple[int, str, str, bool]] = []
    for name in value.split(","):
        option = SORT_OPTIONS.get(name)
        if option is None:
            raise errors.public_error(400, "unknown sorting option")
        column, desc, index = option
        chosen.append((index, f"{column}-{'desc' if desc else 'asc'}", column, desc))
    chosen.sort(key=lambda o: (o[0], o[1]))
    return [(column, desc) for _, _, column, desc in chosen]


def resolve_user_id(ctx: Ctx, param: str = "id") -> None:
    """``userUIDResolver``: a non-numeric ``:id`` is looked up as a UID and replaced by the numeric id."""
    raw = ctx.params.get(param, "")
    if raw == "" or _is_int(raw):
        return
    user = ctx.store.get_user_by_uid(raw)
    if user is None:
        raise errors.json_api_error(404, "User not found")
    ctx.params[param] = str(user.id)


def _is_int(text: str) -> bool:
    digits = text[1:] if text.startswith(("+", "-")) else text
    return digits.isascii() and digits.isdigit() and -(2**63) <= int(text) < 2**63


def _search(ctx: Ctx) -> tuple[int, Raw, int, int]:
    """``SearchUser``: (totalCount, hits, page, perPage); the hits are ``dtos.user_search_hit`` items,
    encoded by :func:`gtool.sandbox.listings.user_hits`."""
    require_global(ctx.identity, "users:read")
    per_page = ctx.query_int("perpage")
    if per_page <= 0:
        per_page = 1000
    page = ctx.query_int("page")
    if page < 1:
        page = 1
    order = parse_sort(ctx.query("sort"))
    # Go's int arithmetic never fails here; keep SQLite's LIMIT/OFFSET inside its int64 range.
    offset = min(per_page * (page - 1), 2**62)
    total, rows = ctx.store.user_hits(
        query=ctx.query("query"), order=order, limit=min(per_page, 2**62), offset=offset
    )
    return total, listings.user_hits(rows, ctx.store.now()), page, per_page


def search_users(ctx: Ctx) -> Any:
    """``GET /api/users``: a bare array."""
    return _search(ctx)[1]


def search_users_with_paging(ctx: Ctx) -> Any:
    """``GET /api/users/search``: ``SearchUserQueryResult``."""
    total, hits, page, per_page = _search(ctx)
    return {"totalCount": total, "users": hits, "page": page, "perPage": per_page}


def _profile(ctx: Ctx, user_id: int) -> Any:
    """``getUserUserProfile``."""
    user = ctx.store.get_user(user_id)
    if user is None:
        raise errors.error(404, "user not found")
    info = ctx.store.get_auth_info(user_id)
    access = None
    if ctx.query_bool("accesscontrol") and ctx.identity.is_grafana_admin:
        access = dict.fromkeys(_USER_SCOPED_ACTIONS, True)
    return dtos.user_profile(user, info.auth_module if info else None, ctx.settings, access_control=access)


def get_user_by_id(ctx: Ctx) -> Any:
    resolve_user_id(ctx)
    require_global(ctx.identity, "users:read")
    return _profile(ctx, ctx.param_int("id", "id is invalid"))


def lookup_user(ctx: Ctx) -> Any:
    """``GET /api/users/lookup?loginOrEmail=``."""
    require_global(ctx.identity, "users:read")
    user = ctx.store.get_user_by_login_or_email(ctx.query("loginOrEmail"))
    if user is None:
        raise errors.error(404, "user not found")
    return dtos.lookup_profile(user)


def get_user_orgs(ctx: Ctx) -> Any:
    """``GET /api/users/:id/orgs``: an unknown id is an empty list."""
    resolve_user_id(ctx)
    require_global(ctx.identity, "users:read")
    user_id = ctx.param_int("id", "id is invalid")
    return [dtos.user_org(m) for m in ctx.store.user_orgs(user_id)]


def get_user_teams(ctx: Ctx) -> Any:
    """``GET /api/users/:id/teams``: teams in the caller's current org."""
    resolve_user_id(ctx)
    require_global(ctx.identity, "users:read")
    user_id = ctx.param_int("id", "id is invalid")
    return [dtos.user_team(t) for t in ctx.store.user_teams(ctx.identity.org_id, user_id)]


def update_user_active_org(ctx: Ctx) -> Any:
    """``POST /api/users/:id/using/:orgId``."""
    resolve_user_id(ctx)
    require_global(ctx.identity, "users:write")
    user_id = ctx.param_int("id", "id is invalid")
    org_id = ctx.param_int("orgId", "orgId is invalid")
    return _set_using_org(ctx, user_id, org_id)


def _set_using_org(ctx: Ctx, user_id: int, org_id: int) -> Any:
    if not any(m.org_id == org_id for m in ctx.store.user_orgs(user_id)):
        raise errors.error(401, "Not a valid organization")
    ctx.store.set_using_org(user_id, org_id)
    return success("Active organization changed")


# -- /api/user: the signed-in identity -------------------------------------------------------------------


def _own_user_id(ctx: Ctx) -> int:
    """``hs.getUserID``: service accounts get 304 ``Endpoint only available for users``."""
    if not ctx.identity.is_user:
        raise errors.error(304, "Endpoint only available for users")
    return ctx.identity.user.id


def get_signed_in_user(ctx: Ctx) -> Any:
    identity = ctx.identity
    if not identity.is_user:
        return dtos.identity_profile(identity.user, identity.org_id, identity.typed_id)
    return _profile(ctx, identity.user.id)


def get_signed_in_user_orgs(ctx: Ctx) -> Any:
    user_id = _own_user_id(ctx)
    return [dtos.user_org(m) for m in ctx.store.user_orgs(user_id)]


def user_set_using_org(ctx: Ctx) -> Any:
    """``POST /api/user/using/:id``."""
    org_id = ctx.param_int("id", "id is invalid")
    return _set_using_org(ctx, _own_user_id(ctx), org_id)


# -- /api/admin/users ------------------------------------------------------------------------------------


def admin_create_user(ctx: Ctx) -> Any:
    """``POST /api/admin/users`` (``AdminCreateUser`` → ``userService.Create``)."""
    require_global(ctx.identity, "users:create")
    form = ctx.bind(
        Field("email"),
        Field("login"),
        Field("name"),
        Field("password", required=True),
        Field("orgId", "int"),
    )
    if not (form["login"] or form["email"]):
        raise errors.public_error(
            400, "user.empty-username-and-email", "Need to specify either username or email"
        )
    # Newest Grafana validates through user.Password (the message is not confirmed by the contract, §12.6).
    if len(form["password"]) < MIN_PASSWORD_LENGTH:
        raise errors.public_error(400, "password.password-policy-too-short", "New password is too short")
    try:
        user = ctx.store.create_user(
            login=form["login"],
            email=form["email"],
            name=form["name"],
            password=form["password"],
            org_id=form["orgId"],
        )
    except OrgNotFound as exc:
        raise errors.error(400, str(exc)) from None
    except UserAlreadyExists:
        raise errors.error_with_err(
            412, f"User with email '{form['email']}' or username '{form['login']}' already exists"
        ) from None
    return {"id": user.id, "uid": user.uid, "message": "User created"}


def admin_update_user_password(ctx: Ctx) -> Any:
    """``PUT /api/admin/users/:id/password``."""
    resolve_user_id(ctx)
    require_global(ctx.identity, "users.password:write")
    if ctx.sandbox.ini_bool("auth", "disable_login_form") or ctx.sandbox.ini_bool("auth", "disable_login"):
        raise errors.error(403, "Not allowed to reset password when login form is disabled")
    form = ctx.bind(Field("password", required=True))
    user_id = ctx.param_int("id", "id is invalid")
    info = ctx.store.get_auth_info(user_id)
    if info is not None and ctx.settings.is_provider_enabled(info.auth_module):
        raise errors.error(403, "Cannot update external User")
    # userService.Update refuses a weak password or an unknown user; the handler maps both to 500.
    if len(form["password"]) < MIN_PASSWORD_LENGTH:
        raise errors.error_with_err(500, "Failed to update user password")
    try:
        ctx.store.set_password(user_id, form["password"])
    except UserNotFound:
        raise errors.error_with_err(500, "Failed to update user password") from None
    ctx.store.revoke_all_user_tokens(user_id)
    return success("User password updated")


def admin_update_user_permissions(ctx: Ctx) -> Any:
    """``PUT /api/admin/users/:id/permissions``."""
    resolve_user_id(ctx)
    require_grafana_admin(ctx.identity)
    require_global(ctx.identity, "users.permissions:write")
    form = ctx.bind(Field("isGrafanaAdmin", "bool"))
    user_id = ctx.param_int("id", "id is invalid")
    info = ctx.store.get_auth_info(user_id)
    if info is not None and ctx.settings.is_grafana_admin_externally_synced(info.auth_module):
        raise errors.error(403, "Cannot change Grafana Admin role for externally synced user")
    try:
        ctx.store.set_grafana_admin(user_id, form["isGrafanaAdmin"])
    except LastGrafanaAdmin:
        raise errors.error(400, "cannot remove last grafana admin") from None
    except UserNotFound:
        raise errors.error_with_err(500, "Failed to update user permissions") from None
    return success("User permissions updated")


def admin_delete_user(ctx: Ctx) -> Any:
    """``DELETE /api/admin/users/:id``."""
    resolve_user_id(ctx)
    require_global(ctx.identity, "users:delete")
    user_id = ctx.param_int("id", "id is invalid")
    try:
        ctx.store.delete_user(user_id)
    except UserNotFound:
        raise errors.error(404, "user not found") from None
    return success("User deleted")


def _set_disabled(ctx: Ctx, disabled: bool) -> Any:
    verb = "disable" if disabled else "enable"
    require_global(ctx.identity, f"users:{verb}")
    user_id = ctx.param_int("id", "id is invalid")
    # External users cannot be disabled or enabled through the API: any user_auth row refuses.
    if ctx.store.get_auth_info(user_id) is not None:
        raise errors.error(500, f"Could not {verb} external user")
    try:
        ctx.store.set_disabled(user_id, disabled)
    except UserNotFound:
        raise errors.error(404, "user not found") from None
    if disabled:
        ctx.store.revoke_all_user_tokens(user_id)
        return success("User disabled")
    return success("User enabled")


def admin_disable_user(ctx: Ctx) -> Any:
    return _set_disabled(ctx, True)


def admin_enable_user(ctx: Ctx) -> Any:
    return _set_disabled(ctx, False)


def _existing_user_id(ctx: Ctx) -> int:
    """``userService.GetByID`` as the token helpers use it: 404 ``User not found`` with traceID."""
    user_id = ctx.param_int("id", "id is invalid")
    if ctx.store.get_user(user_id) is None:
        raise errors.error_with_err(404, "User not found")
    return user_id


def admin_logout_user(ctx: Ctx) -> Any:
    """``POST /api/admin/users/:id/logout``."""
    require_global(ctx.identity, "users:logout")
    ctx.param_int("id", "id is invalid")
    # Grafana compares typed id strings, so "/users/01/logout" is not "yourself" for user 1.
    if ctx.identity.typed_id == f"user:{ctx.params['id']}":
        raise errors.error(400, "You cannot logout yourself")
    user_id = _existing_user_id(ctx)
    ctx.store.revoke_all_user_tokens(user_id)
    return {"message": "User logged out"}


def admin_get_user_auth_tokens(ctx: Ctx) -> Any:
    """``GET /api/admin/users/:id/auth-tokens``: sessions (API calls with basic auth create none)."""
    require_global(ctx.identity, "users.authtoken:read")
    user_id = _existing_user_id(ctx)
    return [dtos.user_token(t) for t in ctx.store.user_tokens(user_id)]


def admin_revoke_user_auth_token(ctx: Ctx) -> Any:
    """``POST /api/admin/users/:id/revoke-auth-token`` with ``{"authTokenId": N}``."""
    require_global(ctx.identity, "users.authtoken:write")
    form = ctx.bind(Field("authTokenId", "int"))
    user_id = _existing_user_id(ctx)
    if not ctx.store.revoke_user_token(user_id, form["authTokenId"]):
        raise errors.error_with_err(404, "User auth token not found")
    return {"message": "User auth token revoked"}


ROUTES = [
    api("GET", "/api/users", search_users),
    api("GET", "/api/users/search", search_users_with_paging),
    api("GET", "/api/users/lookup", lookup_user),
    api("GET", "/api/users/{id}", get_user_by_id),
    api("GET", "/api/users/{id}/orgs", get_user_orgs),
    api("GET", "/api/users/{id}/teams", get_user_teams),
    api("POST", "/api/users/{id}/using/{orgId}", update_user_active_org),
    api("GET", "/api/user", get_signed_in_user),
    api("GET", "/api/user/orgs", get_signed_in_user_orgs),
    api("POST", "/api/user/using/{id}", user_set_using_org),
    api("POST", "/api/admin/users", admin_create_user),
    api("PUT", "/api/admin/users/{id}/password", admin_update_user_password),
    api("PUT", "/api/admin/users/{id}/permissions", admin_update_user_permissions),
    api("DELETE", "/api/admin/users/{id}", admin_delete_user),
    api("POST", "/api/admin/users/{id}/disable", admin_disable_user),
    api("POST", "/api/admin/users/{id}/enable", admin_enable_user),
    api("POST", "/api/admin/users/{id}/logout", admin_logout_user),
    api("GET", "/api/admin/users/{id}/auth-tokens", admin_get_user_auth_tokens),
    api("POST", "/api/admin/users/{id}/revoke-auth-token", admin_revoke_user_auth_token),
]
