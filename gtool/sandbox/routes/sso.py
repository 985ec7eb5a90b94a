"""SSO settings API: ``/api/v1/sso-settings`` and ``/api/v1/sso-settings/:key`` (contract §7.3, §13.31).

Only ``saml`` is configurable in the sandbox, and only on a licensed ("Enterprise") sandbox, as
``ssosettingsimpl`` registers SAML only when the licence has the ``saml`` feature. Any other key — and
``saml`` on an "Open Source" sandbox — is the errutil 404 ``sso.notFound``. OAuth providers and LDAP are
not modelled (the list holds SAML alone).
``settings:read``/``settings:write`` come with Grafana Admin only (fixed settings roles).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from gtool.sandbox import errors, ssodata
from gtool.sandbox.auth import require
from gtool.sandbox.gojson import GoJSONResponse
from gtool.sandbox.web import Ctx, api


def _not_found() -> errors.GrafanaError:
    return errors.public_error(404, "sso.notFound", "The provider was not found.")


def _provider(ctx: Ctx) -> str:
    """The path key, when the sandbox can configure it."""
    key = ctx.params.get("key", "")
    if key != ssodata.SAML or ctx.sandbox.edition == "Open Source":
        raise _not_found()
    return key


def _bad_body() -> errors.GrafanaError:
    return errors.error_with_err(400, "Failed to parse request body")


def _parse_settings(body: bytes | None) -> dict[str, Any]:
    """``web.Bind`` into ``models.SSOSettings`` (camelCase keys become snake_case)."""
    if body is None:
        raise _bad_body()
    text = body.decode("utf-8", "replace").strip()
    if text == "":
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise _bad_body() from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise _bad_body()
    for field in ("id", "provider"):
        if doc.get(field) is not None and not isinstance(doc[field], str):
            raise _bad_body()
    settings = doc.get("settings")
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise _bad_body()
    return {ssodata.to_snake(k): v for k, v in settings.items()}


def list_providers(ctx: Ctx) -> Any:
    require(ctx.identity, "settings:read")
    if ctx.sandbox.edition == "Open Source":
        return []
    return [ssodata.provider_settings(ctx.store, ctx.sandbox.config)]


def get_provider(ctx: Ctx) -> Any:
    """GET: the merged record, secrets redacted, with an ``ETag`` (FNV-64 of the body)."""
    require(ctx.identity, "settings:read")
    provider = _provider(ctx)
    body = ssodata.provider_settings(ctx.store, ctx.sandbox.config, provider)
    return GoJSONResponse(body, headers={"ETag": ssodata.etag(body)})


def update_provider(ctx: Ctx) -> Any:
    """PUT: replaces the whole record (the path key wins over ``provider`` in the body) → 204, no body."""
    require(ctx.identity, "settings:write")
    provider = _provider(ctx)
    settings = _parse_settings(ctx.body)
    ssodata.restore_secrets(settings, ctx.store, ctx.sandbox.config, provider)
    try:
        ssodata.validate_saml(settings)
    except ssodata.InvalidSettings as exc:
        raise errors.public_error(400, "sso.saml.settings", str(exc)) from None
    ctx.store.put_sso_settings(provider, settings)
    return Response(status_code=204)


def remove_provider(ctx: Ctx) -> Any:
    """DELETE: drops the stored record (the ini applies again) → 204; nothing stored → 404."""
    require(ctx.identity, "settings:write")
    provider = _provider(ctx)
    if not ctx.store.delete_sso_settings(provider):
        raise _not_found()
    return Response(status_code=204)


ROUTES = [
    api("GET", "/api/v1/sso-settings", list_providers),
    api("GET", "/api/v1/sso-settings/{key}", get_provider),
    api("PUT", "/api/v1/sso-settings/{key}", update_provider),
    api("DELETE", "/api/v1/sso-settings/{key}", remove_provider),
]
