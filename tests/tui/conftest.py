"""TUI fixtures: the real app against a real sandbox process on 127.0.0.1, with the sandbox clock frozen
so "last seen" ages, and therefore snapshots, are the same on every run.

* `tui_sandbox` — one sandbox per test module, seeded from samples/sandbox-seed.toml (with the Okta
  `[auth.saml]` config, so SAML users are locked). Tests in a module share it: a test that changes a user
  picks a user no other test of that module looks at.
* `make_app(sandbox, ...)` — a `GtoolApp` connected as the sandbox admin (or a given login/token), with its
  audit log in the test's tmp dir.
* `settle(pilot)` — wait for every worker and the screen refresh that follows.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from gtool.grafana.auth import Secret
from gtool.profiles import Connection
from gtool.tui.app import GtoolApp
from gtool.tui.session import Session
from gtool.tui.widgets import header
from tests.conftest import ROOT
from tests.sandbox.conftest import RunningSandbox, start_sandbox

SEED = ROOT / "samples" / "sandbox-seed.toml"
OKTA_INI = ROOT / "samples" / "okta" / "grafana.ini"
FROZEN = "2026-01-15T12:00:00Z"


def start_tui_sandbox(*args: str, tmp: Path | None = None) -> RunningSandbox:
    return start_sandbox(
        "--seed", str(SEED), "--frozen-time", FROZEN, *args, log=(tmp / "sandbox.log") if tmp else None
    )


@pytest.fixture(scope="module")
def tui_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_tui_sandbox(tmp=tmp_path_factory.mktemp("sandbox"))
    try:
        yield running
    finally:
        running.stop()


def start_cloud_sandbox(tmp: Path) -> RunningSandbox:
    """A seeded, frozen Grafana Cloud stack (tokens only), with a mail server as every Cloud stack has one,
    so invites work (as in tests/e2e/test_cli_cloud.py)."""
    ini = tmp / "grafana.ini"
    ini.write_text(OKTA_INI.read_text() + "\n[smtp]\nenabled = true\n")
    return start_tui_sandbox("--cloud", "--config", str(ini), tmp=tmp)


@pytest.fixture(scope="module")
def cloud_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A Cloud stack; its `password` is the token the sandbox printed (Admin, org 1)."""
    running = start_cloud_sandbox(tmp_path_factory.mktemp("cloud"))
    try:
        yield running
    finally:
        running.stop()


def connection(sandbox: RunningSandbox, login: str | None = None, password: str | None = None) -> Connection:
    return Connection(
        url=sandbox.url,
        auth_kind="basic",
        secret=Secret(password or sandbox.password),
        user=login or sandbox.user,
    )


def token_connection(sandbox: RunningSandbox, token: str) -> Connection:
    return Connection(url=sandbox.url, auth_kind="token", secret=Secret(token))


MakeApp = Callable[..., GtoolApp]


@pytest.fixture
def make_app(tmp_path: Path) -> MakeApp:
    def make(
        sandbox: RunningSandbox | None = None,
        *,
        conn: Connection | None = None,
        read_only: bool = False,
        saml_config: Path | None = OKTA_INI,
        **kwargs: Any,
    ) -> GtoolApp:
        if conn is None and sandbox is not None:
            conn = connection(sandbox)
        session = Session.open(conn, read_only=read_only) if conn is not None else None
        return GtoolApp(
            session,
            saml_config=saml_config,
            read_only=read_only,
            audit_path=tmp_path / "audit.jsonl",
            **kwargs,
        )

    return make


async def settle(pilot: Pilot[Any], pause: float = 0.15) -> None:
    """Let debounce timers fire, then wait for every worker and the refresh after it.

    A failed worker is not an error here: the app's own handler shows it, and the test checks the screen.
    """
    await pilot.pause(pause)
    workers = [w for w in pilot.app.workers if not w.is_finished]
    await asyncio.gather(*(w.wait() for w in workers), return_exceptions=True)
    await pilot.pause()


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make every snapshot with an input flaky (harlequin does the same)."""
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are `@pytest.mark.anyio async def`; Textual runs on asyncio."""
    return "asyncio"


@pytest.fixture
def stable_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots: every sandbox listens on a random port; the header shows 127.0.0.1:3000 instead."""
    real = header.render_header

    def render(url: str, *args: Any, **kwargs: Any) -> str:
        return real(re.sub(r"^http://127\.0\.0\.1:\d+", "http://127.0.0.1:3000", url), *args, **kwargs)

    monkeypatch.setattr(header, "render_header", render)
