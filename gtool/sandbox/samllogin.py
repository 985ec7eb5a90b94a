"""A SAML login as Grafana performs it, over the sandbox's store (``POST /api/sandbox/saml/login``).

The SAML Response is trusted as sent (no signature, audience or time checks: the sandbox has no IdP). What
the login grants comes from gtool's simulator (:func:`gtool.saml.mapping.simulate`) run on the sandbox's
effective ``[auth.saml]``; what it then writes follows Grafana's post-login hooks:

* ``UserSync`` (``authnimpl/sync/user_sync.go``): the user is found by its ``auth.saml`` auth info, then
  by email, then by login; unknown and ``allow_sign_up`` off → 401 ``user.sync.signup-disabled``; a new
  user is created without org setup when the login maps org roles; login/email/name are updated when the
  assertion gives a different non-empty value; the Grafana Admin flag follows ``role_values_grafana_admin``
  when it is set; the auth info is rewritten, so SAML becomes the user's latest auth module.
* ``OrgSync`` (``org_sync.go``, saml-reference.md §2.9), unless ``skip_org_role_sync``: differing roles
  are updated, new orgs added (missing orgs skipped), unmapped memberships removed except where the user
  is the org's last Admin, and the current org moves to the lowest mapped org when it is not mapped.
* Team sync (Enterprise, §4): the user joins every team with a matching external group as a synced
  member; synced memberships whose group no longer matches are removed; manual members are never removed.

Every write happens in one store transaction: a login that fails half way leaves nothing behind (Grafana
runs its hooks one by one, so a failing Grafana login can leave the earlier hooks' writes in place).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtool.saml import settings as saml_settings
from gtool.saml.assertion import Attribute, SamlError
from gtool.saml.capture import CaptureError
from gtool.saml.mapping import SIGN_UP_DISABLED, Org, Outcome, Team, simulate
from gtool.saml.settings import GrafanaConfig, SsoRecord
from gtool.sandbox import orgdata
from gtool.sandbox.store import LastGrafanaAdmin, Store, StoreError, User, UserAlreadyExists

SAML_MODULE = "auth.saml"
SSO_RECORD_NAME = "sso-settings (stored)"


class LoginFailed(Exception):
    """The login is refused or fails: an errutil-style body (``message``/``messageId``/``statusCode``)
    plus, when the assertion was read, what the simulator decided."""

    def __init__(self, status: int, message_id: str, message: str, extra: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message_id = message_id
        self.message = message
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "messageId": self.message_id,
            "statusCode": self.status,
            "traceID": "",
            **self.extra,
        }


def _bad_message(message: str, hint: str = "") -> LoginFailed:
    text = f"{message}; {hint}" if hint else message
    return LoginFailed(400, "sandbox.saml.bad-message", text)


# -- configuration ---------------------------------------------------------------------------------------


def _go_string(value: Any) -> str:
    """A stored SSO value as the ini string Grafana's settings would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def effective_config(store: Store, config: GrafanaConfig | None) -> GrafanaConfig:
    """The sandbox's grafana.ini with the SAML record saved through the SSO settings API merged on top
    (``mergeSettings``: the record wins key by key), as :class:`~gtool.sandbox.auth.AuthSettings` sees it.
    """
    stored = store.get_sso_settings("saml")
    if stored is None and config is not None:
        return config
    sso = None
    if stored is not None:
        sso = SsoRecord(SSO_RECORD_NAME, "database", {k: _go_string(v) for k, v in stored.items()})
    if config is None:
        return saml_settings.load([], env={}, sso=sso)
    custom = config.custom_files
    return saml_settings.load(
        custom,
        defaults=config.files[0],
        env=config.env,
        cli_args=config.cli_args,
        sso=sso,
        base_dir=Path(custom[0].path).resolve().parent if custom else None,
    )


# -- the message -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """What the login reads from the SAML Response: the first assertion's attributes and NameID."""

    attributes: tuple[Attribute, ...]
    name_id: str | None
    form: str  # xml | base64 | form-body


