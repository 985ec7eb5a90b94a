"""`GrafanaClient`: the synchronous client (for the CLI), over httpx.

Every public method is one `Call` from `gtool.grafana.base.Calls`, sent through `send`, which applies the
retry policy: reads are retried on transient failures, writes never resent once they may have reached
Grafana (`AmbiguousWrite`; read back with `verify`). `AsyncGrafanaClient` mirrors this class method for
method. The httpx translation helpers at the top are shared with it.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar

import httpx

from gtool.grafana.auth import Auth, Secret
from gtool.grafana.base import (
    ApiResponse,
    BaseGrafanaClient,
    Call,
    DisabledIs,
    Expectation,
    GrafanaAdminIs,
    MemberWithRole,
    NotMember,
    Timeouts,
    UserAbsent,
    UserPresent,
    check_expectation_type,
)
from gtool.grafana.capabilities import Capabilities, detect
from gtool.grafana.errors import (
    ConnectError,
    GrafanaError,
    HTTPStatusError,
    NetworkError,
    NotFound,
    PermissionDenied,
    RequestInfo,
    RequestTimeout,
    ResponseDecodeError,
    TLSVerificationFailed,
    TransportError,
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
)
from gtool.grafana.paging import (
    ORG_USERS_SEARCH,
    ORGS,
    SERVICE_ACCOUNTS_SEARCH,
    TEAMS_SEARCH,
    USERS_SEARCH,
    Page,
    PageCursor,
    iterate,
)
from gtool.grafana.retry import RetryPolicy, Verdict

log = logging.getLogger("gtool.grafana")

T = TypeVar("T")

# What makes an optional read (frontend settings, health during capability detection) give None.
OPTIONAL_READ_ERRORS = (HTTPStatusError, ResponseDecodeError)


# --- httpx translation (shared with the async client) ------------------------------------------------


def httpx_timeout(t: Timeouts) -> httpx.Timeout:
    return httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool)


def api_response(response: httpx.Response) -> ApiResponse:
    headers = tuple((k.lower(), v) for k, v in response.headers.items())
    return ApiResponse(response.status_code, response.content, headers, response.reason_phrase)


def _tls_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cur):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


_TIMEOUT_PHASE: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.PoolTimeout: "pool",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
}


def transport_error(
    info: RequestInfo, exc: httpx.TransportError, scrub: Callable[[str], str]
) -> TransportError:
    """Our `TransportError` for an httpx one; the text is scrubbed of the credential just in case."""
    detail = scrub(str(exc) or type(exc).__name__)
    if isinstance(exc, httpx.TimeoutException):
        phase = _TIMEOUT_PHASE.get(type(exc), "read")
        return RequestTimeout(f"{phase} timeout ({detail})", phase=phase, request=info)
    if isinstance(exc, (httpx.ConnectError, httpx.ProxyError)):
        if _tls_failure(exc):
            return TLSVerificationFailed(
                f"TLS certificate verification failed ({detail})",
                request=info,
                hint="pass the CA that signed Grafana's certificate with --ca-bundle FILE "
                "(or, for a throw-away test instance only, --insecure)",
            )
        return ConnectError(
            f"cannot connect ({detail})", request=info, hint="check the Grafana URL and the network"
        )
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
        return NetworkError(f"connection lost ({detail})", request=info)
    return TransportError(detail, request=info)


# --- the client --------------------------------------------------------------------------------------


class GrafanaClient(BaseGrafanaClient):
    """A synchronous Grafana API client.

    ``GrafanaClient("https://grafana.example.com/grafana/", BasicAuth("admin", pw))`` for a self-hosted
    server admin, ``GrafanaClient("https://stack.grafana.net", TokenAuth(token))`` for Grafana Cloud.
    ``transport`` replaces the network (``httpx.MockTransport`` in tests); ``sleep`` is what waits between
    retries. Use it as a context manager, or call `close`.
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
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_connections: int = 32,
        user_agent: str | None = None,
    ) -> None:
        super().__init__(
            base_url,
            auth,
            org_id=org_id,
            timeout=timeout,
            ca_bundle=ca_bundle,
            insecure=insecure,
            retry=retry,
            user_agent=user_agent,
        )
        self._sleep = sleep
        self._capabilities: Capabilities | None = None
        self._http = httpx.Client(
            verify=self.tls_verify,
            timeout=httpx_timeout(self.timeouts),
            transport=transport,
            follow_redirects=False,  # a redirect could carry the credential elsewhere; report it instead
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    # lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # sending

    def send(self, call: Call[T]) -> T:
        """Send `call` with the retry policy and return its parsed answer (or raise a `GrafanaError`)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(call, attempt)
            except GrafanaError as err:
                decision = self.retry.decide(call.request.method, attempt, err)
                if decision.verdict is Verdict.RETRY:
                    log.info(
                        "retrying %s in %.2fs: %s",
                        self.request_info(call.request),
                        decision.delay,
                        err.message,
                    )
                    self._sleep(decision.delay)
                    continue
                if decision.verdict is Verdict.AMBIGUOUS:
                    raise self._ambiguous(call, err) from err
                raise

    def _attempt(self, call: Call[T], attempt: int) -> T:
        req = call.request
        started = time.monotonic()
        request = self._http.build_request(
            req.method,
            self.base_url + req.path,
            params=list(req.params),
            content=req.content(),
            headers=self._headers(req),
        )
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            self._log_attempt(call, type(exc).__name__, started, attempt)
            raise transport_error(self.request_info(req), exc, self._scrub) from exc
        self._log_attempt(call, response.status_code, started, attempt)
        return self._finish(call, api_response(response))

    def _optional(self, call: Call[T]) -> T | None:
        try:
            return self.send(call)
        except OPTIONAL_READ_ERRORS:
            return None

    # server

    def health(self) -> Health:
        """``GET /api/health`` (no credential needed); a failing database gives ``ok == False``, no error."""
        return self.send(self.calls.health())

    def frontend_settings(self) -> FrontendSettings:
        """``GET /api/frontend/settings``: build info and the Grafana Cloud hints."""
        return self.send(self.calls.frontend_settings())

    def build_info(self) -> FrontendSettings:
        """Alias of `frontend_settings`; read ``.build_info.version`` and ``.build_info.edition``."""
        return self.frontend_settings()

    def capabilities(self, *, refresh: bool = False) -> Capabilities:
        """Who the credential is and what it may do; detected on first use, then cached for the connection."""
        if self._capabilities is None or refresh:
            identity = self.current_user()
            frontend = self._optional(self.calls.frontend_settings())
            health: Health | None = None
            if not (frontend and frontend.build_info.version):
                health = self._optional(self.calls.health())
            orgs: tuple[UserOrg, ...] = ()
            sa_role, org_name = None, ""
            if identity.is_service_account:
                sa_role = self._service_account_role(identity)
                org = self._optional(self.calls.current_org())
                org_name = org.name if org else ""
            else:
                memberships = self._optional(self.calls.current_user_orgs())
                orgs = tuple(memberships or ())
            self._capabilities = detect(
                base_url=self.base_url,
                auth_kind=self.auth.kind if self.auth else None,
                identity=identity,
                frontend=frontend,
                health=health,
                orgs=orgs,
                org_id=self.org_id,
                service_account_role=sa_role,
                org_name=org_name,
            )
        return self._capabilities

    def _service_account_role(self, identity: UserProfile) -> str | None:
        # Only org Admins may list service accounts: a 403 here already says "not Admin".
        try:
            page = self.send(self.calls.search_service_accounts(identity.login, per_page=100))
        except (PermissionDenied, NotFound):
            return None
        return next((sa.role for sa in page.items if sa.login == identity.login), None)

    # the credential itself

    def current_user(self) -> UserProfile:
        """``GET /api/user``: the credential's identity (``id == 0`` for a service account)."""
        return self.send(self.calls.current_user())

    def current_user_orgs(self) -> list[UserOrg]:
        """``GET /api/user/orgs``: the signed-in user's orgs and roles (`UserOnlyEndpoint` for tokens)."""
        return self.send(self.calls.current_user_orgs())

    def current_org(self, *, org_id: int | None = None) -> Org:
        """``GET /api/org``: the org the credential acts in (or `org_id`)."""
        return self.send(self.calls.current_org(org_id=org_id))

    # users

    def search_users(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, sort: str | None = None
    ) -> Page[UserSearchHit]:
        """One page of ``GET /api/users/search`` (server-side `query` on login, email and name)."""
        return self.send(self.calls.search_users(query, page=page, per_page=per_page, sort=sort))

    def iter_users(
        self, query: str = "", *, per_page: int = 1000, sort: str | None = None
    ) -> Iterator[UserSearchHit]:
        """Every user matching `query`, page after page."""
        return iterate(
            lambda p: self.search_users(query, page=p, per_page=per_page, sort=sort),
            PageCursor(USERS_SEARCH, lambda u: u.id),
        )

    def get_user(self, user: int | str) -> UserProfile:
        """``GET /api/users/:id`` by numeric id or UID: the full profile with the external-sync flags."""
        return self.send(self.calls.get_user(user))

    def lookup_user(self, login_or_email: str) -> UserProfile:
        """``GET /api/users/lookup?loginOrEmail=``: one user by exact login or email, or `NotFound`."""
        return self.send(self.calls.lookup_user(login_or_email))

    def user_orgs(self, user: int | str) -> list[UserOrg]:
        """``GET /api/users/:id/orgs``: every org of the user, with the role in each."""
        return self.send(self.calls.user_orgs(user))

    def user_teams(self, user: int | str, *, org_id: int | None = None) -> list[Team]:
        """``GET /api/users/:id/teams``: the user's teams in one org (the default org, or `org_id`)."""
        return self.send(self.calls.user_teams(user, org_id=org_id))

    # orgs

    def search_orgs(self, query: str = "", *, page: int = 0, per_page: int = 1000) -> Page[Org]:
        """One page of ``GET /api/orgs`` (0-based pages; `query` is a name prefix)."""
        return self.send(self.calls.search_orgs(query, page=page, per_page=per_page))

    def iter_orgs(self, query: str = "", *, per_page: int = 1000) -> Iterator[Org]:
        """Every org (whose name starts with `query`), from page 0 on."""
        return iterate(
            lambda p: self.search_orgs(query, page=p, per_page=per_page),
            PageCursor(ORGS, lambda o: o.id),
        )

    def list_orgs(self, query: str = "", *, per_page: int = 1000) -> list[Org]:
        """All orgs as a list (Grafana server admins only)."""
        return list(self.iter_orgs(query, per_page=per_page))

    def get_org(self, org_id: int) -> Org:
        """``GET /api/orgs/:id``."""
        return self.send(self.calls.get_org(org_id))

    def get_org_by_name(self, name: str) -> Org:
        """``GET /api/orgs/name/:name`` (exact name), or `NotFound`."""
        return self.send(self.calls.get_org_by_name(name))

    # org members

    def org_users(
        self,
        org_id: int | None = None,
        query: str = "",
        *,
        page: int = 1,
        per_page: int = 1000,
        sort: str | None = None,
    ) -> Page[OrgUser]:
        """One page of ``/api/orgs/:id/users/search`` (``org_id=None``: ``/api/org/users/search``)."""
        return self.send(self.calls.org_users(org_id, query, page=page, per_page=per_page, sort=sort))

    def iter_org_users(
        self, org_id: int | None = None, query: str = "", *, per_page: int = 1000, sort: str | None = None
    ) -> Iterator[OrgUser]:
        """Every member of an org matching `query`, with role, auth labels and ``is_externally_synced``."""
        return iterate(
            lambda p: self.org_users(org_id, query, page=p, per_page=per_page, sort=sort),
            PageCursor(ORG_USERS_SEARCH, lambda m: m.user_id),
        )

    def find_org_user(
        self, org_id: int | None, user: int | str, *, login: str | None = None
    ) -> OrgUser | None:
        """The membership of `user` (id, UID, login or email) in an org, or ``None``: a read-back helper.

        With `login` (or a login/email as `user`) this is one small search; otherwise the org is scanned.
        """
        probe = MemberWithRole(org_id, user, "", login)
        query = login or (user if isinstance(user, str) else "")
        if query:
            found = next((m for m in self.iter_org_users(org_id, query) if probe.matches(m)), None)
            if found is not None or login:
                return found
        return next((m for m in self.iter_org_users(org_id) if probe.matches(m)), None)

    def add_org_user(self, org_id: int, login_or_email: str, role: str) -> WriteResult:
        """``POST /api/orgs/:id/users``: add an existing user with `role` (`Conflict` if already a member)."""
        return self.send(self.calls.add_org_user(org_id, login_or_email, role))

    def update_org_user_role(self, org_id: int, user: int | str, role: str) -> WriteResult:
        """``PATCH /api/orgs/:id/users/:uid``: change the role with one request.

        Never remove + re-add: removing a user from an org deletes their team memberships and dashboard
        permissions there. For a user whose role is synced from the login provider Grafana answers
        `RoleLockedByExternalSync`; nothing else is attempted.
        """
        return self.send(self.calls.update_org_user_role(org_id, user, role))

    def remove_org_user(self, org_id: int, user: int | str) -> WriteResult:
        """``DELETE /api/orgs/:id/users/:uid``: remove from one org; the user account always survives."""
        return self.send(self.calls.remove_org_user(org_id, user))

    def add_current_org_user(
        self, login_or_email: str, role: str, *, org_id: int | None = None
    ) -> WriteResult:
        """``POST /api/org/users`` in the credential's org (or `org_id`, as a header)."""
        return self.send(self.calls.add_current_org_user(login_or_email, role, org_id=org_id))

    def update_current_org_user_role(
        self, user: int | str, role: str, *, org_id: int | None = None
    ) -> WriteResult:
        """``PATCH /api/org/users/:id`` in the credential's org: one request, as `update_org_user_role`."""
        return self.send(self.calls.update_current_org_user_role(user, role, org_id=org_id))

    def remove_current_org_user(self, user: int | str, *, org_id: int | None = None) -> WriteResult:
        """``DELETE /api/org/users/:id``. WARNING: if this is the user's last org, Grafana deletes the user.

        This current-org route passes ``ShouldDeleteOrphanedUser``: a user left without any org is
        deleted outright (Grafana answers "User deleted"). Prefer `remove_org_user`, which never deletes;
        use this only where that route is unavailable (some Grafana Cloud tokens), and say so to the user.
        """
        return self.send(self.calls.remove_current_org_user(user, org_id=org_id))

    # invites

    def invite_user(
        self,
        login_or_email: str,
        role: str,
        *,
        name: str = "",
        send_email: bool = True,
        org_id: int | None = None,
    ) -> WriteResult:
        """``POST /api/org/invites``: invite someone (an existing user is added directly)."""
        return self.send(
            self.calls.invite_user(login_or_email, role, name=name, send_email=send_email, org_id=org_id)
        )

    def list_invites(self, *, org_id: int | None = None) -> list[Invite]:
        """``GET /api/org/invites``: pending invites."""
        return self.send(self.calls.list_invites(org_id=org_id))

    def revoke_invite(self, code: str, *, org_id: int | None = None) -> WriteResult:
        """``PATCH /api/org/invites/:code/revoke``."""
        return self.send(self.calls.revoke_invite(code, org_id=org_id))

    # admin

    def create_user(
        self,
        login: str,
        password: str | Secret,
        *,
        email: str = "",
        name: str = "",
        org_id: int | None = None,
    ) -> WriteResult:
        """``POST /api/admin/users``: a local user (`PreconditionFailed` if login or email exists)."""
        return self.send(self.calls.create_user(login, password, email=email, name=name, org_id=org_id))

    def set_grafana_admin(self, user: int | str, is_admin: bool) -> WriteResult:
        """``PUT /api/admin/users/:id/permissions``: the Grafana server admin flag."""
        return self.send(self.calls.set_grafana_admin(user, is_admin))

    def disable_user(self, user: int | str) -> WriteResult:
        """``POST /api/admin/users/:id/disable`` (Grafana also ends the user's sessions)."""
        return self.send(self.calls.disable_user(user))

    def enable_user(self, user: int | str) -> WriteResult:
        """``POST /api/admin/users/:id/enable``."""
        return self.send(self.calls.enable_user(user))

    def delete_user(self, user: int | str) -> WriteResult:
        """``DELETE /api/admin/users/:id``: the account, its memberships, team memberships and tokens."""
        return self.send(self.calls.delete_user(user))

    def revoke_user_sessions(self, user: int | str) -> WriteResult:
        """``POST /api/admin/users/:id/logout``: end every session of the user."""
        return self.send(self.calls.revoke_user_sessions(user))

    def user_sessions(self, user: int | str) -> list[AuthToken]:
        """``GET /api/admin/users/:id/auth-tokens``."""
        return self.send(self.calls.user_sessions(user))

    # teams

    def search_teams(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, org_id: int | None = None
    ) -> Page[Team]:
        """One page of ``GET /api/teams/search`` in one org."""
        return self.send(self.calls.search_teams(query, page=page, per_page=per_page, org_id=org_id))

    def iter_teams(
        self, query: str = "", *, per_page: int = 1000, org_id: int | None = None
    ) -> Iterator[Team]:
        """Every team of one org."""
        return iterate(
            lambda p: self.search_teams(query, page=p, per_page=per_page, org_id=org_id),
            PageCursor(TEAMS_SEARCH, lambda t: t.id),
        )

    def get_team(self, team: int | str, *, org_id: int | None = None) -> Team:
        """``GET /api/teams/:id`` (id or UID)."""
        return self.send(self.calls.get_team(team, org_id=org_id))

    def team_members(self, team: int | str, *, org_id: int | None = None) -> list[TeamMember]:
        """``GET /api/teams/:id/members``."""
        return self.send(self.calls.team_members(team, org_id=org_id))

    def team_groups(self, team: int | str, *, org_id: int | None = None) -> list[TeamGroup]:
        """``GET /api/teams/:id/groups``: the team's synced external groups (Enterprise; OSS: `NotFound`)."""
        return self.send(self.calls.team_groups(team, org_id=org_id))

    # service accounts

    def search_service_accounts(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, org_id: int | None = None
    ) -> Page[ServiceAccount]:
        """One page of ``GET /api/serviceaccounts/search``."""
        return self.send(
            self.calls.search_service_accounts(query, page=page, per_page=per_page, org_id=org_id)
        )

    def iter_service_accounts(
        self, query: str = "", *, per_page: int = 1000, org_id: int | None = None
    ) -> Iterator[ServiceAccount]:
        """Every service account of one org."""
        return iterate(
            lambda p: self.search_service_accounts(query, page=p, per_page=per_page, org_id=org_id),
            PageCursor(SERVICE_ACCOUNTS_SEARCH, lambda s: s.id),
        )

    # SSO settings

    def get_sso_settings(self, provider: str) -> SSOSettings:
        """``GET /api/v1/sso-settings/:provider`` (e.g. ``saml``; `NotFound` where not configurable)."""
        return self.send(self.calls.get_sso_settings(provider))

    def list_sso_settings(self) -> list[SSOSettings]:
        """``GET /api/v1/sso-settings``: every provider the credential may read."""
        return self.send(self.calls.list_sso_settings())

    # reading back

    def verify(self, expectation: Expectation | Any) -> bool:
        """Whether Grafana is in the state a write intended (``AmbiguousWrite.expectation``), read back."""
        exp = check_expectation_type(expectation)
        if isinstance(exp, MemberWithRole):
            found = self.find_org_user(exp.org_id, exp.user, login=exp.login)
            return found is not None and found.role == exp.role
        if isinstance(exp, NotMember):
            return self.find_org_user(exp.org_id, exp.user, login=exp.login) is None
        if isinstance(exp, GrafanaAdminIs):
            return self.get_user(exp.user).is_grafana_admin == exp.value
        if isinstance(exp, DisabledIs):
            return self.get_user(exp.user).is_disabled == exp.value
        try:
            if isinstance(exp, UserAbsent):
                self.get_user(exp.user)
                return False
            assert isinstance(exp, UserPresent)
            self.lookup_user(exp.login_or_email)
            return True
        except NotFound:
            return isinstance(exp, UserAbsent)
