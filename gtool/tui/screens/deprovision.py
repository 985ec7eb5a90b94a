"""Deprovision one user: disable (and end every session), enable, remove from every org, or delete.

Each choice is planned by `gtool.access.provision` (``gtool user disable|enable|remove-from-orgs|delete``
use the same plans), shown with its exact calls and warnings before anything is sent, and applied with
``y``. Disabling, removing and deleting take the user's login typed out first, as the CLI asks on a terminal
for destructive changes: a stray ``y`` must not lock someone out.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from gtool.access.provision import (
    ProvisionPlan,
    ProvisionResult,
    apply_provision,
    plan_delete,
    plan_disable,
    plan_enable,
    plan_remove_from_orgs,
)
from gtool.access.roles import NotPossible
from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import GrafanaError
from gtool.grafana.models import UserProfile
from gtool.tui.errors import ReportsWorkerErrors, describe_error
from gtool.tui.screens.provision import PlanLine, PlanView, outcome_severity, plan_lines, sendable
from gtool.tui.session import Session

ACTIONS: dict[str, tuple[str, Callable[[GrafanaClient, int], ProvisionPlan]]] = {
    "disable": ("Disable the account and end all its sessions (reversible)", plan_disable),
    "enable": ("Enable the account again", plan_enable),
    "remove-from-orgs": ("Remove from every org (the account stays)", plan_remove_from_orgs),
    "delete": ("Delete the account, with its memberships, teams and tokens", plan_delete),
}
TYPED = frozenset({"disable", "remove-from-orgs", "delete"})
"""Choices that take the login typed out before ``y`` sends them."""


def choices(user: UserProfile) -> list[str]:
    """What can be done to `user`: enable only a disabled account, disable only an enabled one."""
    first = "enable" if user.is_disabled else "disable"
    return [first, "remove-from-orgs", "delete"]


def describe_user(user: UserProfile) -> str:
    origin = ", ".join(user.auth_labels) or "local"
    state = "disabled" if user.is_disabled else "enabled"
    synced = " · synced" if user.is_externally_synced else ""
    parts = [user.login, user.email, user.name, f"{origin}{synced}", state]
    return " · ".join(p for p in parts if p)


class DeprovisionModal(ReportsWorkerErrors, ModalScreen[ProvisionResult | None]):
    """Pick what to do to one user, read the plan, type the login when it takes it, ``y`` to apply."""

    CSS_PATH = "deprovision.tcss"

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="deprovision.cancel"),
        Binding("y", "apply", "Apply", id="deprovision.apply"),
    ]

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id
        self.user: UserProfile | None = None
        self.action: str | None = None
        self.plan: ProvisionPlan | None = None
        self.applying = False

    @property
    def session(self) -> Session:
        session: Session = self.app.session
        return session

    def compose(self) -> ComposeResult:
        with Vertical(id="deprovision-dialog") as dialog:
            dialog.border_title = f"Deprovision user {self.user_id}"
            yield Static("reading the user…", id="who", markup=False)
            yield OptionList(id="actions")
            yield PlanView(id="plan")
            with Horizontal(id="confirm-row"):
                yield Label("", id="confirm-label", markup=False)
                yield Input(id="confirm", compact=True)
            result = Static("", id="result", markup=False)
            result.display = False
            yield result
            with Horizontal(classes="buttons"):
                yield Button("Apply \\[y]", variant="error", id="apply", disabled=True, compact=True)
                yield Button("Cancel \\[esc]", id="cancel", compact=True)

    def on_mount(self) -> None:
        if self.session.read_only:
            self.notify("Read-only: deprovisioning is disabled.", severity="warning")
            self.dismiss(None)
            return
        self.query_one("#confirm-row").display = False
        self.load_user()

    @work(exclusive=True, group="deprovision-user", exit_on_error=False)
    async def load_user(self) -> None:
        try:
            user = await self.session.client.get_user(self.user_id)
        except GrafanaError as exc:
            self.query_one("#who", Static).update(f"cannot read user {self.user_id}: {describe_error(exc)}")
            return
        self.user = user
        self.query_one("#deprovision-dialog").border_title = f"Deprovision {escape(user.login)}"
        self.query_one("#who", Static).update(describe_user(user))
        self.query_one("#confirm-label", Label).update(f"Type {user.login} to confirm:")
        actions = self.query_one("#actions", OptionList)
        actions.clear_options()
        actions.add_options(Option(ACTIONS[key][0], id=key) for key in choices(user))
        actions.highlighted = 0
        actions.focus()

    # --- choosing and planning ------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#actions")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.applying or event.option.id is None or event.option.id == self.action:
            return
        self.action, self.plan = event.option.id, None
        confirm = self.query_one("#confirm", Input)
        with confirm.prevent(Input.Changed):
            confirm.value = ""  # a login typed for one choice does not confirm another
        self.query_one("#confirm-row").display = False
        self.query_one("#plan", PlanView).show([PlanLine("note", "planning…")])
        self._ready_changed()
        self.make_plan(event.option.id)

    @on(OptionList.OptionSelected, "#actions")
    def selected(self) -> None:
        """Enter on a choice: on to the login to type, or to the Apply button."""
        if self.query_one("#confirm-row").display:
            self.query_one("#confirm", Input).focus()
        elif self.ready():
            self.query_one("#apply", Button).focus()

    @work(thread=True, exclusive=True, group="deprovision-plan", exit_on_error=False)
    def make_plan(self, action: str) -> None:
        client = self.session.sync_client()
        try:
            plan = ACTIONS[action][1](client, self.user_id)
            lines = plan_lines(plan, client)
        except (GrafanaError, NotPossible) as exc:
            self.app.call_from_thread(self.planned, action, None, [PlanLine("blocked", describe_error(exc))])
            return
        self.app.call_from_thread(self.planned, action, plan, lines)

    def planned(self, action: str, plan: ProvisionPlan | None, lines: list[PlanLine]) -> None:
        if not self.is_attached or action != self.action:
            return  # the operator moved on to another choice meanwhile
        self.plan = plan
        typed = action in TYPED and sendable(plan)
        if typed:
            hint = "type the login below, then y to apply"
        elif sendable(plan):
            hint = "y to apply, Esc to cancel"
        else:
            hint = "nothing will be sent"
        self.query_one("#plan", PlanView).show([*lines, PlanLine("hint", hint)])
        self.query_one("#confirm-row").display = typed
        self._ready_changed()

    @on(Input.Changed, "#confirm")
    def typed(self) -> None:
        self._ready_changed()

    @on(Input.Submitted, "#confirm")
    def confirm_submitted(self) -> None:
        if self.ready():
            self.query_one("#apply", Button).focus()
        else:
            self.show_result(f"type the login exactly as shown: {self.login()}")

    # --- applying -------------------------------------------------------------------------------------

    def login(self) -> str:
        if self.plan is not None:
            return self.plan.target
        return self.user.login if self.user is not None else ""

    def confirmed(self) -> bool:
        if self.action not in TYPED:
            return True
        return self.query_one("#confirm", Input).value.strip() == self.login()

    def ready(self) -> bool:
        return sendable(self.plan) and self.confirmed() and not self.applying and not self.session.read_only

    def _ready_changed(self) -> None:
        self.query_one("#apply", Button).disabled = not self.ready()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply":
            return True if self.ready() else None
        return True

    def show_result(self, text: str) -> None:
        result = self.query_one("#result", Static)
        result.update(text)
        result.display = bool(text)

    @on(Button.Pressed, "#apply")
    def apply_pressed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    def action_apply(self) -> None:
        if not self.ready() or self.plan is None:
            return
        self.applying = True
        self._ready_changed()
        self.show_result("sending…")
        self.send(self.plan)

    @work(thread=True, exclusive=True, group="deprovision-apply", exit_on_error=False)
    def send(self, plan: ProvisionPlan) -> None:
        session = self.session
        try:
            result = apply_provision(
                session.sync_client(),
                plan,
                audit=session.audit_path,
                profile=session.profile,
                actor=session.conn.actor,
            )
        except OSError as exc:
            note = f"cannot write the audit log ({exc.strerror or exc}); the change may have been applied"
            self.app.call_from_thread(self.finished, None, note)
            return
        self.app.call_from_thread(self.finished, result, "")

    def finished(self, result: ProvisionResult | None, note: str) -> None:
        self.applying = False
        self.app.user_changed(self.user_id)
        if result is None:
            self.notify(note, title="Not done", severity="error", timeout=10)
            self.show_result(note)
            self._ready_changed()
            return
        summary = f"{result.outcome}: {result.plan.action} {result.plan.target}: {result.message}"
        self.notify(summary, title="Deprovisioning", severity=outcome_severity(result.outcome), timeout=8)
        if result.outcome in ("applied", "already"):
            self.dismiss(result)
            return
        self.show_result(summary)  # left open: the plan is read again, so it shows what Grafana now has
        if self.action is not None:
            self.plan = None
            self._ready_changed()
            self.make_plan(self.action)

    def action_cancel(self) -> None:
        if self.applying:
            self.notify("A change is being sent: wait for its result.", severity="warning", timeout=4)
            return
        self.dismiss(None)
