"""Org, org-user and invite data access, after Grafana's ``orgimpl`` and ``tempuserimpl`` stores.

Every function takes the :class:`~gtool.sandbox.store.Store` and does its reads and writes inside one
``store.transaction()``, so a read-check-write (the last-admin check, the orphan delete) is atomic under the
store's lock: concurrent requests cannot both see "one admin left" and both demote.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gtool.sandbox.store import (
    AUTH_MODULE_COLUMN,
    SORT_FIELDS,
    Org,
    OrgNameTaken,
    Store,
    StoreError,
    UserNotFound,
    random_string,
)

if TYPE_CHECKING:
    from gtool.sandbox.listings import OrgUserRow


class OrgUserNotFound(StoreError):
    def __init__(self) -> None:
        super().__init__("cannot find the organization user")


class LastOrgAdmin(StoreError):
    def __init__(self) -> None:
        super().__init__("cannot remove last organization admin")


class InviteNotFound(StoreError):
    def __init__(self) -> None:
        super().__init__("user not found")  # tempuser.ErrTempUserNotFound


@dataclass(frozen=True, slots=True)
class OrgUser:
    """One ``org_user`` row joined with its user, as ``SearchOrgUsers`` selects it."""

    org_id: int
    user_id: int
    uid: str
    email: str
    name: str
    login: str
    role: str
    last_seen_at: int
    created: int
    is_disabled: bool
    is_provisioned: bool


@dataclass(frozen=True, slots=True)
class Invite:
    """A pending or past invite (``temp_user``) with the inviter's login, email and name."""

    id: int
    org_id: int
    name: str
    email: str
    role: str
    invited_by_login: str
    invited_by_email: str
    invited_by_name: str
    code: str
    status: str
    email_sent: bool
    email_sent_on: int | None
    created: int


# -- orgs ------------------------------------------------------------------------------------------------


def search_orgs(
    store: Store, *, query: str = "", name: str = "", limit: int = 1000, page: int = 0
) -> list[Org]:
    """``orgimpl`` ``Search``: ``query`` is a name prefix, ``name`` exact; offset is ``limit*page`` (0-based).

    Grafana's query has no ORDER BY; SQLite returns rows by id, which is what the sandbox promises.
    """
    where: list[str] = []
    args: list[Any] = []
    if query:
        where.append("name LIKE ?")
        args.append(query + "%")
    if name:
        where.append("name = ?")
        args.append(name)
    sql = "SELECT * FROM org" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    if limit > 0:
        # Go multiplies without overflow checks; keep SQLite inside its int64 range, negative pages as 0.
        sql += " LIMIT ? OFFSET ?"
        args += [min(limit, 2**62), max(0, min(limit * page, 2**62))]
    with store.transaction() as db:
        rows = db.execute(sql, args).fetchall()
    return [Org(*r) for r in rows]


def create_org_with_member(store: Store, name: str, user_id: int) -> Org:
    """``CreateWithMember``: the org, with its creator as Admin (whose current org it becomes if unset)."""
    with store.transaction():
        if store.get_org_by_name(name) is not None:
            raise OrgNameTaken()
        org = store.create_org(name)
        if user_id > 0:
            store.add_org_user(org.id, user_id, "Admin")
    return org


# -- org users -------------------------------------------------------------------------------------------

_ORG_USER_COLUMNS = (
    "ou.org_id, u.id, u.uid, u.email, u.name, u.login, ou.role, u.last_seen_at, u.created, "
    "u.is_disabled, u.is_provisioned"
)
_ORG_USER_SELECT = f'SELECT {_ORG_USER_COLUMNS} FROM org_user ou JOIN "user" u ON u.id = ou.user_id'


def _org_user(row: sqlite3.Row | tuple[Any, ...]) -> OrgUser:
    values = list(row)
    values[9] = bool(values[9])
    values[10] = bool(values[10])
    return OrgUser(*values)


