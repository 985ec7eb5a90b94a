"""One org's members with their role there: the users screen's search, paging and `/` syntax on
``GET /api/orgs/:id/users/search``, which also says per member whether the role is externally synced.

`role:Admin` (and the other facets of `gtool.access.query`) filter the pages Grafana returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, Static

from gtool.access.browse import BrowsePage, UserBrowser, UserRow
from gtool.tui.screens.users import UsersScreen, seen_cell
from gtool.tui.session import session_of
from gtool.tui.widgets.header import InstanceHeader

COLUMNS = (
    ("login", "Login", 22),
    ("role", "Role", 7),
    ("origin", "Origin", 10),
    ("synced", "Synced", 6),
    ("disabled", "Disabled", 8),
    ("seen", "Last seen", 11),
    ("name", "Name", 22),
    ("email", "Email", 30),
)

NOT_HERE = frozenset({"create_user"})
"""Users-screen actions that are not about this org's members (the users panel has them)."""

HELP = "filters: role:Admin synced:yes disabled:yes origin:SAML seen>90d seen:never"


def member_cells(row: UserRow, now: datetime, synced: Style, disabled: Style) -> tuple[str | Text, ...]:
    return (
        row.login,
        row.role or "?",
        ", ".join(row.auth_labels) or "local",
        Text("synced", style=synced) if row.synced else "",
        Text("disabled", style=disabled) if row.is_disabled else "",
        seen_cell(row, now),
        row.name,
        row.email,
    )


class OrgMembersScreen(UsersScreen):
    """The members of one org; Enter opens a member, `r` changes their role in this org."""

    CSS_PATH = "org_members.tcss"

    COMPONENT_CLASSES = {"members--synced", "members--disabled"}

    BINDINGS = [
        Binding("r", "change_role", "Change role", id="members.role"),
    ]

    def __init__(self, org_id: int, org_name: str, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.org_id = org_id
        self.org_name = org_name

    @property
    def browser(self) -> UserBrowser:
        if self._browser is None:
            self._browser = session_of(self.app).browser(self.org_id)
        return self._browser

    def compose(self) -> ComposeResult:
        session = session_of(self.app)
        yield InstanceHeader(session.url, session.read_only)
        with Vertical(id="users-body"):
            yield Static(Text.assemble((self.org_title, "bold"), " · members"), id="members-title")
            yield Input(placeholder=f"/ search login, email, name — {HELP}", id="search")
            yield Static("", id="query-error")
            yield Static("loading…", id="status")
            table: DataTable[str | Text] = DataTable(id="users", cursor_type="row", zebra_stripes=True)
            for key, label, width in COLUMNS:
                table.add_column(label, key=key, width=width)
            yield table
        yield Footer()

    @property
    def org_title(self) -> str:
        return f"{self.org_name} (org {self.org_id})" if self.org_name else f"org {self.org_id}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cycle" and parameters == ("admin",):
            return False  # an org member list does not say who is a Grafana server admin
        if action in NOT_HERE:
            return False
        # read-only: the write is not offered at all
        return not (action == "change_role" and session_of(self.app).read_only)

    NOUN = "member"

    def page_scope(self, page: BrowsePage) -> BrowsePage:
        return replace(page, scope=f"members of {self.org_title}")

    def row_cells(self, row: UserRow, now: datetime) -> tuple[str | Text, ...]:
        """This org's columns: role instead of orgs and Grafana Admin."""
        synced = self.get_component_rich_style("members--synced", partial=True)
        disabled = self.get_component_rich_style("members--disabled", partial=True)
        return member_cells(row, now, synced, disabled)

    def action_focus_table(self) -> None:
        """Esc: from the search box back to the table; from the table back to the orgs."""
        search = self.query_one("#search", Input)
        if search.has_focus:
            super().action_focus_table()
        else:
            self.app.pop_screen()

    def action_change_role(self) -> None:
        row = self.selected()
        if row is None:
            return
        if session_of(self.app).read_only:  # the key is hidden; the palette may still reach here
            self.notify("Read-only session: roles cannot be changed.", severity="warning")
            return
        from gtool.tui.screens.change_role import Change, ChangeModal

        change = Change("change-role", row.id, row.login, org_id=self.org_id, role=row.role)
        self.app.push_screen(ChangeModal(change))

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Open member", "The selected member's detail (Enter)", self.action_open)
        yield SystemCommand(
            "Change role", f"The selected member's role in {self.org_title} (r)", self.action_change_role
        )
