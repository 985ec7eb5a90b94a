"""Capabilities: Cloud vs self-hosted, who the credential is, and what it can do (with the reason why not)."""

from __future__ import annotations

import json

import pytest

from gtool.grafana import BasicAuth, TokenAuth
from gtool.grafana.capabilities import CAPABILITIES, Capabilities, cloud_evidence, detect, parse_version
from gtool.grafana.models import BuildInfo, FrontendSettings, Health, UserOrg, UserProfile
from tests.grafana import E2, E5, E8, E11, PASSWORD, SA_USER, TOKEN, FakeGrafana, resp

ADMIN = UserProfile(id=1, login="admin", org_id=1, is_grafana_admin=True)
EDITOR = UserProfile.from_json(json.loads(E5))  # jane: Editor in org 1, not a server admin
SA = UserProfile.from_json(json.loads(SA_USER))
SELF_HOSTED = FrontendSettings(BuildInfo(version="11.5.2", edition="Open Source"), namespace="default")
CLOUD = FrontendSettings(BuildInfo(version="12.1.0-89456", edition="Enterprise"), namespace="stacks-123")


def caps(identity: UserProfile, **kw: object) -> Capabilities:
    args: dict[str, object] = {
        "base_url": "https://grafana.example.com",
        "auth_kind": "basic",
        "identity": identity,
    }
    args.update(kw)
    return detect(**args)  # type: ignore[arg-type]


def test_self_hosted_server_admin_can_do_everything() -> None:
    c = caps(ADMIN, frontend=SELF_HOSTED, orgs=(UserOrg(1, "Main Org.", "Admin"),))
    assert not c.is_cloud and c.cloud_evidence == ()
    assert all(c.allowed().values())
    assert c.can_manage_users_globally and c.can_create_users and c.can_change_grafana_admin
    assert c.summary() == (
        "Grafana 11.5.2 (self-hosted) as 'admin' (basic auth): "
        "Grafana server admin; Admin in org 1 'Main Org.'"
    )


def test_cloud_admin_service_account() -> None:
    c = caps(
        SA,
        base_url="https://acme.grafana.net",
        auth_kind="token",
        frontend=CLOUD,
        service_account_role="Admin",
        org_name="Main Org.",
    )
    assert c.is_cloud and len(c.cloud_evidence) == 2
    assert c.is_service_account and not c.is_grafana_admin and c.org_id == 1 and c.org_role == "Admin"
    assert c.can_change_org_roles and c.can_add_org_users and c.can_remove_org_users and c.can_invite_users
    assert not c.can_manage_users_globally and not c.can_list_all_orgs and not c.can_use_other_orgs
    assert not c.can_change_grafana_admin and not c.can_create_users and not c.can_read_sso_settings
    assert "service account tokens cannot use Grafana's admin API" in (
        c.why_not("manage_users_globally") or ""
    )
    assert "bound to its own org (1)" in (c.why_not("can_use_other_orgs") or "")


def test_service_account_with_unknown_role() -> None:
    c = caps(SA, auth_kind="token", service_account_role=None)
    assert c.org_role is None and not c.can_change_org_roles
    assert "could not be read" in (c.why_not("change_org_roles") or "")


def test_org_editor_user() -> None:
    c = caps(EDITOR, orgs=tuple(UserOrg.from_json(o) for o in json.loads(E2)))
    assert c.org_id == 1 and c.org_role == "Editor" and c.org_name == "Main Org."
    assert not c.can_change_org_roles and "Editor in org 1" in (c.why_not("change_org_roles") or "")
    assert c.why_not("manage_users_globally") == "'jane' is not a Grafana server admin"
    assert c.can_use_other_orgs


def test_default_org_overrides_current_org() -> None:
    c = caps(EDITOR, orgs=tuple(UserOrg.from_json(o) for o in json.loads(E2)), org_id=3)
    assert (c.org_id, c.org_role, c.org_name) == (3, "Viewer", "Ops")


def test_server_admin_on_cloud_invites_instead_of_creating() -> None:
    c = caps(ADMIN, base_url="https://acme.grafana.net")
    assert c.is_cloud and not c.can_create_users and "invite" in (c.why_not("create_users") or "")