def read_message(body: bytes) -> Message:
    """The SAML Response in ``body`` (XML, base64, or a ``SAMLResponse=`` form body); 400 otherwise."""
    from gtool.saml import assertion, capture

    if not body.strip():
        raise _bad_message(
            "the request body is empty", "send the SAML Response as XML, base64 or a SAMLResponse= form body"
        )
    try:
        messages = capture.find_messages(body, "the request body")
        picked = capture.pick(messages, None)
        if picked.parameter == "SAMLRequest":
            raise _bad_message(
                "the body holds a SAMLRequest (what Grafana sends to the IdP)",
                "send the SAMLResponse the IdP posts back",
            )
        response = assertion.parse(picked.xml, what="the SAML Response")
    except (CaptureError, SamlError) as exc:
        raise _bad_message(exc.message, exc.hint) from None
    except (ValueError, RecursionError, UnicodeError) as exc:  # belt and braces: untrusted input
        raise _bad_message(f"the body is not a readable SAML Response: {exc}") from None
    if response.status is not None and not response.status.success:
        raise LoginFailed(
            401,
            "sandbox.saml.idp-status",
            f"the IdP answered with status {response.status.code}: the login failed at the IdP",
        )
    first = response.assertion
    if first is None:
        why = (
            "its assertion is encrypted; the sandbox cannot decrypt: send the decrypted Response"
            if response.encrypted_assertions
            else "it holds no Assertion"
        )
        raise _bad_message(f"the SAML Response cannot log anyone in: {why}")
    return Message(first.attributes, first.name_id, picked.form)


# -- the login -------------------------------------------------------------------------------------------


@dataclass
class Changes:
    """What one login changed, for the route's JSON summary."""

    user: dict[str, dict[str, str]] = field(default_factory=dict)
    added: dict[int, str] = field(default_factory=dict)
    updated: dict[int, tuple[str, str]] = field(default_factory=dict)
    removed: dict[int, str] = field(default_factory=dict)
    kept: dict[int, str] = field(default_factory=dict)  # unmapped, kept: the user is its last Admin
    skipped: dict[int, str] = field(default_factory=dict)  # mapped org that does not exist
    grafana_admin: tuple[bool, bool] | None = None
    joined: list[dict[str, Any]] = field(default_factory=list)
    left: list[dict[str, Any]] = field(default_factory=list)
    current_org: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "orgs": {
                "added": {str(k): v for k, v in self.added.items()},
                "updated": {str(k): {"from": a, "to": b} for k, (a, b) in self.updated.items()},
                "removed": {str(k): v for k, v in self.removed.items()},
                "keptLastAdmin": {str(k): v for k, v in self.kept.items()},
                "skippedMissingOrg": {str(k): v for k, v in self.skipped.items()},
            },
            "currentOrg": (
                {"from": self.current_org[0], "to": self.current_org[1]} if self.current_org else None
            ),
            "grafanaAdmin": (
                {"from": self.grafana_admin[0], "to": self.grafana_admin[1]} if self.grafana_admin else None
            ),
            "teams": {"joined": self.joined, "left": self.left},
        }


def _orgs(db: sqlite3.Connection) -> list[Org]:
    return [Org(r[0], r[1]) for r in db.execute("SELECT id, name FROM org ORDER BY id")]


def _teams(db: sqlite3.Connection) -> list[Team]:
    groups: dict[int, list[str]] = {}
    for team_id, group_id in db.execute("SELECT team_id, group_id FROM team_group ORDER BY id"):
        groups.setdefault(team_id, []).append(group_id)
    rows = db.execute("SELECT id, name, org_id FROM team ORDER BY id").fetchall()
    return [Team(r[0], r[1], r[2], tuple(groups[r[0]])) for r in rows if r[0] in groups]


