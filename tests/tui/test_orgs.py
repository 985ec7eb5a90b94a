"""The orgs panel, an org's members and the user × org matrix, against a real sandbox process.

What the screens show is compared with what the sandbox's API answers to an independent client, so a
wrong page, a wrong org or a role taken from the wrong column fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, Static

from gtool.access.roles import apply, plan_grant
from gtool.grafana.client import GrafanaClient
from gtool.sandbox.seed import load_seed
from gtool.tui.screens.change_role import ChangeModal
from gtool.tui.screens.matrix import MatrixScreen
from gtool.tui.screens.org_members import OrgMembersScreen
from gtool.tui.screens.orgs import OrgsScreen
from gtool.tui.screens.user_detail import UserDetailScreen
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import SEED, MakeApp, connection, settle, token_connection

pytestmark = pytest.mark.anyio

QUICK = 0.05
"""Seconds `settle` pauses: no key in these tests goes through the search debounce."""


@pytest.fixture(scope="module")
def api(tui_sandbox: RunningSandbox) -> Iterator[GrafanaClient]:
    """The sandbox as a plain client sees it: the reference the screens are checked against."""
    conn = connection(tui_sandbox)
    with GrafanaClient(conn.url, **conn.client_kwargs()) as client:
        yield client


def column(app: Any, table_id: str, key: str) -> list[str]:
    table = app.screen.query_one(table_id, DataTable)
    return [
        str(table.get_cell_at(Coordinate(i, table.get_column_index(key)))) for i in range(table.row_count)
    ]


def status(app: Any, widget_id: str) -> str:
    return str(app.screen.query_one(widget_id, Static).render())


async def open_orgs(pilot: Any) -> None:
    await settle(pilot, QUICK)
    await pilot.press("2")
    await settle(pilot, QUICK)
    assert isinstance(pilot.app.screen, OrgsScreen)


async def test_every_org_with_its_member_count(
    tui_sandbox: RunningSandbox, make_app: MakeApp, api: GrafanaClient
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        orgs = sorted(api.list_orgs(), key=lambda o: o.id)
        assert column(app, "#orgs", "name") == [o.name for o in orgs]
        counts = [str(len(list(api.iter_org_users(o.id)))) for o in orgs]
        assert column(app, "#orgs", "members") == counts
        assert status(app, "#orgs-status").startswith(f"all orgs · {len(orgs)}")


async def test_slash_filters_orgs_by_name(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("slash", *"SCI")
        await settle(pilot, QUICK)
        assert column(app, "#orgs", "name") == ["Data Science"]  # case-insensitive, anywhere in the name
        assert "1 matching 'SCI'" in status(app, "#orgs-status")
        await pilot.press("ctrl+u", *"zq")
        await settle(pilot, QUICK)
        assert column(app, "#orgs", "name") == []
        assert "no org matches" in status(app, "#orgs-status")


async def test_an_org_admin_sees_the_orgs_they_belong_to(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    # alice: Admin of Main Org., Editor in Partner Portal, not a Grafana server admin (no GET /api/orgs)
    app = make_app(conn=connection(tui_sandbox, "alice", "alice-sandbox"))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        assert column(app, "#orgs", "name") == ["Main Org.", "Partner Portal"]
        assert "orgs alice is in · 2" in status(app, "#orgs-status")
        assert "not a Grafana server admin" in status(app, "#orgs-status")


async def test_a_service_account_token_sees_its_one_org(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    token = load_seed(SEED).token("ds-automation")  # an Editor token of Data Science
    app = make_app(conn=token_connection(tui_sandbox, token))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        assert column(app, "#orgs", "name") == ["Data Science"]
        assert "this service account's org · 1" in status(app, "#orgs-status")


async def test_enter_lists_the_members_with_role_origin_and_sync(
    tui_sandbox: RunningSandbox, make_app: MakeApp, api: GrafanaClient
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("j", "enter")  # the second org by id: Data Science
        await settle(pilot, QUICK)
        screen = app.screen
        assert isinstance(screen, OrgMembersScreen) and screen.org_id == 2
        members = sorted(api.iter_org_users(2), key=lambda m: m.login)
        assert column(app, "#users", "login") == [m.login for m in members]
        assert column(app, "#users", "role") == [m.role for m in members]
        rows = dict(zip(column(app, "#users", "login"), column(app, "#users", "synced"), strict=True))
        assert rows["grace@example.com"] == "synced" and rows["mgarcia"] == ""  # SAML locked, LDAP not
        origins = dict(zip(column(app, "#users", "login"), column(app, "#users", "origin"), strict=True))
        assert origins["mgarcia"] == "LDAP" and origins["bob"] == "local"
        assert "members of Data Science (org 2)" in status(app, "#status")
        await pilot.press("escape")  # from the table: back to the orgs
        await settle(pilot, QUICK)
        assert isinstance(app.screen, OrgsScreen)


async def test_member_filter_role_admin(
    tui_sandbox: RunningSandbox, make_app: MakeApp, api: GrafanaClient
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("enter")  # Main Org.
        await settle(pilot, QUICK)
        await pilot.press("slash", *"role:Admin", "enter")
        await settle(pilot, QUICK)
        admins = sorted(m.login for m in api.iter_org_users(1) if m.role == "Admin")
        assert len(admins) >= 2
        assert column(app, "#users", "login") == admins
        assert set(column(app, "#users", "role")) == {"Admin"}
        screen = app.screen
        assert isinstance(screen, OrgMembersScreen)
        screen.query_one("#search", Input).value = "role:Admin synced:yes"
        await pilot.press("slash", "enter")
        await settle(pilot, QUICK)
        synced_admins = sorted(
            m.login for m in api.iter_org_users(1) if m.role == "Admin" and m.is_externally_synced
        )
        assert column(app, "#users", "login") == synced_admins
        assert "ada@example.com" in synced_admins and "admin" not in synced_admins


async def test_enter_on_a_member_opens_the_user(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("enter")
        await settle(pilot, QUICK)
        screen = app.screen
        assert isinstance(screen, OrgMembersScreen)
        first = screen.selected()
        assert first is not None
        await pilot.press("enter")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, UserDetailScreen)
        assert app.screen.user_id == first.id


async def test_r_opens_the_role_change_for_that_member_in_that_org(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("j", "j", "enter")  # Customer Success
        await settle(pilot, QUICK)
        screen = app.screen
        assert isinstance(screen, OrgMembersScreen)
        member = screen.selected()
        assert member is not None
        await pilot.press("r")
        await settle(pilot, QUICK)
        modal = app.screen
        assert isinstance(modal, ChangeModal)
        assert (modal.change.user_id, modal.change.org_id, modal.change.action) == (
            member.id,
            3,
            "change-role",
        )
        await pilot.press("escape")  # cancelled: nothing is sent
        await settle(pilot, QUICK)
        assert app.screen is screen


async def test_read_only_offers_no_role_change(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("enter")
        await settle(pilot, QUICK)
        screen = app.screen
        assert isinstance(screen, OrgMembersScreen)
        assert "r" not in screen.active_bindings
        await pilot.press("r")
        await settle(pilot, QUICK)
        assert app.screen is screen


def expected_matrix(api: GrafanaClient, logins: list[str], org_ids: list[int]) -> list[list[str]]:
    rows = []
    for login in logins:
        user = api.lookup_user(login)
        roles = {m.org_id: m.role for m in api.user_orgs(user.id)}
        rows.append([roles.get(org_id, "") for org_id in org_ids])
    return rows


def matrix_cells(app: Any) -> tuple[list[str], list[list[str]]]:
    table = app.screen.query_one("#matrix", DataTable)
    logins, cells = [], []
    for i in range(table.row_count):
        row = [str(c) for c in table.get_row_at(i)]
        logins.append(row[0])
        cells.append(row[1:])
    return logins, cells


async def test_matrix_shows_each_users_role_in_each_org(
    tui_sandbox: RunningSandbox, make_app: MakeApp, api: GrafanaClient
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("m")
        await settle(pilot, QUICK)
        screen = app.screen
        assert isinstance(screen, MatrixScreen)
        org_ids = [o.id for o in screen.orgs]
        assert org_ids == sorted(o.id for o in api.list_orgs())
        logins, cells = matrix_cells(app)
        assert len(logins) == len(list(api.iter_users()))  # every seed user fits the first page
        assert cells == expected_matrix(api, logins, org_ids)
        assert cells[logins.index("admin")] == ["Admin"] * 4
        await pilot.press("slash", *"origin:LDAP", "enter")  # the matrix's own user query
        await settle(pilot, QUICK)
        logins, cells = matrix_cells(app)
        assert sorted(logins) == ["jsmith", "mgarcia", "tbrown"]
        assert cells == expected_matrix(api, logins, org_ids)


async def test_matrix_of_a_filtered_org_list_and_an_org_admin(
    tui_sandbox: RunningSandbox, make_app: MakeApp, api: GrafanaClient
) -> None:
    # alice cannot read /api/users/:id/orgs: the cells come from member lists; Partner Portal's (where
    # she is an Editor) is not readable, so its column says "?" except for her own membership
    app = make_app(conn=connection(tui_sandbox, "alice", "alice-sandbox"))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("m")
        await settle(pilot, QUICK)
        logins, cells = matrix_cells(app)
        assert logins == sorted(m.login for m in api.iter_org_users(1))
        main = [row[0] for row in cells]
        assert main == [r[0] for r in expected_matrix(api, logins, [1])]
        partner = dict(zip(logins, (row[1] for row in cells), strict=True))
        assert partner.pop("alice") == "Editor"
        assert set(partner.values()) == {"?"}
        assert "not readable with this credential" in status(app, "#matrix-status")


async def test_matrix_columns_follow_the_org_filter(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("slash", *"port", "enter", "m")
        await settle(pilot, QUICK)
        screen = app.screen
        assert isinstance(screen, MatrixScreen)
        assert [o.name for o in screen.orgs] == ["Partner Portal"]
        logins, cells = matrix_cells(app)
        members = {login: row[0] for login, row in zip(logins, cells, strict=True) if row[0]}
        assert members == {"admin": "Admin", "alice": "Editor", "carol": "Viewer", "legacy.oauth": "Viewer"}


async def select_login(pilot: Any, table_id: str, login: str) -> None:
    table = pilot.app.screen.query_one(table_id, DataTable)
    table.move_cursor(row=[str(table.get_row_at(i)[0]) for i in range(table.row_count)].index(login))
    await settle(pilot, QUICK)


async def test_a_role_changed_from_the_members_list_shows_what_grafana_says(
    tui_sandbox: RunningSandbox, make_app: MakeApp, api: GrafanaClient
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("enter")  # Main Org.
        await settle(pilot, QUICK)
        await select_login(pilot, "#users", "new.hire")
        await pilot.press("r", "right")  # the role picker: Viewer → Editor
        await settle(pilot, QUICK)
        await pilot.press("y")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, OrgMembersScreen)
        roles = dict(zip(column(app, "#users", "login"), column(app, "#users", "role"), strict=True))
        assert roles["new.hire"] == "Editor"
        assert {m.login: m.role for m in api.iter_org_users(1)}["new.hire"] == "Editor"


async def test_matrix_rereads_a_user_changed_meanwhile(
    tui_sandbox: RunningSandbox, make_app: MakeApp, api: GrafanaClient
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_orgs(pilot)
        await pilot.press("m")
        await settle(pilot, QUICK)
        await select_login(pilot, "#matrix", "wallboard")
        await pilot.press("enter")
        await settle(pilot, QUICK)
        detail = app.screen
        assert isinstance(detail, UserDetailScreen)
        # what the detail screen's grant does: the write through gtool.access, then the app is told
        apply(api, plan_grant(api, "wallboard", 3, "Viewer"), audit=app.audit_path)
        app.user_changed(detail.user_id)
        await pilot.press("escape")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, MatrixScreen)
        logins, cells = matrix_cells(app)
        assert cells[logins.index("wallboard")] == expected_matrix(api, ["wallboard"], [1, 2, 3, 4])[0]
        assert cells[logins.index("wallboard")][2] == "Viewer"
