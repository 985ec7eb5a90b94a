"""The change modal against a real sandbox process: change a role, grant, revoke, the Grafana Admin flag,
a synced user blocked before anything is sent, a 403 and a server error shown without leaving the app.

Every write is checked with an independent admin client (httpx), never with what the app says it sent.
Each writing test owns one seed user no other test of this module looks at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from gtool.sandbox.seed import load_seed
from gtool.tui.app import GtoolApp
from gtool.tui.screens.change_role import ChangeModal
from gtool.tui.screens.user_detail import UserDetailScreen
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import SEED, MakeApp, connection, settle, token_connection

OPS_LOGIN = "ops.lead"
OPS_PASSWORD = "Tui-ops-7Qx2-sandbox"  # distinctive, so a leak into the audit log would be found


# --- an independent view of the sandbox -------------------------------------------------------------------


def admin(sandbox: RunningSandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, auth=sandbox.auth, timeout=10)


def user_id(sandbox: RunningSandbox, login: str) -> int:
    with admin(sandbox) as http:
        return int(http.get("/api/users/lookup", params={"loginOrEmail": login}).json()["id"])


def roles(sandbox: RunningSandbox, login: str) -> dict[int, str]:
    with admin(sandbox) as http:
        orgs = http.get(f"/api/users/{user_id(sandbox, login)}/orgs").json()
    return {o["orgId"]: o["role"] for o in orgs}


def grafana_admin(sandbox: RunningSandbox, login: str) -> bool:
    with admin(sandbox) as http:
        return bool(http.get(f"/api/users/{user_id(sandbox, login)}").json()["isGrafanaAdmin"])


def audit_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def ops(tui_sandbox: RunningSandbox) -> RunningSandbox:
    """A second Grafana server admin with a distinctive password: the operator of the writing tests."""
    with admin(tui_sandbox) as http:
        made = http.post(
            "/api/admin/users",
            json={
                "login": OPS_LOGIN,
                "email": "ops.lead@example.com",
                "name": "Ops Lead",
                "password": OPS_PASSWORD,
            },
        )
        made.raise_for_status()
        http.put(
            f"/api/admin/users/{made.json()['id']}/permissions", json={"isGrafanaAdmin": True}
        ).raise_for_status()
    return RunningSandbox(tui_sandbox.url, OPS_LOGIN, OPS_PASSWORD, tui_sandbox.process, None)


@pytest.fixture
def faults(tui_sandbox: RunningSandbox) -> Iterator[str]:
    url = f"{tui_sandbox.url}/api/sandbox/faults"
    try:
        yield url
    finally:
        httpx.delete(url, timeout=5).raise_for_status()


# --- driving the app ----------------------------------------------------------------------------------------


async def open_user(pilot: Pilot[Any], sandbox: RunningSandbox, login: str) -> UserDetailScreen:
    await settle(pilot, pause=0.05)
    screen = UserDetailScreen(user_id(sandbox, login))
    await pilot.app.push_screen(screen)
    await settle(pilot, pause=0.05)
    assert screen.details is not None, "the user was not read"
    return screen


async def select_org(pilot: Pilot[Any], screen: UserDetailScreen, org_id: int) -> None:
    """Move the orgs table cursor to `org_id` with the keyboard."""
    details = screen.details
    assert details is not None
    for _ in range(len(details.orgs)):
        selected = screen.selected_org()
        if selected is not None and selected.org_id == org_id:
            return
        await pilot.press("j")
    raise AssertionError(f"org {org_id} is not among {details.orgs}")


def modal(app: GtoolApp) -> ChangeModal:
    assert isinstance(app.screen, ChangeModal), f"expected the change modal, got {app.screen!r}"
    return app.screen


def text(app: GtoolApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def notes(app: GtoolApp) -> list[str]:
    return [n.message for n in app._notifications]


# --- writes -------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_change_the_role_of_a_local_user(
    tui_sandbox: RunningSandbox, ops: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    assert roles(tui_sandbox, "new.hire") == {1: "Viewer"}
    app = make_app(conn=connection(ops, OPS_LOGIN, OPS_PASSWORD))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "new.hire")
        await pilot.press("r")
        await settle(pilot, pause=0.05)
        assert "Nothing to send: already had it" in text(app, "#calls")  # the current role is preselected
        await pilot.press("right")  # Viewer -> Editor: the plan follows the picker
        await settle(pilot, pause=0.05)
        assert "Viewer  →  Editor" in text(app, "#summary")
        uid = user_id(tui_sandbox, "new.hire")
        assert text(app, "#calls") == f'Sends  PATCH /api/orgs/1/users/{uid} {{"role":"Editor"}}'
        await pilot.press("y")
        await settle(pilot, pause=0.05)
        assert app.screen is screen  # dismissed after the answer
        assert roles(tui_sandbox, "new.hire") == {1: "Editor"}  # Grafana has it
        assert screen.details is not None and screen.details.orgs[0].role == "Editor"  # read back
        assert any("Organization user updated" in n for n in notes(app))
        assert uid in app.changed_since(0)
    records = audit_records(tmp_path / "audit.jsonl")
    assert [(r["action"], r["outcome"], r["before"], r["after"]) for r in records] == [
        ("change-role", "applied", "Viewer", "Editor")
    ]
    assert records[0]["target"].startswith("new.hire in org 1") and records[0]["actor"] == OPS_LOGIN
    assert OPS_PASSWORD not in (tmp_path / "audit.jsonl").read_text()


@pytest.mark.anyio
async def test_grant_adds_the_user_to_an_org_they_were_not_in(
    tui_sandbox: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    assert roles(tui_sandbox, "mgarcia") == {2: "Viewer"}
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "mgarcia")
        await pilot.press("g")
        await settle(pilot, pause=0.05)
        org_select = modal(app).query_one("#org", Select)
        assert app.focused is org_select and "Pick an org" in text(app, "#summary")
        await pilot.press("enter")  # open the list: 1 Main Org., 3 Customer Success, 4 Partner Portal
        await pilot.press("down", "down", "down", "enter")
        await settle(pilot, pause=0.05)
        assert org_select.value == 4
        await pilot.press("tab", "right")  # to the role picker: Viewer -> Editor
        await settle(pilot, pause=0.05)
        assert "not a member  →  Editor" in text(app, "#summary")
        assert '"role":"Editor"' in text(app, "#calls") and "POST /api/orgs/4/users" in text(app, "#calls")
        await pilot.press("y")
        await settle(pilot, pause=0.05)
        assert app.screen is screen
        assert screen.details is not None and [o.org_id for o in screen.details.orgs] == [2, 4]
    assert roles(tui_sandbox, "mgarcia") == {2: "Viewer", 4: "Editor"}
    assert [r["outcome"] for r in audit_records(tmp_path / "audit.jsonl")] == ["applied"]


@pytest.mark.anyio
async def test_revoke_removes_the_membership_and_keeps_the_account(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    assert roles(tui_sandbox, "jsmith") == {1: "Editor", 3: "Viewer"}
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "jsmith")
        await select_org(pilot, screen, 3)
        await pilot.press("v")
        await settle(pilot, pause=0.05)
        assert "Viewer  →  not a member" in text(app, "#summary")
        assert "DELETE /api/orgs/3/users/" in text(app, "#calls")
        assert not modal(app).query_one("#confirm").display  # a Viewer leaving is not destructive
        await pilot.press("y")
        await settle(pilot, pause=0.05)
        assert screen.details is not None and [o.org_id for o in screen.details.orgs] == [1]
    assert roles(tui_sandbox, "jsmith") == {1: "Editor"}
    user_id(tui_sandbox, "jsmith")  # the account is still there


@pytest.mark.anyio
async def test_grafana_admin_on_then_off_with_the_login_typed(
    tui_sandbox: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    assert not grafana_admin(tui_sandbox, "wallboard")
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "wallboard")
        await pilot.press("A")
        await settle(pilot, pause=0.05)
        assert "not Grafana Admin  →  Grafana Admin" in text(app, "#summary")
        assert '/permissions {"isGrafanaAdmin":true}' in text(app, "#calls")
        await pilot.press("y")
        await settle(pilot, pause=0.05)
        assert grafana_admin(tui_sandbox, "wallboard")
        assert screen.details is not None and screen.details.grafana_admin is True

        await pilot.press("A")
        await settle(pilot, pause=0.05)
        assert "Grafana Admin  →  not Grafana Admin" in text(app, "#summary")
        assert modal(app).query_one("#confirm").display  # taking admin away waits for the login
        await pilot.press("y")
        await settle(pilot, pause=0.05)
        assert isinstance(app.screen, ChangeModal) and "Type wallboard first" in text(app, "#status")
        assert grafana_admin(tui_sandbox, "wallboard")  # nothing was sent
        assert app.focused is modal(app).query_one("#typed", Input)
        await pilot.press(*"wallboard", "enter")
        await settle(pilot, pause=0.05)
        assert app.screen is screen
        assert screen.details is not None and screen.details.grafana_admin is False
    assert not grafana_admin(tui_sandbox, "wallboard")
    records = audit_records(tmp_path / "audit.jsonl")
    assert [(r["action"], r["before"], r["after"], r["outcome"]) for r in records] == [
        ("grafana-admin", False, True, "applied"),
        ("grafana-admin", True, False, "applied"),
    ]


# --- refusals and failures ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_synced_saml_user_is_blocked_with_the_fix_and_nothing_is_sent(
    tui_sandbox: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    before = roles(tui_sandbox, "linus@example.com")
    assert before == {1: "Editor"}
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "linus@example.com")
        locked = str(screen.query_one("#locked", Static).render())
        assert "SAML" in locked and "skip_org_role_sync in [auth.saml]" in locked
        await pilot.press("r", "right")  # Editor -> Admin
        await settle(pilot, pause=0.05)
        blocked = text(app, "#blocked")
        assert "SAML" in blocked and "skip_org_role_sync = true in [auth.saml]" in blocked
        assert "gtool role set --force" in blocked
        assert text(app, "#calls") == "Nothing will be sent."
        await pilot.press("y")
        await settle(pilot, pause=0.05)
        assert isinstance(app.screen, ChangeModal)  # y does not apply a blocked plan: it says why
        assert "Not sent: blocked" in text(app, "#status")
        await pilot.press("escape")
        await settle(pilot, pause=0.05)
        assert app.screen is screen
    assert roles(tui_sandbox, "linus@example.com") == before
    records = audit_records(tmp_path / "audit.jsonl")
    assert records and {r["outcome"] for r in records} == {"refused"}  # the attempt is on record, unsent


@pytest.mark.anyio
async def test_a_403_is_shown_in_the_modal_and_the_app_goes_on(
    tui_sandbox: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    """alice is Admin of Main Org. but only Editor in Partner Portal: Grafana refuses her there."""
    app = make_app(conn=connection(tui_sandbox, "alice", "alice-sandbox"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "bob")
        assert screen.details is not None and screen.details.orgs_note.startswith("only org 1 is visible")
        await pilot.press("g")
        await settle(pilot, pause=0.05)
        await pilot.press("enter", "down", "enter")  # the only other org alice sees: 4 Partner Portal
        await settle(pilot, pause=0.05)
        assert modal(app).query_one("#org", Select).value == 4
        assert "Cannot plan this change" in text(app, "#summary")
        assert "Permission denied" in text(app, "#calls") and "org.users:read" in text(app, "#calls")
        await pilot.press("y")
        await settle(pilot, pause=0.05)
        assert isinstance(app.screen, ChangeModal) and app.is_running
        await pilot.press("escape")
        await settle(pilot, pause=0.05)
        assert app.screen is screen
    assert 4 not in roles(tui_sandbox, "bob")
    assert audit_records(tmp_path / "audit.jsonl") == []


@pytest.mark.anyio
async def test_a_server_error_is_shown_and_the_role_stays(
    tui_sandbox: RunningSandbox, make_app: MakeApp, faults: str, tmp_path: Path
) -> None:
    assert roles(tui_sandbox, "carol") == {4: "Viewer"}
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_user(pilot, tui_sandbox, "carol")
        await pilot.press("r", "right")  # Viewer -> Editor, planned while Grafana is well
        await settle(pilot, pause=0.05)
        assert "Viewer  →  Editor" in text(app, "#summary")
        httpx.put(faults, json={"error_rate": 1.0, "error_statuses": [500]}, timeout=5).raise_for_status()
        try:
            await pilot.press("y")
            for _ in range(300):  # the write, and its read-back, fail; then the modal closes
                if app.screen is screen:
                    break
                await pilot.pause(0.05)
        finally:
            httpx.delete(faults, timeout=5).raise_for_status()  # the screen's re-read rides it out
        await settle(pilot, pause=0.05)
        assert app.is_running and app.screen is screen
        failed = [n for n in app._notifications if "Grafana failed" in n.message]
        assert failed and failed[0].severity == "error"
        assert screen.details is not None and screen.details.orgs[0].role == "Viewer"
    assert roles(tui_sandbox, "carol") == {4: "Viewer"}
    assert [r["outcome"] for r in audit_records(tmp_path / "audit.jsonl")] == ["failed"]


@pytest.fixture(scope="module")
def cloud(cloud_sandbox: RunningSandbox) -> RunningSandbox:
    """The shared Cloud stack (tests/tui/conftest.py), under the name these tests read best with."""
    return cloud_sandbox


def stack_member(cloud: RunningSandbox, token: str, login: str) -> str | None:
    """`login`'s role in the token's org, read with the token (a Cloud stack has no admin API)."""
    answer = httpx.get(
        f"{cloud.url}/api/org/users/search",
        params={"query": login},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    answer.raise_for_status()
    return next((m["role"] for m in answer.json()["orgUsers"] if m["login"] == login), None)


@pytest.mark.anyio
async def test_on_cloud_removing_a_last_org_deletes_the_account_and_waits_for_the_login(
    cloud: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    """A Cloud stack's token removes people with the current-org route, which deletes a user left
    without an org: the plan says so, and nothing is sent until the login is typed."""
    token = load_seed(SEED).token("gtool-ci")
    assert stack_member(cloud, token, "new.hire") == "Viewer"
    app = make_app(conn=token_connection(cloud, token))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, pause=0.05)
        screen = UserDetailScreen(4)  # new.hire, the seed's fourth user (a token cannot look logins up)
        await app.push_screen(screen)
        await settle(pilot, pause=0.05)
        assert screen.details is not None and screen.details.profile.login == "new.hire"
        await pilot.press("v")
        await settle(pilot, pause=0.05)
        assert "DELETE /api/org/users/4" in text(app, "#calls")
        assert "deletes the user account" in text(app, "#warnings")
        assert "may delete new.hire's account" in text(app, "#confirm-why")
        await pilot.press("y")
        await settle(pilot, pause=0.05)
        assert isinstance(app.screen, ChangeModal)  # not sent: the login was not typed
        assert stack_member(cloud, token, "new.hire") == "Viewer"
        await pilot.press(*"new.hire", "enter")
        await settle(pilot, pause=0.05)
        assert app.screen is screen
        assert "new.hire is no longer there" in str(screen.query_one("#error", Static).render())
    assert stack_member(cloud, token, "new.hire") is None
    records = audit_records(tmp_path / "audit.jsonl")
    assert [(r["action"], r["outcome"]) for r in records] == [("revoke", "applied")]
    assert token not in (tmp_path / "audit.jsonl").read_text()


# --- snapshots (100×30) -------------------------------------------------------------------------------------


def change_modal(sandbox: RunningSandbox, login: str, *keys: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_user(pilot, sandbox, login)
        await pilot.press(*keys)
        await settle(pilot, pause=0.05)

    return run_before


@pytest.mark.usefixtures("stable_header")
def test_snapshot_change_modal_local_user(
    tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any
) -> None:
    assert snap_compare(
        make_app(tui_sandbox),
        terminal_size=(100, 30),
        run_before=change_modal(tui_sandbox, "bob", "r", "right"),
    )


@pytest.mark.usefixtures("stable_header")
def test_snapshot_change_modal_blocked_synced_user(
    tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any
) -> None:
    assert snap_compare(
        make_app(tui_sandbox),
        terminal_size=(100, 30),
        run_before=change_modal(tui_sandbox, "margaret@example.com", "r", "right"),
    )


@pytest.mark.usefixtures("stable_header")
def test_snapshot_change_modal_destructive_typed_confirmation(
    tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any
) -> None:
    """alice is Admin of Main Org.: making her Viewer takes Admin away and waits for her login."""
    assert snap_compare(
        make_app(tui_sandbox),
        terminal_size=(100, 30),
        run_before=change_modal(tui_sandbox, "alice", "r", "left", "left", "y", *"ali"),
    )
