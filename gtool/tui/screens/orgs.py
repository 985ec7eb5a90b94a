"""The orgs panel: the orgs the credential can see, with member counts; Enter lists an org's members.

A Grafana server admin sees every org (``GET /api/orgs``, 0-based pages). Anyone else cannot call it
(Grafana evaluates it in the global org): a user sees the orgs they belong to, a service account token the
one org it is bound to. The member count is one ``/api/orgs/:id/users/search?perpage=1`` per org, read
after the rows are on screen; an org whose members the credential may not read shows "?".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from gtool.grafana.capabilities import Capabilities
from gtool.grafana.errors import GrafanaError
from gtool.grafana.models import Org
from gtool.tui.errors import ReportsWorkerErrors
from gtool.tui.session import Session, session_of
from gtool.tui.widgets.header import InstanceHeader

COUNT_CONCURRENCY = 8
"""Member counts asked at once: enough to fill a screen quickly without a burst on a big instance."""

MAX_ROWS = 1000
"""Rows in the table at most (DataTable paint grows with every cell); the filter narrows the rest."""

COLUMNS = (("id", "ID", 6), ("name", "Name", 40), ("members", "Members", 8))


def own_orgs(caps: Capabilities) -> list[Org]:
    """The orgs a credential that cannot list every org can see: its memberships, or a token's one org."""
    if caps.orgs:
        return [Org(m.org_id, m.name) for m in caps.orgs]
    if caps.org_id is not None:
        return [Org(caps.org_id, caps.org_name)]
    return []


def scope_line(caps: Capabilities, count: int) -> str:
    if caps.can_list_all_orgs:
        return f"all orgs · {count:,}"
    if caps.is_service_account:
        return f"this service account's org · {count:,} (a token is bound to the org it was made in)"
    return f"orgs {caps.identity.login} is in · {count:,} (every org: {caps.why_not('list_all_orgs')})"


def matching(orgs: Iterable[Org], text: str) -> list[Org]:
    needle = text.strip().lower()
    return [o for o in orgs if needle in o.name.lower()] if needle else list(orgs)


class OrgsScreen(ReportsWorkerErrors, Screen[None]):
    """Find an org; Enter shows its members, `m` the user × org matrix of the orgs shown."""

    CSS_PATH = "orgs.tcss"

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="orgs.filter"),
        Binding("escape", "focus_table", "Table", show=False, id="orgs.table"),
        # priority: the table's own Enter would hide this one from the footer and the help
        Binding("enter", "open", "Members", priority=True, id="orgs.open"),
        Binding("m", "matrix", "User × org", id="orgs.matrix"),
        Binding("j", "cursor_down", "Down", show=False, id="orgs.down"),
        Binding("k", "cursor_up", "Up", show=False, id="orgs.up"),
        Binding("ctrl+r", "reload", "Reload", id="orgs.reload"),
    ]

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.orgs: list[Org] = []
        self.shown: list[Org] = []
        self.counts: dict[int, int | None] = {}  # None: the credential may not read that org's members

    @property
    def session(self) -> Session:
        return session_of(self.app)

    def compose(self) -> ComposeResult:
        yield InstanceHeader(self.session.url, self.session.read_only)
        with Vertical(id="orgs-body"):
            yield Input(placeholder="/ filter orgs by name", id="org-filter")
            yield Static("loading…", id="orgs-status")
            table: DataTable[str] = DataTable(id="orgs", cursor_type="row", zebra_stripes=True)
            for key, label, width in COLUMNS:
                table.add_column(label, key=key, width=width)
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(InstanceHeader).show(self.session.capabilities, lost=getattr(self.app, "lost", ""))
        self.query_one("#orgs", DataTable).focus()
        self.load()

    # --- loading --------------------------------------------------------------------------------------

    @work(exclusive=True, group="orgs", exit_on_error=False)
    async def load(self) -> None:
        caps = self.session.capabilities
        assert caps is not None
        self.query_one("#orgs-status", Static).update("loading…")
        if caps.can_list_all_orgs:
            found = await self.session.client.list_orgs()
        else:
            found = own_orgs(caps)
        # /api/orgs has no ORDER BY (database order): sort so the list reads the same on every visit
        self.orgs = sorted(found, key=lambda o: o.id)
        self.counts = {}
        self.show()

    def show(self) -> None:
        caps = self.session.capabilities
        assert caps is not None
        text = self.query_one("#org-filter", Input).value
        hits = matching(self.orgs, text)
        self.shown = hits[:MAX_ROWS]
        table = self.query_one("#orgs", DataTable)
        table.clear()
        for org in self.shown:
            table.add_row(str(org.id), org.name, self.count_cell(org.id), key=str(org.id))
        status = scope_line(caps, len(self.orgs))
        if text.strip():
            status += f" · {len(hits):,} matching {text.strip()!r}"
        if len(hits) > MAX_ROWS:
            status += f" · first {MAX_ROWS:,} shown: filter to narrow"
        if not hits:
            status += " · no org matches"
        self.query_one("#orgs-status", Static).update(status)
        self.count_members([o.id for o in self.shown if o.id not in self.counts])

    def count_cell(self, org_id: int) -> str:
        if org_id not in self.counts:
            return "…"
        count = self.counts[org_id]
        return "?" if count is None else f"{count:,}"

    @work(exclusive=True, group="org-counts", exit_on_error=False)
    async def count_members(self, org_ids: Sequence[int]) -> None:
        gate = asyncio.Semaphore(COUNT_CONCURRENCY)

        async def one(org_id: int) -> None:
            async with gate:
                try:
                    page = await self.session.client.org_users(org_id, per_page=1)
                    self.counts[org_id] = page.total_count
                except GrafanaError:
                    self.counts[org_id] = None  # not readable with this credential: "?" rather than a guess
            with contextlib.suppress(CellDoesNotExist, RowDoesNotExist):  # filtered away meanwhile
                self.query_one("#orgs", DataTable).update_cell(
                    str(org_id), "members", self.count_cell(org_id)
                )

        await asyncio.gather(*(one(i) for i in org_ids))

    # --- keys -----------------------------------------------------------------------------------------

    @on(Input.Changed, "#org-filter")
    def filtered(self) -> None:
        self.show()

    def selected(self) -> Org | None:
        table = self.query_one("#orgs", DataTable)
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def action_open(self) -> None:
        if self.query_one("#org-filter", Input).has_focus:
            self.action_focus_table()  # Enter in the filter: done filtering
            return
        org = self.selected()
        if org is None:
            return
        from gtool.tui.screens.org_members import OrgMembersScreen

        self.app.push_screen(OrgMembersScreen(org.id, org.name))

    @on(DataTable.RowSelected, "#orgs")
    def row_clicked(self) -> None:
        self.action_open()  # a click on the highlighted row; Enter goes through the binding

    def action_matrix(self) -> None:
        from gtool.tui.screens.matrix import MatrixScreen

        self.app.push_screen(MatrixScreen(self.shown))

    def action_reload(self) -> None:
        self.load()

    def action_focus_filter(self) -> None:
        self.query_one("#org-filter", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one("#orgs", DataTable).focus()

    def action_cursor_down(self) -> None:
        self.query_one("#orgs", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#orgs", DataTable).action_cursor_up()

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Org members", "Members of the selected org, with their roles", self.action_open)
        yield SystemCommand("User × org matrix", "Each user's role in each org shown (m)", self.action_matrix)
