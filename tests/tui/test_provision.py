"""Provisioning in the TUI against real sandbox processes: create a user (password to a new file or shown
once), refuse an existing file, invite on Grafana Cloud, disable and delete with the login typed out, and
read-only mode. Snapshots of the three modals at 100×30.

Module-scoped sandboxes: `writes` (with a database file, so a test can give a user a login session the
way a browser sign-in records one), `tui_sandbox` (read only: snapshots, read-only mode) and `cloud`.
Snapshots show the header with a fixed URL, as the other TUI snapshots do; the calls carry no URL.
"""

from __future__ import annotations

import base64
import gc
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Static

from gtool.grafana.auth import Secret
from gtool.sandbox.seed import load_seed
from gtool.sandbox.store import Store
from gtool.tui.app import GtoolApp
from gtool.tui.screens.deprovision import DeprovisionModal
from gtool.tui.screens.provision import CreateUserModal, PasswordOnceModal
from gtool.tui.screens.user_detail import UserDetailScreen
from gtool.tui.screens.users import UsersScreen
from tests.sandbox.conftest import RunningSandbox, start_sandbox
from tests.tui.conftest import FROZEN, SEED, MakeApp, connection, settle, token_connection

TOKEN = load_seed(SEED).token("gtool-ci")
NEW_HIRE = 4  # samples/sandbox-seed.toml's fourth user: local, enabled, in no other test's way
ADA = 6  # SAML, synced


