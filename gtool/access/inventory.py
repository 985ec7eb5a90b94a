"""Who has access to what: every user, org, membership and team (with its external groups), exported.

`collect` lists users and orgs, then reads each org (its members, its teams and their synced groups)
on a bounded thread pool over the one synchronous client; `progress` is called after each org. Team
groups are an Enterprise feature: on OSS (404) or without permission (403) they are left unknown
(``None``), never guessed. `to_json` and `to_csv` export it with a fixed column order and nothing
secret: no avatars, no tokens, no passwords, no invite codes.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import NotFound, PermissionDenied
from gtool.grafana.models import Org, OrgUser, Team, UserSearchHit
from gtool.grafana.paging import Page

Table = Literal["users", "orgs", "memberships", "teams"]


@dataclass(frozen=True)
class UserRow:
    id: int
    login: str
    email: str
    name: str
    is_grafana_admin: bool
    is_disabled: bool
    auth_labels: tuple[str, ...]
    last_seen_at: str


@dataclass(frozen=True)
class OrgRow:
    id: int
    name: str
    members: int
    teams: int


@dataclass(frozen=True)
class MembershipRow:
    org_id: int
    org_name: str
    user_id: int
    login: str
    email: str
    role: str
    auth_labels: tuple[str, ...]
    is_externally_synced: bool
    is_disabled: bool


@dataclass(frozen=True)
class TeamRow:
    org_id: int
    org_name: str
    team_id: int
    name: str
    email: str
    member_count: int
    external_groups: tuple[str, ...] | None  # None: unknown (OSS, or no permission to read them)


COLUMNS: dict[Table, tuple[str, ...]] = {
    "users": tuple(UserRow.__dataclass_fields__),
    "orgs": tuple(OrgRow.__dataclass_fields__),
    "memberships": tuple(MembershipRow.__dataclass_fields__),
    "teams": tuple(TeamRow.__dataclass_fields__),
}
"""The CSV header of each table, in the order written (the dataclass field order)."""


@dataclass(frozen=True)
class Inventory:
    users: tuple[UserRow, ...]
    orgs: tuple[OrgRow, ...]
    memberships: tuple[MembershipRow, ...]
    teams: tuple[TeamRow, ...]

    def table(self, name: Table) -> Sequence[UserRow | OrgRow | MembershipRow | TeamRow]:
        rows: Sequence[UserRow | OrgRow | MembershipRow | TeamRow] = getattr(self, name)
        return rows


@dataclass(frozen=True)
class Progress:
    """Reported after each org: `done` of `total` orgs read, and which one just finished."""

    done: int
    total: int
    org: Org


# --- collecting ------------------------------------------------------------------------------------------


_T = TypeVar("_T")


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _user_row(u: UserSearchHit) -> UserRow:
    return UserRow(
        u.id, u.login, u.email, u.name, u.is_admin, u.is_disabled, u.auth_labels, _iso(u.last_seen_at)
    )


def _groups(client: GrafanaClient, team: Team) -> tuple[str, ...] | None:
    try:
        return tuple(sorted(g.group_id for g in client.team_groups(team.id, org_id=team.org_id)))
    except (NotFound, PermissionDenied):
        return None


@dataclass(frozen=True)
class _OrgPart:
    org: OrgRow
    memberships: tuple[MembershipRow, ...]
    teams: tuple[TeamRow, ...]


def _assemble(
    org: Org, listed: Iterable[OrgUser], found: Sequence[Team], groups: Mapping[int, tuple[str, ...] | None]
) -> _OrgPart:
    members = tuple(
        MembershipRow(
            org.id,
            org.name,
            m.user_id,
            m.login,
            m.email,
            m.role,
            m.auth_labels,
            m.is_externally_synced,
            m.is_disabled,
        )
        for m in sorted(_unique(listed, lambda m: m.user_id), key=lambda m: m.user_id)
    )
    teams = tuple(
        TeamRow(org.id, org.name, t.id, t.name, t.email, t.member_count, groups.get(t.id))
        for t in sorted(_unique(found, lambda t: t.id), key=lambda t: t.id)
    )
    return _OrgPart(OrgRow(org.id, org.name, len(members), len(teams)), members, teams)


def _members_page(client: GrafanaClient, org_id: int, per_page: int, page: int) -> Page[OrgUser]:
    return client.org_users(org_id, page=page, per_page=per_page)


def _teams_page(client: GrafanaClient, org_id: int, per_page: int, page: int) -> Page[Team]:
    return client.search_teams(page=page, per_page=per_page, org_id=org_id)


def _unique(items: Iterable[_T], key: Callable[[_T], int]) -> list[_T]:
    # Pages read concurrently can overlap when the server changes between reads: keep one of each.
    seen: dict[int, _T] = {}
    for item in items:
        seen.setdefault(key(item), item)
    return list(seen.values())


def _read_org(
    client: GrafanaClient, org: Org, with_teams: bool, *, known: Sequence[OrgUser] | None = None
) -> _OrgPart:
    # known: members already read (the own-org inventory of the Cloud gap reads them only once)
    listed = list(client.iter_org_users(org.id)) if known is None else known
    found = list(client.iter_teams(org_id=org.id)) if with_teams else []
    return _assemble(org, listed, found, {t.id: _groups(client, t) for t in found})


def _all_pages(
    pool: ThreadPoolExecutor, first: Page[_T], fetch: Callable[[int], Page[_T]]
) -> list[Future[Page[_T]]]:
    """Futures for the pages after `first`: all at once when ``totalCount`` says how many there are."""
    if first.total_count is not None:
        return [pool.submit(fetch, p) for p in first.following_pages()]
    # No total: only a full page means there may be more; read on one page at a time (rare).
    pages: list[Page[_T]] = []
    page = first
    while len(page) == page.per_page and len(page):
        page = fetch(page.page + 1)
        pages.append(page)
    done: list[Future[Page[_T]]] = []
    for p in pages:
        f: Future[Page[_T]] = Future()
        f.set_result(p)
        done.append(f)
    return done


def collect(
    client: GrafanaClient,
    *,
    workers: int = 8,
    teams: bool = True,
    progress: Callable[[Progress], None] | None = None,
) -> Inventory:
    """Read the whole inventory. At most `workers` orgs are read at once.

    A Grafana server admin sees every user and org. Any other credential (a Grafana Cloud service account
    token above all) gets 403 from ``/api/users`` and ``/api/orgs`` (contract §13.1), so the inventory is
    that of the credential's own org: its members are the users, with the Grafana Admin flag unknown
    (reported ``False``).
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if not client.capabilities().can_manage_users_globally:
        return _collect_own_org(client, teams=teams, progress=progress)
    # Every page of every listing goes to one pool as soon as it is known, so a big org or the user list
    # does not read its pages one after another while the other workers wait.
    per_page = 1000
    with ThreadPoolExecutor(max_workers=workers) as pool:
        users_first = pool.submit(client.search_users, page=1, per_page=per_page)
        orgs = sorted(client.iter_orgs(), key=lambda o: o.id)
        members_first = {o.id: pool.submit(client.org_users, o.id, page=1, per_page=per_page) for o in orgs}
        teams_first = {
            o.id: pool.submit(client.search_teams, page=1, per_page=per_page, org_id=o.id)
            for o in orgs
            if teams
        }
        first_users = users_first.result()
        user_pages = _all_pages(pool, first_users, lambda p: client.search_users(page=p, per_page=per_page))
        member_pages: dict[int, tuple[Page[OrgUser], list[Future[Page[OrgUser]]]]] = {}
        for org in orgs:
            first = members_first[org.id].result()
            member_pages[org.id] = (
                first,
                _all_pages(pool, first, functools.partial(_members_page, client, org.id, per_page)),
            )
        org_teams: dict[int, list[Team]] = {}
        group_futures: dict[int, Future[tuple[str, ...] | None]] = {}
        for org in orgs if teams else []:
            first_teams = teams_first[org.id].result()
            more = _all_pages(
                pool,
                first_teams,
                functools.partial(_teams_page, client, org.id, per_page),
            )
            found = list(first_teams) + [t for f in more for t in f.result()]
            org_teams[org.id] = found
            for t in found:
                group_futures[t.id] = pool.submit(_groups, client, t)
        users = tuple(
            sorted(
                _unique(
                    (_user_row(u) for page in [first_users, *(f.result() for f in user_pages)] for u in page),
                    lambda u: u.id,
                ),
                key=lambda u: u.id,
            )
        )
        parts: list[_OrgPart] = []
        for done, org in enumerate(orgs, start=1):
            first, more_members = member_pages[org.id]
            listed = list(first) + [m for f in more_members for m in f.result()]
            found = org_teams.get(org.id, [])
            groups = {t.id: group_futures[t.id].result() for t in found}
            parts.append(_assemble(org, listed, found, groups))
            if progress is not None:
                progress(Progress(done, len(orgs), org))
    return Inventory(
        users=users,
        orgs=tuple(p.org for p in parts),
        memberships=tuple(m for p in parts for m in p.memberships),
        teams=tuple(t for p in parts for t in p.teams),
    )


