"""Who is calling, in which org, and what they may do — as Grafana's authn and RBAC decide it.

* Credentials (``pkg/services/authn/clients``): ``Authorization: Bearer <token>`` or
  ``Basic base64("api_key:<token>")`` for service-account tokens, ``Basic base64(login:password)`` for users.
* Org (``orgIDFromRequest``): ``?targetOrgId=`` when positive, else ``X-Grafana-Org-Id`` (non-numeric is 0),
  else the user's current org / the token's org. A user outside the requested org acts with org id -1 and
  no role; a token asked for another org is refused (§13.20).
* Permissions: global ``users:*``/``orgs:*`` actions come only with the Grafana Admin flag (fixed roles
  granted to ``Grafana Admin``); org-scoped actions come from the basic role (:data:`ORG_ROLE_ACTIONS`).
* External sync (``login.IsExternallySynced``, newest generation): a user's latest auth module is synced
  when its provider is enabled and does not skip org role sync; ``authproxy`` never is.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gtool.sandbox import errors
from gtool.sandbox.store import ApiKey, Store, User

ROLE_RANK = {"None": 0, "Viewer": 1, "Editor": 2, "Admin": 3}

# Global actions (fixed:users:*, fixed:organization:* in the global org) are granted to Grafana Admin only.
GLOBAL_ACTIONS = frozenset(
    {
        "users:read",
        "users:write",
        "users:create",
        "users:delete",
        "users:enable",
        "users:disable",
        "users:logout",
        "users.password:write",
        "users.permissions:read",
        "users.permissions:write",
        "users.authtoken:read",
        "users.authtoken:write",
        "users.quotas:read",
        "users.quotas:write",
        "orgs:create",
        "orgs:read",
        "orgs:write",
        "orgs:delete",
        "settings:read",
        "settings:write",
    }
)

_ADMIN_ORG_ACTIONS = frozenset(
    {
        "orgs:read",
        "orgs:write",
        "org.users:read",
        "org.users:add",
        "org.users:write",
        "org.users:remove",
        "teams:read",
        "teams:create",
        "teams:write",
        "teams:delete",
        "teams.permissions:read",
        "teams.permissions:write",
        "serviceaccounts:read",
        "serviceaccounts:create",
        "serviceaccounts:write",
        "serviceaccounts:delete",
        "serviceaccounts.permissions:read",
        "serviceaccounts.permissions:write",
    }
)

# Basic roles in one org (accesscontrol/roles.go and the services' fixed roles). Org user management is
# granted to Admin (fixed:org.users:*); every member can read its own org. Team and service-account
# entries are the Admin baseline; finer team permissions belong to the teams routes.
ORG_ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "None": frozenset(),
    "Viewer": frozenset({"orgs:read"}),
    "Editor": frozenset({"orgs:read"}),
    "Admin": _ADMIN_ORG_ACTIONS,
}

# pkg/services/login/authinfo.go: auth module -> label shown in authLabels.
AUTH_LABELS = {
    "auth.saml": "SAML",
    "ldap": "LDAP",
    "jwt": "JWT",
    "oauth_generic_oauth": "Generic OAuth",
    "oauth_github": "GitHub",
    "oauth_gitlab": "GitLab",
    "oauth_google": "Google",
    "oauth_azuread": "AzureAD",
    "oauth_okta": "Okta",
    "oauth_grafana_com": "grafana.com",
    "oauth_grafananet": "grafana.com",
    "authproxy": "Auth Proxy",
    "": "LDAP",  # Grafana's FIXME: an empty module is labelled LDAP
}

# auth module -> provider key (ini section auth.<key>, SSO settings provider).
MODULE_PROVIDERS = {
    "auth.saml": "saml",
    "ldap": "ldap",
    "jwt": "jwt",
    "oauth_generic_oauth": "generic_oauth",
    "oauth_github": "github",
    "oauth_gitlab": "gitlab",
    "oauth_google": "google",
    "oauth_azuread": "azuread",
    "oauth_okta": "okta",
    "oauth_grafana_com": "grafana_com",
    "oauth_grafananet": "grafana_com",
}


def auth_label(module: str) -> str:
    """``login.GetAuthProviderLabel``."""
    return AUTH_LABELS.get(module, "Unknown")


def role_includes(have: str | None, want: str) -> bool:
    """``RoleType.Includes``: a role includes itself and every lower one."""
    return have is not None and ROLE_RANK.get(have, -1) >= ROLE_RANK.get(want, 99)


def _is_separator(ch: str) -> bool:
    if ch <= "\x7f":
        return not (ch.isascii() and (ch.isalnum() or ch == "_"))
    if unicodedata.category(ch)[0] in ("L", "N"):
        return False
    return ch.isspace()


def go_title(text: str) -> str:
    """Go's (deprecated) ``strings.Title``: upper-case each word's first letter, leave the rest."""
    out: list[str] = []
    prev = " "
    for ch in text:
        out.append(ch.upper() if _is_separator(prev) and len(ch.upper()) == 1 else ch)
        prev = ch
    return "".join(out)


def parse_role_text(text: str) -> str:
    """``RoleType.UnmarshalText``: title-cased; ``""`` is Viewer; anything else invalid raises."""
    role = go_title(text)
    if role in ROLE_RANK:
        return role
    if role != "":
        raise ValueError(f"invalid role value: {role}")
    return "Viewer"


# -- identity -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """The signed-in caller of one request."""

    user: User  # for a service account, its user row
    org_id: int  # the org the request acts in; -1 when a user is not a member of the requested org
    org_role: str | None  # basic role there, None without membership
    api_key: ApiKey | None = None

    @property
    def is_service_account(self) -> bool:
        return self.user.is_service_account

    @property
    def is_user(self) -> bool:
        return not self.user.is_service_account

    @property
    def is_grafana_admin(self) -> bool:
        return self.is_user and self.user.is_admin

    @property
    def typed_id(self) -> str:
        """``GetID()``: ``user:<id>`` or ``service-account:<id>``."""
        kind = "service-account" if self.is_service_account else "user"
        return f"{kind}:{self.user.id}"

    def can(self, action: str) -> bool:
        """Whether RBAC grants ``action`` in the request's org (global actions: Grafana Admin only)."""
        if self.is_grafana_admin:
            return True
        return action in ORG_ROLE_ACTIONS.get(self.org_role or "None", frozenset())

    def can_global(self, action: str) -> bool:
        """``authorizeInOrg(UseGlobalOrg, …)`` and ``global.users`` scopes: server admins only."""
        return self.is_grafana_admin and action in GLOBAL_ACTIONS


