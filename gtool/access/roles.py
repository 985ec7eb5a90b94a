"""Org role changes, org membership and the Grafana Admin flag, as a `Plan` first and a write second.

A plan reads everything it needs (who the user is, their orgs, whether their role is synced from a login
provider) and says exactly which HTTP call(s) `apply` will send, so ``--dry-run`` prints the plan and
stops. `apply` sends those calls and nothing else, reads the result back, and appends an audit record.

Rules kept here, because getting them wrong costs access or history:

* a role change is one ``PATCH``, never remove + re-add (that wipes team memberships and dashboard
  permissions in the org);
* a user whose role is synced from SAML/LDAP/OAuth is refused by Grafana (403) and would be reset at their
  next login anyway: the plan is blocked before anything is sent, unless forced;
* a membership is removed with ``DELETE /api/orgs/:id/users/:uid``, which never deletes the account. The
  current-org route, which deletes a user left without orgs, is used only on Grafana Cloud.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gtool.access.audit import AuditEntry, Outcome, record
from gtool.grafana.auth import Secret
from gtool.grafana.base import Call, Expectation, MemberWithRole, NotMember
from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import (
    AmbiguousWrite,
    GrafanaError,
    HTTPStatusError,
    NotFound,
    RoleLockedByExternalSync,
    ServerError,
    role_sync_fix,
)
from gtool.grafana.models import Org, OrgUser, UserOrg, UserProfile, WriteResult, normalize_role

Action = Literal["change-role", "grant", "revoke", "grafana-admin"]

ALREADY_HAD = "already had it"
ALREADY_GONE = "already gone"


# --- the plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One access change: the state before and after, the exact calls, and why it may not go ahead.

    ``before``/``after`` are an org role (``None``: not a member) or, for ``grafana-admin``, the flag.
    ``calls`` is empty when there is nothing to do (``noop`` says why) or the plan is ``blocked``.
    """

    action: Action
    user: UserProfile
    org: Org | None
    before: str | bool | None
    after: str | bool | None
    calls: tuple[Call[WriteResult], ...] = ()
    warnings: tuple[str, ...] = ()
    blocked: str | None = None
    noop: str | None = None
    forced: bool = False
    destructive: bool = False  # the write may delete the user account (Cloud current-org removal)

    @property
    def target(self) -> str:
        who = self.user.login or str(self.user.id)
        return f"{who} in org {self.org.id} {self.org.name!r}" if self.org else who

    @property
    def provider(self) -> str | None:
        return self.user.auth_labels[0] if self.user.auth_labels else None

    def describe(self, client: GrafanaClient) -> list[str]:
        """What ``--dry-run`` prints: the change, the calls (secrets masked), warnings, blocked/noop."""
        lines = [f"{self.action} {self.target}: {state_text(self.before)} -> {state_text(self.after)}"]
        if self.blocked:
            lines.append(f"  blocked: {self.blocked}")
        elif self.noop:
            lines.append(f"  nothing to send: {self.noop}")
        lines.extend(f"  {client.describe(call)}" for call in self.calls)
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return lines


def state_text(value: str | bool | None) -> str:
    if value is None:
        return "not a member"
    if isinstance(value, bool):
        return "Grafana Admin" if value else "not Grafana Admin"
    return value


# --- what the credential can do at all --------------------------------------------------------------------


class NotPossible(Exception):
    """This credential can never make this change: say so before anything is sent (or planned).

    A service account token (Grafana Cloud's only credential) or a user who is not a Grafana server admin
    gets 403 from the admin API; rather than failing on the first lookup with Grafana's RBAC text, the
    plan functions check `Capabilities` first and raise this with the reason and the way out.
    """

    def __init__(self, what: str, reason: str, hint: str = "") -> None:
        super().__init__(f"{what} is not possible with this credential: {reason}")
        self.what, self.reason, self.hint = what, reason, hint


CLOUD_USERS_HINT = (
    "on Grafana Cloud, people are managed in the Cloud portal (grafana.com, your organisation's Members)"
)
CLOUD_REVOKE_HINT = f"{CLOUD_USERS_HINT}; `gtool role revoke USER ORG` removes someone from this stack's org"


def require(client: GrafanaClient, capability: str, what: str, *, cloud_hint: str = CLOUD_USERS_HINT) -> None:
    """Raise `NotPossible` when the connection's credential lacks `capability` (see `Capabilities`)."""
    caps = client.capabilities()
    reason = caps.why_not(capability)
    if reason is not None:
        raise NotPossible(what, reason, cloud_hint if caps.is_cloud else "")


