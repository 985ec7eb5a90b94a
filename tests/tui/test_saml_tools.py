"""Panel 3, the SAML tools, driven as a user drives it: press 3, type a path, Enter, move, Esc.

The screen needs no network, but it lives in the real app, which needs a session: the module's sandbox
gives it one. Paths are relative to the repository root (the tests run from there) and the screen's
clock is pinned, so what is compared and snapshotted is the same on every machine and every day.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console, RenderableType
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TextArea

from gtool.tui.app import GtoolApp
from gtool.tui.screens.saml_tools import SamlToolsScreen
from gtool.tui.widgets.saml_inspect import PASTE_DEBOUNCE
from tests.conftest import ROOT, Run
from tests.saml import saml_fixtures as fx
from tests.sandbox.conftest import RunningSandbox
from tests.tui.conftest import MakeApp, settle

NOW = "2026-01-15T12:00:00Z"  # the sandbox's frozen time; the sample assertions are dated later
OKTA = "samples/okta/grafana.ini"
OKTA_ADMIN = "samples/assertions/okta-admin.b64"
OKTA_HAR = "samples/assertions/okta-login.har"
BROKEN = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "samples" / "broken").glob("*.ini"))
SIZE = (100, 30)


@pytest.fixture(autouse=True)
def from_repo_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Relative sample paths, as a user in a checkout types them; the CLI runs with the same cwd."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(SamlToolsScreen, "FIXED_NOW", dt.datetime.fromisoformat(NOW))
    yield


@pytest.fixture
def app(make_app: MakeApp, tui_sandbox: RunningSandbox) -> GtoolApp:
    return make_app(tui_sandbox, saml_config=Path(OKTA))


def plain(renderable: Any) -> str:
    """What a widget's content shows, as text (tables and groups included)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def shown(screen: SamlToolsScreen, selector: str) -> str:
    content: RenderableType = screen.query_one(selector, Static).content  # type: ignore[assignment]
    return plain(content)


def column(screen: SamlToolsScreen, selector: str, key: str) -> list[str]:
    return [str(cell) for cell in screen.query_one(selector, DataTable).get_column(key)]


async def idle(pilot: Pilot[Any]) -> None:
    """Wait for the screen's workers and the refresh after them (no debounce to wait for here)."""
    await settle(pilot, pause=0.02)


async def open_saml(pilot: Pilot[Any]) -> SamlToolsScreen:
    """Start the app, wait for the users panel, press 3, wait for the lint of the configured file."""
    await settle(pilot)
    await pilot.press("3")
    await idle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SamlToolsScreen)
    return screen


async def paste(pilot: Pilot[Any], text: str) -> None:
    """Paste as a terminal does: the driver posts one bracketed-paste event to the app, which hands it to
    the focused widget."""
    pilot.app.post_message(events.Paste(text))
    await pilot.pause()


async def type_into(pilot: Pilot[Any], selector: str, text: str, *, typed: bool = False) -> None:
    """Click a field, clear it (Home, then ctrl+k), type or paste the text, Enter."""
    await pilot.click(selector)
    await pilot.press("home", "ctrl+k")
    if typed:
        await pilot.press(*text)
    else:
        await paste(pilot, text)
    await pilot.press("enter")
    await idle(pilot)


# --- Lint --------------------------------------------------------------------------------------------


def expected_codes(path: str) -> set[str]:
    line = next(ln for ln in (ROOT / path).read_text().splitlines() if ln.startswith("; expect:"))
    return {c.strip() for c in line.removeprefix("; expect:").split(",")}


