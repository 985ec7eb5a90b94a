"""One user: profile, orgs (with the role and whether sync locks it), teams, sessions; for a synced user
why the role is locked and, given the SAML config, what their next login would change (drift).

Every read is an async worker on the session's client; every write opens the change modal, which plans
and applies through `gtool.access.roles`. After a write the screen reads the user again: what it shows
comes from Grafana, never from what was sent.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from gtool.access.details import UserDetails, read_details
from gtool.grafana.errors import GrafanaError, NotFound
from gtool.grafana.models import Org, UserOrg, find_provider
from gtool.tui.app import GtoolApp
from gtool.tui.errors import ReportsWorkerErrors, describe_error
from gtool.tui.screens.change_role import Change, ChangeModal
from gtool.tui.session import session_of
from gtool.tui.widgets.header import InstanceHeader
from gtool.tui.widgets.user_panels import (
    ERROR,
    MUTED,
    WARN,
    Writer,
    config_line,
    load_saml_config,
    locked_text,
    profile_text,
    sessions_text,
    teams_text,
)

if TYPE_CHECKING:
    from gtool.saml.assertion import Attribute

WRITES = frozenset({"change_role", "grant", "revoke", "grafana_admin", "deprovision"})
NEEDS_ORG = frozenset({"change_role", "revoke"})

DRIFT_HELP = 'SAML attributes as NAME=VALUE, e.g. groups="Grafana Editors" organization="Data Science"'


# --- the screen ---------------------------------------------------------------------------------------------


class UserDetailScreen(ReportsWorkerErrors, Screen[None]):
    """One user; keys change their access through the change modal."""

    CSS_PATH = "user_detail.tcss"

    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("r", "change_role", "Role", id="detail.role"),
        Binding("g", "grant", "Grant", id="detail.grant"),
        Binding("v", "revoke", "Revoke", id="detail.revoke"),
        Binding("A", "grafana_admin", "Admin on/off", id="detail.admin"),
        Binding("d", "drift", "Drift", id="detail.drift"),
        Binding("X", "deprovision", "Deprovision", id="detail.deprovision"),
        Binding("ctrl+r", "reload", "Reload", id="detail.reload"),
        Binding("j", "cursor_down", "Down", show=False, id="detail.down"),
        Binding("k", "cursor_up", "Up", show=False, id="detail.up"),
    ]

    def __init__(self, user_id: int, *, login: str | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.user_id = user_id
        self.given_login = login
        self.login = login or str(user_id)
        self.details: UserDetails | None = None
        self.locked_config: str | None = None
        self.mark = 0  # the app's change mark when the user was read

    @property
    def gtool(self) -> GtoolApp:
        return cast(GtoolApp, self.app)

    def compose(self) -> ComposeResult:
        session = session_of(self.app)
        yield InstanceHeader(session.url, session.read_only)
        yield Static("", id="error")
        with Horizontal(id="detail-body"):
            with VerticalScroll(id="left"):
                yield Static("loading…", id="profile")
                orgs: DataTable[str | Text] = DataTable(id="orgs", cursor_type="row", zebra_stripes=True)
                # fixed widths: the header never lags behind the rows, and 46 cells fit the half screen
                orgs.add_column("Org", key="org", width=18)
                orgs.add_column("Role", key="role", width=6)
                orgs.add_column("Locked", key="locked", width=10)
                yield orgs
                yield Static("", id="orgs-note")
            with VerticalScroll(id="right"):
                yield Static("", id="locked")
                yield Static("", id="drift")
                yield Static("", id="teams")
                yield Static("", id="sessions")
        yield Input(placeholder=DRIFT_HELP, id="drift-input")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(InstanceHeader).show(session_of(self.app).capabilities, lost=self.gtool.lost)
        self.query_one("#profile").border_title = "User"
        self.query_one("#orgs").border_title = "Orgs"
        self.query_one("#locked").border_title = "Why is this locked?"
        self.query_one("#drift").border_title = "Next SAML login (drift)"
        self.query_one("#teams").border_title = "Teams"
        self.query_one("#sessions").border_title = "Sessions"
        for hidden in ("#error", "#orgs-note", "#locked", "#drift", "#drift-input"):
            self.query_one(hidden).display = False
        self.query_one("#orgs", DataTable).focus()
        self.load()

    def on_screen_resume(self) -> None:
        if self.user_id in self.gtool.changed_since(self.mark) and self.details is not None:
            self.load()

    # --- reading ------------------------------------------------------------------------------------------

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def load(self) -> None:
        session = session_of(self.app)
        self.mark = self.gtool.change_mark
        caps = session.capabilities or await session.connect()
        try:
            known = self.details.profile.login if self.details else self.given_login
            details = await read_details(session.client, caps, self.user_id, known)
            line = None
            provider = find_provider(details.profile.auth_labels[0] if details.profile.auth_labels else None)
            if details.synced and provider is not None and self.gtool.saml_config is not None:
                line = await asyncio.to_thread(config_line, self.gtool.saml_config, provider.ini_section)
        except (NotFound, LookupError) as exc:
            if self.details is not None:  # it was there a moment ago: deleted, or removed from the org
                self.show_error(f"{self.login} is no longer there: {describe_error(exc)}")
            else:
                self.show_error(f"Could not read user {self.login}: {describe_error(exc)}")
            return
        except GrafanaError as exc:
            self.show_error(f"Could not read user {self.login}: {describe_error(exc)}")
            raise  # the app's handler also notifies, and notices a lost connection
        self.show(details, line)

    def show_error(self, message: str) -> None:
        error = self.query_one("#error", Static)
        error.update(Content(message))
        error.display = True
        if self.details is None:
            self.query_one("#profile", Static).update(
                Content.styled("Not loaded: ctrl+r to try again.", MUTED)
            )

    def show(self, d: UserDetails, line: str | None) -> None:
        self.details = d
        self.login = d.profile.login
        self.locked_config = line
        self.query_one("#error").display = False
        profile = self.query_one("#profile", Static)
        profile.update(profile_text(d))
        profile.border_title = f"User {escape(d.profile.login)}"  # titles are markup
        self.fill_orgs(d)
        note = self.query_one("#orgs-note", Static)
        note.update(Content.styled(d.orgs_note, MUTED))
        note.display = bool(d.orgs_note)
        locked = self.query_one("#locked", Static)
        locked.update(locked_text(d, line) if d.synced else "")
        locked.display = d.synced
        self.query_one("#teams", Static).update(teams_text(d))
        self.query_one("#sessions", Static).update(sessions_text(d))
        self.refresh_bindings()

    def fill_orgs(self, d: UserDetails) -> None:
        table = self.query_one("#orgs", DataTable)
        keep = table.cursor_row
        table.clear()
        provider = d.profile.auth_labels[0] if d.profile.auth_labels else "provider"
        for org in d.orgs:
            locked = Text(f"yes ({provider})", style="bold yellow") if d.synced else Text("no", style="dim")
            # a str cell is Rich markup to DataTable: an org name in brackets must stay text
            table.add_row(Text(f"{org.org_id} {org.name}"), Text(org.role), locked, key=str(org.org_id))
        if not d.orgs:
            table.add_row(Text("member of no org", style="dim"), "", "", key="none")
        if 0 < keep < table.row_count:
            table.move_cursor(row=keep)

    def selected_org(self) -> UserOrg | None:
        if self.details is None or not self.details.orgs:
            return None
        table = self.query_one("#orgs", DataTable)
        row = table.cursor_row
        return self.details.orgs[row] if 0 <= row < len(self.details.orgs) else None

    @on(DataTable.RowHighlighted, "#orgs")
    def org_highlighted(self) -> None:
        self.refresh_bindings()

    # --- keys -----------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.gtool.session
        if action in WRITES and session is not None and session.read_only:
            return False  # hidden: read-only mode offers no write at all
        if action == "drift" and self.gtool.saml_config is None:
            return False
        if action in WRITES and self.details is None:
            return None  # shown, greyed, until the user is read
        if action in NEEDS_ORG and self.selected_org() is None:
            return None
        return True

    def refused(self) -> bool:
        """Read-only mode: say so and send nothing (reached from the palette or a direct call)."""
        if not session_of(self.app).read_only:
            return False
        self.notify("Read-only mode: nothing is sent.", title="Refused", severity="warning")
        return True

    def ready(self) -> UserDetails | None:
        if self.details is None:
            self.notify("The user is still loading.", severity="warning", timeout=3)
        return self.details

    def action_change_role(self) -> None:
        if self.refused() or (d := self.ready()) is None:
            return
        org = self.selected_org()
        if org is None:
            self.notify(f"{d.profile.login} is in no org: grant a role instead (g).", severity="warning")
            return
        change = Change("change-role", self.user_id, d.profile.login, org_id=org.org_id, role=org.role)
        self.app.push_screen(ChangeModal(change))

    def action_revoke(self) -> None:
        if self.refused() or (d := self.ready()) is None:
            return
        org = self.selected_org()
        if org is None:
            self.notify(f"{d.profile.login} is in no org.", severity="warning")
            return
        self.app.push_screen(ChangeModal(Change("revoke", self.user_id, d.profile.login, org_id=org.org_id)))

    def action_grafana_admin(self) -> None:
        if self.refused() or (d := self.ready()) is None:
            return
        change = Change("grafana-admin", self.user_id, d.profile.login, admin=not d.grafana_admin)
        self.app.push_screen(ChangeModal(change))

    def action_grant(self) -> None:
        if self.refused() or self.ready() is None:
            return
        self.open_grant()

    @work(exclusive=True, group="grant", exit_on_error=False)
    async def open_grant(self) -> None:
        """The grant modal, with the orgs the user is not in yet to choose from."""
        d = self.details
        assert d is not None
        session = session_of(self.app)
        caps = session.capabilities
        if caps is not None and caps.can_list_all_orgs:
            orgs = await session.client.list_orgs()
        elif caps is not None and caps.orgs:  # a user who is no server admin sees their own orgs
            orgs = [Org(o.org_id, o.name) for o in caps.orgs]
        else:  # a service account token has one org: its own
            orgs = [Org(caps.org_id, caps.org_name)] if caps is not None and caps.org_id is not None else []
        member = {o.org_id for o in d.orgs}
        free = [o for o in sorted(orgs, key=lambda o: o.id) if o.id not in member]
        if not free:
            self.notify(
                f"{d.profile.login} is already in every org this connection sees.", severity="warning"
            )
            return
        change = Change("grant", self.user_id, d.profile.login, role="Viewer")
        self.app.push_screen(ChangeModal(change, orgs=free))

    def action_deprovision(self) -> None:
        if self.refused() or self.ready() is None:
            return
        from gtool.tui.screens.deprovision import DeprovisionModal

        self.app.push_screen(DeprovisionModal(self.user_id))

    def action_back(self) -> None:
        drift_input = self.query_one("#drift-input", Input)
        if drift_input.display:
            drift_input.display = False
            self.query_one("#orgs", DataTable).focus()
            return
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    def action_cursor_down(self) -> None:
        self.query_one("#orgs", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#orgs", DataTable).action_cursor_up()

    # --- drift --------------------------------------------------------------------------------------------

    def action_drift(self) -> None:
        if self.gtool.saml_config is None:
            self.notify("No SAML config is known: start gtool tui with --saml-config.", severity="warning")
            return
        drift_input = self.query_one("#drift-input", Input)
        if not drift_input.value and self.details is not None and self.details.profile.email:
            drift_input.value = f"email={shlex.quote(self.details.profile.email)} "
        drift_input.display = True
        drift_input.focus()

    @on(Input.Submitted, "#drift-input")
    def drift_submitted(self, event: Input.Submitted) -> None:
        from gtool.saml.inputs import InputError, parse_attr_pairs

        try:
            attributes = parse_attr_pairs(shlex.split(event.value))
        except (ValueError, InputError) as exc:
            message = exc.message if isinstance(exc, InputError) else str(exc)
            self.notify(f"{message}: {DRIFT_HELP}", title="Attributes", severity="error", markup=False)
            return
        if not attributes:
            self.notify(DRIFT_HELP, title="Attributes", severity="warning", markup=False)
            return
        self.show_drift(Content.styled("simulating the next login…", MUTED))
        self.run_drift(attributes)

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False)
    def run_drift(self, attributes: tuple[Attribute, ...]) -> None:
        from gtool.access.drift import read_drift
        from gtool.saml.ini import IniReadError

        config_path = self.gtool.saml_config
        assert config_path is not None
        client = session_of(self.app).sync_client()
        # without the admin API the user is found by login among the org's members
        in_org_only = self.details is not None and self.details.grafana_admin is None
        user: int | str = self.login if in_org_only else self.user_id
        try:
            drift = read_drift(client, user, load_saml_config(config_path), attributes)
        except IniReadError as exc:
            self.app.call_from_thread(self.show_drift, Content.styled(f"{exc}\n{exc.hint}", ERROR))
            return
        except (GrafanaError, ValueError) as exc:
            self.app.call_from_thread(self.show_drift, Content.styled(describe_error(exc), ERROR))
            return
        text = Writer()
        if drift.other_user:
            text.add(f"These attributes sign in {drift.other_user!r}, not {drift.login!r}.\n", ERROR)
        for line in drift.lines():
            changes = line.startswith(("  ~", "  -", "  +", "drift:"))
            text.add(line + "\n", WARN if changes else "")
        text.add(f"(simulated from {config_path.name}; nothing was sent)", MUTED)
        self.app.call_from_thread(self.show_drift, text.content())

    def show_drift(self, text: Content) -> None:
        panel = self.query_one("#drift", Static)
        panel.update(text)
        panel.display = True
        self.query_one("#right", VerticalScroll).scroll_to_widget(panel, animate=False)

    # --- the command palette --------------------------------------------------------------------------------

    def commands(self) -> Iterable[SystemCommand]:
        who = self.details.profile.login if self.details else f"user {self.user_id}"
        yield SystemCommand("Reload user", f"Read {who} again from Grafana (ctrl+r)", self.action_reload)
        yield SystemCommand("Back to the list", "Leave this user (esc)", self.action_back)
        if self.gtool.saml_config is not None:
            yield SystemCommand("SAML drift", f"What {who}'s next login would change (d)", self.action_drift)
        session = self.gtool.session
        if session is None or session.read_only:
            return  # read-only: no write is offered (each action refuses anyway)
        yield SystemCommand(
            "Change role", f"Change {who}'s role in the selected org (r)", self.action_change_role
        )
        yield SystemCommand("Grant a role", f"Add {who} to an org (g)", self.action_grant)
        yield SystemCommand("Revoke", f"Remove {who} from the selected org (v)", self.action_revoke)
        yield SystemCommand(
            "Grafana Admin on/off", f"Toggle {who}'s server admin flag (A)", self.action_grafana_admin
        )
        yield SystemCommand("Deprovision", f"Disable or delete {who} (X)", self.action_deprovision)