# --- resolving the user and the org ----------------------------------------------------------------------


def resolve_user(client: GrafanaClient, user: int | str) -> UserProfile:
    """The full profile of a login, email or numeric id (`NotFound` if there is no such user).

    ``/api/users/lookup`` never fills the external-sync flags, so a login or email found there is read
    again by id. A numeric string that is no user id is tried as a login (logins may be digits).
    """
    if isinstance(user, int) or (user.isascii() and user.isdigit()):
        try:
            return client.get_user(int(user))
        except NotFound:
            if isinstance(user, int):
                raise
    found = client.lookup_user(user)
    return client.get_user(found.id)


def resolve_org(client: GrafanaClient, org: int | str | Org) -> Org:
    """An org by id or exact name (`NotFound` if neither matches); an `Org` is taken as already resolved."""
    if isinstance(org, Org):
        return org
    if isinstance(org, int) or (org.isascii() and org.isdigit()):
        try:
            return client.get_org(int(org))
        except NotFound:
            if isinstance(org, int):
                raise
    return client.get_org_by_name(org)


def _membership(orgs: Iterable[UserOrg], org_id: int) -> UserOrg | None:
    return next((m for m in orgs if m.org_id == org_id), None)


def _org_admins(client: GrafanaClient, org_id: int) -> list[OrgUser]:
    return [m for m in client.iter_org_users(org_id) if m.role == "Admin"]


def _last_admin_warning(client: GrafanaClient, user: UserProfile, org: Org) -> str | None:
    others = [m for m in _org_admins(client, org.id) if m.user_id != user.id]
    if others:
        return None
    return (
        f"{user.login} is the last Admin of org {org.id} {org.name!r}: Grafana refuses to leave an org "
        "without an Admin (400); make someone else Admin first"
    )


def _sync_note(user: UserProfile, what: str) -> str:
    provider = user.auth_labels[0] if user.auth_labels else None
    return (
        f"{user.login} signs in through {provider or 'an external provider'}: {what} only lasts until "
        f"their next login. {role_sync_fix(provider)}"
    )


def _blocked_reason(user: UserProfile) -> str:
    # role_sync_fix is the client's own text for the 403: the same explanation before and after sending
    provider = user.auth_labels[0] if user.auth_labels else None
    return f"{user.login}: {role_sync_fix(provider)} (Grafana would answer 403 org.externallySynced)"


def _synced(user: UserProfile, member: OrgUser | None = None) -> bool:
    return user.is_externally_synced or (member is not None and member.is_externally_synced)


# --- planning --------------------------------------------------------------------------------------------


# Cloud gap (contract §13.1): a service account token, Grafana Cloud's only credential, gets 403 from
# /api/users/lookup, /api/users/search and /api/users/:id/orgs, and so does any user who is not a Grafana
# server admin. Such a credential resolves USER among the members of its own org instead: one member
# search gives the profile, the current role and the external-sync verdict at once.


def _reads_global_users(client: GrafanaClient) -> bool:
    return client.capabilities().can_manage_users_globally


def _org_scope(client: GrafanaClient, target: Org) -> int | None:
    # A token is bound to its org: the current-org search (/api/org/users/search) is the route it owns.
    return None if client.capabilities().is_service_account else target.id


def find_org(client: GrafanaClient, org: int | str | Org) -> Org:
    """`org` (id or exact name) the way the plans resolve it: through the admin org routes, or for a
    credential without them (a token) as its own org. Resolve once, then pass the `Org` to many plans."""
    return resolve_org(client, org) if _reads_global_users(client) else _cloud_org(client, org)


def resolve_member(
    client: GrafanaClient, user: int | str, org: int | str | Org
) -> tuple[Org, OrgUser | None]:
    """`org` and `user`'s membership there (``None``: not a member), without the global user API.

    The org must be the credential's own (by id or exact name); the user is matched exactly on login,
    email or id through the org's member search, every page read.
    """
    target = _cloud_org(client, org)
    return target, client.find_org_user(_org_scope(client, target), user)


def _not_visible(user: int | str, target: Org) -> str:
    return (
        f"no member {user!r} in org {target.id} {target.name!r}, and this credential cannot look up users "
        "outside its org (/api/users needs a Grafana server admin; service account tokens get 403)"
    )


