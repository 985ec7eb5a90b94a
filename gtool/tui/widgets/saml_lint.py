"""The Lint tab of the SAML tools: `gtool saml lint PATH` with the findings in a table, and for one finding
the lines around it, the hint and the rule's documentation (as `gtool saml rules CODE` shows it)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Static
from textual.worker import get_current_worker

from gtool.saml import ini
from gtool.saml.effective import SECRET_VALUE_KEYS
from gtool.saml.lint import Diagnostic, FileResult, LintOptions, RuleCrash, expand_paths, lint_file

CONTEXT = 3
"""Lines shown above and below a finding."""

MAX_SOURCE_BYTES = 4 * 1024 * 1024
"""A finding's file is read again for its excerpt; nothing Grafana reads as config is this large."""

SECRET_WORDS = ("password", "secret", "token", "api_key")
"""Grafana keys holding one of these are secrets wherever they are (`[security] admin_password`, `secret_key`,
`[auth.saml] client_secret`, `[database] password`); `private_key` is in `SECRET_VALUE_KEYS`."""

MAX_CELL = 160
"""Characters of a message in the table; the detail pane shows all of it."""


@dataclass
class LintRun:
    """One lint of a path (a file, or a directory of *.ini files) as the tab shows it."""

    path: str
    results: list[FileResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the CLI's one-line errors, without "gtool: "
    sources: dict[str, list[str] | str] = field(default_factory=dict)  # path -> lines, or why not shown
    docs: dict[str, str] = field(default_factory=dict)  # rule code -> documentation

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for r in self.results for d in r.diagnostics]

    def summary(self) -> str:
        counts = {"error": 0, "warning": 0, "info": 0}
        for d in self.diagnostics:
            counts[d.severity] += 1
        total = sum(counts.values())
        files = plural(len(self.results), "file")
        if total:
            parts = ", ".join(plural(counts[s], s) for s in ("error", "warning", "info"))
            return f"Found {plural(total, 'problem')} ({parts}) in {files}. Enter shows one."
        return f"All checks passed ({files})." if self.results else ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def read_lines(path: str) -> list[str] | str:
    """The lines of a file for an excerpt, or why it cannot be shown."""
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        return f"cannot show {path}: {exc.strerror or exc}"
    if len(data) > MAX_SOURCE_BYTES:
        return f"cannot show {path}: larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB"
    # go-ini counts lines at \n only, so splitlines() (which also splits at \f, \x1c, U+2028…) would
    # shift the excerpt away from the line the finding names.
    return [line.removesuffix("\r") for line in data.decode("utf-8", "replace").split("\n")]


def is_secret(key: str) -> bool:
    """A key whose value is a secret (a password, a client secret, an inline key), not where one is."""
    name = key.lower()
    if name.endswith(("_path", "_file", "_url")):
        return False
    return name in SECRET_VALUE_KEYS or any(word in name for word in SECRET_WORDS)


# A secret inside a value that is not itself secret: the password of a URL ([database] url =
# mysql://grafana:PW@db/grafana) and a key=value list ([remote_cache] connstr = addr=…,password=PW).
_URL_PASSWORD = re.compile(r"(://[^/@\s:]+:)[^@\s]+@")
_PAIR_SECRET = re.compile(r"(?i)\b((?:password|passwd|pwd|secret|token)=)[^,;&\s]+")


def _mask_embedded(text: str) -> str:
    return _PAIR_SECRET.sub(r"\1<redacted>", _URL_PASSWORD.sub(r"\1<redacted>@", text))


def mask_secrets(lines: list[str], path: str) -> list[str]:
    """The lines with every secret value replaced, as `gtool saml config` shows them: an excerpt may land on
    `client_secret`, `private_key` or `[security] admin_password` next to a finding, or on the password
    inside a `[database] url` or a `[remote_cache] connstr`."""
    parsed = ini.parse_text("\n".join(lines), path)
    out = list(lines)
    for section in parsed.sections.values():
        for key in section.occurrences:
            if not key.raw.strip():
                continue
            first, at = key.line - 1, key.value_column - 1
            if not is_secret(key.name):
                out[first] = out[first][:at] + _mask_embedded(out[first][at:])
                continue
            out[first] = out[first][:at] + f"<redacted, {len(key.value)} characters>"
            for n in range(key.line, min(key.end_line, len(out))):  # the rest of a multi-line value
                out[n] = "<redacted>"
    return out


def rule_doc(code: str) -> str:
    from gtool.saml.lint import docs
    from gtool.saml.lint.registry import get_rule

    found = get_rule(code)
    return docs.text(found).rstrip("\n") if found is not None else f"no documentation for {code}"


def run_lint(path: str, now: dt.datetime) -> LintRun:
    """What `gtool saml lint --now NOW PATH` finds, and what the detail pane needs to show each finding."""
    run = LintRun(path)
    files, errors = expand_paths([path])
    for file in files:
        try:
            result = lint_file(file, LintOptions(now=now))
        except RuleCrash as exc:
            run.errors.append(f"internal error: {exc} (please report this with the file that caused it)")
            continue
        if result.error is not None:
            errors.append(result.error)
        else:
            run.results.append(result)
    run.errors += [f"{e.path}: {e.message} ({e.hint})" for e in errors]
    for d in run.diagnostics:
        if d.path not in run.sources:
            lines = read_lines(d.path)
            run.sources[d.path] = mask_secrets(lines, d.path) if isinstance(lines, list) else lines
        if d.code not in run.docs:
            run.docs[d.code] = rule_doc(d.code)
    return run


