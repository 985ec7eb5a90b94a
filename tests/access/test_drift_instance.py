"""`read_instance`: the orgs and team-sync teams a login simulation needs, read from a running Grafana."""

from __future__ import annotations

from gtool.access.drift import read_instance
from tests.access.conftest import MakeSandbox


def test_enterprise_gives_every_org_and_the_teams_with_external_groups(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox()
    view = read_instance(sandbox.client)
    assert {o.name for o in view.orgs} == {o.name for o in sandbox.seed.orgs}
    assert view.teams is not None and view.teams
    by_name = {t.name: t for t in view.teams}
    seeded = {t.name: tuple(t.external_groups) for t in sandbox.seed.teams if t.external_groups}
    assert {name: by_name[name].external_groups for name in seeded} == seeded
    assert all(t.external_groups for t in view.teams)  # teams without groups cannot be synced


def test_oss_has_no_team_sync_and_says_so(make_sandbox: MakeSandbox) -> None:
    view = read_instance(make_sandbox(edition="Open Source").client)
    assert view.orgs and view.teams is None and "Enterprise" in view.note


def test_teams_of_an_org_the_connection_is_not_in_are_named_not_silently_left_out(
    make_sandbox: MakeSandbox,
) -> None:
    # Grafana answers team routes only in the signed-in user's orgs: an org admin is not in lists nothing
    sandbox = make_sandbox()
    hidden = sandbox.store.create_org("Hidden")
    team = sandbox.store.create_team(hidden.id, "Hidden SRE")
    sandbox.store.add_team_group(team.id, "SRE On-Call")
    view = read_instance(sandbox.client)
    assert hidden.id in {o.id for o in view.orgs}  # the org itself is known (org_mapping by name)
    assert view.teams is not None and "Hidden SRE" not in {t.name for t in view.teams}
    assert f"teams of org {hidden.id} not read: this connection is not a member there" in view.note
