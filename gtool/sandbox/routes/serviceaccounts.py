"""Service accounts and their tokens: ``/api/serviceaccounts…`` (contract §7.1, ``serviceaccounts/api``).

Tokens are ``glsa_…`` keys shown once at creation; the store keeps only their SHA-256 (``api_key.key``).
Every route is org-scoped: a service account of another org is "not found". RBAC: ``serviceaccounts:*`` come
with the org Admin role (and Grafana Admin), as ``fixed:serviceaccounts:*`` are granted to Admin.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from gtool.sandbox import errors
from gtool.sandbox.auth import require, role_includes
from gtool.sandbox.dtos import avatar_url_with_default
from gtool.sandbox.gojson import GoJSONResponse, GoMap, go_time
from gtool.sandbox.store import User, UserAlreadyExists
from gtool.sandbox.web import Ctx, Field, api, success

SA_ACTIONS = ("serviceaccounts:delete", "serviceaccounts:read", "serviceaccounts:write")
SEVEN_DAYS = 7 * 24 * 3600

_SA_COLUMNS = (
    "u.id, u.uid, u.name, u.login, ou.org_id, u.is_disabled, ou.role, "
    "(SELECT COUNT(*) FROM api_key k WHERE k.service_account_id = u.id)"
)


def _not_found() -> errors.GrafanaError:
    return errors.public_error(404, "serviceaccounts.ErrNotFound", "service account not found")


def _dto(row: tuple[Any, ...], *, avatar: bool = True, access: bool = False) -> dict[str, Any]:
    """``ServiceAccountDTO`` (newest field order; ``isExternal`` and ``accessControl`` are omitempty)."""
    body: dict[str, Any] = {
        "id": row[0],
        "uid": row[1],
        "name": row[2],
        "login": row[3],
        "orgId": row[4],
        "isDisabled": bool(row[5]),
        "role": row[6],
        "tokens": row[7],
        "avatarUrl": avatar_url_with_default("", row[2]) if avatar else "",
    }
    if access:
        body["accessControl"] = GoMap(dict.fromkeys(SA_ACTIONS, True))
    return body


def _search(ctx: Ctx, query: str, limit: int, offset: int) -> tuple[int, list[tuple[Any, ...]]]:
    where = (
        'FROM "user" u JOIN org_user ou ON ou.user_id = u.id WHERE u.is_service_account = 1 AND ou.org_id = ?'
    )
    args: list[Any] = [ctx.identity.org_id]
    if query:
        where += " AND (u.name LIKE ? OR u.login LIKE ?)"
        args += [f"%{query}%", f"%{query}%"]
    with ctx.store.transaction() as db:
        total = db.execute(f"SELECT COUNT(*) {where}", args).fetchone()[0]
        rows = db.execute(
            f"SELECT {_SA_COLUMNS} {where} ORDER BY u.name ASC, u.id ASC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
    return total, [tuple(r) for r in rows]


def _account(ctx: Ctx, sa_id: int) -> tuple[Any, ...]:
    """``RetrieveServiceAccount(orgID, id)``: 404 errutil body when it is not a service account of the org."""
    with ctx.store.transaction() as db:
        row = db.execute(
            f'SELECT {_SA_COLUMNS} FROM "user" u JOIN org_user ou ON ou.user_id = u.id '
            "WHERE u.id = ? AND u.is_service_account = 1 AND ou.org_id = ?",
            (sa_id, ctx.identity.org_id),
        ).fetchone()
    if row is None:
        raise _not_found()
    return tuple(row)


def search_service_accounts(ctx: Ctx) -> Any:
    """``GET /api/serviceaccounts/search?perpage&page&query``: 1-based, ``perpage`` 1000 by default."""
    require(ctx.identity, "serviceaccounts:read")
    per_page = ctx.query_int("perpage")
    if per_page <= 0:
        per_page = 1000
    page = ctx.query_int("page")
    if page <= 0:
        page = 1
    total, rows = _search(ctx, ctx.query("query"), min(per_page, 2**62), min(per_page * (page - 1), 2**62))
    access = ctx.query_bool("accesscontrol")
    accounts = [_dto(r, access=access) for r in rows]
    return {"totalCount": total, "serviceAccounts": accounts, "page": page, "perPage": per_page}


def create_service_account(ctx: Ctx) -> Any:
    """``POST /api/serviceaccounts`` → 201 with the new account (``role`` defaults to Viewer)."""
    require(ctx.identity, "serviceaccounts:create")
    form = ctx.bind(Field("name", required=True), Field("role", "role"), Field("isDisabled", "bool"))
    role = form["role"] or "Viewer"
    if not ctx.identity.is_grafana_admin and not role_includes(ctx.identity.org_role, role):
        # validateRole → ErrServiceAccountRolePrivilegeDenied (errutil Forbidden); exact body not confirmed.
        raise errors.public_error(
            403, "serviceaccounts.ErrRoleForbidden", "can not assign a role higher than user's role"
        )
    try:
        account: User = ctx.store.create_service_account(
            ctx.identity.org_id, form["name"], role, is_disabled=form["isDisabled"]
        )
    except (UserAlreadyExists, sqlite3.IntegrityError):
        raise errors.public_error(
            400, "serviceaccounts.ErrAlreadyExists", "service account already exists"
        ) from None
    # The store's create returns the DTO without an avatar (only search fills it).
    return GoJSONResponse(_dto(_account(ctx, account.id), avatar=False), 201)


def _seconds_until(expires: int | None, now: int) -> int:
    """``secondsUntilExpiration``: only for live tokens expiring within seven days, else 0."""
    if expires is None or expires <= now or expires - now >= SEVEN_DAYS:
        return 0
    return expires - now


def list_tokens(ctx: Ctx) -> Any:
    """``GET /api/serviceaccounts/:id/tokens``: the tokens of that account in the caller's org, by name."""
    require(ctx.identity, "serviceaccounts:read")
    sa_id = ctx.param_int("serviceAccountId", "Service Account ID is invalid")
    with ctx.store.transaction() as db:
        rows = db.execute(
            "SELECT id, name, created, last_used_at, expires, is_revoked FROM api_key "
            "WHERE service_account_id = ? AND org_id = ? ORDER BY name ASC, id ASC",
            (sa_id, ctx.identity.org_id),
        ).fetchall()
    now = ctx.store.now()
    return [
        {
            "id": key_id,
            "name": name,
            "created": go_time(created),
            "lastUsedAt": None if last_used is None else go_time(last_used),
            "expiration": None if expires is None else go_time(expires),
            "secondsUntilExpiration": _seconds_until(expires, now),
            "hasExpired": expires is not None and expires < now,
            "isRevoked": bool(revoked),
        }
        for key_id, name, created, last_used, expires, revoked in rows
    ]


