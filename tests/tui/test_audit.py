"""The audit panel shows what real changes wrote to the log, newest first, and reads it again when shown.

The changes are made the way the TUI and the CLI make them (`gtool.access.roles` plan + apply on a
sync client against the sandbox process), into the app's own audit log. Each test changes its own user.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from gtool.access.roles import Result, apply, plan_role_change
from gtool.grafana.client import GrafanaClient
from gtool.profiles import Connection
from gtool.tui.app import GtoolApp
from gtool.tui.screens.audit import AuditRecordScreen, AuditScreen
from gtool.tui.screens.users import UsersScreen
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import MakeApp, connection, settle

pytestmark = pytest.mark.anyio

QUICK = 0.05
"""Seconds `settle` pauses: no key in these tests goes through the search debounce."""

ALICE = "alice-sandbox"  # alice's password: must never reach the screen


@pytest.fixture(scope="module")
def admin(tui_sandbox: RunningSandbox) -> Iterator[GrafanaClient]:
    conn = connection(tui_sandbox)
    with GrafanaClient(conn.url, **conn.client_kwargs()) as client:
        yield client


def change(conn: Connection, audit: Path, login: str, org: int, role: str) -> Result:
    """One role change as `gtool role set` makes it, audited into `audit`."""
    with GrafanaClient(conn.url, **conn.client_kwargs()) as client:
        return apply(client, plan_role_change(client, login, org, role), audit=audit, profile="sandbox")


def audit_path(app: GtoolApp) -> Path:
    assert app.audit_path is not None
    return app.audit_path


def rows(app: Any) -> list[dict[str, str]]:
    table = app.screen.query_one("#audit", DataTable)
    keys = [c.value for c in table.columns]
    return [dict(zip(keys, map(str, table.get_row_at(i)), strict=True)) for i in range(table.row_count)]


def status(app: Any) -> str:
    return str(app.screen.query_one("#audit-status", Static).render())


async def test_real_changes_newest_first(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    log = audit_path(app)
    applied = change(connection(tui_sandbox), log, "new.hire", 1, "Editor")
    refused = change(connection(tui_sandbox), log, "linus@example.com", 1, "Admin")  # SAML-synced: blocked
    assert (applied.outcome, refused.outcome) == ("applied", "refused")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        await pilot.press("4")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, AuditScreen)
        shown = rows(app)
        assert [(r["target"], r["outcome"]) for r in shown] == [
            (refused.plan.target, "refused"),
            (applied.plan.target, "applied"),
        ]
        assert shown[1]["change"] == "Viewer → Editor" and shown[1]["action"] == "change-role"
        assert shown[0]["profile"] == "sandbox"
        assert shown[0]["time"] >= shown[1]["time"]
        assert "2 records, newest first" in status(app)
        # the outcome's colour comes from the stylesheet: a refusal does not look like a success
        table = app.screen.query_one("#audit", DataTable)
        outcome = table.get_column_index("outcome")
        styles = {str(c): c.style for c in (table.get_cell_at(Coordinate(i, outcome)) for i in range(2))}
        assert styles["refused"] != styles["applied"]


async def test_shown_again_reads_the_log_again(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    log = audit_path(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        await pilot.press("4")
        await settle(pilot, QUICK)
        assert rows(app) == [] and "no change recorded yet" in status(app)
        await pilot.press("1")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, UsersScreen)
        change(connection(tui_sandbox), log, "wallboard", 1, "Editor")
        await pilot.press("4")
        await settle(pilot, QUICK)
        assert [(r["target"].split()[0], r["change"]) for r in rows(app)] == [
            ("wallboard", "Viewer → Editor")
        ]


async def test_enter_shows_the_whole_record_and_no_secret(
    tui_sandbox: RunningSandbox, make_app: MakeApp, admin: GrafanaClient
) -> None:
    app = make_app(tui_sandbox)
    log = audit_path(app)
    result = change(connection(tui_sandbox, "alice", ALICE), log, "bob", 1, "Viewer")  # bob: Editor in org 1
    assert result.outcome == "applied"
    assert {o.org_id: o.role for o in admin.user_orgs(admin.lookup_user("bob").id)}[1] == "Viewer"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        await pilot.press("4")
        await settle(pilot, QUICK)
        await pilot.press("enter")
        await settle(pilot, QUICK)
        modal = app.screen
        assert isinstance(modal, AuditRecordScreen)
        shown = json.loads(str(modal.query_one("#record", Static).content))
        stored = json.loads(log.read_text().splitlines()[-1])
        assert shown == stored  # every field, as written
        assert ALICE not in app.export_screenshot()
        await pilot.press("escape")
        await settle(pilot, QUICK)
        assert isinstance(app.screen, AuditScreen)


async def test_slash_filters_records(tui_sandbox: RunningSandbox, make_app: MakeApp) -> None:
    app = make_app(tui_sandbox)
    log = audit_path(app)
    change(connection(tui_sandbox), log, "jsmith", 3, "Editor")  # LDAP, not synced here: applied
    change(connection(tui_sandbox), log, "grace@example.com", 2, "Viewer")  # SAML-synced: refused
    change(connection(tui_sandbox), log, "jsmith", 3, "Editor")  # already Editor
    with log.open("a") as fh:
        fh.write("{not json\n")  # a damaged line is skipped and counted, never fatal
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, QUICK)
        await pilot.press("4")
        await settle(pilot, QUICK)
        assert [r["outcome"] for r in rows(app)] == ["already", "refused", "applied"]
        assert "1 unreadable line(s) skipped" in status(app)
        await pilot.press("slash", *"outcome:ref")
        await settle(pilot, QUICK)
        assert [r["target"].split()[0] for r in rows(app)] == ["grace@example.com"]
        await pilot.press("ctrl+u", *"jsmith")
        await settle(pilot, QUICK)
        assert [r["outcome"] for r in rows(app)] == ["already", "applied"]
        assert "2 matching" in status(app)
