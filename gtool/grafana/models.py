"""Typed, immutable views of Grafana's JSON (contract §2–§7, §11).

Every model has a ``from_json`` class method that is tolerant in the way a client talking to Grafana 10
and Grafana 13 must be: a missing newer field (``uid``, ``created``, ``isProvisioned``) becomes its
default, ``authLabels: null`` (org-user lists for local users) becomes ``()``, the zero Go time
``0001-01-01T00:00:00Z`` (service account identities) becomes ``None``, and unknown fields are ignored.
Only a payload that is not a JSON object at all raises `ModelError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self, TypeVar

ROLES: tuple[str, ...] = ("None", "Viewer", "Editor", "Admin")
"""Grafana org roles, lowest first (``roletype.go`` precedence 10/20/30/40)."""


class ModelError(ValueError):
    """The JSON does not have the shape of the model at all (not an object, not a list)."""


def normalize_role(role: str) -> str:
    """The canonical spelling of an org role (``"viewer"`` → ``"Viewer"``), or `ValueError`.

    Grafana title-cases the role it receives and answers 400 ``bad request data`` for ``"VIEWER"``; the
    client accepts any case and always sends the canonical form.
    """
    for name in ROLES:
        if role.strip().lower() == name.lower():
            return name
    raise ValueError(f"unknown org role {role!r}: use one of {', '.join(ROLES)}")


def role_rank(role: str | None) -> int:
    """0 for an unknown role, then None < Viewer < Editor < Admin."""
    return ROLES.index(role) + 1 if role in ROLES else 0


# --- tolerant readers ----------------------------------------------------------------------------------


def obj(data: object, what: str) -> Mapping[str, Any]:
    if type(data) is dict:  # what json.loads gives: skip the slower ABC check
        return data
    if not isinstance(data, Mapping):
        raise ModelError(f"expected a JSON object for {what}, got {type(data).__name__}")
    return data


def array(data: object, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise ModelError(f"expected a JSON array for {what}, got {type(data).__name__}")
    return data


# Each reader tries the exact JSON type first (``type(v) is str``): one check for the value Grafana
# really sends, the tolerant conversions only for the odd one. Listings parse ~30,000 rows of ~15 fields.


def _str(d: Mapping[str, Any], key: str, default: str = "") -> str:
    v = d.get(key)
    if type(v) is str:
        return v
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    return default


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


_DECIMAL = re.compile(r"-?[0-9]{1,19}")  # str.isdigit() would accept "²", which int() rejects


def _as_int(v: object) -> int | None:
    if type(v) is int:
        return v
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and _DECIMAL.fullmatch(v.strip()):
        return int(v)
    return None


def _int(d: Mapping[str, Any], key: str, default: int = 0) -> int:
    v = d.get(key)
    if type(v) is int:
        return v
    v = _as_int(v)
    return default if v is None else v


def _opt_int(d: Mapping[str, Any], key: str) -> int | None:
    return _as_int(d.get(key))


def _bool(d: Mapping[str, Any], key: str, default: bool = False) -> bool:
    v = d.get(key)
    return v if type(v) is bool else default


def _opt_bool(d: Mapping[str, Any], key: str) -> bool | None:
    v = d.get(key)
    return v if type(v) is bool else None


def _labels(d: Mapping[str, Any], key: str) -> tuple[str, ...]:
    v = d.get(key)
    if not isinstance(v, list) or not v:
        return ()
    if len(v) == 1 and type(v[0]) is str:  # the usual: the provider of the last login
        return (v[0],)
    return tuple(x for x in v if isinstance(x, str))


_FRACTION = re.compile(r"(\.\d{6})\d+")
_PLAIN_END = frozenset("Z0123456789")


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time as Go writes it (nanoseconds, ``Z``), or ``None`` for zero, empty or garbage."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    if "." not in value and value[-1] in _PLAIN_END:
        # Grafana's usual shape, "2025-05-06T09:12:31Z" or "…+02:00": no fraction to cut and no space
        # at the end (one at the start fails fromisoformat), so the text parses as it is.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # let the general path decide
    # Go writes up to nine fractional digits; datetime takes six.
    text = _FRACTION.sub(r"\1", value.strip())
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _time(d: Mapping[str, Any], key: str) -> datetime | None:
    return parse_time(d.get(key))


_T = TypeVar("_T")


def _built(cls: type[_T], values: dict[str, Any]) -> _T:
    """An instance of the frozen dataclass `cls` holding `values`, which must name every field.

    The generated ``__init__`` of a frozen dataclass sets each field through ``object.__setattr__``
    (~2 µs for 15 fields, a third of parsing a listing row); filling ``__dict__`` directly gives the same
    object (equality, hash, repr) for the models parsed by the thousand.
    """
    self = object.__new__(cls)
    self.__dict__.update(values)
    return self


# --- auth providers (contract §5.2) --------------------------------------------------------------------


@dataclass(frozen=True)
class AuthProvider:
    """An external login provider as Grafana names it in its labels, modules, ini and SSO settings."""

    label: str  # authLabels value, e.g. "SAML"
    module: str  # user_auth.auth_module, e.g. "auth.saml"
    ini_section: str  # where skip_org_role_sync lives, e.g. "auth.saml"
    sso_key: str | None  # /api/v1/sso-settings/<key> and the Authentication page, when configurable there


PROVIDERS: tuple[AuthProvider, ...] = (
    AuthProvider("SAML", "auth.saml", "auth.saml", "saml"),
    AuthProvider("LDAP", "ldap", "auth.ldap", "ldap"),
    AuthProvider("JWT", "jwt", "auth.jwt", None),
    AuthProvider("Generic OAuth", "oauth_generic_oauth", "auth.generic_oauth", "generic_oauth"),
    AuthProvider("GitHub", "oauth_github", "auth.github", "github"),
    AuthProvider("GitLab", "oauth_gitlab", "auth.gitlab", "gitlab"),
    AuthProvider("Google", "oauth_google", "auth.google", "google"),
    AuthProvider("AzureAD", "oauth_azuread", "auth.azuread", "azuread"),
    AuthProvider("Okta", "oauth_okta", "auth.okta", "okta"),
    AuthProvider("grafana.com", "oauth_grafana_com", "auth.grafana_com", "grafana_com"),
)


def find_provider(name: str | None) -> AuthProvider | None:
    """The provider for a label (``SAML``), module (``oauth_okta``), ini section or SSO key, any case."""
    if not name:
        return None
    key = name.strip().lower()
    if key == "oauth_grafananet":
        key = "oauth_grafana_com"
    for p in PROVIDERS:
        if key in {p.label.lower(), p.module, p.ini_section, p.sso_key}:
            return p
    return None


# --- users -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserSearchHit:
    """An item of ``GET /api/users/search`` (``UserSearchHitDTO``); has no ``isExternallySynced``."""

    id: int
    login: str
    email: str = ""
    name: str = ""
    uid: str = ""  # Grafana ≥ 11.1
    avatar_url: str = ""
    is_admin: bool = False  # the Grafana server admin flag
    is_disabled: bool = False
    last_seen_at: datetime | None = None
    last_seen_at_age: str = ""
    auth_labels: tuple[str, ...] = ()
    is_provisioned: bool | None = None  # Grafana 13
    created: datetime | None = None  # Grafana 13

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "a user search hit")
        return _built(
            cls,
            {
                "id": _int(d, "id"),
                "login": _str(d, "login"),
                "email": _str(d, "email"),
                "name": _str(d, "name"),
                "uid": _str(d, "uid"),
                "avatar_url": _str(d, "avatarUrl"),
                "is_admin": _bool(d, "isAdmin"),
                "is_disabled": _bool(d, "isDisabled"),
                "last_seen_at": _time(d, "lastSeenAt"),
                "last_seen_at_age": _str(d, "lastSeenAtAge"),
                "auth_labels": _labels(d, "authLabels"),
                "is_provisioned": _opt_bool(d, "isProvisioned"),
                "created": _time(d, "created"),
            },
        )

    @property
    def is_external(self) -> bool:
        return bool(self.auth_labels)


@dataclass(frozen=True)
class UserProfile:
    """``GET /api/users/:id``, ``/api/users/lookup`` and ``/api/user`` (``UserProfileDTO``).

    ``/api/users/lookup`` never fills the external flags (always false) nor ``authLabels``; read
    ``/api/users/:id`` when they matter. A service account identity (``GET /api/user`` with a token) has
    ``id == 0`` and no timestamps.
    """

    id: int
    login: str
    email: str = ""
    name: str = ""
    uid: str = ""
    theme: str = ""
    org_id: int | None = None  # the user's *current* org
    is_grafana_admin: bool = False
    is_disabled: bool = False
    is_external: bool = False
    is_externally_synced: bool = False
    is_grafana_admin_externally_synced: bool = False
    auth_labels: tuple[str, ...] = ()
    updated_at: datetime | None = None
    created_at: datetime | None = None
    avatar_url: str = ""
    is_provisioned: bool | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "a user profile")
        return cls(
            id=_int(d, "id"),
            login=_str(d, "login"),
            email=_str(d, "email"),
            name=_str(d, "name"),
            uid=_str(d, "uid"),
            theme=_str(d, "theme"),
            org_id=_opt_int(d, "orgId"),
            is_grafana_admin=_bool(d, "isGrafanaAdmin"),
            is_disabled=_bool(d, "isDisabled"),
            is_external=_bool(d, "isExternal"),
            is_externally_synced=_bool(d, "isExternallySynced"),
            is_grafana_admin_externally_synced=_bool(d, "isGrafanaAdminExternallySynced"),
            auth_labels=_labels(d, "authLabels"),
            updated_at=_time(d, "updatedAt"),
            created_at=_time(d, "createdAt"),
            avatar_url=_str(d, "avatarUrl"),
            is_provisioned=_opt_bool(d, "isProvisioned"),
        )

    @property
    def is_service_account(self) -> bool:
        """``GET /api/user`` answers ``id: 0`` for every non-user identity (contract §2.7)."""
        return self.id == 0

    @property
    def provider(self) -> AuthProvider | None:
        return find_provider(self.auth_labels[0]) if self.auth_labels else None


@dataclass(frozen=True)
class UserOrg:
    """A user's membership: ``GET /api/users/:id/orgs`` and ``/api/user/orgs`` (``UserOrgDTO``)."""

    org_id: int
    name: str
    role: str

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "an org membership")
        return cls(org_id=_int(d, "orgId"), name=_str(d, "name"), role=_str(d, "role"))


