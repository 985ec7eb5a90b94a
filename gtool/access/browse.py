"""Browsing users a page at a time, for a screen that must show the first rows fast on 100,000 users.

Two sources, picked from what the credential may do (`Capabilities`):

* a Grafana server admin searches every user: ``GET /api/users/search`` (1-based pages);
* anyone else (an org admin, a Cloud service account) lists the members of its org:
  ``GET /api/org/users/search`` — which also carries each member's role and ``isExternallySynced``.

Grafana's search only filters on text. The other facets of `gtool.access.query` are applied here, to each page
Grafana returns; with a facet set, larger server pages are scanned until a screenful matches, and the
`BrowsePage` says how far the scan went so the screen can say "scanned 3,000 of 100,000".

Whether a global search hit is externally synced is not in ``/api/users/search``. Grafana decides it from the
user's auth module alone (``hs.isExternallySynced(cfg, authModule)``), so one ``GET /api/users/:id`` per auth
label answers it for every user with that label: `SyncedLabels` caches that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

from gtool.access.query import Facts, UserQuery, matches
from gtool.grafana.aclient import AsyncGrafanaClient
from gtool.grafana.errors import GrafanaError
from gtool.grafana.models import OrgUser, UserOrg, UserSearchHit
from gtool.grafana.paging import MAX_PER_PAGE, Page

PAGE_SIZE = 100
"""Rows per screen page: the table never holds more, so paint and memory stay flat on any instance."""

SCAN_PAGE = MAX_PER_PAGE
"""Server page size while a facet filters on our side: fewer round trips for the same rows."""

MAX_SCAN = 20
"""Server pages one filtered screen page may read before it shows what it has (and offers more)."""


@dataclass(frozen=True)
class UserRow:
    """One row of the users screen, from either source."""

    id: int
    login: str
    email: str = ""
    name: str = ""
    is_admin: bool | None = None  # None: not known (an org member list does not say)
    is_disabled: bool = False
    auth_labels: tuple[str, ...] = ()
    synced: bool | None = None  # None: not known yet
    last_seen_at: datetime | None = None
    last_seen_age: str = ""
    role: str | None = None  # the role in the listed org (org member lists only)
    orgs: tuple[UserOrg, ...] | None = None  # None: not loaded yet

    @classmethod
    def from_hit(cls, hit: UserSearchHit) -> UserRow:
        return cls(
            id=hit.id,
            login=hit.login,
            email=hit.email,
            name=hit.name,
            is_admin=hit.is_admin,
            is_disabled=hit.is_disabled,
            auth_labels=hit.auth_labels,
            last_seen_at=hit.last_seen_at,
            last_seen_age=hit.last_seen_at_age,
        )

    @classmethod
    def from_member(cls, m: OrgUser) -> UserRow:
        return cls(
            id=m.user_id,
            login=m.login,
            email=m.email,
            name=m.name,
            is_disabled=m.is_disabled,
            auth_labels=m.auth_labels,
            # Grafana sets isExternallySynced only for users with an auth module; none means local
            synced=m.is_externally_synced,
            last_seen_at=m.last_seen_at,
            last_seen_age=m.last_seen_at_age,
            role=m.role,
        )

    def facts(self) -> Facts:
        return Facts(
            is_admin=self.is_admin,
            is_disabled=self.is_disabled,
            auth_labels=self.auth_labels,
            synced=self.synced,
            last_seen_at=self.last_seen_at,
            role=self.role,
        )


@dataclass(frozen=True)
class Cursor:
    """Where a screen page starts: a server page and how many of its rows were already shown."""

    server_page: int = 1
    offset: int = 0


@dataclass(frozen=True)
class BrowsePage:
    """One screen page of rows, and what the screen needs to page on and to say where it is."""

    rows: tuple[UserRow, ...]
    start: Cursor
    next: Cursor | None  # None: nothing after this page
    total: int | None  # matches of the text query on the server (before our facets)
    scanned: int  # server rows read to build this page, facets applied
    scope: str  # "all users" or "members of org N"
    filtered: bool


@dataclass
class SyncedLabels:
    """Whether users with an auth label are externally synced, learned once per label (see module doc)."""

    known: dict[str, bool] = field(default_factory=dict)

    def of(self, labels: tuple[str, ...]) -> bool | None:
        if not labels:
            return False  # a local user: nothing syncs its role
        return self.known.get(labels[0])

    async def learn(self, client: AsyncGrafanaClient, rows: Iterable[UserRow]) -> None:
        """Ask Grafana about one user of each label not known yet, concurrently."""
        todo: dict[str, int] = {}
        for row in rows:
            if row.auth_labels and row.auth_labels[0] not in self.known:
                todo.setdefault(row.auth_labels[0], row.id)

        async def ask(label: str, user_id: int) -> None:
            try:
                profile = await client.get_user(user_id)
            except GrafanaError:
                return  # unknown stays unknown: the row shows "?" instead of a guess
            self.known[label] = profile.is_externally_synced

        await asyncio.gather(*(ask(label, uid) for label, uid in todo.items()))


T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class UserBrowser:
    """Pages of users for one connection; `page` is what a screen calls on every keystroke or page key."""

    client: AsyncGrafanaClient
    global_search: bool  # True: /api/users/search (a Grafana server admin); False: the org's members
    org_id: int | None = None
    page_size: int = PAGE_SIZE
    synced: SyncedLabels = field(default_factory=SyncedLabels)
    clock: Callable[[], datetime] | None = None  # None: the wall clock (looked up at each call)

    @property
    def scope(self) -> str:
        if self.global_search:
            return "all users"
        return f"members of org {self.org_id}" if self.org_id is not None else "members of the current org"

    async def _fetch(self, query: str, page: int, per_page: int) -> Page[UserRow]:
        if self.global_search:
            hits = await self.client.search_users(query, page=page, per_page=per_page)
            return _mapped(hits, UserRow.from_hit)
        members = await self.client.org_users(self.org_id, query, page=page, per_page=per_page)
        return _mapped(members, UserRow.from_member)

    async def page(self, query: UserQuery, start: Cursor = Cursor()) -> BrowsePage:
        """The screen page of `query` starting at `start`."""
        if not query.has_filters:
            return await self._plain(query, start)
        return await self._scan(query, start)

    async def _plain(self, query: UserQuery, start: Cursor) -> BrowsePage:
        got = await self._fetch(query.text, start.server_page, self.page_size)
        rows = await self._with_synced(got.items)
        more = len(got.items) >= self.page_size and (
            got.total_count is None or start.server_page * self.page_size < got.total_count
        )
        following = Cursor(start.server_page + 1) if more else None
        return BrowsePage(rows, start, following, got.total_count, len(rows), self.scope, False)

    async def _scan(self, query: UserQuery, start: Cursor) -> BrowsePage:
        """Read SCAN_PAGE-sized server pages until a screenful matches; the cursor remembers mid-page."""
        rows: list[UserRow] = []
        scanned, total = 0, None
        server_page, offset = start.server_page, start.offset
        now = (self.clock or _now)()
        for _ in range(MAX_SCAN):
            got = await self._fetch(query.text, server_page, SCAN_PAGE)
            total = got.total_count
            batch = await self._with_synced(got.items[offset:])
            for i, row in enumerate(batch):
                if matches(query, row.facts(), now):
                    rows.append(row)
                    if len(rows) == self.page_size:
                        scanned += i + 1
                        return BrowsePage(
                            tuple(rows),
                            start,
                            _scan_cursor(server_page, offset + i + 1),
                            total,
                            scanned,
                            self.scope,
                            True,
                        )
            scanned += len(batch)
            if len(got.items) < SCAN_PAGE:
                return BrowsePage(tuple(rows), start, None, total, scanned, self.scope, True)
            server_page, offset = server_page + 1, 0
        return BrowsePage(tuple(rows), start, _scan_cursor(server_page, 0), total, scanned, self.scope, True)

    async def _with_synced(self, rows: Sequence[UserRow]) -> tuple[UserRow, ...]:
        if not self.global_search:
            return tuple(rows)
        await self.synced.learn(self.client, rows)
        return tuple(replace(r, synced=self.synced.of(r.auth_labels)) for r in rows)

    async def orgs_of(self, rows: Sequence[UserRow], concurrency: int = 8) -> dict[int, tuple[UserOrg, ...]]:
        """Each row's org memberships (``GET /api/users/:id/orgs``), fetched `concurrency` at a time.

        Rows whose lookup fails are left out: the screen keeps showing "…" for them rather than a guess.
        """
        gate = asyncio.Semaphore(concurrency)
        found: dict[int, tuple[UserOrg, ...]] = {}

        async def one(row: UserRow) -> None:
            async with gate:
                with contextlib.suppress(GrafanaError):
                    found[row.id] = tuple(await self.client.user_orgs(row.id))

        await asyncio.gather(*(one(r) for r in rows))
        return found


def _scan_cursor(server_page: int, offset: int) -> Cursor:
    if offset >= SCAN_PAGE:
        return Cursor(server_page + 1, 0)
    return Cursor(server_page, offset)


def _mapped(page: Page[T], convert: Callable[[T], UserRow]) -> Page[UserRow]:
    return Page(
        tuple(convert(x) for x in page.items),
        page.page,
        page.per_page,
        page.total_count,
        page.first_page,
    )
