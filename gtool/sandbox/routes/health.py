"""``/api/health`` (§9.5), ``/healthz`` and ``/api/frontend/settings`` (buildInfo, §7.2)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gtool.sandbox.gojson import dumps_indent
from gtool.sandbox.web import Ctx, Sandbox, api

CLOUD_BUILD = "80818"  # Cloud versions carry a build suffix ("11.0.0-12345"); the number is illustrative


async def health(request: Request) -> Response:
    """``apiHealthHandler``: before auth, GET/HEAD, 2-space indented struct, 503 when ``SELECT 1`` fails.

    Grafana caches the database check for 5 s; the sandbox checks every time so a test sees a change at once.
    """
    sandbox: Sandbox = request.app.state.sandbox
    ok = await run_in_threadpool(sandbox.store.ping)
    body = dumps_indent(
        # Cloud: the stack's build version (with its build suffix), as buildInfo reports it [I].
        {"database": "ok" if ok else "failing", "version": _version(sandbox), "commit": sandbox.commit}
    )
    status = 200 if ok else 503
    if request.method == "HEAD":
        body = b""
    return Response(body, status, media_type="application/json; charset=UTF-8")


async def healthz(request: Request) -> Response:
    return PlainTextResponse("Ok")


def _version(sandbox: Sandbox) -> str:
    return f"{sandbox.version}-{CLOUD_BUILD}" if sandbox.cloud else sandbox.version


def frontend_settings(ctx: Ctx) -> Any:
    """A subset of ``FrontendSettingsDTO``: what clients read to tell the server apart (§7.2)."""
    sandbox = ctx.sandbox
    version = _version(sandbox)
    commit_short = sandbox.commit[:10]
    org_id = ctx.identity.org_id
    if sandbox.cloud:
        namespace = f"stacks-{sandbox.stack_id}"
    else:
        namespace = "default" if org_id == 1 else f"org-{org_id}"
    saml = ctx.settings.provider("saml")
    return {
        "appUrl": sandbox.app_url,
        "appSubUrl": "",
        "authProxyEnabled": False,
        "ldapEnabled": ctx.settings.provider("ldap").enabled,
        "samlEnabled": saml.enabled,
        "samlName": "SAML",
        "buildInfo": {
            "hideVersion": False,
            "version": version,
            "versionString": f"Grafana v{version} ({commit_short})",
            "commit": sandbox.commit,
            "commitShort": commit_short,
            "buildstamp": 0,
            # hs.License.Edition(): "Open Source" for OSS (licensing/oss.go) [C]; Cloud stacks run the
            # licensed Enterprise build, so Cloud mode keeps the sandbox edition ("Enterprise") [I].
            "edition": sandbox.edition,
            "latestVersion": "",
            "hasUpdate": False,
            "env": "production",
        },
        "namespace": namespace,
    }


ROUTES = [
    Route("/api/health", health, methods=["GET", "HEAD"]),
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    api("GET", "/api/frontend/settings", frontend_settings),
]
