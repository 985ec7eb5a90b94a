"""Help (`?`) lists the keys of the screen under it and of the app, as the bindings define them."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Static

from gtool.access.query import FACETS
from gtool.tui.screens.help import HelpScreen
from gtool.tui.screens.orgs import OrgsScreen
from gtool.tui.screens.users import UsersScreen
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import MakeApp, settle

pytestmark = pytest.mark.anyio

QUICK = 0.05
"""Seconds `settle` pauses: no key in these tests goes through the search debounce."""


def lines(widget: Static) -> list[str]:
    """What `widget` shows, line by line, runs of spaces squeezed."""
    console = Console(width=80, record=True, color_system=None)
    console.print(widget.content)
    return [" ".join(line.split()) for line in console.export_text().splitlines() if line.strip()]


def shown(app: Any, selector: str) -> list[str]:
    return [line for widget in app.screen.query(selector).results(Static) for line in lines(widget)]


def sections(app: Any) -> dict[str, list[str]]:
    """Heading → its key lines (one heading per keys table, in order)."""
    headings = shown(app, ".help-heading")
    tables = [lines(w) for w in app.screen.query(".help-keys").results(Static)]
    return dict(zip(headings, tables, strict=False))


async def open_help(pilot: Any) -> None:
    await pilot.press("question_mark")
    await settle(pilot, QUICK)
    assert isinstance(pilot.app.screen, HelpScreen)


async def test_help_lists_the_keys_of_the_screen_below(
    tui_sandbox: RunningSandbox, make_app: MakeApp
) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        assert isinstance(app.screen, UsersScreen)
        await open_help(pilot)
        found = sections(app)
        here = " | ".join(found["This screen — Users"])
        assert "] Next page" in here and "[ Prev page" in here and "/ Search" in here
        assert "⏎ Open" in here  # the screen's Enter, not the focused table's "Select"
        everywhere = " | ".join(found["Everywhere"])
        assert "2 Orgs" in everywhere and "? Help" in everywhere
        await pilot.press("escape")
        await settle(pilot, QUICK)
        await pilot.press("2")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, OrgsScreen)
        await open_help(pilot)
        found = sections(app)
        here = " | ".join(found["This screen — Orgs"])
        assert "m User × org" in here and "⏎ Members" in here
        assert "Next page" not in here  # the users screen's keys went with it
        assert "2 Orgs" in " | ".join(found["Everywhere"])


async def test_a_remapped_key_is_shown_as_remapped(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        app.set_keymap({"users.next": "n"})
        await open_help(pilot)
        here = " | ".join(sections(app)["This screen — Users"])
        assert "n Next page" in here and "] Next page" not in here


async def test_query_syntax_and_read_only_sections(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        await open_help(pilot)
        syntax = " ".join(shown(app, "#help-syntax"))
        for facet in FACETS:  # every facet the parser knows is documented where help reads it
            assert f"{facet}:" in syntax or f"{facet}>" in syntax, facet
        assert "READ-ONLY" in " ".join(shown(app, "#help-read-only"))


async def test_esc_q_and_question_mark_close_help(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        for key in ("escape", "q", "question_mark"):
            await open_help(pilot)
            await pilot.press(key)
            await settle(pilot, QUICK)
            assert isinstance(app.screen, UsersScreen), key  # closed, and q did not quit the app
        assert app.is_running


def test_docs_tui_keys_md_is_generated_and_current() -> None:
    from gtool.tui.keymap import markdown
    from tests.conftest import ROOT

    on_disk = (ROOT / "docs" / "tui-keys.md").read_text(encoding="utf-8")
    assert on_disk == markdown() + "\n", "docs/tui-keys.md is stale: run `make docs`"
