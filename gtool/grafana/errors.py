"""Errors raised by `gtool.grafana`, one class per thing a caller may want to handle differently.

::

    GrafanaError
    ├── ConfigurationError            bad base URL, contradictory TLS options, unreadable CA bundle
    ├── TransportError                no HTTP response at all
    │   ├── ConnectError              DNS failure, connection refused: nothing was sent
    │   │   └── TLSVerificationFailed the server certificate did not verify (--ca-bundle, --insecure)
    │   ├── RequestTimeout            .phase: "connect" | "pool" (nothing sent) or "read" | "write"
    │   └── NetworkError              the connection broke mid-exchange
    ├── AmbiguousWrite                a write may or may not have happened (.cause, .expectation)
    ├── ResponseDecodeError           a 2xx answer that is not the JSON expected (wrong base URL?)
    └── HTTPStatusError               an error status (.status_code, .message, .message_id, .body)
        ├── BadRequest                    400
        │   └── LastAdminError            400 the last org admin / last Grafana admin would be gone
        ├── AuthenticationFailed          401 (bad password, invalid/expired/revoked token)
        │   └── OrganizationMismatch      401 api-key.organization-mismatch: the token belongs to another org
        ├── PermissionDenied              403 (.access_error_id, .missing_permission, .permissions)
        │   ├── RoleLockedByExternalSync  403 org.externallySynced (.provider, .fix)
        │   ├── GrafanaAdminLocked        403 the Grafana Admin flag is synced from the provider
        │   └── RoleAboveCaller           403 the caller cannot grant a role above their own
        ├── NotFound                      404
        ├── Conflict                      409 (.user_id, e.g. already a member)
        ├── PreconditionFailed            412 (user already exists, already invited)
        ├── RateLimited                   429 (.retry_after seconds)
        ├── ServerError                   5xx
        └── UserOnlyEndpoint              304 the endpoint serves real users only, not service accounts

Every error carries ``.request`` (a `RequestInfo`: method and URL, without credentials or secret query
values) and, for answered requests, ``.response`` (a `ResponseInfo`: status, a truncated body with any
echo of the credential scrubbed). They are gtool's own records, not httpx objects, so that an error can
be logged, printed or pickled without carrying the ``Authorization`` header along. ``.hint`` says what
to do, when gtool knows.

`AmbiguousWrite` is deliberately not a `TransportError`: code that retries on transport errors must not
resend a write that may already have been applied; it should call the client's ``verify(err.expectation)``
to learn whether it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gtool.grafana.models import AuthProvider, find_provider

BODY_LIMIT = 2000


@dataclass(frozen=True)
class RequestInfo:
    """The request that failed: method and URL only (credentials never; secret query values masked)."""

    method: str
    url: str
    org_id: int | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


@dataclass(frozen=True)
class ResponseInfo:
    """The answer that made the error: status, reason, content type and a truncated, scrubbed body."""

    status_code: int
    reason: str = ""
    content_type: str = ""
    body: str = field(default="", repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


class GrafanaError(Exception):
    """Base of every error the Grafana client raises."""

    def __init__(
        self,
        message: str,
        *,
        request: RequestInfo | None = None,
        response: ResponseInfo | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.response = response
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.request}: " if self.request else ""
        return f"{where}{self.message}"


class ConfigurationError(GrafanaError, ValueError):
    """The client was set up wrongly (URL, TLS options); raised before any request is sent."""


# --- transport ---------------------------------------------------------------------------------------


class TransportError(GrafanaError):
    """No usable HTTP response: the network, DNS, TLS or a timeout got in the way."""


class ConnectError(TransportError):
    """The connection could not be opened; the request was not sent."""


class TLSVerificationFailed(ConnectError):
    """The server's TLS certificate did not verify against the trusted CAs."""


