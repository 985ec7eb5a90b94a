"""The users screen against a real sandbox process: search as you type, facets, paging, stale answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from textual.widgets import DataTable, Input, Static

from gtool.access import browse
from gtool.cli_tui import Sandbox, demo_sandbox
from gtool.tui.screens.users import UsersScreen
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import FROZEN, MakeApp, connection, settle

pytestmark = pytest.mark.anyio


def logins(app: object) -> list[str]:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, UsersScreen)
    table = screen.query_one("#users", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def status(app: object) -> str:
    return str(app.screen.query_one("#status", Static).render())  # type: ignore[attr-defined]


async def test_first_page_shows_every_seed_user_with_origin_and_sync(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        shown = logins(app)
        assert "admin" in shown and "ada@example.com" in shown and "jsmith" in shown
        assert "1–17 of 17" in status(app)
        table = app.screen.query_one("#users", DataTable)
        row = dict(zip([c.value for c in table.columns], table.get_row("6"), strict=True))  # ada
        assert (row["origin"], str(row["synced"])) == ("SAML", "synced")  # Okta config syncs SAML roles
        jsmith = next(i for i, login in enumerate(shown) if login == "jsmith")
        ldap = dict(zip([c.value for c in table.columns], table.get_row_at(jsmith), strict=True))
        assert ldap["origin"] == "LDAP" and str(ldap["synced"]) == ""  # no [auth.ldap]: not synced
        assert "Main Org.=" in str(row["orgs"])  # filled in after the rows, from /api/users/:id/orgs


async def test_search_as_you_type_asks_grafana(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"hopper")
        await settle(pilot)
        assert logins(app) == ["grace@example.com"]  # matched on the name, server-side
        await pilot.press(*["backspace"] * 6, *"nobody-has-this")
        await settle(pilot)
        assert logins(app) == []
        assert "no user matches" in status(app)


async def test_a_slow_stale_answer_never_replaces_a_newer_one(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    faults = f"{tui_sandbox.url}/api/sandbox/faults"
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        httpx.patch(faults, json={"latency_ms": 1500}, timeout=5).raise_for_status()
        try:
            await pilot.press("slash", *"zz")
            await pilot.pause(0.4)  # the "zz" search is in flight, and will answer (empty) in ~1.5 s
        finally:
            httpx.delete(faults, timeout=5).raise_for_status()
        await pilot.press("backspace", "backspace", *"linus")  # answered at once: no latency now
        await settle(pilot, pause=0.3)
        assert logins(app) == ["linus@example.com"]
        await pilot.pause(1.5)  # the stale "zz" answer lands about now; it must be dropped
        await settle(pilot)
        assert logins(app) == ["linus@example.com"]


async def test_filter_keys_and_query_syntax_agree(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        search = app.screen.query_one("#search", Input)
        assert search.value == "synced:yes"
        synced = set(logins(app))
        assert synced and all(login.endswith("@example.com") for login in synced)  # the SAML users
        await pilot.press("s")
        await settle(pilot)
        assert search.value == "synced:no"
        assert "admin" in logins(app) and not synced & set(logins(app))
        await pilot.press("s", "a")
        await settle(pilot)
        assert search.value == "admin:yes"
        assert set(logins(app)) == {"admin", "ada@example.com"}
        # the same facet typed by hand
        await pilot.press("slash", "ctrl+u", *"origin:LDAP", "enter")
        await settle(pilot)
        assert set(logins(app)) == {"jsmith", "mgarcia", "tbrown"}


async def test_a_query_mistake_is_explained_in_place(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        before = logins(app)
        await pilot.press("slash", *"colour:red")
        await settle(pilot)
        error = app.screen.query_one("#query-error", Static)
        assert error.display and "unknown filter colour:" in str(error.render())
        assert logins(app) == before  # the last good result stays
        assert app.is_running


@pytest.fixture(scope="module")
def big_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    log = tmp_path_factory.mktemp("big") / "sandbox.log"
    with demo_sandbox(["--users", "250", "--orgs", "3", "--teams", "5", "--frozen-time", FROZEN], log) as sb:
        yield sb


async def test_pages_of_one_hundred_forward_and_back(
    big_sandbox: Sandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    running = RunningSandbox(
        big_sandbox.url, big_sandbox.user, big_sandbox.password, big_sandbox.process, None
    )
    app = make_app(conn=connection(running))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        first = logins(app)
        assert len(first) == 100 and "1–100 of 250" in status(app)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        second = logins(app)
        assert len(second) == 100 and not set(first) & set(second) and "101–200 of 250" in status(app)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert len(logins(app)) == 50 and "201–250 of 250" in status(app)
        await pilot.press("right_square_bracket")  # past the end: a notice, the page stays
        await settle(pilot)
        assert len(logins(app)) == 50
        await pilot.press("left_square_bracket", "left_square_bracket")
        await settle(pilot)
        assert logins(app) == first
        assert app.screen.query_one("#users", DataTable).row_count <= 100  # never more mounted


async def test_enter_right_after_a_search_opens_its_first_match_not_a_stale_row(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert logins(app)[0] == "ada@example.com"  # what Enter would open from the old rows
        faults = f"{tui_sandbox.url}/api/sandbox/faults"
        httpx.patch(faults, json={"latency_ms": 800}, timeout=5).raise_for_status()
        try:
            await pilot.press("slash", *"grace", "enter", "enter")  # faster than the search answers
            await settle(pilot, pause=1.0)
        finally:
            httpx.delete(faults, timeout=5).raise_for_status()
        await settle(pilot)
        from gtool.tui.screens.user_detail import UserDetailScreen

        assert isinstance(app.screen, UserDetailScreen)
        assert app.screen.user_id == 7  # grace@example.com, the only match


async def test_origin_and_last_seen_keys_write_their_facets(
    tui_sandbox: RunningSandbox, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "seen more than 30 days ago" is judged on our clock; the sandbox's is frozen, so ours must be too
    frozen = dt.datetime.fromisoformat(FROZEN.replace("Z", "+00:00"))
    monkeypatch.setattr(browse, "_now", lambda: frozen)
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        search = app.screen.query_one("#search", Input)
        await pilot.press("o")
        await settle(pilot)
        assert search.value == "origin:local"
        assert "admin" in logins(app) and "jsmith" not in logins(app)
        await pilot.press("o")
        await settle(pilot)
        assert search.value.startswith("origin:") and search.value != "origin:local"
        await pilot.press("ctrl+r")  # (reload keeps the facet)
        await settle(pilot)
        while search.value:  # back to any
            await pilot.press("o")
            await settle(pilot, pause=0.1)
        await pilot.press("l")
        await settle(pilot)
        assert search.value == "seen>30d"
        stale = set(logins(app))
        assert "kim@example.com" in stale and "admin" not in stale  # seen 6 months ago / 2 minutes ago
        await pilot.press("l", "l")
        await settle(pilot)
        assert search.value == "seen:never"


async def test_a_query_that_looks_like_markup_is_shown_as_typed(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"synced:[/red]")
        await settle(pilot)
        error = app.screen.query_one("#query-error", Static)
        assert app.is_running and "synced:[/red]" in str(error.render())
