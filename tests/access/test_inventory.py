"""The inventory against the seeded in-process sandbox: counts equal the seed's, exports are stable."""

from __future__ import annotations

import csv
import io
import json

import pytest

from gtool.access.inventory import COLUMNS, Inventory, Progress, collect, to_csv, to_json
from tests.access.conftest import MakeSandbox, Sandbox


@pytest.fixture
def inventory(sandbox: Sandbox) -> Inventory:
    return collect(sandbox.client, workers=3)


def test_counts_equal_the_seed(sandbox: Sandbox, inventory: Inventory) -> None:
    seed = sandbox.seed
    assert [u.login for u in inventory.users] == [u.login for u in seed.users]  # ids follow seed order
    assert [(o.id, o.name) for o in inventory.orgs] == [(o.id, o.name) for o in seed.orgs]
    assert len(inventory.memberships) == sum(len(u.memberships) for u in seed.users)
    expected = {(m.org_id, u.login, m.role) for u in seed.users for m in u.memberships}
    assert {(m.org_id, m.login, m.role) for m in inventory.memberships} == expected
    for org in inventory.orgs:
        assert org.members == sum(1 for u in seed.users if u.role_in(org.id) is not None)
        assert org.teams == sum(1 for t in seed.teams if t.org_id == org.id)


def test_teams_carry_their_external_groups(sandbox: Sandbox, inventory: Inventory) -> None:
    got = {(t.org_id, t.name): (t.member_count, t.external_groups) for t in inventory.teams}
    want = {
        (t.org_id, t.name): (len(t.members), tuple(sorted(t.external_groups))) for t in sandbox.seed.teams
    }
    assert got == want


def test_sync_flags_follow_the_okta_config(inventory: Inventory) -> None:
    synced = {m.login for m in inventory.memberships if m.is_externally_synced}
    assert "ada@example.com" in synced and "former@example.com" in synced
    assert not synced & {"jsmith", "admin", "wallboard", "legacy.oauth"}  # LDAP/OAuth off, proxy never


def test_progress_is_reported_per_org_with_bounded_workers(sandbox: Sandbox) -> None:
    seen: list[Progress] = []
    collect(sandbox.client, workers=2, progress=seen.append)
    assert [(p.done, p.total) for p in seen] == [(i, 4) for i in range(1, 5)]
    assert [p.org.id for p in seen] == [1, 2, 3, 4]
    with pytest.raises(ValueError):
        collect(sandbox.client, workers=0)


def test_csv_columns_are_stable(inventory: Inventory) -> None:
    assert COLUMNS["memberships"] == (
        "org_id",
        "org_name",
        "user_id",
        "login",
        "email",
        "role",
        "auth_labels",
        "is_externally_synced",
        "is_disabled",
    )
    rows = list(csv.reader(io.StringIO(to_csv(inventory))))
    assert tuple(rows[0]) == COLUMNS["memberships"]
    assert len(rows) == 1 + len(inventory.memberships)
    ada = next(r for r in rows if r[3] == "ada@example.com")
    assert ada[:2] == ["1", "Main Org."] and ada[5:8] == ["Admin", "SAML", "true"]
    teams = list(csv.reader(io.StringIO(to_csv(inventory, "teams"))))
    assert tuple(teams[0]) == COLUMNS["teams"]
    grafana_admins = next(r for r in teams if r[3] == "Grafana admins")
    assert grafana_admins[-1] == "Grafana Admins;Grafana Server Admins"
    for table in ("users", "orgs"):
        assert tuple(next(csv.reader(io.StringIO(to_csv(inventory, table))))) == COLUMNS[table]


def test_json_export_has_every_table_and_no_secret(sandbox: Sandbox, inventory: Inventory) -> None:
    text = to_json(inventory)
    data = json.loads(text)
    assert list(data) == ["users", "orgs", "memberships", "teams"]
    assert list(data["memberships"][0]) == list(COLUMNS["memberships"])
    for secret in ("alice-sandbox", "ldap-sandbox", "welcome-nina", "glsa_", "avatar"):
        assert secret not in text
    assert sandbox.seed.token("gtool-ci") not in text


def test_team_groups_unknown_on_open_source(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(edition="Open Source")
    teams = collect(sb.client).teams
    assert teams and all(t.external_groups is None for t in teams)
    assert "" in {r.split(",")[-1] for r in to_csv(collect(sb.client), "teams").splitlines()[1:]}