def _find_user(db: sqlite3.Connection, store: Store, auth_id: str, email: str, login: str) -> User | None:
    """``getUser``: the ``auth.saml`` auth info first, then ``GetByEmail``, then ``GetByLogin``."""
    if auth_id:
        row = db.execute(
            "SELECT user_id FROM user_auth WHERE auth_module = ? AND auth_id = ? ORDER BY id DESC LIMIT 1",
            (SAML_MODULE, auth_id),
        ).fetchone()
        if row is not None:
            found = store.get_user(row[0])
            if found is not None:
                return found
            # getUser cleans up an auth info whose user is gone.
            db.execute("DELETE FROM user_auth WHERE user_id = ?", (row[0],))
    if email:
        row = db.execute(
            'SELECT id FROM "user" WHERE is_service_account = 0 AND lower(email) = lower(?)', (email,)
        ).fetchone()
        if row is not None:
            return store.get_user(row[0])
    return store.get_user_by_login_or_email(login) if login else None


def _memberships(store: Store, user_id: int) -> dict[int, str]:
    return {m.org_id: m.role for m in store.user_orgs(user_id)}


def _summary(outcome: Outcome) -> dict[str, Any]:
    return {
        "loginAllowed": outcome.login_allowed,
        "loginDeniedReason": outcome.login_denied_reason,
        "decisions": [d.to_json() for d in outcome.decisions],
    }


def _refuse(outcome: Outcome) -> LoginFailed:
    extra = _summary(outcome)
    if outcome.login_denied_reason == SIGN_UP_DISABLED:
        # user_sync.go errUserSignupDisabled
        return LoginFailed(401, "user.sync.signup-disabled", SIGN_UP_DISABLED, extra)
    return LoginFailed(403, "sandbox.saml.login-denied", outcome.login_denied_reason or "login denied", extra)


def _sync_failed(outcome: Outcome, why: str) -> LoginFailed:
    """``errSyncUserInternal`` (500 ``User sync failed``): Grafana's answer when a user update fails."""
    extra = {**_summary(outcome), "reason": why}
    return LoginFailed(500, "user.sync.internal", "User sync failed", extra)


def login(store: Store, config: GrafanaConfig | None, body: bytes, *, client_ip: str = "") -> dict[str, Any]:
    """Perform a SAML login with the Response in ``body``; returns the JSON summary, raises
    :class:`LoginFailed` for a refusal (nothing is written then).
    """
    cfg = effective_config(store, config)
    if not cfg.saml_bool("enabled"):
        raise LoginFailed(
            404,
            "sandbox.saml.disabled",
            "SAML is not enabled: set enabled = true in [auth.saml] of the sandbox's grafana.ini or in the "
            "SAML SSO settings (PUT /api/v1/sso-settings/saml); Grafana serves no /saml/acs then",
        )
    message = read_message(body)
    with store.transaction() as db:
        orgs, teams = _orgs(db), _teams(db)
        # A first pass reads login and email, which decide who the user is.
        probe = simulate(cfg, message.attributes, orgs=orgs, teams=teams)
        email, login_name = probe.email or "", probe.login or ""
        if not email and not login_name:
            raise LoginFailed(
                400,
                "sandbox.saml.no-identity",
                "the assertion gives the user neither a login nor an email: check "
                "assertion_attribute_login and assertion_attribute_email against its attributes",
                _summary(probe),
            )
        auth_id = message.name_id or login_name or email
        user = _find_user(db, store, auth_id, email, login_name)
        current = _memberships(store, user.id) if user is not None else None
        outcome = simulate(
            cfg,
            message.attributes,
            orgs=orgs,
            teams=teams,
            user_exists=user is not None,
            current_memberships=current,
        )
        if not outcome.login_allowed:
            raise _refuse(outcome)
        if user is not None and user.is_disabled:
            raise LoginFailed(401, "identity.disabled", "Unauthorized", _summary(outcome))
        return _apply(store, db, cfg, outcome, user, auth_id, client_ip)