@pytest.mark.anyio
async def test_lint_shows_each_broken_samples_expected_codes_as_the_cli_does_and_bad_paths_in_place(
    app: GtoolApp, gtool: Run, tmp_path: Path
) -> None:
    cli = json.loads(
        gtool("saml", "lint", "--format", "json", "--now", NOW, "samples/broken", cwd=ROOT).stdout
    )
    by_file = {Path(f["path"]).name: sorted(d["code"] for d in f["diagnostics"]) for f in cli["files"]}
    assert len(by_file) == len(BROKEN)
    binary = tmp_path / "grafana.ini"
    binary.write_bytes(b"[auth.saml]\x00\x01\x02")
    bad = ("samples/no-such.ini", "samples/certs", str(binary))  # missing, a directory without *.ini, binary
    errors = {path: gtool("saml", "lint", path, cwd=ROOT) for path in bad}
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_saml(pilot)
        assert column(screen, "#lint-table", "code") == ["ORG-011"] * 3  # the configured Okta file
        await type_into(pilot, "#lint-path", "samples/broken")  # a directory: every *.ini below it
        shown_codes: dict[str, list[str]] = {}
        for where, code in zip(
            column(screen, "#lint-table", "line"), column(screen, "#lint-table", "code"), strict=True
        ):
            shown_codes.setdefault(where.rsplit(":", 1)[0], []).append(code)
        for path in BROKEN:
            name = Path(path).name
            assert expected_codes(path) <= set(shown_codes[name]), path
            assert sorted(shown_codes[name]) == by_file[name], path
        assert f"in {len(BROKEN)} files" in shown(screen, "#lint-status")
        for path, run in errors.items():
            assert run.returncode == 2
            await type_into(pilot, "#lint-path", path)
            assert shown(screen, "#lint-status").strip() == run.stderr.splitlines()[0].removeprefix("gtool: ")
            assert screen.query_one("#lint-status").has_class("error")
            assert screen.query_one("#lint-table", DataTable).row_count == 0
        assert pilot.app.is_running


@pytest.mark.anyio
async def test_enter_on_a_finding_shows_its_source_line_hint_and_rule_doc_and_esc_closes_it(
    app: GtoolApp, tmp_path: Path
) -> None:
    secrets = tmp_path / "grafana.ini"
    secrets.write_text(
        "[security]\nadmin_password = hunter2-admin\n\n[auth.saml]\nenabled = true\n"
        "client_secret = s3cr3t-value\nenabeld = true\n"
    )
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_saml(pilot)
        await type_into(pilot, "#lint-path", "samples/broken/quoted-group-list.ini", typed=True)
        assert column(screen, "#lint-table", "code") == ["INI-004", "INI-012"]
        assert isinstance(screen.focused, DataTable)
        await pilot.press("j", "enter")
        await idle(pilot)
        assert screen.query_one("#lint-detail").display
        detail = shown(screen, "#lint-detail-body")
        assert '> 33 │ role_values_admin = "Grafana Admins"' in detail
        assert "  30 │ " in detail and "  29 │" not in detail  # 3 lines above; the file ends 2 below
        assert "  34 │ role_values_editor = SRE-OnCall" in detail and "  35 │" in detail
        assert 'hint: use a JSON list: role_values_admin = ["Grafana Admins"]' in detail
        assert "INI-012 [quoted-list-value] (default severity: warning)" in detail
        assert "## What it does" in detail
        await pilot.press("k")  # the detail follows the cursor
        await idle(pilot)
        assert "> 32 │ role_values_editor = Grafana-Editors" in shown(screen, "#lint-detail-body")
        await pilot.press("escape")
        await idle(pilot)
        assert not screen.query_one("#lint-detail").display
        assert isinstance(screen.focused, DataTable) and screen.focused.id == "lint-table"

        await type_into(pilot, "#lint-path", str(secrets))
        await pilot.press("enter")  # the first finding, on [auth.saml] at line 4: both secrets are near
        await idle(pilot)
        detail = shown(screen, "#lint-detail-body")
        assert "admin_password = <redacted, 13 characters>" in detail
        assert "client_secret = <redacted, 12 characters>" in detail
        assert "hunter2" not in detail and "s3cr3t" not in detail


# --- Inspect -----------------------------------------------------------------------------------------

ATTRIBUTES = ["email", "firstName", "lastName", "organization", "groups"]


async def inspect(pilot: Pilot[Any], path: str) -> SamlToolsScreen:
    screen = await open_saml(pilot)
    await pilot.press("i")
    await type_into(pilot, "#inspect-path", path)
    return screen


def check_okta_admin(screen: SamlToolsScreen) -> None:
    assert column(screen, "#inspect-attrs", "name") == ATTRIBUTES
    groups = column(screen, "#inspect-attrs", "values")[-1]
    assert groups == '"Everyone", "Grafana Admins", "SRE On-Call"'
    summary = shown(screen, "#inspect-summary")
    assert "Issuer      http://www.okta.com/exk1demo0000000000" in summary
    assert "Subject     jane.doe@example.com  (NameID format: emailAddress)" in summary
    assert "Audience    https://grafana.example.com/saml/metadata" in summary
    assert "(not yet valid)" in summary  # judged at the pinned time, before the sample's NotBefore
    assert "not signed" in summary


