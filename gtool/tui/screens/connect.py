"""The connect screen: where `gtool tui` starts without a profile or URL, or after a failed connection.

It tries the connection (``GET /api/user`` and the rest of `capabilities`) in a worker and shows what
went wrong in place (a wrong password, a refused connection), so the operator can fix it without the app
exiting. "Save as profile" writes a profile with a secret *reference*, never the secret itself (see
`gtool.profiles`): for ``file:PATH`` a missing file is created 0600 with the secret typed here, for
``keyring:SERVICE/USER`` the entry is stored in the system keyring; ``env:`` and ``command:`` are only
named, the operator provides them.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from gtool import profiles
from gtool.grafana.auth import Secret
from gtool.grafana.errors import GrafanaError
from gtool.profiles import Connection, Profile, ProfileError
from gtool.tui.errors import ReportsWorkerErrors, describe_error
from gtool.tui.session import Session

AuthKind = Literal["basic", "token"]

REFERENCE_HINT = (
    "env:VAR · command:pass show grafana · keyring:service/user · file:~/.config/gtool/NAME.secret"
)


def profile_error(exc: ProfileError) -> str:
    return exc.message + (f"\n{exc.hint}" if exc.hint else "")


@dataclass(frozen=True)
class ConnectForm:
    """What the operator typed; `connection` checks it and builds the `Connection` (no I/O)."""

    url: str
    auth: AuthKind
    user: str
    secret: str = field(repr=False)  # a crash report prints locals: never the password
    ca_bundle: str = ""
    insecure: bool = False
    read_only: bool = False
    save_as: str = ""
    reference: str = ""

    def connection(self) -> Connection:
        """Raises `ProfileError` with what to fix."""
        if not self.url.strip():
            raise ProfileError("the Grafana URL is missing", "e.g. https://grafana.example.com")
        url = profiles.check_url(self.url.strip())
        if self.auth == "basic" and not self.user.strip():
            raise ProfileError("basic auth needs a user", "the Grafana login, e.g. admin")
        if not self.secret:
            what = "password" if self.auth == "basic" else "token"
            raise ProfileError(f"the {what} is missing")
        if self.insecure and self.ca_bundle.strip():
            raise ProfileError("a CA bundle and 'do not verify TLS' contradict each other", "choose one")
        return Connection(
            url=url,
            auth_kind=self.auth,
            secret=Secret(self.secret),
            user=self.user.strip() if self.auth == "basic" else None,
            profile=self.save_as.strip() or None,
            ca_bundle=self.ca_bundle.strip() or None,
            insecure=self.insecure,
            read_only=self.read_only,
        )

    def profile(self) -> Profile | None:
        """The profile to save (None: not asked); `ProfileError` for a bad name or reference."""
        name = self.save_as.strip()
        if not name:
            return None
        if not self.reference.strip():
            raise ProfileError(
                "saving a profile needs a reference to where the secret is kept", REFERENCE_HINT
            )
        profile = Profile(
            name=name,
            url=profiles.check_url(self.url.strip()),
            auth=self.auth,
            secret=self.reference.strip(),
            user=self.user.strip() if self.auth == "basic" else None,
            ca_bundle=self.ca_bundle.strip() or None,
            insecure=self.insecure,
            read_only=self.read_only,
        )
        profile.validate()
        if name in profiles.load().profiles:
            raise ProfileError(f"a profile named {name!r} already exists", "choose another name")
        return profile


def store_secret(reference: str, secret: str) -> str:
    """Put the secret where `reference` says, when gtool can; returns a note for the operator."""
    scheme, rest = profiles.parse_reference(reference)
    if scheme == "file":
        path = Path(rest).expanduser()
        if path.exists():
            return f"{path} exists and was left as it is: it must hold the secret (mode 0600)"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret + "\n")
        return f"the secret was written to {path} (mode 0600)"
    if scheme == "keyring":
        service, _, user = rest.rpartition("/")
        try:
            keyring = importlib.import_module("keyring")  # optional, as for reading it
        except ImportError:
            raise ProfileError(
                "keyring: needs the Python 'keyring' package, which is not installed",
                "use env:, command: or file: instead",
            ) from None
        keyring.set_password(service, user, secret)
        return f"the secret was stored in the keyring ({service}/{user})"
    if scheme == "env":
        return f"export {rest} with the secret before the next start"
    return f"the command must print the secret: {rest}"


def save_profile(profile: Profile, secret: str) -> str:
    """Store the secret behind the reference, then write the profile (the reference only)."""
    note = store_secret(profile.secret, secret)
    for warning in profiles.add(profile):
        note += f"\n{warning}"
    return note


class ConnectScreen(ReportsWorkerErrors, Screen[Session | None]):
    """Connect to a Grafana: a saved profile, or URL and credentials (optionally saved as a profile)."""

    CSS_PATH = "connect.tcss"

    BINDINGS = [
        Binding("escape", "cancel", "Quit", id="connect.cancel"),
    ]

    def __init__(
        self,
        error: str | None = None,
        *,
        url: str = "",
        user: str = "",
        token: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.error = error
        # what a failed first connection used, so the operator fixes the secret, not the whole form
        self.prefill = (url, user, token)
        self.saved: dict[str, Profile] = {}
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("gtool", "bold"), " · connect to Grafana"), id="connect-title")
        with VerticalScroll(id="connect-body"):
            yield Static("", id="connect-error")
            with Vertical(id="saved"):
                yield Static("Saved profiles (Enter connects)", classes="section")
                yield OptionList(id="profiles")
            yield Static("Connect with a URL", classes="section", id="form-title")
            with Grid(id="form"):
                yield Static("Grafana URL", classes="label")
                yield Input(placeholder="https://grafana.example.com", id="url", compact=True)
                yield Static("Auth", classes="label")
                with RadioSet(id="auth", compact=True):
                    yield RadioButton("Basic (user + password)", value=True, id="auth-basic")
                    yield RadioButton("Token (service account)", id="auth-token")
                yield Static("User", classes="label")
                yield Input(placeholder="login, e.g. admin", id="user", compact=True)
                yield Static("Password", classes="label", id="secret-label")
                yield Input(placeholder="never shown, never saved", password=True, id="secret", compact=True)
                yield Static("CA bundle", classes="label")
                yield Input(placeholder="path to CA certificates (optional)", id="ca", compact=True)
                yield Static("", classes="label")
                with Horizontal(id="flags"):
                    yield Checkbox("Do not verify TLS", id="insecure", compact=True)
                    yield Checkbox("Read-only", id="read-only", compact=True)
                yield Static("Save as profile", classes="label")
                yield Input(placeholder="profile name (optional)", id="save-as", compact=True)
                yield Static("Secret reference", classes="label")
                yield Input(placeholder=REFERENCE_HINT, id="reference", compact=True)
            with Horizontal(id="actions"):
                yield Button("Connect", variant="primary", id="connect")
                yield Static("", id="connect-status")
        yield Footer()

    def on_mount(self) -> None:
        self.show_error(self.error)
        url, user, token = self.prefill
        self.query_one("#url", Input).value = url
        self.query_one("#user", Input).value = user
        if token:
            self.query_one("#auth-token", RadioButton).value = True
        # with the URL known, the secret is what needs typing
        self.query_one("#secret" if url else "#url", Input).focus()
        self.load_profiles()

    # --- saved profiles -------------------------------------------------------------------------------

    @work(exclusive=True, group="connect-profiles", exit_on_error=False)
    async def load_profiles(self) -> None:
        try:
            loaded = await asyncio.to_thread(profiles.load)
        except ProfileError as exc:
            self.query_one("#saved").display = False
            self.show_error(f"The profile file cannot be used: {profile_error(exc)}")
            return
        self.saved = dict(loaded.profiles)
        box = self.query_one("#saved")
        box.display = bool(self.saved)
        if self.saved:
            self.query_one("#form-title", Static).update("Or connect with a URL")
        options = self.query_one("#profiles", OptionList)
        options.clear_options()
        for name, p in self.saved.items():
            who = f"{p.user} · " if p.user else ""
            label = Text.assemble((name, "bold"), f"  {p.url}  ({who}{p.auth})")
            if p.read_only:
                label.append("  read-only")
            options.add_option(Option(label, id=name))
        if self.saved:
            options.highlighted = 0
            options.focus()

    @on(OptionList.OptionSelected, "#profiles")
    def profile_picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None and not self.busy:
            self.connect_profile(event.option.id)

    @work(exclusive=True, group="connect-form", exit_on_error=False)
    async def connect_profile(self, name: str) -> None:
        self.set_busy(f"resolving profile {name}…")
        try:
            # a command: or keyring: reference may take a while (a password store, an unlock prompt)
            conn = await asyncio.to_thread(profiles.resolve, name)
        except ProfileError as exc:
            self.set_busy("")
            self.show_error(f"Profile {name}: {profile_error(exc)}")
            return
        await self.try_session(Session.open(conn), None, "")

    # --- the form -------------------------------------------------------------------------------------

    @on(RadioSet.Changed, "#auth")
    def auth_changed(self) -> None:
        token = self.auth == "token"
        self.query_one("#secret-label", Static).update("Token" if token else "Password")
        self.query_one("#user", Input).disabled = token

    @property
    def auth(self) -> AuthKind:
        return "token" if self.query_one("#auth-token", RadioButton).value else "basic"

    def form(self) -> ConnectForm:
        def text(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value

        return ConnectForm(
            url=text("url"),
            auth=self.auth,
            user=text("user"),
            secret=text("secret"),
            ca_bundle=text("ca"),
            insecure=self.query_one("#insecure", Checkbox).value,
            read_only=self.query_one("#read-only", Checkbox).value,
            save_as=text("save-as"),
            reference=text("reference"),
        )

    @on(Button.Pressed, "#connect")
    @on(Input.Submitted)
    def submit(self) -> None:
        if self.busy:
            return
        form = self.form()
        try:
            conn = form.connection()
            profile = form.profile()
        except ProfileError as exc:
            self.show_error(profile_error(exc))
            return
        self.connect_form(conn, profile, form.secret)

    @work(exclusive=True, group="connect-form", exit_on_error=False)
    async def connect_form(self, conn: Connection, profile: Profile | None, secret: str) -> None:
        await self.try_session(Session.open(conn), profile, secret)

    async def try_session(self, session: Session, profile: Profile | None, secret: str) -> None:
        """Connect; on success save the profile (if asked) and leave with the session."""
        self.set_busy(f"connecting to {session.url}…")
        try:
            await session.connect()
        except GrafanaError as exc:
            await session.aclose()
            self.set_busy("")
            self.show_error(describe_error(exc))
            return
        if profile is not None:
            try:
                note = await asyncio.to_thread(save_profile, profile, secret)
            except Exception as exc:  # keyring backends raise their own types (no D-Bus, locked, …)
                await session.aclose()
                self.set_busy("")
                why = profile_error(exc) if isinstance(exc, ProfileError) else f"{type(exc).__name__}: {exc}"
                self.show_error(f"Connected, but the profile was not saved: {why}")
                return
            self.app.notify(f"Saved profile {profile.name}: {note}", title="Profile", timeout=10)
        self.set_busy("")
        self.dismiss(session)

    def set_busy(self, text: str) -> None:
        self.busy = bool(text)
        self.query_one("#connect-status", Static).update(text)
        self.query_one("#connect", Button).disabled = self.busy
        if self.busy:
            self.show_error(None)

    def show_error(self, text: str | None) -> None:
        error = self.query_one("#connect-error", Static)
        error.update(Text(text or ""))
        error.display = bool(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
