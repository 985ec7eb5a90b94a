"""Teams, team members and team-sync external groups: ``/api/teams…`` (contract §6).

Middleware order as in ``teamapi/api.go``: sign-in, ``teamResolver`` (a UID in ``:teamId`` becomes the
numeric id; an unknown UID is 404 ``Not found``), RBAC, then the handler's own checks.

Permissions: an org Admin (and a Grafana Admin, and an Admin service-account token) holds every team action
on every team of the org (``fixed:teams:*`` granted to Admin). Anyone else holds the managed team
permissions of the teams they are in: Member → ``teams:read``; team Admin (permission 4) → read, write,
delete and ``teams.permissions:*`` on that team (``ProvideTeamPermissions``). ``editors_can_admin`` is not
modelled: Editors create no teams.

Team sync (``/groups``) is Enterprise-only: on an "Open Source" sandbox those paths are not routes at all
and get the ``/api/*`` catch-all 404.
"""

from __future__ import annotations

from typing import Any

from gtool.sandbox import dtos, errors, teamdata
from gtool.sandbox.auth import auth_label
from gtool.sandbox.dtos import avatar_url
from gtool.sandbox.gojson import GoMap
from gtool.sandbox.web import Ctx, Field, api, go_atoi, success

TEAM_ADMIN_ACTIONS = (
    "teams:delete",
    "teams:read",
    "teams:write",
    "teams.permissions:read",
    "teams.permissions:write",
)
TEAM_MEMBER_ACTIONS = ("teams:read",)

# team/sortopts: value -> (column key in teamdata.SORT_COLUMNS, descending, index).
SORT_OPTIONS = {
    "name-asc": ("name", False, 0),
    "name-desc": ("name", True, 0),
    "email-asc": ("email", False, 1),
    "email-desc": ("email", True, 1),
    "memberCount-asc": ("memberCount", False, 2),
    "memberCount-desc": ("memberCount", True, 2),
}

PROVISIONED_MESSAGE = "Team memberships cannot be updated for provisioned teams"


def parse_sort(value: str) -> list[tuple[str, bool]]:
    """``ParseSortQueryParam``: comma list; an unknown option is errutil 400 ``unknown sorting option``."""
    if value == "":
        return []
    chosen: list[tuple[int, str, bool]] = []
    for name in value.split(","):
        option = SORT_OPTIONS.get(name)
        if option is None:
            raise errors.public_error(400, "unknown sorting option")
        column, desc, index = option
        chosen.append((index, column, desc))
    chosen.sort(key=lambda o: o[0])
    return [(column, desc) for _, column, desc in chosen]


# -- permissions --------------------------------------------------------------------------------------------


def _memberships(ctx: Ctx) -> dict[int, int]:
    if not ctx.identity.is_user or ctx.identity.org_id <= 0:
        return {}
    return teamdata.user_permissions(ctx.store, ctx.identity.org_id, ctx.identity.user.id)


def team_actions(ctx: Ctx, team_id: int, memberships: dict[int, int] | None = None) -> tuple[str, ...]:
    """The team actions the caller holds on ``teams:id:<team_id>``."""
    held = tuple(a for a in TEAM_ADMIN_ACTIONS if ctx.identity.can(a))
    if len(held) == len(TEAM_ADMIN_ACTIONS):
        return held
    permission = (memberships if memberships is not None else _memberships(ctx)).get(team_id)
    if permission is None:
        return held
    extra = TEAM_ADMIN_ACTIONS if permission == teamdata.PERMISSION_ADMIN else TEAM_MEMBER_ACTIONS
    return tuple(sorted(set(held) | set(extra)))


def _require_team(ctx: Ctx, action: str) -> int:
    """Resolve ``:teamId`` then authorize ``action`` on it; returns the numeric id."""
    raw = ctx.params.get("teamId", "")
    team_id = go_atoi(raw)
    if team_id is None:
        found = teamdata.team_id_by_uid(ctx.store, ctx.identity.org_id, raw)
        if found is None:
            raise errors.json_api_error(404, "Not found")
        team_id = found
    if action not in team_actions(ctx, team_id):
        raise errors.access_denied(action)
    return team_id


def _require_enterprise(ctx: Ctx) -> None:
    if ctx.sandbox.edition == "Open Source":
        raise errors.not_found_route()


# -- DTOs ---------------------------------------------------------------------------------------------------