def require(identity: Identity, action: str) -> None:
    """``authorize(ac.EvalPermission(action))`` in the request's org."""
    if not identity.can(action):
        raise errors.access_denied(action)


def require_global(identity: Identity, action: str) -> None:
    """``authorize`` of a global permission (``users:*`` on ``global.users``)."""
    if not identity.can_global(action):
        raise errors.access_denied(action)


def require_grafana_admin(identity: Identity) -> None:
    """``reqGrafanaAdmin`` middleware."""
    if not identity.is_grafana_admin:
        raise errors.permission_denied()


def _go_atoi(text: str) -> int:
    """``strconv.ParseInt(s, 10, 64)``, 0 on any error."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return 0
    value = int(text)
    return value if -(2**63) <= value < 2**63 else 0


def requested_org(query: Mapping[str, str], headers: Mapping[str, str]) -> int:
    """``orgIDFromRequest``: a positive ``targetOrgId`` wins over ``X-Grafana-Org-Id``."""
    from_query = _go_atoi(query.get("targetOrgId", ""))
    if from_query > 0:
        return from_query
    return _go_atoi(headers.get("x-grafana-org-id", ""))


def _token_from(authorization: str) -> str | None:
    """``getTokenFromRequest``: a Bearer token, or the password of basic auth with user ``api_key``."""
    if authorization.startswith("Bearer "):
        return authorization[len("Bearer ") :]
    creds = _basic(authorization)
    if creds is not None and creds[0] == "api_key":
        return creds[1]
    return None


def _basic(authorization: str) -> tuple[str, str] | None:
    """``util.DecodeBasicAuthHeader``."""
    scheme, _, payload = authorization.partition(" ")
    if scheme != "Basic":
        return None
    try:
        decoded = base64.b64decode(payload, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def authenticate(
    store: Store, headers: Mapping[str, str], query: Mapping[str, str], *, cloud: bool = False
) -> Identity:
    """The request's identity, or the 401 Grafana answers (§9.2)."""
    authorization = headers.get("authorization", "")
    org_id = requested_org(query, headers)
    token = _token_from(authorization)
    if token is not None:
        return _token_identity(store, token, org_id)
    creds = _basic(authorization)
    if creds is None:
        raise errors.unauthorized()
    return _password_identity(store, creds[0], creds[1], org_id, cloud=cloud)


