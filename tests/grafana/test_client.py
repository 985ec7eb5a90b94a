"""The sync client: URLs and sub-paths, auth, TLS, timeouts, org context, every route, and no secret leaks."""

from __future__ import annotations

import base64
import copy
import json
import logging
import pickle
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gtool.grafana import (
    AmbiguousWrite,
    ApiKeyBasicAuth,
    BasicAuth,
    ConfigurationError,
    ConnectError,
    GrafanaClient,
    GrafanaError,
    HTTPStatusError,
    InsecureTLSWarning,
    RequestTimeout,
    ResponseDecodeError,
    RoleLockedByExternalSync,
    Secret,
    Timeouts,
    TokenAuth,
)
from gtool.grafana.retry import NO_RETRY
from tests.conftest import ROOT
from tests.grafana import (
    BASE,
    E2,
    E6,
    E7_OK,
    E8,
    E9_UNAUTHORIZED,
    E11,
    E13,
    PASSWORD,
    TOKEN,
    FakeGrafana,
    paged_users,
    raw_path,
    resp,
)

OK = resp(200, '{"message":"ok"}')


# --- base URL -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base", ["https://host/grafana/", "https://host/grafana", " https://host/grafana// "]
)
def test_sub_path_base_url(base: str) -> None:
    fake = FakeGrafana(base="https://host/grafana").on(
        "GET", "/grafana/api/users/2", resp(200, {"id": 2, "login": "j"})
    )
    client = GrafanaClient(base, BasicAuth("a", PASSWORD), transport=httpx.MockTransport(fake))
    assert client.base_url == "https://host/grafana"
    assert client.get_user(2).login == "j"
    assert str(fake.requests[0].url) == "https://host/grafana/api/users/2"


def test_credentials_in_url_are_taken_out() -> None:
    client = GrafanaClient(f"https://admin:{PASSWORD}@host:3000/g/")
    assert client.base_url == "https://host:3000/g"
    assert isinstance(client.auth, BasicAuth) and client.auth.username == "admin"
    assert PASSWORD not in repr(client)
    token_client = GrafanaClient(f"https://api_key:{TOKEN}@host/")
    assert isinstance(token_client.auth, ApiKeyBasicAuth)