def create_token(ctx: Ctx) -> Any:
    """``POST /api/serviceaccounts/:id/tokens`` → ``{"id","name","key"}``; the key is never shown again."""
    require(ctx.identity, "serviceaccounts:write")
    sa_id = ctx.param_int("serviceAccountId", "Service Account ID is invalid")
    _account(ctx, sa_id)
    try:
        form = ctx.bind(Field("name", required=True), Field("secondsToLive", "int"))
    except errors.GrafanaError:
        raise errors.error_with_err(400, "Bad request data") from None  # this handler capitalises it
    if form["secondsToLive"] < 0:
        raise errors.public_error(400, "serviceaccounts.ErrInvalidInput", "invalid SecondsToLive value")
    with ctx.store.transaction() as db:
        if db.execute(
            "SELECT 1 FROM api_key WHERE org_id = ? AND name = ?", (ctx.identity.org_id, form["name"])
        ).fetchone():
            raise errors.public_error(
                400,
                "serviceaccounts.ErrTokenAlreadyExists",
                "service account token with given name already exists in the organization",
            )
        key, token = ctx.store.create_sa_token(
            sa_id, form["name"], seconds_to_live=form["secondsToLive"] or None
        )
    return {"id": key.id, "name": key.name, "key": token}


def delete_token(ctx: Ctx) -> Any:
    require(ctx.identity, "serviceaccounts:write")
    sa_id = ctx.param_int("serviceAccountId", "Service Account ID is invalid")
    _account(ctx, sa_id)
    token_id = ctx.param_int("tokenId", "Token ID is invalid")
    with ctx.store.transaction() as db:
        cur = db.execute(
            "DELETE FROM api_key WHERE id = ? AND service_account_id = ? AND org_id = ?",
            (token_id, sa_id, ctx.identity.org_id),
        )
        if cur.rowcount == 0:
            raise errors.public_error(
                404, "serviceaccounts.ErrTokenNotFound", "service account token not found"
            )
    return success("Service account token deleted")


ROUTES = [
    api("GET", "/api/serviceaccounts/search", search_service_accounts),
    api("POST", "/api/serviceaccounts", create_service_account),
    api("GET", "/api/serviceaccounts/{serviceAccountId}/tokens", list_tokens),
    api("POST", "/api/serviceaccounts/{serviceAccountId}/tokens", create_token),
    api("DELETE", "/api/serviceaccounts/{serviceAccountId}/tokens/{tokenId}", delete_token),
]
