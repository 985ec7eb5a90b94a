"""Help (`?`): the keys of the screen underneath and of the whole app, read from the live bindings.

Nothing here lists a key by hand: the rows come from the bindings Textual would act on for the screen
below (`Screen.active_bindings`, so remapped keys and keys a screen hides with `check_action` are shown
as they are), and the `/` syntax table from `gtool.access.query`'s docstring.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from gtool.access import query


@dataclass(frozen=True)
class KeyHelp:
    keys: str
    description: str
    enabled: bool = True


def screen_title(screen: Screen[Any]) -> str:
    """``OrgMembersScreen`` → ``Org members``."""
    name = type(screen).__name__.removesuffix("Screen") or type(screen).__name__
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", name)
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else name


def _winner(screen: Screen[Any], key: str, active: ActiveBinding) -> ActiveBinding:
    """The binding to describe for `key`.

    A focused table binds Enter itself and reports it to the screen, which opens the row: the screen's
    own binding for the key says what happens, so it is shown rather than the table's "Select".
    """
    if active.node is screen or active.node is screen.app:
        return active
    own = [b for b in screen._bindings.key_to_bindings.get(key, []) if b.description]
    return ActiveBinding(screen, own[0], active.enabled, own[0].tooltip) if own else active


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[KeyHelp, ...]


GENERIC_ACTIONS = frozenset(b.action for b in Screen.BINDINGS if isinstance(b, Binding))
"""What every Textual screen binds (focus next, copy): listed after the screen's own keys."""


def key_sections(screen: Screen[Any], app: App[Any]) -> list[Section]:
    """The bindings active on `screen`: its own, the focused widget's, the app's; one row per action."""
    groups: dict[tuple[int, str], tuple[DOMNode, list[Binding], bool]] = {}
    for key, active in screen.active_bindings.items():
        chosen = _winner(screen, key, active)
        binding = chosen.binding
        if binding.system or not binding.description:
            continue
        slot = (id(chosen.node), binding.action)
        node, bindings, enabled = groups.get(slot, (chosen.node, [], chosen.enabled))
        groups[slot] = (node, [*bindings, binding], enabled)
    own: list[KeyHelp] = []
    generic: list[KeyHelp] = []
    widgets: dict[str, list[KeyHelp]] = {}
    everywhere: list[KeyHelp] = []
    for node, bindings, enabled in groups.values():
        keys = " ".join(dict.fromkeys(app.get_key_display(b) for b in bindings))
        row = KeyHelp(keys, bindings[0].description, enabled)
        if node is app:
            everywhere.append(row)
        elif node is screen:
            (generic if bindings[0].action in GENERIC_ACTIONS else own).append(row)
        else:
            widgets.setdefault(widget_title(node), []).append(row)
    sections = [Section(f"This screen — {screen_title(screen)}", (*own, *generic))]
    sections += [Section(f"In the focused {name}", tuple(rows)) for name, rows in widgets.items()]
    sections.append(Section("Everywhere", tuple(everywhere)))
    return sections


def widget_title(node: DOMNode) -> str:
    """``DataTable`` → ``data table``."""
    return " ".join(w.lower() for w in re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", type(node).__name__))


def query_syntax(doc: str | None = query.__doc__) -> tuple[str, list[tuple[str, str]]]:
    """The example and the facet table of `gtool.access.query`'s docstring."""
    text = doc or ""
    example = re.search(r"``([^`]+)``", text)
    rows: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        # a cell border has a space on one side at least: ``synced:yes|no`` keeps its own bar
        cells = [c.strip() for c in re.split(r"\s\||\|\s", line.strip("|").strip())]
        if len(cells) == 2:
            rows.append((cells[0].replace("``", ""), cells[1].replace("``", "")))
    return (example.group(1) if example else ""), rows[1:]  # the first row is the header


def keys_table(rows: Sequence[KeyHelp], across: int = 2) -> Table:
    """Key and description pairs, `across` pairs to a line (read left to right)."""
    table = Table.grid(padding=(0, 1))
    for _ in range(across):
        table.add_column(justify="right", min_width=6, style="bold")
        table.add_column(min_width=24)
    for start in range(0, len(rows), across):
        cells: list[Text] = []
        for row in rows[start : start + across]:
            style = "" if row.enabled else "dim"
            cells += [Text(row.keys, style=style), Text(row.description, style=style)]
        table.add_row(*cells)
    return table


def syntax_table(rows: Iterable[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(min_width=8, style="bold")
    table.add_column()
    for facet, meaning in rows:
        table.add_row(Text(facet), Text(meaning))
    return table


class HelpScreen(ModalScreen[None]):
    """Keys of the screen below and of the app, the `/` syntax, and what read-only means."""

    CSS_PATH = "help.tcss"

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("q", "dismiss", "Close", show=False, id="help.quit"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help.toggle"),
    ]

    def under(self) -> Screen[Any] | None:
        stack = self.app.screen_stack
        below = [s for s in stack if s is not self]
        return below[-1] if below else None

    def compose(self) -> ComposeResult:
        under = self.under()
        title = screen_title(under) if under is not None else "gtool"
        sections = key_sections(under, self.app) if under is not None else []
        example, facets = query_syntax()
        closes = ", ".join(
            self.app.get_key_display(b)
            for bindings in self._bindings.key_to_bindings.values()
            for b in bindings
            if b.action == "dismiss"
        )
        with Vertical(id="help"):
            yield Static(Text.assemble(("Help", "bold"), f" · {title}   ({closes}: close)"), id="help-title")
            with VerticalScroll(id="help-body"):
                for section in sections:
                    yield Static(Text(section.title, style="bold"), classes="help-heading")
                    yield Static(keys_table(section.rows), classes="help-keys")
                yield Static(Text("Search syntax ( / )", style="bold"), classes="help-heading")
                yield Static(Text(f"e.g. {example}") if example else "", id="help-example")
                yield Static(syntax_table(facets), id="help-syntax")
                yield Static(Text("Read-only mode", style="bold"), classes="help-heading")
                yield Static(self.read_only_text(), id="help-read-only")

    def read_only_text(self) -> Text:
        session = getattr(self.app, "session", None)
        now = (
            "This session is READ-ONLY: every change is hidden and refused."
            if session is not None and session.read_only
            else "This session can make changes; each is shown as before → after and sent only on y."
        )
        return Text(
            f"{now}\nStart with --read-only, or set read_only = true in the profile, to browse without any "
            "way to change Grafana."
        )