def excerpt(lines: list[str], line: int, column: int, context: int = CONTEXT) -> Text:
    """Numbered lines around ``line`` (1-based), that line highlighted and a caret under ``column``."""
    out = Text()
    first, last = max(1, line - context), min(len(lines), line + context)
    width = len(str(last))
    for n in range(first, last + 1):
        source = lines[n - 1].expandtabs(4)
        if n == line:
            out.append(f"> {n:>{width}} │ ", style="bold")
            out.append(source or " ", style="reverse")
            out.append("\n")
            if column > 1:
                prefix = lines[n - 1][: column - 1].expandtabs(4)
                out.append(f"  {'':>{width}} │ {' ' * len(prefix)}^\n", style="bold")
        else:
            out.append(f"  {n:>{width}} │ {source}\n", style="dim")
    if not lines or line > len(lines):
        out.append(f"(line {line} is not in the file any more: was it changed since the lint?)\n")
    return out


def detail(d: Diagnostic, run: LintRun) -> Group:
    """Everything about one finding: where, what, the source around it, the hint and the rule's doc."""
    head = Text()
    head.append(f"{d.path}:{d.line}:{d.column}", style="bold")
    head.append(f"  {d.code} [{d.slug}]  {d.severity}\n", style="bold")
    head.append(f"{d.message}\n")
    source = run.sources.get(d.path, "")
    if isinstance(source, str):
        lines = Text(source)
    else:
        # cut, not wrapped: a wrapped source line would look like two lines of the file
        lines = excerpt(source, d.line, d.column)
        lines.no_wrap, lines.overflow = True, "ellipsis"
    tail = Text().append("hint: ", style="bold").append(f"{d.hint}\n\n")
    tail.append(f"──────── rule documentation (gtool saml rules {d.code})\n", style="dim")
    tail.append(run.docs.get(d.code, ""))
    return Group(head, lines, tail)


def clip(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LintPane(Vertical):
    """Path + Lint, the findings table, and a detail pane that Enter opens and Esc closes."""

    def __init__(self, clock: Callable[[], dt.datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.lint_run: LintRun | None = None
        self.rows: dict[str, Diagnostic] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="bar"):
            yield Label("Config", classes="bar-label")
            yield Input(
                placeholder="grafana.ini, or a directory of *.ini files", id="lint-path", compact=True
            )
            yield Button("Lint", id="lint-run", compact=True)
        yield Static("Enter a grafana.ini path and press Enter.", id="lint-status", classes="status")
        table: DataTable[str | Text] = DataTable(id="lint-table", cursor_type="row", zebra_stripes=True)
        table.add_column("Severity", key="severity")
        table.add_column("Code", key="code")
        table.add_column("Slug", key="slug")
        table.add_column("Line", key="line")
        table.add_column("Message", key="message")
        yield table
        with VerticalScroll(id="lint-detail"):
            yield Static("", id="lint-detail-body")

    @property
    def path(self) -> str:
        return self.query_one("#lint-path", Input).value.strip()

    @path.setter
    def path(self, value: str) -> None:
        self.query_one("#lint-path", Input).value = value

    @property
    def detail_open(self) -> bool:
        return bool(self.query_one("#lint-detail").display)

    @on(Input.Submitted, "#lint-path")
    @on(Button.Pressed, "#lint-run")
    def submitted(self) -> None:
        self.start()

    def start(self) -> None:
        if not self.path:
            self.show_error("give the path of a grafana.ini file (or a directory of *.ini files)")
            return
        self.query_one("#lint-status", Static).update(Text(f"linting {self.path}…"))
        self.lint(self.path, self.clock())

    @work(thread=True, exclusive=True, group="saml-lint", exit_on_error=False)
    def lint(self, path: str, now: dt.datetime) -> None:
        """In a thread: rules read certificates and metadata files, which takes a while on big ones."""
        run = run_lint(path, now)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_run, run)

    def show_error(self, line: str) -> None:
        status = self.query_one("#lint-status", Static)
        status.update(Text(line))
        status.set_class(True, "error")

    def show_run(self, run: LintRun) -> None:
        self.lint_run = run
        self.close_detail()
        table = self.query_one("#lint-table", DataTable)
        table.clear()
        self.rows = {}
        several = len(run.results) > 1
        colours = self.app.get_css_variables()
        styles = {"error": f"bold {colours['error']}", "warning": colours["warning"], "info": ""}
        for n, d in enumerate(run.diagnostics):
            key = str(n)
            self.rows[key] = d
            where = f"{Path(d.path).name}:{d.line}" if several else str(d.line)
            table.add_row(
                Text(d.severity, style=styles[d.severity]),
                Text(d.code),
                Text(d.slug),
                Text(where),
                Text(clip(d.message)),
                key=key,
            )
        lines = [*run.errors, run.summary()]
        status = self.query_one("#lint-status", Static)
        status.update(Text("\n".join(line for line in lines if line)))
        status.set_class(bool(run.errors), "error")
        if self.rows:
            table.focus()

    def selected(self) -> Diagnostic | None:
        table = self.query_one("#lint-table", DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(key or "")

    @on(DataTable.RowSelected, "#lint-table")
    def open_detail(self) -> None:
        d = self.selected()
        if d is None or self.lint_run is None:
            return
        self.query_one("#lint-detail-body", Static).update(detail(d, self.lint_run))
        pane = self.query_one("#lint-detail", VerticalScroll)
        pane.display = True
        pane.scroll_home(animate=False)
        self.set_class(True, "-detail")

    @on(DataTable.RowHighlighted, "#lint-table")
    def follow(self) -> None:
        """With the detail open, moving through the findings shows each one."""
        if self.detail_open:
            self.open_detail()

    def close_detail(self) -> None:
        self.query_one("#lint-detail").display = False
        self.set_class(False, "-detail")
        if self.rows:
            self.query_one("#lint-table", DataTable).focus()