@dataclass(frozen=True)
class AuthToken:
    """A login session: ``GET /api/admin/users/:id/auth-tokens``."""

    id: int
    is_active: bool = False
    client_ip: str = ""
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device: str = ""
    created_at: datetime | None = None
    seen_at: datetime | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "an auth token")
        return cls(
            id=_int(d, "id"),
            is_active=_bool(d, "isActive"),
            client_ip=_str(d, "clientIp"),
            browser=_str(d, "browser"),
            browser_version=_str(d, "browserVersion"),
            os=_str(d, "os"),
            os_version=_str(d, "osVersion"),
            device=_str(d, "device"),
            created_at=_time(d, "createdAt"),
            seen_at=_time(d, "seenAt"),
        )


# --- orgs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    """``GET /api/orgs`` items (``OrgDTO``) and ``GET /api/orgs/:id`` (``OrgDetailsDTO``, address ignored)."""

    id: int
    name: str

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "an org")
        return cls(id=_int(d, "id", _int(d, "orgId")), name=_str(d, "name"))


@dataclass(frozen=True)
class OrgUser:
    """A member of an org with their role (``OrgUserDTO``: ``/api/orgs/:id/users/search`` and friends).

    ``auth_labels`` is empty for local users (Grafana sends ``null``) and holds the provider label of the
    user's last login otherwise; ``is_externally_synced`` is Grafana's own verdict that the role is locked.
    """

    org_id: int
    user_id: int
    login: str
    role: str
    email: str = ""
    name: str = ""
    uid: str = ""
    avatar_url: str = ""
    last_seen_at: datetime | None = None
    last_seen_at_age: str = ""
    created: datetime | None = None
    is_disabled: bool = False
    auth_labels: tuple[str, ...] = ()
    is_externally_synced: bool = False
    is_provisioned: bool | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "an org user")
        return _built(
            cls,
            {
                "org_id": _int(d, "orgId"),
                "user_id": _int(d, "userId"),
                "login": _str(d, "login"),
                "role": _str(d, "role"),
                "email": _str(d, "email"),
                "name": _str(d, "name"),
                "uid": _str(d, "uid"),
                "avatar_url": _str(d, "avatarUrl"),
                "last_seen_at": _time(d, "lastSeenAt"),
                "last_seen_at_age": _str(d, "lastSeenAtAge"),
                "created": _time(d, "created"),
                "is_disabled": _bool(d, "isDisabled"),
                "auth_labels": _labels(d, "authLabels"),
                "is_externally_synced": _bool(d, "isExternallySynced"),
                "is_provisioned": _opt_bool(d, "isProvisioned"),
            },
        )

    @property
    def is_external(self) -> bool:
        return bool(self.auth_labels)

    @property
    def provider(self) -> AuthProvider | None:
        return find_provider(self.auth_labels[0]) if self.auth_labels else None