def _target_roles(outcome: Outcome) -> dict[int, str]:
    """The org roles to sync: org ids only (the simulator resolved names and ``*`` from the org list)."""
    return {k: v for k, v in outcome.org_roles.items() if isinstance(k, int) and k > 0}


def _apply(
    store: Store,
    db: sqlite3.Connection,
    cfg: GrafanaConfig,
    outcome: Outcome,
    user: User | None,
    auth_id: str,
    client_ip: str,
) -> dict[str, Any]:
    changes = Changes()
    sync_roles = outcome.role_sync == "applied"
    target = _target_roles(outcome) if sync_roles else {}
    created = user is None
    try:
        if user is None:
            user = _create(store, outcome, skip_org_setup=bool(target))
        else:
            _update_user(store, user, outcome, changes)
    except (UserAlreadyExists, sqlite3.IntegrityError):
        raise _sync_failed(outcome, "another user already has this login or email") from None
    except LastGrafanaAdmin:
        raise _sync_failed(outcome, "cannot remove last grafana admin") from None
    except StoreError as exc:  # e.g. [users] auto_assign_org_id names an org that does not exist
        raise _sync_failed(outcome, str(exc)) from None
    db.execute("DELETE FROM user_auth WHERE user_id = ? AND auth_module = ?", (user.id, SAML_MODULE))
    store.set_auth_info(user.id, SAML_MODULE, auth_id)
    if target:
        try:
            _sync_orgs(store, db, user.id, target, changes)
        except orgdata.LastOrgAdmin:
            raise _sync_failed(
                outcome,
                "the login would demote the last Admin of an org (cannot remove last organization "
                "admin); Grafana's org sync fails and so does the login",
            ) from None
    if cfg.saml("assertion_attribute_groups"):
        _sync_teams(store, db, user.id, outcome, changes)
    store.touch_last_seen(user.id)
    store.create_user_token(user.id, client_ip=client_ip, user_agent="gtool sandbox SAML login")
    return _result(store, user.id, created, outcome, changes)


def _create(store: Store, outcome: Outcome, *, skip_org_setup: bool) -> User:
    """``createUser``: without org setup when the login maps org roles (org sync adds them)."""
    return store.create_user(
        login=outcome.login or "",
        email=outcome.email or "",
        name=outcome.name or "",
        is_admin=bool(outcome.grafana_admin),
        skip_org_setup=skip_org_setup,
    )


def _update_user(store: Store, user: User, outcome: Outcome, changes: Changes) -> None:
    """``updateUserAttributes``: non-empty, differing login/email/name, then the Grafana Admin flag."""
    fields: dict[str, str] = {}
    for name, new in (("login", outcome.login), ("email", outcome.email), ("name", outcome.name)):
        old = getattr(user, name)
        if new and new != old:
            fields[name] = new
            changes.user[name] = {"from": old, "to": new}
    if fields:
        clash = store.get_user_by_login_or_email(fields.get("login", "")) if "login" in fields else None
        if clash is not None and clash.id != user.id:
            raise UserAlreadyExists()
        if "email" in fields:
            other = store.get_user_by_login_or_email(fields["email"])
            if other is not None and other.id != user.id:
                raise UserAlreadyExists()
        store.update_user_fields(user.id, **fields, updated=store.now())
    if outcome.grafana_admin is not None and outcome.grafana_admin != user.is_admin:
        store.set_grafana_admin(user.id, outcome.grafana_admin)
        changes.grafana_admin = (user.is_admin, outcome.grafana_admin)