@pytest.mark.parametrize(
    "bad",
    [
        "host/grafana",
        "ftp://host",
        "https://",
        "https://host/?orgId=1",
        "https://host/#x",
        "http://host:99999",
    ],
)
def test_bad_base_urls(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        GrafanaClient(bad)


def test_ipv6_base_url() -> None:
    assert GrafanaClient("http://[::1]:3000/").base_url == "http://[::1]:3000"


# --- auth -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "header"),
    [
        (BasicAuth("admin", PASSWORD), "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()),
        (TokenAuth(TOKEN), f"Bearer {TOKEN}"),
        (ApiKeyBasicAuth(TOKEN), "Basic " + base64.b64encode(f"api_key:{TOKEN}".encode()).decode()),
    ],
    ids=["basic", "bearer", "api_key"],
)
def test_authorization_header(auth: Any, header: str) -> None:
    fake = FakeGrafana().on("GET", "/api/health", resp(200, E11))
    fake.client(auth).health()
    assert fake.requests[0].headers["authorization"] == header


def test_secret_hides_itself() -> None:
    s = Secret(PASSWORD)
    assert repr(s) == "Secret('****')" and str(s) == "****" and f"{s}" == "****" and f"{s:>20}" == "****"
    assert s.reveal() == PASSWORD and s == Secret(PASSWORD) and s != Secret("other") and bool(s)
    assert copy.deepcopy(s) is s
    with pytest.raises(TypeError):
        pickle.dumps(s)
    assert repr(BasicAuth("admin", PASSWORD)) == "BasicAuth(username='admin', password=Secret('****'))"
    assert repr(TokenAuth(TOKEN)) == "TokenAuth(token=Secret('****'))"


# --- TLS ------------------------------------------------------------------------------------------------


def test_tls_verified_by_default() -> None:
    assert GrafanaClient(BASE).tls_verify is True


def test_insecure_warns_every_time() -> None:
    # Same call site, same text: Python's default filter would show it once; gtool's own filter shows all.
    with warnings.catch_warnings(record=True) as caught:
        for _ in range(3):
            GrafanaClient(BASE, insecure=True)
    insecure = [w for w in caught if issubclass(w.category, InsecureTLSWarning)]
    assert len(insecure) == 3
    assert "verification is off for https://grafana.example.com" in str(insecure[0].message)
    assert insecure[0].filename == __file__  # points at the caller, not at gtool


def test_insecure_disables_verification() -> None:
    with pytest.warns(InsecureTLSWarning):
        assert GrafanaClient(BASE, insecure=True).tls_verify is False


def self_signed_pem() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gtool test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2020, 1, 1))
        .not_valid_after(datetime(2040, 1, 1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_ca_bundle(tmp_path: Path) -> None:
    import ssl

    ca = tmp_path / "ca.pem"
    ca.write_bytes(self_signed_pem())
    ctx = GrafanaClient(BASE, ca_bundle=str(ca)).tls_verify
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_ca_bundle_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot use CA bundle"):
        GrafanaClient(BASE, ca_bundle=str(tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigurationError, match="cannot use CA bundle"):
        GrafanaClient(BASE, ca_bundle=str(tmp_path / "junk.pem"))
    with pytest.raises(ConfigurationError, match="contradict"):
        GrafanaClient(BASE, ca_bundle=str(tmp_path / "junk.pem"), insecure=True)


# --- timeouts -------------------------------------------------------------------------------------------


def test_every_request_has_timeouts() -> None:
    fake = FakeGrafana().on("GET", "/api/health", resp(200, E11))
    fake.client().health()
    assert fake.requests[0].extensions["timeout"] == {
        "connect": 5.0,
        "read": 30.0,
        "write": 30.0,
        "pool": 10.0,
    }


def test_timeouts_are_overridable() -> None:
    fake = FakeGrafana().on("GET", "/api/health", resp(200, E11))
    fake.client(timeout=Timeouts(connect=2, read=120)).health()
    fake.client(timeout=7).health()
    assert (
        fake.requests[0].extensions["timeout"]["read"] == 120
        and fake.requests[0].extensions["timeout"]["connect"] == 2
    )
    assert fake.requests[1].extensions["timeout"] == {"connect": 5.0, "read": 7.0, "write": 7.0, "pool": 10.0}


@pytest.mark.parametrize("bad", [0, -1])
def test_timeouts_must_be_positive(bad: float) -> None:
    with pytest.raises(ConfigurationError):
        Timeouts(read=bad)


# --- org context ----------------------------------------------------------------------------------------


def org_header(r: httpx.Request) -> str | None:
    return r.headers.get("x-grafana-org-id")


def test_org_header_is_per_call_and_never_switches_org() -> None:
    fake = FakeGrafana()
    for path in ["/api/org/users/search", "/api/teams/search", "/api/serviceaccounts/search"]:
        fake.on("GET", path, resp(200, {"totalCount": 0, "page": 1, "perPage": 1000}))
    fake.on("GET", "/api/teams/4/members", resp(200, [])).on("PATCH", "/api/org/users/2", OK)
    client = fake.client(org_id=3)
    client.org_users()
    client.search_teams(org_id=5)
    client.search_service_accounts()
    client.team_members(4)
    client.update_current_org_user_role(2, "viewer", org_id=6)
    assert [org_header(r) for r in fake.requests] == ["3", "5", "3", "3", "6"]
    assert not any("/using/" in r.url.path for r in fake.requests)


def test_no_org_header_by_default() -> None:
    fake = FakeGrafana().on("GET", "/api/org/users/search", resp(200, {"totalCount": 0}))
    fake.client().org_users()
    assert org_header(fake.requests[0]) is None


def test_admin_and_path_org_calls_never_send_the_header() -> None:
    fake = FakeGrafana()
    fake.on("GET", "/api/users/2", resp(200, {"id": 2, "login": "j"}))
    fake.on("GET", "/api/users/search", paged_users(1)).on("GET", "/api/orgs", resp(200, []))
    fake.on("GET", "/api/orgs/7/users/search", paged_users(1)).on("PATCH", "/api/orgs/7/users/2", OK)
    fake.on("PUT", "/api/admin/users/2/permissions", OK).on(
        "GET", "/api/user", resp(200, {"id": 1, "login": "a"})
    )
    client = fake.client(org_id=3)
    client.get_user(2)
    client.search_users()
    client.list_orgs()
    client.org_users(7)
    client.update_org_user_role(7, 2, "Editor")
    client.set_grafana_admin(2, True)
    client.current_user()
    assert [org_header(r) for r in fake.requests] == [None] * 7


# --- routes ---------------------------------------------------------------------------------------------


def body(r: httpx.Request) -> Any:
    return json.loads(r.content) if r.content else None


@dataclass(frozen=True)
class Route:
    name: str
    action: Callable[[GrafanaClient], object]
    method: str
    path: str  # as sent, percent-encoding kept
    params: dict[str, str] = field(default_factory=dict)
    sent: Any = None  # the JSON body
    reply: str = '{"id":1,"name":"x","message":"ok"}'


LIST = "[]"
ROUTES = [
    Route(
        "lookup", lambda c: c.lookup_user("j@x.io"), "GET", "/api/users/lookup", {"loginOrEmail": "j@x.io"}
    ),
    Route("user orgs", lambda c: c.user_orgs(2), "GET", "/api/users/2/orgs", reply=LIST),
    Route("user by uid", lambda c: c.get_user("ae5t1b2c3d4e5f"), "GET", "/api/users/ae5t1b2c3d4e5f"),
    Route("user teams", lambda c: c.user_teams(2), "GET", "/api/users/2/teams", reply=LIST),
    Route("org", lambda c: c.get_org(3), "GET", "/api/orgs/3"),
    Route("org by name", lambda c: c.get_org_by_name("Main Org."), "GET", "/api/orgs/name/Main%20Org."),
    Route("org name with slash", lambda c: c.get_org_by_name("a/b"), "GET", "/api/orgs/name/a%2Fb"),
    Route("current org", lambda c: c.current_org(), "GET", "/api/org"),
    Route(
        "add",
        lambda c: c.add_org_user(1, "jane", "viewer"),
        "POST",
        "/api/orgs/1/users",
        sent={"loginOrEmail": "jane", "role": "Viewer"},
    ),
    Route(
        "role",
        lambda c: c.update_org_user_role(1, 2, "admin"),
        "PATCH",
        "/api/orgs/1/users/2",
        sent={"role": "Admin"},
    ),
    Route("remove", lambda c: c.remove_org_user(1, 2), "DELETE", "/api/orgs/1/users/2"),
    Route(
        "add current",
        lambda c: c.add_current_org_user("jane", "Editor"),
        "POST",
        "/api/org/users",
        sent={"loginOrEmail": "jane", "role": "Editor"},
    ),
    Route("remove current", lambda c: c.remove_current_org_user(2), "DELETE", "/api/org/users/2"),
    Route(
        "invite",
        lambda c: c.invite_user("j@x", "Viewer", send_email=False),
        "POST",
        "/api/org/invites",
        sent={"loginOrEmail": "j@x", "name": "", "role": "Viewer", "sendEmail": False},
    ),
    Route("invites", lambda c: c.list_invites(), "GET", "/api/org/invites", reply=LIST),
    Route("revoke invite", lambda c: c.revoke_invite("abc"), "PATCH", "/api/org/invites/abc/revoke"),
    Route(
        "admin on",
        lambda c: c.set_grafana_admin(2, True),
        "PUT",
        "/api/admin/users/2/permissions",
        sent={"isGrafanaAdmin": True},
    ),
    Route(
        "admin off",
        lambda c: c.set_grafana_admin(2, False),
        "PUT",
        "/api/admin/users/2/permissions",
        sent={"isGrafanaAdmin": False},
    ),
    Route(
        "create",
        lambda c: c.create_user("bob", PASSWORD, email="bob@x", name="Bob", org_id=2),
        "POST",
        "/api/admin/users",
        sent={"name": "Bob", "email": "bob@x", "login": "bob", "password": PASSWORD, "orgId": 2},
    ),
    Route("disable", lambda c: c.disable_user(2), "POST", "/api/admin/users/2/disable"),
    Route("enable", lambda c: c.enable_user(2), "POST", "/api/admin/users/2/enable"),
    Route("delete", lambda c: c.delete_user(2), "DELETE", "/api/admin/users/2"),
    Route("logout", lambda c: c.revoke_user_sessions(2), "POST", "/api/admin/users/2/logout"),
    Route("sessions", lambda c: c.user_sessions(2), "GET", "/api/admin/users/2/auth-tokens", reply=LIST),
    Route("team", lambda c: c.get_team("de5t9q7r1s2t3u"), "GET", "/api/teams/de5t9q7r1s2t3u"),
    Route("team groups", lambda c: c.team_groups(1), "GET", "/api/teams/1/groups", reply=LIST),
    Route("sso list", lambda c: c.list_sso_settings(), "GET", "/api/v1/sso-settings", reply=LIST),
    Route("frontend", lambda c: c.build_info(), "GET", "/api/frontend/settings"),
]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_route(route: Route) -> None:
    fake = FakeGrafana().on(route.method, route.path, resp(200, route.reply))
    route.action(fake.client())
    (req,) = fake.requests
    assert (req.method, raw_path(req)) == (route.method, route.path)
    assert dict(req.url.params) == route.params
    assert body(req) == route.sent
    if route.sent is not None:
        assert req.headers["content-type"] == "application/json"


def test_role_change_is_one_patch_even_when_refused() -> None:
    fake = FakeGrafana().on("PATCH", "/api/orgs/1/users/2", resp(403, E6))
    with pytest.raises(RoleLockedByExternalSync):
        fake.client().update_org_user_role(1, 2, "Admin")
    assert fake.calls() == ["PATCH /api/orgs/1/users/2"]  # no DELETE + POST fallback


def test_unknown_role_is_refused_before_sending() -> None:
    fake = FakeGrafana()
    with pytest.raises(ValueError, match="unknown org role"):
        fake.client().update_org_user_role(1, 2, "Owner")
    assert fake.requests == []


def test_add_returns_user_id() -> None:
    fake = FakeGrafana().on("POST", "/api/orgs/1/users", resp(200, E7_OK))
    assert fake.client().add_org_user(1, "jane", "Viewer").id == 2


def test_lookup_is_a_single_request() -> None:
    fake = FakeGrafana().on(
        "GET", "/api/users/lookup", resp(200, {"id": 9, "login": "zed", "authLabels": None})
    )
    assert fake.client().lookup_user("zed").id == 9
    assert fake.calls() == ["GET /api/users/lookup"]


def test_user_orgs_e2() -> None:
    fake = FakeGrafana().on("GET", "/api/users/2/orgs", resp(200, E2))
    assert [(o.org_id, o.role) for o in fake.client().user_orgs(2)] == [(1, "Editor"), (3, "Viewer")]


def test_remove_current_org_user_warns_in_its_docstring() -> None:
    doc = GrafanaClient.remove_current_org_user.__doc__ or ""
    assert "WARNING" in doc and "deletes the user" in doc
    assert "never deletes" in (GrafanaClient.remove_org_user.__doc__ or "") or "survives" in (
        GrafanaClient.remove_org_user.__doc__ or ""
    )


def test_health_ok_and_failing() -> None:
    fake = FakeGrafana().on("GET", "/api/health", resp(200, E11), resp(503, '{\n  "database": "failing"\n}'))
    client = fake.client(retry=NO_RETRY)
    assert client.health().ok
    assert not client.health().ok


def test_sso_settings_with_etag() -> None:
    fake = FakeGrafana().on("GET", "/api/v1/sso-settings/saml", resp(200, E13, {"etag": "db87f729761898ee"}))
    sso = fake.client().get_sso_settings("saml")
    assert (
        sso.etag == "db87f729761898ee"
        and sso.enabled
        and sso.settings["idpMetadataUrl"].startswith("https://")
    )


def test_dry_run_description_masks_password() -> None:
    client = GrafanaClient("https://host/grafana/", BasicAuth("admin", PASSWORD), org_id=4)
    assert client.describe(client.calls.update_org_user_role(1, 2, "admin")) == (
        'PATCH https://host/grafana/api/orgs/1/users/2 {"role":"Admin"}'
    )
    assert client.describe(client.calls.update_current_org_user_role(2, "viewer")) == (
        'PATCH https://host/grafana/api/org/users/2 [X-Grafana-Org-Id: 4] {"role":"Viewer"}'
    )
    text = client.describe(client.calls.create_user("bob", PASSWORD))
    assert PASSWORD not in text and '"password":"****"' in text


# --- failures -------------------------------------------------------------------------------------------


def test_html_instead_of_json_is_a_decode_error() -> None:
    fake = FakeGrafana().on(
        "GET",
        "/api/users/2",
        httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"}),
    )
    with pytest.raises(ResponseDecodeError) as info:
        fake.client().get_user(2)
    assert "text/html" in str(info.value) and "sub-path" in info.value.hint


def test_redirect_is_not_followed() -> None:
    fake = FakeGrafana().on(
        "GET", "/api/users/2", httpx.Response(301, headers={"location": "https://elsewhere/api/users/2"})
    )
    with pytest.raises(HTTPStatusError, match="redirected to https://elsewhere"):
        fake.client().get_user(2)
    assert len(fake.requests) == 1


def test_connect_error_and_timeout() -> None:
    fake = FakeGrafana().on("GET", "/api/user", httpx.ConnectError("[Errno 111] Connection refused"))
    fake.on("GET", "/api/users/2", httpx.ConnectTimeout("timed out"))
    client = fake.client(retry=NO_RETRY)
    with pytest.raises(ConnectError, match="Connection refused"):
        client.current_user()
    with pytest.raises(RequestTimeout) as info:
        client.get_user(2)
    assert info.value.phase == "connect" and not info.value.request_sent


def test_context_manager_closes() -> None:
    with GrafanaClient(BASE) as client:
        pass
    assert client._http.is_closed


# --- no secret anywhere ---------------------------------------------------------------------------------


def _echo_headers(request: httpx.Request) -> httpx.Response:
    # A misbehaving proxy that reflects the request, credential included, in its error page.
    return resp(
        502,
        json.dumps({"message": f"upstream failed; Authorization: {request.headers['authorization']}",
                    "request_headers": dict(request.headers), "url": str(request.url)}),
    )  # fmt: skip


def _error_texts(err: GrafanaError) -> list[str]:
    texts = [str(err), repr(err), err.hint, repr(err.request), repr(err.response), repr(vars(err))]
    texts.append("".join(traceback.format_exception(err)))
    if err.response is not None:
        texts.append(err.response.body)
    return texts


@pytest.mark.parametrize(
    "auth",
    [BasicAuth("admin", PASSWORD), TokenAuth(TOKEN), ApiKeyBasicAuth(TOKEN)],
    ids=["basic", "bearer", "api_key"],
)
def test_secrets_never_appear(auth: Any, caplog: pytest.LogCaptureFixture) -> None:
    secrets = [PASSWORD, TOKEN, f"admin:{PASSWORD}", base64.b64encode(f"admin:{PASSWORD}".encode()).decode()]
    secrets += [base64.b64encode(f"api_key:{TOKEN}".encode()).decode()]
    fake = FakeGrafana()
    fake.on("GET", "/api/users/2", _echo_headers)
    fake.on("GET", "/api/user", resp(401, E9_UNAUTHORIZED))
    fake.on("GET", "/api/users/search", resp(403, E8))
    fake.on("PATCH", "/api/orgs/1/users/2", httpx.ReadTimeout("timed out"))
    fake.on("POST", "/api/admin/users", _echo_headers)
    fake.on("GET", "/api/orgs/1", httpx.ConnectError("refused"))
    actions: list[Callable[[GrafanaClient], object]] = [
        lambda c: c.get_user(2),
        lambda c: c.current_user(),
        lambda c: c.search_users(),
        lambda c: c.update_org_user_role(1, 2, "Admin"),
        lambda c: c.create_user("bob", PASSWORD),
        lambda c: c.get_org(1),
    ]
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as caught:
        client = fake.client(auth, insecure=True, org_id=1)
        texts += [
            repr(client),
            str(client),
            repr(auth),
            str(auth),
            repr(client.calls.create_user("bob", PASSWORD)),
        ]
        texts.append(client.describe(client.calls.create_user("bob", PASSWORD)))
        for action in actions:
            with pytest.raises(GrafanaError) as info:
                action(client)
            texts += _error_texts(info.value)
            if isinstance(info.value, AmbiguousWrite):
                texts += _error_texts(info.value.cause)
    texts.append(caplog.text)
    texts += [str(w.message) for w in caught]
    blob = "\n".join(texts)
    assert "****" in blob  # the echoed header was there, masked
    for secret in secrets:
        assert secret not in blob
    # ...while the wire did carry the credential where it belongs.
    assert fake.requests[0].headers["authorization"] == auth.authorization()


# --- import hygiene -------------------------------------------------------------------------------------


def _loaded_after(statement: str) -> set[str]:
    probe = f"import sys\n{statement}\nprint(','.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    )
    return set(out.stdout.strip().split(","))


def test_importing_the_client_loads_no_ui_or_server_stack() -> None:
    loaded = _loaded_after(
        "import gtool.grafana; from gtool.grafana import GrafanaClient, AsyncGrafanaClient"
    )
    # httpx itself imports rich when it is installed (its CLI module); textual and the server stack stay out.
    assert not loaded & {"textual", "starlette", "uvicorn"}
    assert "httpx" in loaded


def test_errors_and_models_do_not_need_httpx() -> None:
    loaded = _loaded_after(
        "import gtool.grafana, gtool.grafana.errors, gtool.grafana.models, gtool.grafana.capabilities"
    )
    assert "httpx" not in loaded


def test_saml_never_imports_grafana() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "gtool" / "saml").rglob("*.py")
        if "gtool.grafana" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_insecure_warning_respects_an_ignore_filter() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", InsecureTLSWarning)
        GrafanaClient(BASE, insecure=True)
    assert caught == []


def test_request_info_masks_secret_query_values() -> None:
    from gtool.grafana.base import ApiRequest

    req = ApiRequest("GET", "/api/x", (("query", "jane"), ("token", TOKEN), ("Password", PASSWORD)))
    info = GrafanaClient(BASE).request_info(req)
    assert info.url == f"{BASE}/api/x?query=jane&token=****&Password=****"
    assert TOKEN not in str(info) and PASSWORD not in str(info)
    assert req.url(BASE, redact=False).endswith(f"token={TOKEN}&Password={PASSWORD.replace('!', '%21')}")