@dataclass(frozen=True)
class Invite:
    """A pending org invite (``TempUserDTO``). The code and URL let anyone join: kept out of ``repr``."""

    id: int
    org_id: int
    email: str = ""
    name: str = ""
    role: str = ""
    invited_by_login: str = ""
    status: str = ""
    email_sent: bool = False
    created_on: datetime | None = None
    code: str = field(default="", repr=False)
    url: str = field(default="", repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "an invite")
        return cls(
            id=_int(d, "id"),
            org_id=_int(d, "orgId"),
            email=_str(d, "email"),
            name=_str(d, "name"),
            role=_str(d, "role"),
            invited_by_login=_str(d, "invitedByLogin"),
            status=_str(d, "status"),
            email_sent=_bool(d, "emailSent"),
            created_on=_time(d, "createdOn"),
            code=_str(d, "code"),
            url=_str(d, "url"),
        )


# --- teams and service accounts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """``GET /api/teams/search`` items (``TeamDTO``); ``permission`` 0 = Member, 4 = Admin."""

    id: int
    org_id: int
    name: str
    uid: str = ""
    email: str = ""
    external_uid: str = ""
    is_provisioned: bool | None = None
    avatar_url: str = ""
    member_count: int = 0
    permission: int = 0

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "a team")
        return _built(
            cls,
            {
                "id": _int(d, "id"),
                "org_id": _int(d, "orgId"),
                "name": _str(d, "name"),
                "uid": _str(d, "uid"),
                "email": _str(d, "email"),
                "external_uid": _str(d, "externalUID"),
                "is_provisioned": _opt_bool(d, "isProvisioned"),
                "avatar_url": _str(d, "avatarUrl"),
                "member_count": _int(d, "memberCount"),
                "permission": _int(d, "permission"),
            },
        )


