"""Grafana Cloud paths: a service account token cannot read /api/users (contract §13.1).

Role changes, grants, bulk apply and the inventory must still work with an org Admin token, resolving
users through the org's member search and reading only the token's own org. The sandbox runs in cloud
mode in-process; `Recorder` shows which routes were used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gtool.access import bulk
from gtool.access.inventory import collect
from gtool.access.roles import apply, plan_grant, plan_role_change, resolve_member
from gtool.grafana import GrafanaClient, TokenAuth
from tests.access.conftest import MakeSandbox, Sandbox


@pytest.fixture
def cloud(make_sandbox: MakeSandbox) -> tuple[Sandbox, GrafanaClient]:
    sb = make_sandbox(cloud=True)
    return sb, sb.connect_as(TokenAuth(sb.seed.token("gtool-ci")))  # Admin of org 1 "Main Org."


def global_user_routes(sb: Sandbox) -> list[str]:
    # /api/user (the credential itself) is allowed; /api/users/* and the admin org listing are 403 for a token
    return [p for _, p in sb.recorder.requests if p.startswith(("/api/users", "/api/orgs/name"))]


def role_in_org1(sb: Sandbox, login: str) -> str | None:
    user = sb.store.get_user_by_login_or_email(login)
    assert user is not None
    return sb.store.org_role(1, user.id)


def test_the_token_really_gets_403_from_the_global_user_api(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    _, client = cloud
    assert not client.capabilities().can_manage_users_globally
    with pytest.raises(Exception, match="users:read"):
        client.lookup_user("bob")


@pytest.mark.parametrize("who", ["bob", "BOB", "bob@example.com", "__id__"])
def test_role_change_by_login_email_or_id(cloud: tuple[Sandbox, GrafanaClient], who: str) -> None:
    sb, client = cloud
    bob = sb.store.get_user_by_login_or_email("bob")
    assert bob is not None
    if who == "__id__":
        who = str(bob.id)
    elif who == "bob@example.com":
        who = bob.email

    plan = plan_role_change(client, who, "Main Org.", "Viewer")

    assert (plan.before, plan.after, plan.user.id) == ("Editor", "Viewer", bob.id)
    [call] = plan.calls
    assert (call.request.method, call.request.path) == ("PATCH", f"/api/orgs/1/users/{bob.id}")
    result = apply(client, plan, audit=sb.audit)
    assert result.outcome == "applied" and result.verified is True
    assert role_in_org1(sb, "bob") == "Viewer"
    assert global_user_routes(sb) == []
    assert ("GET", "/api/org/users/search") in sb.recorder.requests


def test_a_substring_is_not_a_match(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    # "ada" is a substring of ada@example.com's login: the search finds it, the exact match must not take it
    _, client = cloud
    with pytest.raises(ValueError, match="no member 'ada'"):
        plan_role_change(client, "ada", 1, "Viewer")


def test_the_member_search_is_read_to_the_last_page(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    sb, client = cloud
    # 1,100 more members: an id is no search text, so the whole org is read, past the first 1,000-row page
    made = [
        sb.store.create_user(login=f"member-{i:04d}", email=f"m{i}@example.com", org_id=1, org_role="Viewer")
        for i in range(1100)
    ]
    sb.recorder.requests.clear()

    org, member = resolve_member(client, str(made[-1].id), 1)

    assert org.id == 1 and member is not None and member.login == "member-1099"
    pages = [p for _, p in sb.recorder.requests if p == "/api/org/users/search"]
    assert len(pages) >= 2


def test_synced_user_is_still_blocked_before_sending(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    sb, client = cloud
    plan = plan_role_change(client, "linus@example.com", 1, "Admin")
    assert plan.blocked is not None and "skip_org_role_sync" in plan.blocked and plan.calls == ()
    assert role_in_org1(sb, "linus@example.com") == "Editor"


def test_grant_of_a_member_is_a_role_change(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    sb, client = cloud
    plan = plan_grant(client, "new.hire", "Main Org.", "Editor")
    assert plan.action == "grant" and plan.before == "Viewer"
    assert [c.request.method for c in plan.calls] == ["PATCH"]
    assert apply(client, plan, audit=sb.audit).outcome == "applied"
    assert role_in_org1(sb, "new.hire") == "Editor"
    assert plan_grant(client, "new.hire", 1, "Editor").noop == "already had it"


def test_grant_of_a_non_member_adds_them_by_login(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    sb, client = cloud
    plan = plan_grant(client, "carol", 1, "Viewer")  # carol is only in Partner Portal
    assert plan.before is None and [c.request.path for c in plan.calls] == ["/api/orgs/1/users"]
    assert any("cannot check" in w for w in plan.warnings)
    result = apply(client, plan, audit=sb.audit)
    assert result.outcome == "applied" and result.verified is True
    assert role_in_org1(sb, "carol") == "Viewer"
    assert global_user_routes(sb) == []


def test_grant_of_an_unknown_user_is_refused_by_grafana(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    sb, client = cloud
    result = apply(client, plan_grant(client, "nobody-here", 1, "Viewer"), audit=sb.audit)
    assert result.outcome == "refused" and "not found" in result.message.lower()


def test_an_id_outside_the_org_cannot_be_resolved(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    sb, client = cloud
    carol = sb.store.get_user_by_login_or_email("carol")
    assert carol is not None
    with pytest.raises(ValueError, match="login or email"):
        plan_grant(client, str(carol.id), 1, "Viewer")
    with pytest.raises(ValueError, match="cannot look up users"):
        plan_role_change(client, "carol", 1, "Viewer")


def test_bulk_apply_with_a_token(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    sb, client = cloud
    outside = sb.store.get_user_by_login_or_email("mgarcia")  # only in Data Science: invisible by id
    assert outside is not None
    lines = ["user,org,role", "bob,Main Org.,Viewer", "tbrown,1,Editor", "carol,1,Viewer", "nobody,1,Viewer"]
    text = "\n".join([*lines, f"{outside.id},1,Viewer"]) + "\n"
    plan = bulk.plan_rows(client, bulk.parse_csv(text))
    assert [r.state for r in plan.rows] == ["change", "change", "change", "change", "error"]

    report = bulk.apply_bulk(client, plan, audit=sb.audit)

    assert [r.status for r in report.results] == ["applied", "applied", "applied", "failed", "failed"]
    assert [role_in_org1(sb, u) for u in ("bob", "tbrown", "carol")] == ["Viewer", "Editor", "Viewer"]
    assert global_user_routes(sb) == []


def test_inventory_is_the_tokens_own_org(cloud: tuple[Sandbox, GrafanaClient]) -> None:
    sb, client = cloud
    seen: list[int] = []
    inv = collect(client, progress=lambda p: seen.append(p.org.id))

    assert [o.id for o in inv.orgs] == [1] and seen == [1]
    # the truth from the store itself, not through the client under test
    _, everyone = sb.store.search_users(limit=100_000)
    expected = {u.id: role for u in everyone if (role := sb.store.org_role(1, u.id)) is not None}
    assert {m.user_id: m.role for m in inv.memberships} == expected
    assert sorted(u.id for u in inv.users) == sorted(expected)
    assert inv.orgs[0].members == len(expected)
    assert {t.org_id for t in inv.teams} <= {1}
    token_routes = [p for _, p in sb.recorder.requests if p.startswith(("/api/users", "/api/orgs"))]
    assert token_routes == []
    assert sb.seed.token("gtool-ci") not in str(inv)


def test_undo_of_a_token_bulk_names_an_added_user_by_login_and_never_deletes_them(
    cloud: tuple[Sandbox, GrafanaClient], tmp_path: Path
) -> None:
    sb, client = cloud
    text = "user,org,role\nbob,Main Org.,Viewer\ncarol,1,Editor\n"  # carol is no member of org 1
    snap = tmp_path / "snap.json"
    report = bulk.apply_bulk(
        client, bulk.plan_rows(client, bulk.parse_csv(text)), snapshot=snap, audit=sb.audit
    )
    assert [r.status for r in report.results] == ["applied", "applied"]
    # the token added carol by login without ever learning her id: the snapshot still names her
    bob = sb.store.get_user_by_login_or_email("bob")
    assert bob is not None
    assert [r.user for r in bulk.load_snapshot(snap)] == [str(bob.id), "carol"]

    back = bulk.undo(client, snap, audit=sb.audit)

    assert [r.status for r in back.results] == ["applied", "blocked"]
    assert "may delete the account" in back.results[1].message
    assert role_in_org1(sb, "bob") == "Editor"
    assert role_in_org1(sb, "carol") == "Editor"  # not silently "already gone": still there, and said so
