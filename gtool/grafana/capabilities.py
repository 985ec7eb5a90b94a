"""What the connected credential can do, detected once per connection, so callers can hide or explain.

The client gathers the facts (``client.capabilities()``: ``GET /api/user``, ``/api/frontend/settings``,
then ``/api/user/orgs`` for a user or a service-account search for a token); `detect` turns them into a
`Capabilities` record without further I/O. Each ``can_…`` property has a matching `why_not` text that
names the reason and the way out, e.g. "service account tokens cannot use Grafana's admin API".

Grafana Cloud vs self-hosted (contract §7.2): there is no authoritative flag. gtool counts as Cloud a host
under ``*.grafana.net`` or a frontend-settings ``namespace`` of the form ``stacks-<id>``; the evidence is
kept in ``cloud_evidence``. What the credential may do follows from the credential itself (service account
or user, Grafana server admin or not, org role), not from that guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gtool.grafana.models import FrontendSettings, Health, UserOrg, UserProfile

_CLOUD_NAMESPACE = re.compile(r"^stacks?-\d+$")
_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"11.5.2"``, ``"12.1.0-89456"``, ``"v10.4.1+security-01"`` → a comparable triple, or ``None``."""
    m = _VERSION.match(text.strip())
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))


def cloud_evidence(base_url: str, frontend: FrontendSettings | None) -> tuple[str, ...]:
    """Why this Grafana looks like Grafana Cloud (empty: it looks self-hosted)."""
    found: list[str] = []
    host = (urlsplit(base_url).hostname or "").lower()
    if host.endswith(".grafana.net"):
        found.append(f"the host {host} is a Grafana Cloud stack (*.grafana.net)")
    if frontend is not None:
        if _CLOUD_NAMESPACE.match(frontend.namespace):
            found.append(f"the frontend settings namespace is {frontend.namespace!r} (a Cloud stack)")
        if "cloud" in frontend.build_info.edition.lower():
            found.append(f"the build edition is {frontend.build_info.edition!r}")
    return tuple(found)


@dataclass(frozen=True)
class Capabilities:
    """The connection's server and credential, and what that credential is allowed to do."""

    base_url: str
    auth_kind: str | None  # "basic", "token", "api_key", or None without a credential
    identity: UserProfile
    org_id: int | None  # the org org-scoped calls act in
    org_name: str = ""
    org_role: str | None = None  # the credential's role in that org; None when it could not be read
    orgs: tuple[UserOrg, ...] = ()  # a user's memberships (service accounts have none)
    version: str = ""
    edition: str = ""
    is_cloud: bool = False
    cloud_evidence: tuple[str, ...] = ()

    @property
    def is_service_account(self) -> bool:
        return self.identity.is_service_account

    @property
    def is_grafana_admin(self) -> bool:
        return self.identity.is_grafana_admin and not self.is_service_account

    @property
    def is_org_admin(self) -> bool:
        return self.org_role == "Admin"

    @property
    def version_info(self) -> tuple[int, int, int] | None:
        return parse_version(self.version)

    def version_at_least(self, version: str) -> bool | None:
        """Whether Grafana is at least `version`; ``None`` when the version is hidden."""
        have, want = self.version_info, parse_version(version)
        if have is None or want is None:
            return None
        return have >= want

    # Each capability is one rule returning None (allowed) or the reason it is not.

    def why_not(self, capability: str) -> str | None:
        """Why `capability` (in `CAPABILITIES`, ``can_`` optional) is impossible; ``None`` when possible."""
        name = capability.removeprefix("can_")
        try:
            rule = _RULES[name]
        except KeyError:
            raise ValueError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}") from None
        return rule(self)

    def allowed(self) -> dict[str, bool]:
        return {name: self.why_not(name) is None for name in CAPABILITIES}

    @property
    def can_manage_users_globally(self) -> bool:
        return self.why_not("manage_users_globally") is None

    @property
    def can_list_all_orgs(self) -> bool:
        return self.why_not("list_all_orgs") is None

    @property
    def can_use_other_orgs(self) -> bool:
        return self.why_not("use_other_orgs") is None

    @property
    def can_change_org_roles(self) -> bool:
        return self.why_not("change_org_roles") is None

    @property
    def can_add_org_users(self) -> bool:
        return self.why_not("add_org_users") is None

    @property
    def can_remove_org_users(self) -> bool:
        return self.why_not("remove_org_users") is None

    @property
    def can_change_grafana_admin(self) -> bool:
        return self.why_not("change_grafana_admin") is None

    @property
    def can_create_users(self) -> bool:
        return self.why_not("create_users") is None

    @property
    def can_invite_users(self) -> bool:
        return self.why_not("invite_users") is None

    @property
    def can_disable_users(self) -> bool:
        return self.why_not("disable_users") is None

    @property
    def can_delete_users(self) -> bool:
        return self.why_not("delete_users") is None

    @property
    def can_revoke_sessions(self) -> bool:
        return self.why_not("revoke_sessions") is None

    @property
    def can_read_sso_settings(self) -> bool:
        return self.why_not("read_sso_settings") is None

    def summary(self) -> str:
        """One line, e.g. ``Grafana 11.5.2 (self-hosted) as 'admin' (basic auth): …; Admin in org 1``."""
        where = "Grafana Cloud" if self.is_cloud else "self-hosted"
        version = f"Grafana {self.version}" if self.version else "Grafana (version hidden)"
        who = (
            f"service account {self.identity.login!r}"
            if self.is_service_account
            else repr(self.identity.login)
        )
        kind = {"basic": "basic auth", "token": "token", "api_key": "token as api_key"}.get(
            self.auth_kind or "", ""
        )
        roles = ["Grafana server admin"] if self.is_grafana_admin else []
        org = f"org {self.org_id}" + (f" {self.org_name!r}" if self.org_name else "")
        roles.append(f"{self.org_role or 'unknown role'} in {org}" if self.org_id is not None else "no org")
        return f"{version} ({where}) as {who}" + (f" ({kind})" if kind else "") + ": " + "; ".join(roles)


