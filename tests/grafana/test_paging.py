"""Paging: each endpoint's base, every stop rule, and never "first page only"."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtool.grafana.models import ModelError, Org
from gtool.grafana.paging import (
    ORG_USERS_SEARCH,
    ORGS,
    TEAMS_SEARCH,
    USERS_SEARCH,
    Page,
    PageCursor,
    check_per_page,
    iterate,
    parse_page,
)
from tests.grafana import E1, E4, E12, FakeGrafana, paged_users, resp


def orgs_handler(total: int, *, ignore_page: bool = False, order: list[int] | None = None) -> object:
    """``GET /api/orgs``: 0-based offset paging (offset = perpage × page), bare array."""
    ids = order or list(range(1, total + 1))

    def handler(request: httpx.Request) -> httpx.Response:
        per = int(request.url.params.get("perpage", "1000"))
        page = 0 if ignore_page else int(request.url.params.get("page", "0"))
        return resp(200, [{"id": i, "name": f"org{i}"} for i in ids[per * page : per * (page + 1)]])

    return handler


def pages_asked(fake: FakeGrafana) -> list[str]:
    return [r.url.params["page"] for r in fake.requests]


# --- /api/orgs: 0-based -------------------------------------------------------------------------------


def test_orgs_start_at_page_zero_and_get_all() -> None:
    fake = FakeGrafana().on("GET", "/api/orgs", orgs_handler(5))
    orgs = fake.client().list_orgs(per_page=2)
    assert [o.id for o in orgs] == [1, 2, 3, 4, 5]
    assert pages_asked(fake) == ["0", "1", "2"]  # the last page is short: stop


def test_orgs_exact_multiple_needs_one_empty_page() -> None:
    fake = FakeGrafana().on("GET", "/api/orgs", orgs_handler(4))
    assert len(fake.client().list_orgs(per_page=2)) == 4
    assert pages_asked(fake) == ["0", "1", "2"]


def test_orgs_single_short_page() -> None:
    fake = FakeGrafana().on("GET", "/api/orgs", orgs_handler(3))
    assert len(fake.client().list_orgs()) == 3
    assert pages_asked(fake) == ["0"]
    assert fake.requests[0].url.params["perpage"] == "1000"


def test_orgs_server_ignoring_page_does_not_loop() -> None:
    fake = FakeGrafana().on("GET", "/api/orgs", orgs_handler(4, ignore_page=True))
    assert [o.id for o in fake.client().list_orgs(per_page=2)] == [1, 2]
    assert pages_asked(fake) == ["0", "1"]  # page 1 brought nothing new: stop


def test_orgs_duplicates_across_pages_are_dropped() -> None:
    # No ORDER BY in Grafana's org search: a shifting order can repeat an org on the next page.
    seq = [resp(200, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]), resp(200, [{"id": 2, "name": "b"}])]
    fake = FakeGrafana().on("GET", "/api/orgs", *seq)
    assert [o.id for o in fake.client().list_orgs(per_page=2)] == [1, 2]


def test_orgs_query_is_sent() -> None:
    fake = FakeGrafana().on("GET", "/api/orgs", resp(200, []))
    assert fake.client().list_orgs("Ma") == []
    assert fake.requests[0].url.params["query"] == "Ma"


# --- 1-based searches with totalCount ----------------------------------------------------------------


def test_users_search_is_one_based_and_stops_on_total() -> None:
    fake = FakeGrafana().on("GET", "/api/users/search", paged_users(4))
    assert [u.login for u in fake.client().iter_users(per_page=2)] == ["user1", "user2", "user3", "user4"]
    assert pages_asked(fake) == ["1", "2"]  # totalCount reached on a full page: no empty third request


def test_users_search_short_page_stops() -> None:
    fake = FakeGrafana().on("GET", "/api/users/search", paged_users(5))
    assert len(list(fake.client().iter_users(per_page=2))) == 5
    assert pages_asked(fake) == ["1", "2", "3"]


def test_users_search_empty() -> None:
    fake = FakeGrafana().on(
        "GET", "/api/users/search", resp(200, {"totalCount": 0, "users": [], "page": 1, "perPage": 1000})
    )
    assert list(fake.client().iter_users()) == []
    assert pages_asked(fake) == ["1"]


def test_users_search_null_users_is_empty() -> None:
    fake = FakeGrafana().on("GET", "/api/users/search", resp(200, {"totalCount": 0, "users": None}))
    assert list(fake.client().iter_users()) == []


def test_users_query_and_sort_are_server_side() -> None:
    fake = FakeGrafana().on("GET", "/api/users/search", paged_users(1))
    list(fake.client().iter_users("jane", sort="login-asc"))
    params = fake.requests[0].url.params
    assert (params["query"], params["sort"], params["perpage"], params["page"]) == (
        "jane",
        "login-asc",
        "1000",
        "1",
    )


def test_server_that_caps_page_size_is_followed() -> None:
    # Asked for 1000, the server gives 2 per page and says so in perPage: keep going, do not stop early.
    def capped(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        rows = [{"id": i, "login": f"u{i}"} for i in range(1, 6)][(page - 1) * 2 : page * 2]
        return resp(200, {"totalCount": 5, "users": rows, "page": page, "perPage": 2})

    fake = FakeGrafana().on("GET", "/api/users/search", capped)
    assert len(list(fake.client().iter_users())) == 5
    assert pages_asked(fake) == ["1", "2", "3"]


def test_org_users_search_by_id_and_current_org() -> None:
    fake = (
        FakeGrafana()
        .on("GET", "/api/orgs/7/users/search", paged_users(3))
        .on("GET", "/api/org/users/search", paged_users(2))
    )
    client = fake.client()
    assert [m.user_id for m in client.iter_org_users(7, per_page=2)] == [1, 2, 3]
    assert [m.user_id for m in client.iter_org_users(None)] == [1, 2]
    assert fake.calls() == [
        "GET /api/orgs/7/users/search",
        "GET /api/orgs/7/users/search",
        "GET /api/org/users/search",
    ]


def test_teams_and_service_accounts_page() -> None:
    def sas(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        rows = [{"id": i, "login": f"sa-{i}"} for i in range(1, 4)][(page - 1) * 2 : page * 2]
        return resp(200, {"totalCount": 3, "serviceAccounts": rows, "page": page, "perPage": 2})

    fake = (
        FakeGrafana()
        .on("GET", "/api/teams/search", resp(200, E12))
        .on("GET", "/api/serviceaccounts/search", sas)
    )
    client = fake.client()
    assert [t.name for t in client.iter_teams()] == ["SRE"]
    assert [s.login for s in client.iter_service_accounts(per_page=2)] == ["sa-1", "sa-2", "sa-3"]


# --- pure parts ----------------------------------------------------------------------------------------


def test_parse_page_e1_and_e4() -> None:
    p = parse_page(USERS_SEARCH, json.loads(E1), page=1, per_page=2, item=lambda x: x)
    assert p.total_count == 3 and len(p) == 2 and p.last_page == 2 and list(p.following_pages()) == [2]
    q = parse_page(ORG_USERS_SEARCH, json.loads(E4), page=2, per_page=1, item=lambda x: x)
    assert q.total_count == 2 and q.last_page == 2 and list(q.following_pages()) == []


def test_parse_page_rejects_wrong_shapes() -> None:
    with pytest.raises(ModelError):
        parse_page(ORGS, {"orgs": []}, page=0, per_page=10, item=Org.from_json)
    with pytest.raises(ModelError):
        parse_page(TEAMS_SEARCH, {"teams": "nope"}, page=1, per_page=10, item=Org.from_json)


def test_bare_array_page_has_no_known_last_page() -> None:
    p = parse_page(ORGS, [{"id": 1, "name": "a"}], page=0, per_page=10, item=Org.from_json)
    assert p.last_page is None and list(p.following_pages()) == []


def test_zero_based_last_page() -> None:
    assert Page((1,), page=0, per_page=2, total_count=5, first_page=0).last_page == 2


@pytest.mark.parametrize("bad", [0, -1, 1001])
def test_per_page_bounds(bad: int) -> None:
    with pytest.raises(ValueError):
        check_per_page(bad)


def test_page_below_first_is_rejected() -> None:
    fake = FakeGrafana()
    with pytest.raises(ValueError, match="start at 1"):
        fake.client().search_users(page=0)
    with pytest.raises(ValueError, match="start at 0"):
        fake.client().search_orgs(page=-1)


def test_max_pages_guard_marks_truncation() -> None:
    cursor: PageCursor[int] = PageCursor(USERS_SEARCH, lambda x: x, max_pages=2)

    def fetch(p: int) -> Page[int]:  # endless full pages
        return Page(tuple(range(p * 10, p * 10 + 10)), p, 10)

    assert len(list(iterate(fetch, cursor))) == 20
    assert cursor.truncated


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(0, 60), per_page=st.integers(1, 25), with_total=st.booleans(), zero_based=st.booleans()
)
def test_iteration_yields_everything_with_few_requests(
    total: int, per_page: int, with_total: bool, zero_based: bool
) -> None:
    first = 0 if zero_based else 1
    scheme = ORGS if zero_based else USERS_SEARCH
    asked: list[int] = []

    def fetch(page: int) -> Page[int]:
        asked.append(page)
        start = (page - first) * per_page
        items = tuple(range(start, min(start + per_page, total)))
        return Page(items, page, per_page, total if with_total else None, first)

    got = list(iterate(fetch, PageCursor(scheme, lambda x: x)))
    assert got == list(range(total))
    # ceil(total / per_page) requests; an exact multiple without totalCount costs one empty page more.
    expected = math.ceil(total / per_page) + (1 if total % per_page == 0 and not with_total else 0)
    assert len(asked) == max(1, expected)
    assert asked == list(range(first, first + len(asked)))