def _member_user_row(m: OrgUser) -> UserRow:
    return UserRow(
        m.user_id, m.login, m.email, m.name, False, m.is_disabled, m.auth_labels, _iso(m.last_seen_at)
    )


def _collect_own_org(
    client: GrafanaClient, *, teams: bool, progress: Callable[[Progress], None] | None
) -> Inventory:
    # Cloud gap (contract §13.1): no global user or org listing for this credential, so one org is read.
    caps = client.capabilities()
    org = client.current_org(org_id=caps.org_id if not caps.is_service_account else None)
    # A token reads its members through /api/org/users/search, the route bound to its own org.
    members = list(client.iter_org_users(None if caps.is_service_account else org.id))
    part = _read_org(client, org, teams, known=members)
    if progress is not None:
        progress(Progress(1, 1, org))
    users = sorted({m.user_id: m for m in members}.values(), key=lambda m: m.user_id)
    return Inventory(
        users=tuple(_member_user_row(m) for m in users),
        orgs=(part.org,),
        memberships=part.memberships,
        teams=part.teams,
    )


# --- export ----------------------------------------------------------------------------------------------


def to_dict(inventory: Inventory) -> dict[str, list[dict[str, Any]]]:
    """The inventory as JSON-able lists, one per table, keys in `COLUMNS` order."""
    return {
        name: [
            {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(row).items()}
            for row in inventory.table(name)
        ]
        for name in COLUMNS
    }


def to_json(inventory: Inventory, *, indent: int | None = 2) -> str:
    return json.dumps(to_dict(inventory), indent=indent, ensure_ascii=False)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def to_csv(inventory: Inventory, table: Table = "memberships") -> str:
    """One table as CSV with a header row in `COLUMNS` order; lists are joined with ``;``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS[table])
    for row in inventory.table(table):
        writer.writerow([_cell(v) for v in asdict(row).values()])
    return out.getvalue()
