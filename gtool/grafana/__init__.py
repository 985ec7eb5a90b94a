"""gtool's Grafana HTTP API client: `GrafanaClient` (sync, CLI) and `AsyncGrafanaClient` (asyncio, TUI).

::

    from gtool.grafana import GrafanaClient, BasicAuth, TokenAuth

    with GrafanaClient("https://grafana.example.com/grafana/", BasicAuth("admin", password)) as g:
        for member in g.iter_org_users(1):
            print(member.login, member.role, member.is_externally_synced)

The clients (and httpx) are imported on first use, so ``gtool.grafana.errors``, ``.models`` and ``.auth``
stay cheap to import for code that only handles errors or records. See docs/client.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gtool.grafana.auth import ApiKeyBasicAuth, Auth, BasicAuth, Secret, TokenAuth
from gtool.grafana.errors import (
    AmbiguousWrite,
    AuthenticationFailed,
    BadRequest,
    ConfigurationError,
    Conflict,
    ConnectError,
    GrafanaAdminLocked,
    GrafanaError,
    HTTPStatusError,
    LastAdminError,
    NetworkError,
    NotFound,
    OrganizationMismatch,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    RequestTimeout,
    ResponseDecodeError,
    RoleAboveCaller,
    RoleLockedByExternalSync,
    ServerError,
    TLSVerificationFailed,
    TransportError,
    UserOnlyEndpoint,
)

if TYPE_CHECKING:
    from gtool.grafana.aclient import AsyncGrafanaClient
    from gtool.grafana.base import InsecureTLSWarning, Timeouts
    from gtool.grafana.capabilities import Capabilities
    from gtool.grafana.client import GrafanaClient
    from gtool.grafana.paging import Page
    from gtool.grafana.retry import RetryPolicy

_LAZY = {
    "GrafanaClient": "gtool.grafana.client",
    "AsyncGrafanaClient": "gtool.grafana.aclient",
    "Timeouts": "gtool.grafana.base",
    "InsecureTLSWarning": "gtool.grafana.base",
    "Capabilities": "gtool.grafana.capabilities",
    "Page": "gtool.grafana.paging",
    "RetryPolicy": "gtool.grafana.retry",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gtool.grafana' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AmbiguousWrite",
    "ApiKeyBasicAuth",
    "AsyncGrafanaClient",
    "Auth",
    "AuthenticationFailed",
    "BadRequest",
    "BasicAuth",
    "Capabilities",
    "ConfigurationError",
    "Conflict",
    "ConnectError",
    "GrafanaAdminLocked",
    "GrafanaClient",
    "GrafanaError",
    "HTTPStatusError",
    "InsecureTLSWarning",
    "LastAdminError",
    "NetworkError",
    "NotFound",
    "OrganizationMismatch",
    "Page",
    "PermissionDenied",
    "PreconditionFailed",
    "RateLimited",
    "RequestTimeout",
    "ResponseDecodeError",
    "RetryPolicy",
    "RoleAboveCaller",
    "RoleLockedByExternalSync",
    "Secret",
    "ServerError",
    "TLSVerificationFailed",
    "Timeouts",
    "TokenAuth",
    "TransportError",
    "UserOnlyEndpoint",
]
