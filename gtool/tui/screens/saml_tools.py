"""Panel 3, the SAML tools: lint a grafana.ini, inspect a captured assertion, explain the login it makes.

The same core as `gtool saml lint`, `gtool saml inspect` and `gtool saml explain` (gtool.saml.lint,
gtool.saml.inputs and gtool.saml.report, gtool.saml.explain), run in thread workers; no network at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, TabbedContent, TabPane, TextArea

from gtool.tui.errors import ReportsWorkerErrors
from gtool.tui.widgets.header import InstanceHeader
from gtool.tui.widgets.saml_explain import ExplainPane
from gtool.tui.widgets.saml_inspect import InspectPane
from gtool.tui.widgets.saml_lint import LintPane


class SamlToolsScreen(ReportsWorkerErrors, Screen[None]):
    """Lint (l), Inspect (i) and Explain (e) tabs; Enter runs or opens, Esc goes back."""

    CSS_PATH = "saml_tools.tcss"

    BINDINGS = [
        Binding("l", "tab('lint')", "Lint", id="saml.lint"),
        Binding("i", "tab('inspect')", "Inspect", id="saml.inspect"),
        Binding("e", "tab('explain')", "Explain", id="saml.explain"),
        Binding("R", "redact", "Redact", id="saml.redact"),
        Binding("escape", "back", "Back", id="saml.back"),
        Binding("j", "cursor('down')", "Down", show=False, id="saml.down"),
        Binding("k", "cursor('up')", "Up", show=False, id="saml.up"),
    ]

    FIXED_NOW: ClassVar[dt.datetime | None] = None
    """The time assertions and certificates are judged at, as the CLI's `--now`; None: the clock."""

    def now(self) -> dt.datetime:
        return self.FIXED_NOW or dt.datetime.now(dt.UTC)

    def compose(self) -> ComposeResult:
        session = getattr(self.app, "session", None)
        if session is not None:
            yield InstanceHeader(session.url, session.read_only)
        with TabbedContent(initial="lint", id="saml-tabs"):
            with TabPane("Lint (l)", id="lint"):
                yield LintPane(self.now, id="lint-pane")
            with TabPane("Inspect (i)", id="inspect"):
                yield InspectPane(self.now, id="inspect-pane")
            with TabPane("Explain (e)", id="explain"):
                yield ExplainPane(self.now, id="explain-pane")
        yield Footer()

    @property
    def lint(self) -> LintPane:
        return self.query_one(LintPane)

    @property
    def inspect(self) -> InspectPane:
        return self.query_one(InspectPane)

    @property
    def explain(self) -> ExplainPane:
        return self.query_one(ExplainPane)

    @property
    def active(self) -> str:
        return self.query_one("#saml-tabs", TabbedContent).active

    def on_mount(self) -> None:
        session = getattr(self.app, "session", None)
        if session is not None:
            self.query_one(InstanceHeader).show(session.capabilities)
        config = getattr(self.app, "saml_config", None)
        if config is not None:
            self.lint.path = str(config)
            self.lint.start()
        else:
            self.query_one("#lint-path", Input).focus()

    # --- tabs -------------------------------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        self.query_one("#saml-tabs", TabbedContent).active = tab

    @on(TabbedContent.TabActivated, "#saml-tabs")
    def tab_shown(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or ""
        if tab == "explain":
            self.explain.start(self.lint.path, self.inspect.loaded, self.inspect.last_error)
        self.focus_main(tab)
        self.refresh_bindings()

    def results(self, tab: str) -> Widget | None:
        """Where a tab's results are, once it has some."""
        if tab == "lint":
            table = self.query_one("#lint-table", DataTable)
            return table if table.row_count else None
        if tab == "inspect":
            return self.query_one("#inspect-result") if self.inspect.loaded else None
        return self.query_one("#explain-result")

    def focus_main(self, tab: str) -> None:
        """The widget a user works with first on each tab: the results when there are some, else the path."""
        target = self.results(tab) or self.query_one(f"#{tab}-path", Input)
        target.focus()

    # --- keys -------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ("redact", "back"):
            return True
        try:
            if action == "redact":
                return self.active == "inspect"
            return self.lint.detail_open or isinstance(self.focused, Input | TextArea)
        except NoMatches:  # asked for the footer before the tabs are composed
            return False

    def action_back(self) -> None:
        """Esc: close the finding's detail, else leave a text field for the results."""
        if self.active == "lint" and self.lint.detail_open:
            self.lint.close_detail()
        else:
            # out of a text field, so that l, i, e and R are keys again, not letters
            (self.results(self.active) or self.query_one("#saml-tabs ContentTabs")).focus()
        self.refresh_bindings()

    def action_redact(self) -> None:
        self.inspect.toggle_redact()

    def action_cursor(self, direction: str) -> None:
        if isinstance(self.focused, DataTable):
            getattr(self.focused, f"action_cursor_{direction}")()
        elif self.focused is not None:
            self.focused.scroll_relative(y=1 if direction == "down" else -1, animate=False)

    @on(DataTable.RowSelected, "#lint-table")
    def detail_opened(self) -> None:
        self.refresh_bindings()

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("SAML: lint", "Lint the grafana.ini in the Lint tab (l)", self._lint)
        yield SystemCommand("SAML: inspect", "Inspect a captured SAML response (i)", self._inspect)
        yield SystemCommand("SAML: explain", "What would Grafana grant at this login? (e)", self._explain)
        yield SystemCommand("SAML: redact", "Mask NameID, emails and attribute values (R)", self._redact)

    def _lint(self) -> None:
        self.action_tab("lint")
        self.lint.start()

    def _inspect(self) -> None:
        self.action_tab("inspect")

    def _explain(self) -> None:
        self.action_tab("explain")

    def _redact(self) -> None:
        self.action_tab("inspect")
        self.inspect.toggle_redact()
