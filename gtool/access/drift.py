"""SAML drift: what a user's next SAML login would change, compared with what Grafana holds now.

`read_drift` reads the user from Grafana (org roles, Grafana Admin flag and, for team sync, every team
with its external groups and the user's current team memberships), simulates the login with gtool's
simulator (`gtool.saml.mapping.simulate`, the real orgs so org names in ``org_mapping`` resolve, the real
teams so external groups match) and returns a `Drift`: a JSON-able ``record`` and the text ``lines()``
that ``gtool saml drift`` prints. It sends nothing.

Team sync acts as Grafana's does (saml-reference.md §4): the user joins every team one of whose external
groups they are in; a *synced* membership of a team that no longer matches is removed; a membership added
by hand is never removed by team sync. But org sync runs first, and removing a user from an org deletes
their team memberships there, hand-made ones included: those teams are listed as left too. Team sync is
an Enterprise feature: on Grafana OSS the groups API is missing and the teams are not compared.

A credential that cannot read users globally (a service account token, Grafana Cloud's only credential)
sees its own org only: the user is found among its members, the Grafana Admin flag stays unknown, and the
teams are that org's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from gtool.access.roles import resolve_user
from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import NotFound, PermissionDenied
from gtool.grafana.models import Org, Team, TeamMember
from gtool.saml.assertion import Attribute
from gtool.saml.mapping import Org as SyncOrg
from gtool.saml.mapping import Outcome, org_key_text, simulate
from gtool.saml.mapping import Team as SyncTeam
from gtool.saml.settings import GrafanaConfig
from gtool.saml.values import Version

T = TypeVar("T")
R = TypeVar("R")

TeamSync = Literal["compared", "off", "unavailable"]


# --- the user now --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The user as Grafana has them now, and the orgs this credential can see."""

    user_id: int
    login: str
    email: str
    roles: dict[int, str]  # org id -> role, in the orgs this credential sees
    grafana_admin: bool | None  # None: this credential cannot read the flag
    orgs: tuple[Org, ...]
    own_org_only: bool = False  # a token: memberships in other orgs are not visible


def read_subject(client: GrafanaClient, user: int | str) -> Subject:
    """`user` (login, email or id) with their org roles; `NotFound`/`ValueError` when there is none."""
    if client.capabilities().can_manage_users_globally:
        profile = resolve_user(client, user)
        roles = {m.org_id: m.role for m in client.user_orgs(profile.id)}
        orgs = tuple(client.iter_orgs())
        return Subject(profile.id, profile.login, profile.email, roles, profile.is_grafana_admin, orgs)
    org = client.current_org()
    member = client.find_org_user(None, user)
    if member is None:
        raise ValueError(f"no user {user!r} in org {org.id} {org.name!r}, the only org this credential sees")
    return Subject(member.user_id, member.login, member.email, {org.id: member.role}, None, (org,), True)


# --- teams now -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Membership:
    team: Team
    synced: bool  # added by a provider's team sync (Grafana labels it), not by hand


@dataclass(frozen=True)
class TeamView:
    """Teams with their external groups (what the simulator matches) and the user's memberships now."""

    available: bool  # False: this Grafana has no team sync (OSS: the groups API is missing)
    teams: tuple[Team, ...] = ()
    groups: dict[int, tuple[str, ...]] = field(default_factory=dict)  # team id -> external groups
    memberships: dict[int, Membership] = field(default_factory=dict)  # team id -> the user's membership
    note: str = ""  # orgs whose teams could not be read (see `_readable_orgs`)

    def sync_teams(self) -> list[SyncTeam]:
        """The teams team sync can act on, in the simulator's terms (those with external groups)."""
        return [
            SyncTeam(t.id, t.name, t.org_id, self.groups[t.id]) for t in self.teams if self.groups.get(t.id)
        ]


