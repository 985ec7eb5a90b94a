"""Browsing users a page at a time (gtool/access/browse.py) against the sandbox app in-process.

The instance is generated (deterministic): 450 users, mostly SAML (synced under the Okta config), some LDAP,
local and auth-proxy users, so paging, facets and the per-label sync lookup all have something to do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import TypeVar

import httpx
import pytest

from gtool.access.browse import PAGE_SIZE, BrowsePage, Cursor, UserBrowser
from gtool.access.query import parse
from gtool.grafana import BasicAuth
from gtool.grafana.aclient import AsyncGrafanaClient
from gtool.grafana.retry import NO_RETRY
from gtool.sandbox.app import create_app, load_config, store_options
from gtool.sandbox.generate import generate
from gtool.sandbox.store import Store
from tests.access.conftest import OKTA

T = TypeVar("T")
NOW = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)
USERS = 450


class Counting(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


@pytest.fixture(scope="module")
def app() -> Iterator[object]:
    config = load_config(OKTA, env={})
    store = Store(":memory:", clock=lambda: NOW.timestamp(), **store_options(config))
    store.load_seed(generate(USERS, 5, 10, now=NOW))
    yield create_app(store, config=config, cloud=False, version="12.3.0", edition="Enterprise")
    store.close()


def run(app: object, coro_of: object, *, login: str = "admin", password: str = "admin") -> object:
    async def main() -> object:
        transport = Counting(httpx.ASGITransport(app=app))  # type: ignore[arg-type]
        async with AsyncGrafanaClient(
            "http://sandbox", BasicAuth(login, password), transport=transport, retry=NO_RETRY
        ) as client:
            return await coro_of(client, transport)  # type: ignore[operator]

    return asyncio.run(main())


def browser(client: AsyncGrafanaClient, **kw: object) -> UserBrowser:
    return UserBrowser(client, global_search=True, clock=lambda: NOW, **kw)  # type: ignore[arg-type]


async def all_pages(b: UserBrowser, text: str) -> list[BrowsePage]:
    pages = [await b.page(parse(text))]
    while pages[-1].next is not None:
        pages.append(await b.page(parse(text), pages[-1].next))
    return pages


def test_plain_pages_cover_every_user_once_with_server_totals(app: object) -> None:
    async def go(client: AsyncGrafanaClient, t: Counting) -> list[BrowsePage]:
        return await all_pages(browser(client), "")

    pages: list[BrowsePage] = run(app, go)  # type: ignore[assignment]
    ids = [r.id for p in pages for r in p.rows]
    assert len(ids) == len(set(ids)) == USERS
    assert [len(p.rows) for p in pages] == [PAGE_SIZE] * 4 + [USERS - 4 * PAGE_SIZE]
    assert all(p.total == USERS and not p.filtered for p in pages)


def test_facets_are_applied_across_server_pages_and_match_a_full_scan(app: object) -> None:
    query = "synced:yes admin:no seen>30d"

    async def go(client: AsyncGrafanaClient, t: Counting) -> tuple[list[BrowsePage], list[int]]:
        pages = await all_pages(browser(client), query)
        # the truth, the slow way: every user, then Grafana's own per-user answer for "synced"
        expected = []
        async for hit in client.iter_users():
            profile = await client.get_user(hit.id)
            age = NOW - hit.last_seen_at if hit.last_seen_at else None
            if (
                profile.is_externally_synced
                and not hit.is_admin
                and (age is None or age > dt.timedelta(days=30))
            ):
                expected.append(hit.id)
        return pages, expected

    pages, expected = run(app, go)  # type: ignore[misc]
    got = [r.id for p in pages for r in p.rows]
    assert expected, "the generated instance should have synced, non-admin, stale users"
    assert sorted(got) == sorted(expected)
    assert all(p.filtered for p in pages)


def test_synced_is_learned_once_per_auth_label(app: object) -> None:
    async def go(client: AsyncGrafanaClient, t: Counting) -> tuple[BrowsePage, list[str]]:
        page = await browser(client).page(parse(""))
        return page, t.paths

    page, paths = run(app, go)  # type: ignore[misc]
    labels = {r.auth_labels[0] for r in page.rows if r.auth_labels}
    lookups = [p for p in paths if p.startswith("/api/users/") and p != "/api/users/search"]
    assert len(lookups) == len(labels)  # one GET /api/users/:id per label, not per row
    by_label = {r.auth_labels[0]: r.synced for r in page.rows if r.auth_labels}
    assert by_label.get("SAML") is True  # [auth.saml] syncs roles in the Okta sample
    assert by_label.get("LDAP") is False  # no [auth.ldap]: LDAP users are not synced
    assert all(r.synced is False for r in page.rows if not r.auth_labels)


def test_org_members_carry_role_and_filter_on_it(app: object) -> None:
    async def go(client: AsyncGrafanaClient, t: Counting) -> list[BrowsePage]:
        b = UserBrowser(client, global_search=False, org_id=1, clock=lambda: NOW)
        return await all_pages(b, "role:Editor")

    pages: list[BrowsePage] = run(app, go)  # type: ignore[assignment]
    rows = [r for p in pages for r in p.rows]
    assert rows and all(r.role == "Editor" for r in rows)
    assert pages[0].scope == "members of org 1"


def test_orgs_of_fills_memberships(app: object) -> None:
    async def go(client: AsyncGrafanaClient, t: Counting) -> tuple[BrowsePage, dict[int, object]]:
        b = browser(client)
        page = await b.page(parse("admin"))
        return page, await b.orgs_of(page.rows)

    page, orgs = run(app, go)  # type: ignore[misc]
    admin = next(r for r in page.rows if r.login == "admin")
    assert {o.name for o in orgs[admin.id]} >= {"Main Org."}  # type: ignore[attr-defined]


def test_a_stale_cursor_past_the_end_gives_an_empty_last_page(app: object) -> None:
    async def go(client: AsyncGrafanaClient, t: Counting) -> BrowsePage:
        return await browser(client).page(parse(""), Cursor(server_page=99))

    page: BrowsePage = run(app, go)  # type: ignore[assignment]
    assert page.rows == () and page.next is None
