"""Grafana's response DTOs as ordered dicts: the key order is the Go struct's field order (§2, §3, §6)."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from gtool.sandbox.auth import AuthSettings, auth_label
from gtool.sandbox.gojson import ZERO_TIME, GoMap, go_time
from gtool.sandbox.store import Membership, Team, User, UserTeam, UserToken

_NON_ALNUM = re.compile(r"[^a-zA-Z0-9]+")


def avatar_url(email: str) -> str:
    """``dtos.GetGravatarUrl``: ``/avatar/`` + md5 of the lower-cased text; ``""`` for no text."""
    if email == "":
        return ""
    return "/avatar/" + hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def avatar_url_with_default(email: str, name: str) -> str:
    """``dtos.GetGravatarUrlWithDefault`` (teams): the name's alphanumerics @localhost when no email."""
    if email:
        return avatar_url(email)
    return avatar_url(_NON_ALNUM.sub("", name) + "@localhost")


def age_string(ts: int | None, now: int) -> str:
    """``util.GetAgeString`` (newest wording): ``"10 years"``, ``"1 day"``, ``"< 1 minute"``, ``"?"``."""
    if ts is None:
        return "?"
    minutes = (now - ts) / 60
    for size, unit in ((525600, "year"), (43800, "month"), (1440, "day"), (60, "hour")):
        amount = math.floor(minutes / size)
        if amount > 0:
            return f"{amount} {unit}" if amount == 1 else f"{amount} {unit}s"
    if int(minutes) > 0:
        return "1 minute" if int(minutes) == 1 else f"{int(minutes)} minutes"
    return "< 1 minute"


def user_search_hit(user: User, module: str | None, now: int) -> dict[str, Any]:
    """``UserSearchHitDTO`` (Grafana 11/12 fields, E1).

    ``/api/users/search`` sends :func:`gtool.sandbox.listings.user_hits`' encoding of it, byte for byte the
    same.
    """
    return {
        "id": user.id,
        "uid": user.uid,
        "name": user.name,
        "login": user.login,
        "email": user.email,
        "avatarUrl": avatar_url(user.email),
        "isAdmin": user.is_admin,
        "isDisabled": user.is_disabled,
        "lastSeenAt": go_time(user.last_seen_at),
        "lastSeenAtAge": age_string(user.last_seen_at, now),
        "authLabels": [] if module is None else [auth_label(module)],
    }


def user_profile(
    user: User,
    module: str | None,
    settings: AuthSettings,
    *,
    access_control: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """``UserProfileDTO`` as ``getUserUserProfile`` fills it (E5)."""
    body: dict[str, Any] = {"id": user.id, "uid": user.uid, "email": user.email, "name": user.name}
    body.update(login=user.login, theme=user.theme)
    if user.org_id:  # `json:"orgId,omitempty"`
        body["orgId"] = user.org_id
    body.update(
        isGrafanaAdmin=user.is_admin,
        isDisabled=user.is_disabled,
        isExternal=module is not None,
        isExternallySynced=module is not None and settings.is_externally_synced(module),
        isGrafanaAdminExternallySynced=module is not None
        and settings.is_grafana_admin_externally_synced(module),
        authLabels=[] if module is None else [auth_label(module)],
        updatedAt=go_time(user.updated),
        createdAt=go_time(user.created),
        avatarUrl=avatar_url(user.email),
    )
    if access_control:
        body["accessControl"] = GoMap(access_control)
    body["isProvisioned"] = user.is_provisioned
    return body


def lookup_profile(user: User) -> dict[str, Any]:
    """``GetUserByLoginOrEmail``: a ``UserProfileDTO`` with only id, name, email, login, theme, the admin
    flag, org and timestamps copied; the rest stays at Go zero values (``authLabels`` null, ``avatarUrl`` "").
    """
    body: dict[str, Any] = {"id": user.id, "uid": "", "email": user.email, "name": user.name}
    body.update(login=user.login, theme=user.theme)
    if user.org_id:
        body["orgId"] = user.org_id
    body.update(
        isGrafanaAdmin=user.is_admin,
        isDisabled=False,
        isExternal=False,
        isExternallySynced=False,
        isGrafanaAdminExternallySynced=False,
        authLabels=None,
        updatedAt=go_time(user.updated),
        createdAt=go_time(user.created),
        avatarUrl="",
        isProvisioned=False,
    )
    return body


def identity_profile(user: User, org_id: int, typed_id: str) -> dict[str, Any]:
    """``GetSignedInUser`` for a non-user identity (a service account): only a few fields are set."""
    body: dict[str, Any] = {
        "id": 0,
        "uid": typed_id,
        "email": user.email,
        "name": user.name_or_fallback,
        "login": user.login,
        "theme": "",
    }
    if org_id:
        body["orgId"] = org_id
    body.update(
        isGrafanaAdmin=False,
        isDisabled=False,
        isExternal=False,
        isExternallySynced=False,
        isGrafanaAdminExternallySynced=False,
        authLabels=None,
        updatedAt=ZERO_TIME,
        createdAt=ZERO_TIME,
        avatarUrl="",
        isProvisioned=False,
    )
    return body


def user_org(membership: Membership) -> dict[str, Any]:
    """``UserOrgDTO`` (E2)."""
    return {"orgId": membership.org_id, "name": membership.name, "role": membership.role}


def team(team: Team, *, member_count: int, permission: int, access_control: Any = None) -> dict[str, Any]:
    """``TeamDTO`` (contract E12). ``accessControl`` is not omitempty: null unless asked for."""
    return {
        "id": team.id,
        "uid": team.uid,
        "orgId": team.org_id,
        "name": team.name,
        "email": team.email,
        "externalUID": team.external_uid,
        "isProvisioned": team.is_provisioned,
        "avatarUrl": avatar_url_with_default(team.email, team.name),
        "memberCount": member_count,
        "permission": permission,
        "accessControl": access_control,
    }


def user_team(entry: UserTeam) -> dict[str, Any]:
    """``TeamDTO`` as ``getUserTeamList`` returns it, with the user's permission in the team."""
    return team(entry.team, member_count=entry.member_count, permission=entry.permission)


def user_token(token: UserToken, *, active: bool = False) -> dict[str, Any]:
    """``dtos.UserToken``; the sandbox's sessions carry no parsable user agent, so the client is "Other"."""
    seen = token.seen_at or token.created_at
    return {
        "id": token.id,
        "isActive": active,
        "clientIp": token.client_ip,
        "browser": "Other",
        "browserVersion": "",
        "os": "Other",
        "osVersion": "",
        "device": "Other",
        "createdAt": go_time(token.created_at),
        "seenAt": go_time(seen),
    }
