"""The Explain tab of the SAML tools: `gtool saml explain` on the Lint tab's config and the Inspect tab's
assertion: what the login grants, each decision with the config line it came from, and the findings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static
from textual.worker import get_current_worker

from gtool.access.drift import InstanceView, read_instance
from gtool.grafana.errors import GrafanaError, describe
from gtool.saml.explain import Explanation, assertion_attributes, explain, read_config
from gtool.saml.ini import IniReadError
from gtool.saml.inputs import InputError, LoadedMessage
from gtool.saml.keys import SAML
from gtool.saml.lint import LintOptions
from gtool.saml.mapping import ALL_ORGS, Decision, Org, Outcome, Team, org_key_text


@dataclass(frozen=True)
class Explained:
    """A simulated login, or what to do to get one."""

    explanation: Explanation | None
    error: str | None = None


def simulate_login(
    config: str,
    loaded: LoadedMessage,
    now: dt.datetime,
    orgs: list[Org] | None = None,
    teams: list[Team] | None = None,
) -> Explained:
    """`gtool saml explain --config CONFIG --assertion … --now NOW [--orgs] [--teams]`, with its errors as
    one line each."""
    opts = LintOptions(now=now, orgs=orgs, teams=teams)
    try:
        file, cfg = read_config(config, opts)
    except IniReadError as exc:
        return Explained(None, f"{exc.path}: {exc.message} ({exc.hint})")
    if file.section(SAML) is None and not cfg.saml_bool("enabled"):
        return Explained(
            None,
            f"{config} has no [auth.saml] section, so SAML is off and nobody logs in with it: "
            "give the grafana.ini that configures SAML in the Lint tab (press l)",
        )
    try:
        attributes = assertion_attributes(loaded)
    except InputError as exc:
        return Explained(None, f"{exc.message} ({exc.hint})")
    return Explained(explain(file, cfg, attributes, opts, loaded=loaded))


def _q(value: str | None) -> str:
    return "-" if value is None else f'"{value}"'


def org_label(outcome: Outcome, org: int | str) -> str:
    if org == ALL_ORGS:
        return "every org (*)"
    if isinstance(org, str):
        return f"org named {_q(org)}"
    name = outcome.org_names.get(org)
    return f"org {org} ({name})" if name else f"org {org}"


def _org_order(org: int | str) -> tuple[bool, bool, int, str]:
    """Org ids in order, then every org (*), then names not resolved to an id (as the CLI lists them)."""
    return isinstance(org, str), org == ALL_ORGS, org if isinstance(org, int) else 0, str(org)


def deciding(outcome: Outcome, what: str, result: str | None = None) -> Decision | None:
    """The last decision about ``what`` (with that result when given): the one that stands."""
    found = [d for d in outcome.decisions if d.what == what]
    final = [d for d in found if d.result == result] if result is not None else []
    chosen = final or found
    return chosen[-1] if chosen else None


def _grid() -> Table:
    """Rows of (label, text, config line): long texts wrap inside their column, under themselves."""
    grid = Table.grid(padding=(0, 2), expand=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_column(no_wrap=True, justify="right", style="bold")
    return grid


def _source(decision: Decision | None) -> str:
    return decision.source if decision is not None else ""


def _grants(o: Outcome) -> Table:
    """What the login sets (org roles, Grafana Admin, teams) with the config line that decided each."""
    grid = _grid()
    if not o.org_roles:
        grid.add_row("Org roles", Text("none", style="bold"), "")
    for org in sorted(o.org_roles, key=_org_order):
        role = o.org_roles[org]
        why = Text().append(f"{role:<6}", style="bold").append(f" {o.org_reasons.get(org, '')}")
        grid.add_row(org_label(o, org), why, _source(deciding(o, f"org {org_key_text(org)}", role)))
    admin = {True: "yes", False: "no", None: "not managed by SAML"}[o.grafana_admin]
    admin_decision = deciding(o, "Grafana Admin")
    because = f" — {admin_decision.because}" if admin_decision is not None else ""
    grid.add_row("Grafana Admin", Text().append(admin, style="bold").append(because), _source(admin_decision))
    for t in o.teams:
        team = (
            Text()
            .append(t.team.name, style="bold")
            .append(
                f" (id {t.team.id}, org {t.team.org_id}) via {', '.join(_q(g) for g in t.matched_groups)}",
                style="",
            )
        )
        grid.add_row("Team", team, _source(deciding(o, f"team {_q(t.team.name)}")))
    if not o.teams:
        sync = deciding(o, "team sync")
        because = f" — team sync {sync.result}: {sync.because}" if sync is not None else ""
        grid.add_row("Teams", Text().append("none", style="bold").append(because), _source(sync))
    grid.add_row("Groups", ", ".join(_q(g) for g in o.groups) or "(none)", "")
    return grid


def _why(o: Outcome) -> Table:
    grid = _grid()
    for n, d in enumerate(o.decisions, 1):
        step = Text(f"{d.what}: ").append(d.result, style="bold").append(f" — {d.because}")
        grid.add_row(f"{n:>2}.", step, d.source)
    return grid


def render(explanation: Explanation) -> Group:
    """The explain report: the grants first, each with the config line that decided it, then why."""
    o = explanation.outcome
    head = Text()
    head.append(f"SAML login of {o.login or o.email or '(no login)'}\n", style="bold")
    head.append(f"  login {_q(o.login)}   email {_q(o.email)}   name {_q(o.name)}\n")
    if o.login_allowed:
        head.append("  login allowed\n")
    else:
        head.append(f"  LOGIN DENIED: {o.login_denied_reason}\n", style="bold reverse")
    if o.role_sync == "applied":
        head.append("  role sync applied: roles are set at each login and locked in the Grafana UI\n")
    else:
        head.append("  role sync skipped (skip_org_role_sync): SAML does not change roles\n")
    parts: list[RenderableType] = [head, Text("What the login sets", style="bold"), _grants(o)]
    parts += [Text("\nWhy", style="bold"), _why(o)]
    if o.used_assumptions:
        text = Text().append(
            "\nAssumptions (gtool saml explain --assume NAME=VALUE changes them)\n", style="bold"
        )
        for name in o.used_assumptions:
            entry = o.assumptions.entry(name)
            text.append(f"  {name}={entry['value']}: {entry['description']}\n")
        parts.append(text)
    if explanation.findings:
        parts.append(
            Text(f"\nConfiguration and assertion findings ({len(explanation.findings)})", style="bold")
        )
        grid = _grid()
        for f in explanation.findings:
            finding = Text().append(f"{f.code} [{f.slug}]", style="bold").append(f" {f.message}")
            grid.add_row(f.severity, finding, f"{f.path}:{f.line}")
        parts.append(grid)
    return Group(*parts)


class ExplainPane(Vertical):
    """The simulated login of the loaded assertion with the linted config."""

    def __init__(self, clock: Callable[[], dt.datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._instance: tuple[InstanceView | None, str] | None = None
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Static("", id="explain-status", classes="status")
        with VerticalScroll(id="explain-result"):
            yield Static("", id="explain-body")

    def show_status(self, line: str, *, error: bool = False) -> None:
        status = self.query_one("#explain-status", Static)
        status.update(Text(line))
        status.set_class(error, "error")

    def start(self, config: str, loaded: LoadedMessage | None, inspect_error: str | None = None) -> None:
        """Explain, or say what is missing: the config comes from the Lint tab, the assertion from Inspect."""
        body = self.query_one("#explain-body", Static)
        missing = []
        if not config:
            missing.append("give a grafana.ini path in the Lint tab (press l)")
        if loaded is None:
            what = (
                f"the assertion could not be read ({inspect_error}): fix it in the Inspect tab (press i)"
                if inspect_error
                else "load a captured SAML response from a file, or paste it, in the Inspect tab (press i)"
            )
            missing.append(what)
        if missing:
            self.show_status("To explain a login, " + "; and ".join(missing) + ".", error=True)
            body.update("")
            return
        assert loaded is not None
        self.show_status(f"simulating the login of {loaded.source} with {config}…")
        self.simulate(config, loaded, self.clock())

    @work(thread=True, exclusive=True, group="saml-explain", exit_on_error=False)
    def simulate(self, config: str, loaded: LoadedMessage, now: dt.datetime) -> None:
        live, where = self.instance()
        orgs, teams = (live.orgs, live.teams) if live is not None else (None, None)
        explained = simulate_login(config, loaded, now, orgs, teams)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, explained, config, loaded.source, where)

    def instance(self) -> tuple[InstanceView | None, str]:
        """The connected Grafana's orgs and teams, so org names and team sync resolve as they would there
        (the CLI takes them as --orgs/--teams files). Runs in the worker's thread; read once per pane, as
        every org's teams and each team's groups are one request each."""
        if self._instance is None:
            self._instance = self._read_instance()
        return self._instance

    def _read_instance(self) -> tuple[InstanceView | None, str]:
        session = getattr(self.app, "session", None)
        if session is None or session.capabilities is None:
            return None, "without a Grafana connection: org names and team sync are not resolved"
        try:
            live = read_instance(session.sync_client())
        except GrafanaError as exc:
            return None, f"without this Grafana's orgs and teams ({describe(exc)})"
        teams = f"{len(live.teams)} synced teams" if live.teams is not None else "no teams"
        if live.note:
            teams += f" ({live.note})"
        return live, f"with the connected Grafana's {len(live.orgs)} orgs and {teams}"

    def show(self, explained: Explained, config: str, source: str, where: str = "") -> None:
        body = self.query_one("#explain-body", Static)
        if explained.explanation is None:
            self.show_status(explained.error or "", error=True)
            body.update("")
            return
        self.show_status(f"Simulated login of {source} under {config}" + (f", {where}" if where else ""))
        body.update(render(explained.explanation))
        self.query_one("#explain-result", VerticalScroll).scroll_home(animate=False)