def _token_identity(store: Store, token: str, org_id: int) -> Identity:
    key = store.lookup_token(token) if token.startswith("glsa_") else None
    if key is None:
        raise errors.middleware_error(401, "api-key.invalid", "Invalid API key")
    if key.expires is not None and key.expires <= store.now():
        raise errors.middleware_error(401, "api-key.expired", "Expired API key")
    if key.is_revoked:
        raise errors.middleware_error(401, "api-key.revoked", "Revoked API key")
    if org_id != 0 and org_id != key.org_id:
        raise errors.middleware_error(
            401, "api-key.organization-mismatch", "API key does not belong to the requested organization"
        )
    sa = store.get_user(key.service_account_id or 0, include_service_accounts=True)
    if sa is None:
        raise errors.middleware_error(401, "api-key.invalid", "Invalid API key")
    if sa.is_disabled:
        raise errors.middleware_error(401, "identity.disabled")
    store.touch_token(key.id)
    store.touch_last_seen(sa.id)
    return Identity(sa, key.org_id, store.org_role(key.org_id, sa.id), key)


def _password_identity(store: Store, login: str, password: str, org_id: int, *, cloud: bool) -> Identity:
    if password == "":
        raise errors.middleware_error(401, "password-auth.empty", "Invalid username or password")
    # Grafana Cloud stacks do not accept basic auth against the local user table.
    user = None if cloud else store.check_password(login, password)
    if user is None:
        raise errors.middleware_error(401, "password-auth.failed", "Invalid username or password")
    if user.is_disabled:
        raise errors.middleware_error(401, "identity.disabled")
    store.touch_last_seen(user.id)
    acting_org = org_id or user.org_id
    role = store.org_role(acting_org, user.id) if acting_org > 0 else None
    # GetSignedInUser: a user outside the requested org gets OrgID -1 and no role.
    return Identity(user, acting_org if role is not None else -1, role)


# -- external sync --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderState:
    """What Grafana knows about one auth provider: ini ``[auth.<provider>]`` under stored SSO settings."""

    enabled: bool = False
    skip_org_role_sync: bool = False
    allow_assign_grafana_admin: bool = False
    role_values_grafana_admin: str = ""


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        from gtool.saml.values import parse_bool

        return parse_bool(value)
    return None


@dataclass
class AuthSettings:
    """Provider states for one request: the sandbox's grafana.ini, then what the SSO settings API stored."""

    store: Store
    config: Any = None  # gtool.saml.settings.GrafanaConfig | None
    # Edition: SAML is an Enterprise (licensed) feature. Without the licence the SAML authn client is never
    # registered, so IsProviderEnabled (IsClientEnabled(ClientSAML)) is false whatever [auth.saml] says —
    # the same reason the SSO settings API answers 404 for saml on an "Open Source" sandbox.
    saml_licensed: bool = True
    _cache: dict[str, ProviderState] = field(default_factory=dict)

    def provider(self, name: str) -> ProviderState:
        if name not in self._cache:
            # Edition: an unlicensed SAML provider is a disabled one (no ini or stored setting can enable it).
            self._cache[name] = (
                ProviderState() if name == "saml" and not self.saml_licensed else self._load(name)
            )
        return self._cache[name]

    def _ini(self, name: str, key: str) -> str:
        if self.config is None:
            return ""
        value: str = self.config.value(f"auth.{name}", key)
        return value

    def _load(self, name: str) -> ProviderState:
        values: dict[str, Any] = {
            key: self._ini(name, key)
            for key in (
                "enabled",
                "skip_org_role_sync",
                "allow_assign_grafana_admin",
                "role_values_grafana_admin",
            )
        }
        stored = self.store.get_sso_settings(name)
        if stored is not None:
            values.update({k: v for k, v in stored.items() if k in values})
        grafana_admin = values["role_values_grafana_admin"]
        return ProviderState(
            enabled=_as_bool(values["enabled"]) is True,
            skip_org_role_sync=_as_bool(values["skip_org_role_sync"]) is True,
            allow_assign_grafana_admin=_as_bool(values["allow_assign_grafana_admin"]) is True,
            role_values_grafana_admin=grafana_admin if isinstance(grafana_admin, str) else "",
        )

    def is_provider_enabled(self, module: str) -> bool:
        """``IsProviderEnabled``; ``authproxy`` and unknown modules are never enabled."""
        provider = MODULE_PROVIDERS.get(module)
        return provider is not None and self.provider(provider).enabled

    def is_externally_synced(self, module: str) -> bool:
        """``isExternallySynced``: the provider is enabled and does not skip org role sync."""
        provider = MODULE_PROVIDERS.get(module)
        if provider is None:
            return False
        state = self.provider(provider)
        return state.enabled and not state.skip_org_role_sync

    def is_grafana_admin_externally_synced(self, module: str) -> bool:
        """``IsGrafanaAdminExternallySynced`` (saml-reference.md §2.7)."""
        if not self.is_externally_synced(module):
            return False
        provider = MODULE_PROVIDERS[module]
        state = self.provider(provider)
        if provider == "saml":
            return state.role_values_grafana_admin != ""
        if provider == "ldap":
            return True
        return state.allow_assign_grafana_admin
