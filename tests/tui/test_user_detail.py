"""The user detail screen against a real sandbox process: opened from the users screen, what it shows for a
local, an LDAP and a synced SAML user, drift, read-only mode, an org admin's view, an error in place.

Nothing here writes to Grafana: the tests share the module's sandbox and only read seed users.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from gtool.access.details import UserDetails
from gtool.grafana.models import AuthToken, UserProfile
from gtool.tui.app import GtoolApp
from gtool.tui.screens.change_role import ChangeModal
from gtool.tui.screens.user_detail import UserDetailScreen
from gtool.tui.screens.users import UsersScreen
from gtool.tui.widgets import header
from gtool.tui.widgets.user_panels import sessions_text
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import MakeApp, connection, settle

WRITES = ("change_role", "grant", "revoke", "grafana_admin", "deprovision")


def user_id(sandbox: RunningSandbox, login: str) -> int:
    answer = httpx.get(f"{sandbox.url}/api/users/lookup", params={"loginOrEmail": login}, auth=sandbox.auth)
    return int(answer.json()["id"])


def roles(sandbox: RunningSandbox, login: str) -> dict[int, str]:
    orgs = httpx.get(f"{sandbox.url}/api/users/{user_id(sandbox, login)}/orgs", auth=sandbox.auth).json()
    return {o["orgId"]: o["role"] for o in orgs}


async def open_user(pilot: Pilot[Any], sandbox: RunningSandbox, login: str) -> UserDetailScreen:
    await settle(pilot, pause=0.05)
    screen = UserDetailScreen(user_id(sandbox, login))
    await pilot.app.push_screen(screen)
    await settle(pilot, pause=0.05)
    return screen


def panel(screen: UserDetailScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def org_rows(screen: UserDetailScreen) -> list[tuple[str, ...]]:
    table = screen.query_one("#orgs", DataTable)
    return [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


def shown_actions(app: GtoolApp) -> set[str]:
    """The screen's actions the footer offers (a binding whose check_action is False is hidden)."""
    return {binding.action for _node, binding, _enabled, _tip in app.screen.active_bindings.values()}


@pytest.mark.anyio
async def test_open_a_user_from_the_users_screen_and_go_back(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"Bob Operator", "enter")  # search, then back to the table
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, pause=0.05)
        screen = app.screen
        assert isinstance(screen, UserDetailScreen)
        profile = panel(screen, "#profile")
        assert "bob@example.com" in profile and "Bob Operator" in profile
        assert "local (Grafana password)" in profile and "3 days ago" in profile
        assert org_rows(screen) == [("1 Main Org.", "Editor", "no"), ("2 Data Science", "Viewer", "no")]
        assert not screen.query_one("#locked").display  # nothing is locked for a local user
        assert panel(screen, "#teams") == "In no team."
        assert panel(screen, "#sessions") == "No active login session."
        await pilot.press("escape")
        await settle(pilot, pause=0.05)
        assert isinstance(app.screen, UsersScreen)


@pytest.mark.anyio
async def test_teams_in_every_org_and_an_ldap_user_whose_role_is_not_synced(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "jsmith")
        teams = panel(screen, "#teams")
        assert "Platform SRE  org 1 Main Org." in teams and "Support  org 3 Customer Success" in teams
        profile = panel(screen, "#profile")
        assert "LDAP (external)" in profile and "off (managed in Grafana)" in profile
        assert [row[2] for row in org_rows(screen)] == ["no", "no"]  # no [auth.ldap]: LDAP does not sync
        assert not screen.query_one("#locked").display


@pytest.mark.anyio
async def test_a_synced_saml_user_says_why_the_role_is_locked_and_where_to_change_it(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "former@example.com")
        assert org_rows(screen) == [
            ("1 Main Org.", "Admin", "yes (SAML)"),
            ("2 Data Science", "Viewer", "yes (SAML)"),
        ]
        assert "no (synced from SAML)" in panel(screen, "#profile")
        locked = panel(screen, "#locked")
        assert screen.query_one("#locked").display
        assert "signs in through SAML" in locked and "overwritten at the next login" in locked
        assert "skip_org_role_sync in [auth.saml]" in locked
        assert "grafana.ini:77 says false" in locked  # read from the known config (samples/okta)
        assert "GF_AUTH_SAML_SKIP_ORG_ROLE_SYNC=true" in locked
        assert "Administration → Authentication → SAML" in locked and "Skip org role sync" in locked


@pytest.mark.anyio
async def test_drift_shows_what_the_next_saml_login_takes_back_and_sends_nothing(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    before = roles(tui_sandbox, "former@example.com")
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "former@example.com")
        await pilot.press("d")
        attrs = screen.query_one("#drift-input", Input)
        assert app.focused is attrs and attrs.value == "email=former@example.com "
        attrs.insert_text_at_cursor('groups=Everyone organization="Platform Engineering"')
        await pilot.press("enter")
        await settle(pilot, pause=0.05)
        drift = panel(screen, "#drift")
        assert "~ org 1 'Main Org.': Admin -> Viewer" in drift
        assert "- org 2 'Data Science': removed (was Viewer)" in drift
        assert "drift: the next login changes the above" in drift and "nothing was sent" in drift
        await pilot.press("escape")  # closes the attribute line first, not the screen
        assert app.screen is screen and not attrs.display
    assert roles(tui_sandbox, "former@example.com") == before


