"""`AsyncGrafanaClient`: the asyncio client (for the TUI), mirroring `GrafanaClient` method for method.

Same names, same arguments, same results; methods are coroutines and ``iter_…`` are async generators.
Request building, parsing and error mapping come from the shared base, so only the awaiting differs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self, TypeVar

import httpx

from gtool.grafana.auth import Auth, Secret
from gtool.grafana.base import (
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
from gtool.grafana.client import OPTIONAL_READ_ERRORS, api_response, httpx_timeout, transport_error
from gtool.grafana.errors import GrafanaError, NotFound, PermissionDenied
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
    aiterate,
)
from gtool.grafana.retry import RetryPolicy, Verdict

log = logging.getLogger("gtool.grafana")

T = TypeVar("T")


class AsyncGrafanaClient(BaseGrafanaClient):
    """The asyncio twin of `GrafanaClient`; ``transport`` takes an ``httpx.AsyncBaseTransport``.

    Use ``async with AsyncGrafanaClient(...) as client:`` or call `aclose`. Concurrency is bounded by
    ``max_connections``; the caller decides how many requests to have in flight.
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
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
        self._capabilities_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            verify=self.tls_verify,
            timeout=httpx_timeout(self.timeouts),
            transport=transport,
            follow_redirects=False,  # a redirect could carry the credential elsewhere; report it instead
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    # lifecycle

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # sending

    async def send(self, call: Call[T]) -> T:
        """Send `call` with the retry policy and return its parsed answer (or raise a `GrafanaError`)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(call, attempt)
            except GrafanaError as err:
                decision = self.retry.decide(call.request.method, attempt, err)
                if decision.verdict is Verdict.RETRY:
                    log.info(
                        "retrying %s in %.2fs: %s",
                        self.request_info(call.request),
                        decision.delay,
                        err.message,
                    )
                    await self._sleep(decision.delay)
                    continue
                if decision.verdict is Verdict.AMBIGUOUS:
                    raise self._ambiguous(call, err) from err
                raise

    async def _attempt(self, call: Call[T], attempt: int) -> T:
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
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            self._log_attempt(call, type(exc).__name__, started, attempt)
            raise transport_error(self.request_info(req), exc, self._scrub) from exc
        self._log_attempt(call, response.status_code, started, attempt)
        return self._finish(call, api_response(response))

    async def _optional(self, call: Call[T]) -> T | None:
        try:
            return await self.send(call)
        except OPTIONAL_READ_ERRORS:
            return None

    # server

    async def health(self) -> Health:
        """``GET /api/health``; see `GrafanaClient.health`."""
        return await self.send(self.calls.health())

    async def frontend_settings(self) -> FrontendSettings:
        """``GET /api/frontend/settings``."""
        return await self.send(self.calls.frontend_settings())

    async def build_info(self) -> FrontendSettings:
        """Alias of `frontend_settings`."""
        return await self.frontend_settings()

    async def capabilities(self, *, refresh: bool = False) -> Capabilities:
        """Who the credential is and what it may do; detected once per connection (concurrent calls wait)."""
        async with self._capabilities_lock:
            if self._capabilities is None or refresh:
                identity = await self.current_user()
                frontend = await self._optional(self.calls.frontend_settings())
                health: Health | None = None
                if not (frontend and frontend.build_info.version):
                    health = await self._optional(self.calls.health())
                orgs: tuple[UserOrg, ...] = ()
                sa_role, org_name = None, ""
                if identity.is_service_account:
                    sa_role = await self._service_account_role(identity)
                    org = await self._optional(self.calls.current_org())
                    org_name = org.name if org else ""
                else:
                    memberships = await self._optional(self.calls.current_user_orgs())
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

    async def _service_account_role(self, identity: UserProfile) -> str | None:
        try:
            page = await self.send(self.calls.search_service_accounts(identity.login, per_page=100))
        except (PermissionDenied, NotFound):
            return None
        return next((sa.role for sa in page.items if sa.login == identity.login), None)

    # the credential itself

    async def current_user(self) -> UserProfile:
        """``GET /api/user``."""
        return await self.send(self.calls.current_user())

    async def current_user_orgs(self) -> list[UserOrg]:
        """``GET /api/user/orgs``."""
        return await self.send(self.calls.current_user_orgs())

    async def current_org(self, *, org_id: int | None = None) -> Org:
        """``GET /api/org``."""
        return await self.send(self.calls.current_org(org_id=org_id))

    # users

    async def search_users(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, sort: str | None = None
    ) -> Page[UserSearchHit]:
        """One page of ``GET /api/users/search``."""
        return await self.send(self.calls.search_users(query, page=page, per_page=per_page, sort=sort))

    async def iter_users(
        self, query: str = "", *, per_page: int = 1000, sort: str | None = None
    ) -> AsyncIterator[UserSearchHit]:
        """Every user matching `query`, page after page."""
        cursor: PageCursor[UserSearchHit] = PageCursor(USERS_SEARCH, lambda u: u.id)
        async for x in aiterate(
            lambda p: self.search_users(query, page=p, per_page=per_page, sort=sort), cursor
        ):
            yield x

    async def get_user(self, user: int | str) -> UserProfile:
        """``GET /api/users/:id``."""
        return await self.send(self.calls.get_user(user))

    async def lookup_user(self, login_or_email: str) -> UserProfile:
        """``GET /api/users/lookup?loginOrEmail=``."""
        return await self.send(self.calls.lookup_user(login_or_email))

    async def user_orgs(self, user: int | str) -> list[UserOrg]:
        """``GET /api/users/:id/orgs``."""
        return await self.send(self.calls.user_orgs(user))

    async def user_teams(self, user: int | str, *, org_id: int | None = None) -> list[Team]:
        """``GET /api/users/:id/teams``."""
        return await self.send(self.calls.user_teams(user, org_id=org_id))

    # orgs

    async def search_orgs(self, query: str = "", *, page: int = 0, per_page: int = 1000) -> Page[Org]:
        """One page of ``GET /api/orgs`` (0-based)."""
        return await self.send(self.calls.search_orgs(query, page=page, per_page=per_page))

    async def iter_orgs(self, query: str = "", *, per_page: int = 1000) -> AsyncIterator[Org]:
        """Every org, from page 0 on."""
        cursor: PageCursor[Org] = PageCursor(ORGS, lambda o: o.id)
        async for x in aiterate(lambda p: self.search_orgs(query, page=p, per_page=per_page), cursor):
            yield x

    async def list_orgs(self, query: str = "", *, per_page: int = 1000) -> list[Org]:
        """All orgs as a list."""
        return [o async for o in self.iter_orgs(query, per_page=per_page)]

    async def get_org(self, org_id: int) -> Org:
        """``GET /api/orgs/:id``."""
        return await self.send(self.calls.get_org(org_id))

    async def get_org_by_name(self, name: str) -> Org:
        """``GET /api/orgs/name/:name``."""
        return await self.send(self.calls.get_org_by_name(name))

    # org members

    async def org_users(
        self,
        org_id: int | None = None,
        query: str = "",
        *,
        page: int = 1,
        per_page: int = 1000,
        sort: str | None = None,
    ) -> Page[OrgUser]:
        """One page of ``/api/orgs/:id/users/search`` (``org_id=None``: the current org)."""
        return await self.send(self.calls.org_users(org_id, query, page=page, per_page=per_page, sort=sort))

    async def iter_org_users(
        self, org_id: int | None = None, query: str = "", *, per_page: int = 1000, sort: str | None = None
    ) -> AsyncIterator[OrgUser]:
        """Every member of an org matching `query`."""
        cursor: PageCursor[OrgUser] = PageCursor(ORG_USERS_SEARCH, lambda m: m.user_id)
        async for x in aiterate(
            lambda p: self.org_users(org_id, query, page=p, per_page=per_page, sort=sort), cursor
        ):
            yield x

    async def find_org_user(
        self, org_id: int | None, user: int | str, *, login: str | None = None
    ) -> OrgUser | None:
        """The membership of `user` in an org, or ``None``; see `GrafanaClient.find_org_user`."""
        probe = MemberWithRole(org_id, user, "", login)
        query = login or (user if isinstance(user, str) else "")
        if query:
            found = await anext(
                (m async for m in self.iter_org_users(org_id, query) if probe.matches(m)), None
            )
            if found is not None or login:
                return found
        return await anext((m async for m in self.iter_org_users(org_id) if probe.matches(m)), None)

    async def add_org_user(self, org_id: int, login_or_email: str, role: str) -> WriteResult:
        """``POST /api/orgs/:id/users``."""
        return await self.send(self.calls.add_org_user(org_id, login_or_email, role))

    async def update_org_user_role(self, org_id: int, user: int | str, role: str) -> WriteResult:
        """``PATCH /api/orgs/:id/users/:uid``: one request, never remove + re-add."""
        return await self.send(self.calls.update_org_user_role(org_id, user, role))

    async def remove_org_user(self, org_id: int, user: int | str) -> WriteResult:
        """``DELETE /api/orgs/:id/users/:uid``: the user account always survives."""
        return await self.send(self.calls.remove_org_user(org_id, user))

    async def add_current_org_user(
        self, login_or_email: str, role: str, *, org_id: int | None = None
    ) -> WriteResult:
        """``POST /api/org/users``."""
        return await self.send(self.calls.add_current_org_user(login_or_email, role, org_id=org_id))

    async def update_current_org_user_role(
        self, user: int | str, role: str, *, org_id: int | None = None
    ) -> WriteResult:
        """``PATCH /api/org/users/:id``."""
        return await self.send(self.calls.update_current_org_user_role(user, role, org_id=org_id))

    async def remove_current_org_user(self, user: int | str, *, org_id: int | None = None) -> WriteResult:
        """``DELETE /api/org/users/:id``. WARNING: deletes the user if this is their last org.

        See `GrafanaClient.remove_current_org_user`; prefer `remove_org_user`.
        """
        return await self.send(self.calls.remove_current_org_user(user, org_id=org_id))

    # invites

    async def invite_user(
        self,
        login_or_email: str,
        role: str,
        *,
        name: str = "",
        send_email: bool = True,
        org_id: int | None = None,
    ) -> WriteResult:
        """``POST /api/org/invites``."""
        return await self.send(
            self.calls.invite_user(login_or_email, role, name=name, send_email=send_email, org_id=org_id)
        )

    async def list_invites(self, *, org_id: int | None = None) -> list[Invite]:
        """``GET /api/org/invites``."""
        return await self.send(self.calls.list_invites(org_id=org_id))

    async def revoke_invite(self, code: str, *, org_id: int | None = None) -> WriteResult:
        """``PATCH /api/org/invites/:code/revoke``."""
        return await self.send(self.calls.revoke_invite(code, org_id=org_id))

    # admin

    async def create_user(
        self,
        login: str,
        password: str | Secret,
        *,
        email: str = "",
        name: str = "",
        org_id: int | None = None,
    ) -> WriteResult:
        """``POST /api/admin/users``."""
        return await self.send(self.calls.create_user(login, password, email=email, name=name, org_id=org_id))

    async def set_grafana_admin(self, user: int | str, is_admin: bool) -> WriteResult:
        """``PUT /api/admin/users/:id/permissions``."""
        return await self.send(self.calls.set_grafana_admin(user, is_admin))

    async def disable_user(self, user: int | str) -> WriteResult:
        """``POST /api/admin/users/:id/disable``."""
        return await self.send(self.calls.disable_user(user))

    async def enable_user(self, user: int | str) -> WriteResult:
        """``POST /api/admin/users/:id/enable``."""
        return await self.send(self.calls.enable_user(user))

    async def delete_user(self, user: int | str) -> WriteResult:
        """``DELETE /api/admin/users/:id``."""
        return await self.send(self.calls.delete_user(user))

    async def revoke_user_sessions(self, user: int | str) -> WriteResult:
        """``POST /api/admin/users/:id/logout``."""
        return await self.send(self.calls.revoke_user_sessions(user))

    async def user_sessions(self, user: int | str) -> list[AuthToken]:
        """``GET /api/admin/users/:id/auth-tokens``."""
        return await self.send(self.calls.user_sessions(user))

    # teams

    async def search_teams(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, org_id: int | None = None
    ) -> Page[Team]:
        """One page of ``GET /api/teams/search``."""
        return await self.send(self.calls.search_teams(query, page=page, per_page=per_page, org_id=org_id))

    async def iter_teams(
        self, query: str = "", *, per_page: int = 1000, org_id: int | None = None
    ) -> AsyncIterator[Team]:
        """Every team of one org."""
        cursor: PageCursor[Team] = PageCursor(TEAMS_SEARCH, lambda t: t.id)
        async for x in aiterate(
            lambda p: self.search_teams(query, page=p, per_page=per_page, org_id=org_id), cursor
        ):
            yield x

    async def get_team(self, team: int | str, *, org_id: int | None = None) -> Team:
        """``GET /api/teams/:id``."""
        return await self.send(self.calls.get_team(team, org_id=org_id))

    async def team_members(self, team: int | str, *, org_id: int | None = None) -> list[TeamMember]:
        """``GET /api/teams/:id/members``."""
        return await self.send(self.calls.team_members(team, org_id=org_id))

    async def team_groups(self, team: int | str, *, org_id: int | None = None) -> list[TeamGroup]:
        """``GET /api/teams/:id/groups`` (Enterprise)."""
        return await self.send(self.calls.team_groups(team, org_id=org_id))

    # service accounts

    async def search_service_accounts(
        self, query: str = "", *, page: int = 1, per_page: int = 1000, org_id: int | None = None
    ) -> Page[ServiceAccount]:
        """One page of ``GET /api/serviceaccounts/search``."""
        return await self.send(
            self.calls.search_service_accounts(query, page=page, per_page=per_page, org_id=org_id)
        )

    async def iter_service_accounts(
        self, query: str = "", *, per_page: int = 1000, org_id: int | None = None
    ) -> AsyncIterator[ServiceAccount]:
        """Every service account of one org."""
        cursor: PageCursor[ServiceAccount] = PageCursor(SERVICE_ACCOUNTS_SEARCH, lambda s: s.id)
        async for x in aiterate(
            lambda p: self.search_service_accounts(query, page=p, per_page=per_page, org_id=org_id), cursor
        ):
            yield x

    # SSO settings

    async def get_sso_settings(self, provider: str) -> SSOSettings:
        """``GET /api/v1/sso-settings/:provider``."""
        return await self.send(self.calls.get_sso_settings(provider))

    async def list_sso_settings(self) -> list[SSOSettings]:
        """``GET /api/v1/sso-settings``."""
        return await self.send(self.calls.list_sso_settings())

    # reading back

    async def verify(self, expectation: Expectation | Any) -> bool:
        """Whether Grafana's state is what a write intended; see `GrafanaClient.verify`."""
        exp = check_expectation_type(expectation)
        if isinstance(exp, MemberWithRole):
            found = await self.find_org_user(exp.org_id, exp.user, login=exp.login)
            return found is not None and found.role == exp.role
        if isinstance(exp, NotMember):
            return await self.find_org_user(exp.org_id, exp.user, login=exp.login) is None
        if isinstance(exp, GrafanaAdminIs):
            return (await self.get_user(exp.user)).is_grafana_admin == exp.value
        if isinstance(exp, DisabledIs):
            return (await self.get_user(exp.user)).is_disabled == exp.value
        try:
            if isinstance(exp, UserAbsent):
                await self.get_user(exp.user)
                return False
            assert isinstance(exp, UserPresent)
            await self.lookup_user(exp.login_or_email)
            return True
        except NotFound:
            return isinstance(exp, UserAbsent)
