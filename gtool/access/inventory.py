"""Who has access to what: every user, org, membership and team (with its external groups), exported.

`collect` lists users and orgs and reads each org (its members, its teams and their synced groups)
with a bounded number of requests in flight over the one synchronous client, each request sent as soon
as the answer it depends on is in; `progress` is called after each org. Team groups are an Enterprise
feature: on OSS (404) or without permission (403) they are left unknown (``None``), never guessed.
`to_json` and `to_csv` export it with a fixed column order and nothing secret: no avatars, no tokens,
no passwords, no invite codes.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import heapq
import io
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import NotFound, PermissionDenied
from gtool.grafana.models import Org, OrgUser, Team, UserSearchHit
from gtool.grafana.paging import MAX_PER_PAGE, Page

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


def _later(page: Page[Any]) -> int:
    """The chain length of the pages after `page`: with a total they are all queued at once and nothing
    follows them; without one, each unlocks the next."""
    return 1 if page.total_count is not None else 2


def _next_pages(page: Page[Any]) -> range:
    """The pages to ask for once `page` is in: all the rest when it is the first and ``totalCount`` says
    how many; without a total, only the next, and only after a full page (read on one at a time)."""
    if page.total_count is not None:
        return page.following_pages() if page.page == page.first_page else range(0)
    return range(page.page + 1, page.page + 2) if len(page) and len(page) == page.per_page else range(0)


class _Requests:
    """At most `workers` requests at once, on as many threads: the queued one heading the longest chain
    first, and among equals, heavy ones first but on at most half the workers.

    A job is one request plus what its answer unlocks: it queues the requests that depend on it as soon
    as it has read the answer, so no worker idles while a request is known. A heavy request (a page of
    up to 1,000 users) costs the server and this process a few ms of CPU each, a light one (a team's
    groups) almost nothing: heavy ones alone queue for the CPUs (the server's, and this process's one
    at a time under the GIL) while light ones alone leave the CPUs idle through the waits. Mixed, both
    stay busy; heavy first, so that the last answers are quick to read. The first error stops the rest:
    queued jobs are dropped and `wait` raises it.
    """

    def __init__(self, workers: int) -> None:
        self._cond = threading.Condition()
        # per kind (light, heavy): (-chain length, order, job)
        self._queues: tuple[list[_Job], list[_Job]] = ([], [])
        self._running = [0, 0]
        self._order = itertools.count()
        self._workers = workers
        self._closed = False
        self.error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"gtool-inventory-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, chain: int, job: Callable[[], None], *, heavy: bool = False) -> None:
        """Queue `job`; `chain` counts it and the requests that can only follow it (one after another)."""
        with self._cond:
            if not self._closed and self.error is None:
                heapq.heappush(self._queues[heavy], (-chain, next(self._order), job))
                self._cond.notify()

    def wait(self, ready: Callable[[], bool]) -> None:
        """Block until `ready()` holds (checked under the lock), or raise the first job's error."""
        with self._cond:
            while True:
                if self.error is not None:
                    raise self.error
                if ready():
                    return
                self._cond.wait()

    def changed(self) -> None:
        """Wake `wait`ers: call under `lock` after changing what their `ready` reads."""
        self._cond.notify_all()

    @property
    def lock(self) -> threading.Condition:
        return self._cond

    def close(self) -> None:
        """Drop what is queued and let the workers finish the requests they are in."""
        with self._cond:
            self._closed = True
            for q in self._queues:
                q.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join()

    def _pick(self) -> bool:
        """Which kind to run next (True: heavy); only called with both or either queue non-empty."""
        light, heavy = self._queues
        if not light or not heavy:
            return bool(heavy)
        if light[0][0] != heavy[0][0]:
            return heavy[0][0] < light[0][0]  # the longer chain first
        return self._running[1] < (self._workers + 1) // 2

    def _work(self) -> None:
        while True:
            with self._cond:
                while not (self._queues[0] or self._queues[1]) and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                kind = self._pick()
                job = heapq.heappop(self._queues[kind])[2]
                self._running[kind] += 1
            try:
                job()
            except BaseException as exc:  # handed to the caller's thread by `wait`
                with self._cond:
                    if self.error is None:
                        self.error = exc
                    for q in self._queues:
                        q.clear()
                    self._cond.notify_all()
            finally:
                with self._cond:
                    self._running[kind] -= 1


_Job = tuple[int, int, Callable[[], None]]


@dataclass
class _OrgState:
    """One org being read: its pages as they come in, and how many of its requests are still out."""

    org: Org
    members: list[Page[OrgUser]] = field(default_factory=list)
    teams: list[Page[Team]] = field(default_factory=list)
    groups: dict[int, tuple[str, ...] | None] = field(default_factory=dict)
    outstanding: int = 0
    part: _OrgPart | None = None


