"""The Inspect tab of the SAML tools: `gtool saml inspect` on a file or on pasted text, with the attributes
in a table, the signature checked against an optional IdP certificate, and a redaction toggle."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Label, Static, TextArea
from textual.worker import get_current_worker

from gtool.saml import report
from gtool.saml.assertion import Response, redact
from gtool.saml.inputs import InputError, LoadedMessage, load_message

PASTED = "pasted text"
STDIN = "<stdin>"  # the name gtool.saml.capture gives to text that is not a file
PASTE_DEBOUNCE = 0.4
"""Seconds after the last change of the paste box before it is read: a paste arrives in one piece, typing
does not, and each read parses XML."""


@dataclass(frozen=True)
class Inspected:
    """A message read (or why not), and whether its signature was checked against a certificate."""

    loaded: LoadedMessage | None
    error: str | None = None
    checked: bool = False


def _pasted(text: str) -> str:
    return text.replace(STDIN, PASTED)


def verification_kind(path: str) -> str:
    """`idp_cert` for a PEM certificate, `idp_metadata` for anything else (the metadata XML)."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return "idp_cert"  # load_message reports the unreadable path with the CLI's wording
    return "idp_cert" if b"-----BEGIN CERTIFICATE" in head else "idp_metadata"


def read_message(source: str, pasted: str | None, cert: str) -> Inspected:
    """`load_message` as `gtool saml inspect [--idp-cert|--idp-metadata CERT]` calls it, for a path or for
    pasted text; every failure is the CLI's message and hint."""
    kind = verification_kind(cert) if cert else None
    stdin = io.BytesIO(pasted.encode("utf-8")) if pasted is not None else None
    try:
        loaded = load_message(
            "-" if pasted is not None else source,
            stdin=stdin,
            idp_cert=[cert] if kind == "idp_cert" else (),
            idp_metadata=[cert] if kind == "idp_metadata" else (),
        )
    except InputError as exc:
        return Inspected(None, _pasted(f"{exc.message} ({exc.hint})"))
    if pasted is not None:
        loaded = replace(
            loaded, source=PASTED, message=replace(loaded.message, origin=_pasted(loaded.message.origin))
        )
    return Inspected(loaded, checked=bool(cert))


def verdict(r: Response, checked: bool) -> tuple[bool | None, str]:
    """Whether the content shown is covered by a valid signature of the given certificate, and why not."""
    signed = r.signature is not None or any(a.signature for a in (*r.assertions, *r.rejected))
    if not checked:
        if not signed:
            return False, "not signed: Grafana refuses a message with neither Response nor Assertion signed"
        return None, "not verified: give the IdP certificate or metadata above to check the signature"
    if r.assertions:
        return (
            True,
            "verified with the given certificate: the assertion shown is covered by a valid signature",
        )
    problems = [s.problem for s in (r.signature, *(a.signature for a in r.rejected)) if s and s.problem]
    why = problems[0] if problems else (r.notes[-1] if r.notes else "no assertion carries a valid signature")
    return False, f"NOT verified: {why}"


def summary(loaded: LoadedMessage, checked: bool, now: dt.datetime) -> Text:
    """Issuer, subject, validity, audience and signature of the assertion Grafana would use."""
    r, m = loaded.response, loaded.message
    a = r.assertion
    rows: list[tuple[str, str]] = [
        ("Read", m.origin + (f" (message {loaded.index + 1} of {loaded.count})" if loaded.count > 1 else ""))
    ]
    rows.append(("Issuer", (a.issuer if a else None) or r.issuer or "-"))
    if a is not None:
        fmt = a.name_id_format.rsplit(":", 1)[-1] if a.name_id_format else "unspecified"
        rows.append(("Subject", f"{a.name_id or '-'}  (NameID format: {fmt})"))
        c = a.conditions
        if c is not None:
            state = ""
            if c.not_on_or_after is not None and c.not_on_or_after <= now:
                state = "  (expired)"
            elif c.not_before is not None and c.not_before > now:
                state = "  (not yet valid)"
            rows.append(("Valid from", report.relative(c.not_before, now)))
            rows.append(("Valid until", report.relative(c.not_on_or_after, now) + state))
            rows.append(("Audience", ", ".join(c.audiences) or "-"))
    elif r.encrypted_assertions:
        rows.append(
            ("Assertion", "encrypted: decrypt it with `gtool saml inspect --sp-key` (not in this view)")
        )
    else:
        rows.append(("Assertion", "none Grafana would use (see the notes below)"))
    if r.status is not None:
        rows.append(("Status", (r.status.code or "-").rsplit(":", 1)[-1]))
    out = Text()
    for label, value in rows:
        out.append(f"{label:<12}", style="bold")
        out.append(f"{value}\n")
    ok, why = verdict(r, checked)
    out.append(f"{'Signature':<12}", style="bold")
    out.append(why, style="bold" if ok is False else "")
    return out