def _server_admin(c: Capabilities) -> str | None:
    if c.is_service_account:
        return (
            "service account tokens cannot use Grafana's admin API (/api/users, /api/orgs, /api/admin): "
            "connect with basic auth as a Grafana server admin"
        )
    if not c.is_grafana_admin:
        return f"{c.identity.login!r} is not a Grafana server admin"
    return None


def _org_admin(c: Capabilities) -> str | None:
    if c.is_grafana_admin or c.is_org_admin:
        return None
    if c.org_role is None:
        who = "the service account's" if c.is_service_account else "the credential's"
        return f"{who} role in org {c.org_id} could not be read; managing members needs the Admin role"
    return f"the credential is {c.org_role} in org {c.org_id}; managing members needs Admin"


def _other_orgs(c: Capabilities) -> str | None:
    if c.is_service_account:
        return f"a service account token is bound to its own org ({c.org_id}); use a token of the other org"
    return None


def _create_users(c: Capabilities) -> str | None:
    reason = _server_admin(c)
    if reason is None and c.is_cloud:
        return "Grafana Cloud users sign in through grafana.com or SSO: invite them instead of creating them"
    return reason


def _sso(c: Capabilities) -> str | None:
    if c.is_grafana_admin:
        return None
    return "reading SSO settings needs settings:read, which Grafana grants to server admins"


_RULES: dict[str, Callable[[Capabilities], str | None]] = {
    "manage_users_globally": _server_admin,
    "list_all_orgs": _server_admin,
    "use_other_orgs": _other_orgs,
    "change_org_roles": _org_admin,
    "add_org_users": _org_admin,
    "remove_org_users": _org_admin,
    "invite_users": _org_admin,
    "change_grafana_admin": _server_admin,
    "create_users": _create_users,
    "disable_users": _server_admin,
    "delete_users": _server_admin,
    "revoke_sessions": _server_admin,
    "read_sso_settings": _sso,
}

CAPABILITIES: tuple[str, ...] = tuple(_RULES)


def detect(
    *,
    base_url: str,
    auth_kind: str | None,
    identity: UserProfile,
    frontend: FrontendSettings | None = None,
    health: Health | None = None,
    orgs: tuple[UserOrg, ...] = (),
    org_id: int | None = None,
    service_account_role: str | None = None,
    org_name: str = "",
) -> Capabilities:
    """`Capabilities` from what the client read; `org_id` is the client's default org, if any."""
    effective = org_id if org_id is not None else identity.org_id
    role: str | None
    if identity.is_service_account:
        role = service_account_role
    else:
        member = next((o for o in orgs if o.org_id == effective), None)
        role = member.role if member else None
        org_name = org_name or (member.name if member else "")
    version = frontend.build_info.version if frontend and frontend.build_info.version else ""
    if not version and health is not None:
        version = health.version
    evidence = cloud_evidence(base_url, frontend)
    return Capabilities(
        base_url=base_url,
        auth_kind=auth_kind,
        identity=identity,
        org_id=effective,
        org_name=org_name,
        org_role=role,
        orgs=orgs,
        version=version,
        edition=frontend.build_info.edition if frontend else "",
        is_cloud=bool(evidence),
        cloud_evidence=evidence,
    )
