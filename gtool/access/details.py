"""Everything the user detail screen shows about one user, read in one go: profile, orgs with role and
sync lock, teams, sessions, last seen. A Grafana server admin reads it through the global user API; anyone
else (an org admin, a Cloud token) through the members of its own org, and the result says what it could
not see and why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gtool.access.query import never_seen
from gtool.grafana.aclient import AsyncGrafanaClient
from gtool.grafana.capabilities import Capabilities
from gtool.grafana.errors import GrafanaError
from gtool.grafana.errors import describe as describe_error
from gtool.grafana.models import AuthToken, Team, UserOrg, UserProfile

# --- what the screen reads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserDetails:
    """A user as this credential can see them; a `*_note` says what could not be read, and why."""

    profile: UserProfile
    orgs: tuple[UserOrg, ...]
    grafana_admin: bool | None  # None: this credential cannot tell
    synced: bool
    last_seen: str = ""
    created: datetime | None = None
    orgs_note: str = ""
    teams: tuple[Team, ...] = ()
    teams_note: str = ""
    sessions: tuple[AuthToken, ...] | None = None
    sessions_note: str = ""
    org_names: dict[int, str] = field(default_factory=dict)


def seen_text(seen: datetime | None, age: str) -> str:
    if never_seen(seen, datetime.now(UTC)):
        return "never"
    return f"{age} ago" if age else "?"


async def read_details(
    client: AsyncGrafanaClient, caps: Capabilities, user_id: int, login: str | None = None
) -> UserDetails:
    """Everything the screen shows, in as few round trips as the credential allows."""
    if caps.can_manage_users_globally:
        return await _read_globally(client, caps, user_id)
    return await _read_in_org(client, caps, user_id, login)


async def _read_globally(client: AsyncGrafanaClient, caps: Capabilities, user_id: int) -> UserDetails:
    profile, orgs = await asyncio.gather(client.get_user(user_id), client.user_orgs(user_id))
    seen, (teams, teams_note), (sessions, sessions_note) = await asyncio.gather(
        _last_seen(client, profile), _teams(client, caps, user_id, orgs), _sessions(client, user_id)
    )
    return UserDetails(
        profile,
        tuple(sorted(orgs, key=lambda o: o.org_id)),
        profile.is_grafana_admin,
        profile.is_externally_synced,
        last_seen=seen,
        created=profile.created_at,
        teams=teams,
        teams_note=teams_note,
        sessions=sessions,
        sessions_note=sessions_note,
        org_names={o.org_id: o.name for o in orgs},
    )


async def _last_seen(client: AsyncGrafanaClient, profile: UserProfile) -> str:
    # /api/users/:id has no last-seen time; the search hit of the same login has (the search matches
    # substrings, so read on until the hit with this id)
    try:
        async for hit in client.iter_users(profile.login):
            if hit.id == profile.id:
                return seen_text(hit.last_seen_at, hit.last_seen_at_age)
    except GrafanaError:
        pass
    return "?"


async def _teams(
    client: AsyncGrafanaClient, caps: Capabilities, user_id: int, orgs: Iterable[UserOrg]
) -> tuple[tuple[Team, ...], str]:
    # /api/users/:id/teams answers for the org of the request only, and Grafana honours another org
    # (X-Grafana-Org-Id) only for its members: the orgs this credential shares with the user are readable.
    mine = {o.org_id for o in caps.orgs}
    shared = [o.org_id for o in orgs if o.org_id in mine]
    hidden = [o.org_id for o in orgs if o.org_id not in mine]
    answers = await asyncio.gather(
        *(client.user_teams(user_id, org_id=org_id) for org_id in shared), return_exceptions=True
    )
    teams: list[Team] = []
    notes: list[str] = []
    for org_id, answer in zip(shared, answers, strict=True):
        if isinstance(answer, BaseException):
            notes.append(f"org {org_id}: {describe_error(answer)}")
        else:
            teams.extend(answer)
    if hidden:
        notes.append(f"teams in org {', '.join(map(str, hidden))} not shown: this connection is not a member")
    return tuple(teams), "; ".join(notes)


async def _sessions(client: AsyncGrafanaClient, user_id: int) -> tuple[tuple[AuthToken, ...] | None, str]:
    try:
        return tuple(await client.user_sessions(user_id)), ""
    except GrafanaError as exc:
        return None, describe_error(exc)


async def _read_in_org(
    client: AsyncGrafanaClient, caps: Capabilities, user_id: int, login: str | None
) -> UserDetails:
    """Without the admin API (an org admin, a service account): the member record of the credential's org."""
    why = caps.why_not("manage_users_globally") or ""
    # with the login, one member search finds them; without it, the org's member list is read through
    member = await client.find_org_user(None, user_id, login=login)
    if member is None:
        raise LookupError(f"user {user_id} is not a member of org {caps.org_id}, and {why}")
    profile = UserProfile(
        id=member.user_id,
        login=member.login,
        email=member.email,
        name=member.name,
        is_disabled=member.is_disabled,
        is_external=member.is_external,
        is_externally_synced=member.is_externally_synced,
        auth_labels=member.auth_labels,
    )
    org_id = caps.org_id or member.org_id
    return UserDetails(
        profile,
        (UserOrg(org_id, caps.org_name, member.role),),
        None,
        member.is_externally_synced,
        last_seen=seen_text(member.last_seen_at, member.last_seen_at_age),
        created=member.created,
        orgs_note=f"only org {org_id} is visible: {why}",
        teams_note=f"Not shown: {why}",
        sessions_note=caps.why_not("revoke_sessions") or "",
        org_names={org_id: caps.org_name},
    )