class InspectPane(Vertical):
    """A capture file or pasted text in, the decoded assertion out."""

    def __init__(self, clock: Callable[[], dt.datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.inspected: Inspected | None = None
        self.last_error: str | None = None  # why the last read failed, for the Explain tab
        self.redacted = False
        self._shown: LoadedMessage | None = None  # the redacted copy, made once per load (random salt)
        self._debounce: Timer | None = None

    @property
    def loaded(self) -> LoadedMessage | None:
        """The message as read (never the redacted copy): what Explain simulates."""
        return self.inspected.loaded if self.inspected is not None else None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="bar"):
            yield Label("Assertion", classes="bar-label")
            yield Input(
                placeholder="file: XML, base64, form body, HAR, SAML-tracer JSON",
                id="inspect-path",
                compact=True,
            )
            yield Button("Load", id="inspect-load", compact=True)
        with Horizontal(classes="bar"):
            yield Label("IdP cert", classes="bar-label")
            yield Input(
                placeholder="optional: IdP certificate (PEM) or metadata XML, to verify the signature",
                id="inspect-cert",
                compact=True,
            )
        yield TextArea(id="inspect-paste", compact=True, placeholder="…or paste a SAMLResponse here")
        yield Static("", id="inspect-status", classes="status")
        with VerticalScroll(id="inspect-result"):
            yield Static("", id="inspect-summary")
            yield Label("", id="inspect-attrs-title", classes="section")
            table: DataTable[Text] = DataTable(id="inspect-attrs", cursor_type="row", zebra_stripes=True)
            table.add_column("Attribute", key="name")
            table.add_column("Friendly name", key="friendly")
            table.add_column("Values", key="values")
            yield table
            yield Label("", id="inspect-report-title", classes="section")
            yield Static("", id="inspect-report")

    def on_mount(self) -> None:
        self.query_one("#inspect-result").display = False

    @on(Input.Submitted, "#inspect-path")
    @on(Input.Submitted, "#inspect-cert")
    @on(Button.Pressed, "#inspect-load")
    def submitted(self) -> None:
        pasted = self.query_one("#inspect-paste", TextArea).text
        source = self.query_one("#inspect-path", Input).value.strip()
        if not source and pasted.strip():
            self.start("", pasted)
            return
        if not source:
            self.show_status("give the path of a captured SAML response, or paste it below", error=True)
            return
        self.start(source, None)

    @on(TextArea.Changed, "#inspect-paste")
    def pasted(self, event: TextArea.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        text = event.text_area.text
        if text.strip():
            self._debounce = self.set_timer(PASTE_DEBOUNCE, lambda: self.start("", text))

    def start(self, source: str, pasted: str | None) -> None:
        self.show_status(f"reading {source or PASTED}…")
        cert = self.query_one("#inspect-cert", Input).value.strip()
        self.read(source, pasted, cert)

    @work(thread=True, exclusive=True, group="saml-inspect", exit_on_error=False)
    def read(self, source: str, pasted: str | None, cert: str) -> None:
        """In a thread: decoding a HAR and checking a signature take a moment on big captures."""
        inspected = read_message(source, pasted, cert)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, inspected)

    def show_status(self, line: str, *, error: bool = False) -> None:
        status = self.query_one("#inspect-status", Static)
        status.update(Text(line))
        status.set_class(error, "error")

    def show(self, inspected: Inspected) -> None:
        self.last_error = inspected.error
        if inspected.loaded is None:
            # a failed read keeps the previous message loaded (and explained), as the status says
            kept = f" (still showing {self.loaded.source})" if self.loaded is not None else ""
            self.show_status((inspected.error or "") + kept, error=True)
            return
        self.inspected = inspected
        self._shown = None
        self.render_message()
        if isinstance(self.screen.focused, Input):  # typed a path and pressed Enter: on to the result
            self.query_one("#inspect-result").focus()

    def toggle_redact(self) -> None:
        self.redacted = not self.redacted
        self.render_message()

    def shown(self) -> LoadedMessage | None:
        if self.loaded is None or not self.redacted:
            return self.loaded
        if self._shown is None:
            self._shown = replace(self.loaded, response=redact(self.loaded.response))
        return self._shown

    def render_message(self) -> None:
        loaded, inspected = self.shown(), self.inspected
        if loaded is None or inspected is None:
            self.show_status(
                "nothing loaded yet: redaction applies to the next message" if self.redacted else ""
            )
            return
        now = self.clock()
        flag = (
            "  · REDACTED (R shows the values)"
            if self.redacted
            else "  · R redacts identities before you share"
        )
        self.show_status(f"{loaded.source}{flag}")
        self.query_one("#inspect-summary", Static).update(summary(loaded, inspected.checked, now))
        table = self.query_one("#inspect-attrs", DataTable)
        table.clear()
        a = loaded.response.assertion
        attributes = a.attributes if a is not None else ()
        for n, x in enumerate(attributes):
            friendly = x.friendly_name if x.friendly_name and x.friendly_name != x.name else ""
            values = ", ".join(report.visible(v) for v in x.values) if x.values else "(no values)"
            table.add_row(Text(x.name), Text(friendly), Text(values), key=str(n))
        self.query_one("#inspect-attrs-title", Label).update(f"Attributes ({len(attributes)})")
        self.query_one("#inspect-report-title", Label).update("Full report (as gtool saml inspect prints it)")
        self.query_one("#inspect-report", Static).update(Text(report.to_text(loaded, now, attributes=False)))
        self.query_one("#inspect-result").display = True