class RequestTimeout(TransportError):
    """A timeout; ``phase`` says which: ``connect``/``pool`` (not sent) or ``read``/``write`` (maybe sent)."""

    def __init__(self, message: str, *, phase: str, request: RequestInfo | None = None) -> None:
        super().__init__(message, request=request)
        self.phase = phase

    @property
    def request_sent(self) -> bool:
        return self.phase not in ("connect", "pool")


class NetworkError(TransportError):
    """The connection broke after it was opened (reset, closed without answer, protocol error)."""


class AmbiguousWrite(GrafanaError):
    """A write failed in a way that leaves its outcome unknown: it may or may not have been applied.

    Raised instead of retrying when a POST/PUT/PATCH/DELETE was (maybe) sent and the answer was lost:
    a read or write timeout, a dropped connection, or a 502/503/504 from a gateway. ``cause`` is the original
    error; ``expectation`` (when the write has one) describes the state the write would have produced,
    so ``client.verify(err.expectation)`` tells whether it happened.
    """

    def __init__(
        self, cause: GrafanaError, *, request: RequestInfo | None, expectation: object | None
    ) -> None:
        super().__init__(
            f"the outcome of this write is unknown ({cause.message}); read the state back before retrying",
            request=request,
            response=cause.response,
            hint="re-read the target to learn whether the change was applied; do not resend it blindly",
        )
        self.cause = cause
        self.expectation = expectation


class ResponseDecodeError(GrafanaError):
    """A successful status with a body that is not the JSON gtool expected."""


# --- HTTP statuses -----------------------------------------------------------------------------------


class HTTPStatusError(GrafanaError):
    """Grafana (or a proxy in front of it) answered with a non-success status.

    ``message`` is Grafana's ``message`` field (or the reason phrase), ``message_id`` its ``messageId``
    (errutil errors, e.g. ``org.externallySynced``), ``trace_id`` its ``traceID``; ``body`` is the parsed
    JSON object when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        request: RequestInfo | None,
        response: ResponseInfo,
        message_id: str | None = None,
        trace_id: str | None = None,
        body: dict[str, Any] | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, request=request, response=response, hint=hint)
        self.status_code = response.status_code
        self.message_id = message_id
        self.trace_id = trace_id
        self.body = body

    def __str__(self) -> str:
        where = f"{self.request}: " if self.request else ""
        mid = f" ({self.message_id})" if self.message_id else ""
        return f"{where}{self.status_code} {self.message}{mid}"


class BadRequest(HTTPStatusError):
    """400: Grafana rejected the request (bad JSON, invalid role, validation)."""


class LastAdminError(BadRequest):
    """400: the change would leave an org without an Admin, or Grafana without a server admin."""


class AuthenticationFailed(HTTPStatusError):
    """401: the credential was not accepted (wrong password; invalid, expired or revoked token)."""


class OrganizationMismatch(AuthenticationFailed):
    """401 ``api-key.organization-mismatch``: a service account token used for another org than its own."""


_PERMISSIONS_NEEDED = re.compile(r"Permissions needed:\s*(.+?)\s*$", re.S)


class PermissionDenied(HTTPStatusError):
    """403: authenticated, but not allowed.

    For the RBAC body (``{"accessErrorId":"ACE…","message":"… Permissions needed: users:read","title":
    "Access denied"}``) ``access_error_id`` is set and ``missing_permission`` holds what follows
    "Permissions needed:" (``users:read``, ``any of a, b``, …); ``permissions`` splits it into actions.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        body = self.body or {}
        ace = body.get("accessErrorId")
        self.access_error_id: str | None = ace if isinstance(ace, str) else None
        m = _PERMISSIONS_NEEDED.search(message)
        self.missing_permission: str | None = m.group(1) if m else None
        self.permissions: tuple[str, ...] = _split_permissions(self.missing_permission)