@dataclass(frozen=True)
class TeamMember:
    """``GET /api/teams/:id/members`` items (``TeamMemberDTO``; note Grafana's ``auth_module`` key)."""

    team_id: int
    user_id: int
    login: str
    org_id: int = 0
    team_uid: str = ""
    user_uid: str = ""
    auth_module: str = ""
    email: str = ""
    name: str = ""
    avatar_url: str = ""
    labels: tuple[str, ...] = ()
    permission: int = 0

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "a team member")
        return _built(
            cls,
            {
                "team_id": _int(d, "teamId"),
                "user_id": _int(d, "userId"),
                "login": _str(d, "login"),
                "org_id": _int(d, "orgId"),
                "team_uid": _str(d, "teamUID"),
                "user_uid": _str(d, "userUID"),
                "auth_module": _str(d, "auth_module"),
                "email": _str(d, "email"),
                "name": _str(d, "name"),
                "avatar_url": _str(d, "avatarUrl"),
                "labels": _labels(d, "labels"),
                "permission": _int(d, "permission"),
            },
        )


@dataclass(frozen=True)
class TeamGroup:
    """An external group synced into a team (Enterprise team sync: ``GET /api/teams/:id/groups``)."""

    team_id: int
    group_id: str
    org_id: int = 0
    uid: str = ""
    team_uid: str = ""

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "a team group")
        return cls(
            team_id=_int(d, "teamId"),
            group_id=_str(d, "groupId"),
            org_id=_int(d, "orgId"),
            uid=_str(d, "uid"),
            team_uid=_str(d, "teamUid", _str(d, "teamUID")),
        )


