"""``POST /api/sandbox/saml/login``: perform a SAML login as Grafana would (sandbox-only, not a Grafana API).

The body is the SAML Response the IdP would post to ``/saml/acs``: XML, base64, or a form body
``SAMLResponse=…`` (detected from the content, whatever the Content-Type says). The sandbox trusts the
message as sent: it verifies no signature, audience, recipient or time window, so anyone who can reach
the sandbox can log in as anyone SAML would accept — which is the point of a test server, and the reason
it listens on loopback only by default. No credentials are needed, as for Grafana's ACS endpoint.

The login uses the sandbox's grafana.ini with the SAML SSO settings stored through the API on top; see
:mod:`gtool.sandbox.samllogin` for what it writes. Answers:

* 200 with a summary: the user, ``created``, the org roles after the login, ``changes`` (memberships
  added/updated/removed/kept, current org, Grafana Admin before→after, teams joined/left), the simulator's
  ``decisions`` and ``loginAllowed``/``loginDeniedReason``;
* 400 (``sandbox.saml.bad-message``) when the body is not a readable SAML Response;
* 401 ``user.sync.signup-disabled`` "Sign up is disabled" for an unknown user without ``allow_sign_up``,
  401 ``identity.disabled`` for a disabled user, 403 ``sandbox.saml.login-denied`` when
  ``allowed_organizations`` refuses the user;
* 404 (``sandbox.saml.disabled``) when SAML is not enabled, or the sandbox runs the Open Source edition;
* 500 ``user.sync.internal`` "User sync failed" where Grafana's user or org sync fails (a login/email taken
  by another user, demoting the last Grafana Admin or the last Admin of an org); nothing is written then.
"""

from __future__ import annotations

from typing import Any

from gtool.sandbox import errors, samllogin
from gtool.sandbox.web import MAX_BODY, Ctx, api


def saml_login(ctx: Ctx) -> Any:
    if ctx.sandbox.edition == "Open Source":
        # SAML is licensed (Enterprise) only: an Open Source Grafana has no /saml/acs.
        failed = samllogin.LoginFailed(
            404,
            "sandbox.saml.disabled",
            "SAML is a Grafana Enterprise feature: this sandbox runs Open Source",
        )
        raise errors.GrafanaError(404, failed.body())
    if ctx.body is None:
        raise errors.GrafanaError(
            400,
            samllogin.LoginFailed(
                400,
                "sandbox.saml.bad-message",
                f"the request body is larger than {MAX_BODY // (1024 * 1024)} MiB: not a SAML Response",
            ).body(),
        )
    client = ctx.request.client
    try:
        return samllogin.login(
            ctx.store, ctx.sandbox.config, ctx.body, client_ip=client.host if client is not None else ""
        )
    except samllogin.LoginFailed as exc:
        raise errors.GrafanaError(exc.status, exc.body()) from None


ROUTES = [api("POST", "/api/sandbox/saml/login", saml_login, signed_in=False)]