def _split_permissions(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    text = re.sub(r"^(any|all) of\s+", "", text.strip())
    text = re.sub(r"^action:(\S+).*$", r"\1", text)  # older "action:X scopes:Y" form
    return tuple(p.strip() for p in text.split(",") if p.strip())


class RoleLockedByExternalSync(PermissionDenied):
    """403 ``org.externallySynced``: the user's org role is owned by their login provider.

    Grafana (10.1+) refuses role changes for users whose provider is enabled and does not skip org role
    sync; the next login would overwrite the role anyway. Grafana's body does not name the provider:
    ``provider`` is set when the caller knows it (from the user's ``authLabels``, see `with_provider`).
    ``fix`` is the text to show the operator.
    """

    def __init__(self, message: str, *, provider: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.provider = provider
        self.fix = role_sync_fix(provider)
        self.hint = self.fix

    def with_provider(self, provider: str | None) -> RoleLockedByExternalSync:
        """The same error naming the provider (a label such as ``SAML``, a module or an ini section)."""
        assert self.response is not None
        return RoleLockedByExternalSync(
            self.message,
            provider=provider,
            request=self.request,
            response=self.response,
            message_id=self.message_id,
            trace_id=self.trace_id,
            body=self.body,
        )


def role_sync_fix(provider: str | None) -> str:
    """How to make a synced user's org role editable, for `provider` (label, module or section) if known."""
    p: AuthProvider | None = find_provider(provider)
    if p is None:
        where = "the [auth.<provider>] section of the provider the user signs in with"
        ui = "Administration → Authentication → the provider → Skip org role sync"
        who = "the login provider"
    else:
        where = f"[{p.ini_section}]"
        ui = f"Administration → Authentication → {p.label} → Skip org role sync" if p.sso_key else ""
        who = p.label
    text = (
        f"Grafana syncs this user's org role from {who} at every login and refuses manual changes. "
        f"To manage roles in Grafana, set skip_org_role_sync = true in {where}"
    )
    if ui:
        text += f" (or in the SSO settings: {ui})"
    return text + "; or change the role in the identity provider instead."


class GrafanaAdminLocked(PermissionDenied):
    """403 "Cannot change Grafana Admin role for externally synced user": the flag comes from the provider."""


class RoleAboveCaller(PermissionDenied):
    """403 "Cannot assign a role higher than user's role": the credential's own org role is lower."""


class NotFound(HTTPStatusError):
    """404: no such user, org, team, invite or provider (or the route does not exist in this edition)."""


class Conflict(HTTPStatusError):
    """409: e.g. "User is already member of this organization"; ``user_id`` when Grafana names it."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        uid = (self.body or {}).get("userId")
        self.user_id: int | None = uid if isinstance(uid, int) and not isinstance(uid, bool) else None


class PreconditionFailed(HTTPStatusError):
    """412: e.g. a user with that login or email already exists, or is already invited."""


class RateLimited(HTTPStatusError):
    """429: too many requests; ``retry_after`` is the server's ``Retry-After`` in seconds, when sent."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(HTTPStatusError):
    """5xx: Grafana or a gateway failed (Grafana also answers 500 to some bad requests, see contract §9.2)."""


class UserOnlyEndpoint(HTTPStatusError):
    """304 "Endpoint only available for users": a service account called a user-only ``/api/user/*`` route."""


def describe(error: BaseException) -> str:
    """One or two lines for an operator (a TUI notification, a panel): what failed, and what to do when
    gtool knows. Never carries a secret: the messages and hints it reads are already scrubbed."""
    if isinstance(error, PermissionDenied):
        missing = f" (missing permission: {error.missing_permission})" if error.missing_permission else ""
        return f"Permission denied{missing}: {error.message}" + (f"\n{error.hint}" if error.hint else "")
    if isinstance(error, HTTPStatusError):
        hint = f"\n{error.hint}" if error.hint else ""
        return f"Grafana answered {error.status_code}: {error.message}{hint}"
    if isinstance(error, GrafanaError):
        return str(error)
    hint = getattr(error, "hint", "")  # gtool.access.roles.NotPossible: the reason is its message
    if hint:
        return f"{error}\n{hint}"
    return f"{type(error).__name__}: {error}"
