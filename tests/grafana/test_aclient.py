"""The async client mirrors the sync one: same method names and signatures, same behaviour."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
import pytest

from gtool.grafana import (
    AmbiguousWrite,
    AsyncGrafanaClient,
    GrafanaClient,
    RoleLockedByExternalSync,
    TokenAuth,
)
from gtool.grafana.base import BaseGrafanaClient, MemberWithRole
from gtool.grafana.retry import RetryPolicy
from tests.grafana import E6, E11, E12, SA_USER, TOKEN, FakeGrafana, paged_users, resp

T = TypeVar("T")

# Lifecycle methods follow httpx's naming: close/aclose, __enter__/__aenter__.
RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def own_methods(cls: type) -> dict[str, Any]:
    """Methods defined on the client itself (not inherited from the shared base), public or dunder."""
    return {
        name: fn
        for name, fn in vars(cls).items()
        if callable(fn) and (not name.startswith("_") or name in RENAMED or name in RENAMED.values())
    }


def test_async_client_has_exactly_the_sync_methods() -> None:
    sync = {RENAMED.get(n, n) for n in own_methods(GrafanaClient)}
    assert sync == set(own_methods(AsyncGrafanaClient))
    assert issubclass(AsyncGrafanaClient, BaseGrafanaClient) and issubclass(GrafanaClient, BaseGrafanaClient)


@pytest.mark.parametrize(
    "name", sorted(n for n in own_methods(GrafanaClient) if n not in RENAMED and n != "__init__")
)
def test_async_method_mirrors_sync_signature(name: str) -> None:
    sync_fn, async_fn = getattr(GrafanaClient, name), getattr(AsyncGrafanaClient, name)
    if name.startswith("iter_"):
        assert inspect.isasyncgenfunction(async_fn), f"{name} should be an async generator"
    else:
        assert inspect.iscoroutinefunction(async_fn), f"{name} should be a coroutine"
    sync_params = [(p.name, p.kind, p.default) for p in inspect.signature(sync_fn).parameters.values()]
    async_params = [(p.name, p.kind, p.default) for p in inspect.signature(async_fn).parameters.values()]
    assert sync_params == async_params
    assert async_fn.__doc__, f"{name} has no docstring"


def test_constructors_take_the_same_options() -> None:
    def names(cls: type) -> list[str]:
        return [p.name for p in inspect.signature(cls.__init__).parameters.values()]  # type: ignore[misc]

    assert names(GrafanaClient) == names(AsyncGrafanaClient)


# --- behaviour ------------------------------------------------------------------------------------------


def test_async_paging_orgs_zero_based_and_users_one_based() -> None:
    def orgs(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return resp(200, [{"id": i, "name": f"o{i}"} for i in range(1, 4)][page * 2 : page * 2 + 2])

    fake = FakeGrafana().on("GET", "/api/orgs", orgs).on("GET", "/api/users/search", paged_users(3))

    async def go() -> tuple[list[int], list[str]]:
        async with fake.aclient() as client:
            org_ids = [o.id for o in await client.list_orgs(per_page=2)]
            logins = [u.login async for u in client.iter_users(per_page=2)]
            return org_ids, logins

    assert run(go()) == ([1, 2, 3], ["user1", "user2", "user3"])
    assert [r.url.params["page"] for r in fake.requests] == ["0", "1", "1", "2"]


def test_async_role_change_is_one_patch_and_maps_e6() -> None:
    fake = FakeGrafana().on("PATCH", "/api/orgs/1/users/2", resp(403, E6))
    with pytest.raises(RoleLockedByExternalSync):
        run(fake.aclient().update_org_user_role(1, 2, "Admin"))
    assert fake.calls() == ["PATCH /api/orgs/1/users/2"]


def test_async_retry_honours_retry_after_with_injected_sleep() -> None:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    fake = FakeGrafana().on("GET", "/api/health", resp(502, "", {"retry-after": "4"}), resp(200, E11))
    health = run(fake.aclient(sleep=sleep).health())
    assert health.ok and slept == [4.0]


def test_async_post_503_is_ambiguous_and_verifiable() -> None:
    fake = FakeGrafana().on("POST", "/api/orgs/1/users", resp(503, ""))
    fake.on(
        "GET",
        "/api/orgs/1/users/search",
        resp(
            200, {"totalCount": 1, "orgUsers": [{"orgId": 1, "userId": 2, "login": "jane", "role": "Viewer"}]}
        ),
    )

    async def go() -> bool:
        client = fake.aclient()
        try:
            await client.add_org_user(1, "jane", "Viewer")
        except AmbiguousWrite as err:
            assert err.expectation == MemberWithRole(1, "jane", "Viewer", "jane")
            return await client.verify(err.expectation)
        raise AssertionError("expected AmbiguousWrite")

    assert run(go()) is True
    assert fake.calls() == ["POST /api/orgs/1/users", "GET /api/orgs/1/users/search"]


def test_async_org_header_per_call() -> None:
    fake = FakeGrafana().on("GET", "/api/teams/search", resp(200, E12))

    async def go() -> None:
        client = fake.aclient(org_id=2)
        await client.search_teams()
        await client.search_teams(org_id=9)

    run(go())
    assert [r.headers.get("x-grafana-org-id") for r in fake.requests] == ["2", "9"]


def test_async_capabilities_detected_once_under_concurrency() -> None:
    fake = FakeGrafana().on("GET", "/api/user", resp(200, SA_USER))
    fake.on(
        "GET",
        "/api/frontend/settings",
        resp(200, {"buildInfo": {"version": "12.1.0-89456"}, "namespace": "stacks-42"}),
    )
    fake.on(
        "GET",
        "/api/serviceaccounts/search",
        resp(200, {"totalCount": 1, "serviceAccounts": [{"id": 5, "login": "sa-1-gtool", "role": "Admin"}]}),
    )
    fake.on("GET", "/api/org", resp(200, {"id": 1, "name": "Main Org."}))

    async def go() -> list[Any]:
        client = fake.aclient(TokenAuth(TOKEN))
        return list(await asyncio.gather(*(client.capabilities() for _ in range(5))))

    caps = run(go())
    assert all(c is caps[0] for c in caps)
    assert caps[0].is_service_account and caps[0].is_cloud and caps[0].org_role == "Admin"
    assert fake.calls().count("GET /api/user") == 1


def test_async_find_org_user_falls_back_to_scan_for_uid() -> None:
    rows = [{"orgId": 1, "userId": 2, "uid": "ae5t", "login": "jane", "role": "Editor"}]

    def search(request: httpx.Request) -> httpx.Response:
        hit = rows if request.url.params.get("query") in (None, "jane") else []
        return resp(200, {"totalCount": len(hit), "orgUsers": hit})

    fake = FakeGrafana().on("GET", "/api/orgs/1/users/search", search)
    found = run(fake.aclient().find_org_user(1, "ae5t"))
    assert found is not None and found.login == "jane"
    assert [r.url.params.get("query") for r in fake.requests] == ["ae5t", None]


def test_sync_and_async_send_the_same_requests() -> None:
    def script() -> FakeGrafana:
        return (
            FakeGrafana()
            .on("GET", "/api/users/search", paged_users(3))
            .on("PATCH", "/api/orgs/1/users/2", resp(200, "{}"))
        )

    sync_fake, async_fake = script(), script()
    client = sync_fake.client(retry=RetryPolicy())
    list(client.iter_users(per_page=2))
    client.update_org_user_role(1, 2, "editor")

    async def go() -> None:
        aclient = async_fake.aclient(retry=RetryPolicy())
        [u async for u in aclient.iter_users(per_page=2)]
        await aclient.update_org_user_role(1, 2, "editor")

    run(go())

    def sent(f: FakeGrafana) -> list[tuple[str, str, bytes, str | None]]:
        return [(r.method, str(r.url), r.content, r.headers.get("authorization")) for r in f.requests]

    assert sent(sync_fake) == sent(async_fake)
