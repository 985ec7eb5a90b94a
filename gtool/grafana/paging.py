"""Paging through Grafana's list endpoints, each the way it really pages (contract §10).

| endpoint                                   | first page | shape                                   |
|--------------------------------------------|-----------:|-----------------------------------------|
| ``GET /api/orgs``                          | **0**      | bare array (offset = perpage × page)    |
| ``GET /api/users/search``                  | 1          | ``{"totalCount","users","page","perPage"}`` |
| ``GET /api/org/users/search``              | 1          | ``{"totalCount","orgUsers",…}``         |
| ``GET /api/orgs/:id/users/search``         | 1          | ``{"totalCount","orgUsers",…}``         |
| ``GET /api/teams/search``                  | 1          | ``{"totalCount","teams",…}``            |
| ``GET /api/serviceaccounts/search``        | 1          | ``{"totalCount","serviceAccounts",…}``  |

`PageCursor` decides which page comes next and when to stop; the clients feed it pages (``iterate`` /
``aiterate``). It stops at the first of: an empty page; a short page (fewer items than the page size
Grafana echoed, or than requested); ``totalCount`` items seen; a page that brought nothing new (a server
or proxy that ignores ``page`` would otherwise loop forever); ``max_pages``. It never stops after the
first page just because it was the first. Items are de-duplicated by key: ``/api/orgs`` has no ORDER BY,
so offset paging may repeat an org across pages.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from gtool.grafana.models import ModelError, array, obj

T = TypeVar("T")

MAX_PER_PAGE = 1000
"""Grafana's default page size for every search; none of them caps it, gtool does not ask for more."""


@dataclass(frozen=True)
class PageScheme:
    """How one endpoint pages: its first page number and where the items and total live."""

    endpoint: str
    first_page: int
    items_key: str | None  # None: the body is a bare array
    total_key: str | None = None


ORGS = PageScheme("/api/orgs", 0, None)
USERS_SEARCH = PageScheme("/api/users/search", 1, "users", "totalCount")
ORG_USERS_SEARCH = PageScheme("/api/orgs/:id/users/search", 1, "orgUsers", "totalCount")
TEAMS_SEARCH = PageScheme("/api/teams/search", 1, "teams", "totalCount")
SERVICE_ACCOUNTS_SEARCH = PageScheme("/api/serviceaccounts/search", 1, "serviceAccounts", "totalCount")


def check_per_page(per_page: int) -> int:
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    return per_page


def check_page(scheme: PageScheme, page: int) -> int:
    if page < scheme.first_page:
        raise ValueError(f"{scheme.endpoint} pages start at {scheme.first_page}, not {page}")
    return page


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results. ``page`` is the page number asked for; ``per_page`` the effective page size."""

    items: tuple[T, ...]
    page: int
    per_page: int
    total_count: int | None = None
    first_page: int = 1

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def last_page(self) -> int | None:
        """The number of the last page, when ``totalCount`` tells it."""
        if self.total_count is None:
            return None
        pages = max(1, math.ceil(self.total_count / self.per_page))
        return self.first_page + pages - 1

    def following_pages(self) -> range:
        """The pages after this one (known only with ``totalCount``), e.g. to fetch them concurrently."""
        last = self.last_page
        return range(self.page + 1, (last if last is not None else self.page) + 1)


def parse_page(
    scheme: PageScheme, payload: object, *, page: int, per_page: int, item: Callable[[object], T]
) -> Page[T]:
    """A `Page` from one response body of `scheme`'s endpoint."""
    total: int | None = None
    effective = per_page
    if scheme.items_key is None:
        raw = array(payload, scheme.endpoint)
    else:
        d = obj(payload, scheme.endpoint)
        found = d.get(scheme.items_key)
        if found is None:
            raw = []
        elif isinstance(found, list):
            raw = found
        else:
            raise ModelError(f"{scheme.endpoint}: {scheme.items_key!r} is not an array")
        t = d.get(scheme.total_key) if scheme.total_key else None
        total = t if isinstance(t, int) and not isinstance(t, bool) and t >= 0 else None
        echoed = d.get("perPage")
        # A server that caps the page size says so here; the short-page rule must use its size.
        if isinstance(echoed, int) and not isinstance(echoed, bool) and 0 < echoed < per_page:
            effective = echoed
    return Page(tuple(item(x) for x in raw), page, effective, total, scheme.first_page)


class PageCursor(Generic[T]):
    """Which page to fetch next (``next_page``, ``None`` when done); `feed` returns the new items."""

    def __init__(
        self,
        scheme: PageScheme,
        key: Callable[[T], Hashable],
        *,
        first_page: int | None = None,
        max_pages: int = 100_000,
    ) -> None:
        self.scheme = scheme
        self.next_page: int | None = scheme.first_page if first_page is None else first_page
        self.count = 0
        self.pages = 0
        self.truncated = False
        self._key = key
        self._seen: set[Hashable] = set()
        self._max_pages = max_pages

    def feed(self, page: Page[T]) -> list[T]:
        fresh: list[T] = []
        for x in page.items:
            k = self._key(x)
            if k not in self._seen:
                self._seen.add(k)
                fresh.append(x)
        self.count += len(fresh)
        self.pages += 1
        done = (
            not page.items
            or len(page.items) < page.per_page
            or (page.total_count is not None and self.count >= page.total_count)
            or not fresh
        )
        if not done and self.pages >= self._max_pages:
            done = self.truncated = True
        self.next_page = None if done else page.page + 1
        return fresh


def iterate(fetch: Callable[[int], Page[T]], cursor: PageCursor[T]) -> Iterator[T]:
    """Every item, fetching page after page with `fetch(page_number)` until `cursor` says stop."""
    while cursor.next_page is not None:
        yield from cursor.feed(fetch(cursor.next_page))


async def aiterate(fetch: Callable[[int], Awaitable[Page[T]]], cursor: PageCursor[T]) -> AsyncIterator[T]:
    """The async twin of `iterate`."""
    while cursor.next_page is not None:
        for x in cursor.feed(await fetch(cursor.next_page)):
            yield x
