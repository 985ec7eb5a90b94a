"""The sandbox as an ASGI app: ``create_app(store, …)`` mounts every route module listed in
:data:`ROUTE_MODULES` (each exposes ``ROUTES``), then the ``/api/*`` catch-all Grafana answers with 404.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gtool.sandbox import errors
from gtool.sandbox.store import Store
from gtool.sandbox.web import ALL_METHODS, DEFAULT_COMMIT, DEFAULT_VERSION, Sandbox

if TYPE_CHECKING:
    from gtool.saml.settings import GrafanaConfig

# One line per module under gtool/sandbox/routes/ (mounted in this order; earlier paths win).
ROUTE_MODULES: tuple[str, ...] = (
    "health",
    "users",
    "orgs",
    "teams",
    "serviceaccounts",
    "sso",
    "samllogin",
)


async def _api_not_found(request: Request) -> Response:
    return errors.not_found_route().response()


class _TrailingSlash:
    """Grafana's router serves ``/api/org/`` and ``/api/org`` alike; route without the trailing slash."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)


def collect_routes(
    modules: Sequence[str] = ROUTE_MODULES, extra: Sequence[BaseRoute] = ()
) -> list[BaseRoute]:
    """The routes of ``modules``, then ``extra`` (sandbox-only routes), then the ``/api/*`` catch-all."""
    routes: list[BaseRoute] = []
    for name in modules:
        module = importlib.import_module(f"gtool.sandbox.routes.{name}")
        routes.extend(module.ROUTES)
    routes.extend(extra)
    routes.append(Route("/api/{rest:path}", _api_not_found, methods=list(ALL_METHODS)))
    return routes


def create_app(
    store: Store,
    *,
    config: Any = None,
    cloud: bool = False,
    version: str = DEFAULT_VERSION,
    commit: str = DEFAULT_COMMIT,
    edition: str | None = None,
    app_url: str | None = None,
    middleware: Sequence[Middleware] = (),
    extra_routes: Sequence[BaseRoute] = (),
    route_modules: Sequence[str] = ROUTE_MODULES,
) -> Starlette:
    """A Grafana-compatible app over ``store``.

    ``config`` is a :class:`gtool.saml.settings.GrafanaConfig` (the sandbox's own grafana.ini); ``cloud``
    turns on Grafana Cloud behaviour; ``middleware`` wraps the app (fault injection goes here) and
    ``extra_routes`` adds sandbox-only routes (``/api/sandbox/…``) ahead of the 404 catch-all.
    """
    sandbox = Sandbox(
        store,
        config=config,
        cloud=cloud,
        version=version,
        commit=commit,
        edition=edition or "Enterprise",
        app_url=app_url or ("https://sandbox.grafana.net/" if cloud else "http://localhost:3000/"),
    )
    app = Starlette(
        routes=collect_routes(route_modules, extra_routes),
        middleware=[*middleware, Middleware(_TrailingSlash)],
    )
    app.state.sandbox = sandbox
    return app


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> GrafanaConfig:
    """The sandbox's grafana.ini, layered as Grafana would (defaults, the file, ``GF_*`` from ``env``)."""
    from gtool.saml import ini, settings

    return settings.load([ini.read_file(path)], env=env, base_dir=Path(path).resolve().parent)


def store_options(config: GrafanaConfig | None) -> dict[str, Any]:
    """``Store`` keyword arguments from ``[security]`` and ``[users]`` (admin account, auto-assign org)."""
    if config is None:
        return {}
    from gtool.saml.values import parse_bool

    def text(section: str, key: str, default: str) -> str:
        return config.value(section, key) or default

    org_id = text("users", "auto_assign_org_id", "1")
    return {
        "admin_login": text("security", "admin_user", "admin"),
        "admin_password": text("security", "admin_password", "admin"),
        "admin_email": text("security", "admin_email", "admin@localhost"),
        "auto_assign_org": parse_bool(text("users", "auto_assign_org", "true")) is not False,
        "auto_assign_org_id": int(org_id) if org_id.isdigit() and int(org_id) > 0 else 1,
        # readUserSettings: anything but the four exact role names becomes Viewer.
        "auto_assign_org_role": text("users", "auto_assign_org_role", "Viewer"),
    }
