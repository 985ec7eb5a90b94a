"""Team data access for the teams routes: search, members, team-sync groups (contract §6).

Functions take the :class:`~gtool.sandbox.store.Store` and run inside its ``transaction()`` so a check and
the write it guards are one atomic step (two concurrent "add member" calls cannot both pass the
"already a member" check). Creation of teams and the plain inserts reuse the store's own methods.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gtool.sandbox.store import Store, Team, User

PERMISSION_MEMBER = 0
PERMISSION_ADMIN = 4

_TEAM_COLUMNS = (
    "t.id, t.uid, t.org_id, t.name, t.email, t.external_uid, t.is_provisioned, t.created, t.updated"
)
_USER_COLUMNS = (
    "u.id, u.uid, u.login, u.email, u.name, u.theme, u.is_admin, u.is_disabled, u.is_service_account, "
    "u.is_provisioned, u.org_id, u.created, u.updated, u.last_seen_at"
)
_MEMBER_COUNT = "(SELECT COUNT(*) FROM team_member m WHERE m.team_id = t.id)"

# team/sortopts: query value -> SQL ordering term (memberCount sorts on the computed count).
SORT_COLUMNS = {
    "name": "t.name",
    "email": "t.email",
    "memberCount": _MEMBER_COUNT,
}


class TeamError(Exception):
    """A team operation refused for a reason the route turns into Grafana's answer."""


class TeamNotFound(TeamError):
    pass


class TeamNameTaken(TeamError):
    pass


class MemberAlreadyAdded(TeamError):
    pass


class MemberNotFound(TeamError):
    pass


class GroupAlreadyAdded(TeamError):
    pass


class GroupNotFound(TeamError):
    pass


@dataclass(frozen=True, slots=True)
class TeamHit:
    team: Team
    member_count: int


@dataclass(frozen=True, slots=True)
class TeamMember:
    user: User
    permission: int
    external: bool
    auth_module: str | None


@dataclass(frozen=True, slots=True)
class TeamGroup:
    org_id: int
    team_id: int
    group_id: str


def _team(row: Sequence[Any]) -> Team:
    return Team(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8])


def _user(row: Sequence[Any]) -> User:
    return User(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        bool(row[6]),
        bool(row[7]),
        bool(row[8]),
        bool(row[9]),
        row[10],
        row[11],
        row[12],
        row[13],
    )


def _find(db: sqlite3.Connection, org_id: int, team_id: int) -> Team | None:
    row = db.execute(
        f"SELECT {_TEAM_COLUMNS} FROM team t WHERE t.id = ? AND t.org_id = ?", (team_id, org_id)
    ).fetchone()
    return _team(row) if row else None


def get_team(store: Store, org_id: int, team_id: int) -> TeamHit | None:
    """A team of ``org_id`` with its member count (other orgs' teams are invisible, as in Grafana)."""
    with store.transaction() as db:
        row = db.execute(
            f"SELECT {_TEAM_COLUMNS}, {_MEMBER_COUNT} FROM team t WHERE t.id = ? AND t.org_id = ?",
            (team_id, org_id),
        ).fetchone()
    return TeamHit(_team(row[:9]), row[9]) if row else None


def team_id_by_uid(store: Store, org_id: int, uid: str) -> int | None:
    with store.transaction() as db:
        row = db.execute("SELECT id FROM team WHERE uid = ? AND org_id = ?", (uid, org_id)).fetchone()
    return int(row[0]) if row else None