def _pool(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


@dataclass(frozen=True)
class InstanceView:
    """What a login simulation needs from the live Grafana, whoever logs in: its orgs (to resolve org
    names in ``org_mapping``) and its teams with external groups (team sync); None when not readable."""

    orgs: list[SyncOrg]
    teams: list[SyncTeam] | None  # None: no team sync here (OSS), or the credential may not read it
    note: str = ""  # why teams are missing


def read_instance(client: GrafanaClient, *, workers: int = 8) -> InstanceView:
    """The orgs this credential sees and their teams' external groups, for `gtool saml explain`'s
    ``--orgs``/``--teams`` taken from a running Grafana instead of JSON files."""
    if client.capabilities().can_list_all_orgs:
        orgs: tuple[Org, ...] = tuple(client.iter_orgs())
    else:
        orgs = (client.current_org(),)
    readable, note = _readable_orgs(client, orgs)
    teams = [t for org in readable for t in client.iter_teams(org_id=org.id)]
    sync_orgs = [SyncOrg(o.id, o.name) for o in orgs]
    try:
        groups = _pool(lambda t: client.team_groups(t.id, org_id=t.org_id), teams, workers)
    except NotFound:
        return InstanceView(sync_orgs, None, "this Grafana has no team sync (an Enterprise feature)")
    except PermissionDenied:
        return InstanceView(sync_orgs, None, "this credential may not read the teams' external groups")
    view = TeamView(
        True,
        tuple(teams),
        {t.id: tuple(g.group_id for g in found) for t, found in zip(teams, groups, strict=True)},
    )
    return InstanceView(sync_orgs, view.sync_teams(), note)


def _readable_orgs(client: GrafanaClient, orgs: Sequence[Org]) -> tuple[list[Org], str]:
    """The orgs whose teams this connection can read, and a note naming the others.

    Grafana answers team routes (``X-Grafana-Org-Id``) only in orgs the signed-in user belongs to; for any
    other org it lists no teams, without an error. A token is bound to its one org, which it can read.
    """
    caps = client.capabilities()
    if caps.is_service_account:
        return list(orgs), ""
    member = {m.org_id for m in caps.orgs}
    readable = [o for o in orgs if o.id in member]
    hidden = [str(o.id) for o in orgs if o.id not in member]
    if not hidden:
        return readable, ""
    return readable, f"teams of org {', '.join(hidden)} not read: this connection is not a member there"


def read_teams(client: GrafanaClient, subject: Subject, *, workers: int = 8) -> TeamView:
    """Every team of the subject's visible orgs, its external groups, and the subject's memberships."""
    orgs, note = _readable_orgs(client, subject.orgs)
    teams = [t for org in orgs for t in client.iter_teams(org_id=org.id)]
    try:
        groups = _pool(lambda t: client.team_groups(t.id, org_id=t.org_id), teams, workers)
    except NotFound:  # Grafana OSS: team sync (and its groups API) is an Enterprise feature
        return TeamView(False, tuple(teams))
    by_team = {t.id: tuple(g.group_id for g in found) for t, found in zip(teams, groups, strict=True)}
    member_of = _member_teams(client, subject, orgs, teams)
    rows = _pool(lambda t: _member_row(client, t, subject.user_id), member_of, workers)
    memberships = {
        t.id: Membership(t, bool(row.labels))
        for t, row in zip(member_of, rows, strict=True)
        if row is not None
    }
    return TeamView(True, tuple(teams), by_team, memberships, note)


def _member_teams(
    client: GrafanaClient, subject: Subject, orgs: Sequence[Org], teams: Sequence[Team]
) -> list[Team]:
    # One request per org of the user's where the credential may read a user's teams; a token may not
    # (403), and then every team's member list is read instead.
    theirs = [o for o in orgs if o.id in subject.roles]
    try:
        ids = {t.id for org in theirs for t in client.user_teams(subject.user_id, org_id=org.id)}
    except PermissionDenied:
        return list(teams)
    return [t for t in teams if t.id in ids]


def _member_row(client: GrafanaClient, team: Team, user_id: int) -> TeamMember | None:
    return next((m for m in client.team_members(team.id, org_id=team.org_id) if m.user_id == user_id), None)


@dataclass(frozen=True)
class TeamChange:
    team_id: int
    name: str
    org_id: int
    groups: tuple[str, ...] = ()  # the user's groups that match (join, stay)
    why: str = ""  # leave: "team sync" (a synced membership no group matches) or "org removed"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.team_id, "name": self.name, "orgId": self.org_id}
        return out | ({"why": self.why} if self.why else {"groups": list(self.groups)})


@dataclass(frozen=True)
class TeamDiff:
    """What team sync does at the next login: ``join``, ``leave`` (synced memberships only), ``stay``."""

    sync: TeamSync
    reason: str = ""
    join: tuple[TeamChange, ...] = ()
    leave: tuple[TeamChange, ...] = ()
    stay: tuple[TeamChange, ...] = ()
    kept: tuple[TeamChange, ...] = ()  # memberships added by hand that no group matches: never removed

    @property
    def changed(self) -> bool:
        return bool(self.join or self.leave)

    def to_json(self) -> dict[str, Any]:
        return {
            "sync": self.sync,
            "reason": self.reason,
            **{k: [c.to_json() for c in getattr(self, k)] for k in ("join", "leave", "stay", "kept")},
        }


def team_changes(outcome: Outcome, view: TeamView | None) -> TeamDiff:
    """The teams the next login changes: simulated matches (`outcome.teams`) against `view`.

    `view` is None when team sync is off in the configuration (``assertion_attribute_groups`` unset).
    """
    if view is None:
        return TeamDiff("off", "assertion_attribute_groups is not set: the login changes no team")
    if not view.available:
        return TeamDiff("unavailable", "this Grafana has no team sync (an Enterprise feature)")
    if not outcome.login_allowed:
        return TeamDiff("compared", "the login is denied: no team changes")
    matched = {m.team.id: m for m in outcome.teams}
    join: list[TeamChange] = []
    stay: list[TeamChange] = []
    for team_id, m in sorted(matched.items()):
        change = TeamChange(team_id, m.team.name, m.team.org_id, m.matched_groups)
        (stay if team_id in view.memberships else join).append(change)
    leave: list[TeamChange] = []
    kept: list[TeamChange] = []
    gone = _orgs_removed(outcome)
    for team_id, member in sorted(view.memberships.items()):
        team = member.team
        if team_id in matched:  # (in an org the login removes, team sync puts them straight back)
            continue
        if team.org_id in gone:  # org sync runs first; leaving the org takes its team memberships along
            leave.append(TeamChange(team_id, team.name, team.org_id, why="org removed"))
        elif member.synced:
            leave.append(TeamChange(team_id, team.name, team.org_id, why="team sync"))
        else:
            kept.append(TeamChange(team_id, team.name, team.org_id))
    return TeamDiff("compared", view.note, tuple(join), tuple(leave), tuple(stay), tuple(kept))


def _orgs_removed(outcome: Outcome) -> set[int]:
    sync = outcome.sync
    if outcome.role_sync != "applied" or sync is None or not sync.synced:
        return set()
    return {org for org in sync.removed if isinstance(org, int)}


# --- the comparison ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """The user now, the simulated login, and what changes: ``record`` (JSON) and ``lines()`` (text)."""

    subject: Subject
    outcome: Outcome
    teams: TeamDiff
    record: dict[str, Any]
    other_user: str | None = None  # the login/email the assertion names, when it is someone else

    @property
    def login(self) -> str:
        return self.subject.login

    def lines(self) -> list[str]:
        return drift_lines(self.record, {o.id: o.name for o in self.subject.orgs})


def _version(client: GrafanaClient) -> Version | None:
    text = client.capabilities().version
    try:
        return Version.parse(text) if text else None
    except ValueError:
        return None


def read_drift(
    client: GrafanaClient,
    user: int | str,
    config: GrafanaConfig,
    attributes: Sequence[Attribute],
    *,
    teams: bool = True,
) -> Drift:
    """Read `user` from Grafana and compare with the login `attributes` would make under `config`.

    `teams=False` skips team sync (no team reads). `NotFound` or `ValueError` when there is no such user.
    """
    subject = read_subject(client, user)
    view = read_teams(client, subject) if teams and config.saml("assertion_attribute_groups") else None
    outcome = simulate(
        config,
        attributes,
        orgs=[SyncOrg(o.id, o.name) for o in subject.orgs],
        teams=view.sync_teams() if view is not None and view.available else None,
        grafana_version=_version(client),
        user_exists=True,
        current_memberships=subject.roles,
    )
    diff = team_changes(outcome, view)
    said = {v.casefold() for v in (outcome.login, outcome.email) if v}
    other = None
    if said and not said & {subject.login.casefold(), subject.email.casefold()}:
        other = outcome.login or outcome.email
    return Drift(subject, outcome, diff, drift_record(subject, outcome, diff), other)


def drift_record(subject: Subject, outcome: Outcome, teams: TeamDiff) -> dict[str, Any]:
    """The ``--format json`` document: org changes, the Grafana Admin flag, team changes, ``changed``."""
    sync = outcome.sync
    admin_now, admin_next = subject.grafana_admin, outcome.grafana_admin
    admin_changes = (
        outcome.login_allowed and admin_next is not None and admin_now is not None and admin_next != admin_now
    )
    applies = outcome.login_allowed and outcome.role_sync == "applied" and sync is not None and sync.synced

    def keyed(m: Mapping[Any, Any]) -> dict[str, Any]:
        return {org_key_text(k): v for k, v in m.items()} if applies else {}

    org_changes = bool(applies and sync is not None and sync.changed)
    return {
        "user": subject.login,
        "login_allowed": outcome.login_allowed,
        "login_denied_reason": outcome.login_denied_reason,
        "role_sync": outcome.role_sync,
        "added": keyed(sync.added) if sync else {},
        "updated": {k: {"from": a, "to": b} for k, (a, b) in keyed(sync.updated).items()} if sync else {},
        "removed": keyed(sync.removed) if sync else {},
        "unchanged": keyed(sync.unchanged) if sync else {},
        "grafana_admin": {"from": admin_now, "to": admin_next if admin_next is not None else admin_now},
        "grafana_admin_changes": admin_changes,
        "teams": teams.to_json(),
        "notes": list(sync.notes) if sync and applies else [],
        "visible_orgs": [o.id for o in subject.orgs] if subject.own_org_only else None,
        "changed": org_changes or admin_changes or (outcome.login_allowed and teams.changed),
    }


def _yes_no(value: bool | None) -> str:
    return "yes" if value else "no"


def drift_lines(record: Mapping[str, Any], org_names: Mapping[int, str]) -> list[str]:
    """The text ``gtool saml drift`` prints for `record`: ``+`` added, ``~`` changed, ``-`` removed."""

    def label(key: str | int) -> str:
        key = str(key)
        name = org_names.get(int(key)) if key.isdigit() else None
        return f"org {key} {name!r}" if name else ("every org" if key == "*" else f"org {key}")

    who = record["user"]
    if not record["login_allowed"]:
        return [f"{who}: the next SAML login is denied ({record['login_denied_reason']}): nothing changes"]
    lines = [f"{who}: what the next SAML login changes"]
    if record["role_sync"] != "applied":
        lines.append("  org roles: not synced (skip_org_role_sync): the current roles stay")
    lines += [f"  + {label(k)}: added as {v}" for k, v in record["added"].items()]
    lines += [f"  ~ {label(k)}: {v['from']} -> {v['to']}" for k, v in record["updated"].items()]
    lines += [f"  - {label(k)}: removed (was {v})" for k, v in record["removed"].items()]
    lines += [f"  = {label(k)}: stays {v}" for k, v in record["unchanged"].items()]
    admin = record["grafana_admin"]
    if admin["from"] is None:
        lines.append("  ? Grafana Admin: this credential cannot read it")
    elif record["grafana_admin_changes"]:
        lines.append(f"  ~ Grafana Admin: {_yes_no(admin['from'])} -> {_yes_no(admin['to'])}")
    else:
        lines.append(f"  = Grafana Admin: stays {_yes_no(admin['from'])}")
    lines += _team_lines(record["teams"], label)
    lines += [f"  note: {n}" for n in record["notes"]]
    if record.get("visible_orgs"):
        seen = ", ".join(label(o) for o in record["visible_orgs"])
        lines.append(f"  note: this credential sees {seen} only: memberships elsewhere are not compared")
    lines.append("drift: the next login changes the above" if record["changed"] else "no drift")
    return lines


_LEAVE_WHY = {
    "team sync": "a synced membership no group of theirs matches",
    "org removed": "the login removes them from the org, and their teams there with it",
}


def _team_lines(teams: Mapping[str, Any], label: Callable[[str | int], str]) -> list[str]:
    if teams["sync"] != "compared":
        return [f"  teams: not compared: {teams['reason']}"]

    def team(t: Mapping[str, Any]) -> str:
        return f"team {t['name']!r} in {label(t['orgId'])}"

    def via(t: Mapping[str, Any]) -> str:
        return ", ".join(repr(g) for g in t["groups"])

    return [
        *(f"  + {team(t)}: joins (group {via(t)})" for t in teams["join"]),
        *(f"  - {team(t)}: leaves ({_LEAVE_WHY[t['why']]})" for t in teams["leave"]),
        *(f"  = {team(t)}: stays (group {via(t)})" for t in teams["stay"]),
        *(f"  = {team(t)}: stays (added by hand: team sync never removes it)" for t in teams["kept"]),
        *([f"  teams: {teams['reason']}"] if teams["reason"] else []),
    ]