def search_org_users(
    store: Store,
    org_id: int,
    *,
    query: str = "",
    limit: int = 0,
    page: int = 1,
    order: Sequence[tuple[str, bool]] = (),
) -> tuple[int, list[OrgUser]]:
    """``orgimpl`` ``SearchOrgUsers``: members of ``org_id`` that are not service accounts, ``query`` as a
    substring of email, name or login, ordered by ``order`` or login then email; ``limit`` 0 is all.
    Returns (total ignoring paging, the page).
    """
    where, args = _org_user_filter(org_id, query)
    sql = f"{_ORG_USER_SELECT} WHERE {where} ORDER BY {_org_user_order(order)}"
    page_args = list(args)
    if limit > 0:
        sql += " LIMIT ? OFFSET ?"
        page_args += [min(limit, 2**62), max(0, min(limit * (page - 1), 2**62))]
    with store.transaction() as db:
        total = db.execute(
            f'SELECT COUNT(*) FROM org_user ou JOIN "user" u ON u.id = ou.user_id WHERE {where}', args
        ).fetchone()[0]
        rows = db.execute(sql, page_args).fetchall()
    return total, [_org_user(r) for r in rows]


def _org_user_filter(org_id: int, query: str) -> tuple[str, list[Any]]:
    where = "ou.org_id = ? AND u.is_service_account = 0"
    args: list[Any] = [org_id]
    if query:
        where += " AND (u.email LIKE ? OR u.name LIKE ? OR u.login LIKE ?)"
        like = f"%{query}%"
        args += [like, like, like]
    return where, args


def _org_user_order(order: Sequence[tuple[str, bool]]) -> str:
    order_sql = ", ".join(f"u.{f} {'DESC' if desc else 'ASC'}" for f, desc in order if f in SORT_FIELDS)
    return f"{order_sql or 'u.login ASC, u.email ASC'}, u.id ASC"


def org_user_rows(
    store: Store,
    org_id: int,
    *,
    query: str = "",
    limit: int = 0,
    page: int = 1,
    order: Sequence[tuple[str, bool]] = (),
) -> tuple[int, list[OrgUserRow]]:
    """:func:`search_org_users` as the rows ``/api/orgs/:id/users/search`` shows, each with its newest auth
    module (:data:`gtool.sandbox.listings.OrgUserRow`).

    Every page needs the whole org sorted, and a client reading the pages of a big org concurrently
    would have SQLite sort it once per page: the sorted member ids are kept until the database changes,
    and a page reads its rows by id. In the default order (an inventory's) the members are sorted by
    their rank in the users' order, read once from an index, rather than by SQL looking up every member.
    """
    where, args = _org_user_filter(org_id, query)
    order_sql = _org_user_order(order)

    def sorted_ids(db: sqlite3.Connection) -> list[int]:
        if not query and not order:
            ranks = store.user_ranks()
            members = db.execute("SELECT user_id FROM org_user WHERE org_id = ?", (org_id,))
            return sorted((m for (m,) in members if m in ranks), key=ranks.__getitem__)
        sql = f'SELECT u.id FROM org_user ou JOIN "user" u ON u.id = ou.user_id WHERE {where} ORDER BY '
        return [row[0] for row in db.execute(sql + order_sql, args)]

    with store.read() as db:
        ids = store.remembered(("org_users", org_id, query, order_sql), sorted_ids)
        if limit > 0:
            start = max(0, min(limit * (page - 1), 2**62))
            wanted = ids[start : start + limit]
        else:
            wanted = ids
        found: dict[int, OrgUserRow] = {}
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            for row in db.execute(
                f'SELECT {_ORG_USER_COLUMNS}, {AUTH_MODULE_COLUMN} FROM org_user ou JOIN "user" u '
                f"ON u.id = ou.user_id WHERE ou.org_id = ? AND ou.user_id IN ({marks})",
                [org_id, *chunk],
            ):
                found[row[1]] = row
    return len(ids), [found[i] for i in wanted]