def _sync_orgs(
    store: Store, db: sqlite3.Connection, user_id: int, target: dict[int, str], changes: Changes
) -> None:
    """``SyncOrgRolesHook``: update, add, remove (last Admin kept), then the current org."""
    removals: list[tuple[int, str]] = []
    for membership in store.user_orgs(user_id):  # GetUserOrgList order, as Grafana walks it
        new = target.get(membership.org_id)
        if new is None:
            removals.append((membership.org_id, membership.role))
        elif new != membership.role:
            orgdata.update_org_user_role(store, membership.org_id, user_id, new)  # LastOrgAdmin: fails
            changes.updated[membership.org_id] = (membership.role, new)
    current = {m.org_id for m in store.user_orgs(user_id)}
    for org_id in sorted(target):
        if org_id in current:
            continue
        if store.get_org(org_id) is None:
            changes.skipped[org_id] = target[org_id]  # ErrOrgNotFound: skipped
            continue
        store.add_org_user(org_id, user_id, target[org_id])
        changes.added[org_id] = target[org_id]
    for org_id, role in removals:
        if role == "Admin" and _only_admin(db, org_id, user_id):
            changes.kept[org_id] = role  # ErrLastOrgAdmin: Grafana logs it and keeps the membership
            continue
        orgdata.remove_org_user(store, org_id, user_id, delete_orphan=False)
        changes.removed[org_id] = role
    user = store.get_user(user_id)
    assert user is not None
    if user.org_id not in target:
        lowest = min(target)
        store.set_using_org(user_id, lowest)
        changes.current_org = (user.org_id, lowest)


def _only_admin(db: sqlite3.Connection, org_id: int, user_id: int) -> bool:
    """``validateOneAdminLeftInOrg`` after removing ``user_id``: would no Admin be left?"""
    other = db.execute(
        "SELECT 1 FROM org_user WHERE org_id = ? AND role = 'Admin' AND user_id != ?", (org_id, user_id)
    ).fetchone()
    return other is None


def _sync_teams(
    store: Store, db: sqlite3.Connection, user_id: int, outcome: Outcome, changes: Changes
) -> None:
    """Team sync: join matched teams as a synced (external) member; leave synced memberships that no
    longer match. A member added by hand (``external = 0``) is never removed.
    """
    matched = {m.team.id: m for m in outcome.teams}
    rows = db.execute(
        "SELECT tm.team_id, tm.external, t.name, t.org_id FROM team_member tm "
        "JOIN team t ON t.id = tm.team_id WHERE tm.user_id = ?",
        (user_id,),
    ).fetchall()
    member_of = {r[0] for r in rows}
    for team_id, match in sorted(matched.items()):
        if team_id in member_of:
            continue
        store.add_team_member(team_id, user_id, external=True)
        changes.joined.append(match.to_json())
    for team_id, external, name, org_id in rows:
        if external and team_id not in matched:
            db.execute("DELETE FROM team_member WHERE team_id = ? AND user_id = ?", (team_id, user_id))
            changes.left.append({"id": team_id, "name": name, "orgId": org_id})


def _result(store: Store, user_id: int, created: bool, outcome: Outcome, changes: Changes) -> dict[str, Any]:
    user = store.get_user(user_id)
    assert user is not None
    return {
        "user": {
            "id": user.id,
            "uid": user.uid,
            "login": user.login,
            "email": user.email,
            "name": user.name,
            "isGrafanaAdmin": user.is_admin,
            "orgId": user.org_id,
            "authModule": SAML_MODULE,
        },
        "created": created,
        "roleSync": outcome.role_sync,
        "orgRoles": {str(m.org_id): m.role for m in sorted(store.user_orgs(user.id), key=lambda m: m.org_id)},
        "teams": _user_teams(store, user.id),
        "changes": changes.to_json(),
        **_summary(outcome),
    }


def _user_teams(store: Store, user_id: int) -> list[dict[str, Any]]:
    with store.transaction() as db:
        rows = db.execute(
            "SELECT t.id, t.name, t.org_id, tm.external FROM team_member tm JOIN team t ON t.id = tm.team_id "
            "WHERE tm.user_id = ? ORDER BY t.org_id, t.name, t.id",
            (user_id,),
        ).fetchall()
    return [{"id": r[0], "name": r[1], "orgId": r[2], "synced": bool(r[3])} for r in rows]
