"""Grafana Cloud mode (``cloud=True``) and the edition's SAML licence (grafana-api-contract.md §7, §5.2).

A Cloud stack is reached with a service-account token (basic auth is refused), has one org, and answers
every admin or multi-org API with the refusal a non-Grafana-Admin gets: the RBAC ``deny`` body for the
global ``users:*``/``orgs:*`` actions (§7.1, §9.2), ``Permission denied`` where ``reqGrafanaAdmin`` runs
first, and the token's org-mismatch 401 for another org. New people come in through invites.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from gtool.sandbox.app import create_app, load_config, store_options
from gtool.sandbox.store import Store
from tests.sandbox.conftest import ADMIN, Clock, InProcess, basic, bearer

with warnings.catch_warnings():
    # As in conftest: Starlette 1.x asks for httpx2 under TestClient; httpx works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

ACE = re.compile(
    rb'\{"accessErrorId":"ACE\d{10}","message":"You\'ll need additional permissions to perform this action. '
    rb'Permissions needed: (?P<needed>[^"]+)","title":"Access denied"\}'
)
PASSWORD_FAILED = (
    b'{"extra":null,"message":"Invalid username or password","messageId":"password-auth.failed",'
    b'"statusCode":401,"traceID":""}'
)
ORG_MISMATCH = (
    b'{"extra":null,"message":"API key does not belong to the requested organization",'
    b'"messageId":"api-key.organization-mismatch","statusCode":401,"traceID":""}'
)
SYNCED_REFUSAL = (
    b'{"message":"cannot change role for externally synced user","messageId":"org.externallySynced",'
    b'"statusCode":403,"traceID":""}'
)
SSO_NOT_FOUND = (
    b'{"message":"The provider was not found.","messageId":"sso.notFound","statusCode":404,"traceID":""}'
)
SAML_ON = "[auth.saml]\nenabled = true\n"

Make = Callable[..., InProcess]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    """``make(ini=None, cloud=True, edition=None)``: an in-process sandbox with every route module."""
    made: list[InProcess] = []

    def build(ini: str | None = None, *, cloud: bool = True, edition: str | None = None) -> InProcess:
        config = None
        if ini is not None:
            path = tmp_path / f"grafana-{len(made)}.ini"
            path.write_text(ini)
            config = load_config(path, env={})
        clock = Clock()
        store = Store(":memory:", clock=clock, **store_options(config))
        app = create_app(store, config=config, cloud=cloud, edition=edition)
        made.append(InProcess(TestClient(app, base_url="http://localhost:3000"), store, clock))
        return made[-1]

    yield build
    for sandbox in made:
        sandbox.client.close()
        sandbox.store.close()


@pytest.fixture
def cloud(make: Make) -> InProcess:
    return make()


def _call(sb: InProcess, method: str, path: str, token: str, body: Any = None, **headers: str) -> Any:
    return sb.client.request(method, path, headers={**bearer(token), **headers}, json=body)


def _denied(response: Any) -> str:
    """The permission an RBAC 403 names (asserting the body is exactly ``deny``'s)."""
    assert response.status_code == 403, response.content
    match = ACE.fullmatch(response.content)
    assert match is not None, response.content
    return match["needed"].decode()


# -- authentication ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("creds", [ADMIN, ("jane", "pw-jane")])
def test_cloud_refuses_basic_auth_even_with_right_password(cloud: InProcess, creds: tuple[str, str]) -> None:
    cloud.user("jane", grafana_admin=True)
    r = cloud.client.get("/api/org", headers=basic(*creds))
    assert (r.status_code, r.content) == (401, PASSWORD_FAILED)


def test_cloud_accepts_token_as_bearer_and_as_api_key_basic(cloud: InProcess) -> None:
    token = cloud.sa_token("Admin")
    assert cloud.client.get("/api/org", headers=bearer(token)).status_code == 200
    assert cloud.client.get("/api/org", headers=basic("api_key", token)).status_code == 200


# -- admin and global user APIs ---------------------------------------------------------------------------

GLOBAL_REFUSALS = [
    ("GET", "/api/users", None, "users:read"),
    ("GET", "/api/users/search?perpage=10", None, "users:read"),
    ("GET", "/api/users/2", None, "users:read"),
    ("GET", "/api/users/2/orgs", None, "users:read"),
    ("GET", "/api/users/2/teams", None, "users:read"),
    ("GET", "/api/users/lookup?loginOrEmail=jane", None, "users:read"),
    ("POST", "/api/users/2/using/1", None, "users:write"),
    ("POST", "/api/admin/users", {"login": "new", "password": "s3cret"}, "users:create"),
    ("PUT", "/api/admin/users/2/password", {"password": "new-secret"}, "users.password:write"),
    ("DELETE", "/api/admin/users/2", None, "users:delete"),
    ("POST", "/api/admin/users/2/disable", None, "users:disable"),
    ("POST", "/api/admin/users/2/enable", None, "users:enable"),
    ("POST", "/api/admin/users/2/logout", None, "users:logout"),
    ("GET", "/api/admin/users/2/auth-tokens", None, "users.authtoken:read"),
    ("POST", "/api/admin/users/2/revoke-auth-token", {"authTokenId": 1}, "users.authtoken:write"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "needed"), GLOBAL_REFUSALS)
def test_cloud_admin_and_global_user_apis_get_rbac_403(
    cloud: InProcess, method: str, path: str, body: Any, needed: str
) -> None:
    """§7.1: SA tokens cannot hold Grafana Admin, and global ``users:*`` belongs to Grafana Admin only."""
    jane = cloud.user("jane")
    assert jane.id == 2
    token = cloud.sa_token("Admin")
    assert _denied(_call(cloud, method, path, token, body)) == needed
    assert cloud.store.get_user(2) is not None  # nothing was changed on the way


def test_cloud_admin_permissions_route_answers_permission_denied_first(cloud: InProcess) -> None:
    """``reqGrafanaAdmin`` runs before RBAC on ``PUT /api/admin/users/:id/permissions`` (§3.3, §7.1)."""
    cloud.user("jane")
    r = _call(
        cloud, "PUT", "/api/admin/users/2/permissions", cloud.sa_token("Admin"), {"isGrafanaAdmin": True}
    )
    assert (r.status_code, r.content) == (403, b'{"message":"Permission denied"}')


def test_cloud_password_accounts_cannot_be_created_any_way(cloud: InProcess) -> None:
    token = cloud.sa_token("Admin")
    body = {"login": "new", "email": "new@example.com", "password": "s3cret"}
    assert _denied(_call(cloud, "POST", "/api/admin/users", token, body)) == "users:create"
    # Adding to the org needs an existing account; it never creates one.
    r = _call(cloud, "POST", "/api/org/users", token, {"loginOrEmail": "new@example.com", "role": "Viewer"})
    assert (r.status_code, r.content) == (404, b'{"message":"User not found"}')
    assert cloud.store.get_user_by_login_or_email("new") is None


# -- a single org -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ini", [None, "[users]\nallow_org_create = true\n"])
def test_cloud_creating_orgs_is_refused(make: Make, ini: str | None) -> None:
    """``POST /api/orgs`` is authorised in the global org: ``orgs:create`` (§4.1); ``allow_org_create``
    grants it to users only, never to a service account."""
    sb = make(ini)
    r = _call(sb, "POST", "/api/orgs", sb.sa_token("Admin"), {"name": "Second"})
    assert _denied(r) == "orgs:create"
    assert sb.store.get_org_by_name("Second") is None


@pytest.mark.parametrize(
    ("method", "path", "body", "needed"),
    [
        ("GET", "/api/orgs", None, "orgs:read"),
        ("GET", "/api/orgs?perpage=1", None, "orgs:read"),
        ("GET", "/api/orgs/name/Main%20Org.", None, "orgs:read"),
        ("GET", "/api/orgs/2", None, "orgs:read"),
        ("GET", "/api/orgs/2/users", None, "org.users:read"),
        ("GET", "/api/orgs/2/users/search", None, "org.users:read"),
        ("POST", "/api/orgs/2/users", {"loginOrEmail": "jane", "role": "Viewer"}, "org.users:add"),
        ("PATCH", "/api/orgs/2/users/2", {"role": "Admin"}, "org.users:write"),
        ("DELETE", "/api/orgs/2/users/2", None, "org.users:remove"),
    ],
)
def test_cloud_multi_org_apis_get_rbac_403(
    cloud: InProcess, method: str, path: str, body: Any, needed: str
) -> None:
    """Org search is global (``orgs:read`` in the global org); another org's routes are authorised in that
    org (``authorizeInOrg(UseOrgFromContextParams)``), where the token has no role (§4.1)."""
    cloud.user("jane")
    assert _denied(_call(cloud, method, path, cloud.sa_token("Admin"), body)) == needed


def test_cloud_token_cannot_switch_org(cloud: InProcess) -> None:
    """A token carries its org: asking for another by header or query is the org-mismatch 401 (§7.1)."""
    token = cloud.sa_token("Admin")
    r = cloud.client.get("/api/org/users", headers={**bearer(token), "X-Grafana-Org-Id": "2"})
    assert (r.status_code, r.content) == (401, ORG_MISMATCH)
    r = _call(cloud, "GET", "/api/org/users?targetOrgId=2", token)
    assert (r.status_code, r.content) == (401, ORG_MISMATCH)
    r = _call(cloud, "GET", "/api/user/orgs", token)
    assert r.status_code == 304  # user-only route: "Endpoint only available for users"


def test_cloud_own_org_routes_work_by_id_too(cloud: InProcess) -> None:
    cloud.user("jane")
    token = cloud.sa_token("Admin")
    assert json.loads(_call(cloud, "GET", "/api/orgs/1", token).content)["name"] == "Main Org."
    logins = [u["login"] for u in json.loads(_call(cloud, "GET", "/api/orgs/1/users", token).content)]
    assert "jane" in logins


# -- invites ----------------------------------------------------------------------------------------------


def test_cloud_invites_create_list_and_revoke(cloud: InProcess) -> None:
    token = cloud.sa_token("Admin")
    form = {"loginOrEmail": "newcomer@example.com", "name": "Newcomer", "role": "editor", "sendEmail": False}
    r = _call(cloud, "POST", "/api/org/invites", token, form)
    assert (r.status_code, r.content) == (200, b'{"message":"Created invite for newcomer@example.com"}')
    invites = json.loads(_call(cloud, "GET", "/api/org/invites", token).content)
    assert [(i["email"], i["name"], i["role"], i["status"], i["orgId"]) for i in invites] == [
        ("newcomer@example.com", "Newcomer", "Editor", "InvitePending", 1)
    ]
    code = invites[0]["code"]
    assert invites[0]["url"] == f"https://sandbox.grafana.net/invite/{code}"
    r = _call(cloud, "PATCH", f"/api/org/invites/{code}/revoke", token)
    assert (r.status_code, r.content) == (200, b'{"message":"Invite revoked"}')
    assert json.loads(_call(cloud, "GET", "/api/org/invites", token).content) == []


def test_cloud_invite_of_an_existing_user_adds_them(cloud: InProcess) -> None:
    jane = cloud.user("jane", name="Jane Doe", orgs={})
    token = cloud.sa_token("Admin")
    r = _call(cloud, "POST", "/api/org/invites", token, {"loginOrEmail": "jane", "role": "Viewer"})
    assert (r.status_code, r.content) == (
        200,
        b'{"message":"Existing Grafana user Jane Doe added to org Main Org.","userId":%d}' % jane.id,
    )
    assert cloud.store.org_role(1, jane.id) == "Viewer"


def test_cloud_invites_need_an_admin_token(cloud: InProcess) -> None:
    token = cloud.sa_token("Editor", name="editor-bot")
    r = _call(cloud, "POST", "/api/org/invites", token, {"loginOrEmail": "x@example.com", "role": "Admin"})
    assert _denied(r) == "org.users:add"  # RBAC runs before the role ceiling: an Editor lacks org.users:add


def test_cloud_invite_with_login_form_disabled_is_refused_for_new_people(make: Make) -> None:
    """peers.md §1.4: with ``disable_login_form`` a brand-new person cannot be invited."""
    sb = make("[auth]\ndisable_login_form = true\n")
    r = _call(
        sb,
        "POST",
        "/api/org/invites",
        sb.sa_token("Admin"),
        {"loginOrEmail": "x@example.com", "role": "Viewer"},
    )
    assert (r.status_code, r.content) == (
        400,
        b'{"message":"Cannot invite external user when login is disabled."}',
    )


# -- frontend settings and health ------------------------------------------------------------------------


def test_cloud_frontend_settings_look_like_a_grafana_net_stack(cloud: InProcess) -> None:
    token = cloud.sa_token("Viewer", name="viewer-bot")
    r = _call(cloud, "GET", "/api/frontend/settings", token)
    assert r.status_code == 200
    body = json.loads(r.content)
    assert re.fullmatch(r"https://[a-z0-9-]+\.grafana\.net/", body["appUrl"])
    assert body["appSubUrl"] == ""
    assert body["namespace"] == "stacks-1"  # CloudNamespaceFormatter, never "default"/"org-<id>" (§7.2)
    info = body["buildInfo"]
    assert list(info) == [
        "hideVersion", "version", "versionString", "commit", "commitShort", "buildstamp", "edition",
        "latestVersion", "hasUpdate", "env",
    ]  # fmt: skip
    assert re.fullmatch(r"11\.5\.2-\d+", info["version"])
    assert info["versionString"] == f"Grafana v{info['version']} (598e0338d5)"
    assert (info["edition"], info["env"], info["hasUpdate"]) == ("Enterprise", "production", False)


def test_cloud_health_reports_the_stack_build_version(cloud: InProcess, make: Make) -> None:
    health = json.loads(cloud.client.get("/api/health").content)
    token = cloud.sa_token("Viewer", name="viewer-bot")
    settings = json.loads(_call(cloud, "GET", "/api/frontend/settings", token).content)
    assert health["version"] == settings["buildInfo"]["version"]
    assert health["database"] == "ok"
    self_hosted = make(cloud=False)
    assert json.loads(self_hosted.client.get("/api/health").content)["version"] == "11.5.2"
    body = json.loads(self_hosted.client.get("/api/frontend/settings", headers=basic(*ADMIN)).content)
    assert (body["appUrl"], body["namespace"]) == ("http://localhost:3000/", "default")


# -- what a Cloud client does -----------------------------------------------------------------------------


def test_cloud_client_flow_token_search_patch_role(cloud: InProcess) -> None:
    """The baton-style Cloud grant (peers.md §1.2, §1.4): validate with /api/org, find the user among the
    org's users, PATCH the role, read it back."""
    cloud.user("jane", name="Jane Doe", orgs={1: "Viewer"})
    token = cloud.sa_token("Admin")
    assert json.loads(_call(cloud, "GET", "/api/org", token).content)["id"] == 1
    page = json.loads(
        _call(cloud, "GET", "/api/org/users/search?query=jane&perpage=50&page=1", token).content
    )
    assert page["totalCount"] == 1
    hit = page["orgUsers"][0]
    assert (hit["login"], hit["role"], hit["isExternallySynced"]) == ("jane", "Viewer", False)
    r = _call(cloud, "PATCH", f"/api/org/users/{hit['userId']}", token, {"role": "Editor"})
    assert (r.status_code, r.content) == (200, b'{"message":"Organization user updated"}')
    users = json.loads(_call(cloud, "GET", "/api/org/users", token).content)
    assert {u["login"]: u["role"] for u in users}["jane"] == "Editor"


def test_cloud_client_flow_meets_the_synced_user_refusal(make: Make) -> None:
    sb = make(SAML_ON)
    jane = sb.user("jane", module="auth.saml")
    r = _call(sb, "PATCH", f"/api/org/users/{jane.id}", sb.sa_token("Admin"), {"role": "Editor"})
    assert (r.status_code, r.content) == (403, SYNCED_REFUSAL)


# -- SAML needs a licence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud_mode", [False, True])
def test_open_source_edition_never_treats_saml_users_as_synced(make: Make, cloud_mode: bool) -> None:
    """On OSS the SAML authn client is not registered, so ``IsProviderEnabled`` is false for ``auth.saml``
    whatever ``[auth.saml] enabled`` says — consistent with the SSO settings API's 404 for ``saml``."""
    sb = make(SAML_ON + "role_values_grafana_admin = admins\n", cloud=cloud_mode, edition="Open Source")
    jane = sb.user("jane", module="auth.saml")
    token = sb.sa_token("Admin")
    if not cloud_mode:  # a Cloud token has no settings:read; the self-hosted Grafana Admin has
        r = sb.client.get("/api/v1/sso-settings/saml", headers=basic(*ADMIN))
        assert (r.status_code, r.content) == (404, SSO_NOT_FOUND)
    users = {u["login"]: u for u in json.loads(_call(sb, "GET", "/api/org/users", token).content)}
    assert (users["jane"]["authLabels"], users["jane"]["isExternallySynced"]) == (["SAML"], False)
    settings = json.loads(_call(sb, "GET", "/api/frontend/settings", token).content)
    assert (settings["samlEnabled"], settings["buildInfo"]["edition"]) == (False, "Open Source")
    r = _call(sb, "PATCH", f"/api/org/users/{jane.id}", token, {"role": "Editor"})
    assert (r.status_code, r.content) == (200, b'{"message":"Organization user updated"}')


def test_open_source_edition_lets_admins_manage_saml_users_as_local(make: Make) -> None:
    sb = make(SAML_ON + "role_values_grafana_admin = admins\n", cloud=False, edition="Open Source")
    jane = sb.user("jane", module="auth.saml")
    profile = json.loads(sb.client.get(f"/api/users/{jane.id}", headers=basic(*ADMIN)).content)
    assert (profile["isExternallySynced"], profile["isGrafanaAdminExternallySynced"]) == (False, False)
    r = sb.client.put(
        f"/api/admin/users/{jane.id}/password", headers=basic(*ADMIN), json={"password": "n3w-pass"}
    )
    assert (r.status_code, r.content) == (200, b'{"message":"User password updated"}')
    r = sb.client.put(
        f"/api/admin/users/{jane.id}/permissions", headers=basic(*ADMIN), json={"isGrafanaAdmin": True}
    )
    assert (r.status_code, r.content) == (200, b'{"message":"User permissions updated"}')


def test_enterprise_edition_keeps_saml_users_synced(make: Make) -> None:
    """The same ini on the (default) Enterprise edition: SAML is enabled, so the lock applies."""
    sb = make(SAML_ON + "role_values_grafana_admin = admins\n", cloud=False)
    jane = sb.user("jane", module="auth.saml")
    profile = json.loads(sb.client.get(f"/api/users/{jane.id}", headers=basic(*ADMIN)).content)
    assert (profile["isExternallySynced"], profile["isGrafanaAdminExternallySynced"]) == (True, True)
    r = sb.client.patch(f"/api/org/users/{jane.id}", headers=basic(*ADMIN), json={"role": "Editor"})
    assert (r.status_code, r.content) == (403, SYNCED_REFUSAL)
    r = sb.client.put(
        f"/api/admin/users/{jane.id}/password", headers=basic(*ADMIN), json={"password": "n3w-pass"}
    )
    assert (r.status_code, r.content) == (403, b'{"message":"Cannot update external User"}')
    settings = json.loads(sb.client.get("/api/frontend/settings", headers=basic(*ADMIN)).content)
    assert settings["samlEnabled"] is True
    assert sb.client.get("/api/v1/sso-settings/saml", headers=basic(*ADMIN)).status_code == 200


# -- the served process ----------------------------------------------------------------------------------


def test_cloud_serve_prints_a_working_token_and_no_admin_password(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "gtool.sandbox", "--host", "127.0.0.1", "--port", "0", "--cloud"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GF_")}
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any("stop with Ctrl+C" in line for line in lines):
            line = process.stdout.readline()
            assert line, f"sandbox exited early: {lines}"
            lines.append(line.strip())
        url = next(line.split("listening on ", 1)[1] for line in lines if "listening on " in line)
        token = next(line.rsplit(" ", 1)[1] for line in lines if "service account token" in line)
        assert token.startswith("glsa_") and not any("admin credentials" in line for line in lines)
        deadline = time.monotonic() + 20
        while True:
            try:
                org = httpx.get(f"{url}/api/org", headers=bearer(token), timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "sandbox never answered"
                time.sleep(0.05)
        assert (org.status_code, org.json()["name"]) == (200, "Main Org.")
        refused = httpx.get(f"{url}/api/org", auth=ADMIN, timeout=2)
        assert (refused.status_code, refused.content) == (401, PASSWORD_FAILED)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    assert process.returncode == 0
