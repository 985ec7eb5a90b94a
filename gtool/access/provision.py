"""Creating and removing users: a `ProvisionPlan` first (the exact calls, for ``--dry-run``), a write second.

Self-hosted Grafana gets a local user with a generated password (`generate_password`), delivered exactly
once through a `PasswordDelivery`:

* `PasswordDelivery.to_file`: a new file created ``0600``; refused before anything is sent if the path
  exists, so nothing is ever overwritten;
* `PasswordDelivery.to_command`: the password on a command's stdin (an argv list, never a shell), for
  vault CLIs such as ``vault kv put secret/grafana/jane password=-``;
* `PasswordDelivery.show`: handed back in `ProvisionResult.password` for the caller to display.

The file and the command receive the password *before* the account is created, so an account never
exists with a password nobody holds; a file is removed again when Grafana certainly did not create the
user. The password is a `Secret`: it is masked in ``repr``, ``describe``, errors and audit records.

Grafana Cloud users sign in through grafana.com or SSO, so there a "create" is an org invite.

Deprovisioning is `plan_disable` (disable and end every session), `plan_remove_from_orgs` (leave every
org through ``DELETE /api/orgs/:id/users/:uid``, which never deletes the account) or `plan_delete`. Each
plan says whether it is `destructive`; `apply_provision` sends its calls, reads each result back and
appends one audit record.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import string
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gtool.access.audit import AuditEntry, Outcome, record
from gtool.access.roles import CLOUD_REVOKE_HINT, connection_secrets, require, resolve_user
from gtool.grafana.auth import Secret
from gtool.grafana.base import Call, Expectation, MemberWithRole, NotMember
from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import (
    AmbiguousWrite,
    GrafanaError,
    HTTPStatusError,
    NotFound,
    ServerError,
)
from gtool.grafana.models import UserProfile, WriteResult, normalize_role

ProvisionAction = Literal["create-user", "invite", "disable", "enable", "remove-from-orgs", "delete-user"]

MIN_PASSWORD_LENGTH = 20
_ALPHABET = string.ascii_letters + string.digits + "-_.,:+=@%"
ALREADY_EXISTS = "already exists"
ALREADY_INVITED = "already invited"
ALREADY_DISABLED = "already disabled"
ALREADY_ENABLED = "already enabled"
NO_ORGS = "not a member of any org"
NO_SUCH_USER = "no such user"


# --- the password ----------------------------------------------------------------------------------------


def generate_password(length: int = 24) -> Secret:
    """A random password from `secrets`: at least 20 characters, with lower, upper, digit and symbol."""
    if length < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a generated password has at least {MIN_PASSWORD_LENGTH} characters")
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "-_.,:+=@%")
    while True:  # rejection sampling keeps the distribution uniform over passwords that pass
        value = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if all(any(c in cls for c in value) for cls in classes):
            return Secret(value)


class DeliveryError(Exception):
    """The password could not be delivered (the file exists, the command failed). Never holds the password."""


@dataclass(frozen=True)
class PasswordDelivery:
    """Where a new password goes, once. Build it with `to_file`, `to_command` or `show`."""

    kind: Literal["file", "command", "show"]
    path: Path | None = None
    command: tuple[str, ...] = ()
    timeout: float = 60.0

    @classmethod
    def to_file(cls, path: str | os.PathLike[str]) -> PasswordDelivery:
        return cls("file", path=Path(path))

    @classmethod
    def to_command(cls, argv: Sequence[str], *, timeout: float = 60.0) -> PasswordDelivery:
        if isinstance(argv, str) or not argv:
            raise ValueError("the password command is an argument list (no shell), e.g. ['vault', 'kv', …]")
        return cls("command", command=tuple(argv), timeout=timeout)

    @classmethod
    def show(cls) -> PasswordDelivery:
        return cls("show")

    def describe(self) -> str:
        if self.kind == "file":
            return f"password written to a new file {self.path} (0600)"
        if self.kind == "command":
            return f"password piped to the stdin of {self.command[0]!r}"
        return "password shown once"

    def problem(self) -> str | None:
        """Why this delivery cannot work, checked before anything is sent (None: it can)."""
        if self.kind == "file":
            assert self.path is not None
            if os.path.lexists(self.path):
                return f"{self.path} exists: refusing to overwrite it (choose a new file)"
            if not self.path.parent.is_dir():
                return f"{self.path.parent} is not a directory"
        return None

    def deliver(self, password: Secret) -> None:
        """Write or pipe `password`; raises `DeliveryError` (with no secret in it) on failure."""
        if self.kind == "file":
            assert self.path is not None
            _write_new_file(self.path, password.reveal().encode() + b"\n")
        elif self.kind == "command":
            _pipe(self.command, password, self.timeout)

    def undo(self) -> None:
        """Remove a file this delivery wrote (when Grafana certainly did not create the user)."""
        if self.kind == "file" and self.path is not None:
            self.path.unlink(missing_ok=True)


def _write_new_file(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise DeliveryError(f"{path} exists: refusing to overwrite it") from None
    except OSError as err:
        raise DeliveryError(f"cannot create {path}: {err.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # the umask cannot loosen it, and make sure it is not looser either
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _pipe(argv: tuple[str, ...], password: Secret, timeout: float) -> None:
    try:
        done = subprocess.run(  # an argv list from the operator: never a shell
            list(argv),
            input=password.reveal().encode() + b"\n",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # a vault CLI might echo its input on error
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise DeliveryError(f"password command {argv[0]!r} could not run: {type(err).__name__}") from None
    if done.returncode != 0:
        raise DeliveryError(f"password command {argv[0]!r} exited with status {done.returncode}")


# --- the plan --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvisionPlan:
    """One user-level change: the exact calls, whether it destroys something, and why it may not go ahead.

    ``password`` (create-user only) is a `Secret`, excluded from ``repr`` and masked in `describe`.
    """

    action: ProvisionAction
    target: str  # the login or email
    calls: tuple[Call[WriteResult], ...] = ()
    destructive: bool = False
    warnings: tuple[str, ...] = ()
    blocked: str | None = None
    noop: str | None = None
    user: UserProfile | None = None
    before: Any = None
    after: Any = None
    delivery: PasswordDelivery | None = None
    password: Secret | None = field(default=None, repr=False, compare=False)

    def describe(self, client: GrafanaClient) -> list[str]:
        """What ``--dry-run`` prints: the change, the calls (the password as ``****``), warnings."""
        head = f"{self.action} {self.target}" + (" (DESTRUCTIVE)" if self.destructive else "")
        lines = [head]
        if self.blocked:
            lines.append(f"  blocked: {self.blocked}")
        elif self.noop:
            lines.append(f"  nothing to send: {self.noop}")
        lines.extend(f"  {client.describe(call)}" for call in self.calls)
        if self.delivery is not None and not self.blocked and not self.noop:
            lines.append(f"  {self.delivery.describe()}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return lines


def _cloud(client: GrafanaClient, cloud: bool | None) -> bool:
    return client.capabilities().is_cloud if cloud is None else cloud


def _existing(client: GrafanaClient, login_or_email: str) -> UserProfile | None:
    try:
        return client.lookup_user(login_or_email)
    except NotFound:
        return None


def plan_create_user(
    client: GrafanaClient,
    login: str,
    *,
    email: str = "",
    name: str = "",
    delivery: PasswordDelivery | None = None,
    role: str = "Viewer",
    org_id: int | None = None,
    cloud: bool | None = None,
    password_length: int = 24,
    send_email: bool = True,
) -> ProvisionPlan:
    """Self-hosted: a local user with a generated password sent to `delivery`; Cloud: an invite.

    On Grafana Cloud the invite goes to `email` (or `login`) with `role` in the connection's org
    (`send_email`: Cloud only). On self-hosted Grafana `delivery` is required; the plan is blocked when it
    cannot work (a file that exists) and a no-op when the login or email is taken.
    """
    target = login or email
    if _cloud(client, cloud):
        require(client, "invite_users", "inviting a user")
        call = client.calls.invite_user(email or login, role, name=name, send_email=send_email, org_id=org_id)
        note = "Grafana Cloud users sign in through grafana.com or SSO: inviting instead of creating"
        plan = ProvisionPlan("invite", target, calls=(call,), warnings=(note,), after=normalize_role(role))
        try:  # a Cloud token cannot use the admin lookup: search its own org instead
            member = client.find_org_user(org_id, email or login)
        except GrafanaError:
            member = None
        if member is not None:
            return dataclasses.replace(plan, calls=(), noop=f"{ALREADY_EXISTS} in org {member.org_id}")
        # Grafana keeps every invite it is sent: a second one to the same address is a second mail and a
        # second live join link, so a pending invite counts as done.
        invitee = (email or login).casefold()
        pending = next((i for i in client.list_invites(org_id=org_id) if i.email.casefold() == invitee), None)
        if pending is not None:
            since = f" since {pending.created_on:%Y-%m-%d}" if pending.created_on else ""
            return dataclasses.replace(plan, calls=(), noop=f"{ALREADY_INVITED} (as {pending.role}{since})")
        return plan
    require(client, "manage_users_globally", "creating a local user")
    base = ProvisionPlan("create-user", target, delivery=delivery, before=None, after="created")
    for key in dict.fromkeys(k for k in (login, email) if k):
        if (taken := _existing(client, key)) is not None:
            return dataclasses.replace(
                base, noop=f"{ALREADY_EXISTS} (user {taken.id} {taken.login!r})", user=taken
            )
    if delivery is None:
        return dataclasses.replace(
            base, blocked="say where the password goes: a new file, a command, or shown"
        )
    if (why := delivery.problem()) is not None:
        return dataclasses.replace(base, blocked=why)
    password = generate_password(password_length)
    call = client.calls.create_user(login, password, email=email, name=name, org_id=org_id)
    return dataclasses.replace(base, calls=(call,), password=password)


def _synced_note(profile: UserProfile, what: str) -> tuple[str, ...]:
    if not (profile.is_externally_synced or profile.is_external):
        return ()
    provider = profile.auth_labels[0] if profile.auth_labels else "an external provider"
    return (
        f"{profile.login} signs in through {provider}: {what}; remove them in the identity provider too, "
        "or their next login brings the account back",
    )


def _resolve(client: GrafanaClient, user: int | str, action: ProvisionAction) -> ProvisionPlan | UserProfile:
    try:
        return resolve_user(client, user)
    except NotFound:
        return ProvisionPlan(action, str(user), noop=NO_SUCH_USER)


def _is_external(profile: UserProfile) -> bool:
    # Grafana's test is "has any user_auth row", whatever the provider and whether it is still enabled:
    # `isExternal` (and the auth label) of GET /api/users/:id, or the label of an org member search.
    return profile.is_external or bool(profile.auth_labels)


def _external_refusal(profile: UserProfile, verb: Literal["disable", "enable"]) -> str:
    provider = profile.auth_labels[0] if profile.auth_labels else "an external provider"
    what = (
        f"{profile.login} signs in through {provider}: Grafana refuses to {verb} an external user "
        f'(it answers 500 "Could not {verb} external user") and leaves the account as it is'
    )
    if verb == "enable":
        return f"{what}; a successful sign-in through {provider} can enable the account again"
    return (
        f"{what}, and a sign-in through {provider} can enable it again. Disable or remove the user in the "
        f"identity provider; to cut their access in Grafana now, remove them from their orgs "
        f"(`gtool user remove-from-orgs {profile.login}`), or delete the account"
    )


def _plan_toggle(
    client: GrafanaClient, user: int | str, action: Literal["disable", "enable"], *, force: bool
) -> ProvisionPlan:
    verb = "disabling" if action == "disable" else "enabling"
    require(client, "disable_users", f"{verb} a user", cloud_hint=CLOUD_REVOKE_HINT)
    profile = _resolve(client, user, action)
    if isinstance(profile, ProvisionPlan):
        return profile
    disable = action == "disable"
    base = ProvisionPlan(action, profile.login, user=profile, before=profile.is_disabled, after=disable)
    if profile.is_disabled == disable:
        return dataclasses.replace(base, noop=ALREADY_DISABLED if disable else ALREADY_ENABLED)
    warnings: tuple[str, ...] = ()
    if _is_external(profile):
        refusal = _external_refusal(profile, action)
        if not force:
            return dataclasses.replace(base, blocked=refusal)
        warnings = (f"forced: {refusal}",)
    calls: tuple[Call[WriteResult], ...]
    if disable:
        calls = (client.calls.disable_user(profile.id), client.calls.revoke_user_sessions(profile.id))
    else:
        calls = (client.calls.enable_user(profile.id),)
    return dataclasses.replace(base, calls=calls, warnings=warnings)


def plan_disable(client: GrafanaClient, user: int | str, *, force: bool = False) -> ProvisionPlan:
    """Disable the account and end every session (reversible with ``enable``; not destructive).

    Blocked for an external user (one with any login through SAML, LDAP, OAuth, auth proxy …): Grafana
    refuses with 500 "Could not disable external user", so the plan explains that and what to do instead
    (disable in the identity provider, remove from orgs) rather than sending it, unless `force`.
    `NotPossible` for a credential that is not a Grafana server admin.
    """
    return _plan_toggle(client, user, "disable", force=force)


def plan_enable(client: GrafanaClient, user: int | str, *, force: bool = False) -> ProvisionPlan:
    """Enable a disabled account again (the undo of `plan_disable`; sessions ended then stay ended).

    Blocked for an external user, as `plan_disable` (Grafana: 500 "Could not enable external user").
    """
    return _plan_toggle(client, user, "enable", force=force)


def plan_remove_from_orgs(
    client: GrafanaClient, user: int | str, *, cloud: bool | None = None
) -> ProvisionPlan:
    """Remove the user from every org with ``DELETE /api/orgs/:id/users/:uid`` (the account stays).

    Destructive: the org roles, team memberships and dashboard permissions in those orgs are gone.
    `NotPossible` for a service account token (Grafana Cloud): it cannot read a user's orgs. Blocked on
    Grafana Cloud for any credential: there the only route out of an org deletes a user left without one.
    """
    require(client, "manage_users_globally", "removing a user from every org", cloud_hint=CLOUD_REVOKE_HINT)
    if _cloud(client, cloud):
        return ProvisionPlan(
            "remove-from-orgs",
            str(user),
            blocked="on Grafana Cloud remove the user from the org with `role revoke` (the current-org "
            "route, which deletes a user left without orgs)",
        )
    profile = _resolve(client, user, "remove-from-orgs")
    if isinstance(profile, ProvisionPlan):
        return profile
    orgs = client.user_orgs(profile.id)
    before = {str(m.org_id): m.role for m in orgs}
    base = ProvisionPlan("remove-from-orgs", profile.login, user=profile, before=before, after={})
    if not orgs:
        return dataclasses.replace(base, noop=NO_ORGS)
    warnings = [f"{profile.login} loses {m.role} in org {m.org_id} {m.name!r}" for m in orgs]
    warnings.extend(_synced_note(profile, "a login re-adds the synced org memberships"))
    calls = tuple(client.calls.remove_org_user(m.org_id, profile.id) for m in orgs)
    return dataclasses.replace(base, calls=calls, destructive=True, warnings=tuple(warnings))


def plan_delete(client: GrafanaClient, user: int | str) -> ProvisionPlan:
    """Delete the account (``DELETE /api/admin/users/:id``): memberships, teams and tokens go with it."""
    require(client, "delete_users", "deleting a user", cloud_hint=CLOUD_REVOKE_HINT)
    profile = _resolve(client, user, "delete-user")
    if isinstance(profile, ProvisionPlan):
        return profile
    call = client.calls.delete_user(profile.id)
    warnings = _synced_note(profile, "deleting only lasts until the next login")
    return ProvisionPlan(
        "delete-user",
        profile.login,
        calls=(call,),
        destructive=True,
        warnings=warnings,
        user=profile,
        before="present",
        after="deleted",
    )


# --- applying --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvisionResult:
    """What `apply_provision` did. ``password`` is set only for a `PasswordDelivery.show` delivery."""

    plan: ProvisionPlan
    outcome: Outcome
    message: str
    sent: int = 0
    verified: bool | None = None
    password: Secret | None = field(default=None, repr=False, compare=False)
    audit: dict[str, Any] | None = field(default=None, compare=False, repr=False)


def _expectation(plan: ProvisionPlan, call: Call[WriteResult]) -> Expectation | None:
    exp = call.expectation
    if isinstance(exp, MemberWithRole | NotMember) and plan.user is not None:
        return dataclasses.replace(exp, login=plan.user.login)
    return exp


def _read_back(client: GrafanaClient, plan: ProvisionPlan, call: Call[WriteResult]) -> bool | None:
    exp = _expectation(plan, call)
    if exp is None:
        return None
    try:
        return client.verify(exp)
    except GrafanaError:
        return None


def _send(
    client: GrafanaClient, plan: ProvisionPlan, call: Call[WriteResult]
) -> tuple[Outcome, str, bool | None]:
    """One write: (outcome, message, read-back). Error texts come from the client, already scrubbed."""
    try:
        answer = client.send(call)
    except AmbiguousWrite as err:
        if call.expectation is None:  # ending sessions (or an invite) again is harmless: send once more
            try:
                answer = client.send(call)
            except GrafanaError as again:
                return "ambiguous", f"the answer was lost twice ({again}); check by hand", None
            return "applied", answer.message or "applied (sent again after a lost answer)", None
        seen = _read_back(client, plan, call)
        if seen is None:
            return "ambiguous", f"the write may or may not have happened ({err.message}); check by hand", None
        if seen:
            return "applied", "applied (the answer was lost; the read-back shows the change)", True
        return "failed", "not applied (the answer was lost; the read-back shows no change)", False
    except ServerError as err:
        # Never resent after a 5xx; Grafana may have done part of it ("Failed to disable user" comes after
        # the user was disabled), so read the state back instead of guessing.
        seen = _read_back(client, plan, call)
        if seen:
            return "applied", f"applied (Grafana answered {err}, but the read-back shows the change)", True
        return (
            "failed",
            f"Grafana failed: {err}" + ("; the read-back shows no change" if seen is False else ""),
            seen,
        )
    except HTTPStatusError as err:
        hint = f" ({err.hint})" if err.hint else ""
        return "refused", f"refused by Grafana: {err.message}{hint}", None
    except GrafanaError as err:
        return "failed", f"not sent or failed: {err}", None
    seen = _read_back(client, plan, call)
    if seen is False:
        return (
            "failed",
            f"Grafana answered {answer.message!r}, but the read-back does not show the change",
            False,
        )
    return "applied", answer.message or "applied", seen


def _run_calls(client: GrafanaClient, plan: ProvisionPlan) -> tuple[Outcome, str, int, bool | None]:
    outcome: Outcome = "applied"
    message, sent, verified = "", 0, None
    for call in plan.calls:
        outcome, message, verified = _send(client, plan, call)
        sent += 1
        if outcome != "applied":
            if sent > 1:
                message = f"{message} (after {sent - 1} of {len(plan.calls)} calls succeeded)"
            break
    return outcome, message, sent, verified


def _create(
    client: GrafanaClient, plan: ProvisionPlan
) -> tuple[Outcome, str, int, bool | None, Secret | None]:
    delivery, password = plan.delivery, plan.password
    assert delivery is not None and password is not None
    try:
        delivery.deliver(password)
    except DeliveryError as err:
        return "failed", f"not sent: {err}", 0, None, None
    outcome, message, sent, verified = _run_calls(client, plan)
    if outcome in ("failed", "refused") and verified is not True:
        delivery.undo()  # no account holds this password: do not leave it lying around
        return outcome, message, sent, verified, None
    shown = password if delivery.kind == "show" and outcome == "applied" else None
    if outcome == "applied":
        message = f"{message}; {delivery.describe()}"
    return outcome, message, sent, verified, shown


def apply_provision(
    client: GrafanaClient,
    plan: ProvisionPlan,
    *,
    audit: Path | None = None,
    profile: str | None = None,
    actor: str | None = None,
) -> ProvisionResult:
    """Carry out `plan`: deliver the password (create-user), send the calls, read back, audit.

    A blocked plan or a no-op sends nothing and is still audited. The audit record never holds the
    password: it is passed to the scrubber as a known secret as well as being kept out of the record.
    """
    shown: Secret | None = None
    outcome: Outcome
    if plan.blocked:
        outcome, message, sent, verified = "refused", f"not sent: {plan.blocked}", 0, None
    elif plan.noop:
        outcome, message, sent, verified = "already", plan.noop, 0, None
    elif plan.action == "create-user":
        outcome, message, sent, verified, shown = _create(client, plan)
    else:
        outcome, message, sent, verified = _run_calls(client, plan)
    known = [*connection_secrets(client), *([plan.password] if plan.password else [])]
    after = (
        plan.after
        if outcome in ("applied", "already")
        else ("unknown" if outcome == "ambiguous" else plan.before)
    )
    entry = AuditEntry(
        action=plan.action,
        target=plan.target,
        outcome=outcome,
        profile=profile,
        url=client.base_url,
        actor=actor,
        before=plan.before,
        after=after,
        detail=message,
    )
    written = record(entry, audit, known_secrets=known)
    return ProvisionResult(plan, outcome, message, sent, verified, password=shown, audit=written)