@dataclass(frozen=True)
class ServiceAccount:
    """``GET /api/serviceaccounts/search`` items (``ServiceAccountDTO``)."""

    id: int
    login: str
    name: str = ""
    uid: str = ""
    org_id: int = 0
    role: str = ""
    is_disabled: bool = False
    tokens: int = 0
    avatar_url: str = ""
    is_external: bool = False

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "a service account")
        return cls(
            id=_int(d, "id"),
            login=_str(d, "login"),
            name=_str(d, "name"),
            uid=_str(d, "uid"),
            org_id=_int(d, "orgId"),
            role=_str(d, "role"),
            is_disabled=_bool(d, "isDisabled"),
            tokens=_int(d, "tokens"),
            avatar_url=_str(d, "avatarUrl"),
            is_external=_bool(d, "isExternal"),
        )


# --- SSO settings, build info, health ----------------------------------------------------------------


@dataclass(frozen=True)
class SSOSettings:
    """``GET /api/v1/sso-settings/:provider``: camelCase ``settings``, secrets already redacted by Grafana.

    ``source`` is ``"system"`` when the values come from the ini file and ``"database"`` when saved
    through the API or UI; ``etag`` comes from the response header.
    """

    provider: str
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    id: str = ""
    source: str = ""
    etag: str | None = None

    @classmethod
    def from_json(cls, data: object, etag: str | None = None) -> Self:
        d = obj(data, "SSO settings")
        raw = d.get("settings")
        return cls(
            provider=_str(d, "provider"),
            settings=dict(raw) if isinstance(raw, Mapping) else {},
            id=_str(d, "id"),
            source=_str(d, "source"),
            etag=etag,
        )

    @property
    def enabled(self) -> bool:
        return self.settings.get("enabled") is True

    @property
    def skip_org_role_sync(self) -> bool:
        return self.settings.get("skipOrgRoleSync") is True


@dataclass(frozen=True)
class BuildInfo:
    """``buildInfo`` of ``GET /api/frontend/settings``."""

    version: str = ""
    version_string: str = ""
    commit: str = ""
    edition: str = ""
    env: str = ""
    hide_version: bool = False

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = data if isinstance(data, Mapping) else {}
        return cls(
            version=_str(d, "version"),
            version_string=_str(d, "versionString"),
            commit=_str(d, "commit"),
            edition=_str(d, "edition"),
            env=_str(d, "env"),
            hide_version=_bool(d, "hideVersion"),
        )


@dataclass(frozen=True)
class FrontendSettings:
    """The parts of ``GET /api/frontend/settings`` gtool uses: build info and the Cloud hints (§7.2)."""

    build_info: BuildInfo = field(default_factory=BuildInfo)
    namespace: str = ""  # "stacks-<id>" on Grafana Cloud, "default"/"org-<id>" on self-hosted
    app_url: str = ""
    app_sub_url: str = ""
    cloud_migration_is_target: bool | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "frontend settings")
        return cls(
            build_info=BuildInfo.from_json(d.get("buildInfo")),
            namespace=_str(d, "namespace"),
            app_url=_str(d, "appUrl"),
            app_sub_url=_str(d, "appSubUrl"),
            cloud_migration_is_target=_opt_bool(d, "cloudMigrationIsTarget"),
        )


@dataclass(frozen=True)
class Health:
    """``GET /api/health``: unauthenticated; ``version`` is empty when Grafana hides it."""

    database: str
    version: str = ""
    commit: str = ""
    enterprise_commit: str = ""

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = obj(data, "health")
        return cls(
            database=_str(d, "database"),
            version=_str(d, "version"),
            commit=_str(d, "commit"),
            enterprise_commit=_str(d, "enterpriseCommit"),
        )

    @property
    def ok(self) -> bool:
        return self.database == "ok"


@dataclass(frozen=True)
class WriteResult:
    """What a write answered: Grafana's message and, when it names one, the id it created or touched.

    ``id`` is read from ``userId``, ``id``, ``orgId`` or ``teamId``, e.g. ``{"message":"User added to
    organization","userId":2}`` or ``{"id":5,"uid":"…","message":"User created"}``.
    """

    message: str
    id: int | None = None
    uid: str = ""

    @classmethod
    def from_json(cls, data: object) -> Self:
        d = data if isinstance(data, Mapping) else {}
        ident = next(
            (v for k in ("userId", "id", "orgId", "teamId") if (v := _opt_int(d, k)) is not None), None
        )
        return cls(message=_str(d, "message"), id=ident, uid=_str(d, "uid"))
