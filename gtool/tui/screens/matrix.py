"""The user × org matrix: one row per user of a query (the first screen page), one column per org, the
user's role in that org in each cell.

A Grafana server admin reads each user's memberships (``GET /api/users/:id/orgs``, 8 at a time). Anyone
else may not, so the cells come from the member lists of the orgs shown instead (``/api/orgs/:id/users``
search, which an org Admin may read for their own org). A cell that could not be read shows "?", never a
blank that would read as "not a member".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from gtool.access.browse import Cursor, UserRow
from gtool.access.query import QueryError, parse
from gtool.grafana.errors import GrafanaError
from gtool.grafana.models import Org
from gtool.tui.errors import ReportsWorkerErrors
from gtool.tui.screens.orgs import own_orgs
from gtool.tui.session import session_of
from gtool.tui.widgets.header import InstanceHeader

MAX_ORGS = 20
"""Columns at most: past that the matrix no longer fits a terminal even scrolled; filter the orgs first."""

MAX_MEMBER_SCAN = 10_000
"""Members read per org when the cells come from member lists (credentials that are not server admins)."""

UNKNOWN = "?"


@dataclass
class Matrix:
    """Roles by user id and org id; `unreadable` users or orgs show "?" instead of a blank."""

    roles: dict[tuple[int, int], str] = field(default_factory=dict)
    known_users: set[int] = field(default_factory=set)
    known_orgs: set[int] = field(default_factory=set)

    def cell(self, user_id: int, org_id: int) -> str:
        role = self.roles.get((user_id, org_id))
        if role is not None:
            return role
        return "" if user_id in self.known_users or org_id in self.known_orgs else UNKNOWN


def column_label(org: Org, width: int = 14) -> str:
    name = org.name if len(org.name) <= width else org.name[: width - 1] + "…"
    return f"{name} ({org.id})"


class MatrixScreen(ReportsWorkerErrors, Screen[None]):
    """Rows: the users of a query; columns: up to `MAX_ORGS` orgs; cells: the role (blank: not a member)."""

    CSS_PATH = "matrix.tcss"

    COMPONENT_CLASSES = {"matrix--admin", "matrix--unknown"}

    BINDINGS = [
        Binding("slash", "focus_search", "Users", id="matrix.search"),
        Binding("escape", "back", "Back", id="matrix.back"),
        # priority: the table's own Enter would hide this one from the footer and the help
        Binding("enter", "open", "Open user", priority=True, id="matrix.open"),
        Binding("j", "cursor_down", "Down", show=False, id="matrix.down"),
        Binding("k", "cursor_up", "Up", show=False, id="matrix.up"),
        Binding("h", "scroll_left", "Left", show=False, id="matrix.left"),
        Binding("l", "scroll_right", "Right", show=False, id="matrix.right"),
        Binding("ctrl+r", "reload", "Reload", id="matrix.reload"),
    ]

    def __init__(
        self, orgs: Sequence[Org] | None = None, query: str = "", *, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self.all_orgs = list(orgs) if orgs is not None else None
        self.orgs: list[Org] = []
        self.query_text = query
        self.users: list[UserRow] = []
        self.matrix = Matrix()
        self.mark = 0  # the app's change mark when the cells were read

    def compose(self) -> ComposeResult:
        session = session_of(self.app)
        yield InstanceHeader(session.url, session.read_only)
        with Vertical(id="matrix-body"):
            yield Input(
                self.query_text,
                placeholder="/ which users: login, email, name — origin:SAML synced:yes disabled:no seen>90d",
                id="search",
            )
            yield Static("", id="matrix-error")
            yield Static("loading…", id="matrix-status")
            yield DataTable(id="matrix", cursor_type="row", zebra_stripes=True, fixed_columns=1)
        yield Footer()

    def on_mount(self) -> None:
        session = session_of(self.app)
        self.query_one(InstanceHeader).show(session.capabilities, lost=getattr(self.app, "lost", ""))
        self.query_one("#matrix", DataTable).focus()
        self.load(self.query_text)

    # --- loading --------------------------------------------------------------------------------------

    @work(exclusive=True, group="matrix", exit_on_error=False)
    async def load(self, text: str) -> None:
        self.mark = self.app.change_mark
        error = self.query_one("#matrix-error", Static)
        try:
            query = parse(text)
        except QueryError as exc:
            error.update(Text(str(exc)))
            error.display = True
            return
        error.display = False
        session = session_of(self.app)
        caps = session.capabilities
        assert caps is not None
        status = self.query_one("#matrix-status", Static)
        status.update("reading users…")
        if self.all_orgs is None:
            found = await session.client.list_orgs() if caps.can_list_all_orgs else own_orgs(caps)
            self.all_orgs = sorted(found, key=lambda o: o.id)
        self.orgs = self.all_orgs[:MAX_ORGS]
        browser = session.browser()
        page = await browser.page(query, Cursor())
        self.users = list(page.rows)
        self.matrix = Matrix()
        if caps.orgs:  # the credential's own memberships are known already
            self.matrix.known_users.add(caps.identity.id)
            self.matrix.roles.update({(caps.identity.id, m.org_id): m.role for m in caps.orgs})
        self.show()
        status.update("reading memberships…")
        if browser.global_search:
            found_orgs = await browser.orgs_of(self.users)
            for user_id, memberships in found_orgs.items():
                self.matrix.known_users.add(user_id)
                for m in memberships:
                    self.matrix.roles[(user_id, m.org_id)] = m.role
        else:
            await self.from_member_lists()
        self.show()
        status.update(self.status_text(page.next is not None, page.filtered))

    async def from_member_lists(self) -> None:
        """Cells from each org's member list: what a credential without /api/users/:id/orgs can read."""
        client = session_of(self.app).client
        wanted = {u.id for u in self.users}
        for org in self.orgs:
            with contextlib.suppress(GrafanaError):  # that org's column stays "?"
                seen = 0
                async for member in client.iter_org_users(org.id):
                    if member.user_id in wanted:
                        self.matrix.roles[(member.user_id, org.id)] = member.role
                    seen += 1
                    if seen >= MAX_MEMBER_SCAN:
                        break
                else:
                    self.matrix.known_orgs.add(org.id)

    def status_text(self, more_users: bool, filtered: bool) -> str:
        total_orgs = len(self.all_orgs or [])
        users = f"{len(self.users):,} users" + (" (first page: narrow with /)" if more_users else "")
        orgs = f"{len(self.orgs)} orgs" + (
            f" (first {MAX_ORGS} of {total_orgs}: filter the orgs panel first)"
            if total_orgs > MAX_ORGS
            else ""
        )
        unknown = any(self.matrix.cell(u.id, o.id) == UNKNOWN for u in self.users for o in self.orgs)
        hint = " · ?: not readable with this credential" if unknown else ""
        return f"user × org · {users} × {orgs}{hint}"

    def show(self) -> None:
        table = self.query_one("#matrix", DataTable)
        table.clear(columns=True)
        table.add_column("Login", key="login", width=22)
        for org in self.orgs:
            label = column_label(org)
            table.add_column(label, key=str(org.id), width=max(len(label), 7))
        for user in self.users:
            cells = [self.styled(self.matrix.cell(user.id, org.id)) for org in self.orgs]
            table.add_row(user.login, *cells, key=str(user.id))

    def styled(self, cell: str) -> str | Text:
        if cell == UNKNOWN:
            return Text(cell, style=self.get_component_rich_style("matrix--unknown", partial=True))
        if cell == "Admin":
            return Text(cell, style=self.get_component_rich_style("matrix--admin", partial=True))
        return cell

    def on_screen_resume(self) -> None:
        """Back from a user: re-read the memberships of the users shown who changed meanwhile."""
        changed = self.app.changed_since(self.mark)
        self.mark = self.app.change_mark
        stale = [u for u in self.users if u.id in changed]
        if stale and session_of(self.app).browser().global_search:
            self.refresh_users(stale)

    @work(exclusive=True, group="matrix-rows", exit_on_error=False)
    async def refresh_users(self, users: list[UserRow]) -> None:
        found = await session_of(self.app).browser().orgs_of(users)
        table = self.query_one("#matrix", DataTable)
        for user_id, memberships in found.items():
            self.matrix.roles = {k: v for k, v in self.matrix.roles.items() if k[0] != user_id}
            self.matrix.roles.update({(user_id, m.org_id): m.role for m in memberships})
            self.matrix.known_users.add(user_id)
            for org in self.orgs:  # in place: the cursor stays on the row the operator came back to
                cell = self.styled(self.matrix.cell(user_id, org.id))
                table.update_cell(str(user_id), str(org.id), cell)

    # --- keys -----------------------------------------------------------------------------------------

    def submit(self) -> None:
        self.query_text = self.query_one("#search", Input).value
        self.load(self.query_text)
        self.query_one("#matrix", DataTable).focus()

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_back(self) -> None:
        if self.query_one("#search", Input).has_focus:
            self.query_one("#matrix", DataTable).focus()
        else:
            self.app.pop_screen()

    def action_reload(self) -> None:
        self.load(self.query_text)

    def action_cursor_down(self) -> None:
        self.query_one("#matrix", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#matrix", DataTable).action_cursor_up()

    def action_scroll_left(self) -> None:
        self.query_one("#matrix", DataTable).action_cursor_left()

    def action_scroll_right(self) -> None:
        self.query_one("#matrix", DataTable).action_cursor_right()

    def selected(self) -> UserRow | None:
        table = self.query_one("#matrix", DataTable)
        if not self.users or not 0 <= table.cursor_row < len(self.users):
            return None
        return self.users[table.cursor_row]

    def action_open(self) -> None:
        if self.query_one("#search", Input).has_focus:
            self.submit()
            return
        user = self.selected()
        if user is None:
            return
        from gtool.tui.screens.user_detail import UserDetailScreen

        self.app.push_screen(UserDetailScreen(user.id, login=user.login))

    @on(DataTable.RowSelected, "#matrix")
    def row_clicked(self) -> None:
        self.action_open()  # a click on the highlighted row; Enter goes through the binding

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Open user", "The selected user's detail (Enter)", self.action_open)
