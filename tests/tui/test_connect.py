"""The connect screen (`gtool tui` with no profile or URL): errors in place, saved profiles hold references.

The app starts with no session, as `gtool tui` does without a target; the profile file lives in the
test's own XDG_CONFIG_HOME.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, OptionList, RadioButton, Static

from gtool import profiles
from gtool.sandbox.seed import load_seed
from gtool.tui.screens.connect import ConnectScreen
from gtool.tui.screens.users import UsersScreen
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import SEED, MakeApp, connection, settle

pytestmark = pytest.mark.anyio

QUICK = 0.05
"""Seconds `settle` pauses: no key in these tests goes through the search debounce."""

ALICE = "alice-sandbox"  # a password no screen, log or file may show


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in profiles.ENV_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    return home


def fill(app: Any, **values: str) -> None:
    for field, value in values.items():
        app.screen.query_one(f"#{field.replace('_', '-')}", Input).value = value


def error(app: Any) -> str:
    widget = app.screen.query_one("#connect-error", Static)
    return str(widget.content) if widget.display else ""


async def start(pilot: Any) -> ConnectScreen:
    await settle(pilot, QUICK)
    screen = pilot.app.screen
    assert isinstance(screen, ConnectScreen)
    return screen


async def test_wrong_password_is_shown_in_place_then_the_right_one_connects(
    tui_sandbox: RunningSandbox, make_app: MakeApp, config_home: Path
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start(pilot)
        fill(app, url=tui_sandbox.url, user="alice")
        app.screen.query_one("#secret", Input).focus()
        await pilot.press(*"not-her-password", "enter")
        await settle(pilot, QUICK)
        assert app.screen is screen and app.is_running
        assert "401" in error(app)
        assert "not-her-password" not in app.export_screenshot()  # a password input shows dots
        fill(app, secret=ALICE)
        await pilot.press("enter")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, UsersScreen)
        assert app.session is not None and app.session.capabilities is not None
        assert app.session.capabilities.identity.login == "alice"


async def test_a_refused_connection_is_shown_in_place(make_app: MakeApp, config_home: Path) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start(pilot)
        fill(app, url="http://127.0.0.1:9", user="admin", secret="whatever")  # discard port: nobody listens
        await pilot.click("#connect")
        await settle(pilot, QUICK)
        assert app.screen is screen and app.is_running
        assert "refused" in error(app).lower() or "connect" in error(app).lower()
        assert "127.0.0.1:9" in error(app)


async def test_a_form_mistake_is_explained_before_anything_is_sent(
    tui_sandbox: RunningSandbox, make_app: MakeApp, config_home: Path
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot)
        fill(app, url=tui_sandbox.url, user="alice", secret=ALICE)
        fill(app, save_as="sandbox", reference=ALICE)  # the password itself where a reference belongs
        await pilot.click("#connect")
        await settle(pilot, QUICK)
        assert "must be a reference" in error(app)
        assert ALICE not in error(app)  # the refusal does not echo what may be the secret
        assert not (config_home / "gtool" / "config.toml").exists()
        assert isinstance(app.screen, ConnectScreen)


async def test_saving_a_profile_writes_a_reference_never_the_password(
    tui_sandbox: RunningSandbox, make_app: MakeApp, config_home: Path, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secrets" / "sandbox.secret"
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot)
        fill(app, url=tui_sandbox.url, user="alice", secret=ALICE)
        fill(app, save_as="sandbox", reference=f"file:{secret_file}")
        await pilot.click("#connect")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, UsersScreen)
    config = config_home / "gtool" / "config.toml"
    text = config.read_text()
    assert ALICE not in text
    assert f'secret = "file:{secret_file}"' in text and 'user = "alice"' in text
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    # the secret went where the reference points, readable by its owner only
    assert secret_file.read_text().strip() == ALICE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    conn = profiles.resolve("sandbox")  # and the profile works as written
    assert (conn.user, conn.secret.reveal()) == ("alice", ALICE)


async def test_a_saved_profile_is_offered_and_connects(
    tui_sandbox: RunningSandbox, make_app: MakeApp, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles.add(
        profiles.Profile("lab", tui_sandbox.url, "basic", "env:GTOOL_TEST_LAB_PASSWORD", user="alice")
    )
    assert ALICE not in (config_home / "gtool" / "config.toml").read_text()
    monkeypatch.setenv("GTOOL_TEST_LAB_PASSWORD", ALICE)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start(pilot)
        options = screen.query_one("#profiles", OptionList)
        assert options.has_focus and options.option_count == 1
        assert options.get_option_at_index(0).id == "lab"
        await pilot.press("enter")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, UsersScreen)
        assert app.session is not None and app.session.profile == "lab"


async def test_a_broken_profile_reference_is_shown_in_place(
    tui_sandbox: RunningSandbox, make_app: MakeApp, config_home: Path
) -> None:
    profiles.add(profiles.Profile("lab", tui_sandbox.url, "basic", "env:GTOOL_TEST_UNSET_VAR", user="alice"))
    os.environ.pop("GTOOL_TEST_UNSET_VAR", None)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start(pilot)
        await pilot.press("enter")
        await settle(pilot, QUICK)
        assert app.screen is screen
        assert "GTOOL_TEST_UNSET_VAR is not set" in error(app)


async def test_a_service_account_token(
    tui_sandbox: RunningSandbox, make_app: MakeApp, config_home: Path
) -> None:
    token = load_seed(SEED).token("gtool-ci")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot)
        await pilot.click("#auth-token")
        await settle(pilot, QUICK)
        assert app.screen.query_one("#auth-token", RadioButton).value
        assert app.screen.query_one("#user", Input).disabled
        assert str(app.screen.query_one("#secret-label", Static).content) == "Token"
        fill(app, url=tui_sandbox.url, secret=token)
        await pilot.click("#connect")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, UsersScreen)
        assert app.session is not None and app.session.capabilities is not None
        assert app.session.capabilities.is_service_account
        assert token not in app.export_screenshot()


async def test_escape_leaves_the_app(make_app: MakeApp, config_home: Path) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert not app.is_running


async def test_a_wrong_password_from_the_environment_opens_the_form_filled_but_for_the_secret(
    tui_sandbox: RunningSandbox, make_app: MakeApp, config_home: Path
) -> None:
    app = make_app(conn=connection(tui_sandbox, "alice", "not-her-password"))  # as GRAFANA_* would give
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        screen = app.screen
        assert isinstance(screen, ConnectScreen) and app.is_running
        assert "401" in error(app)
        assert screen.query_one("#url", Input).value == tui_sandbox.url
        assert screen.query_one("#user", Input).value == "alice"
        secret = screen.query_one("#secret", Input)
        assert secret.value == "" and secret.has_focus  # the password is never carried over
        await pilot.press(*ALICE, "enter")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, UsersScreen)
        assert app.session is not None and app.session.capabilities is not None
        assert app.session.capabilities.identity.login == "alice"
