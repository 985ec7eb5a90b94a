"""Test helpers for gtool.grafana: a scripted fake Grafana on httpx.MockTransport, and the contract's
exact example bodies (grafana-api-contract.md §9 and §11), byte for byte."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import httpx

from gtool.grafana.aclient import AsyncGrafanaClient
from gtool.grafana.auth import Auth, BasicAuth
from gtool.grafana.client import GrafanaClient
from gtool.grafana.retry import RetryPolicy

BASE = "https://grafana.example.com"
PASSWORD = "pa55-W0rd!long"
TOKEN = "glsa_S3cretTokenValue_0123456789abcdef"

# --- §11 examples -------------------------------------------------------------------------------------
E1 = (
    '{"totalCount":3,"users":[{"id":1,"uid":"ce5t0x6a3w4xsd","name":"","login":"admin","email":"admin@localhost",'
    '"avatarUrl":"/avatar/46d229b033af06a191ff2267bca9ae56","isAdmin":true,"isDisabled":false,'
    '"lastSeenAt":"2025-05-06T09:12:31Z","lastSeenAtAge":"< 1 minute","authLabels":[]},{"id":2,'
    '"uid":"ae5t1b2c3d4e5f","name":"Jane Doe","login":"jane","email":"jane@example.com",'
    '"avatarUrl":"/avatar/9e26471d35a78862c17e467d87cddedf","isAdmin":false,"isDisabled":false,'
    '"lastSeenAt":"2025-05-05T16:40:02Z","lastSeenAtAge":"16 hours","authLabels":["SAML"]}],'
    '"page":1,"perPage":2}'
)
E2 = '[{"orgId":1,"name":"Main Org.","role":"Editor"},{"orgId":3,"name":"Ops","role":"Viewer"}]'
E3 = (
    '[{"orgId":1,"userId":1,"uid":"ce5t0x6a3w4xsd","email":"admin@localhost","name":"",'
    '"avatarUrl":"/avatar/46d229b033af06a191ff2267bca9ae56","login":"admin","role":"Admin",'
    '"lastSeenAt":"2025-05-06T09:12:31Z","created":"2025-01-10T08:00:00Z","lastSeenAtAge":"< 1 minute",'
    '"isDisabled":false,"authLabels":null,"isExternallySynced":false,"isProvisioned":false},{"orgId":1,'
    '"userId":2,"uid":"ae5t1b2c3d4e5f","email":"jane@example.com","name":"Jane Doe",'
    '"avatarUrl":"/avatar/9e26471d35a78862c17e467d87cddedf","login":"jane","role":"Editor",'
    '"lastSeenAt":"2025-05-05T16:40:02Z","created":"2025-02-01T12:00:00Z","lastSeenAtAge":"16 hours",'
    '"isDisabled":false,"authLabels":["SAML"],"isExternallySynced":true,"isProvisioned":false}]'
)
E4 = (
    '{"totalCount":2,"orgUsers":[{"orgId":1,"userId":2,"uid":"ae5t1b2c3d4e5f","email":"jane@example.com",'
    '"name":"Jane Doe","avatarUrl":"/avatar/9e26471d35a78862c17e467d87cddedf","login":"jane","role":"Editor",'
    '"lastSeenAt":"2025-05-05T16:40:02Z","created":"2025-02-01T12:00:00Z","lastSeenAtAge":"16 hours",'
    '"isDisabled":false,"authLabels":["SAML"],"isExternallySynced":true,"isProvisioned":false}],'
    '"page":2,"perPage":1}'
)
E5 = (
    '{"id":2,"uid":"ae5t1b2c3d4e5f","email":"jane@example.com","name":"Jane Doe","login":"jane","theme":"",'
    '"orgId":1,"isGrafanaAdmin":false,"isDisabled":false,"isExternal":true,"isExternallySynced":true,'
    '"isGrafanaAdminExternallySynced":false,"authLabels":["SAML"],"updatedAt":"2025-05-05T16:40:02Z",'
    '"createdAt":"2025-02-01T12:00:00Z","avatarUrl":"/avatar/9e26471d35a78862c17e467d87cddedf",'
    '"isProvisioned":false}'
)
E6 = (
    '{"message":"cannot change role for externally synced user","messageId":"org.externallySynced",'
    '"statusCode":403,"traceID":""}'
)
E7 = '{"message":"User is already member of this organization","userId":2}'
E7_OK = '{"message":"User added to organization","userId":2}'
E8 = (
    '{"accessErrorId":"ACE1646206561","message":"You\'ll need additional permissions to perform this action. '
    'Permissions needed: users:read","title":"Access denied"}'
)
E9_UNAUTHORIZED = (
    '{"extra":null,"message":"Unauthorized","messageId":"auth.unauthorized","statusCode":401,"traceID":""}'
)
E9_INVALID_KEY = (
    '{"extra":null,"message":"Invalid API key","messageId":"api-key.invalid","statusCode":401,"traceID":""}'
)
E10 = '{"message":"bad request data","traceID":""}'
E10_NOT_FOUND = '{"message":"user not found"}'
E11 = (
    '{\n  "database": "ok",\n  "version": "11.5.2",\n'
    '  "commit": "598e0338d5374d6bc404b02b2cb2d22fd7b2f7bb"\n}'
)
E12 = (
    '{"totalCount":1,"teams":[{"id":1,"uid":"de5t9q7r1s2t3u","orgId":1,"name":"SRE","email":"sre@example.com",'
    '"externalUID":"","isProvisioned":false,"avatarUrl":"/avatar/3fcfe295eae3bcb67a49349377428a66",'
    '"memberCount":2,"permission":0,"accessControl":null}],"page":1,"perPage":10}'
)
E13 = (
    '{"id":"","provider":"saml","settings":{"allowSignUp":false,"assertionAttributeEmail":"mail",'
    '"assertionAttributeLogin":"login","assertionAttributeRole":"role","enabled":true,"entityId":"",'
    '"idpMetadataUrl":"https://idp.example.com/metadata","name":"SAML","roleValuesAdmin":"grafana-admins",'
    '"roleValuesEditor":"grafana-editors","skipOrgRoleSync":false},"source":"system"}'
)
ORG_MISMATCH = (
    '{"extra":null,"message":"API key does not belong to the requested organization",'
    '"messageId":"api-key.organization-mismatch","statusCode":401,"traceID":""}'
)
SA_USER = (
    '{"id":0,"uid":"service-account:5","email":"","name":"gtool","login":"sa-1-gtool","theme":"","orgId":1,'
    '"isGrafanaAdmin":false,"isDisabled":false,"isExternal":false,"isExternallySynced":false,'
    '"isGrafanaAdminExternallySynced":false,"authLabels":null,"updatedAt":"0001-01-01T00:00:00Z",'
    '"createdAt":"0001-01-01T00:00:00Z","avatarUrl":""}'
)


def raw_path(request: httpx.Request) -> str:
    """The path as sent, percent-encoding kept (``/api/orgs/name/Main%20Org.``)."""
    return request.url.raw_path.decode().split("?")[0]


Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | BaseException


def resp(status: int, body: str | Any = "", headers: dict[str, str] | None = None) -> httpx.Response:
    """A response with `body` sent byte for byte (a str) or as JSON (anything else)."""
    h = {"content-type": "application/json"} | (headers or {})
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=h)


class FakeGrafana:
    """Scripted replies per (METHOD, path); the last reply of a route repeats. Records every request.

    A reply is an ``httpx.Response``, a function of the request, or an exception to raise (as httpx
    transports do for network failures). Unknown routes answer Grafana's 404 ``{"message":"Not found"}``.
    """

    def __init__(self, base: str = BASE) -> None:
        self.base = base
        self.routes: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *replies: Reply) -> FakeGrafana:
        self.routes[(method.upper(), path)].extend(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, raw_path(request)))
        if not queue:
            return resp(404, '{"message":"Not found"}')
        reply = queue.popleft() if len(queue) > 1 else queue[0]
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, httpx.Response):
            # A Response object can be sent once; hand out a fresh copy each time.
            return httpx.Response(reply.status_code, content=reply.content, headers=reply.headers)
        return reply(request)

    def calls(self) -> list[str]:
        return [f"{r.method} {raw_path(r)}" for r in self.requests]

    def client(self, auth: Auth | None = None, **kw: Any) -> GrafanaClient:
        kw.setdefault("retry", RetryPolicy(random=lambda: 0.5))
        kw.setdefault("sleep", lambda s: None)
        return GrafanaClient(
            self.base, auth or BasicAuth("admin", PASSWORD), transport=httpx.MockTransport(self), **kw
        )

    def aclient(self, auth: Auth | None = None, **kw: Any) -> AsyncGrafanaClient:
        async def no_sleep(s: float) -> None:
            return None

        kw.setdefault("retry", RetryPolicy(random=lambda: 0.5))
        kw.setdefault("sleep", no_sleep)
        return AsyncGrafanaClient(
            self.base, auth or BasicAuth("admin", PASSWORD), transport=httpx.MockTransport(self), **kw
        )


def paged_users(total: int) -> Callable[[httpx.Request], httpx.Response]:
    """``/api/users/search`` or org-user search over `total` users, 1-based, echoing page and perPage."""

    def handler(request: httpx.Request) -> httpx.Response:
        per = int(request.url.params.get("perpage", "1000"))
        page = max(1, int(request.url.params.get("page", "1")))
        key = "orgUsers" if "/users/search" in request.url.path and "/org" in request.url.path else "users"
        rows = [{"id": i, "userId": i, "login": f"user{i}", "role": "Viewer"} for i in range(1, total + 1)]
        chunk = rows[(page - 1) * per : page * per]
        return resp(200, {"totalCount": total, key: chunk, "page": page, "perPage": per})

    return handler
