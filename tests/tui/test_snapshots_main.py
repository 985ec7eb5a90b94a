"""Snapshots (committed SVGs) of the users screen at 80×24 and 100×30, and of the orgs, org members,
matrix, audit, audit record, help and connect screens at 100×30.

The data is deterministic: the sandbox clock is frozen, its port is shown as a fixed one in the header,
audit records carry fixed times, and the profile and audit files live under a fixed-looking home.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from gtool import profiles
from gtool.access.audit import AuditEntry, Outcome, record
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import MakeApp, settle

SIZE = (100, 30)


@pytest.fixture(autouse=True)
def stable(monkeypatch: pytest.MonkeyPatch, stable_header: None, tmp_path: Path) -> None:
    """The sandbox listens on a random port and tmp dirs differ per run: show fixed ones instead."""
    monkeypatch.setenv("HOME", str(tmp_path))  # the audit panel shows its log as ~/audit.jsonl
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in profiles.ENV_OVERRIDES:
        monkeypatch.delenv(name, raising=False)


def keys(*pressed: str, pause: float = 0.3) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, pause)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot, 0.05)

    return run_before


def test_users_100x30(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any) -> None:
    assert snap_compare(make_app(tui_sandbox), terminal_size=SIZE, run_before=keys())


def test_users_80x24(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any) -> None:
    assert snap_compare(make_app(tui_sandbox), terminal_size=(80, 24), run_before=keys())


def test_orgs(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any) -> None:
    assert snap_compare(make_app(tui_sandbox), terminal_size=SIZE, run_before=keys("2"))


def test_org_members(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any) -> None:
    """Main Org.'s members: roles, SAML-synced members marked, a disabled LDAP user."""
    assert snap_compare(make_app(tui_sandbox), terminal_size=SIZE, run_before=keys("2", "enter"))


def test_matrix(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any) -> None:
    assert snap_compare(make_app(tui_sandbox), terminal_size=SIZE, run_before=keys("2", "m"))


def entry(
    at: str, action: str, target: str, outcome: Outcome, before: Any, after: Any, detail: str
) -> AuditEntry:
    return AuditEntry(
        action,
        target,
        outcome,
        profile="prod",
        url="https://grafana.example.com",
        actor="admin",
        before=before,
        after=after,
        detail=detail,
        time=f"2026-01-15T{at}Z",
    )


def fixed_audit_log(path: Path) -> None:
    """What a few TUI and CLI changes write, at fixed times: one of each outcome."""
    for item in (
        entry("09:12:40.120", "change-role", "new.hire in org 1 'Main Org.'", "applied", "Viewer", "Editor",
              "changed"),
        entry("09:14:02.001", "change-role", "linus@example.com in org 1 'Main Org.'", "refused", "Editor",
              "Admin", "not sent: the role is synced from SAML"),
        entry("10:01:55.730", "grant", "jsmith in org 3 'Customer Success'", "already", "Viewer", "Viewer",
              "jsmith is already Viewer"),
        entry("11:30:00.000", "grafana-admin", "bob", "failed", False, True, "403 Permission denied"),
        entry("11:45:10.500", "revoke", "carol in org 4 'Partner Portal'", "ambiguous", "Viewer", None,
              "the connection broke after the request was sent"),
    ):  # fmt: skip
        record(item, path)


def test_audit(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any, tmp_path: Path) -> None:
    """Newest first, outcomes in their colours."""
    app = make_app(tui_sandbox)
    assert app.audit_path == tmp_path / "audit.jsonl"
    fixed_audit_log(app.audit_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=keys("4"))


def test_audit_record(
    tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any, tmp_path: Path
) -> None:
    app = make_app(tui_sandbox)
    fixed_audit_log(tmp_path / "audit.jsonl")
    assert snap_compare(app, terminal_size=SIZE, run_before=keys("4", "j", "enter"))


def test_help_over_users(tui_sandbox: RunningSandbox, make_app: MakeApp, snap_compare: Any) -> None:
    assert snap_compare(make_app(tui_sandbox), terminal_size=SIZE, run_before=keys("question_mark"))


def test_connect(make_app: MakeApp, snap_compare: Any) -> None:
    """A saved profile to pick, and a form mistake explained in place (nothing is sent)."""
    profiles.add(profiles.Profile("prod", "https://grafana.example.com", "token", "env:GRAFANA_PROD_TOKEN",
                                  read_only=True))  # fmt: skip

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#url", Input).value = "https://grafana.example.com"
        await pilot.click("#connect")
        await settle(pilot, 0.05)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