@pytest.mark.parametrize(
    ("base", "frontend", "cloud"),
    [
        ("https://acme.grafana.net", None, True),
        ("https://ACME.Grafana.NET/", None, True),
        ("https://grafana.net.example.com", None, False),
        ("https://grafana.corp", FrontendSettings(namespace="stack-77"), True),
        ("https://grafana.corp", FrontendSettings(namespace="org-2"), False),
        ("https://grafana.corp", FrontendSettings(BuildInfo(edition="Cloud")), True),
    ],
)
def test_cloud_evidence(base: str, frontend: FrontendSettings | None, cloud: bool) -> None:
    assert bool(cloud_evidence(base, frontend)) is cloud


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("11.5.2", (11, 5, 2)),
        ("12.1.0-89456", (12, 1, 0)),
        ("v10.4.1+security-01", (10, 4, 1)),
        ("11", (11, 0, 0)),
        ("", None),
    ],
)
def test_parse_version(text: str, want: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == want


def test_version_from_health_when_frontend_settings_missing() -> None:
    c = caps(ADMIN, health=Health.from_json(json.loads(E11)))
    assert c.version == "11.5.2" and c.version_at_least("11.5") is True and c.version_at_least("12") is False
    assert caps(ADMIN).version_at_least("10") is None


def test_unknown_capability_name() -> None:
    with pytest.raises(ValueError, match="unknown capability"):
        caps(ADMIN).why_not("fly")
    assert set(caps(ADMIN).allowed()) == set(CAPABILITIES)


# --- through the client: detected once per connection -----------------------------------------------------


def test_client_detects_self_hosted_admin_once() -> None:
    fake = FakeGrafana()
    fake.on("GET", "/api/user", resp(200, {"id": 1, "login": "admin", "orgId": 1, "isGrafanaAdmin": True}))
    fake.on(
        "GET",
        "/api/frontend/settings",
        resp(200, {"buildInfo": {"version": "11.5.2"}, "namespace": "default"}),
    )
    fake.on("GET", "/api/user/orgs", resp(200, E2))
    client = fake.client(BasicAuth("admin", PASSWORD))
    c = client.capabilities()
    assert c.auth_kind == "basic" and c.is_grafana_admin and c.org_role == "Editor" and not c.is_cloud
    assert client.capabilities() is c
    assert fake.calls() == ["GET /api/user", "GET /api/frontend/settings", "GET /api/user/orgs"]
    client.capabilities(refresh=True)
    assert len(fake.requests) == 6


def test_a_second_client_of_the_connection_adopts_what_the_first_detected() -> None:
    # the TUI detects with its async client; its sync client (for plans) must not ask Grafana again
    fake = FakeGrafana()
    fake.on("GET", "/api/user", resp(200, {"id": 1, "login": "admin", "orgId": 1, "isGrafanaAdmin": True}))
    fake.on("GET", "/api/frontend/settings", resp(200, {"buildInfo": {"version": "11.5.2"}}))
    fake.on("GET", "/api/user/orgs", resp(200, E2))
    detected = fake.client(BasicAuth("admin", PASSWORD)).capabilities()
    asked = len(fake.requests)
    second = fake.client(BasicAuth("admin", PASSWORD))
    second.adopt_capabilities(detected)
    assert second.capabilities() is detected and len(fake.requests) == asked


def test_client_falls_back_to_health_for_the_version() -> None:
    fake = FakeGrafana()
    fake.on("GET", "/api/user", resp(200, {"id": 1, "login": "admin", "orgId": 1, "isGrafanaAdmin": True}))
    fake.on("GET", "/api/frontend/settings", resp(403, '{"message":"Permission denied"}'))
    fake.on("GET", "/api/health", resp(200, E11)).on("GET", "/api/user/orgs", resp(200, "[]"))
    c = fake.client().capabilities()
    assert c.version == "11.5.2" and c.org_role is None


def test_client_service_account_not_allowed_to_list_service_accounts() -> None:
    fake = FakeGrafana().on("GET", "/api/user", resp(200, SA_USER))
    fake.on(
        "GET",
        "/api/frontend/settings",
        resp(200, {"buildInfo": {"version": "12.0.0"}, "namespace": "stacks-9"}),
    )
    fake.on("GET", "/api/serviceaccounts/search", resp(403, E8)).on(
        "GET", "/api/org", resp(200, {"id": 1, "name": "Main Org."})
    )
    c = fake.client(TokenAuth(TOKEN)).capabilities()
    assert c.is_service_account and c.org_role is None and c.org_name == "Main Org." and c.is_cloud
    assert "GET /api/user/orgs" not in fake.calls()  # 304 for service accounts: not even asked