def _chunks(values: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _admins_left(db: sqlite3.Connection, org_id: int) -> bool:
    """``validateOneAdminLeftInOrg`` (service accounts count, as in Grafana's query)."""
    return (
        db.execute("SELECT 1 FROM org_user WHERE org_id = ? AND role = 'Admin'", (org_id,)).fetchone()
        is not None
    )


def update_org_user_role(store: Store, org_id: int, user_id: int, role: str) -> None:
    """``UpdateOrgUser``: :class:`OrgUserNotFound` for a non-member, :class:`LastOrgAdmin` (rolled back)
    when no Admin would be left.
    """
    with store.transaction() as db:
        cur = db.execute(
            "UPDATE org_user SET role = ?, updated = ? WHERE org_id = ? AND user_id = ?",
            (role, store.now(), org_id, user_id),
        )
        if cur.rowcount == 0:
            raise OrgUserNotFound()
        if not _admins_left(db, org_id):
            raise LastOrgAdmin()


def remove_org_user(store: Store, org_id: int, user_id: int, *, delete_orphan: bool) -> bool:
    """``RemoveOrgUser``; returns whether the user itself was deleted.

    An unknown user (or a service account) raises :class:`UserNotFound`; a non-member is a no-op that
    succeeds. When the user has no org left it is deleted with ``delete_orphan`` (the current-org route),
    else its current org becomes 0; when only its current org was removed, another membership takes over.
    """
    with store.transaction() as db:
        user = store.get_user(user_id)
        if user is None:
            raise UserNotFound()
        db.execute("DELETE FROM org_user WHERE org_id = ? AND user_id = ?", (org_id, user_id))
        db.execute("DELETE FROM team_member WHERE org_id = ? AND user_id = ?", (org_id, user_id))
        if not _admins_left(db, org_id):
            raise LastOrgAdmin()
        remaining = [
            r[0] for r in db.execute("SELECT org_id FROM org_user WHERE user_id = ? ORDER BY id", (user_id,))
        ]
        if remaining:
            if user.org_id not in remaining:
                store.set_using_org(user_id, remaining[0])
            return False
        if delete_orphan:
            store.delete_user(user_id)
            return True
        store.set_using_org(user_id, 0)
        return False


def lookup_org_users(store: Store, org_id: int, *, query: str = "", limit: int = 0) -> list[OrgUser]:
    """The members ``GET /api/org/users/lookup`` lists (same search, first page of ``limit``)."""
    return search_org_users(store, org_id, query=query, limit=limit)[1]


# -- invites ---------------------------------------------------------------------------------------------

INVITE_PENDING = "InvitePending"
INVITE_REVOKED = "Revoked"

_INVITE_SELECT = (
    "SELECT tu.id, tu.org_id, tu.name, tu.email, tu.role, COALESCE(u.login, ''), COALESCE(u.email, ''), "
    "COALESCE(u.name, ''), tu.code, tu.status, tu.email_sent, tu.email_sent_on, tu.created "
    'FROM temp_user tu LEFT JOIN "user" u ON u.id = tu.invited_by_user_id'
)


def _invite(row: sqlite3.Row | tuple[Any, ...]) -> Invite:
    values = list(row)
    values[10] = bool(values[10])
    return Invite(*values)


def create_invite(
    store: Store,
    org_id: int,
    *,
    email: str,
    name: str,
    role: str,
    invited_by: int,
    remote_addr: str = "",
    email_sent: bool = False,
) -> Invite:
    """``CreateTempUser`` with a 30-character code (``util.GetRandomString(30)``), status pending."""
    now = store.now()
    with store.transaction() as db:
        cur = db.execute(
            "INSERT INTO temp_user (org_id, email, name, role, code, status, invited_by_user_id, email_sent, "
            "email_sent_on, remote_addr, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                org_id,
                email,
                name,
                role,
                random_string(30),
                INVITE_PENDING,
                invited_by,
                int(email_sent),
                now if email_sent else None,
                remote_addr,
                now,
                now,
            ),
        )
        row = db.execute(f"{_INVITE_SELECT} WHERE tu.id = ?", (cur.lastrowid,)).fetchone()
    return _invite(row)


def pending_invites(store: Store, org_id: int) -> list[Invite]:
    """``GetTempUsersQuery`` with status pending: newest first (``ORDER BY tu.created desc``)."""
    with store.transaction() as db:
        rows = db.execute(
            f"{_INVITE_SELECT} WHERE tu.org_id = ? AND tu.status = ? ORDER BY tu.created DESC, tu.id DESC",
            (org_id, INVITE_PENDING),
        ).fetchall()
    return [_invite(r) for r in rows]


def invite_by_code(store: Store, code: str) -> Invite:
    """``GetTempUserByCode`` (any status); :class:`InviteNotFound` otherwise."""
    with store.transaction() as db:
        row = db.execute(f"{_INVITE_SELECT} WHERE tu.code = ?", (code,)).fetchone()
    if row is None:
        raise InviteNotFound()
    return _invite(row)


def set_invite_status(store: Store, code: str, status: str) -> None:
    """``UpdateTempUserStatus``."""
    with store.transaction() as db:
        db.execute("UPDATE temp_user SET status = ?, updated = ? WHERE code = ?", (status, store.now(), code))