@pytest.mark.anyio
async def test_a_bad_attribute_line_is_explained(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "grace@example.com")
        await pilot.press("d")
        screen.query_one("#drift-input", Input).insert_text_at_cursor('groups="unclosed')
        await pilot.press("enter")
        await settle(pilot, pause=0.05)
        assert any("NAME=VALUE" in n.message for n in app._notifications)
        assert not screen.query_one("#drift").display


@pytest.mark.anyio
async def test_without_a_saml_config_there_is_no_drift_key(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox, saml_config=None)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "former@example.com")
        assert "drift" not in shown_actions(app) and "change_role" in shown_actions(app)
        assert "says false" not in panel(screen, "#locked")  # no config to quote, but the key and the fix
        assert "skip_org_role_sync in [auth.saml]" in panel(screen, "#locked")


@pytest.mark.anyio
async def test_read_only_hides_every_write_and_refuses_one_invoked_anyway(
    tui_sandbox: RunningSandbox, make_app: MakeApp, tmp_path: Any
) -> None:
    before = roles(tui_sandbox, "bob")
    app = make_app(tui_sandbox, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "bob")
        shown = shown_actions(app)
        assert not shown & set(WRITES) and {"back", "reload", "drift"} <= shown
        titles = {c.title for c in screen.commands()}
        assert "Reload user" in titles and not titles & {"Change role", "Grant a role", "Revoke"}
        await pilot.press("r", "g", "v", "A", "X")  # hidden keys do nothing
        await settle(pilot, pause=0.05)
        assert app.screen is screen
        for action in WRITES:  # as the palette or a remapped key would call them
            getattr(screen, f"action_{action}")()
        await settle(pilot, pause=0.05)
        assert app.screen is screen and not isinstance(app.screen, ChangeModal)
        refusals = [n for n in app._notifications if "Read-only mode" in n.message]
        assert len(refusals) == len(WRITES)
    assert roles(tui_sandbox, "bob") == before
    assert not (tmp_path / "audit.jsonl").exists()


@pytest.mark.anyio
async def test_an_org_admin_sees_the_user_in_their_org_and_why_not_more(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(conn=connection(tui_sandbox, "alice", "alice-sandbox"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "bob")
        assert org_rows(screen) == [("1 Main Org.", "Editor", "no")]
        assert "only org 1 is visible: 'alice' is not a Grafana server admin" in panel(screen, "#orgs-note")
        assert "Grafana Admin unknown" in panel(screen, "#profile")
        assert "Not shown: 'alice' is not a Grafana server admin" in panel(screen, "#sessions")


@pytest.mark.anyio
async def test_a_user_that_cannot_be_read_is_explained_in_place(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, pause=0.05)
        screen = UserDetailScreen(987654)
        await app.push_screen(screen)
        await settle(pilot, pause=0.05)
        assert app.is_running and app.screen is screen
        assert "Could not read user 987654: Grafana answered 404" in panel(screen, "#error")
        assert "change_role" in shown_actions(app) and screen.check_action("change_role", ()) is None


def test_sessions_say_browser_address_and_when_last_seen() -> None:
    seen = datetime(2026, 1, 15, 11, 58, tzinfo=UTC)
    tokens = (
        AuthToken(
            1,
            is_active=True,
            client_ip="10.0.0.7",
            browser="Firefox",
            browser_version="133",
            os="Linux",
            seen_at=seen,
        ),
        AuthToken(2, client_ip="", browser="", seen_at=None),
    )
    details = UserDetails(UserProfile(id=9, login="kim"), (), False, False, sessions=tokens)
    assert str(sessions_text(details)).splitlines() == [
        "Firefox 133 on Linux · 10.0.0.7 · seen 2026-01-15 11:58 · active",
        "unknown browser · ? · seen ?",
    ]


# --- snapshots (100×30) -----------------------------------------------------------------------------------


@pytest.fixture
def stable_url(monkeypatch: pytest.MonkeyPatch, tui_sandbox: RunningSandbox) -> None:
    """The sandbox listens on a random port: the header shows a fixed one so snapshots compare."""
    real = header.render_header

    def render(url: str, *args: Any, **kwargs: Any) -> str:
        return real(url.replace(tui_sandbox.url, "http://127.0.0.1:3000"), *args, **kwargs)

    monkeypatch.setattr(header, "render_header", render)


def detail_of(sandbox: RunningSandbox, login: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_user(pilot, sandbox, login)

    return run_before


@pytest.mark.usefixtures("stable_url")
def test_snapshot_local_user(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any) -> None:
    assert snap_compare(
        make_app(tui_sandbox), terminal_size=(100, 30), run_before=detail_of(tui_sandbox, "bob")
    )


@pytest.mark.usefixtures("stable_url")
def test_snapshot_synced_saml_user(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any) -> None:
    assert snap_compare(
        make_app(tui_sandbox),
        terminal_size=(100, 30),
        run_before=detail_of(tui_sandbox, "former@example.com"),
    )