class _Collection:
    """The requests of one inventory and what they unlock.

    Chains, longest first: orgs → an org's teams → each team's groups (3); users page 1 → the other
    pages, an org's members page 1 → its other pages (2); any later page, a team's groups (1).
    """

    def __init__(self, client: GrafanaClient, requests: _Requests, *, per_page: int, teams: bool) -> None:
        self.client = client
        self.requests = requests
        self.per_page = per_page
        self.with_teams = teams
        self.user_pages: list[tuple[int, list[UserRow]]] = []
        self.users_outstanding = 1
        self.users: tuple[UserRow, ...] | None = None
        self.orgs: dict[int, _OrgState] = {}
        self.orgs_listed = False

    def start(self) -> None:
        self.requests.submit(3, self._list_orgs)
        self.requests.submit(2, functools.partial(self._users_page, 1), heavy=True)

    # jobs: each reads one answer, then queues what it unlocks and counts itself done

    def _users_page(self, number: int) -> None:
        page = self.client.search_users(page=number, per_page=self.per_page)
        rows = [_user_row(u) for u in page]  # here, in the worker, while other requests are out
        with self.requests.lock:
            self.user_pages.append((number, rows))
            for p in _next_pages(page):
                self.users_outstanding += 1
                self.requests.submit(_later(page), functools.partial(self._users_page, p), heavy=True)
            self.users_outstanding -= 1
            if self.users_outstanding:
                return
        # the last page in: sort here, while the orgs are still being read
        in_order = (u for _, read in sorted(self.user_pages, key=lambda p: p[0]) for u in read)
        users = tuple(sorted(_unique(in_order, lambda u: u.id), key=lambda u: u.id))
        with self.requests.lock:
            self.users = users
            self.requests.changed()

    def _list_orgs(self) -> None:
        for org in self.client.iter_orgs():  # queue each org's reads as soon as its page is in
            state = _OrgState(org, outstanding=2 if self.with_teams else 1)
            with self.requests.lock:
                self.orgs[org.id] = state
                self.requests.submit(2, functools.partial(self._members_page, state, 1), heavy=True)
                if self.with_teams:
                    self.requests.submit(2, functools.partial(self._teams_page, state, 1))
        with self.requests.lock:
            self.orgs_listed = True
            self.requests.changed()

    def _members_page(self, state: _OrgState, number: int) -> None:
        page = self.client.org_users(state.org.id, page=number, per_page=self.per_page)
        with self.requests.lock:
            state.members.append(page)
            for p in _next_pages(page):
                state.outstanding += 1
                self.requests.submit(
                    _later(page), functools.partial(self._members_page, state, p), heavy=True
                )
        self._done(state)

    def _teams_page(self, state: _OrgState, number: int) -> None:
        page = self.client.search_teams(page=number, per_page=self.per_page, org_id=state.org.id)
        with self.requests.lock:
            known = {t.id for p in state.teams for t in p}
            state.teams.append(page)
            for p in _next_pages(page):
                state.outstanding += 1
                self.requests.submit(2, functools.partial(self._teams_page, state, p))
            for team in _unique(page, lambda t: t.id):
                if team.id not in known:
                    state.outstanding += 1
                    self.requests.submit(1, functools.partial(self._team_groups, state, team))
        self._done(state)

    def _team_groups(self, state: _OrgState, team: Team) -> None:
        groups = _groups(self.client, team)
        with self.requests.lock:
            state.groups[team.id] = groups
        self._done(state)

    def _done(self, state: _OrgState) -> None:
        """One request of `state`'s org answered; the last one assembles the org (in this worker)."""
        with self.requests.lock:
            state.outstanding -= 1
            if state.outstanding:
                return
        members = [m for page in sorted(state.members, key=lambda p: p.page) for m in page]
        found = [t for page in sorted(state.teams, key=lambda p: p.page) for t in page]
        part = _assemble(state.org, members, found, state.groups)
        # The rows hold what the export needs: free the models now, not in one sweep at the end.
        state.members.clear()
        state.teams.clear()
        del members, found
        with self.requests.lock:
            state.part = part
            self.requests.changed()

    # the caller's side

    def sorted_orgs(self) -> list[Org]:
        self.requests.wait(lambda: self.orgs_listed)
        return sorted((s.org for s in self.orgs.values()), key=lambda o: o.id)

    def part(self, org: Org) -> _OrgPart:
        state = self.orgs[org.id]
        self.requests.wait(lambda: state.part is not None)
        assert state.part is not None
        return state.part

    def all_users(self) -> tuple[UserRow, ...]:
        self.requests.wait(lambda: self.users is not None)
        assert self.users is not None
        return self.users


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while reading: the ~100,000 decoded dicts and models all live on and
    hold no cycles, yet each of them made the collector's passes longer (a fifth of the client's CPU)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:  # leave alone a freeze someone else made (before a fork)
            # What was read is the result and lives on: move it to the oldest generation at once (freeze
            # then unfreeze, both constant time) rather than have the next young pass walk all of it.
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def collect(
    client: GrafanaClient,
    *,
    workers: int = 8,
    teams: bool = True,
    progress: Callable[[Progress], None] | None = None,
) -> Inventory:
    """Read the whole inventory, with at most `workers` requests at once.

    A Grafana server admin sees every user and org. Any other credential (a Grafana Cloud service account
    token above all) gets 403 from ``/api/users`` and ``/api/orgs`` (contract §13.1), so the inventory is
    that of the credential's own org: its members are the users, with the Grafana Admin flag unknown
    (reported ``False``). `progress` is called in the caller's thread, org by org in id order.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if not client.capabilities().can_manage_users_globally:
        return _collect_own_org(client, teams=teams, progress=progress)
    with _gc_paused():
        requests = _Requests(workers)
        try:
            run = _Collection(client, requests, per_page=MAX_PER_PAGE, teams=teams)
            run.start()
            orgs = run.sorted_orgs()
            parts: list[_OrgPart] = []
            for done, org in enumerate(orgs, start=1):
                parts.append(run.part(org))
                if progress is not None:
                    progress(Progress(done, len(orgs), org))
            users = run.all_users()
        finally:
            requests.close()
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
