"""Everything the Grafana clients do that is not I/O: building requests, parsing answers, mapping errors.

The sync `GrafanaClient` and the async `AsyncGrafanaClient` both derive from `BaseGrafanaClient` and send
the `Call`\\s that `Calls` builds. A `Call` is a request (`ApiRequest`: method, path, query, JSON body,
org header) plus the function that turns the answer into a model, plus — for writes — the `Expectation`
that describes the state the write produces, so an ambiguous failure can be checked by reading back.
`ApiRequest.describe()` renders a call for ``--dry-run`` with secrets masked.

This module does not import httpx: the clients translate between `ApiRequest`/`ApiResponse` and httpx.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote, urlencode, urlsplit

from gtool import __version__
from gtool.grafana.auth import MASK, Auth, Secret, as_secret, basic_or_api_key
from gtool.grafana.capabilities import Capabilities
from gtool.grafana.errors import (
    BODY_LIMIT,
    AmbiguousWrite,
    AuthenticationFailed,
    BadRequest,
    ConfigurationError,
    Conflict,
    GrafanaAdminLocked,
    GrafanaError,
    HTTPStatusError,
    LastAdminError,
    NotFound,
    OrganizationMismatch,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    RequestInfo,
    ResponseDecodeError,
    ResponseInfo,
    RoleAboveCaller,
    RoleLockedByExternalSync,
    ServerError,
    UserOnlyEndpoint,
)
from gtool.grafana.models import (
    AuthToken,
    FrontendSettings,
    Health,
    Invite,
    Org,
    OrgUser,
    ServiceAccount,
    SSOSettings,
    Team,
    TeamGroup,
    TeamMember,
    UserOrg,
    UserProfile,
    UserSearchHit,
    WriteResult,
    array,
    normalize_role,
)
from gtool.grafana.paging import (
    ORG_USERS_SEARCH,
    ORGS,
    SERVICE_ACCOUNTS_SEARCH,
    TEAMS_SEARCH,
    USERS_SEARCH,
    Page,
    PageScheme,
    check_page,
    check_per_page,
    parse_page,
)
from gtool.grafana.retry import RetryPolicy, parse_retry_after

log = logging.getLogger("gtool.grafana")

T = TypeVar("T")

ORG_HEADER = "X-Grafana-Org-Id"
SENSITIVE_PARAMS = frozenset(
    {"password", "token", "api_key", "apikey", "key", "secret", "access_token", "auth"}
)
KEPT_HEADERS = ("content-type", "retry-after", "location", "etag", "date", "server")


class InsecureTLSWarning(UserWarning):
    """Issued every time a client is created with ``insecure=True`` (TLS certificates not verified)."""


def warn_every_time(message: str, category: type[Warning], stacklevel: int) -> None:
    """`warnings.warn`, minus the once-per-call-site memory: a forgotten ``--insecure`` must stay visible.

    Without a registry the ``default`` action cannot remember having shown it; ``ignore`` and ``error``
    filters still apply. (A global ``always`` filter would not do: it is lost whenever this module is
    first imported inside a ``catch_warnings`` block.)
    """
    frame = sys._getframe(stacklevel)
    warnings.warn_explicit(
        message,
        category,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=frame.f_globals.get("__name__", "?"),
        registry=None,
        module_globals=frame.f_globals,
    )


# --- configuration -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    """Per-request timeouts in seconds; every request has all four, there is no "wait forever"."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 10.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"timeout {name} must be a positive number of seconds")

    @classmethod
    def of(cls, value: Timeouts | float | None) -> Timeouts:
        """`Timeouts` as given, a single number for all but connect, or the defaults for ``None``."""
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        return cls(read=float(value), write=float(value))