def plan_role_change(
    client: GrafanaClient, user: int | str, org: int | str | Org, role: str, *, force: bool = False
) -> Plan:
    """Change `user`'s role in `org` to `role` with one ``PATCH``; blocked for synced users unless forced."""
    role = normalize_role(role)
    if not _reads_global_users(client):  # Cloud gap: see resolve_member
        target, member = resolve_member(client, user, org)
        if member is None:
            raise ValueError(_not_visible(user, target))
        return _change(client, _profile_of(member), target, member.role, role, force=force)
    profile, target = resolve_user(client, user), resolve_org(client, org)
    current = _membership(client.user_orgs(profile.id), target.id)
    if current is None:
        return Plan(
            "change-role",
            profile,
            target,
            None,
            role,
            blocked=f"{profile.login} is not a member of org {target.id} {target.name!r}: grant the role "
            "instead (adds them to the org)",
        )
    return _change(client, profile, target, current.role, role, force=force)


def _change(
    client: GrafanaClient,
    profile: UserProfile,
    target: Org,
    before: str,
    role: str,
    *,
    force: bool,
    notes: tuple[str, ...] = (),
) -> Plan:
    base = Plan("change-role", profile, target, before, role, warnings=notes, forced=force)
    if before == role:
        # say so now: the operator is about to pick another role, which would be blocked
        locked = (f"any other role is blocked: {_blocked_reason(profile)}",) if _synced(profile) else ()
        return dataclasses.replace(base, noop=ALREADY_HAD, warnings=(*notes, *locked))
    warnings = list(notes)
    if before == "Admin" and (w := _last_admin_warning(client, profile, target)):
        warnings.append(w)
    if _synced(profile):
        if not force:
            return dataclasses.replace(base, warnings=tuple(warnings), blocked=_blocked_reason(profile))
        warnings.append(
            "forced: Grafana itself refuses role changes for synced users (403) while the provider syncs "
            "roles; " + _sync_note(profile, "any change")
        )
    call = client.calls.update_org_user_role(target.id, profile.id, role)
    return dataclasses.replace(base, calls=(call,), warnings=tuple(warnings))


def plan_grant(
    client: GrafanaClient, user: int | str, org: int | str | Org, role: str, *, force: bool = False
) -> Plan:
    """Add `user` to `org` with `role`; a member with another role gets a role change (one ``PATCH``)."""
    role = normalize_role(role)
    if not _reads_global_users(client):  # Cloud gap: see resolve_member
        return _plan_scoped_grant(client, user, org, role, force=force)
    profile, target = resolve_user(client, user), resolve_org(client, org)
    current = _membership(client.user_orgs(profile.id), target.id)
    if current is not None:
        note = () if current.role == role else (f"already a member as {current.role}: changing the role",)
        plan = _change(client, profile, target, current.role, role, force=force, notes=note)
        return dataclasses.replace(plan, action="grant")
    warnings = (_sync_note(profile, "an added membership"),) if _synced(profile) else ()
    call = client.calls.add_org_user(target.id, profile.login, role)
    return Plan("grant", profile, target, None, role, calls=(call,), warnings=warnings, forced=force)


def _plan_scoped_grant(
    client: GrafanaClient, user: int | str, org: int | str | Org, role: str, *, force: bool
) -> Plan:
    target, member = resolve_member(client, user, org)
    if member is not None:
        note = () if member.role == role else (f"already a member as {member.role}: changing the role",)
        plan = _change(client, _profile_of(member), target, member.role, role, force=force, notes=note)
        return dataclasses.replace(plan, action="grant")
    if isinstance(user, int) or (user.isascii() and user.isdigit()):
        raise ValueError(_not_visible(user, target) + ": name them by login or email")
    # Not a member, so nothing here says who they are or whether a provider syncs them: Grafana resolves
    # the login or email itself (404 when there is no such user).
    warning = (
        f"{user} is not a member of org {target.id} {target.name!r}; this credential cannot check the "
        "account before sending (Grafana answers 404 if there is no such user)"
    )
    placeholder = UserProfile(id=0, login=user)
    call = client.calls.add_org_user(target.id, user, role)
    return Plan("grant", placeholder, target, None, role, calls=(call,), warnings=(warning,), forced=force)


def plan_revoke(
    client: GrafanaClient,
    user: int | str,
    org: int | str | Org,
    *,
    cloud: bool | None = None,
    force: bool = False,
) -> Plan:
    """Remove `user` from `org` (the account stays). `cloud` defaults to what the connection detected.

    Self-hosted: ``DELETE /api/orgs/:id/users/:uid``. Grafana Cloud: ``DELETE /api/org/users/:id`` with
    the org as header, which deletes the user if this was their last org: flagged ``destructive`` (also
    when a service account token cannot see the user's other orgs, since it may be the last one).
    """
    on_cloud = client.capabilities().is_cloud if cloud is None else cloud
    if on_cloud:
        return _plan_cloud_revoke(client, user, org, force=force)
    profile, target = resolve_user(client, user), resolve_org(client, org)
    current = _membership(client.user_orgs(profile.id), target.id)
    base = Plan("revoke", profile, target, current.role if current else None, None, forced=force)
    if current is None:
        return dataclasses.replace(base, noop=ALREADY_GONE)
    warnings = _revoke_warnings(client, profile, target, current.role)
    call = client.calls.remove_org_user(target.id, profile.id)
    return dataclasses.replace(base, calls=(call,), warnings=tuple(warnings))


