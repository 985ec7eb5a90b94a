"""Role plans and their execution against the seeded in-process sandbox (no mocks)."""

from __future__ import annotations

import json

import pytest

from gtool.access import audit
from gtool.access.roles import (
    ALREADY_GONE,
    ALREADY_HAD,
    apply,
    plan_grafana_admin,
    plan_grant,
    plan_revoke,
    plan_role_change,
    resolve_org,
    resolve_user,
)
from gtool.grafana import TokenAuth
from gtool.grafana.errors import AmbiguousWrite, NotFound, RoleLockedByExternalSync, ServerError
from tests.access.conftest import MakeSandbox, Sandbox


def role_of(sb: Sandbox, login: str, org_id: int) -> str | None:
    user = sb.client.lookup_user(login)
    return next((m.role for m in sb.client.user_orgs(user.id) if m.org_id == org_id), None)


# --- resolving -------------------------------------------------------------------------------------------


def test_user_resolves_by_login_email_and_id(sandbox: Sandbox) -> None:
    by_login = resolve_user(sandbox.client, "jsmith")
    assert resolve_user(sandbox.client, "john.smith@example.com").id == by_login.id
    assert resolve_user(sandbox.client, str(by_login.id)).login == "jsmith"
    assert resolve_user(sandbox.client, by_login.id).login == "jsmith"
    # the lookup route leaves the sync flags empty: the profile is read again by id
    assert resolve_user(sandbox.client, "ada@example.com").is_externally_synced
    with pytest.raises(NotFound):
        resolve_user(sandbox.client, "nobody@example.com")


def test_user_lookup_never_scans_a_page_of_users(sandbox: Sandbox) -> None:
    resolve_user(sandbox.client, "jsmith")
    assert not [p for _, p in sandbox.recorder.requests if p == "/api/users/search"]


def test_org_resolves_by_id_or_exact_name(sandbox: Sandbox) -> None:
    assert resolve_org(sandbox.client, "Data Science").id == 2
    assert resolve_org(sandbox.client, 3).name == "Customer Success"
    assert resolve_org(sandbox.client, "4").name == "Partner Portal"
    with pytest.raises(NotFound):
        resolve_org(sandbox.client, "Data")


# --- role changes ----------------------------------------------------------------------------------------


def test_local_user_role_change_is_one_patch_verified_and_audited(sandbox: Sandbox) -> None:
    plan = plan_role_change(sandbox.client, "bob", "Main Org.", "viewer")
    assert (plan.before, plan.after, plan.blocked, plan.noop) == ("Editor", "Viewer", None, None)
    bob = resolve_user(sandbox.client, "bob")
    sandbox.recorder.requests.clear()

    result = apply(sandbox.client, plan, audit=sandbox.audit, profile="sandbox")

    assert result.outcome == "applied" and result.verified is True and result.sent == 1
    assert sandbox.recorder.writes() == [("PATCH", f"/api/orgs/1/users/{bob.id}")]
    assert role_of(sandbox, "bob", 1) == "Viewer"
    lines = sandbox.audit.read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["action"] == "change-role" and rec["outcome"] == "applied"
    assert (rec["before"], rec["after"], rec["profile"]) == ("Editor", "Viewer", "sandbox")
    assert "bob" in rec["target"] and "Main Org." in rec["target"]


