"""Provisioning and deprovisioning against the seeded in-process sandbox (no mocks)."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gtool.access.provision import (
    ALREADY_DISABLED,
    PasswordDelivery,
    apply_provision,
    generate_password,
    plan_create_user,
    plan_delete,
    plan_disable,
    plan_enable,
    plan_remove_from_orgs,
)
from gtool.access.roles import NotPossible, plan_grafana_admin
from gtool.grafana import BasicAuth, GrafanaClient, TokenAuth
from gtool.grafana.errors import AuthenticationFailed, NotFound
from tests.access.conftest import MakeSandbox, Sandbox


def test_generated_passwords_are_long_mixed_and_distinct() -> None:
    made = {generate_password().reveal() for _ in range(50)}
    assert len(made) == 50
    for pw in made:
        assert len(pw) >= 20
        assert any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
    with pytest.raises(ValueError):
        generate_password(12)


def test_create_user_writes_password_to_new_0600_file_and_it_logs_in(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "jane.pw"
    plan = plan_create_user(
        sandbox.client, "jane", email="jane@example.com", delivery=PasswordDelivery.to_file(out)
    )
    assert plan.password is not None and not plan.blocked and not plan.noop
    secret = plan.password.reveal()
    dry = "\n".join(plan.describe(sandbox.client))
    assert "POST http://localhost:3000/api/admin/users" in dry and secret not in dry and "****" in dry
    assert secret not in repr(plan)

    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)

    assert result.outcome == "applied" and result.verified is True and result.password is None
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().strip() == secret
    assert sandbox.connect("jane", secret).current_user().login == "jane"
    log = sandbox.audit.read_text()
    assert secret not in log and secret not in repr(result)
    assert json.loads(log)["action"] == "create-user"


def test_password_file_that_exists_is_never_overwritten(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "taken.pw"
    out.write_text("keep me")
    plan = plan_create_user(sandbox.client, "jane", delivery=PasswordDelivery.to_file(out))
    assert plan.blocked and "exists" in plan.blocked and not plan.calls
    sandbox.recorder.requests.clear()
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "refused" and sandbox.recorder.writes() == []
    assert out.read_text() == "keep me"
    with pytest.raises(NotFound):
        sandbox.client.lookup_user("jane")


def test_file_created_between_plan_and_apply_is_not_overwritten(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "race.pw"
    plan = plan_create_user(sandbox.client, "jane", delivery=PasswordDelivery.to_file(out))
    out.write_text("someone else's")
    sandbox.recorder.requests.clear()
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "failed" and "refusing to overwrite" in result.message
    assert sandbox.recorder.writes() == [] and out.read_text() == "someone else's"


def test_password_piped_to_a_command_stdin_without_shell(sandbox: Sandbox, tmp_path: Path) -> None:
    sink = tmp_path / "vault.txt"
    argv = [sys.executable, "-c", f"import sys; open({str(sink)!r}, 'w').write(sys.stdin.read())"]
    plan = plan_create_user(sandbox.client, "jane", delivery=PasswordDelivery.to_command(argv))
    assert plan.password is not None
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "applied"
    assert sink.read_text().strip() == plan.password.reveal()
    with pytest.raises(ValueError):
        PasswordDelivery.to_command("vault kv put x password=-")


def test_failing_command_sends_nothing(sandbox: Sandbox) -> None:
    plan = plan_create_user(
        sandbox.client,
        "jane",
        delivery=PasswordDelivery.to_command([sys.executable, "-c", "raise SystemExit(3)"]),
    )
    sandbox.recorder.requests.clear()
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "failed" and "status 3" in result.message
    assert sandbox.recorder.writes() == []


def test_show_returns_the_password_only_when_asked(sandbox: Sandbox) -> None:
    plan = plan_create_user(sandbox.client, "jane", delivery=PasswordDelivery.show())
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.password is not None and plan.password is not None
    assert result.password.reveal() == plan.password.reveal()
    assert (
        plan.password.reveal() not in repr(result) and plan.password.reveal() not in sandbox.audit.read_text()
    )


def test_existing_user_is_a_noop_and_no_delivery_is_blocked(sandbox: Sandbox, tmp_path: Path) -> None:
    plan = plan_create_user(sandbox.client, "bob", delivery=PasswordDelivery.to_file(tmp_path / "x"))
    assert plan.noop and not plan.calls and plan.password is None
    assert plan_create_user(sandbox.client, "newbie").blocked


def test_refused_create_removes_the_password_file(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "dup.pw"
    plan = plan_create_user(sandbox.client, "jane", delivery=PasswordDelivery.to_file(out))
    sandbox.client.create_user("jane", generate_password())  # someone else got there first
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "refused" and not out.exists()


def test_lost_answer_to_create_is_resolved_by_reading_back(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "lost.pw"
    plan = plan_create_user(sandbox.client, "jane", delivery=PasswordDelivery.to_file(out))
    sandbox.recorder.lose_next_write = "after"
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "applied" and result.verified is True and out.exists()
    assert [w for w in sandbox.recorder.writes() if w[1] == "/api/admin/users"] == [
        ("POST", "/api/admin/users")
    ]


def test_cloud_create_is_an_invite(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(cloud=True)
    client = sb.connect_as(TokenAuth(sb.seed.token("gtool-ci")))  # Admin of org 1
    plan = plan_create_user(
        client, "", email="newcomer@example.com", role="editor", cloud=True, send_email=False
    )
    assert plan.action == "invite" and plan.password is None
    assert [c.request.path for c in plan.calls] == ["/api/org/invites"]
    result = apply_provision(client, plan, audit=sb.audit)
    assert result.outcome == "applied"
    assert any(i.email == "newcomer@example.com" for i in client.list_invites(org_id=1))
    assert plan_create_user(client, "", email="nina.newhire@example.com", cloud=True).noop
    # a pending invite is not sent again (Grafana would make a second one, with a second join link)
    again = plan_create_user(client, "", email="NewComer@example.com", cloud=True)
    assert (
        again.calls == () and again.noop is not None and again.noop.startswith("already invited (as Editor")
    )


def test_disable_ends_sessions_and_is_verified(sandbox: Sandbox) -> None:
    bob_client = sandbox.connect("bob", "bob")
    plan = plan_disable(sandbox.client, "bob")
    assert not plan.destructive
    assert [c.request.path.rsplit("/", 1)[1] for c in plan.calls] == ["disable", "logout"]
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "applied"
    assert (
        sandbox.client.lookup_user("bob")
        and sandbox.client.get_user(sandbox.client.lookup_user("bob").id).is_disabled
    )
    with pytest.raises(AuthenticationFailed):
        bob_client.current_user()
    assert plan_disable(sandbox.client, "bob").noop == ALREADY_DISABLED


def test_remove_from_every_org_keeps_the_account(sandbox: Sandbox) -> None:
    bob = sandbox.client.lookup_user("bob")
    plan = plan_remove_from_orgs(sandbox.client, "bob", cloud=False)
    assert plan.destructive and plan.before == {"1": "Editor", "2": "Viewer"}
    assert sorted(c.request.path for c in plan.calls) == [
        f"/api/orgs/1/users/{bob.id}",
        f"/api/orgs/2/users/{bob.id}",
    ]
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "applied" and result.verified is True
    assert sandbox.client.user_orgs(bob.id) == []
    assert sandbox.client.get_user(bob.id).login == "bob"
    assert plan_remove_from_orgs(sandbox.client, "bob", cloud=False).noop


def test_delete_is_destructive_and_verified(sandbox: Sandbox) -> None:
    plan = plan_delete(sandbox.client, "carol")
    assert plan.destructive and "DELETE" in plan.describe(sandbox.client)[1]
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "applied" and result.verified is True
    with pytest.raises(NotFound):
        sandbox.client.lookup_user("carol")
    assert plan_delete(sandbox.client, "carol").noop


def test_synced_user_deprovision_warns_about_next_login(sandbox: Sandbox) -> None:
    plan = plan_delete(sandbox.client, "ada@example.com")
    assert any("next login" in w for w in plan.warnings)


def test_password_never_in_audit_even_with_basic_auth_connection(sandbox: Sandbox, tmp_path: Path) -> None:
    client = sandbox.connect_as(BasicAuth("admin", "admin"))
    plan = plan_create_user(client, "zed", delivery=PasswordDelivery.to_file(tmp_path / "zed.pw"))
    assert plan.password is not None
    apply_provision(client, plan, audit=sandbox.audit)
    assert plan.password.reveal() not in sandbox.audit.read_text()


# --- external users cannot be disabled or enabled through the API -----------------------------------------


@pytest.mark.parametrize(("login", "provider"), [("jsmith", "LDAP"), ("ada@example.com", "SAML")])
def test_disabling_an_external_user_is_blocked_before_sending(
    sandbox: Sandbox, login: str, provider: str
) -> None:
    # jsmith's LDAP is not even enabled: Grafana refuses any user with a login through a provider
    plan = plan_disable(sandbox.client, login)
    assert plan.calls == () and plan.blocked is not None
    assert f"signs in through {provider}" in plan.blocked
    assert '500 "Could not disable external user"' in plan.blocked
    assert "identity provider" in plan.blocked and f"gtool user remove-from-orgs {login}" in plan.blocked
    sandbox.recorder.requests.clear()
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "refused" and sandbox.recorder.writes() == []
    assert not sandbox.client.get_user(sandbox.client.lookup_user(login).id).is_disabled


def test_forced_disable_of_an_external_user_gets_grafanas_500_and_is_read_back(sandbox: Sandbox) -> None:
    plan = plan_disable(sandbox.client, "jsmith", force=True)
    assert plan.blocked is None and len(plan.calls) == 2
    assert plan.warnings[0].startswith("forced: jsmith signs in through LDAP")
    result = apply_provision(sandbox.client, plan, audit=sandbox.audit)
    assert result.outcome == "failed" and result.verified is False
    assert "Could not disable external user" in result.message and "shows no change" in result.message
    assert [p.rsplit("/", 1)[1] for _, p in sandbox.recorder.writes()] == ["disable"]  # logout never sent


def test_enabling_an_external_user_is_blocked_too(sandbox: Sandbox) -> None:
    plan = plan_enable(sandbox.client, "kim@example.com")  # a disabled SAML user
    assert plan.calls == () and plan.blocked is not None
    assert (
        "Could not enable external user" in plan.blocked
        and "successful sign-in through SAML can enable" in plan.blocked
    )
    assert plan_enable(sandbox.client, "tbrown", force=True).calls  # forced: sent, Grafana decides


def test_local_user_is_still_disabled_and_enabled(sandbox: Sandbox) -> None:
    assert plan_disable(sandbox.client, "new.hire").blocked is None
    assert plan_enable(sandbox.client, "new.hire").noop == "already enabled"


# --- server-admin-only changes with a credential that can never make them -----------------------------------


@pytest.mark.parametrize(
    "make_plan",
    [
        lambda c: plan_disable(c, "bob"),
        lambda c: plan_enable(c, "bob"),
        lambda c: plan_delete(c, "bob"),
        lambda c: plan_remove_from_orgs(c, "bob"),
        lambda c: plan_create_user(c, "zed", delivery=PasswordDelivery.show(), cloud=False),
        lambda c: plan_grafana_admin(c, "bob", True),
    ],
)
def test_a_token_is_told_it_cannot_before_anything_is_read(
    make_sandbox: MakeSandbox, make_plan: Callable[[GrafanaClient], object]
) -> None:
    sb = make_sandbox(cloud=True)
    client = sb.connect_as(TokenAuth(sb.seed.token("gtool-ci")))
    with pytest.raises(NotPossible) as info:
        make_plan(client)
    assert "is not possible with this credential: service account tokens cannot use" in str(info.value)
    assert "grafana.com" in info.value.hint
    assert not [p for _, p in sb.recorder.requests if p.startswith(("/api/users", "/api/admin"))]


def test_an_org_admin_with_basic_auth_is_told_too(sandbox: Sandbox) -> None:
    alice = sandbox.connect("alice", "alice-sandbox")  # Admin of Main Org., not a Grafana server admin
    with pytest.raises(NotPossible, match="'alice' is not a Grafana server admin") as info:
        plan_delete(alice, "bob")
    assert info.value.hint == ""  # self-hosted: no Cloud portal to point at