def _revoke_warnings(client: GrafanaClient, profile: UserProfile, target: Org, role: str) -> list[str]:
    warnings: list[str] = []
    if role == "Admin" and (w := _last_admin_warning(client, profile, target)):
        warnings.append(w)
    if _synced(profile):
        warnings.append(_sync_note(profile, "the removal"))
    return warnings


def _cloud_org(client: GrafanaClient, org: int | str | Org) -> Org:
    # A Cloud token sees only its own org: the admin org routes answer 403 there.
    if isinstance(org, Org):
        return org
    org_id = int(org) if isinstance(org, int) or (org.isascii() and org.isdigit()) else None
    current = client.current_org(org_id=org_id)
    if org_id is None and current.name != org:
        raise ValueError(
            f"no org named {org!r} here: this connection is in org {current.id} {current.name!r}"
        )
    return current


def _profile_of(m: OrgUser) -> UserProfile:
    return UserProfile(
        id=m.user_id,
        login=m.login,
        email=m.email,
        name=m.name,
        uid=m.uid,
        is_externally_synced=m.is_externally_synced,
        auth_labels=m.auth_labels,
    )


def _plan_cloud_revoke(client: GrafanaClient, user: int | str, org: int | str | Org, *, force: bool) -> Plan:
    target = _cloud_org(client, org)
    # The credential's own org (a Cloud token has just one): /api/org/users/search, by login or email.
    member = client.find_org_user(None, user)
    if member is None:
        placeholder = UserProfile(id=user if isinstance(user, int) else 0, login=str(user))
        return Plan("revoke", placeholder, target, None, None, noop=ALREADY_GONE, forced=force)
    profile = _profile_of(member)
    warnings = _revoke_warnings(client, profile, target, member.role)
    try:
        last: bool | None = len(client.user_orgs(profile.id)) <= 1
    except GrafanaError:  # a token cannot read the user's other orgs
        last = None
    if last is not False:
        known = "is their only org" if last else "may be their only org (this credential cannot tell)"
        warnings.append(
            f"DESTRUCTIVE: org {target.id} {target.name!r} {known}, and on Grafana Cloud removing "
            f"{profile.login} from their last org deletes the user account itself"
        )
    call = client.calls.remove_current_org_user(profile.id, org_id=target.id)
    return Plan(
        "revoke",
        profile,
        target,
        member.role,
        None,
        calls=(call,),
        warnings=tuple(warnings),
        forced=force,
        destructive=last is not False,
    )


def plan_grafana_admin(client: GrafanaClient, user: int | str, value: bool, *, force: bool = False) -> Plan:
    """Turn the Grafana server admin flag on or off; blocked when the provider syncs it, unless forced.

    `NotPossible` for a credential that is not a Grafana server admin (a service account token).
    """
    require(client, "change_grafana_admin", "changing the Grafana server admin flag")
    profile = resolve_user(client, user)
    base = Plan("grafana-admin", profile, None, profile.is_grafana_admin, value, forced=force)
    if profile.is_grafana_admin == value:
        return dataclasses.replace(base, noop=ALREADY_HAD if value else ALREADY_GONE)
    warnings: list[str] = []
    if profile.is_grafana_admin_externally_synced:
        provider = profile.auth_labels[0] if profile.auth_labels else "the login provider"
        reason = (
            f"{profile.login}'s Grafana Admin flag is synced from {provider}; Grafana refuses to change it "
            "(403) and the next login would reset it: change the admin group in the identity provider"
        )
        if not force:
            return dataclasses.replace(base, blocked=reason)
        warnings.append(f"forced: {reason}")
    call = client.calls.set_grafana_admin(profile.id, value)
    return dataclasses.replace(base, calls=(call,), warnings=tuple(warnings))


# --- applying --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """What `apply` did. ``outcome`` is the audit outcome; ``message`` is for the operator."""

    plan: Plan
    outcome: Outcome
    message: str
    sent: int = 0  # writes sent
    verified: bool | None = None  # the read-back agreed (None: not read back)
    error: GrafanaError | None = field(default=None, compare=False)
    audit: dict[str, Any] | None = field(default=None, compare=False)  # the record written


