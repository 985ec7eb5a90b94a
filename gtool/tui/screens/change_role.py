"""The change modal: one access change planned and shown (before → after, the exact HTTP call, warnings),
then applied with ``y``.

Plans and writes go through `gtool.access.roles` on the session's blocking client, in thread workers: the
plan, its checks and its audit record are the ones ``gtool role set`` makes. A blocked plan (a user whose
role a login provider syncs) is never sent, and the TUI offers no ``--force``. A change that takes Admin
away, or that may delete the account, waits for the user's login to be typed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Select, Static
from textual.worker import get_current_worker

from gtool.access.roles import (
    Action,
    Plan,
    Result,
    apply,
    plan_grafana_admin,
    plan_grant,
    plan_revoke,
    plan_role_change,
    state_text,
)
from gtool.grafana.base import Call
from gtool.grafana.client import GrafanaClient
from gtool.grafana.models import Org
from gtool.tui.app import GtoolApp
from gtool.tui.errors import ReportsWorkerErrors, describe_error
from gtool.tui.session import session_of

ROLE_CHOICES: tuple[str, ...] = ("Viewer", "Editor", "Admin", "None")

TITLES: dict[str, str] = {
    "change-role": "Change role",
    "grant": "Grant a role (add to an org)",
    "revoke": "Revoke (remove from the org)",
    "grafana-admin": "Grafana Admin",
}

FORCE_HINT: dict[str, str] = {
    "change-role": "gtool role set --force",
    "grant": "gtool role grant --force",
    "revoke": "gtool role revoke --force",
    "grafana-admin": "gtool admin grant|revoke --force",
}

SEVERITY: dict[str, SeverityLevel] = {
    "applied": "information",
    "already": "information",
    "ambiguous": "warning",
    "refused": "error",
    "failed": "error",
}


@dataclass(frozen=True)
class Change:
    """What the operator asked for; `plan` makes the `Plan` (reads only, nothing is sent)."""

    action: Action
    user_id: int
    login: str
    org_id: int | None = None
    role: str | None = None
    admin: bool | None = None  # grafana-admin: the flag wanted

    @property
    def picks_role(self) -> bool:
        return self.action in ("change-role", "grant")

    @property
    def picks_org(self) -> bool:
        return self.action == "grant"

    @property
    def ready(self) -> str | None:
        """What is still missing before a plan can be made, or None."""
        if self.action != "grafana-admin" and self.org_id is None:
            return "pick an org"
        if self.picks_role and self.role is None:
            return "pick a role"
        return None

    def plan(self, client: GrafanaClient) -> Plan:
        # Only a server admin resolves a user by id; anyone else finds them by login among org members.
        user: int | str = self.user_id if client.capabilities().can_manage_users_globally else self.login
        if self.action == "grafana-admin":
            return plan_grafana_admin(client, user, bool(self.admin))
        assert self.org_id is not None
        if self.action == "revoke":
            return plan_revoke(client, user, self.org_id)
        assert self.role is not None
        if self.action == "grant":
            return plan_grant(client, user, self.org_id, self.role)
        return plan_role_change(client, user, self.org_id, self.role)


def confirm_reason(plan: Plan) -> str | None:
    """Why this plan needs the login typed before it is sent, or None."""
    if plan.blocked or plan.noop or not plan.calls:
        return None
    who = plan.user.login
    if plan.destructive:
        return f"on Grafana Cloud this may delete {who}'s account (their last org)"
    if plan.action == "grafana-admin" and plan.before is True and plan.after is False:
        return f"this takes the Grafana server admin flag away from {who}"
    if plan.before == "Admin" and plan.after != "Admin" and plan.org is not None:
        return f"this takes Admin of org {plan.org.id} {plan.org.name!r} away from {who}"
    return None


def call_line(client: GrafanaClient, call: Call[Any]) -> str:
    """`client.describe(call)` with the instance URL left out: the header already shows it."""
    text = client.describe(call)
    method, _, rest = text.partition(" ")
    return f"{method} {rest.removeprefix(client.base_url)}"


@dataclass(frozen=True)
class Planned:
    """A plan as the modal shows it (the call lines are rendered in the worker, off the UI thread)."""

    change: Change
    plan: Plan
    calls: tuple[str, ...]


class RolePicker(RadioSet):
    """A role picker whose arrows choose at once (and the plan follows), instead of moving a highlight
    that Enter then presses."""

    def __init__(self, *buttons: RadioButton, id: str | None = None) -> None:
        super().__init__(*buttons, id=id)
        self.choosing = False  # RadioSet's own mount moves the highlight: that must not choose

    def on_mount(self) -> None:
        self.call_after_refresh(self.start_choosing)  # after RadioSet's mount has found the pressed one

    def start_choosing(self) -> None:
        if self.pressed_index >= 0:
            self._selected = self.pressed_index
        self.choosing = True

    def action_next_button(self) -> None:
        super().action_next_button()
        if self.choosing:
            self.action_toggle_button()

    def action_previous_button(self) -> None:
        super().action_previous_button()
        if self.choosing:
            self.action_toggle_button()


class ChangeModal(ReportsWorkerErrors, ModalScreen[Result | None]):
    """Plan one change, show it, and send it on ``y``; dismissed with the `Result` (None: cancelled)."""

    CSS_PATH = "change_role.tcss"

    BINDINGS = [
        Binding("y", "apply", "Apply", id="change.apply"),
        Binding("n", "cancel", "Cancel", id="change.cancel"),
        Binding("escape", "cancel", "Cancel", show=False, id="change.escape"),
    ]

    def __init__(self, change: Change, *, orgs: Sequence[Org] = ()) -> None:
        super().__init__()
        self.change = change
        self.orgs = tuple(orgs)  # grant: the orgs to choose from
        self.planned: Planned | None = None
        self.busy = ""
        self.refusal_audited = False

    @property
    def gtool(self) -> GtoolApp:
        return cast(GtoolApp, self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="change") as box:
            box.border_title = f"{TITLES[self.change.action]} · {escape(self.change.login)}"  # markup
            if self.change.picks_org:
                options = [(Text(f"{o.id} {o.name}"), o.id) for o in self.orgs]  # a name is not markup
                yield Select(
                    options, prompt="Org to add them to", id="org", value=self.change.org_id or Select.NULL
                )
            if self.change.picks_role:
                with RolePicker(id="role"):
                    for role in ROLE_CHOICES:
                        yield RadioButton(role, value=role == self.change.role, id=f"role-{role}")
            with VerticalScroll(id="plan"):
                yield Static("planning…", id="summary")
                yield Static("", id="calls")
                yield Static("", id="warnings")
                yield Static("", id="blocked")
            with Vertical(id="confirm"):
                yield Static("", id="confirm-why")
                yield Input(placeholder=f"type {self.change.login} to confirm", id="typed")
            yield Static("", id="status")
            with Horizontal(id="buttons"):
                yield Button("Apply \\[y]", variant="warning", id="apply")
                yield Button("Cancel \\[n]", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm").display = False
        first = "#org" if self.change.picks_org and self.change.org_id is None else "#role"
        if self.query(first):
            self.query_one(first).focus()
        else:
            self.query_one("#cancel", Button).focus()
        self.replan()

    # --- planning -------------------------------------------------------------------------------------

    @on(RadioSet.Changed, "#role")
    def role_picked(self, event: RadioSet.Changed) -> None:
        self.change = dataclasses.replace(self.change, role=ROLE_CHOICES[event.index])
        self.replan()

    @on(Select.Changed, "#org")
    def org_picked(self, event: Select.Changed) -> None:
        org_id = event.value if isinstance(event.value, int) else None
        self.change = dataclasses.replace(self.change, org_id=org_id)
        self.replan()

    def replan(self) -> None:
        self.planned = None
        missing = self.change.ready
        if missing:
            self.show_text("summary", missing[:1].upper() + missing[1:] + ".", "muted")
            for part in ("calls", "warnings", "blocked"):
                self.show_text(part, "")
            self.query_one("#confirm").display = False
            return
        self.busy = "planning"
        self.show_text("summary", "planning… (reading the user, the org and its admins)", "muted")
        self.plan_change(self.change)

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def plan_change(self, change: Change) -> None:
        worker = get_current_worker()
        client = session_of(self.app).sync_client()
        try:
            plan = change.plan(client)
            planned = Planned(change, plan, tuple(call_line(client, c) for c in plan.calls))
        except Exception as exc:  # a 403, a 5xx, an unknown org, NotPossible: shown here, the app goes on
            if not worker.is_cancelled:
                self.app.call_from_thread(self.plan_failed, change, exc)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self.show_plan, planned)

    def plan_failed(self, change: Change, error: BaseException) -> None:
        if change != self.change or not self.is_attached:
            return
        self.busy = ""
        self.show_text("summary", "Cannot plan this change:", "error")
        self.show_text("calls", describe_error(error), "error")
        self.show_text("warnings", "Nothing was sent.", "muted")
        self.show_text("blocked", "")

    def show_plan(self, planned: Planned) -> None:
        if planned.change != self.change or not self.is_attached:
            return  # an older plan finished after the operator picked something else, or we are gone
        self.busy = ""
        self.planned = planned
        plan = planned.plan
        where = f" in org {plan.org.id} {plan.org.name}" if plan.org else ""
        before, after = state_text(plan.before), state_text(plan.after)
        summary = Text.assemble((plan.user.login, "bold"), where, ":  ", before, "  →  ", (after, "bold"))
        self.query_one("#summary", Static).update(summary)
        if plan.blocked:
            self.show_text("calls", "Nothing will be sent.", "muted")
        elif plan.noop:
            self.show_text("calls", f"Nothing to send: {plan.noop}.", "muted")
        else:
            self.show_text("calls", "Sends  " + "\n       ".join(planned.calls), "call")
        self.show_text("warnings", "\n".join(f"⚠ {w}" for w in plan.warnings), "warning")
        blocked = (
            f"Blocked: {plan.blocked}\nThe TUI never forces a change; `{FORCE_HINT[plan.action]}` sends it "
            "anyway (and the next login would undo it)."
            if plan.blocked
            else ""
        )
        self.show_text("blocked", blocked, "error")
        reason = confirm_reason(plan)
        confirm = self.query_one("#confirm")
        confirm.display = reason is not None
        if reason is not None:
            self.show_text("confirm-why", f"Destructive: {reason}. Type the login to confirm.", "error")

    def show_text(self, part: str, text: str, style: str = "") -> None:
        widget = self.query_one(f"#{part}", Static)
        widget.update(Text(text))
        widget.set_classes(style)
        widget.display = bool(text)

    # --- applying -------------------------------------------------------------------------------------

    @on(Input.Submitted, "#typed")
    def typed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#apply")
    def apply_pressed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    def typed_ok(self, plan: Plan) -> bool:
        typed = self.query_one("#typed", Input).value.strip()
        return typed.casefold() == plan.user.login.casefold()

    def action_apply(self) -> None:
        if session_of(self.app).read_only:
            self.say("Read-only: nothing is sent.", "warning")
            return
        if self.busy:
            self.say(f"Still {self.busy}…", "warning")
            return
        if self.planned is None:
            self.say(self.change.ready or "There is no plan to apply.", "warning")
            return
        plan = self.planned.plan
        if plan.blocked:
            self.say(f"Not sent: blocked. Use `{FORCE_HINT[plan.action]}` to send it anyway.", "error")
            if not self.refusal_audited:  # the audit log keeps refused attempts, as the CLI's does
                self.refusal_audited = True
                self.send(plan, quiet=True)
            return
        if plan.noop:
            self.say(f"Nothing to send: {plan.noop}.", "warning")
            return
        if confirm_reason(plan) is not None and not self.typed_ok(plan):
            self.say(f"Type {plan.user.login} first: this change is destructive.", "error")
            self.query_one("#typed", Input).focus()
            return
        self.busy = "applying"
        self.say("applying…", "muted")
        self.send(plan)

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False)
    def send(self, plan: Plan, quiet: bool = False) -> None:
        session = session_of(self.app)
        client = session.sync_client()
        try:
            result = apply(
                client, plan, audit=session.audit_path, profile=session.profile, actor=session.conn.actor
            )
        except OSError as exc:  # the audit log: the write may have happened, say so
            message = f"cannot write the audit log ({exc.strerror or exc}); the change may have been applied"
            self.app.call_from_thread(self.apply_failed, message)
            return
        except Exception as exc:  # apply reports Grafana's answers itself; anything else is shown, not raised
            self.app.call_from_thread(self.apply_failed, f"not applied or unknown: {describe_error(exc)}")
            return
        if not quiet:
            self.app.call_from_thread(self.applied, result)

    def apply_failed(self, message: str) -> None:
        self.busy = ""
        self.say(message, "error")
        self.notify(message, title="Audit log", severity="error", markup=False)
        self.gtool.user_changed(self.change.user_id)

    def applied(self, result: Result) -> None:
        self.busy = ""
        plan = result.plan
        self.notify(
            f"{plan.action} {plan.target}: {result.message}",
            title=result.outcome,
            severity=SEVERITY.get(result.outcome, "information"),
            markup=False,
            timeout=8,
        )
        self.gtool.user_changed(self.change.user_id)
        self.dismiss(result)

    def say(self, text: str, style: str) -> None:
        self.show_text("status", text, style)

    def action_cancel(self) -> None:
        if self.busy == "applying":
            self.say("Applying: wait for Grafana's answer.", "warning")
            return
        self.dismiss(None)