@pytest.mark.anyio
async def test_inspect_a_file_a_har_and_a_paste_and_redact_hides_the_email(app: GtoolApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await inspect(pilot, OKTA_ADMIN)
        check_okta_admin(screen)

        def visible() -> str:
            table = " ".join(column(screen, "#inspect-attrs", "values"))
            return table + shown(screen, "#inspect-summary") + shown(screen, "#inspect-report")

        assert "jane.doe@example.com" in visible()
        await pilot.press("R")
        await idle(pilot)
        assert "jane.doe@example.com" not in visible()
        assert "Grafana Admins" not in visible()
        assert "REDACTED" in shown(screen, "#inspect-status")
        await pilot.press("R")
        await idle(pilot)
        assert "jane.doe@example.com" in visible()

        await type_into(pilot, "#inspect-path", OKTA_HAR)
        check_okta_admin(screen)
        assert "(message 2 of 2)" in shown(screen, "#inspect-summary")  # the response, not the request

        await pilot.click("#inspect-path")
        await pilot.press("home", "ctrl+k")
        await pilot.click("#inspect-paste")
        assert isinstance(screen.focused, TextArea)
        await paste(pilot, (ROOT / "samples/assertions/entra-editor.xml").read_text())
        await settle(pilot, pause=PASTE_DEBOUNCE + 0.2)
        assert "Read        pasted text" in shown(screen, "#inspect-summary")
        assert any(name.endswith("/groups") for name in column(screen, "#inspect-attrs", "name"))


@pytest.mark.anyio
async def test_the_idp_certificate_verifies_the_signature_or_says_why_not(
    app: GtoolApp, tmp_path: Path
) -> None:
    idp, other = fx.keypair("idp"), fx.keypair("impostor")
    now = dt.datetime.now(dt.UTC)  # signxml checks the certificate against the real clock
    (tmp_path / "signed.xml").write_bytes(fx.sign(fx.response_xml(now=now), idp))
    (tmp_path / "idp.pem").write_bytes(idp.cert_pem)
    (tmp_path / "other.pem").write_bytes(other.cert_pem)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_saml(pilot)
        await pilot.press("i")
        await type_into(pilot, "#inspect-cert", str(tmp_path / "idp.pem"))
        await type_into(pilot, "#inspect-path", str(tmp_path / "signed.xml"))
        assert "Signature   verified with the given certificate" in shown(screen, "#inspect-summary")
        await type_into(pilot, "#inspect-cert", str(tmp_path / "other.pem"))
        summary = shown(screen, "#inspect-summary")
        assert re.search(r"Signature   NOT verified: \S", summary), summary
        await type_into(pilot, "#inspect-cert", "samples/idp/okta-metadata.xml")  # metadata works too
        await type_into(pilot, "#inspect-path", OKTA_ADMIN)
        summary = shown(screen, "#inspect-summary")
        assert "NOT verified" in summary and "it is not signed" in summary


# --- Explain -----------------------------------------------------------------------------------------


def live_orgs_and_teams(sandbox: RunningSandbox, tmp_path: Path) -> tuple[str, str]:
    """The sandbox's orgs and teams (with external groups) in `gtool saml explain --orgs/--teams` JSON."""
    auth = (sandbox.user, sandbox.password)
    orgs = httpx.get(f"{sandbox.url}/api/orgs", auth=auth, timeout=10).json()
    teams = []
    for org in orgs:
        headers = {"X-Grafana-Org-Id": str(org["id"])}
        found = httpx.get(f"{sandbox.url}/api/teams/search", auth=auth, headers=headers, timeout=10).json()
        for t in found["teams"]:
            groups = httpx.get(
                f"{sandbox.url}/api/teams/{t['id']}/groups", auth=auth, headers=headers, timeout=10
            )
            ids = [g["groupId"] for g in groups.json()]
            teams.append({"id": t["id"], "name": t["name"], "orgId": org["id"], "externalGroups": ids})
    (tmp_path / "orgs.json").write_text(json.dumps([{"id": o["id"], "name": o["name"]} for o in orgs]))
    (tmp_path / "teams.json").write_text(json.dumps(teams))
    return str(tmp_path / "orgs.json"), str(tmp_path / "teams.json")


@pytest.mark.anyio
async def test_explain_says_what_is_missing_then_shows_the_org_roles_the_cli_explains(
    app: GtoolApp, gtool: Run, tmp_path: Path, tui_sandbox: RunningSandbox
) -> None:
    # the app explains with the connected Grafana's orgs and teams: give the CLI the same, as files
    orgs_file, teams_file = live_orgs_and_teams(tui_sandbox, tmp_path)
    args = ("saml", "explain", "--config", OKTA, "--assertion", OKTA_ADMIN, "--now", NOW, "--format", "json")
    cli = json.loads(gtool(*args, "--orgs", orgs_file, "--teams", teams_file, cwd=ROOT).stdout)
    assert cli["org_roles"] == {"1": "Admin"}  # what the sample is for: a check of the comparison itself
    assert cli["teams"], "the seed's teams sync from the sample's groups: a check of the comparison itself"
    no_saml = tmp_path / "grafana.ini"
    no_saml.write_text("[server]\nhttp_port = 3000\n")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_saml(pilot)
        await pilot.press("e")
        await idle(pilot)
        assert "load a captured SAML response" in shown(screen, "#explain-status")
        await pilot.press("i")
        await type_into(pilot, "#inspect-path", OKTA)  # a grafana.ini is not a SAML message
        await pilot.press("escape", "e")  # Esc leaves the field, where e would be typed
        await idle(pilot)
        assert f"the assertion could not be read ({OKTA}: no SAML message found" in shown(
            screen, "#explain-status"
        )

        await pilot.press("i")
        await type_into(pilot, "#inspect-path", OKTA_ADMIN)
        await pilot.press("e")
        await idle(pilot)
        report = shown(screen, "#explain-body")
        for org, role in cli["org_roles"].items():
            assert re.search(rf"^org {org} \([^)]+\)\s+{role}\s.*{OKTA}:\d+\s*$", report, re.M), report
        admin = {True: "yes", False: "no", None: "not managed by SAML"}[cli["grafana_admin"]]
        assert re.search(rf"^Grafana Admin\s+{admin} — .*{OKTA}:75\s*$", report, re.M)
        for team in cli["teams"]:  # the same teams, matched on the same groups
            groups = ", ".join(f'"{g}"' for g in team["matchedGroups"])
            where = rf"\(id {team['id']}, org {team['orgId']}\)"
            line = rf"^Team\s+{re.escape(team['name'])} {where} via {re.escape(groups)}"
            assert re.search(line, report, re.M), report
        assert "with the connected Grafana's 4 orgs and" in shown(screen, "#explain-status")
        for n, d in enumerate(cli["decisions"], 1):  # every step, with the config line it came from
            step = rf"^{n:>2}\.\s+{re.escape(d['what'])}: .*{re.escape(d['source'])}\s*$"
            assert re.search(step, report, re.M), d
        for d in cli["diagnostics"]:
            assert f"{d['code']} [{d['slug']}]" in report

        await pilot.press("l")
        await type_into(pilot, "#lint-path", str(no_saml))
        await pilot.press("escape", "e")
        await idle(pilot)
        assert "has no [auth.saml] section" in shown(screen, "#explain-status")
        assert shown(screen, "#explain-body").strip() == ""


# --- Snapshots ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("stable_header")
def test_snapshot_lint_with_a_finding_open(app: GtoolApp, snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_saml(pilot)
        await type_into(pilot, "#lint-path", "samples/broken/quoted-group-list.ini")
        await pilot.press("down", "enter")
        await idle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.usefixtures("stable_header")
def test_snapshot_inspect(app: GtoolApp, snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await inspect(pilot, OKTA_ADMIN)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.usefixtures("stable_header")
def test_snapshot_explain(app: GtoolApp, snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await inspect(pilot, OKTA_ADMIN)
        await pilot.press("e")
        await idle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_a_lint_excerpt_masks_passwords_inside_urls_and_connection_strings() -> None:
    from gtool.tui.widgets.saml_lint import mask_secrets

    lines = [
        "[database]",
        "url = mysql://grafana:S3cret-db@db:3306/grafana",
        "[remote_cache]",
        "connstr = addr=127.0.0.1:6379,db=0,password=R3dis-pw,ssl=false",
        "[auth.saml]",
        "certificate_path = /etc/grafana/sp.crt",
    ]
    shown = "\n".join(mask_secrets(lines, "grafana.ini"))
    assert "S3cret-db" not in shown and "R3dis-pw" not in shown
    assert "mysql://grafana:<redacted>@db:3306/grafana" in shown and "ssl=false" in shown
    assert "certificate_path = /etc/grafana/sp.crt" in shown  # where a secret is, is not a secret
