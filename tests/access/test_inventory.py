"""The inventory against the seeded in-process sandbox: counts equal the seed's, exports are stable."""

from __future__ import annotations

import csv
import gc
import io
import json
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from gtool.access.inventory import COLUMNS, Inventory, Progress, collect, to_csv, to_json
from gtool.grafana import BasicAuth, GrafanaClient
from gtool.grafana.errors import ServerError
from gtool.grafana.retry import NO_RETRY
from tests.access.conftest import MakeSandbox, Sandbox
from tests.grafana import BASE, PASSWORD, FakeGrafana, paged_users, raw_path, resp


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


# --- scheduling, on a scripted Grafana with pages to follow ----------------------------------------------
# 2,500 users (3 pages), three orgs: org 1 with 1,500 members (2 pages), two teams per org, each with a
# synced group. Pages of 1,000 are what `collect` asks for.

USERS, ORG1_MEMBERS = 2_500, 1_500


def _teams(request: httpx.Request) -> httpx.Response:
    org = int(request.headers["X-Grafana-Org-Id"])
    teams = [{"id": 10 * org + i, "orgId": org, "name": f"team {org}.{i}", "memberCount": i} for i in (1, 2)]
    return resp(200, {"totalCount": 2, "teams": teams, "page": 1, "perPage": 1000})


def _groups(request: httpx.Request) -> httpx.Response:
    team = int(raw_path(request).split("/")[3])
    return resp(200, [{"teamId": team, "groupId": f"group-{team}"}])


Handler = Callable[[httpx.Request], httpx.Response]


def _scripted(*, users: Handler | None = None, members_of_org2: Handler | None = None) -> FakeGrafana:
    fake = FakeGrafana()
    fake.on("GET", "/api/user", resp(200, {"id": 1, "login": "admin", "orgId": 1, "isGrafanaAdmin": True}))
    fake.on("GET", "/api/frontend/settings", resp(200, {"buildInfo": {"version": "11.5.2"}}))
    fake.on("GET", "/api/user/orgs", resp(200, [{"orgId": 1, "name": "Main Org.", "role": "Admin"}]))
    fake.on("GET", "/api/orgs", resp(200, [{"id": i, "name": f"org {i}"} for i in (1, 2, 3)]))
    fake.on("GET", "/api/users/search", users or paged_users(USERS))
    fake.on("GET", "/api/orgs/1/users/search", paged_users(ORG1_MEMBERS))
    fake.on("GET", "/api/orgs/2/users/search", members_of_org2 or paged_users(3))
    fake.on("GET", "/api/orgs/3/users/search", paged_users(2))
    fake.on("GET", "/api/teams/search", _teams)
    for team in (11, 12, 21, 22, 31, 32):
        fake.on("GET", f"/api/teams/{team}/groups", _groups)
    return fake


def _connected(handler: Handler) -> GrafanaClient:
    client = GrafanaClient(BASE, BasicAuth("admin", PASSWORD), transport=httpx.MockTransport(handler))
    client.capabilities()
    return client


def _reads(fake: FakeGrafana) -> list[str]:
    """The inventory's requests in the order sent, pages and org named: ``members 1 p2``, ``groups 11``."""
    out = []
    for r in fake.requests:
        path, page = raw_path(r), r.url.params.get("page", "")
        if path == "/api/orgs":
            out.append("orgs")
        elif path == "/api/users/search":
            out.append(f"users p{page}")
        elif path.endswith("/users/search"):
            out.append(f"members {path.split('/')[3]} p{page}")
        elif path == "/api/teams/search":
            out.append(f"teams {r.headers['X-Grafana-Org-Id']} p{page}")
        elif path.endswith("/groups"):
            out.append(f"groups {path.split('/')[3]}")
    return out


def test_every_page_and_group_is_read_once() -> None:
    fake = _scripted()
    inv = collect(_connected(fake), workers=4)
    reads = _reads(fake)
    assert len(reads) == len(set(reads)) == 1 + 3 + (2 + 1 + 1) + 3 + 6
    assert [u.id for u in inv.users] == list(range(1, USERS + 1))
    assert [(o.id, o.members, o.teams) for o in inv.orgs] == [(1, ORG1_MEMBERS, 2), (2, 3, 2), (3, 2, 2)]
    assert {t.team_id: t.external_groups for t in inv.teams} == {
        t: (f"group-{t}",) for t in (11, 12, 21, 22, 31, 32)
    }


def test_longest_chains_are_read_first() -> None:
    # One worker shows the order the queue gives: the org list (it unlocks teams, which unlock groups),
    # then every first page (each unlocks more), and only then the later pages and the groups.
    fake = _scripted()
    collect(_connected(fake), workers=1)
    reads = _reads(fake)
    assert reads[0] == "orgs"
    first_pages = {r for r in reads if r.endswith(" p1")}
    assert set(reads[1 : 1 + len(first_pages)]) == first_pages
    assert set(reads[1 + len(first_pages) :]) == {"users p2", "users p3", "members 1 p2"} | {
        f"groups {t}" for t in (11, 12, 21, 22, 31, 32)
    }


def test_requests_in_flight_never_exceed_the_workers() -> None:
    fake = _scripted()
    lock = threading.Lock()
    in_flight, most = 0, 0

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.02)  # a network wait: the other workers send theirs meanwhile
        with lock:
            in_flight -= 1
        return fake(request)

    client = _connected(slow)
    most = 0
    collect(client, workers=3)
    assert most == 3


def test_the_first_error_stops_the_rest_and_is_raised() -> None:
    fake = _scripted(members_of_org2=lambda _r: resp(500, '{"message":"database is locked"}'))
    client = GrafanaClient(
        BASE, BasicAuth("admin", PASSWORD), transport=httpx.MockTransport(fake), retry=NO_RETRY
    )
    client.capabilities()
    seen: list[Progress] = []
    with pytest.raises(ServerError, match="database is locked"):
        collect(client, workers=1, progress=seen.append)
    reads = _reads(fake)
    assert reads[-1] == "members 2 p1"  # nothing queued behind it was sent
    assert [p.org.id for p in seen] in ([], [1])


def test_pages_without_a_total_are_read_one_after_another() -> None:
    # A proxy that strips totalCount: only a full page means there may be more.
    paged = paged_users(USERS)

    def no_total(request: httpx.Request) -> httpx.Response:
        body = json.loads(paged(request).content)
        del body["totalCount"]
        return resp(200, body)

    fake = _scripted(users=no_total)
    inv = collect(_connected(fake), workers=4)
    assert [u.id for u in inv.users] == list(range(1, USERS + 1))
    assert [r for r in _reads(fake) if r.startswith("users")] == ["users p1", "users p2", "users p3"]


def test_garbage_collection_is_left_as_it_was(sandbox: Sandbox) -> None:
    assert gc.isenabled()
    collect(sandbox.client, workers=2)
    assert gc.isenabled()
    gc.disable()
    try:
        collect(sandbox.client, workers=2)
        assert not gc.isenabled()
    finally:
        gc.enable()
    gc.freeze()  # as a server does before forking: the inventory must not thaw it
    try:
        collect(sandbox.client, workers=2)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