def connection_secrets(client: GrafanaClient) -> list[Secret]:
    """The credential's secret(s), for the audit log's `known_secrets`."""
    found: list[Secret] = []
    for name in ("password", "token"):
        value = getattr(client.auth, name, None)
        if isinstance(value, Secret):
            found.append(value)
    return found


def _expectation(plan: Plan, call: Call[WriteResult]) -> Expectation | None:
    exp = call.expectation
    # With the login the read-back is one small search rather than a scan of the org.
    if isinstance(exp, MemberWithRole | NotMember):
        return dataclasses.replace(exp, login=plan.user.login)
    return exp


def _verify(client: GrafanaClient, plan: Plan, call: Call[WriteResult]) -> bool | None:
    exp = _expectation(plan, call)
    if exp is None:
        return None
    try:
        return client.verify(exp)
    except GrafanaError:
        return None


Sent = tuple[Outcome, str, GrafanaError | None, bool | None]


def _send(client: GrafanaClient, plan: Plan, call: Call[WriteResult]) -> Sent:
    """Send one write: (outcome, message, error, what the read-back showed: None when not read back)."""
    try:
        answer = client.send(call)
    except AmbiguousWrite as err:
        seen = _verify(client, plan, call)
        if seen is None:
            return (
                "ambiguous",
                f"the write may or may not have happened ({err.message}); check by hand",
                err,
                None,
            )
        if seen:
            return "applied", "applied (the answer was lost; the read-back shows the change)", err, True
        return "failed", "not applied (the answer was lost; the read-back shows no change)", err, False
    except RoleLockedByExternalSync as err:
        locked = err.with_provider(plan.provider)
        return "refused", f"refused by Grafana: {locked.message}. {locked.fix}", locked, None
    except ServerError as err:
        return _after_server_error(client, plan, call, err)
    except HTTPStatusError as err:
        hint = f" ({err.hint})" if err.hint else ""
        return "refused", f"refused by Grafana: {err.message}{hint}", err, None
    except GrafanaError as err:
        return "failed", f"not sent or failed: {err}", err, None
    seen = _verify(client, plan, call)
    if seen is False:
        return (
            "failed",
            f"Grafana answered {answer.message!r}, but the read-back does not show the change",
            None,
            False,
        )
    return "applied", answer.message or "applied", None, seen


def _after_server_error(client: GrafanaClient, plan: Plan, call: Call[WriteResult], err: ServerError) -> Sent:
    # The client never resends a write after a 5xx. Grafana may have done part of the work before failing,
    # so the state is read back (the read itself rides out a passing 500) instead of guessing.
    seen = _verify(client, plan, call)
    if seen:
        return "applied", f"applied (Grafana answered {err}, but the read-back shows the change)", err, True
    shows = "; the read-back shows no change" if seen is False else ""
    return "failed", f"Grafana failed: {err}{shows}", err, seen


def _after(plan: Plan, outcome: Outcome) -> str | bool | None:
    if outcome in ("applied", "already"):
        return plan.after
    return "unknown" if outcome == "ambiguous" else plan.before


def apply(
    client: GrafanaClient,
    plan: Plan,
    *,
    audit: Path | None = None,
    profile: str | None = None,
    actor: str | None = None,
) -> Result:
    """Carry out `plan`: send its calls (none for a no-op or a blocked plan), read back, audit.

    Every outcome, including "already had it" and a blocked plan, is appended to the audit log at
    `audit` (default: `gtool.access.audit.default_path`) with the connection's secret masked. An
    `OSError` from the audit log propagates after the write: a write that cannot be audited is reported.
    """
    if plan.blocked:
        result = Result(plan, "refused", f"not sent: {plan.blocked}")
    elif plan.noop:
        result = Result(plan, "already", plan.noop)
    else:
        outcome: Outcome = "applied"
        message, error, sent, verified = "", None, 0, None
        for call in plan.calls:
            outcome, message, error, verified = _send(client, plan, call)
            sent += 1
            if outcome != "applied":
                break
        result = Result(plan, outcome, message, sent=sent, verified=verified, error=error)
    entry = AuditEntry(
        action=plan.action,
        target=plan.target,
        outcome=result.outcome,
        profile=profile,
        url=client.base_url,
        actor=actor,
        before=plan.before,
        after=_after(plan, result.outcome),
        detail=result.message,
    )
    written = record(entry, audit, known_secrets=connection_secrets(client))
    return dataclasses.replace(result, audit=written)