def search_teams(
    store: Store,
    org_id: int,
    *,
    query: str = "",
    name: str = "",
    team_ids: Sequence[int] = (),
    visible_ids: Sequence[int] | None = None,
    order: Sequence[tuple[str, bool]] = (),
    limit: int = 1000,
    offset: int = 0,
) -> tuple[int, list[TeamHit]]:
    """``SearchTeams``: ``%query%`` on the name, exact ``name``, ``teamId`` filters, then the caller's
    visibility (``visible_ids`` None: every team). Ordered by ``order`` or by name. (total, page).
    """
    where = ["t.org_id = ?"]
    args: list[Any] = [org_id]
    if query:
        where.append("t.name LIKE ?")
        args.append(f"%{query}%")
    if name:
        where.append("t.name = ?")
        args.append(name)
    if team_ids:
        where.append(f"t.id IN ({','.join('?' * len(team_ids))})")
        args.extend(team_ids)
    if visible_ids is not None:
        where.append(f"t.id IN ({','.join('?' * len(visible_ids))})" if visible_ids else "0")
        args.extend(visible_ids)
    where_sql = " AND ".join(where)
    order_sql = ", ".join(f"{SORT_COLUMNS[c]} {'DESC' if d else 'ASC'}" for c, d in order) or "t.name ASC"
    with store.transaction() as db:
        total = db.execute(f"SELECT COUNT(*) FROM team t WHERE {where_sql}", args).fetchone()[0]
        rows = db.execute(
            f"SELECT {_TEAM_COLUMNS}, {_MEMBER_COUNT} FROM team t WHERE {where_sql} "
            f"ORDER BY {order_sql}, t.id ASC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
    return total, [TeamHit(_team(r[:9]), r[9]) for r in rows]


def create_team(store: Store, org_id: int, name: str, email: str, *, admin_user_id: int | None) -> Team:
    """``CreateTeam`` plus the creator as team Admin (a user caller; tokens add nobody)."""
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM team WHERE org_id = ? AND name = ?", (org_id, name)).fetchone():
            raise TeamNameTaken()
        team = store.create_team(org_id, name, email)
        if admin_user_id is not None:
            store.add_team_member(team.id, admin_user_id, permission=PERMISSION_ADMIN)
    return team


def members(store: Store, org_id: int, team_id: int) -> list[TeamMember]:
    """``GetTeamMembers``: by login then email; the newest auth module of each member."""
    with store.transaction() as db:
        rows = db.execute(
            f"SELECT {_USER_COLUMNS}, tm.permission, tm.external, "
            "(SELECT a.auth_module FROM user_auth a WHERE a.user_id = u.id "
            "ORDER BY a.created DESC, a.id DESC LIMIT 1) "
            'FROM team_member tm JOIN "user" u ON u.id = tm.user_id '
            "WHERE tm.org_id = ? AND tm.team_id = ? ORDER BY u.login ASC, u.email ASC, u.id ASC",
            (org_id, team_id),
        ).fetchall()
    return [TeamMember(_user(r[:14]), r[14], bool(r[15]), r[16]) for r in rows]


def user_permissions(store: Store, org_id: int, user_id: int) -> dict[int, int]:
    """team id -> the user's permission (0 Member, 4 Admin) for every team of ``org_id`` they are in."""
    with store.transaction() as db:
        rows = db.execute(
            "SELECT team_id, permission FROM team_member WHERE org_id = ? AND user_id = ?", (org_id, user_id)
        ).fetchall()
    return {int(t): int(p) for t, p in rows}


def add_member(store: Store, org_id: int, team_id: int, user_id: int, permission: int) -> None:
    """Add ``user_id`` (a user of ``org_id``); :class:`MemberAlreadyAdded` when they are in the team."""
    with store.transaction() as db:
        if _find(db, org_id, team_id) is None:
            raise TeamNotFound()
        if db.execute(
            "SELECT 1 FROM team_member WHERE team_id = ? AND user_id = ?", (team_id, user_id)
        ).fetchone():
            raise MemberAlreadyAdded()
        store.add_team_member(team_id, user_id, permission=permission)


def remove_member(store: Store, org_id: int, team_id: int, user_id: int) -> None:
    with store.transaction() as db:
        if _find(db, org_id, team_id) is None:
            raise TeamNotFound()
        cur = db.execute("DELETE FROM team_member WHERE team_id = ? AND user_id = ?", (team_id, user_id))
        if cur.rowcount == 0:
            raise MemberNotFound()


def is_provisioned(store: Store, org_id: int, team_id: int) -> bool:
    with store.transaction() as db:
        team = _find(db, org_id, team_id)
    return team is not None and team.is_provisioned


def groups(store: Store, org_id: int, team_id: int) -> list[TeamGroup]:
    """The team's external (team-sync) groups, in the order they were added."""
    with store.transaction() as db:
        if _find(db, org_id, team_id) is None:
            raise TeamNotFound()
        rows = db.execute(
            "SELECT org_id, team_id, group_id FROM team_group WHERE team_id = ? ORDER BY id", (team_id,)
        ).fetchall()
    return [TeamGroup(*r) for r in rows]


def add_group(store: Store, org_id: int, team_id: int, group_id: str) -> None:
    with store.transaction() as db:
        if _find(db, org_id, team_id) is None:
            raise TeamNotFound()
        if db.execute(
            "SELECT 1 FROM team_group WHERE team_id = ? AND group_id = ?", (team_id, group_id)
        ).fetchone():
            raise GroupAlreadyAdded()
        store.add_team_group(team_id, group_id)


def remove_group(store: Store, org_id: int, team_id: int, group_id: str) -> None:
    with store.transaction() as db:
        if _find(db, org_id, team_id) is None:
            raise TeamNotFound()
        cur = db.execute("DELETE FROM team_group WHERE team_id = ? AND group_id = ?", (team_id, group_id))
        if cur.rowcount == 0:
            raise GroupNotFound()