def normalize_base_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """``scheme://host[:port][/sub/path]`` without the trailing slash, and any ``user:password`` it held.

    The credentials are taken out of the URL so that it can be shown and logged as it is.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"not a valid URL: {exc}") from None
    host = parts.hostname
    shown = f"{parts.scheme}://{host or ''}{parts.path}"
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"the Grafana URL must look like https://host[:port][/sub/path], got {shown!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"the Grafana URL must not have a query or fragment: {shown!r}")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    creds = None
    if parts.username is not None:
        creds = (unquote(parts.username), unquote(parts.password or ""))
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}", creds


def tls_verify(*, ca_bundle: str | None, insecure: bool) -> ssl.SSLContext | bool:
    """What to verify the server certificate with: the system/certifi CAs, a CA bundle, or nothing."""
    if insecure and ca_bundle:
        raise ConfigurationError("ca_bundle and insecure=True contradict each other: choose one")
    if insecure:
        return False
    if ca_bundle:
        try:
            return ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"cannot use CA bundle {ca_bundle!r}: {exc}") from None
    return True


# --- requests and responses --------------------------------------------------------------------------


def _reveal(o: object) -> str:
    if isinstance(o, Secret):
        return o.reveal()
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def _mask(o: object) -> str:
    if isinstance(o, Secret):
        return MASK
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request to Grafana, before any I/O. ``body`` may hold `Secret` values (a new password)."""

    method: str
    path: str  # starts with /api/, segments already percent-encoded
    params: tuple[tuple[str, str], ...] = ()
    body: Any = field(default=None, repr=False)
    org_id: int | None = None  # sent as X-Grafana-Org-Id

    @property
    def is_write(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    def query(self, *, redact: bool = True) -> str:
        pairs = [(k, MASK if redact and k.lower() in SENSITIVE_PARAMS else v) for k, v in self.params]
        return urlencode(pairs, safe="*")  # keeps the mask readable: token=**** rather than %2A%2A%2A%2A

    def url(self, base_url: str, *, redact: bool = True) -> str:
        q = self.query(redact=redact)
        return f"{base_url}{self.path}" + (f"?{q}" if q else "")

    def content(self) -> bytes | None:
        """The JSON body to send, secrets revealed; only the client's send path calls this."""
        if self.body is None:
            return None
        return json.dumps(self.body, default=_reveal, separators=(",", ":")).encode()

    def describe(self, base_url: str = "") -> str:
        """``PATCH https://host/api/orgs/1/users/2 [X-Grafana-Org-Id: 1] {"role":"Admin"}``, secrets masked"""
        text = f"{self.method} {self.url(base_url)}"
        if self.org_id is not None:
            text += f" [{ORG_HEADER}: {self.org_id}]"
        if self.body is not None:
            text += " " + json.dumps(self.body, default=_mask, separators=(",", ":"))
        return text


@dataclass(frozen=True)
class ApiResponse:
    """An answer, as far as parsing and error mapping need it (header names lower-cased)."""

    status_code: int
    content: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    reason: str = ""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


# --- expectations: the state a write produces, for reading back ------------------------------------


def _same_user(user: int | str, *, user_id: int, uid: str, login: str, email: str) -> bool:
    if isinstance(user, int):
        return user == user_id
    key = user.casefold()
    return key in (uid.casefold(), login.casefold(), email.casefold()) or (
        user.isascii() and user.isdigit() and int(user) == user_id
    )


@dataclass(frozen=True)
class MemberWithRole:
    """`user` (id, uid, login or email) is a member of `org_id` (``None``: the current org) with `role`.

    ``login`` (the user's login or email), when known, makes the read-back one small search instead of a
    scan of the whole org: set it with ``dataclasses.replace(expectation, login=...)``.
    """

    org_id: int | None
    user: int | str
    role: str
    login: str | None = None

    def matches(self, m: OrgUser) -> bool:
        return _same_user(self.user, user_id=m.user_id, uid=m.uid, login=m.login, email=m.email)


@dataclass(frozen=True)
class NotMember:
    """`user` is not (or no longer) a member of `org_id` (``None``: the current org); ``login`` as above."""

    org_id: int | None
    user: int | str
    login: str | None = None

    def matches(self, m: OrgUser) -> bool:
        return _same_user(self.user, user_id=m.user_id, uid=m.uid, login=m.login, email=m.email)


@dataclass(frozen=True)
class GrafanaAdminIs:
    user: int | str
    value: bool


@dataclass(frozen=True)
class DisabledIs:
    user: int | str
    value: bool


@dataclass(frozen=True)
class UserAbsent:
    user: int | str


@dataclass(frozen=True)
class UserPresent:
    login_or_email: str


Expectation = MemberWithRole | NotMember | GrafanaAdminIs | DisabledIs | UserAbsent | UserPresent


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request, how to parse its answer, and (for writes) what it should leave behind."""

    request: ApiRequest
    parse: Callable[[ApiResponse], T] = field(repr=False)
    expectation: Expectation | None = None
    ok_statuses: frozenset[int] = frozenset()  # non-2xx answers that still parse (health's 503)


# --- building calls ----------------------------------------------------------------------------------


def _seg(value: int | str) -> str:
    """One path segment: an id as is, a UID/name/code percent-encoded (``/`` included)."""
    if isinstance(value, bool):
        raise TypeError("a path segment cannot be a bool")
    if isinstance(value, int):
        return str(value)
    if not value:
        raise ValueError("empty identifier")
    return quote(value, safe="")


def _json_or_none(r: ApiResponse) -> object:
    if not r.content.strip():
        return None
    return r.json()


def _write_result(r: ApiResponse) -> WriteResult:
    return WriteResult.from_json(_json_or_none(r))


def _list_of(item: Callable[[object], T], what: str) -> Callable[[ApiResponse], list[T]]:
    def parse(r: ApiResponse) -> list[T]:
        data = r.json()
        return [item(x) for x in array([] if data is None else data, what)]

    return parse


def _one(item: Callable[[object], T]) -> Callable[[ApiResponse], T]:
    return lambda r: item(r.json())


class Calls:
    """Builds every `Call` the clients know, without sending anything.

    ``org_id`` is the client's default org: org-scoped calls (``/api/org/…``, teams, service accounts)
    send it as ``X-Grafana-Org-Id`` unless the call names another; admin and global calls never send
    it, as Grafana's docs ask. Paths with an explicit org (``/api/orgs/:id/…``) carry the org in the path.
    """

    def __init__(self, org_id: int | None = None) -> None:
        self.org_id = org_id

    def _org(self, org_id: int | None) -> int | None:
        return self.org_id if org_id is None else org_id

    def _page(
        self,
        scheme: PageScheme,
        path: str,
        item: Callable[[object], T],
        *,
        page: int,
        per_page: int,
        params: tuple[tuple[str, str], ...] = (),
        org_id: int | None = None,
    ) -> Call[Page[T]]:
        check_per_page(per_page)
        check_page(scheme, page)
        req = ApiRequest(
            "GET", path, (*params, ("perpage", str(per_page)), ("page", str(page))), org_id=org_id
        )

        def parse(r: ApiResponse) -> Page[T]:
            return parse_page(scheme, r.json(), page=page, per_page=per_page, item=item)

        return Call(req, parse)

    @staticmethod
    def _search_params(query: str, sort: str | None = None) -> tuple[tuple[str, str], ...]:
        params: list[tuple[str, str]] = []
        if query:
            params.append(("query", query))
        if sort:
            params.append(("sort", sort))
        return tuple(params)

    # server

    def health(self) -> Call[Health]:
        return Call(ApiRequest("GET", "/api/health"), _one(Health.from_json), ok_statuses=frozenset({503}))

    def frontend_settings(self) -> Call[FrontendSettings]:
        return Call(ApiRequest("GET", "/api/frontend/settings"), _one(FrontendSettings.from_json))

    # the credential itself

    def current_user(self) -> Call[UserProfile]:
        return Call(ApiRequest("GET", "/api/user"), _one(UserProfile.from_json))

    def current_user_orgs(self) -> Call[list[UserOrg]]:
        return Call(ApiRequest("GET", "/api/user/orgs"), _list_of(UserOrg.from_json, "/api/user/orgs"))

    def current_org(self, *, org_id: int | None = None) -> Call[Org]:
        return Call(ApiRequest("GET", "/api/org", org_id=self._org(org_id)), _one(Org.from_json))

    # users (global: Grafana server admins only)

    def search_users(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, sort: str | None = None
    ) -> Call[Page[UserSearchHit]]:
        return self._page(
            USERS_SEARCH,
            "/api/users/search",
            UserSearchHit.from_json,
            page=page,
            per_page=per_page,
            params=self._search_params(query, sort),
        )

    def get_user(self, user: int | str) -> Call[UserProfile]:
        return Call(ApiRequest("GET", f"/api/users/{_seg(user)}"), _one(UserProfile.from_json))

    def lookup_user(self, login_or_email: str) -> Call[UserProfile]:
        if not login_or_email:
            raise ValueError("lookup_user needs a login or email")
        req = ApiRequest("GET", "/api/users/lookup", (("loginOrEmail", login_or_email),))
        return Call(req, _one(UserProfile.from_json))

    def user_orgs(self, user: int | str) -> Call[list[UserOrg]]:
        path = f"/api/users/{_seg(user)}/orgs"
        return Call(ApiRequest("GET", path), _list_of(UserOrg.from_json, path))

    def user_teams(self, user: int | str, *, org_id: int | None = None) -> Call[list[Team]]:
        path = f"/api/users/{_seg(user)}/teams"
        return Call(ApiRequest("GET", path, org_id=self._org(org_id)), _list_of(Team.from_json, path))

    # orgs

    def search_orgs(self, query: str = "", *, page: int = 0, per_page: int = 1000) -> Call[Page[Org]]:
        return self._page(
            ORGS, "/api/orgs", Org.from_json, page=page, per_page=per_page, params=self._search_params(query)
        )

    def get_org(self, org_id: int) -> Call[Org]:
        return Call(ApiRequest("GET", f"/api/orgs/{_seg(org_id)}"), _one(Org.from_json))

    def get_org_by_name(self, name: str) -> Call[Org]:
        return Call(ApiRequest("GET", f"/api/orgs/name/{_seg(name)}"), _one(Org.from_json))

    # org members

    def org_users(
        self,
        org_id: int | None = None,
        query: str = "",
        *,
        page: int = 1,
        per_page: int = 1000,
        sort: str | None = None,
    ) -> Call[Page[OrgUser]]:
        params = self._search_params(query, sort)
        if org_id is None:
            return self._page(
                ORG_USERS_SEARCH,
                "/api/org/users/search",
                OrgUser.from_json,
                page=page,
                per_page=per_page,
                params=params,
                org_id=self.org_id,
            )
        path = f"/api/orgs/{_seg(org_id)}/users/search"
        return self._page(
            ORG_USERS_SEARCH, path, OrgUser.from_json, page=page, per_page=per_page, params=params
        )

    def add_org_user(self, org_id: int, login_or_email: str, role: str) -> Call[WriteResult]:
        role = normalize_role(role)
        body = {"loginOrEmail": login_or_email, "role": role}
        req = ApiRequest("POST", f"/api/orgs/{_seg(org_id)}/users", body=body)
        return Call(req, _write_result, MemberWithRole(org_id, login_or_email, role, login_or_email))

    def update_org_user_role(self, org_id: int, user: int | str, role: str) -> Call[WriteResult]:
        role = normalize_role(role)
        req = ApiRequest("PATCH", f"/api/orgs/{_seg(org_id)}/users/{_seg(user)}", body={"role": role})
        return Call(req, _write_result, MemberWithRole(org_id, user, role))

    def remove_org_user(self, org_id: int, user: int | str) -> Call[WriteResult]:
        req = ApiRequest("DELETE", f"/api/orgs/{_seg(org_id)}/users/{_seg(user)}")
        return Call(req, _write_result, NotMember(org_id, user))

    def add_current_org_user(
        self, login_or_email: str, role: str, *, org_id: int | None = None
    ) -> Call[WriteResult]:
        role, org = normalize_role(role), self._org(org_id)
        body = {"loginOrEmail": login_or_email, "role": role}
        return Call(
            ApiRequest("POST", "/api/org/users", body=body, org_id=org),
            _write_result,
            MemberWithRole(org, login_or_email, role, login_or_email),
        )

    def update_current_org_user_role(
        self, user: int | str, role: str, *, org_id: int | None = None
    ) -> Call[WriteResult]:
        role, org = normalize_role(role), self._org(org_id)
        req = ApiRequest("PATCH", f"/api/org/users/{_seg(user)}", body={"role": role}, org_id=org)
        return Call(req, _write_result, MemberWithRole(org, user, role))

    def remove_current_org_user(self, user: int | str, *, org_id: int | None = None) -> Call[WriteResult]:
        org = self._org(org_id)
        req = ApiRequest("DELETE", f"/api/org/users/{_seg(user)}", org_id=org)
        return Call(req, _write_result, NotMember(org, user))

    # invites (the Grafana Cloud way to add someone new)

    def invite_user(
        self,
        login_or_email: str,
        role: str,
        *,
        name: str = "",
        send_email: bool = True,
        org_id: int | None = None,
    ) -> Call[WriteResult]:
        body = {
            "loginOrEmail": login_or_email,
            "name": name,
            "role": normalize_role(role),
            "sendEmail": send_email,
        }
        return Call(
            ApiRequest("POST", "/api/org/invites", body=body, org_id=self._org(org_id)), _write_result
        )

    def list_invites(self, *, org_id: int | None = None) -> Call[list[Invite]]:
        req = ApiRequest("GET", "/api/org/invites", org_id=self._org(org_id))
        return Call(req, _list_of(Invite.from_json, "/api/org/invites"))

    def revoke_invite(self, code: str, *, org_id: int | None = None) -> Call[WriteResult]:
        # Grafana registers this route as PATCH in every version, whatever its swagger says (contract §4.1).
        req = ApiRequest("PATCH", f"/api/org/invites/{_seg(code)}/revoke", org_id=self._org(org_id))
        return Call(req, _write_result)

    # admin (Grafana server admins with basic auth; never service accounts)

    def create_user(
        self,
        login: str,
        password: str | Secret,
        *,
        email: str = "",
        name: str = "",
        org_id: int | None = None,
    ) -> Call[WriteResult]:
        if not (login or email):
            raise ValueError("create_user needs a login or an email")
        body: dict[str, Any] = {"name": name, "email": email, "login": login, "password": as_secret(password)}
        if org_id is not None:
            body["orgId"] = org_id
        return Call(
            ApiRequest("POST", "/api/admin/users", body=body), _write_result, UserPresent(login or email)
        )

    def set_grafana_admin(self, user: int | str, is_admin: bool) -> Call[WriteResult]:
        req = ApiRequest(
            "PUT", f"/api/admin/users/{_seg(user)}/permissions", body={"isGrafanaAdmin": is_admin}
        )
        return Call(req, _write_result, GrafanaAdminIs(user, is_admin))

    def disable_user(self, user: int | str) -> Call[WriteResult]:
        req = ApiRequest("POST", f"/api/admin/users/{_seg(user)}/disable")
        return Call(req, _write_result, DisabledIs(user, True))

    def enable_user(self, user: int | str) -> Call[WriteResult]:
        req = ApiRequest("POST", f"/api/admin/users/{_seg(user)}/enable")
        return Call(req, _write_result, DisabledIs(user, False))

    def delete_user(self, user: int | str) -> Call[WriteResult]:
        return Call(ApiRequest("DELETE", f"/api/admin/users/{_seg(user)}"), _write_result, UserAbsent(user))

    def revoke_user_sessions(self, user: int | str) -> Call[WriteResult]:
        return Call(ApiRequest("POST", f"/api/admin/users/{_seg(user)}/logout"), _write_result)

    def user_sessions(self, user: int | str) -> Call[list[AuthToken]]:
        path = f"/api/admin/users/{_seg(user)}/auth-tokens"
        return Call(ApiRequest("GET", path), _list_of(AuthToken.from_json, path))

    # teams

    def search_teams(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, org_id: int | None = None
    ) -> Call[Page[Team]]:
        return self._page(
            TEAMS_SEARCH,
            "/api/teams/search",
            Team.from_json,
            page=page,
            per_page=per_page,
            params=self._search_params(query),
            org_id=self._org(org_id),
        )

    def get_team(self, team: int | str, *, org_id: int | None = None) -> Call[Team]:
        return Call(
            ApiRequest("GET", f"/api/teams/{_seg(team)}", org_id=self._org(org_id)), _one(Team.from_json)
        )

    def team_members(self, team: int | str, *, org_id: int | None = None) -> Call[list[TeamMember]]:
        path = f"/api/teams/{_seg(team)}/members"
        return Call(ApiRequest("GET", path, org_id=self._org(org_id)), _list_of(TeamMember.from_json, path))

    def team_groups(self, team: int | str, *, org_id: int | None = None) -> Call[list[TeamGroup]]:
        path = f"/api/teams/{_seg(team)}/groups"
        return Call(ApiRequest("GET", path, org_id=self._org(org_id)), _list_of(TeamGroup.from_json, path))

    # service accounts

    def search_service_accounts(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, org_id: int | None = None
    ) -> Call[Page[ServiceAccount]]:
        return self._page(
            SERVICE_ACCOUNTS_SEARCH,
            "/api/serviceaccounts/search",
            ServiceAccount.from_json,
            page=page,
            per_page=per_page,
            params=self._search_params(query),
            org_id=self._org(org_id),
        )

    # SSO settings (Grafana 11+; SAML only where licensed)

    def get_sso_settings(self, provider: str) -> Call[SSOSettings]:
        def parse(r: ApiResponse) -> SSOSettings:
            return SSOSettings.from_json(r.json(), etag=r.header("etag"))

        return Call(ApiRequest("GET", f"/api/v1/sso-settings/{_seg(provider)}"), parse)

    def list_sso_settings(self) -> Call[list[SSOSettings]]:
        return Call(
            ApiRequest("GET", "/api/v1/sso-settings"), _list_of(SSOSettings.from_json, "/api/v1/sso-settings")
        )


# --- error mapping -----------------------------------------------------------------------------------

_LAST_ADMIN = re.compile(r"no organization admin left|last organi[sz]ation admin|last grafana admin", re.I)
_ROLE_LOCK = re.compile(r"change role for externally synced user", re.I)
_ADMIN_LOCK = re.compile(r"grafana admin role for externally synced user", re.I)
_ROLE_CEILING = re.compile(r"assign a role higher than", re.I)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _truncate(text: str) -> str:
    return (
        text
        if len(text) <= BODY_LIMIT
        else text[:BODY_LIMIT] + f"… ({len(text) - BODY_LIMIT} more characters)"
    )


def _reason(status: int, given: str) -> str:
    if given:
        return given
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def response_info(response: ApiResponse, scrub: Callable[[str], str]) -> ResponseInfo:
    """The parts of an answer an error may keep: no cookies, the body truncated and scrubbed."""
    headers = tuple((k, scrub(v)) for k, v in response.headers if k in KEPT_HEADERS)
    return ResponseInfo(
        status_code=response.status_code,
        reason=_reason(response.status_code, response.reason),
        content_type=response.header("content-type") or "",
        body=_truncate(scrub(response.text)),
        headers=headers,
    )


def _auth_hint(message_id: str | None) -> str:
    if message_id in ("api-key.invalid", "api-key.expired", "api-key.revoked"):
        return "the service account token is not valid any more: create a new token and update the profile"
    if message_id == "api-key.organization-mismatch":
        return (
            "a service account token works only in its own org: drop the org option or use that org's token"
        )
    return (
        "check the credential: the login and password of a Grafana server admin (basic auth), "
        "or a valid service account token"
    )


def _permission_hint(message: str, permissions: tuple[str, ...]) -> str:
    if any(p.split(":")[0] in ("users", "orgs") for p in permissions) or message == "Permission denied":
        return (
            "this needs a Grafana server admin signed in with basic auth; service account tokens "
            "(Grafana Cloud) cannot use the /api/users, /api/orgs and /api/admin endpoints"
        )
    if permissions:
        return f"the credential lacks the permission {', '.join(permissions)}"
    return ""


def map_error(
    request: RequestInfo,
    response: ApiResponse,
    scrub: Callable[[str], str] = lambda s: s,
    *,
    now: Callable[[], float] = time.time,
) -> HTTPStatusError:
    """The `HTTPStatusError` subclass for a non-success answer (every body shape of contract §9)."""
    status = response.status_code
    info = response_info(response, scrub)
    body = _json_object(scrub(response.text))
    raw_message = body.get("message") if body else None
    message = raw_message if isinstance(raw_message, str) and raw_message else info.reason
    mid = body.get("messageId") if body else None
    tid = body.get("traceID") if body else None
    kw: dict[str, Any] = {
        "request": request,
        "response": info,
        "message_id": mid if isinstance(mid, str) and mid else None,
        "trace_id": tid if isinstance(tid, str) and tid else None,
        "body": body,
    }
    if status == 304:
        return UserOnlyEndpoint(
            "Endpoint only available for users",
            hint="a service account has no user profile, org list or teams of its own",
            **kw,
        )
    if 300 <= status < 400:
        where = info.header("location") or "elsewhere"
        return HTTPStatusError(
            f"redirected to {where}",
            hint="check the Grafana URL: https rather than http, and the sub-path Grafana is served under",
            **kw,
        )
    if status == 400:
        return (LastAdminError if _LAST_ADMIN.search(message) else BadRequest)(message, **kw)
    if status == 401:
        cls = (
            OrganizationMismatch
            if kw["message_id"] == "api-key.organization-mismatch"
            else AuthenticationFailed
        )
        return cls(message, hint=_auth_hint(kw["message_id"]), **kw)
    if status == 403:
        return _forbidden(message, kw)
    if status == 404:
        return NotFound(message, **kw)
    if status == 409:
        return Conflict(message, **kw)
    if status == 412:
        return PreconditionFailed(message, **kw)
    if status == 429:
        retry_after = parse_retry_after(response.header("retry-after"), now())
        return RateLimited(message, retry_after=retry_after, **kw)
    if status >= 500:
        return ServerError(message, **kw)
    return HTTPStatusError(message, **kw)


def _forbidden(message: str, kw: dict[str, Any]) -> PermissionDenied:
    if kw["message_id"] == "org.externallySynced" or _ROLE_LOCK.search(message):
        return RoleLockedByExternalSync(message, **kw)
    if _ADMIN_LOCK.search(message):
        return GrafanaAdminLocked(
            message,
            hint="the Grafana Admin flag of this user comes from the login provider "
            "(role_values_grafana_admin or allow_assign_grafana_admin); change it there",
            **kw,
        )
    if _ROLE_CEILING.search(message):
        return RoleAboveCaller(
            message, hint="the credential's own org role is lower than the role asked for", **kw
        )
    err = PermissionDenied(message, **kw)
    err.hint = _permission_hint(message, err.permissions)
    return err


# --- the base client ---------------------------------------------------------------------------------


class BaseGrafanaClient:
    """Configuration and I/O-free behaviour shared by `GrafanaClient` and `AsyncGrafanaClient`.

    ``base_url`` may carry a sub-path (``https://host/grafana/``) and, instead of `auth`, credentials
    (``https://admin:pw@host``; taken out at once, ``api_key`` as user means a token). ``org_id`` is the
    default org for org-scoped calls (sent per call as ``X-Grafana-Org-Id``; the user's current org in
    Grafana is never switched). TLS is verified unless ``insecure=True``, which issues an
    `InsecureTLSWarning` (Python ``warnings``) every time a client is created.
    """

    def __init__(
        self,
        base_url: str,
        auth: Auth | None = None,
        *,
        org_id: int | None = None,
        timeout: Timeouts | float | None = None,
        ca_bundle: str | None = None,
        insecure: bool = False,
        retry: RetryPolicy | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.base_url, url_creds = normalize_base_url(base_url)
        if auth is None and url_creds is not None:
            auth = basic_or_api_key(*url_creds)
        self.auth = auth
        self.org_id = org_id
        self.timeouts = Timeouts.of(timeout)
        self.retry = retry or RetryPolicy()
        self.ca_bundle = ca_bundle
        self.insecure = insecure
        self.tls_verify = tls_verify(ca_bundle=ca_bundle, insecure=insecure)
        self.calls = Calls(org_id)
        self.user_agent = user_agent or f"gtool/{__version__}"
        if insecure:
            warn_every_time(
                f"TLS certificate verification is off for {self.base_url}: anyone on the network path can "
                "read and change this session, including the credential",
                InsecureTLSWarning,
                stacklevel=3,  # the caller of GrafanaClient(...) / AsyncGrafanaClient(...)
            )

    _capabilities: Capabilities | None = None  # set by the clients' capabilities()

    def adopt_capabilities(self, caps: Capabilities) -> None:
        """Use what another client of the same connection already detected (same URL and credential), so
        the first `capabilities()` here costs no requests."""
        self._capabilities = caps

    def __repr__(self) -> str:
        who = self.auth.describe() if self.auth else "no credential"
        org = f", org_id={self.org_id}" if self.org_id is not None else ""
        return f"{type(self).__name__}({self.base_url!r}, {who}{org})"

    def _scrub(self, text: str) -> str:
        return self.auth.scrub(text) if self.auth else text

    def _headers(self, request: ApiRequest) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if self.auth is not None:
            headers["Authorization"] = self.auth.authorization()
        if request.body is not None:
            headers["Content-Type"] = "application/json"
        if request.org_id is not None:
            headers[ORG_HEADER] = str(request.org_id)
        return headers

    def request_info(self, request: ApiRequest) -> RequestInfo:
        return RequestInfo(request.method, request.url(self.base_url), request.org_id)

    def describe(self, call: Call[Any]) -> str:
        """The exact HTTP call, secrets masked: what ``--dry-run`` prints."""
        return call.request.describe(self.base_url)

    def _finish(self, call: Call[T], response: ApiResponse) -> T:
        status = response.status_code
        if 200 <= status < 300 or status in call.ok_statuses:
            try:
                return call.parse(response)
            except (ValueError, TypeError) as exc:
                raise self._decode_error(call, response, exc) from None
        raise map_error(self.request_info(call.request), response, self._scrub, now=self.retry.clock)

    def _decode_error(self, call: Call[Any], response: ApiResponse, exc: Exception) -> ResponseDecodeError:
        info = response_info(response, self._scrub)
        kind = info.content_type.split(";")[0] or "an empty body"
        return ResponseDecodeError(
            f"unexpected answer ({kind}): {exc}",
            request=self.request_info(call.request),
            response=info,
            hint="is the Grafana URL right? Grafana served under a sub-path needs it: https://host/grafana/",
        )

    def _ambiguous(self, call: Call[Any], error: GrafanaError) -> AmbiguousWrite:
        return AmbiguousWrite(error, request=self.request_info(call.request), expectation=call.expectation)

    def _log_attempt(self, call: Call[Any], status: int | str, started: float, attempt: int) -> None:
        if log.isEnabledFor(logging.DEBUG):
            ms = (time.monotonic() - started) * 1000
            again = f" (attempt {attempt})" if attempt > 1 else ""
            log.debug("%s -> %s in %.0f ms%s", self.request_info(call.request), status, ms, again)


def check_expectation_type(expectation: object) -> Expectation:
    if not isinstance(
        expectation, MemberWithRole | NotMember | GrafanaAdminIs | DisabledIs | UserAbsent | UserPresent
    ):
        raise TypeError(f"not an expectation: {expectation!r}")
    return expectation
