"""Create a user (self-hosted: a local account with a generated password) or invite one (Grafana Cloud).

The plan and the write are `gtool.access.provision`'s, the ones ``gtool user create`` uses, so the TUI
and the CLI send, check and audit the same calls. The generated password goes once to where the operator
says: a new ``0600`` file, a command's stdin (a vault CLI), or a one-time modal. In the last case it lives
in that modal only: the result handed back to the caller, the notification and the audit record never
hold it, and once the modal is dismissed nothing the app keeps refers to it.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select, Static

from gtool.access.provision import (
    PasswordDelivery,
    ProvisionPlan,
    ProvisionResult,
    apply_provision,
    plan_create_user,
)
from gtool.access.roles import NotPossible, plan_role_change
from gtool.access.roles import apply as apply_role
from gtool.grafana.auth import Secret
from gtool.grafana.capabilities import Capabilities
from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import GrafanaError
from gtool.tui.errors import ReportsWorkerErrors, describe_error
from gtool.tui.session import Session

ROLES = ("Viewer", "Editor", "Admin")
DELIVERIES = (
    ("file", "new file (0600)"),
    ("command", "a command's stdin"),
    ("show", "show once"),
)
TARGET_HINTS = {
    "file": ("File", "a NEW file, e.g. ~/jane.password (refused if it exists)"),
    "command": ("Command", "run without a shell, e.g. vault kv put secret/grafana/jane password=-"),
}


def invite_mode(caps: Capabilities) -> bool:
    """Invite rather than create: Grafana Cloud, or a credential that may invite but not create users."""
    return caps.is_cloud or (caps.can_invite_users and not caps.can_create_users)


def outcome_severity(outcome: str) -> SeverityLevel:
    return "information" if outcome in ("applied", "already") else "error"


@dataclass(frozen=True)
class NewUser:
    """What the form asks for. `delivery` is None for an invite (no password is made)."""

    login: str
    email: str
    name: str
    role: str
    org_id: int | None
    delivery: PasswordDelivery | None


@dataclass(frozen=True)
class PlanLine:
    """One line of the plan as shown: `kind` is its tcss class (head, call, note, warning, blocked)."""

    kind: str
    text: str


def plan_lines(plan: ProvisionPlan, client: GrafanaClient) -> list[PlanLine]:
    """`ProvisionPlan.describe` (what ``--dry-run`` prints, the password as ``****``), a kind per line.

    Calls are shown without the instance URL, as in the change modal: the header already shows it.
    """
    head, *rest = plan.describe(client)
    delivery = plan.delivery.describe() if plan.delivery is not None else None
    lines = [PlanLine("head", head)]
    for line in (r.strip() for r in rest):
        if line.startswith("blocked:"):
            kind = "blocked"
        elif line.startswith("warning:"):
            kind = "warning"
        elif line.startswith("nothing to send:") or line == delivery:
            kind = "note"
        else:
            kind = "call"
            method, _, rest_of_call = line.partition(" ")
            line = f"{method} {rest_of_call.removeprefix(client.base_url)}"
        lines.append(PlanLine(kind, line))
    return lines


def sendable(plan: ProvisionPlan | None) -> bool:
    return plan is not None and bool(plan.calls) and not plan.blocked and not plan.noop


def without_password(result: ProvisionResult) -> ProvisionResult:
    """The result as the caller may keep it: the shown-once password dropped from it and from its plan."""
    return dataclasses.replace(result, password=None, plan=dataclasses.replace(result.plan, password=None))


class PlanView(VerticalScroll):
    """The plan: the change, the exact calls, warnings, or why it is blocked. Lines are never markup."""

    DEFAULT_CSS = """
    PlanView {
        height: auto;
        max-height: 12;
        margin-top: 1;
        padding: 0 1;
        border-left: outer $primary 50%;
        & > Static { height: auto; }
        & > .plan-head { text-style: bold; }
        & > .plan-note, & > .plan-hint { color: $text-muted; }
        & > .plan-warning { color: $warning; }
        & > .plan-blocked { color: $error; text-style: bold; }
    }
    """

    def show(self, lines: list[PlanLine]) -> None:
        self.remove_children()
        self.mount_all(Static(line.text, classes=f"plan-{line.kind}", markup=False) for line in lines)


class PasswordOnceModal(ModalScreen[None]):
    """The generated password, shown once. Dismissing it clears it: it is nowhere else on screen."""

    CSS_PATH = "provision.tcss"
    HOLDS_SECRET = True  # the app keeps the command palette (Screenshot, mode switches) away from it

    BINDINGS = [
        Binding("enter", "done", "I have it", id="password.done"),
        Binding("escape", "done", "I have it", show=False, id="password.escape"),
    ]

    def __init__(self, login: str, password: Secret) -> None:
        super().__init__()
        self.login = login
        self._password: Secret | None = password

    def compose(self) -> ComposeResult:
        with Vertical(id="password-dialog") as dialog:
            dialog.border_title = f"Password for {escape(self.login)}: shown once"
            yield Static(
                "gtool does not keep it: not in the audit log, not on disk, not on screen after this.",
                classes="muted",
            )
            secret = self._password.reveal() if self._password is not None else ""
            yield Static(secret, id="password", markup=False)
            yield Static("Hand it over now (or store it in your vault), then dismiss.", classes="warning")
            with Horizontal(classes="buttons"):
                yield Button("I have it \\[enter]", variant="primary", id="done", compact=True)

    def on_mount(self) -> None:
        self.query_one("#done", Button).focus()

    @on(Button.Pressed, "#done")
    def pressed(self) -> None:
        self.action_done()

    def action_done(self) -> None:
        if self._password is None:
            return  # already dismissed (Enter reaches both the button and the screen)
        self.query_one("#password", Static).update("")
        self._password = None
        self.dismiss(None)


class CreateUserModal(ReportsWorkerErrors, ModalScreen[ProvisionResult | None]):
    """New local user (self-hosted) or org invite (Grafana Cloud): form, plan, ``y`` to apply."""

    CSS_PATH = "provision.tcss"

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="provision.cancel"),
        Binding("ctrl+r", "review", "Review the plan", id="provision.review"),
        Binding("y", "apply", "Apply", id="provision.apply"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan: ProvisionPlan | None = None
        self.planned_for: NewUser | None = None
        self.applying = False
        self._sending: tuple[ProvisionPlan, NewUser] | None = None

    @property
    def session(self) -> Session:
        session: Session = self.app.session
        return session

    @property
    def caps(self) -> Capabilities:
        assert self.session.capabilities is not None
        return self.session.capabilities

    @property
    def inviting(self) -> bool:
        return invite_mode(self.caps)

    # --- layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        caps = self.caps
        org = f"org {caps.org_id}" + (f" {caps.org_name}" if caps.org_name else "")
        with Vertical(id="create-dialog") as dialog:
            if self.inviting:
                dialog.border_title = "Invite a user"
                note = (
                    f"Grafana Cloud users sign in through grafana.com or SSO: an invite to {org}"
                    if caps.is_cloud
                    else f"This credential cannot create users ({caps.why_not('create_users')}): "
                    f"an invite to {org} instead"
                )
                yield Static(f"{note} (no password is made).", id="mode-note", classes="muted", markup=False)
            else:
                dialog.border_title = "New user"
                cannot = caps.why_not("create_users")
                yield Static(
                    f"This credential cannot create users: {cannot}"
                    if cannot
                    else "A local account; its generated password goes once to where you choose.",
                    id="mode-note",
                    classes="warning" if cannot else "muted",
                    markup=False,
                )
            if not self.inviting:
                yield from self._row("Login", Input(placeholder="login", id="login", compact=True))
            email_hint = "email (or login) to invite" if self.inviting else "email (optional)"
            yield from self._row("Email", Input(placeholder=email_hint, id="email", compact=True))
            yield from self._row(
                "Name", Input(placeholder="display name (optional)", id="name", compact=True)
            )
            if not self.inviting:
                options = [(f"{caps.org_name or 'org'} ({caps.org_id})", caps.org_id or 1)]
                yield from self._row(
                    "Org",
                    Select(options, value=caps.org_id or 1, allow_blank=False, id="org", compact=True),
                )
            role = Select([(r, r) for r in ROLES], value="Viewer", allow_blank=False, id="role", compact=True)
            yield from self._row("Role", role)
            if not self.inviting:
                buttons = [
                    RadioButton(label, value=i == 0, name=kind) for i, (kind, label) in enumerate(DELIVERIES)
                ]
                yield from self._row("Password", RadioSet(*buttons, id="delivery", compact=True))
                label, hint = TARGET_HINTS["file"]
                with Horizontal(classes="form-row", id="target-row"):
                    yield Label(label, id="target-label")
                    yield Input(placeholder=hint, id="target", compact=True)
            yield PlanView(id="plan")
            result = Static("", id="result", markup=False)
            result.display = False
            yield result
            with Horizontal(classes="buttons"):
                yield Button("Review \\[enter]", id="review", compact=True)
                yield Button("Apply \\[y]", variant="warning", id="apply", disabled=True, compact=True)
                yield Button("Cancel \\[esc]", id="cancel", compact=True)

    @staticmethod
    def _row(label: str, widget: Widget) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(label)
            yield widget

    def on_mount(self) -> None:
        if self.session.read_only:
            self.notify("Read-only: creating users is disabled.", severity="warning")
            self.dismiss(None)
            return
        first = "#email" if self.inviting else "#login"
        self.query_one(first, Input).focus()
        self.query_one("#plan", PlanView).show(
            [PlanLine("note", "Fill in the form, then Enter to see the exact calls before anything is sent.")]
        )
        if not self.inviting:
            self.load_orgs()

    @work(exclusive=True, group="create-orgs", exit_on_error=False)
    async def load_orgs(self) -> None:
        """The org picker (``GET /api/orgs``); without it, the connection's org is the only choice."""
        try:
            orgs = await self.session.client.list_orgs()
        except GrafanaError:
            return
        if orgs and self.is_attached:
            select: Select[int] = self.query_one("#org", Select)
            current = select.value
            select.set_options((f"{o.name} ({o.id})", o.id) for o in orgs)
            if any(o.id == current for o in orgs):
                select.value = current

    # --- the form -------------------------------------------------------------------------------------

    def delivery_kind(self) -> str:
        pressed = self.query_one("#delivery", RadioSet).pressed_button
        return pressed.name if pressed is not None and pressed.name else "file"

    def form(self) -> NewUser | str:
        """The form as a `NewUser`, or what is missing from it."""
        value = {i.id: i.value.strip() for i in self.query(Input) if i.id}
        role = str(self.query_one("#role", Select).value)
        if self.inviting:
            if not value["email"]:
                return "say whom to invite: an email (or the login of an existing user)"
            return NewUser(value["email"], value["email"], value["name"], role, None, None)
        if not value["login"]:
            return "a login is needed"
        org = self.query_one("#org", Select).value
        org_id = org if isinstance(org, int) else None
        kind, target = self.delivery_kind(), value.get("target", "")
        delivery: PasswordDelivery
        if kind == "file":
            if not target:
                return "say which new file gets the password"
            delivery = PasswordDelivery.to_file(expand_path(target))
        elif kind == "command":
            try:
                argv = shlex.split(target)
            except ValueError as exc:
                return f"the command cannot be split: {exc}"
            if not argv:
                return "say which command gets the password on its stdin"
            delivery = PasswordDelivery.to_command(argv)
        else:
            delivery = PasswordDelivery.show()
        return NewUser(value["login"], value["email"], value["name"], role, org_id, delivery)

    @on(Input.Changed)
    @on(Select.Changed)
    def edited(self) -> None:
        """Any edit makes the plan shown stale: ``y`` waits for a new review."""
        if self.plan is not None:
            self.plan = None
            self.planned_for = None
            self.query_one("#plan", PlanView).show([PlanLine("note", "Changed: Enter to review again.")])
            self._ready_changed()

    @on(RadioSet.Changed, "#delivery")
    def delivery_changed(self) -> None:
        kind = self.delivery_kind()
        row = self.query_one("#target-row")
        row.display = kind in TARGET_HINTS
        if kind in TARGET_HINTS:
            label, hint = TARGET_HINTS[kind]
            self.query_one("#target-label", Label).update(label)
            target = self.query_one("#target", Input)
            target.placeholder = hint
            target.value = ""
        self.edited()

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_review()

    @on(Button.Pressed, "#review")
    def review_pressed(self) -> None:
        self.action_review()

    @on(Button.Pressed, "#apply")
    def apply_pressed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    # --- plan, then apply ------------------------------------------------------------------------------

    def action_review(self) -> None:
        if self.applying:
            return
        form = self.form()
        if isinstance(form, str):
            self.query_one("#plan", PlanView).show([PlanLine("blocked", form)])
            return
        self.query_one("#plan", PlanView).show([PlanLine("note", "planning…")])
        self.make_plan(form)

    @work(thread=True, exclusive=True, group="create-plan", exit_on_error=False)
    def make_plan(self, form: NewUser) -> None:
        client = self.session.sync_client()
        try:
            plan = plan_create_user(
                client,
                form.login,
                email=form.email,
                name=form.name,
                delivery=form.delivery,
                role=form.role,
                org_id=form.org_id,
                cloud=self.inviting,
            )
        except (GrafanaError, NotPossible) as exc:
            self.app.call_from_thread(self.show_lines, [PlanLine("blocked", describe_error(exc))])
            return
        lines = plan_lines(plan, client)
        if plan.action == "create-user" and sendable(plan) and form.org_id is not None:
            lines.insert(
                2,
                PlanLine(
                    "note",
                    f'then PATCH /api/orgs/{form.org_id}/users/<new id> {{"role":"{form.role}"}} '
                    "if Grafana gave the new user another role",
                ),
            )
        self.app.call_from_thread(self.planned, form, plan, lines)

    def show_lines(self, lines: list[PlanLine]) -> None:
        if self.is_attached:
            self.query_one("#plan", PlanView).show(lines)

    def planned(self, form: NewUser, plan: ProvisionPlan, lines: list[PlanLine]) -> None:
        if not self.is_attached or self.form() != form:
            return  # edited while planning: that plan is for another form
        self.plan, self.planned_for = plan, form
        hint = (
            "y to apply, Esc to cancel" if sendable(plan) else "nothing will be sent: edit the form, or Esc"
        )
        self.show_lines([*lines, PlanLine("hint", hint)])
        self._ready_changed()
        if sendable(plan):
            self.query_one("#apply", Button).focus()

    def show_result(self, text: str) -> None:
        result = self.query_one("#result", Static)
        result.update(text)
        result.display = bool(text)

    def _ready_changed(self) -> None:
        self.query_one("#apply", Button).disabled = not self.ready()
        self.refresh_bindings()

    def ready(self) -> bool:
        return sendable(self.plan) and not self.applying and not self.session.read_only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply":
            return True if self.ready() else None
        return True

    def action_apply(self) -> None:
        if not self.ready() or self.planned_for is None:
            return
        assert self.plan is not None
        self._sending = (self.plan, self.planned_for)
        self.applying = True
        self.plan = None  # the password it holds goes with the worker from here
        self._ready_changed()
        self.show_result("sending…")
        self.send()

    @work(thread=True, exclusive=True, group="create-apply", exit_on_error=False)
    def send(self) -> None:
        # The plan (and its password) is handed over through an attribute, not as the worker's argument:
        # a finished Worker can outlive its run in the contexts of tasks started meanwhile, arguments and all.
        assert self._sending is not None
        (plan, form), self._sending = self._sending, None
        session, client = self.session, self.session.sync_client()
        try:
            result = apply_provision(
                client, plan, audit=session.audit_path, profile=session.profile, actor=session.conn.actor
            )
        except OSError as exc:
            note = f"cannot write the audit log ({exc.strerror or exc}); the user may have been created"
            self.app.call_from_thread(self.failed, note)
            return
        user_id, role_note = None, ""
        if result.outcome == "applied" and plan.action == "create-user":
            user_id, role_note = self._role_after_create(client, form)
        self.app.call_from_thread(self.applied, result, user_id, role_note)

    def _role_after_create(self, client: GrafanaClient, form: NewUser) -> tuple[int | None, str]:
        """The new user's id; the org role is set with `gtool.access.roles` when Grafana's default differs."""
        try:
            user_id = client.lookup_user(form.login or form.email).id
        except GrafanaError:
            return None, ""
        if form.org_id is None:
            return user_id, ""
        session = self.session
        try:
            role_plan = plan_role_change(client, user_id, form.org_id, form.role)
            if role_plan.noop or role_plan.blocked:
                return user_id, ""
            done = apply_role(
                client, role_plan, audit=session.audit_path, profile=session.profile, actor=session.conn.actor
            )
        except (GrafanaError, ValueError, OSError) as exc:
            return user_id, f"; the role in org {form.org_id} was not set: {exc}"
        return user_id, f"; {done.outcome}: {form.role} in org {form.org_id}: {done.message}"

    def failed(self, note: str) -> None:
        self.applying = False
        self.plan = None
        self.notify(note, title="Not done", severity="error", timeout=10)
        if self.is_attached:
            self.show_result(note)
            self._ready_changed()

    def applied(self, result: ProvisionResult, user_id: int | None, role_note: str) -> None:
        password = result.password
        kept = without_password(result)
        self.plan = None
        self.applying = False
        summary = f"{kept.outcome}: {kept.plan.action} {kept.plan.target}: {kept.message}{role_note}"
        self.notify(summary, title="Provisioning", severity=outcome_severity(kept.outcome), timeout=8)
        if user_id is not None:
            self.app.user_changed(user_id)
        if kept.outcome not in ("applied", "already"):
            self.show_result(summary)
            self.query_one("#plan", PlanView).show([PlanLine("note", "Not done: review again, or Esc.")])
            self._ready_changed()
            return
        app = self.app
        self.dismiss(kept)
        if password is not None:
            app.push_screen(PasswordOnceModal(kept.plan.target, password))

    def action_cancel(self) -> None:
        if self.applying:
            self.notify("A change is being sent: wait for its result.", severity="warning", timeout=4)
            return
        self.plan = None
        self.dismiss(None)


def expand_path(text: str) -> Path:
    """A path as typed, ``~`` expanded (the CLI gets that from the shell)."""
    return Path(text).expanduser()
