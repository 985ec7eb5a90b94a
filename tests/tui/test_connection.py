"""A lost connection is shown in the header and probed until the server answers again; the app never exits."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gtool.tui.widgets.header import InstanceHeader
from tests.sandbox.conftest import start_sandbox
from tests.tui.conftest import FROZEN, SEED, MakeApp, connection, settle

pytestmark = pytest.mark.anyio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_lost_connection_is_shown_and_recovered(make_app: MakeApp, tmp_path: Path) -> None:
    port = str(free_port())
    args = ("--seed", str(SEED), "--frozen-time", FROZEN)
    first = start_sandbox(*args, db=tmp_path / "g.db", log=tmp_path / "1.log")
    # start_sandbox picks port 0; restart on the same port to play "the server came back"
    first.stop()
    first = start_sandbox(*args, "--port", port, db=tmp_path / "g.db", log=tmp_path / "2.log")
    app = make_app(conn=connection(first))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert app.screen.query_one("#users").row_count > 0  # type: ignore[attr-defined]
            first.stop()
            await pilot.press("ctrl+r")
            await settle(pilot, pause=0.5)
            header = str(app.screen.query_one(InstanceHeader).render())
            assert "connection lost" in header
            assert app.is_running
            again = start_sandbox(*args, "--port", port, db=tmp_path / "g.db", log=tmp_path / "3.log")
            try:
                await pilot.pause(4)  # the probe runs every 3 s
                await settle(pilot)
                assert "connection lost" not in str(app.screen.query_one(InstanceHeader).render())
                await pilot.press("ctrl+r")
                await settle(pilot)
                assert app.screen.query_one("#users").row_count > 0  # type: ignore[attr-defined]
            finally:
                again.stop()
    finally:
        first.stop()
