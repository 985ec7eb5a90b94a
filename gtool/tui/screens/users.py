"""The users screen: search as you type, one page of rows at a time, filters from keys or `/` syntax."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static
from textual.widgets.data_table import CellDoesNotExist

from gtool.access.browse import BrowsePage, Cursor, UserBrowser, UserRow
from gtool.access.query import QueryError, UserQuery, never_seen, parse
from gtool.grafana.models import UserOrg
from gtool.tui.errors import ReportsWorkerErrors
from gtool.tui.widgets.header import InstanceHeader

DEBOUNCE = 0.1
"""Seconds of typing pause before a search is sent: short enough for the 300 ms keystroke-to-rows goal,
long enough that a fast typist sends one request per word, not per letter."""

# Fixed widths: the orgs column fills in after the rows are shown and must not be cut to its first "…".
# What an operator scans first sits left, so it fits 80 columns; name and email scroll in from the right.
COLUMNS = (
    ("login", "Login", 22),
    ("orgs", "Orgs (role)", 24),
    ("origin", "Origin", 10),
    ("synced", "Synced", 6),
    ("admin", "Admin", 5),
    ("disabled", "Disabled", 8),
    ("seen", "Last seen", 11),
    ("name", "Name", 22),
    ("email", "Email", 30),
)

HELP = "filters: synced:yes admin:yes disabled:yes origin:SAML seen>90d seen:never role:Editor"


def flag_cell(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "")


def orgs_cell(row: UserRow) -> str:
    if row.orgs is None:
        return row.role or "…"
    if not row.orgs:
        return "none"
    first = f"{row.orgs[0].name}={row.orgs[0].role}"
    return first if len(row.orgs) == 1 else f"{first} +{len(row.orgs) - 1}"


def seen_cell(row: UserRow, now: datetime) -> str:
    return "never" if never_seen(row.last_seen_at, now) else row.last_seen_age


def cells(row: UserRow, now: datetime) -> tuple[str | Text, ...]:
    synced = Text("synced", style="bold yellow") if row.synced else flag_cell(row.synced)
    disabled = Text("disabled", style="red") if row.is_disabled else ""
    return (
        row.login,
        orgs_cell(row),
        ", ".join(row.auth_labels) or "local",
        synced,
        flag_cell(row.is_admin),
        disabled,
        seen_cell(row, now),
        row.name,
        row.email,
    )


def status_line(page: BrowsePage, number: int) -> str:
    """ "all users · 101–200 of 100,000 · page 2", or with facets "… · scanned 3,000"."""
    shown = len(page.rows)
    if page.filtered:
        where = f"{shown:,} matching on page {number}"
        total = f" · scanned {page.scanned:,}" + (f" of {page.total:,}" if page.total is not None else "")
        return f"{page.scope} · {where}{total}" + (" · more: ]" if page.next else "")
    first = (number - 1) * 100 + 1 if shown else 0
    last = first + shown - 1 if shown else 0
    total = f" of {page.total:,}" if page.total is not None else ""
    more = " · next page: ]" if page.next else ""
    back = " · previous: [" if number > 1 else ""
    return f"{page.scope} · {first:,}–{last:,}{total} · page {number}{more}{back}"


class UsersScreen(ReportsWorkerErrors, Screen[None]):
    """Find a user among tens of thousands; Enter opens them."""

    CSS_PATH = "users.tcss"

    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="users.search"),
        Binding("escape", "focus_table", "Table", show=False, id="users.table"),
        # priority: the focused table's own Enter would otherwise hide "Open" from the footer
        Binding("enter", "open", "Open", id="users.open", priority=True),
        Binding("right_square_bracket", "next_page", "Next page", id="users.next"),
        Binding("left_square_bracket", "previous_page", "Prev page", id="users.previous"),
        Binding("s", "cycle('synced')", "Synced", id="users.synced"),
        Binding("a", "cycle('admin')", "Admins", id="users.admins"),
        Binding("x", "cycle('disabled')", "Disabled", id="users.disabled"),
        Binding("o", "cycle_origin", "Origin", show=False, id="users.origin"),
        Binding("l", "cycle_seen", "Not seen for", show=False, id="users.seen"),
        Binding("j", "cursor_down", "Down", show=False, id="users.down"),
        Binding("k", "cursor_up", "Up", show=False, id="users.up"),
        Binding("ctrl+r", "reload", "Reload", id="users.reload"),
        Binding("c", "create_user", "New user", id="users.create"),
    ]

    def __init__(self, browser: UserBrowser | None = None, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._browser = browser
        self.query_: UserQuery = UserQuery()
        self.cursors: list[Cursor] = [Cursor()]  # where each page we have shown starts
        self.page: BrowsePage | None = None
        self.rows: dict[str, UserRow] = {}
        self._debounce: Timer | None = None
        self.mark = 0  # the app's change mark when this page was read
        self.open_when_loaded = False  # Enter came while a search was in flight: open its first row
        self.labels_seen: dict[str, None] = {}  # auth labels met on any page, for the origin key

    @property
    def browser(self) -> UserBrowser:
        if self._browser is None:
            self._browser = self.app.session.browser()
        return self._browser

    def compose(self) -> ComposeResult:
        session = self.app.session
        yield InstanceHeader(session.url, session.read_only)
        with Vertical(id="users-body"):
            yield Input(placeholder=f"/ search login, email, name — {HELP}", id="search")
            yield Static("", id="query-error")
            yield Static("loading…", id="status")
            table: DataTable[str | Text] = DataTable(id="users", cursor_type="row", zebra_stripes=True)
            for key, label, width in COLUMNS:
                table.add_column(label, key=key, width=width)
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(InstanceHeader).show(self.app.session.capabilities)
        self.query_one("#users", DataTable).focus()
        self.load(Cursor())

    # --- searching ----------------------------------------------------------------------------------

    @on(Input.Changed, "#search")
    def typed(self, event: Input.Changed) -> None:
        self._cancel_debounce()
        self._debounce = self.set_timer(DEBOUNCE, lambda: self._debounced(event.value))

    def _debounced(self, text: str) -> None:
        self._debounce = None
        self.search(text)

    def _cancel_debounce(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None

    @on(Input.Submitted, "#search")
    def submitted(self, event: Input.Submitted) -> None:
        self._cancel_debounce()
        self.search(event.value)
        self.action_focus_table()

    def search(self, text: str) -> None:
        error = self.query_one("#query-error", Static)
        try:
            query = parse(text)
        except QueryError as exc:
            error.update(Text(str(exc), style="red"))  # the message quotes what was typed: never markup
            error.display = True
            return
        error.display = False
        if query == self.query_ and self.page is not None:
            return
        self.query_ = query
        self.cursors = [Cursor()]
        self.load(Cursor())

    def action_cycle(self, facet: str) -> None:
        self.set_query(self.query_.cycle(facet))

    def action_cycle_origin(self) -> None:
        """Any → local → each auth label seen so far → any."""
        choices: list[str | None] = [None, "local", *self.labels_seen]
        now = self.query_.origin
        at = next((i for i, c in enumerate(choices) if c and now and c.lower() == now.lower()), 0)
        self.set_query(dataclasses.replace(self.query_, origin=choices[(at + 1) % len(choices)]))

    def action_cycle_seen(self) -> None:
        """Any → not seen for 30 days → for 90 days → never seen → any."""
        steps: list[tuple[timedelta | None, bool]] = [
            (None, False),
            (timedelta(days=30), False),
            (timedelta(days=90), False),
            (None, True),
        ]
        now = (self.query_.seen_more_than, self.query_.never_seen)
        at = steps.index(now) if now in steps else 0
        more, never = steps[(at + 1) % len(steps)]
        self.set_query(dataclasses.replace(self.query_, seen_more_than=more, never_seen=never))

    def set_query(self, query: UserQuery) -> None:
        """A key changed a facet: show it in the search box as `/` syntax, and search."""
        self.query_ = query
        text = self.query_.render()
        search = self.query_one("#search", Input)
        with search.prevent(Input.Changed):
            search.value = text
        self.cursors = [Cursor()]
        self.load(Cursor())

    # --- loading --------------------------------------------------------------------------------------

    @work(exclusive=True, group="users", exit_on_error=False)
    async def load(self, start: Cursor) -> None:
        """One page; `exclusive` cancels a search still in flight, so a stale answer never lands."""
        self.query_one("#status", Static).update("searching…")
        self.mark = self.app.change_mark  # a write from here on shows on the next resume
        page = await self.browser.page(self.query_, start)
        self.show_page(page)
        self.fill_orgs(page.rows)

    NOUN = "user"  # "no user matches"; the members screen says "member"

    def row_cells(self, row: UserRow, now: datetime) -> tuple[str | Text, ...]:
        """One table row; the members screen shows its own columns."""
        return cells(row, now)

    def page_scope(self, page: BrowsePage) -> BrowsePage:
        return page

    def show_page(self, page: BrowsePage) -> None:
        page = self.page_scope(page)
        self.page = page
        table = self.query_one("#users", DataTable)
        table.clear()
        now = datetime.now(UTC)
        self.rows = {}
        for row in page.rows:
            key = str(row.id)
            self.rows[key] = row
            self.labels_seen.update(dict.fromkeys(row.auth_labels))
            table.add_row(*self.row_cells(row, now), key=key)
        status = status_line(page, len(self.cursors))
        if not page.rows:
            status += f" · no {self.NOUN} matches" + (" (try fewer filters)" if page.filtered else "")
        self.query_one("#status", Static).update(status)
        if self.open_when_loaded:
            self.open_when_loaded = False
            if page.rows:
                table.move_cursor(row=0)
                self.open_selected()

    @work(exclusive=True, group="orgs", exit_on_error=False)
    async def fill_orgs(self, rows: tuple[UserRow, ...]) -> None:
        """The orgs column, after the rows are on screen (one small request per user, 8 at a time)."""
        if not self.browser.global_search:
            return  # an org member list already shows the role in that org
        found = await self.browser.orgs_of(rows)
        for user_id, orgs in found.items():
            self.update_orgs(user_id, orgs)

    def update_orgs(self, user_id: int, orgs: tuple[UserOrg, ...]) -> None:
        key = str(user_id)
        row = self.rows.get(key)
        if row is None:
            return
        row = dataclasses.replace(row, orgs=orgs)
        self.rows[key] = row
        table = self.query_one("#users", DataTable)
        try:
            table.update_cell(key, "orgs", orgs_cell(row))
        except CellDoesNotExist:  # the page changed under us; the new page fills its own column
            return

    # --- paging and navigation -------------------------------------------------------------------------

    def action_next_page(self) -> None:
        if self.page is None or self.page.next is None:
            self.notify("This is the last page.", severity="information", timeout=2)
            return
        self.cursors.append(self.page.next)
        self.load(self.page.next)

    def action_previous_page(self) -> None:
        if len(self.cursors) <= 1:
            self.notify("This is the first page.", severity="information", timeout=2)
            return
        self.cursors.pop()
        self.load(self.cursors[-1])

    def action_reload(self) -> None:
        self.load(self.cursors[-1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "create_user":
            return not self.app.session.read_only
        return True

    def action_create_user(self) -> None:
        """Create (self-hosted) or invite (Cloud) a user; the page is read again after a success."""
        if self.app.session.read_only:
            return
        from gtool.tui.screens.provision import CreateUserModal

        def created(result: object) -> None:
            if result is not None:
                self.load(self.cursors[-1])

        self.app.push_screen(CreateUserModal(), created)

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one("#users", DataTable).focus()

    def action_cursor_down(self) -> None:
        self.query_one("#users", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#users", DataTable).action_cursor_up()

    def selected(self) -> UserRow | None:
        table = self.query_one("#users", DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(key or "")

    def action_open(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_focus:  # Enter in the search box runs the search at once and goes to the rows
            self.submitted(Input.Submitted(search, search.value))
            return
        if self.searching():
            # the rows on screen belong to the previous search: open what the operator searched for
            self.open_when_loaded = True
            return
        self.open_selected()

    def open_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        from gtool.tui.screens.user_detail import UserDetailScreen

        self.app.push_screen(UserDetailScreen(row.id, login=row.login))

    def searching(self) -> bool:
        running = any(w.group == "users" and not w.is_finished for w in self.workers)
        return self._debounce is not None or running

    @on(DataTable.RowSelected, "#users")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()  # a mouse click on a row

    def commands(self) -> Iterable[SystemCommand]:
        """This screen's actions in the command palette (ctrl+p)."""
        cycle = "Cycle {0}:yes / {0}:no / any ({1})"
        found = [
            SystemCommand("Users: search", "Focus the search box (/)", self.action_focus_search),
            SystemCommand("Users: synced filter", cycle.format("synced", "s"), self._cycle("synced")),
            SystemCommand("Users: admins filter", cycle.format("admin", "a"), self._cycle("admin")),
            SystemCommand("Users: disabled filter", cycle.format("disabled", "x"), self._cycle("disabled")),
            SystemCommand(
                "Users: origin filter", "Cycle local / each auth label / any (o)", self.action_cycle_origin
            ),
            SystemCommand(
                "Users: not seen for…",
                "Cycle seen>30d / seen>90d / seen:never / any (l)",
                self.action_cycle_seen,
            ),
            SystemCommand("Users: next page", "The next page (])", self.action_next_page),
            SystemCommand("Users: previous page", "The previous page ([)", self.action_previous_page),
        ]
        if self.check_action("create_user", ()):
            what = "Create (self-hosted) or invite (Cloud) a user (c)"
            found.append(SystemCommand("Users: new user", what, self.action_create_user))
        return found

    def _cycle(self, facet: str) -> Callable[[], None]:
        return lambda: self.action_cycle(facet)

    def on_screen_resume(self) -> None:
        """Back from a user or a modal: re-read the page if a user on it changed, so the table shows what
        Grafana now says, not what we sent."""
        if any(str(uid) in self.rows for uid in self.app.changed_since(self.mark)):
            self.load(self.cursors[-1])
