"""The audit panel: every write gtool made (from the TUI or the CLI), newest first, from the JSONL log.

The log is `gtool.access.audit`'s: records are scrubbed when written, and this screen shows them as
they are, adding nothing about the connection. It is read again each time the panel is shown, so a
change made a moment ago in another panel (or another terminal) is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from gtool.access import audit
from gtool.access.audit import OUTCOMES, AuditEntry, AuditLog
from gtool.tui.errors import ReportsWorkerErrors
from gtool.tui.session import session_of
from gtool.tui.widgets.header import InstanceHeader

MAX_ROWS = 2000
"""Newest records in the table at most; the filter searches all of them."""

# What happened reads first: time, outcome, what and whom fit 80 columns; the rest scrolls in.
COLUMNS = (
    ("time", "Time (UTC)", 19),
    ("outcome", "Outcome", 9),
    ("action", "Action", 13),
    ("target", "Target", 30),
    ("change", "Before → after", 18),
    ("profile", "Profile", 10),
)

FIELDS = ("time", "profile", "actor", "action", "target", "outcome", "detail")
"""What `field:value` in the filter may name; a bare word searches all of them and before/after."""


def state(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def change_text(entry: AuditEntry) -> str:
    return f"{state(entry.before)} → {state(entry.after)}"


def time_text(stamp: str) -> str:
    """``2026-01-15T12:00:00.123Z`` → ``2026-01-15 12:00:00``: second precision reads better in a column."""
    return stamp.replace("T", " ")[:19]


def field_text(entry: AuditEntry, name: str) -> str:
    value = getattr(entry, name)
    return "" if value is None else str(value)


def matches(entry: AuditEntry, text: str) -> bool:
    """Every word must match: ``outcome:refused`` looks in that field, a bare word anywhere."""
    everything = " ".join([*(field_text(entry, f) for f in FIELDS), change_text(entry)]).lower()
    for word in text.lower().split():
        name, sep, value = word.partition(":")
        if sep and name in FIELDS:
            if value not in field_text(entry, name).lower():
                return False
        elif word not in everything:
            return False
    return True


def shown_path(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


class AuditRecordScreen(ModalScreen[None]):
    """One record, every field, as it is stored."""

    CSS_PATH = "audit.tcss"

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="audit-record.close"),
        Binding("q", "dismiss", "Close", show=False, id="audit-record.quit"),
        Binding("enter", "dismiss", "Close", show=False, id="audit-record.enter"),
    ]

    def __init__(self, entry: AuditEntry) -> None:
        super().__init__()
        self.entry = entry

    def compose(self) -> ComposeResult:
        record = audit.to_record(self.entry)  # the stored field order, as `gtool audit` prints it
        with Vertical(id="audit-record"):
            yield Static(Text(f"{self.entry.action} · {self.entry.target}", style="bold"), id="record-title")
            with VerticalScroll():
                yield Static(Text(json.dumps(record, indent=2, ensure_ascii=False, default=str)), id="record")
            yield Footer()


class AuditScreen(ReportsWorkerErrors, Screen[None]):
    """The audit log, newest first; `/` filters, Enter shows a whole record."""

    CSS_PATH = "audit.tcss"

    COMPONENT_CLASSES = {f"outcome--{o}" for o in OUTCOMES}

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="audit.filter"),
        Binding("escape", "focus_table", "Table", show=False, id="audit.table"),
        # priority: the table's own Enter would hide this one from the footer and the help
        Binding("enter", "open", "Record", priority=True, id="audit.open"),
        Binding("j", "cursor_down", "Down", show=False, id="audit.down"),
        Binding("k", "cursor_up", "Up", show=False, id="audit.up"),
        Binding("ctrl+r", "reload", "Reload", id="audit.reload"),
    ]

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.audit_log: AuditLog | None = None
        self.shown: list[AuditEntry] = []

    @property
    def path(self) -> Path:
        return session_of(self.app).audit_path or audit.default_path()

    def compose(self) -> ComposeResult:
        session = session_of(self.app)
        yield InstanceHeader(session.url, session.read_only)
        with Vertical(id="audit-body"):
            yield Input(
                placeholder="/ filter: words, or field:value — outcome:refused action:grant target:bob",
                id="audit-filter",
            )
            yield Static("reading…", id="audit-status")
            table: DataTable[str | Text] = DataTable(id="audit", cursor_type="row", zebra_stripes=True)
            for key, label, width in COLUMNS:
                table.add_column(label, key=key, width=width)
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(InstanceHeader).show(
            session_of(self.app).capabilities, lost=getattr(self.app, "lost", "")
        )
        self.query_one("#audit", DataTable).focus()

    def on_screen_resume(self) -> None:
        """Shown (first time or again): read the log, which other panels and processes append to."""
        self.load()

    @work(thread=True, exclusive=True, group="audit", exit_on_error=False)
    def load(self) -> None:
        log = audit.read(self.path)  # file I/O: off the UI thread
        self.app.call_from_thread(self.loaded, log)

    def loaded(self, log: AuditLog) -> None:
        self.audit_log = log
        self.show()

    def show(self) -> None:
        table = self.query_one("#audit", DataTable)
        if self.audit_log is None:
            return
        text = self.query_one("#audit-filter", Input).value
        hits = [e for e in reversed(self.audit_log.entries) if matches(e, text)]
        self.shown = hits[:MAX_ROWS]
        table.clear()
        for i, entry in enumerate(self.shown):
            table.add_row(*self.cells(entry), key=str(i))
        self.query_one("#audit-status", Static).update(self.status(hits, text))

    def cells(self, entry: AuditEntry) -> Sequence[str | Text]:
        outcome = Text(
            entry.outcome, style=self.get_component_rich_style(f"outcome--{entry.outcome}", partial=True)
        )
        return (
            time_text(entry.time),
            outcome,
            entry.action,
            entry.target,
            change_text(entry),
            entry.profile or "",
        )

    def status(self, hits: list[AuditEntry], text: str) -> str:
        assert self.audit_log is not None
        where = shown_path(self.audit_log.path)
        total = len(self.audit_log.entries)
        if not total:
            line = f"no change recorded yet · {where}"
        else:
            line = f"{total:,} record{'s' if total != 1 else ''}, newest first · {where}"
        if text.strip():
            line += f" · {len(hits):,} matching"
        if len(hits) > MAX_ROWS:
            line += f" · newest {MAX_ROWS:,} shown"
        if self.audit_log.problems:
            line += f" · {len(self.audit_log.problems)} unreadable line(s) skipped"
        return line

    # --- keys -----------------------------------------------------------------------------------------

    @on(Input.Changed, "#audit-filter")
    def filtered(self) -> None:
        self.show()

    def selected(self) -> AuditEntry | None:
        table = self.query_one("#audit", DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def action_open(self) -> None:
        if self.query_one("#audit-filter", Input).has_focus:
            self.action_focus_table()  # Enter in the filter: done filtering
            return
        entry = self.selected()
        if entry is not None:
            self.app.push_screen(AuditRecordScreen(entry))

    @on(DataTable.RowSelected, "#audit")
    def row_clicked(self) -> None:
        self.action_open()  # a click on the highlighted row; Enter goes through the binding

    def action_reload(self) -> None:
        self.load()

    def action_focus_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one("#audit", DataTable).focus()

    def action_cursor_down(self) -> None:
        self.query_one("#audit", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#audit", DataTable).action_cursor_up()

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Audit record", "Every field of the selected record (Enter)", self.action_open)
        yield SystemCommand("Reload audit log", "Read the log file again (ctrl+r)", self.action_reload)