def team_dto(hit: teamdata.TeamHit, access: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``TeamDTO`` (E12). ``permission`` stays 0: search does not fill it; ``accessControl`` is null unless
    asked for with ``?accesscontrol=true``.
    """
    access_control = None if access is None else GoMap(dict.fromkeys(access, True))
    return dtos.team(hit.team, member_count=hit.member_count, permission=0, access_control=access_control)


def member_dto(ctx: Ctx, team_uid: str, team_id: int, member: teamdata.TeamMember) -> dict[str, Any]:
    """``TeamMemberDTO``: labels only for external memberships on a licence with team sync."""
    labels: list[str] = []
    if member.external and ctx.sandbox.edition != "Open Source":
        labels.append(auth_label(member.auth_module or ""))
    user = member.user
    return {
        "orgId": ctx.identity.org_id,
        "teamId": team_id,
        "teamUID": team_uid,
        "userId": user.id,
        "userUID": user.uid,
        "auth_module": member.auth_module or "",
        "email": user.email,
        "name": user.name,
        "login": user.login,
        "avatarUrl": avatar_url(user.email),
        "labels": labels,
        "permission": member.permission,
    }


# -- handlers -----------------------------------------------------------------------------------------------


def search_teams(ctx: Ctx) -> Any:
    """``GET /api/teams/search``: 1-based, ``perpage`` 1000 by default, scoped to the caller's org."""
    memberships = _memberships(ctx)
    sees_all = ctx.identity.can("teams:read")
    if not sees_all and not memberships:
        raise errors.access_denied("teams:read")
    per_page = ctx.query_int("perpage")
    if per_page <= 0:
        per_page = 1000
    page = ctx.query_int("page")
    if page < 1:
        page = 1
    order = parse_sort(ctx.query("sort"))
    team_ids = [i for i in (go_atoi(v) for v in ctx.request.query_params.getlist("teamId")) if i is not None]
    total, hits = teamdata.search_teams(
        ctx.store,
        ctx.identity.org_id,
        query=ctx.query("query"),
        name=ctx.query("name"),
        team_ids=team_ids,
        visible_ids=None if sees_all else sorted(memberships),
        order=order,
        limit=min(per_page, 2**62),
        offset=min(per_page * (page - 1), 2**62),
    )
    with_access = ctx.query_bool("accesscontrol")
    teams = [team_dto(h, team_actions(ctx, h.team.id, memberships) if with_access else None) for h in hits]
    return {"totalCount": total, "teams": teams, "page": page, "perPage": per_page}


def get_team(ctx: Ctx) -> Any:
    team_id = _require_team(ctx, "teams:read")
    hit = teamdata.get_team(ctx.store, ctx.identity.org_id, team_id)
    if hit is None:
        raise errors.error_with_err(404, "Team not found")
    return team_dto(hit, team_actions(ctx, team_id) if ctx.query_bool("accesscontrol") else None)


def create_team(ctx: Ctx) -> Any:
    """``POST /api/teams``; a user who creates a team becomes its Admin member (tokens add nobody)."""
    if not ctx.identity.can("teams:create"):
        raise errors.access_denied("teams:create")
    form = ctx.bind(Field("name", required=True), Field("email"))
    creator = ctx.identity.user.id if ctx.identity.is_user else None
    try:
        team = teamdata.create_team(
            ctx.store, ctx.identity.org_id, form["name"], form["email"], admin_user_id=creator
        )
    except teamdata.TeamNameTaken:
        raise errors.error_with_err(409, "Team name taken") from None
    return GoMap(message="Team created", teamId=team.id, uid=team.uid)


def get_team_members(ctx: Ctx) -> Any:
    """``GET /api/teams/:teamId/members``: an unknown team has no members (``[]``): the query finds none."""
    team_id = _require_team(ctx, "teams.permissions:read")
    hit = teamdata.get_team(ctx.store, ctx.identity.org_id, team_id)
    team_uid = hit.team.uid if hit else ""
    members = teamdata.members(ctx.store, ctx.identity.org_id, team_id)
    return [member_dto(ctx, team_uid, team_id, m) for m in members]


def add_team_member(ctx: Ctx) -> Any:
    team_id = _require_team(ctx, "teams.permissions:write")
    form = ctx.bind(Field("userId", "int", required=True))
    org_id = ctx.identity.org_id
    if teamdata.is_provisioned(ctx.store, org_id, team_id):
        raise errors.error(400, PROVISIONED_MESSAGE)
    user_id = form["userId"]
    if ctx.store.get_user(user_id) is None or ctx.store.org_role(org_id, user_id) is None:
        # The permission service refuses a user outside the org; the handler maps only "team not found".
        raise errors.error_with_err(500, "Failed to add Member to Team")
    try:
        teamdata.add_member(ctx.store, org_id, team_id, user_id, teamdata.PERMISSION_MEMBER)
    except teamdata.MemberAlreadyAdded:
        raise errors.error(400, "User is already added to this team") from None
    except teamdata.TeamNotFound:
        raise errors.error(404, "Team not found") from None
    return GoMap(message="Member added to Team")


def remove_team_member(ctx: Ctx) -> Any:
    team_id = _require_team(ctx, "teams.permissions:write")
    user_id = ctx.param_int("userId", "userId is invalid")
    org_id = ctx.identity.org_id
    if teamdata.is_provisioned(ctx.store, org_id, team_id):
        raise errors.error(400, PROVISIONED_MESSAGE)
    try:
        teamdata.remove_member(ctx.store, org_id, team_id, user_id)
    except teamdata.TeamNotFound:
        raise errors.error(404, "Team not found") from None
    except teamdata.MemberNotFound:
        raise errors.error(404, "Team member not found") from None
    return success("Team Member removed")


# Team sync. No OSS source exists: bodies follow docs/sources/developers/http_api/team_sync.md, errors are
# written as plain response.Error(…, nil) bodies (not confirmed), items carry the documented three fields
# (OpenAPI 13 adds uid/teamUid in an unconfirmed order, so they are left out).


def get_team_groups(ctx: Ctx) -> Any:
    _require_enterprise(ctx)
    team_id = _require_team(ctx, "teams.permissions:read")
    try:
        found = teamdata.groups(ctx.store, ctx.identity.org_id, team_id)
    except teamdata.TeamNotFound:
        raise errors.error(404, "Team not found") from None
    return [{"orgId": g.org_id, "teamId": g.team_id, "groupId": g.group_id} for g in found]


def add_team_group(ctx: Ctx) -> Any:
    _require_enterprise(ctx)
    team_id = _require_team(ctx, "teams.permissions:write")
    form = ctx.bind(Field("groupId", required=True))
    try:
        teamdata.add_group(ctx.store, ctx.identity.org_id, team_id, form["groupId"])
    except teamdata.TeamNotFound:
        raise errors.error(404, "Team not found") from None
    except teamdata.GroupAlreadyAdded:
        raise errors.error(400, "Group is already added to this team") from None
    return success("Group added to Team")


def _remove_group(ctx: Ctx, group_id: str) -> Any:
    _require_enterprise(ctx)
    team_id = _require_team(ctx, "teams.permissions:write")
    try:
        teamdata.remove_group(ctx.store, ctx.identity.org_id, team_id, group_id)
    except teamdata.TeamNotFound:
        raise errors.error(404, "Team not found") from None
    except teamdata.GroupNotFound:
        raise errors.error(404, "Group not found") from None
    return success("Team Group removed")


def remove_team_group(ctx: Ctx) -> Any:
    """``DELETE /api/teams/:teamId/groups?groupId=<url-encoded>`` (current docs)."""
    return _remove_group(ctx, ctx.query("groupId"))


def remove_team_group_by_path(ctx: Ctx) -> Any:
    """``DELETE /api/teams/:teamId/groups/:groupId`` (older Enterprise; kept for old clients)."""
    return _remove_group(ctx, ctx.params.get("groupId", ""))


ROUTES = [
    api("GET", "/api/teams/search", search_teams),
    api("POST", "/api/teams", create_team),
    api("GET", "/api/teams/{teamId}", get_team),
    api("GET", "/api/teams/{teamId}/members", get_team_members),
    api("POST", "/api/teams/{teamId}/members", add_team_member),
    api("DELETE", "/api/teams/{teamId}/members/{userId}", remove_team_member),
    api("GET", "/api/teams/{teamId}/groups", get_team_groups),
    api("POST", "/api/teams/{teamId}/groups", add_team_group),
    api("DELETE", "/api/teams/{teamId}/groups", remove_team_group),
    api("DELETE", "/api/teams/{teamId}/groups/{groupId:path}", remove_team_group_by_path),
]
