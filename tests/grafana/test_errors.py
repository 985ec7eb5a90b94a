"""Every error body of the contract (§9.1–§9.3, §11 E6–E10, §13) maps to the right class and facts."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from gtool.grafana import errors
from gtool.grafana.auth import BasicAuth
from gtool.grafana.base import ApiResponse, map_error
from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    GrafanaAdminLocked,
    HTTPStatusError,
    LastAdminError,
    NotFound,
    OrganizationMismatch,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    RequestInfo,
    RoleAboveCaller,
    RoleLockedByExternalSync,
    ServerError,
    UserOnlyEndpoint,
    role_sync_fix,
)
from gtool.grafana.retry import NO_RETRY
from tests.grafana import (
    BASE,
    E6,
    E7,
    E8,
    E9_INVALID_KEY,
    E9_UNAUTHORIZED,
    E10,
    E10_NOT_FOUND,
    ORG_MISMATCH,
    PASSWORD,
)

REQ = RequestInfo("PATCH", f"{BASE}/api/orgs/1/users/2")
NOW = 1_700_000_000.0


@dataclass
class Case:
    id: str
    status: int
    body: str
    cls: type[HTTPStatusError]
    attrs: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


CASES = [
    # 400
    Case("E10 bad request data", 400, E10, BadRequest, {"message": "bad request data", "trace_id": None}),
    Case("invalid role", 400, '{"message":"Invalid role specified"}', BadRequest),
    Case(
        "last org admin (demote)",
        400,
        '{"message":"Cannot change role so that there is no organization admin left"}',
        LastAdminError,
    ),
    Case(
        "last org admin (remove)", 400, '{"message":"Cannot remove last organization admin"}', LastAdminError
    ),
    Case("last grafana admin", 400, '{"message":"cannot remove last grafana admin"}', LastAdminError),
    Case(
        "unknown sort (errutil)",
        400,
        '{"message":"BadRequest","messageId":"unknown sorting option","statusCode":400,"traceID":""}',
        BadRequest,
        {"message_id": "unknown sorting option"},
    ),
    Case("userId is invalid", 400, '{"message":"userId is invalid","traceID":""}', BadRequest),
    Case("logout yourself", 400, '{"message":"You cannot logout yourself"}', BadRequest),
    # 401
    Case("E9 unauthorized", 401, E9_UNAUTHORIZED, AuthenticationFailed, {"message_id": "auth.unauthorized"}),
    Case("E9 invalid API key", 401, E9_INVALID_KEY, AuthenticationFailed, {"message": "Invalid API key"}),
    Case(
        "expired API key",
        401,
        '{"extra":null,"message":"Expired API key","messageId":"api-key.expired",'
        '"statusCode":401,"traceID":""}',
        AuthenticationFailed,
    ),
    Case(
        "org mismatch",
        401,
        ORG_MISMATCH,
        OrganizationMismatch,
        {"message_id": "api-key.organization-mismatch"},
    ),
    Case(
        "bad password",
        401,
        '{"extra":null,"message":"Invalid username or password","messageId":"password-auth.failed",'
        '"statusCode":401,"traceID":""}',
        AuthenticationFailed,
    ),
    Case("old bad password", 401, '{"message":"Invalid username or password"}', AuthenticationFailed),
    Case(
        "revoked session",
        401,
        '{"error":{"id":"ERR_TOKEN_REVOKED","maxConcurrentSessions":3},"message":"Token revoked"}',
        AuthenticationFailed,
        {"message": "Token revoked"},
    ),
    Case("not a valid org", 401, '{"message":"Not a valid organization"}', AuthenticationFailed),
    # 403
    Case(
        "E6 externally synced",
        403,
        E6,
        RoleLockedByExternalSync,
        {"message_id": "org.externallySynced", "provider": None, "trace_id": None},
    ),
    Case(
        "E6 unified-logging order",
        403,
        '{"statusCode":403,"messageId":"org.externallySynced",'
        '"message":"cannot change role for externally synced user"}',
        RoleLockedByExternalSync,
    ),
    Case(
        "E8 RBAC",
        403,
        E8,
        PermissionDenied,
        {
            "access_error_id": "ACE1646206561",
            "missing_permission": "users:read",
            "permissions": ("users:read",),
            "message_id": None,
        },
    ),
    Case(
        "RBAC any of",
        403,
        '{"accessErrorId":"ACE0123456789",'
        '"message":"You\'ll need additional permissions to perform this action. '
        'Permissions needed: any of org.users:read, teams.permissions:write","title":"Access denied"}',
        PermissionDenied,
        {"permissions": ("org.users:read", "teams.permissions:write")},
    ),
    Case(
        "RBAC older action/scopes form",
        403,
        '{"accessErrorId":"ACE9999999999",'
        '"message":"You\'ll need additional permissions to perform this action. '
        'Permissions needed: action:users:read scopes:global.users:*","title":"Access denied"}',
        PermissionDenied,
        {"permissions": ("users:read",)},
    ),
    Case(
        "reqGrafanaAdmin", 403, '{"message":"Permission denied"}', PermissionDenied, {"access_error_id": None}
    ),
    Case(
        "grafana admin synced",
        403,
        '{"message":"Cannot change Grafana Admin role for externally synced user"}',
        GrafanaAdminLocked,
    ),
    Case("role ceiling", 403, '{"message":"Cannot assign a role higher than user\'s role"}', RoleAboveCaller),
    Case("external user update", 403, '{"message":"Cannot update external User"}', PermissionDenied),
    # 404
    Case("user not found (lowercase)", 404, E10_NOT_FOUND, NotFound, {"message": "user not found"}),
    Case("User not found (resolver)", 404, '{"message":"User not found"}', NotFound),
    Case("User not found with trace", 404, '{"message":"User not found","traceID":""}', NotFound),
    Case("org not found", 404, '{"message":"Organization not found","traceID":""}', NotFound),
    Case(
        "sso.notFound",
        404,
        '{"message":"The provider was not found.","messageId":"sso.notFound","statusCode":404,"traceID":""}',
        NotFound,
        {"message_id": "sso.notFound"},
    ),
    Case("empty 404", 404, "", NotFound, {"message": "Not Found"}),
    # 409, 412
    Case("E7 already a member", 409, E7, Conflict, {"user_id": 2}),
    Case("org name taken", 409, '{"message":"Organization name taken"}', Conflict, {"user_id": None}),
    Case(
        "user exists",
        412,
        '{"message":"User with email \'j@x\' or username \'j\' already exists","traceID":""}',
        PreconditionFailed,
    ),
    Case(
        "already invited", 412, '{"message":"User jane is already added to organization"}', PreconditionFailed
    ),
    # 429
    Case("rate limited seconds", 429, "", RateLimited, {"retry_after": 7.0}, {"retry-after": "7"}),
    Case(
        "rate limited date",
        429,
        '{"message":"Too many requests"}',
        RateLimited,
        {"retry_after": 30.0},
        {"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"},  # NOW + 30 s
    ),
    Case("rate limited without header", 429, "", RateLimited, {"retry_after": None}),
    # 5xx
    Case("failed update org user", 500, '{"message":"Failed update org user","traceID":""}', ServerError),
    Case(
        "failed remove",
        500,
        '{"message":"Failed to remove user from organization","traceID":""}',
        ServerError,
    ),
    Case("disable external", 500, '{"message":"Could not disable external user"}', ServerError),
    Case(
        "proxy HTML 502",
        502,
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        ServerError,
        {"message": "Bad Gateway", "body": None},
    ),
    # 3xx
    Case("304 user-only", 304, "", UserOnlyEndpoint),
    Case("unknown 405", 405, '{"message":"Method Not Allowed"}', HTTPStatusError),
]


def _map(case: Case) -> HTTPStatusError:
    headers = tuple((k.lower(), v) for k, v in ({"content-type": "application/json"} | case.headers).items())
    return map_error(REQ, ApiResponse(case.status, case.body.encode(), headers), now=lambda: NOW)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_body_shape_maps_to_class(case: Case) -> None:
    err = _map(case)
    assert type(err) is case.cls
    assert err.status_code == case.status
    assert err.request == REQ
    assert err.response is not None and err.response.status_code == case.status
    for name, want in case.attrs.items():
        assert getattr(err, name) == want, name
    assert str(err).startswith(f"PATCH {BASE}/api/orgs/1/users/2: {case.status} ")


def test_every_status_class_has_a_case() -> None:
    status_classes = {
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, HTTPStatusError) and c.__module__ == errors.__name__
    }
    assert status_classes <= {c.cls for c in CASES}


def test_docstring_tree_names_every_error_class() -> None:
    tree = errors.__doc__ or ""
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.GrafanaError) and cls.__module__ == errors.__name__:
            assert re.search(rf"[─ ]{name}\b", tree), f"{name} is missing from the errors.py tree"


def test_hierarchy_matches_the_tree() -> None:
    assert issubclass(RoleLockedByExternalSync, PermissionDenied)
    assert issubclass(GrafanaAdminLocked, PermissionDenied)
    assert issubclass(LastAdminError, BadRequest)
    assert issubclass(OrganizationMismatch, AuthenticationFailed)
    assert issubclass(errors.TLSVerificationFailed, errors.ConnectError)
    assert not issubclass(errors.AmbiguousWrite, errors.TransportError)
    assert issubclass(errors.ConfigurationError, ValueError)


def test_rbac_hint_points_at_server_admin_for_users_read() -> None:
    err = _map(Case("", 403, E8, PermissionDenied))
    assert "Grafana server admin" in err.hint and "service account" in err.hint


def test_role_lock_fix_without_provider_is_generic() -> None:
    err = _map(Case("", 403, E6, RoleLockedByExternalSync))
    assert isinstance(err, RoleLockedByExternalSync)
    assert "skip_org_role_sync = true" in err.fix
    assert "Administration → Authentication → the provider → Skip org role sync" in err.fix
    assert err.hint == err.fix


@pytest.mark.parametrize(
    ("provider", "section", "ui"),
    [
        ("SAML", "[auth.saml]", "Administration → Authentication → SAML → Skip org role sync"),
        ("auth.saml", "[auth.saml]", "SAML"),
        ("oauth_okta", "[auth.okta]", "Administration → Authentication → Okta → Skip org role sync"),
        ("Generic OAuth", "[auth.generic_oauth]", "Generic OAuth → Skip org role sync"),
        ("LDAP", "[auth.ldap]", "LDAP"),
        ("oauth_grafananet", "[auth.grafana_com]", "grafana.com"),
    ],
)
def test_role_lock_with_provider_names_section_and_ui(provider: str, section: str, ui: str) -> None:
    err = _map(Case("", 403, E6, RoleLockedByExternalSync))
    assert isinstance(err, RoleLockedByExternalSync)
    named = err.with_provider(provider)
    assert named.provider == provider
    assert f"skip_org_role_sync = true in {section}" in named.fix
    assert ui in named.fix
    assert named.request == err.request and named.status_code == 403


def test_jwt_fix_has_no_ui_path() -> None:
    fix = role_sync_fix("JWT")
    assert "[auth.jwt]" in fix and "Administration" not in fix


def test_long_body_is_truncated() -> None:
    err = _map(Case("", 500, "x" * 10_000, ServerError))
    assert err.response is not None
    assert len(err.response.body) < 2100 and "more characters" in err.response.body


def test_redirect_names_location_and_hints_base_url() -> None:
    err = _map(Case("", 302, "", HTTPStatusError, headers={"location": "https://grafana.example.com/login"}))
    assert "redirected to https://grafana.example.com/login" in str(err)
    assert "sub-path" in err.hint


def test_set_cookie_is_not_kept() -> None:
    err = _map(Case("", 500, "", ServerError, headers={"set-cookie": "grafana_session=abc", "etag": "x"}))
    assert err.response is not None
    assert err.response.header("set-cookie") is None
    assert err.response.header("etag") == "x"


# --- the same shapes through the real client, mocked with respx -------------------------------------


# 304 comes from GET-only routes; a 5xx on a write is an AmbiguousWrite (test_retry covers both).
@pytest.mark.parametrize("case", [c for c in CASES if c.status not in (304, 502)], ids=lambda c: c.id)
def test_client_raises_mapped_error(case: Case) -> None:
    with respx.mock(base_url=BASE, assert_all_called=True) as mock:
        mock.patch("/api/orgs/1/users/2").mock(
            return_value=httpx.Response(
                case.status,
                content=case.body.encode(),
                headers={"content-type": "application/json"} | case.headers,
            )
        )
        client = GrafanaClient(BASE, BasicAuth("admin", PASSWORD), retry=NO_RETRY)
        with pytest.raises(HTTPStatusError) as info:
            client.update_org_user_role(1, 2, "Admin")
    err = info.value
    assert type(err) is case.cls
    assert err.request is not None and err.request.url == f"{BASE}/api/orgs/1/users/2"


def test_client_maps_304_for_service_account_route() -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/user/orgs").mock(return_value=httpx.Response(304))
        client = GrafanaClient(BASE, BasicAuth("admin", PASSWORD))
        with pytest.raises(UserOnlyEndpoint):
            client.current_user_orgs()
