"""Contract tests for teams, team sync and service accounts (grafana-api-contract.md §6, §7.1, §11 E12).

The routes are mounted by a test-local fixture (``teams`` and ``serviceaccounts`` on top of the default
route modules) so these tests do not depend on ``app.ROUTE_MODULES`` listing them yet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient  # pytest loads conftest.py first, which silences its warning

from gtool.sandbox.app import ROUTE_MODULES, create_app
from gtool.sandbox.store import Store, sa_token_secret
from tests.sandbox.conftest import ADMIN, Clock, InProcess, basic, bearer

EXTRA_MODULES = ("teams", "serviceaccounts", "sso")
ACE = re.compile(
    rb'\{"accessErrorId":"ACE\d{10}","message":"You\'ll need additional permissions to perform this action. '
    rb'Permissions needed: (?P<needed>[^"]+)","title":"Access denied"\}'
)
AS_ADMIN = basic(*ADMIN)

MakeSandbox = Callable[..., InProcess]


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    """``make_sandbox(edition=None)``: like conftest's ``make_api``, with this file's routes mounted."""
    made: list[InProcess] = []

    def make(*, edition: str | None = None, config: Any = None) -> InProcess:
        clock = Clock()
        store = Store(":memory:", clock=clock)
        modules = tuple(m for m in ROUTE_MODULES if m not in EXTRA_MODULES) + EXTRA_MODULES
        app = create_app(store, config=config, edition=edition, route_modules=modules)
        made.append(InProcess(TestClient(app, base_url="http://localhost:3000"), store, clock))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.client.close()
        sandbox.store.close()


@pytest.fixture
def sb(make_sandbox: MakeSandbox) -> InProcess:
    return make_sandbox()


def get(sb: InProcess, path: str, headers: dict[str, str] = AS_ADMIN) -> Any:
    return sb.client.get(path, headers=headers)


def post(sb: InProcess, path: str, body: Any, headers: dict[str, str] = AS_ADMIN) -> Any:
    return sb.client.post(path, headers=headers, json=body)


def delete(sb: InProcess, path: str, headers: dict[str, str] = AS_ADMIN) -> Any:
    return sb.client.delete(path, headers=headers)


def denied(response: Any, needed: str) -> None:
    assert response.status_code == 403
    match = ACE.fullmatch(response.content)
    assert match is not None, response.content
    assert match["needed"].decode() == needed


def sre_team(sb: InProcess) -> int:
    """The E12 team: SRE in org 1 with two members."""
    team = sb.store.create_team(1, "SRE", "sre@example.com", uid="de5t9q7r1s2t3u")
    for login in ("jane", "joe"):
        sb.store.add_team_member(team.id, sb.user(login).id)
    return team.id


# -- E12 and search ---------------------------------------------------------------------------------------


def test_e12_team_search_body_field_for_field(sb: InProcess) -> None:
    # E12's avatar hash is illustrative (§11: "values are illustrative"); the real one is md5 of the email.
    sre_team(sb)
    response = get(sb, "/api/teams/search?perpage=10&page=1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == (
        b'{"totalCount":1,"teams":[{"id":1,"uid":"de5t9q7r1s2t3u","orgId":1,"name":"SRE",'
        b'"email":"sre@example.com","externalUID":"","isProvisioned":false,'
        b'"avatarUrl":"/avatar/4f399e5113f5e12f42172050c083040f","memberCount":2,"permission":0,'
        b'"accessControl":null}],"page":1,"perPage":10}'
    )


def test_team_search_defaults_paging_and_total(sb: InProcess) -> None:
    for name in ("gamma", "alpha", "beta"):
        sb.store.create_team(1, name)
    body = get(sb, "/api/teams/search").json()
    assert (body["page"], body["perPage"], body["totalCount"]) == (1, 1000, 3)
    assert [t["name"] for t in body["teams"]] == ["alpha", "beta", "gamma"]
    page2 = get(sb, "/api/teams/search?perpage=2&page=2").json()
    assert page2["totalCount"] == 3
    assert [t["name"] for t in page2["teams"]] == ["gamma"]


def test_team_search_query_name_sort_and_org_scope(sb: InProcess) -> None:
    sb.store.create_team(1, "Platform SRE", "a@example.com")
    sb.store.create_team(1, "SRE", "b@example.com")
    sb.store.create_org("Ops", org_id=2)
    sb.store.create_team(2, "SRE Ops")
    sb.store.add_org_user(2, 1, "Admin")  # a server admin outside an org acts there with no org (§8)
    assert [t["name"] for t in get(sb, "/api/teams/search?query=sre").json()["teams"]] == [
        "Platform SRE",
        "SRE",
    ]
    assert [t["name"] for t in get(sb, "/api/teams/search?name=SRE").json()["teams"]] == ["SRE"]
    names = [t["name"] for t in get(sb, "/api/teams/search?sort=email-desc").json()["teams"]]
    assert names == ["SRE", "Platform SRE"]
    in_org2 = get(sb, "/api/teams/search", {**AS_ADMIN, "X-Grafana-Org-Id": "2"}).json()
    assert [t["name"] for t in in_org2["teams"]] == ["SRE Ops"]


def test_team_search_unknown_sort_is_errutil_400(sb: InProcess) -> None:
    response = get(sb, "/api/teams/search?sort=bogus")
    assert response.status_code == 400
    assert response.content == (
        b'{"message":"BadRequest","messageId":"unknown sorting option","statusCode":400,"traceID":""}'
    )


def test_team_search_accesscontrol_metadata(sb: InProcess) -> None:
    sre_team(sb)
    team = get(sb, "/api/teams/search?accesscontrol=true").json()["teams"][0]
    assert team["accessControl"] == dict.fromkeys(
        ["teams.permissions:read", "teams.permissions:write", "teams:delete", "teams:read", "teams:write"],
        True,
    )


def test_team_search_viewer_sees_only_own_teams_or_is_denied(sb: InProcess) -> None:
    team_id = sre_team(sb)
    sb.store.create_team(1, "Other")
    outsider = sb.user("outsider")
    denied(get(sb, "/api/teams/search", basic(outsider.login, "pw-outsider")), "teams:read")
    body = get(sb, "/api/teams/search", basic("jane", "pw-jane")).json()
    assert [t["id"] for t in body["teams"]] == [team_id]
    assert body["totalCount"] == 1


def test_team_search_with_service_account_tokens(sb: InProcess) -> None:
    sre_team(sb)
    assert get(sb, "/api/teams/search", bearer(sb.sa_token("Admin"))).json()["totalCount"] == 1
    denied(get(sb, "/api/teams/search", bearer(sb.sa_token("Viewer", name="viewer-bot"))), "teams:read")


# -- one team ---------------------------------------------------------------------------------------------


def test_get_team_by_id_and_uid(sb: InProcess) -> None:
    team_id = sre_team(sb)
    by_id = get(sb, f"/api/teams/{team_id}")
    assert by_id.status_code == 200
    assert list(by_id.json()) == [
        "id", "uid", "orgId", "name", "email", "externalUID", "isProvisioned", "avatarUrl", "memberCount",
        "permission", "accessControl",
    ]  # fmt: skip
    assert get(sb, "/api/teams/de5t9q7r1s2t3u").content == by_id.content


def test_get_team_unknown_uid_and_id(sb: InProcess) -> None:
    assert get(sb, "/api/teams/nosuchuid").content == b'{"message":"Not found"}'
    missing = get(sb, "/api/teams/999")
    assert missing.status_code == 404
    assert missing.content == b'{"message":"Team not found","traceID":""}'


def test_team_of_another_org_is_not_found(sb: InProcess) -> None:
    sb.store.create_org("Ops", org_id=2)
    other = sb.store.create_team(2, "Elsewhere")
    assert get(sb, f"/api/teams/{other.id}").status_code == 404


def test_create_team_makes_the_creator_team_admin(sb: InProcess) -> None:
    response = post(sb, "/api/teams", {"name": "Ops", "email": "ops@example.com"})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["message", "teamId", "uid"]
    assert body["message"] == "Team created"
    members = get(sb, f"/api/teams/{body['teamId']}/members").json()
    assert [(m["login"], m["permission"]) for m in members] == [("admin", 4)]
    assert get(sb, f"/api/teams/{body['uid']}").json()["memberCount"] == 1


def test_create_team_errors(sb: InProcess) -> None:
    assert post(sb, "/api/teams", {"name": "Ops"}).status_code == 200
    taken = post(sb, "/api/teams", {"name": "Ops"})
    assert (taken.status_code, taken.content) == (409, b'{"message":"Team name taken","traceID":""}')
    missing = post(sb, "/api/teams", {"email": "x@example.com"})
    assert (missing.status_code, missing.content) == (400, b'{"message":"bad request data","traceID":""}')
    viewer = sb.user("viewer")
    denied(post(sb, "/api/teams", {"name": "Mine"}, basic(viewer.login, "pw-viewer")), "teams:create")


def test_create_team_with_token_adds_no_member(sb: InProcess) -> None:
    body = post(sb, "/api/teams", {"name": "Bots"}, bearer(sb.sa_token("Admin"))).json()
    assert get(sb, f"/api/teams/{body['teamId']}/members").json() == []


# -- members ----------------------------------------------------------------------------------------------


def test_team_members_shape_and_labels(sb: InProcess) -> None:
    team = sb.store.create_team(1, "SRE", uid="de5t9q7r1s2t3u")
    jane = sb.user("jane", name="Jane Doe", module="auth.saml")
    joe = sb.user("joe")
    sb.store.add_team_member(team.id, jane.id, external=True)
    sb.store.add_team_member(team.id, joe.id, permission=4)
    members = get(sb, f"/api/teams/{team.id}/members").json()
    assert members[0] == {
        "orgId": 1,
        "teamId": team.id,
        "teamUID": "de5t9q7r1s2t3u",
        "userId": jane.id,
        "userUID": jane.uid,
        "auth_module": "auth.saml",
        "email": "jane@example.com",
        "name": "Jane Doe",
        "login": "jane",
        "avatarUrl": "/avatar/9e26471d35a78862c17e467d87cddedf",
        "labels": ["SAML"],
        "permission": 0,
    }
    assert list(members[0]) == list(members[1])
    assert (members[1]["login"], members[1]["labels"], members[1]["permission"]) == ("joe", [], 4)


def test_team_member_labels_need_team_sync_licence(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(edition="Open Source")
    team = sb.store.create_team(1, "SRE")
    sb.store.add_team_member(team.id, sb.user("jane", module="auth.saml").id, external=True)
    assert get(sb, f"/api/teams/{team.id}/members").json()[0]["labels"] == []


def test_add_and_remove_team_member(sb: InProcess) -> None:
    team = sb.store.create_team(1, "SRE")
    jane = sb.user("jane")
    path = f"/api/teams/{team.id}/members"
    added = post(sb, path, {"userId": jane.id})
    assert (added.status_code, added.content) == (200, b'{"message":"Member added to Team"}')
    again = post(sb, path, {"userId": jane.id})
    assert (again.status_code, again.content) == (400, b'{"message":"User is already added to this team"}')
    removed = delete(sb, f"{path}/{jane.id}")
    assert (removed.status_code, removed.content) == (200, b'{"message":"Team Member removed"}')
    gone = delete(sb, f"{path}/{jane.id}")
    assert (gone.status_code, gone.content) == (404, b'{"message":"Team member not found"}')


def test_team_member_errors(sb: InProcess) -> None:
    jane = sb.user("jane")
    assert delete(sb, f"/api/teams/999/members/{jane.id}").content == b'{"message":"Team not found"}'
    assert post(sb, "/api/teams/999/members", {"userId": jane.id}).content == b'{"message":"Team not found"}'
    team = sb.store.create_team(1, "SRE")
    bad = post(sb, f"/api/teams/{team.id}/members", {"userId": "jane"})
    assert (bad.status_code, bad.content) == (400, b'{"message":"bad request data","traceID":""}')
    bad_id = delete(sb, f"/api/teams/{team.id}/members/abc")
    assert (bad_id.status_code, bad_id.content) == (400, b'{"message":"userId is invalid","traceID":""}')
    assert get(sb, "/api/teams/999/members").json() == []


def test_team_admin_manages_members_but_a_member_cannot(sb: InProcess) -> None:
    team = sb.store.create_team(1, "SRE")
    lead, member, new = sb.user("lead"), sb.user("member"), sb.user("new")
    sb.store.add_team_member(team.id, lead.id, permission=4)
    sb.store.add_team_member(team.id, member.id)
    path = f"/api/teams/{team.id}/members"
    denied(post(sb, path, {"userId": new.id}, basic("member", "pw-member")), "teams.permissions:write")
    denied(get(sb, path, basic("member", "pw-member")), "teams.permissions:read")
    assert get(sb, f"/api/teams/{team.id}", basic("member", "pw-member")).status_code == 200
    assert post(sb, path, {"userId": new.id}, basic("lead", "pw-lead")).status_code == 200


def test_concurrent_adds_of_one_member_add_it_once(sb: InProcess) -> None:
    from concurrent.futures import ThreadPoolExecutor

    team = sb.store.create_team(1, "SRE")
    jane = sb.user("jane")
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda _: post(sb, f"/api/teams/{team.id}/members", {"userId": jane.id}).status_code, range(8)
            )
        )
    assert sorted(codes) == [200] + [400] * 7


# -- team sync (§6.4) -------------------------------------------------------------------------------------


def test_team_sync_groups_add_list_remove(sb: InProcess) -> None:
    team = sb.store.create_team(1, "SRE")
    group = "cn=editors,ou=groups,dc=grafana,dc=org"
    path = f"/api/teams/{team.id}/groups"
    assert get(sb, path).json() == []
    added = post(sb, path, {"groupId": group})
    assert (added.status_code, added.content) == (200, b'{"message":"Group added to Team"}')
    again = post(sb, path, {"groupId": group})
    assert (again.status_code, again.content) == (400, b'{"message":"Group is already added to this team"}')
    assert get(sb, path).content == (
        b'[{"orgId":1,"teamId":%d,"groupId":"cn=editors,ou=groups,dc=grafana,dc=org"}]' % team.id
    )
    removed = delete(sb, f"{path}?groupId={quote(group)}")
    assert (removed.status_code, removed.content) == (200, b'{"message":"Team Group removed"}')
    gone = delete(sb, f"{path}?groupId={quote(group)}")
    assert (gone.status_code, gone.content) == (404, b'{"message":"Group not found"}')


def test_team_sync_errors(sb: InProcess) -> None:
    assert get(sb, "/api/teams/999/groups").content == b'{"message":"Team not found"}'
    assert post(sb, "/api/teams/999/groups", {"groupId": "g"}).content == b'{"message":"Team not found"}'
    team = sb.store.create_team(1, "SRE")
    assert post(sb, f"/api/teams/{team.id}/groups", {}).status_code == 400
    sb.store.add_team_group(team.id, "legacy")
    assert delete(sb, f"/api/teams/{team.id}/groups/legacy").json() == {"message": "Team Group removed"}


def test_team_sync_is_not_served_without_enterprise(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(edition="Open Source")
    team = sb.store.create_team(1, "SRE")
    response = get(sb, f"/api/teams/{team.id}/groups")
    assert (response.status_code, response.content) == (404, b'{"message":"Not found"}')


# -- service accounts and tokens (§7.1) -------------------------------------------------------------------


def test_service_account_create_and_search(sb: InProcess) -> None:
    created = post(sb, "/api/serviceaccounts", {"name": "CI Bot", "role": "editor"})
    assert created.status_code == 201
    body = created.json()
    assert list(body) == ["id", "uid", "name", "login", "orgId", "isDisabled", "role", "tokens", "avatarUrl"]
    assert (body["login"], body["role"], body["tokens"], body["orgId"]) == ("sa-1-ci-bot", "Editor", 0, 1)
    post(sb, "/api/serviceaccounts", {"name": "Another"})
    found = get(sb, "/api/serviceaccounts/search?query=bot").json()
    assert list(found) == ["totalCount", "serviceAccounts", "page", "perPage"]
    assert (found["totalCount"], found["page"], found["perPage"]) == (1, 1, 1000)
    assert found["serviceAccounts"][0]["avatarUrl"].startswith("/avatar/")
    every = get(sb, "/api/serviceaccounts/search?perpage=1&page=2").json()
    assert (every["totalCount"], [a["name"] for a in every["serviceAccounts"]]) == (2, ["CI Bot"])


def test_service_account_create_errors(sb: InProcess) -> None:
    assert post(sb, "/api/serviceaccounts", {"name": "bot"}).status_code == 201
    dup = post(sb, "/api/serviceaccounts", {"name": "bot"})
    assert dup.content == (
        b'{"message":"service account already exists","messageId":"serviceaccounts.ErrAlreadyExists",'
        b'"statusCode":400,"traceID":""}'
    )
    assert post(sb, "/api/serviceaccounts", {"role": "Viewer"}).status_code == 400
    assert post(sb, "/api/serviceaccounts", {"name": "x", "role": "Owner"}).status_code == 400
    viewer = sb.user("viewer")
    denied(get(sb, "/api/serviceaccounts/search", basic("viewer", "pw-viewer")), "serviceaccounts:read")
    assert viewer.id > 0


def test_service_account_token_lifecycle(sb: InProcess) -> None:
    sa_id = post(sb, "/api/serviceaccounts", {"name": "bot", "role": "Admin"}).json()["id"]
    path = f"/api/serviceaccounts/{sa_id}/tokens"
    created = post(sb, path, {"name": "ci"})
    assert created.status_code == 200
    body = created.json()
    assert list(body) == ["id", "name", "key"]
    assert re.fullmatch(r"glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}", body["key"])
    # The store keeps only a hash of the key.
    rows = sb.store._conn.execute("SELECT key FROM api_key").fetchall()
    assert rows == [(sa_token_secret(body["key"]),)]
    assert get(sb, "/api/teams/search", bearer(body["key"])).status_code == 200
    listed = get(sb, path).json()
    assert listed == [
        {
            "id": body["id"],
            "name": "ci",
            "created": "2025-05-06T09:12:31Z",
            "lastUsedAt": "2025-05-06T09:12:31Z",
            "expiration": None,
            "secondsUntilExpiration": 0,
            "hasExpired": False,
            "isRevoked": False,
        }
    ]
    removed = delete(sb, f"{path}/{body['id']}")
    assert (removed.status_code, removed.content) == (200, b'{"message":"Service account token deleted"}')
    refused = get(sb, "/api/teams/search", bearer(body["key"]))
    assert refused.status_code == 401
    assert refused.json()["messageId"] == "api-key.invalid"
    assert delete(sb, f"{path}/{body['id']}").json()["messageId"] == "serviceaccounts.ErrTokenNotFound"


def test_service_account_token_expiry_and_errors(sb: InProcess) -> None:
    sa_id = post(sb, "/api/serviceaccounts", {"name": "bot"}).json()["id"]
    path = f"/api/serviceaccounts/{sa_id}/tokens"
    assert post(sb, path, {"name": "short", "secondsToLive": 3600}).status_code == 200
    token = get(sb, path).json()[0]
    assert (token["expiration"], token["secondsUntilExpiration"]) == ("2025-05-06T10:12:31Z", 3600)
    dup = post(sb, path, {"name": "short"})
    assert dup.status_code == 400
    assert dup.json()["messageId"] == "serviceaccounts.ErrTokenAlreadyExists"
    no_name = post(sb, path, {})
    assert no_name.content == b'{"message":"Bad request data","traceID":""}'
    missing = post(sb, "/api/serviceaccounts/999/tokens", {"name": "x"})
    assert (missing.status_code, missing.json()["messageId"]) == (404, "serviceaccounts.ErrNotFound")
    sb.clock.now += 7200
    assert get(sb, path).json()[0]["hasExpired"] is True


def test_service_account_of_another_org_is_not_found(sb: InProcess) -> None:
    sb.store.create_org("Ops", org_id=2)
    other = sb.store.create_service_account(2, "elsewhere", "Admin")
    response = post(sb, f"/api/serviceaccounts/{other.id}/tokens", {"name": "x"})
    assert response.status_code == 404
    assert json.loads(response.content)["message"] == "service account not found"