def test_role_change_to_the_same_role_sends_nothing(sandbox: Sandbox) -> None:
    plan = plan_role_change(sandbox.client, "jsmith", 1, "Editor")
    assert plan.noop == ALREADY_HAD and plan.calls == ()
    result = apply(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "already" and result.message == ALREADY_HAD and result.sent == 0
    assert sandbox.recorder.writes() == []


def test_same_role_for_a_synced_user_says_any_other_role_is_blocked(sandbox: Sandbox) -> None:
    plan = plan_role_change(sandbox.client, "ada@example.com", 1, "Admin")  # her current role
    assert plan.noop == ALREADY_HAD and plan.calls == () and plan.blocked is None
    assert [w for w in plan.warnings if "any other role is blocked" in w and "skip_org_role_sync" in w]
    assert not plan_role_change(sandbox.client, "jsmith", 1, "Editor").warnings  # LDAP is not synced here


def test_role_change_for_a_non_member_is_blocked(sandbox: Sandbox) -> None:
    plan = plan_role_change(sandbox.client, "new.hire", "Data Science", "Editor")
    assert plan.blocked and "not a member" in plan.blocked and plan.calls == ()


def test_synced_saml_user_is_blocked_before_anything_is_sent(sandbox: Sandbox) -> None:
    plan = plan_role_change(sandbox.client, "linus@example.com", "Main Org.", "Admin")
    assert plan.blocked is not None and plan.calls == ()
    assert "SAML" in plan.blocked and "skip_org_role_sync" in plan.blocked
    sandbox.recorder.requests.clear()

    result = apply(sandbox.client, plan, audit=sandbox.audit)

    assert result.outcome == "refused" and result.sent == 0
    assert sandbox.recorder.requests == []  # not even a read: nothing reached the server
    assert role_of(sandbox, "linus@example.com", 1) == "Editor"
    assert json.loads(sandbox.audit.read_text())["outcome"] == "refused"


def test_forced_change_of_a_synced_user_gets_grafanas_403(sandbox: Sandbox) -> None:
    plan = plan_role_change(sandbox.client, "linus@example.com", 1, "Admin", force=True)
    assert plan.blocked is None and plan.forced and len(plan.calls) == 1
    assert any("next login" in w for w in plan.warnings)
    sandbox.recorder.requests.clear()

    result = apply(sandbox.client, plan, audit=sandbox.audit)

    assert [m for m, _ in sandbox.recorder.writes()] == ["PATCH"]
    assert isinstance(result.error, RoleLockedByExternalSync)
    assert result.error.provider == "SAML" and "skip_org_role_sync" in result.error.fix
    assert result.outcome == "refused" and "skip_org_role_sync" in result.message
    assert role_of(sandbox, "linus@example.com", 1) == "Editor"


def test_ldap_user_without_ldap_enabled_is_not_synced(sandbox: Sandbox) -> None:
    # LDAP is off in the Okta grafana.ini, so Grafana lets these roles be changed by hand.
    plan = plan_role_change(sandbox.client, "mgarcia", "Data Science", "Editor")
    assert plan.blocked is None
    assert apply(sandbox.client, plan, audit=sandbox.audit).outcome == "applied"


def test_last_org_admin_is_warned_and_grafana_refuses(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    # Partner Portal (4) has only the admin as Admin.
    plan = plan_role_change(sb.client, "admin", "Partner Portal", "Editor")
    assert any("last Admin" in w for w in plan.warnings)
    result = apply(sb.client, plan, audit=sb.audit)
    assert result.outcome == "refused" and role_of(sb, "admin", 4) == "Admin"
    # Main Org. has other Admins: no warning.
    assert not plan_role_change(sb.client, "alice", 1, "Editor").warnings


def test_dry_run_description_names_the_exact_call(sandbox: Sandbox) -> None:
    bob = resolve_user(sandbox.client, "bob")
    plan = plan_role_change(sandbox.client, "bob", 1, "Admin")
    text = plan.describe(sandbox.client)
    assert text[0] == "change-role bob in org 1 'Main Org.': Editor -> Admin"
    assert text[1] == f'  PATCH {sandbox.client.base_url}/api/orgs/1/users/{bob.id} {{"role":"Admin"}}'
    blocked = plan_role_change(sandbox.client, "ada@example.com", 1, "Viewer").describe(sandbox.client)
    assert blocked[1].startswith("  blocked: ") and len(blocked) == 2
    assert "admin" not in " ".join(text).replace("Admin", "")  # the password is never shown


# --- grant and revoke ------------------------------------------------------------------------------------


def test_grant_adds_then_is_idempotent(sandbox: Sandbox) -> None:
    plan = plan_grant(sandbox.client, "new.hire", "Data Science", "Editor")
    assert (plan.before, plan.after) == (None, "Editor")
    result = apply(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "applied" and result.verified
    assert sandbox.recorder.writes() == [("POST", "/api/orgs/2/users")]
    assert role_of(sandbox, "new.hire", 2) == "Editor"

    sandbox.recorder.requests.clear()
    again = apply(sandbox.client, plan_grant(sandbox.client, "new.hire", 2, "editor"), audit=sandbox.audit)
    assert again.outcome == "already" and again.message == ALREADY_HAD
    assert sandbox.recorder.writes() == []
    assert [r.outcome for r in audit.read(sandbox.audit).entries] == ["applied", "already"]


def test_grant_to_a_member_with_another_role_is_a_patch(sandbox: Sandbox) -> None:
    plan = plan_grant(sandbox.client, "new.hire", 1, "Editor")
    assert plan.action == "grant" and [c.request.method for c in plan.calls] == ["PATCH"]
    assert any("already a member as Viewer" in w for w in plan.warnings)


def test_grant_to_a_synced_user_warns_it_lasts_until_next_login(sandbox: Sandbox) -> None:
    plan = plan_grant(sandbox.client, "joe@example.com", "Partner Portal", "Viewer")
    assert plan.blocked is None and any("next login" in w for w in plan.warnings)


def test_revoke_then_already_gone(sandbox: Sandbox) -> None:
    plan = plan_revoke(sandbox.client, "bob", "Data Science")
    bob = resolve_user(sandbox.client, "bob")
    assert plan.calls[0].request.path == f"/api/orgs/2/users/{bob.id}" and not plan.destructive
    sandbox.recorder.requests.clear()
    result = apply(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "applied" and result.verified
    assert sandbox.recorder.writes() == [("DELETE", f"/api/orgs/2/users/{bob.id}")]
    assert role_of(sandbox, "bob", 2) is None

    sandbox.recorder.requests.clear()
    again = apply(sandbox.client, plan_revoke(sandbox.client, "bob", 2), audit=sandbox.audit)
    assert again.outcome == "already" and again.message == ALREADY_GONE
    assert sandbox.recorder.writes() == []


def test_revoke_of_a_users_last_org_keeps_the_account_self_hosted(sandbox: Sandbox) -> None:
    plan = plan_revoke(sandbox.client, "new.hire", 1)
    assert not plan.destructive
    assert apply(sandbox.client, plan, audit=sandbox.audit).outcome == "applied"
    assert resolve_user(sandbox.client, "new.hire").login == "new.hire"


def test_cloud_revoke_uses_the_current_org_route_and_flags_a_last_org(sandbox: Sandbox) -> None:
    plan = plan_revoke(sandbox.client, "new.hire", 1, cloud=True)
    assert plan.destructive and any("DESTRUCTIVE" in w for w in plan.warnings)
    req = plan.calls[0].request
    assert (req.method, req.org_id) == ("DELETE", 1) and req.path.startswith("/api/org/users/")
    # a user with other orgs is not flagged
    assert not plan_revoke(sandbox.client, "bob", 1, cloud=True).destructive


# --- Grafana Admin ---------------------------------------------------------------------------------------


def test_grafana_admin_on_off_and_idempotent(sandbox: Sandbox) -> None:
    on = apply(sandbox.client, plan_grafana_admin(sandbox.client, "alice", True), audit=sandbox.audit)
    assert on.outcome == "applied" and on.verified and resolve_user(sandbox.client, "alice").is_grafana_admin
    again = apply(sandbox.client, plan_grafana_admin(sandbox.client, "alice", True), audit=sandbox.audit)
    assert again.outcome == "already" and again.message == ALREADY_HAD
    off = apply(sandbox.client, plan_grafana_admin(sandbox.client, "alice", False), audit=sandbox.audit)
    assert off.outcome == "applied" and not resolve_user(sandbox.client, "alice").is_grafana_admin


def test_grafana_admin_synced_from_saml_is_blocked(sandbox: Sandbox) -> None:
    plan = plan_grafana_admin(sandbox.client, "ada@example.com", False)
    assert plan.blocked and "SAML" in plan.blocked and plan.calls == ()


def test_audit_never_holds_the_password(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    apply(sb.client, plan_grafana_admin(sb.client, "alice", True), audit=sb.audit)
    client = sb.connect("alice", "alice-sandbox")  # now a server admin, with a distinctive password
    result = apply(client, plan_role_change(client, "jsmith", 1, "Viewer"), audit=sb.audit, actor="alice")
    assert result.outcome == "applied"
    text = sb.audit.read_text()
    assert "alice-sandbox" not in text and len(text.splitlines()) == 2


def test_cloud_revoke_end_to_end_with_a_service_account_token(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(cloud=True)
    client = sb.connect_as(TokenAuth(sb.seed.token("gtool-ci")))  # Admin of org 1
    plan = plan_revoke(client, "wallboard", "Main Org.")
    # A token cannot read the user's other orgs: it may be their last one, so it is flagged.
    assert plan.destructive and plan.calls[0].request.path.startswith("/api/org/users/")
    result = apply(client, plan, audit=sb.audit)
    assert result.outcome == "applied"
    assert client.find_org_user(None, "wallboard") is None
    again = plan_revoke(client, "wallboard", 1)
    assert again.noop == ALREADY_GONE


@pytest.mark.parametrize(
    ("lose", "outcome", "role"), [("after", "applied", "Viewer"), ("before", "failed", "Editor")]
)
def test_ambiguous_write_is_read_back(sandbox: Sandbox, lose: str, outcome: str, role: str) -> None:
    plan = plan_role_change(sandbox.client, "bob", 1, "Viewer")
    sandbox.recorder.lose_next_write = lose
    result = apply(sandbox.client, plan, audit=sandbox.audit)
    assert isinstance(result.error, AmbiguousWrite)
    assert (result.outcome, result.verified) == (outcome, outcome == "applied")
    assert role_of(sandbox, "bob", 1) == role
    rec = json.loads(sandbox.audit.read_text())
    assert rec["outcome"] == outcome and rec["after"] == role


@pytest.mark.parametrize(
    ("lose", "outcome", "role"), [("after", "applied", "Viewer"), ("before", "failed", "Editor")]
)
def test_write_answered_500_is_never_resent_but_read_back(
    sandbox: Sandbox, lose: str, outcome: str, role: str
) -> None:
    plan = plan_role_change(sandbox.client, "bob", 1, "Viewer")
    sandbox.recorder.lose_next_write, sandbox.recorder.lose_status = lose, 500
    result = apply(sandbox.client, plan, audit=sandbox.audit)
    assert isinstance(result.error, ServerError) and result.error.status_code == 500
    assert (result.outcome, result.verified) == (outcome, outcome == "applied")
    assert "500" in result.message and ("shows the change" if lose == "after" else "shows no change") in (
        result.message
    )
    assert [m for m, _ in sandbox.recorder.writes()] == ["PATCH"]
    assert role_of(sandbox, "bob", 1) == role