@pytest.fixture(scope="module")
def writes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    tmp = tmp_path_factory.mktemp("writes")
    running = start_sandbox(
        "--seed", str(SEED), "--frozen-time", FROZEN, db=tmp / "grafana.db", log=tmp / "sandbox.log"
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def cloud(cloud_sandbox: RunningSandbox) -> RunningSandbox:
    """The shared Cloud stack (tests/tui/conftest.py), under the name these tests read best with."""
    return cloud_sandbox


# --- helpers ---------------------------------------------------------------------------------------------


def admin(sandbox: RunningSandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, auth=sandbox.auth, timeout=10)


def login_status(sandbox: RunningSandbox, login: str, password: str) -> int:
    """``GET /api/user`` with basic auth: 200 when `password` signs `login` in."""
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return httpx.get(f"{sandbox.url}/api/user", headers={"Authorization": f"Basic {token}"}).status_code


def lookup(sandbox: RunningSandbox, login: str) -> dict[str, Any] | None:
    with admin(sandbox) as http:
        r = http.get("/api/users/lookup", params={"loginOrEmail": login})
    if r.status_code == 404:
        return None
    r.raise_for_status()
    found: dict[str, Any] = r.json()
    return found


def make_user(sandbox: RunningSandbox, login: str) -> int:
    with admin(sandbox) as http:
        r = http.post("/api/admin/users", json={"login": login, "password": f"{login}-password-123456789"})
    r.raise_for_status()
    user_id: int = r.json()["id"]
    return user_id


def sessions(sandbox: RunningSandbox, user_id: int) -> list[Any]:
    with admin(sandbox) as http:
        r = http.get(f"/api/admin/users/{user_id}/auth-tokens")
    r.raise_for_status()
    found: list[Any] = r.json()
    return found


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    """The records `make_app`'s audit log holds (one JSON object a line)."""
    text = (tmp_path / "audit.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def screen_text(app: GtoolApp) -> str:
    """What the terminal shows: the SVG a snapshot would hold, non-breaking spaces made plain."""
    return app.export_screenshot().replace("&#160;", " ")


def notifications(app: GtoolApp) -> list[str]:
    return [f"{n.title} {n.message}" for n in app._notifications]


def plan_text(app: GtoolApp) -> str:
    return " ".join(str(s.render()) for s in app.screen.query("#plan Static").results(Static))


async def quick(pilot: Pilot[Any]) -> None:
    """After a key press in a modal: no debounce to wait for, only the workers it started."""
    await settle(pilot, pause=0.05)


async def open_create(app: GtoolApp, pilot: Pilot[Any]) -> CreateUserModal:
    await settle(pilot)  # the app connects and shows the users page first
    await pilot.press("c")
    await quick(pilot)
    assert isinstance(app.screen, CreateUserModal)
    return app.screen


async def pick(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Choose in a Select with the keyboard: open it, type to jump to the option, Enter."""
    await focus(pilot, selector)
    await pilot.press("enter", *text, "enter")
    await pilot.pause()


async def focus(pilot: Pilot[Any], selector: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.pause()  # focus moves on the next turn of the message loop


async def paste(pilot: Pilot[Any], text: str) -> None:
    """What a terminal sends when the operator pastes: one event, rather than a key press per letter."""
    assert pilot.app.focused is not None
    pilot.app.focused.post_message(events.Paste(text))
    await pilot.pause()


async def fill_self_hosted(
    pilot: Pilot[Any], login: str, *, target: str = "", delivery_steps: int = 0
) -> None:
    """Login, email, name; then `delivery_steps` to the right in the password choice, and the file/command."""
    await pilot.press(*login, "tab")
    await paste(pilot, f"{login}@example.com")
    await pilot.press("tab")
    await paste(pilot, "Provisioned Person")
    await focus(pilot, "#delivery")
    if delivery_steps:
        await pilot.press(*["right"] * delivery_steps, "space")
    if target:
        await focus(pilot, "#target")
        await paste(pilot, target)


def spy_user_changed(app: GtoolApp) -> list[int]:
    """The ids the screens are told about, in order."""
    seen: list[int] = []
    told = app.user_changed

    def user_changed(user_id: int) -> None:
        seen.append(user_id)
        told(user_id)

    app.user_changed = user_changed  # type: ignore[method-assign]
    return seen


async def open_deprovision(app: GtoolApp, pilot: Pilot[Any], user_id: int) -> DeprovisionModal:
    await settle(pilot)
    app.push_screen(DeprovisionModal(user_id))  # the user detail screen's X does this
    await quick(pilot)
    assert isinstance(app.screen, DeprovisionModal)
    return app.screen


anyio = pytest.mark.anyio


# --- snapshots (first: the pages behind the modals show the seed only) -------------------------------------


def test_snapshot_create_modal_self_hosted(
    tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any, stable_header: None
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_create(pilot.app, pilot)  # type: ignore[arg-type]

    assert snap_compare(make_app(tui_sandbox), terminal_size=(100, 30), run_before=run_before)


def test_snapshot_invite_modal_cloud(
    cloud: RunningSandbox, make_app: MakeApp, snap_compare: Any, stable_header: None
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_create(pilot.app, pilot)  # type: ignore[arg-type]

    app = make_app(conn=token_connection(cloud, TOKEN))
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_snapshot_deprovision_typed_confirmation(
    tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any, stable_header: None
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_deprovision(pilot.app, pilot, NEW_HIRE)  # type: ignore[arg-type]
        await pilot.press("down", "down", "enter")
        await quick(pilot)
        await pilot.press(*"new.hire")
        await quick(pilot)

    assert snap_compare(make_app(tui_sandbox), terminal_size=(100, 30), run_before=run_before)


# --- create ------------------------------------------------------------------------------------------------


@anyio
async def test_create_with_the_password_in_a_new_file_in_another_org_and_role(
    writes: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    pw_file = tmp_path / "pf.jane.pw"
    app = make_app(writes)
    told = spy_user_changed(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_create(app, pilot)
        await fill_self_hosted(pilot, "pf.jane", target=str(pw_file))
        await pick(pilot, "#org", "Data")
        await pick(pilot, "#role", "Ed")
        await focus(pilot, "#login")
        await pilot.press("enter")
        await quick(pilot)
        shown = plan_text(app)
        assert "create-user pf.jane" in shown and "POST /api/admin/users {" in shown
        assert '"password":"****"' in shown and '"orgId":2' in shown
        assert f"password written to a new file {pw_file} (0600)" in shown
        assert lookup(writes, "pf.jane") is None and not pw_file.exists()  # a plan sends nothing

        await pilot.press("y")
        await quick(pilot)
        assert isinstance(app.screen, UsersScreen)
        password = pw_file.read_text().strip()
        assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600 and len(password) >= 20
        assert login_status(writes, "pf.jane", password) == 200
        assert login_status(writes, "pf.jane", password + "x") == 401
        user = lookup(writes, "pf.jane")
        assert user is not None and user["email"] == "pf.jane@example.com"
        with admin(writes) as http:
            orgs = http.get(f"/api/users/{user['id']}/orgs").json()
        assert [(o["orgId"], o["role"]) for o in orgs] == [(2, "Editor")]
        assert told == [user["id"]]
        assert any("applied: create-user pf.jane" in n for n in notifications(app))
        for seen in (screen_text(app), *notifications(app), (tmp_path / "audit.jsonl").read_text()):
            assert password not in seen
    assert [(r["action"], r["target"], r["outcome"]) for r in audit(tmp_path)] == [
        ("create-user", "pf.jane", "applied"),
        ("change-role", "pf.jane in org 2 'Data Science'", "applied"),
    ]


@anyio
async def test_show_once_puts_the_password_in_one_modal_and_nowhere_after(
    writes: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    app = make_app(writes)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_create(app, pilot)
        await fill_self_hosted(pilot, "so.once", delivery_steps=2)
        assert not app.screen.query_one("#target-row").display  # nothing to type for "show once"
        await pilot.press("ctrl+r")
        await quick(pilot)
        assert "password shown once" in plan_text(app)
        await pilot.press("y")
        await quick(pilot)

        assert isinstance(app.screen, PasswordOnceModal)
        password = str(app.screen.query_one("#password", Static).render())
        assert len(password) >= 20 and password in screen_text(app)
        assert login_status(writes, "so.once", password) == 200
        await pilot.press("ctrl+p")  # the palette's "Screenshot" would write the password to disk
        await quick(pilot)
        assert isinstance(app.screen, PasswordOnceModal)
        await pilot.press("enter")
        await quick(pilot)

        assert isinstance(app.screen, UsersScreen)
        assert password not in screen_text(app)
        assert not any(password in n for n in notifications(app))
        assert password not in (tmp_path / "audit.jsonl").read_text()
        gc.collect()
        kept = [o for o in gc.get_objects() if isinstance(o, Secret) and o.reveal() == password]
        assert kept == []


@anyio
async def test_an_existing_password_file_is_refused_and_nothing_is_created(
    writes: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    taken = tmp_path / "taken.pw"
    taken.write_text("keep me\n")
    app = make_app(writes)
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await open_create(app, pilot)
        await fill_self_hosted(pilot, "ex.file", target=str(taken))
        await pilot.press("enter")
        await quick(pilot)
        assert "exists: refusing to overwrite it" in plan_text(app)
        assert modal.query_one("#apply", Button).disabled
        await pilot.press("y")
        await quick(pilot)
        assert app.screen is modal  # still open: nothing was applied
    assert taken.read_text() == "keep me\n"
    assert lookup(writes, "ex.file") is None
    assert not (tmp_path / "audit.jsonl").exists()


@anyio
async def test_cloud_invites_by_email_with_a_role(cloud: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(conn=token_connection(cloud, TOKEN))
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await open_create(app, pilot)
        assert not modal.query("#login") and not modal.query("#delivery")  # no local account, no password
        await paste(pilot, "invitee@example.com")
        await pilot.press("tab")
        await paste(pilot, "Ivy Invitee")
        await pick(pilot, "#role", "Ed")
        await focus(pilot, "#email")
        await pilot.press("enter")
        await quick(pilot)
        shown = plan_text(app)
        assert "POST /api/org/invites {" in shown and '"role":"Editor"' in shown
        await pilot.press("y")
        await quick(pilot)
        assert isinstance(app.screen, UsersScreen)
        assert any("applied: invite invitee@example.com" in n for n in notifications(app))
    invites = httpx.get(
        f"{cloud.url}/api/org/invites", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).json()
    assert [(i["email"], i["role"]) for i in invites if i["email"] == "invitee@example.com"] == [
        ("invitee@example.com", "Editor")
    ]


# --- deprovision -------------------------------------------------------------------------------------------


@anyio
async def test_disable_takes_the_typed_login_and_ends_the_sessions(
    writes: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    user_id = make_user(writes, "dp.disable")
    assert writes.db is not None
    store = Store(writes.db)  # a browser sign-in, as Grafana records it
    try:
        store.create_user_token(user_id, user_agent="Firefox", client_ip="10.0.0.7")
    finally:
        store.close()
    assert len(sessions(writes, user_id)) == 1
    app = make_app(writes)
    told = spy_user_changed(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"dp.disable", "enter")  # find them, open them, X
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, UserDetailScreen)
        await pilot.press("X")
        await quick(pilot)
        modal = app.screen
        assert isinstance(modal, DeprovisionModal) and modal.user_id == user_id
        shown = plan_text(app)
        assert f"POST /api/admin/users/{user_id}/disable" in shown
        assert f"POST /api/admin/users/{user_id}/logout" in shown
        await pilot.press("y")  # not typed yet
        await quick(pilot)
        assert app.screen is modal and modal.query_one("#apply", Button).disabled
        await pilot.press("enter", *"dp.disable", "enter")
        assert app.focused is modal.query_one("#apply", Button)
        await pilot.press("y")
        await quick(pilot)
        assert isinstance(app.screen, UserDetailScreen)  # back where X was pressed
        assert told == [user_id]
        assert any("applied: disable dp.disable" in n for n in notifications(app))
    with admin(writes) as http:
        assert http.get(f"/api/users/{user_id}").json()["isDisabled"] is True
    assert sessions(writes, user_id) == []
    assert [(r["action"], r["before"], r["after"], r["outcome"]) for r in audit(tmp_path)] == [
        ("disable", False, True, "applied")
    ]


@anyio
async def test_delete_waits_for_the_exact_login_then_deletes(
    writes: RunningSandbox, make_app: MakeApp
) -> None:
    user_id = make_user(writes, "dp.delete")
    app = make_app(writes)
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await open_deprovision(app, pilot, user_id)
        await pilot.press("down", "down")
        await settle(pilot, pause=0.05)
        shown = plan_text(app)
        assert "delete-user dp.delete (DESTRUCTIVE)" in shown
        assert f"DELETE /api/admin/users/{user_id}" in shown
        await pilot.press("enter", *"dp.delet", "enter")
        assert "type the login exactly as shown: dp.delete" in screen_text(app)
        await pilot.press("tab", "y")  # out of the input, so y is a key press, not a letter
        await settle(pilot, pause=0.05)
        assert app.screen is modal and modal.query_one("#apply", Button).disabled
        with admin(writes) as http:
            assert http.get(f"/api/users/{user_id}").status_code == 200

        await pilot.press("shift+tab", "end", "e", "enter", "y")
        await settle(pilot, pause=0.05)
        assert isinstance(app.screen, UsersScreen)
    with admin(writes) as http:
        assert http.get(f"/api/users/{user_id}").status_code == 404


@anyio
async def test_disabling_a_synced_user_shows_why_and_sends_nothing(
    writes: RunningSandbox, make_app: MakeApp, tmp_path: Path
) -> None:
    app = make_app(writes)
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await open_deprovision(app, pilot, ADA)
        shown = plan_text(app)
        assert "disable ada@example.com" in shown and "SAML" in shown and "nothing will be sent" in shown
        assert not modal.query_one("#confirm-row").display and modal.query_one("#apply", Button).disabled
        await pilot.press("enter", "y")
        await quick(pilot)
        assert app.screen is modal
    with admin(writes) as http:
        assert http.get(f"/api/users/{ADA}").json()["isDisabled"] is False
    assert not (tmp_path / "audit.jsonl").exists()


# --- read-only -------------------------------------------------------------------------------------------


@anyio
async def test_read_only_hides_c_and_refuses_both_modals(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await quick(pilot)
        assert "create_user" not in {b.binding.action for b in app.screen.active_bindings.values()}
        await pilot.press("c")
        await quick(pilot)
        assert isinstance(app.screen, UsersScreen)
        app.push_screen(CreateUserModal())
        app.push_screen(DeprovisionModal(NEW_HIRE))
        await quick(pilot)
        assert isinstance(app.screen, UsersScreen)
        assert any("Read-only" in n for n in notifications(app))


@anyio
async def test_an_editor_who_cannot_create_users_gets_the_reason_not_a_stuck_plan(
    writes: RunningSandbox, make_app: MakeApp
) -> None:
    # bob is an Editor, not a Grafana server admin nor an org admin: he can neither create nor invite
    app = make_app(conn=connection(writes, "bob", "bob-sandbox"))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_create(app, pilot)
        await fill_self_hosted(pilot, "not.created", delivery_steps=2)
        await pilot.press("ctrl+r")
        await quick(pilot)
        shown = plan_text(app)
        assert "planning" not in shown and "not possible with this credential" in shown
        assert app.is_running and lookup(writes, "not.created") is None
