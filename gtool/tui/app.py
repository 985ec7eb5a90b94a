"""The gtool terminal app: numbered panels (users, orgs, SAML tools, audit), help, command palette.

Every API call runs in a worker; one `Worker.StateChanged` handler turns a failed worker into a
notification, so an error (403, 500, a lost connection) is shown and the app keeps running. A lost
connection is also shown in the header and probed every few seconds until the server answers again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from gtool.grafana.errors import GrafanaError, TransportError
from gtool.tui.errors import describe_error
from gtool.tui.session import Session
from gtool.tui.widgets.header import InstanceHeader

RETRY_EVERY = 3.0
"""Seconds between probes of a lost server."""


class GtoolApp(App[None]):
    """`gtool tui` and `gtool demo`."""

    CSS_PATH = "app.tcss"
    TITLE = "gtool"

    PANELS = {
        "users": "gtool.tui.screens.users:UsersScreen",
        "orgs": "gtool.tui.screens.orgs:OrgsScreen",
        "saml": "gtool.tui.screens.saml_tools:SamlToolsScreen",
        "audit": "gtool.tui.screens.audit:AuditScreen",
    }

    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("1", "switch_mode('users')", "Users", id="app.users"),
        Binding("2", "switch_mode('orgs')", "Orgs", id="app.orgs"),
        Binding("3", "switch_mode('saml')", "SAML", id="app.saml"),
        Binding("4", "switch_mode('audit')", "Audit", id="app.audit"),
    ]

    def __init__(
        self,
        session: Session | None = None,
        *,
        saml_config: Path | None = None,
        read_only: bool = False,
        audit_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.session: Session | None = session
        self.saml_config = saml_config  # the grafana.ini the SAML tools and drift start from
        self.force_read_only = read_only
        self.audit_path = audit_path
        self._probe: Timer | None = None
        self.lost = ""
        self._panels: set[str] = set()
        self.change_log: list[int] = []  # ids of the users written to, in order

    def user_changed(self, user_id: int) -> None:
        """Called after a write: screens showing this user re-read it when they are shown again."""
        self.change_log.append(user_id)

    @property
    def change_mark(self) -> int:
        """Where the change log is now: a screen keeps it when it reads, and asks `changed_since` later."""
        return len(self.change_log)

    def changed_since(self, mark: int) -> set[int]:
        """Users written to after `mark`; each screen keeps its own mark, so none hides a change from
        another."""
        return set(self.change_log[mark:])

    # import paths keep each panel's import lazy: `gtool tui` shows the users screen before loading the rest
    def _panel(self, name: str) -> Screen[Any]:
        module, _, cls = self.PANELS[name].partition(":")
        return getattr(__import__(module, fromlist=[cls]), cls)()  # type: ignore[no-any-return]

    def on_mount(self) -> None:
        if self.session is None:
            from gtool.tui.screens.connect import ConnectScreen

            self.push_screen(ConnectScreen(), self._connected)
            return
        self.start()

    async def _connected(self, session: Session | None) -> None:
        if session is None:
            self.exit()
            return
        if self.session is not None and self.session is not session:
            await self.session.aclose()  # the connection that failed
        self.session = session
        self.start()

    def start(self) -> None:
        assert self.session is not None
        if self.force_read_only:
            self.session.read_only = True
        if self.audit_path is not None:
            self.session.audit_path = self.audit_path
        self.connect()

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self) -> None:
        assert self.session is not None
        await self.session.connect()
        for warning in self.session.warnings:
            self.notify(warning, severity="warning", timeout=10)
        self.switch_mode("users")

    def switch_mode(self, mode: str) -> Any:
        if self.session is None or self.session.capabilities is None:
            return None
        if mode not in self._panels:
            self.add_mode(mode, functools.partial(self._panel, mode))
            self._panels.add(mode)
        return super().switch_mode(mode)

    # --- errors and the connection ------------------------------------------------------------------

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """The app's own workers (connect, probe); screens' workers come through `ReportsWorkerErrors`."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.report_failure(event.worker, event.worker.error)

    def report_failure(self, worker: Worker[Any], error: BaseException) -> None:
        """Show a failed worker's error; never exit. A transport error also marks the connection lost."""
        if worker.group == "probe":
            return  # the probe reports through the header
        if worker.group == "connect" and self.session is not None and self.session.capabilities is None:
            self.connection_failed(error)
            return
        if isinstance(error, TransportError):
            self.connection_lost(str(error))
        self.notify(describe_error(error), title="Not done", severity="error", timeout=8)

    def connection_failed(self, error: BaseException) -> None:
        """The first connection failed: show why and let the operator fix the connection."""
        from gtool.tui.screens.connect import ConnectScreen

        self.notify(describe_error(error), title="Cannot connect", severity="error", timeout=15)
        if isinstance(error, TransportError):
            self.connection_lost(str(error))
            return
        conn = self.session.conn if self.session is not None else None
        again = ConnectScreen(
            error=describe_error(error),
            url=conn.url if conn else "",
            user=(conn.user or "") if conn else "",
            token=bool(conn and conn.auth_kind == "token"),
        )
        self.push_screen(again, self._connected)

    def connection_lost(self, why: str) -> None:
        self.lost = why
        self._show_header()
        if self._probe is None:
            self._probe = self.set_interval(RETRY_EVERY, self.probe)

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def probe(self) -> None:
        assert self.session is not None
        try:
            await self.session.client.health()
        except GrafanaError as exc:
            self.lost = str(exc)
            self._show_header()
            return
        if self._probe is not None:
            self._probe.stop()
            self._probe = None
        self.lost = ""
        self._show_header()
        self.notify("Connection restored.", timeout=4)
        if self.session.capabilities is None:
            self.connect()

    def _show_header(self) -> None:
        for header in self.screen.query(InstanceHeader):
            header.show(self.session.capabilities if self.session else None, lost=self.lost)

    # --- help and the command palette ---------------------------------------------------------------

    def action_help(self) -> None:
        from gtool.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.session is None or self.session.capabilities is None:
            return
        yield SystemCommand("Users", "Search and browse users (1)", lambda: self.switch_mode("users"))
        yield SystemCommand("Orgs", "Organizations and their members (2)", lambda: self.switch_mode("orgs"))
        yield SystemCommand("SAML tools", "Lint a config, inspect and explain an assertion (3)", self._saml)
        yield SystemCommand("Audit log", "Every change gtool made (4)", lambda: self.switch_mode("audit"))
        yield SystemCommand("Help", "Keys of this screen (?)", self.action_help)
        yield from getattr(screen, "commands", list)()

    def action_command_palette(self) -> None:
        # The palette offers Textual's "Screenshot" (an SVG on disk) and mode switches that would leave a
        # shown-once password behind on another screen stack: not while one is on screen.
        if getattr(self.screen, "HOLDS_SECRET", False):
            self.bell()
            return
        super().action_command_palette()

    def _saml(self) -> None:
        self.switch_mode("saml")

    async def action_quit(self) -> None:
        if self.session is not None:
            await self.session.aclose()
        self.exit()
