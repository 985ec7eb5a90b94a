"""Contract tests for users, admin users, auth, health (grafana-api-contract.md §13 and §11).

Each ``test_13_<n>_…`` checks behaviour n of §13; ``test_e<n>_…`` reproduces example n of §11 byte for byte.
Bodies are compared as bytes wherever the contract gives them, so field order and escaping count.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from gtool.sandbox.store import encode_password
from tests.sandbox.conftest import ADMIN, FROZEN, InProcess, MakeApi, basic, bearer

SAML_ON = "[auth.saml]\nenabled = true\n"
ACE = re.compile(
    rb'\{"accessErrorId":"ACE\d{10}","message":"You\'ll need additional permissions to perform this action. '
    rb'Permissions needed: (?P<needed>[^"]+)","title":"Access denied"\}'
)
UNAUTHORIZED = (
    b'{"extra":null,"message":"Unauthorized","messageId":"auth.unauthorized","statusCode":401,"traceID":""}'
)
BAD_REQUEST_DATA = b'{"message":"bad request data","traceID":""}'


def keys(body: bytes) -> list[str]:
    return list(json.loads(body))


# -- 13.1 / 13.2 / E8: who may call the global user APIs ----------------------------------------------------

USER_READ_ROUTES = [
    ("GET", "/api/users", None),
    ("GET", "/api/users/search", None),
    ("GET", "/api/users/2", None),
    ("GET", "/api/users/2/orgs", None),
    ("GET", "/api/users/2/teams", None),
    ("GET", "/api/users/lookup?loginOrEmail=jane", None),
]
ADMIN_ROUTES = [
    ("POST", "/api/admin/users", ("users:create", {"login": "new", "password": "secret"})),
    ("PUT", "/api/admin/users/2/password", ("users.password:write", {"password": "new-secret"})),
    ("POST", "/api/admin/users/2/disable", ("users:disable", None)),
    ("POST", "/api/admin/users/2/enable", ("users:enable", None)),
    ("POST", "/api/admin/users/2/logout", ("users:logout", None)),
    ("GET", "/api/admin/users/2/auth-tokens", ("users.authtoken:read", None)),
    ("DELETE", "/api/admin/users/2", ("users:delete", None)),
]


def _call(api: InProcess, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    return api.client.request(method, path, headers=headers, json=body)


@pytest.mark.parametrize(("method", "path", "spec"), USER_READ_ROUTES + ADMIN_ROUTES)
def test_13_1_global_user_apis_refuse_service_accounts_with_rbac_body(
    api: InProcess, method: str, path: str, spec: tuple[str, Any] | None
) -> None:
    api.user("jane")
    needed, body = spec or ("users:read", None)
    token = api.sa_token("Admin")
    org_admin = api.user("olga", orgs={1: "Admin"})
    for headers in (bearer(token), basic(org_admin.login, "pw-olga")):
        r = _call(api, method, path, headers, body)
        assert r.status_code == 403, (headers, r.content)
        m = ACE.fullmatch(r.content)
        assert m is not None, r.content
        assert m["needed"].decode() == needed
        assert r.headers["content-type"] == "application/json; charset=UTF-8"
    r = _call(api, method, path, basic(*ADMIN), body)
    assert r.status_code == 200, r.content


def test_e8_service_account_admin_reading_a_user(api: InProcess) -> None:
    api.user("jane")
    r = api.client.get("/api/users/2", headers=bearer(api.sa_token("Admin")))
    assert r.status_code == 403
    assert keys(r.content) == ["accessErrorId", "message", "title"]
    body = json.loads(r.content)
    assert re.fullmatch(r"ACE\d{10}", body.pop("accessErrorId"))
    assert body == {
        "message": "You'll need additional permissions to perform this action. "
        "Permissions needed: users:read",
        "title": "Access denied",
    }


def test_13_1_access_error_ids_differ_between_requests(api: InProcess) -> None:
    token = api.sa_token()
    ids = {
        json.loads(api.client.get("/api/users", headers=bearer(token)).content)["accessErrorId"]
        for _ in range(5)
    }
    assert len(ids) > 1


def test_13_2_permissions_by_non_grafana_admin_is_permission_denied(api: InProcess) -> None:
    api.user("jane")
    org_admin = api.user("olga", orgs={1: "Admin"})
    for headers in (bearer(api.sa_token("Admin")), basic(org_admin.login, "pw-olga")):
        r = api.client.put("/api/admin/users/2/permissions", headers=headers, json={"isGrafanaAdmin": True})
        assert (r.status_code, r.content) == (403, b'{"message":"Permission denied"}')
    r = api.client.put("/api/admin/users/2/permissions", auth=ADMIN, json={"isGrafanaAdmin": True})
    assert (r.status_code, r.content) == (200, b'{"message":"User permissions updated"}')
    assert api.store.get_user(2) is not None and api.store.get_user(2).is_admin  # type: ignore[union-attr]


# -- 13.3 / 13.4 / E1: search -------------------------------------------------------------------------------


def _seed_search(api: InProcess) -> None:
    api.user("mike", name="Mike Zulu", email="mz@corp.example")
    api.user("carol", name="Carol Young", email="carol@example.com", module="auth.saml")
    api.user("bob", name="Bob Xavier", email="bob@other.test", module="ldap")
    api.store.create_service_account(1, "robot", "Admin")


def test_13_3_search_defaults_order_paging_and_total(api: InProcess) -> None:
    _seed_search(api)
    r = api.client.get("/api/users/search", auth=ADMIN)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = json.loads(r.content)
    assert keys(r.content) == ["totalCount", "users", "page", "perPage"]
    assert (body["totalCount"], body["page"], body["perPage"]) == (4, 1, 1000)
    assert [u["login"] for u in body["users"]] == ["admin", "bob", "carol", "mike"]  # no service account
    page = json.loads(api.client.get("/api/users/search?perpage=2&page=2", auth=ADMIN).content)
    assert (page["totalCount"], page["page"], page["perPage"]) == (4, 2, 2)
    assert [u["login"] for u in page["users"]] == ["carol", "mike"]
    beyond = json.loads(api.client.get("/api/users/search?perpage=2&page=9", auth=ADMIN).content)
    assert (beyond["totalCount"], beyond["users"]) == (4, [])
    odd = json.loads(api.client.get("/api/users/search?perpage=-5&page=0", auth=ADMIN).content)
    assert (odd["page"], odd["perPage"], len(odd["users"])) == (1, 1000, 4)
    junk = json.loads(api.client.get("/api/users/search?perpage=abc&page=x", auth=ADMIN).content)
    assert (junk["page"], junk["perPage"]) == (1, 1000)
    bare = json.loads(api.client.get("/api/users?perpage=1&page=2", auth=ADMIN).content)
    assert [u["login"] for u in bare] == ["bob"]


@pytest.mark.parametrize(
    ("query", "logins"),
    [("ZULU", ["mike"]), ("example.com", ["carol"]), ("ob", ["bob"]), ("AROL", ["carol"]), ("nobody", [])],
)
def test_13_3_search_query_matches_login_email_or_name(api: InProcess, query: str, logins: list[str]) -> None:
    _seed_search(api)
    body = json.loads(api.client.get("/api/users/search", params={"query": query}, auth=ADMIN).content)
    assert [u["login"] for u in body["users"]] == logins
    assert body["totalCount"] == len(logins)


def test_13_3_sort_options_apply_in_grafana_order(api: InProcess) -> None:
    _seed_search(api)
    api.store.update_user_fields(3, last_seen_at=FROZEN - 60)  # carol seen most recently
    got = json.loads(api.client.get("/api/users?sort=login-desc", auth=ADMIN).content)
    assert [u["login"] for u in got] == ["mike", "carol", "bob", "admin"]
    # Grafana maps lastSeenAtAge-desc to "last_seen_at DESC": the most recently seen first.
    got = json.loads(api.client.get("/api/users?sort=lastSeenAtAge-desc", auth=ADMIN).content)
    assert [u["login"] for u in got[:2]] == ["admin", "carol"]
    got = json.loads(api.client.get("/api/users?sort=lastSeenAtAge-asc", auth=ADMIN).content)
    assert [u["login"] for u in got[2:]] == ["carol", "admin"]
    # Options are applied by their index (login, email, name, last seen), whatever order they are given in.
    a = api.client.get("/api/users?sort=name-desc,login-asc", auth=ADMIN).content
    b = api.client.get("/api/users?sort=login-asc,name-desc", auth=ADMIN).content
    assert a == b


def test_13_3_unknown_sort_is_an_errutil_400(api: InProcess) -> None:
    r = api.client.get("/api/users/search?sort=login-asc,age", auth=ADMIN)
    assert r.status_code == 400
    assert (
        r.content
        == b'{"message":"BadRequest","messageId":"unknown sorting option","statusCode":400,"traceID":""}'
    )


def test_13_4_search_auth_labels_are_always_arrays(api: InProcess) -> None:
    _seed_search(api)
    for path in ("/api/users", "/api/users/search"):
        body = json.loads(api.client.get(path, auth=ADMIN).content)
        hits = body if isinstance(body, list) else body["users"]
        labels = {u["login"]: u["authLabels"] for u in hits}
        assert labels == {"admin": [], "bob": ["LDAP"], "carol": ["SAML"], "mike": []}
        assert all("isExternallySynced" not in u for u in hits)


def test_13_4_auth_label_is_the_newest_auth_module(api: InProcess) -> None:
    user = api.user("mixed", module="ldap")
    api.store.set_auth_info(user.id, "auth.saml", created=FROZEN + 5)
    hit = json.loads(api.client.get("/api/users/search?query=mixed", auth=ADMIN).content)["users"][0]
    assert hit["authLabels"] == ["SAML"]


def test_e1_users_search_page(api: InProcess) -> None:
    api.store.update_user_fields(1, uid="ce5t0x6a3w4xsd", last_seen_at=FROZEN)
    jane = api.user("jane", name="Jane Doe", email="jane@example.com", module="auth.saml")
    api.store.update_user_fields(
        jane.id, uid="ae5t1b2c3d4e5f", last_seen_at=int(FROZEN - (16 * 3600 + 32 * 60 + 29))
    )
    api.user("zoe")
    r = api.client.get("/api/users/search?perpage=2&page=1", auth=ADMIN)
    # Go's encoder writes "<" as \u003c (HTML-safe escaping); the contract shows the decoded text.
    assert r.content == (
        b'{"totalCount":3,"users":[{"id":1,"uid":"ce5t0x6a3w4xsd","name":"","login":"admin",'
        b'"email":"admin@localhost","avatarUrl":"/avatar/46d229b033af06a191ff2267bca9ae56","isAdmin":true,'
        b'"isDisabled":false,"lastSeenAt":"2025-05-06T09:12:31Z","lastSeenAtAge":"\\u003c 1 minute",'
        b'"authLabels":[]},{"id":2,"uid":"ae5t1b2c3d4e5f","name":"Jane Doe","login":"jane",'
        b'"email":"jane@example.com","avatarUrl":"/avatar/9e26471d35a78862c17e467d87cddedf","isAdmin":false,'
        b'"isDisabled":false,"lastSeenAt":"2025-05-05T16:40:02Z","lastSeenAtAge":"16 hours",'
        b'"authLabels":["SAML"]}],"page":1,"perPage":2}'
    )
    assert json.loads(r.content)["users"][0]["lastSeenAtAge"] == "< 1 minute"


# -- 13.17 / 13.18 / E5: one user ---------------------------------------------------------------------------


def test_13_17_unknown_user_is_lowercase_user_not_found(api: InProcess) -> None:
    for path in ("/api/users/999", "/api/users/lookup?loginOrEmail=nobody", "/api/users/lookup"):
        r = api.client.get(path, auth=ADMIN)
        assert (r.status_code, r.content) == (404, b'{"message":"user not found"}')
        assert r.headers["content-type"] == "application/json"
    r = api.client.get("/api/users/no-such-uid", auth=ADMIN)  # the UID resolver answers first
    assert (r.status_code, r.content) == (404, b'{"message":"User not found"}')


def test_13_17_service_account_ids_are_not_users(api: InProcess) -> None:
    account = api.store.create_service_account(1, "robot")
    r = api.client.get(f"/api/users/{account.id}", auth=ADMIN)
    assert (r.status_code, r.content) == (404, b'{"message":"user not found"}')
    assert api.client.get("/api/users/lookup?loginOrEmail=sa-1-robot", auth=ADMIN).status_code == 404


def test_13_17_a_user_uid_works_as_id(api: InProcess) -> None:
    jane = api.user("jane")
    by_uid = api.client.get(f"/api/users/{jane.uid}", auth=ADMIN)
    assert by_uid.content == api.client.get(f"/api/users/{jane.id}", auth=ADMIN).content
    assert json.loads(api.client.get(f"/api/users/{jane.uid}/orgs", auth=ADMIN).content)[0]["orgId"] == 1


def test_13_18_profile_external_flags_and_lookup_zero_values(make_api: MakeApi) -> None:
    api = make_api(SAML_ON)
    saml = api.user("sam", module="auth.saml")
    local = api.user("lou")
    proxy = api.user("pat", module="authproxy")
    prof = json.loads(api.client.get(f"/api/users/{saml.id}", auth=ADMIN).content)
    assert (prof["isExternal"], prof["authLabels"], prof["isExternallySynced"]) == (True, ["SAML"], True)
    prof = json.loads(api.client.get(f"/api/users/{local.id}", auth=ADMIN).content)
    assert (prof["isExternal"], prof["authLabels"], prof["isExternallySynced"]) == (False, [], False)
    prof = json.loads(api.client.get(f"/api/users/{proxy.id}", auth=ADMIN).content)
    assert (prof["isExternal"], prof["authLabels"], prof["isExternallySynced"]) == (
        True,
        ["Auth Proxy"],
        False,
    )
    r = api.client.get("/api/users/lookup", params={"loginOrEmail": "SAM@example.com"}, auth=ADMIN)
    look = json.loads(r.content)
    assert keys(r.content) == [
        "id", "uid", "email", "name", "login", "theme", "orgId", "isGrafanaAdmin", "isDisabled", "isExternal",
        "isExternallySynced", "isGrafanaAdminExternallySynced", "authLabels", "updatedAt", "createdAt",
        "avatarUrl", "isProvisioned",
    ]  # fmt: skip
    assert (look["id"], look["uid"], look["authLabels"], look["isExternal"], look["avatarUrl"]) == (
        saml.id,
        "",
        None,
        False,
        "",
    )


def test_13_18_profile_omits_org_id_for_a_user_without_orgs(api: InProcess) -> None:
    orphan = api.user("orphan", orgs={})
    body = json.loads(api.client.get(f"/api/users/{orphan.id}", auth=ADMIN).content)
    assert "orgId" not in body


def test_13_18_accesscontrol_metadata_only_when_asked(api: InProcess) -> None:
    api.user("jane")
    plain = json.loads(api.client.get("/api/users/2", auth=ADMIN).content)
    assert "accessControl" not in plain
    r = api.client.get("/api/users/2?accesscontrol=true", auth=ADMIN)
    assert keys(r.content)[-2:] == ["accessControl", "isProvisioned"]
    access = json.loads(r.content)["accessControl"]
    assert access["users:read"] is True and list(access) == sorted(access)


def test_e5_saml_user_profile(make_api: MakeApi) -> None:
    api = make_api(SAML_ON)
    jane = api.user("jane", name="Jane Doe", email="jane@example.com", module="auth.saml")
    api.store.update_user_fields(
        jane.id,
        uid="ae5t1b2c3d4e5f",
        created=1738411200,  # 2025-02-01T12:00:00Z
        updated=1746463202,  # 2025-05-05T16:40:02Z
    )
    r = api.client.get("/api/users/2", auth=ADMIN)
    assert r.content == (
        b'{"id":2,"uid":"ae5t1b2c3d4e5f","email":"jane@example.com","name":"Jane Doe","login":"jane",'
        b'"theme":"","orgId":1,"isGrafanaAdmin":false,"isDisabled":false,"isExternal":true,'
        b'"isExternallySynced":true,"isGrafanaAdminExternallySynced":false,"authLabels":["SAML"],'
        b'"updatedAt":"2025-05-05T16:40:02Z","createdAt":"2025-02-01T12:00:00Z",'
        b'"avatarUrl":"/avatar/9e26471d35a78862c17e467d87cddedf","isProvisioned":false}'
    )


@pytest.mark.parametrize(
    ("ini", "synced"),
    [
        (SAML_ON, True),
        ("[auth.saml]\nenabled = false\n", False),
        (SAML_ON + "skip_org_role_sync = true\n", False),
        ("", False),
    ],
)
def test_13_9_profile_externally_synced_follows_provider_settings(
    make_api: MakeApi, ini: str, synced: bool
) -> None:
    api = make_api(ini)
    user = api.user("sam", module="auth.saml")
    assert (
        json.loads(api.client.get(f"/api/users/{user.id}", auth=ADMIN).content)["isExternallySynced"]
        is synced
    )


def test_13_9_sso_settings_stored_through_the_api_override_the_ini(make_api: MakeApi) -> None:
    api = make_api(SAML_ON)
    user = api.user("sam", module="auth.saml")
    api.store.put_sso_settings("saml", {"enabled": True, "skip_org_role_sync": True})
    assert (
        json.loads(api.client.get(f"/api/users/{user.id}", auth=ADMIN).content)["isExternallySynced"] is False
    )
    api.store.delete_sso_settings("saml")
    assert (
        json.loads(api.client.get(f"/api/users/{user.id}", auth=ADMIN).content)["isExternallySynced"] is True
    )


def test_13_10_authproxy_users_are_never_externally_synced(make_api: MakeApi) -> None:
    api = make_api("[auth.proxy]\nenabled = true\n")
    user = api.user("pat", module="authproxy")
    body = json.loads(api.client.get(f"/api/users/{user.id}", auth=ADMIN).content)
    assert (body["isExternal"], body["isExternallySynced"], body["isGrafanaAdminExternallySynced"]) == (
        True,
        False,
        False,
    )


# -- E2: orgs of a user; teams of a user --------------------------------------------------------------------


def test_e2_user_orgs_sorted_by_name(api: InProcess) -> None:
    api.store.create_org("Sales")  # id 2: jane is not a member
    api.store.create_org("Ops")  # id 3
    api.user("jane", orgs={3: "Viewer", 1: "Editor"})
    r = api.client.get("/api/users/2/orgs", auth=ADMIN)
    assert (
        r.content
        == b'[{"orgId":1,"name":"Main Org.","role":"Editor"},{"orgId":3,"name":"Ops","role":"Viewer"}]'
    )
    assert api.client.get("/api/users/999/orgs", auth=ADMIN).content == b"[]"


def test_user_teams_lists_teams_of_the_callers_current_org(api: InProcess) -> None:
    jane = api.user("jane", orgs={1: "Viewer", 2: "Viewer"})
    sre = api.store.create_team(1, "SRE", "sre@example.com", uid="de5t9q7r1s2t3u")
    other = api.store.create_team(2, "Elsewhere")
    api.store.add_team_member(sre.id, jane.id, permission=4)
    api.store.add_team_member(sre.id, 1)
    api.store.add_team_member(other.id, jane.id)
    r = api.client.get(f"/api/users/{jane.id}/teams", auth=ADMIN)
    assert r.content == (
        b'[{"id":1,"uid":"de5t9q7r1s2t3u","orgId":1,"name":"SRE","email":"sre@example.com","externalUID":"",'
        b'"isProvisioned":false,"avatarUrl":"/avatar/4f399e5113f5e12f42172050c083040f","memberCount":2,'
        b'"permission":4,"accessControl":null}]'
    )
    in_org2 = json.loads(api.client.get(f"/api/users/{jane.id}/teams?targetOrgId=2", auth=ADMIN).content)
    assert in_org2 == []  # admin is not a member of org 2: Grafana acts in org -1


# -- 13.19 / 13.20 / 13.21 / 13.22: identity and org context ------------------------------------------------


def test_13_19_signed_in_service_account_gets_a_partial_profile(api: InProcess) -> None:
    token = api.sa_token("Editor", name="ci bot")
    r = api.client.get("/api/user", headers=bearer(token))
    assert r.status_code == 200
    account = api.store.find_service_account(1, "ci bot")
    assert account is not None
    assert r.content == (
        b'{"id":0,"uid":"service-account:%d","email":"sa-1-ci-bot","name":"ci bot","login":"sa-1-ci-bot",'
        b'"theme":"","orgId":1,"isGrafanaAdmin":false,"isDisabled":false,"isExternal":false,'
        b'"isExternallySynced":false,"isGrafanaAdminExternallySynced":false,"authLabels":null,'
        b'"updatedAt":"0001-01-01T00:00:00Z","createdAt":"0001-01-01T00:00:00Z","avatarUrl":"",'
        b'"isProvisioned":false}' % account.id
    )
    orgs = api.client.get("/api/user/orgs", headers=bearer(token))
    assert (orgs.status_code, orgs.content) == (304, b"")
    using = api.client.post("/api/user/using/1", headers=bearer(token))
    assert (using.status_code, using.content) == (304, b"")


def test_13_19_signed_in_user_gets_their_profile(api: InProcess) -> None:
    jane = api.user("jane", orgs={1: "Editor"})
    own = api.client.get("/api/user", headers=basic("jane", "pw-jane"))
    assert own.status_code == 200
    assert own.content == api.client.get(f"/api/users/{jane.id}", auth=ADMIN).content
    orgs = api.client.get("/api/user/orgs", headers=basic("jane", "pw-jane"))
    assert orgs.content == b'[{"orgId":1,"name":"Main Org.","role":"Editor"}]'


def test_13_20_token_for_another_org_is_refused(api: InProcess) -> None:
    api.store.create_org("Ops")
    token = api.sa_token("Admin", org_id=1)
    mismatch = (
        b'{"extra":null,"message":"API key does not belong to the requested organization",'
        b'"messageId":"api-key.organization-mismatch","statusCode":401,"traceID":""}'
    )
    for headers, params in (({"X-Grafana-Org-Id": "2"}, {}), ({}, {"targetOrgId": "2"})):
        r = api.client.get("/api/user", headers={**bearer(token), **headers}, params=params)
        assert (r.status_code, r.content) == (401, mismatch)
        assert r.headers["content-type"] == "application/json; charset=UTF-8"
    same = api.client.get("/api/user", headers={**bearer(token), "X-Grafana-Org-Id": "1"})
    assert same.status_code == 200


def test_13_21_target_org_id_wins_and_bad_header_is_ignored(api: InProcess) -> None:
    api.store.create_org("Ops")
    token = api.sa_token("Admin", org_id=1)
    ok = api.client.get("/api/user?targetOrgId=1", headers={**bearer(token), "X-Grafana-Org-Id": "2"})
    assert ok.status_code == 200
    ignored = api.client.get("/api/user", headers={**bearer(token), "X-Grafana-Org-Id": "two"})
    assert ignored.status_code == 200
    bad_query = api.client.get(
        "/api/user?targetOrgId=abc", headers={**bearer(token), "X-Grafana-Org-Id": "2"}
    )
    assert bad_query.status_code == 401  # a non-numeric targetOrgId falls back to the header
    # For a user, the resolved org shows in the frontend settings namespace.
    api.user("jane", orgs={1: "Viewer", 2: "Viewer"})
    jane = basic("jane", "pw-jane")

    def namespace(params: dict[str, str], headers: dict[str, str]) -> str:
        r = api.client.get("/api/frontend/settings", params=params, headers={**jane, **headers})
        return str(json.loads(r.content)["namespace"])

    assert namespace({}, {}) == "default"
    assert namespace({}, {"X-Grafana-Org-Id": "2"}) == "org-2"
    assert namespace({"targetOrgId": "1"}, {"X-Grafana-Org-Id": "2"}) == "default"
    assert namespace({}, {"X-Grafana-Org-Id": "x2"}) == "default"


def test_13_22_switching_the_active_org(api: InProcess) -> None:
    api.store.create_org("Ops")
    api.store.create_org("Secret")
    jane = api.user("jane", orgs={1: "Viewer", 2: "Editor"})
    creds = basic("jane", "pw-jane")
    r = api.client.post("/api/user/using/3", headers=creds)
    assert (r.status_code, r.content) == (401, b'{"message":"Not a valid organization"}')
    r = api.client.post("/api/user/using/2", headers=creds)
    assert (r.status_code, r.content) == (200, b'{"message":"Active organization changed"}')
    assert json.loads(api.client.get("/api/user", headers=creds).content)["orgId"] == 2
    r = api.client.post("/api/user/using/two", headers=creds)
    assert (r.status_code, r.content) == (400, b'{"message":"id is invalid","traceID":""}')
    r = api.client.post(f"/api/users/{jane.id}/using/3", auth=ADMIN)
    assert (r.status_code, r.content) == (401, b'{"message":"Not a valid organization"}')
    r = api.client.post(f"/api/users/{jane.id}/using/1", auth=ADMIN)
    assert (r.status_code, r.content) == (200, b'{"message":"Active organization changed"}')
    assert api.store.get_user(jane.id).org_id == 1  # type: ignore[union-attr]


# -- 13.23 / 13.24 / E9: errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, UNAUTHORIZED),
        ({"Authorization": "Basic !!!not-base64"}, UNAUTHORIZED),
        ({"Authorization": "Digest abc"}, UNAUTHORIZED),
        (
            basic("admin", "wrong"),
            b'{"extra":null,"message":"Invalid username or password","messageId":"password-auth.failed",'
            b'"statusCode":401,"traceID":""}',
        ),
        (
            basic("nobody", "secret"),
            b'{"extra":null,"message":"Invalid username or password","messageId":"password-auth.failed",'
            b'"statusCode":401,"traceID":""}',
        ),
        (
            bearer("glsa_notARealTokenAtAll_00000000"),
            b'{"extra":null,"message":"Invalid API key","messageId":"api-key.invalid","statusCode":401,'
            b'"traceID":""}',
        ),
        (
            basic("api_key", "not-a-token"),
            b'{"extra":null,"message":"Invalid API key","messageId":"api-key.invalid","statusCode":401,'
            b'"traceID":""}',
        ),
    ],
    ids=[
        "none",
        "garbage-basic",
        "other-scheme",
        "bad-password",
        "unknown-user",
        "bad-bearer",
        "bad-api-key",
    ],
)
def test_13_23_missing_or_invalid_credentials(
    api: InProcess, headers: dict[str, str], expected: bytes
) -> None:
    for path in ("/api/user", "/api/users/search", "/api/frontend/settings"):
        r = api.client.get(path, headers=headers)
        assert (r.status_code, r.content) == (401, expected)
        assert keys(r.content) == ["extra", "message", "messageId", "statusCode", "traceID"]
        assert r.headers["content-type"] == "application/json; charset=UTF-8"


def test_e9_unauthenticated_and_bad_token_bodies(api: InProcess) -> None:
    assert api.client.get("/api/user").content == UNAUTHORIZED
    r = api.client.get("/api/user", headers=bearer("glsa_x"))
    assert r.content == (
        b'{"extra":null,"message":"Invalid API key","messageId":"api-key.invalid","statusCode":401,'
        b'"traceID":""}'
    )


def test_13_23_expired_revoked_and_disabled_tokens(api: InProcess) -> None:
    account = api.store.create_service_account(1, "ci", "Admin")
    _, expired = api.store.create_sa_token(account.id, "old", expires=FROZEN - 1)
    key, revoked = api.store.create_sa_token(account.id, "gone")
    api.store.revoke_token(key.id)
    _, good = api.store.create_sa_token(account.id, "good")
    r = api.client.get("/api/user", headers=bearer(expired))
    assert r.content == (
        b'{"extra":null,"message":"Expired API key","messageId":"api-key.expired","statusCode":401,'
        b'"traceID":""}'
    )
    r = api.client.get("/api/user", headers=bearer(revoked))
    assert r.content == (
        b'{"extra":null,"message":"Revoked API key","messageId":"api-key.revoked","statusCode":401,'
        b'"traceID":""}'
    )
    assert api.client.get("/api/user", headers=basic("api_key", good)).status_code == 200  # the basic form
    disabled = api.store.create_service_account(1, "off", "Admin", is_disabled=True)
    _, off = api.store.create_sa_token(disabled.id, "off")
    r = api.client.get("/api/user", headers=bearer(off))
    assert r.content == (
        b'{"extra":null,"message":"Unauthorized","messageId":"identity.disabled","statusCode":401,"traceID":""}'
    )


def test_13_24_error_body_shapes(api: InProcess) -> None:
    # response.Error(…, err): traceID added, keys sorted.
    r = api.client.post("/api/admin/users", auth=ADMIN, content=b"{not json")
    assert (r.status_code, r.content) == (400, BAD_REQUEST_DATA)
    api.user("jane")
    r = api.client.post("/api/admin/users", auth=ADMIN, json={"login": "jane", "password": "secret"})
    assert r.content == b'{"message":"User with email \'\' or username \'jane\' already exists","traceID":""}'
    # response.Error(…, nil): exactly {"message": …}.
    r = api.client.get("/api/users/999", auth=ADMIN)
    assert r.content == b'{"message":"user not found"}'
    r = api.client.get("/api/nowhere", auth=ADMIN)
    assert (r.status_code, r.content) == (404, b'{"message":"Not found"}')


# -- bad requests never become a 500 Grafana would not give ---------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'"a string"',
        b"42",
        b'{"login": 5, "password": "secret"}',
        b'{"login": "x", "password": ["secret"]}',
        b'{"login": "x", "password": "secret", "orgId": "1"}',
        b'{"login": "x", "password": "secret", "orgId": 1.5}',
        b'{"login": "x", "password": "secret", "orgId": 99999999999999999999}',
        b'{"login": "x", "password": "secret", "orgId": 1e400}',
        b'{"login": "x"}',
        b'{"login": "x", "password": ""}',
        b'{"login": "x", "password": null}',
        b'{"login": "x", "password": NaN}',
        b'{"login": "x", "password": "secret"',
        b"",
        b"\xff\xfe garbage",
    ],
)
def test_malformed_bodies_get_bad_request_data(api: InProcess, body: bytes) -> None:
    r = api.client.post("/api/admin/users", auth=ADMIN, content=body)
    assert (r.status_code, r.content) == (400, BAD_REQUEST_DATA)


def test_huge_body_is_refused_like_a_failed_bind(api: InProcess) -> None:
    big = b'{"login": "x", "password": "' + b"a" * (2 << 20) + b'"}'
    r = api.client.post("/api/admin/users", auth=ADMIN, content=big)
    assert (r.status_code, r.content) == (400, BAD_REQUEST_DATA)


def test_json_is_decoded_as_go_does(api: InProcess) -> None:
    # Keys match ignoring case, unknown keys are skipped, trailing data after the value is ignored,
    # and a lone surrogate escape becomes U+FFFD.
    body = b'{"LOGIN": "goer", "Password": "secret", "extra": {"x": [1, 2]}, "name": "a\\ud800b"} trailing'
    r = api.client.post("/api/admin/users", auth=ADMIN, content=body)
    assert r.status_code == 200, r.content
    user = api.store.get_user_by_login_or_email("goer")
    assert user is not None and user.name == "a\ufffdb"


def test_empty_body_binds_zero_values(api: InProcess) -> None:
    # web.Bind accepts an empty body: {"isGrafanaAdmin": false} for the only admin is refused by the store.
    r = api.client.put("/api/admin/users/1/permissions", auth=ADMIN, content=b"")
    assert (r.status_code, r.content) == (400, b'{"message":"cannot remove last grafana admin"}')


def test_unknown_and_odd_ids(api: InProcess) -> None:
    for method, path in (
        ("DELETE", "/api/admin/users/999"),
        ("POST", "/api/admin/users/999/disable"),
        ("POST", "/api/admin/users/999/enable"),
    ):
        r = api.client.request(method, path, auth=ADMIN)
        assert (r.status_code, r.content) == (404, b'{"message":"user not found"}')
    r = api.client.post("/api/admin/users/abc/disable", auth=ADMIN)
    assert (r.status_code, r.content) == (400, b'{"message":"id is invalid","traceID":""}')
    r = api.client.delete("/api/admin/users/abc", auth=ADMIN)  # resolver route: an unknown UID
    assert (r.status_code, r.content) == (404, b'{"message":"User not found"}')
    huge = api.client.get("/api/users/99999999999999999999999", auth=ADMIN)
    assert huge.status_code == 404
    assert api.client.get("/api/users/-1", auth=ADMIN).content == b'{"message":"user not found"}'


def test_trailing_slash_routes_like_without(api: InProcess) -> None:
    assert (
        api.client.get("/api/users/", auth=ADMIN).content == api.client.get("/api/users", auth=ADMIN).content
    )


# -- 13.27: creating users ----------------------------------------------------------------------------------


def test_13_27_admin_create_user(api: InProcess) -> None:
    r = api.client.post(
        "/api/admin/users",
        auth=ADMIN,
        json={"name": "Jane Doe", "email": " jane@example.com", "login": "jane", "password": "s3cret"},
    )
    assert r.status_code == 200
    assert keys(r.content) == ["id", "uid", "message"]
    body = json.loads(r.content)
    assert (body["id"], body["message"]) == (2, "User created")
    assert re.fullmatch(rb'\{"id":2,"uid":"[a-z][a-z0-9]{13}","message":"User created"\}', r.content)
    assert api.client.get("/api/user", headers=basic("jane", "s3cret")).status_code == 200
    orgs = json.loads(api.client.get("/api/users/2/orgs", auth=ADMIN).content)
    assert orgs == [{"orgId": 1, "name": "Main Org.", "role": "Viewer"}]  # auto_assign_org_role


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"login": "jane", "email": "other@example.com"}, "email 'other@example.com' or username 'jane'"),
        ({"login": "JANE2", "email": "Jane@Example.com"}, "email 'Jane@Example.com' or username 'JANE2'"),
        ({"email": "jane"}, "email 'jane' or username ''"),
    ],
)
def test_13_27_duplicate_login_or_email_is_412(api: InProcess, form: dict[str, str], message: str) -> None:
    api.user("jane", email="jane@example.com")
    r = api.client.post("/api/admin/users", auth=ADMIN, json={**form, "password": "secret"})
    assert r.status_code == 412
    expected = {"message": f"User with {message} already exists", "traceID": ""}
    assert r.content == json.dumps(expected, separators=(",", ":")).encode()


def test_13_27_create_user_validation(api: InProcess) -> None:
    r = api.client.post("/api/admin/users", auth=ADMIN, json={"password": "secret"})
    assert (r.status_code, r.content) == (
        400,
        b'{"message":"Need to specify either username or email","messageId":"user.empty-username-and-email",'
        b'"statusCode":400,"traceID":""}',
    )
    r = api.client.post("/api/admin/users", auth=ADMIN, json={"login": "x", "password": "abc"})
    assert r.status_code == 400 and json.loads(r.content)["messageId"] == "password.password-policy-too-short"
    r = api.client.post(
        "/api/admin/users", auth=ADMIN, json={"login": "x", "password": "secret", "orgId": 42}
    )
    assert (r.status_code, r.content) == (400, b'{"message":"organization not found"}')
    api.store.create_org("Ops")
    r = api.client.post(
        "/api/admin/users", auth=ADMIN, json={"email": "ops@example.com", "password": "secret", "orgId": 2}
    )
    assert r.status_code == 200
    user = api.store.get_user_by_login_or_email("ops@example.com")
    assert user is not None and (user.login, user.org_id) == ("ops@example.com", 2)


def test_passwords_are_stored_as_grafana_pbkdf2_hashes(api: InProcess) -> None:
    api.client.post("/api/admin/users", auth=ADMIN, json={"login": "jane", "password": "s3cret"})
    with api.store.transaction() as db:
        stored, salt = db.execute('SELECT password, salt FROM "user" WHERE login = ?', ("jane",)).fetchone()
    assert "s3cret" not in stored and len(stored) == 100 and len(salt) == 10
    assert stored == encode_password("s3cret", salt)


# -- 13.28 / 13.29: admin changes to external users --------------------------------------------------------


def test_13_28_disable_or_enable_an_external_user_is_500(api: InProcess) -> None:
    for module in ("auth.saml", "ldap", "authproxy", "oauth_github"):
        user = api.user(f"ext-{module.replace('.', '-')}", module=module)
        r = api.client.post(f"/api/admin/users/{user.id}/disable", auth=ADMIN)
        assert (r.status_code, r.content) == (500, b'{"message":"Could not disable external user"}')
        r = api.client.post(f"/api/admin/users/{user.id}/enable", auth=ADMIN)
        assert (r.status_code, r.content) == (500, b'{"message":"Could not enable external user"}')


def test_13_28_disable_and_enable_a_local_user(api: InProcess) -> None:
    api.user("jane")
    r = api.client.post("/api/admin/users/2/disable", auth=ADMIN)
    assert (r.status_code, r.content) == (200, b'{"message":"User disabled"}')
    r = api.client.get("/api/user", headers=basic("jane", "pw-jane"))
    assert r.content == (
        b'{"extra":null,"message":"Unauthorized","messageId":"identity.disabled","statusCode":401,"traceID":""}'
    )
    hit = json.loads(api.client.get("/api/users/search?query=jane", auth=ADMIN).content)["users"][0]
    assert hit["isDisabled"] is True
    r = api.client.post("/api/admin/users/2/enable", auth=ADMIN)
    assert (r.status_code, r.content) == (200, b'{"message":"User enabled"}')
    assert api.client.get("/api/user", headers=basic("jane", "pw-jane")).status_code == 200


@pytest.mark.parametrize(
    ("ini", "module", "locked"),
    [
        (SAML_ON + "role_values_grafana_admin = admins\n", "auth.saml", True),
        (SAML_ON, "auth.saml", False),  # no role_values_grafana_admin: the flag is not synced
        (SAML_ON + "role_values_grafana_admin = admins\nskip_org_role_sync = true\n", "auth.saml", False),
        ("[auth.saml]\nrole_values_grafana_admin = admins\n", "auth.saml", False),  # SAML disabled
        ("[auth.ldap]\nenabled = true\n", "ldap", True),
        ("[auth.generic_oauth]\nenabled = true\n", "oauth_generic_oauth", False),
        (
            "[auth.generic_oauth]\nenabled = true\nallow_assign_grafana_admin = true\n",
            "oauth_generic_oauth",
            True,
        ),
        ("[auth.jwt]\nenabled = true\nallow_assign_grafana_admin = true\n", "jwt", True),
    ],
)
def test_13_29_grafana_admin_flag_of_externally_synced_user(
    make_api: MakeApi, ini: str, module: str, locked: bool
) -> None:
    api = make_api(ini)
    user = api.user("ext", module=module)
    r = api.client.put(f"/api/admin/users/{user.id}/permissions", auth=ADMIN, json={"isGrafanaAdmin": True})
    if locked:
        assert (r.status_code, r.content) == (
            403,
            b'{"message":"Cannot change Grafana Admin role for externally synced user"}',
        )
        assert not api.store.get_user(user.id).is_admin  # type: ignore[union-attr]
    else:
        assert (r.status_code, r.content) == (200, b'{"message":"User permissions updated"}')
    body = json.loads(api.client.get(f"/api/users/{user.id}", auth=ADMIN).content)
    assert body["isGrafanaAdminExternallySynced"] is locked


def test_13_29_last_grafana_admin_and_unknown_user(api: InProcess) -> None:
    r = api.client.put("/api/admin/users/1/permissions", auth=ADMIN, json={"isGrafanaAdmin": False})
    assert (r.status_code, r.content) == (400, b'{"message":"cannot remove last grafana admin"}')
    assert api.store.get_user(1).is_admin  # type: ignore[union-attr]
    r = api.client.put("/api/admin/users/999/permissions", auth=ADMIN, json={"isGrafanaAdmin": True})
    assert (r.status_code, r.content) == (
        500,
        b'{"message":"Failed to update user permissions","traceID":""}',
    )


# -- other admin endpoints ---------------------------------------------------------------------------------


def test_admin_password_reset(make_api: MakeApi) -> None:
    api = make_api(SAML_ON)
    api.user("jane")
    r = api.client.put("/api/admin/users/2/password", auth=ADMIN, json={"password": "n3w-secret"})
    assert (r.status_code, r.content) == (200, b'{"message":"User password updated"}')
    assert api.client.get("/api/user", headers=basic("jane", "pw-jane")).status_code == 401
    assert api.client.get("/api/user", headers=basic("jane", "n3w-secret")).status_code == 200
    saml = api.user("sam", module="auth.saml")
    r = api.client.put(f"/api/admin/users/{saml.id}/password", auth=ADMIN, json={"password": "n3w-secret"})
    assert (r.status_code, r.content) == (403, b'{"message":"Cannot update external User"}')
    r = api.client.put("/api/admin/users/2/password", auth=ADMIN, json={})
    assert (r.status_code, r.content) == (400, BAD_REQUEST_DATA)


def test_admin_password_reset_refused_when_login_form_disabled(make_api: MakeApi) -> None:
    api = make_api("[auth]\ndisable_login_form = true\n")
    api.user("jane")
    r = api.client.put("/api/admin/users/2/password", auth=ADMIN, json={"password": "n3w-secret"})
    assert (r.status_code, r.content) == (
        403,
        b'{"message":"Not allowed to reset password when login form is disabled"}',
    )


def test_admin_delete_user(api: InProcess) -> None:
    jane = api.user("jane", orgs={1: "Editor"}, module="auth.saml")
    team = api.store.create_team(1, "SRE")
    api.store.add_team_member(team.id, jane.id)
    r = api.client.delete(f"/api/admin/users/{jane.uid}", auth=ADMIN)
    assert (r.status_code, r.content) == (200, b'{"message":"User deleted"}')
    assert api.store.get_user(jane.id) is None
    assert api.store.user_orgs(jane.id) == [] and api.store.get_auth_info(jane.id) is None
    r = api.client.delete(f"/api/admin/users/{jane.id}", auth=ADMIN)
    assert (r.status_code, r.content) == (404, b'{"message":"user not found"}')


def test_admin_logout_and_auth_tokens(api: InProcess) -> None:
    jane = api.user("jane")
    session = api.store.create_user_token(jane.id, client_ip="10.0.0.7")
    r = api.client.get(f"/api/admin/users/{jane.id}/auth-tokens", auth=ADMIN)
    assert r.content == (
        b'[{"id":%d,"isActive":false,"clientIp":"10.0.0.7","browser":"Other","browserVersion":"","os":"Other",'
        b'"osVersion":"","device":"Other","createdAt":"2025-05-06T09:12:31Z","seenAt":"2025-05-06T09:12:31Z"}]'
        % session.id
    )
    r = api.client.post(
        f"/api/admin/users/{jane.id}/revoke-auth-token", auth=ADMIN, json={"authTokenId": 999}
    )
    assert (r.status_code, r.content) == (404, b'{"message":"User auth token not found","traceID":""}')
    r = api.client.post(
        f"/api/admin/users/{jane.id}/revoke-auth-token", auth=ADMIN, json={"authTokenId": session.id}
    )
    assert (r.status_code, r.content) == (200, b'{"message":"User auth token revoked"}')
    assert api.client.get(f"/api/admin/users/{jane.id}/auth-tokens", auth=ADMIN).content == b"[]"
    api.store.create_user_token(jane.id)
    r = api.client.post(f"/api/admin/users/{jane.id}/logout", auth=ADMIN)
    assert (r.status_code, r.content) == (200, b'{"message":"User logged out"}')
    assert api.store.user_tokens(jane.id) == []
    r = api.client.post("/api/admin/users/1/logout", auth=ADMIN)
    assert (r.status_code, r.content) == (400, b'{"message":"You cannot logout yourself"}')
    for path in ("/api/admin/users/999/logout", "/api/admin/users/999/auth-tokens"):
        r = api.client.request("POST" if path.endswith("logout") else "GET", path, auth=ADMIN)
        assert (r.status_code, r.content) == (404, b'{"message":"User not found","traceID":""}')


# -- 13.30 / E11: health ------------------------------------------------------------------------------------

E11 = (
    b'{\n  "database": "ok",\n  "version": "11.5.2",\n'
    b'  "commit": "598e0338d5374d6bc404b02b2cb2d22fd7b2f7bb"\n}'
)


def test_e11_health(api: InProcess) -> None:
    r = api.client.get("/api/health")
    assert (r.status_code, r.content) == (200, E11)
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


def test_13_30_health_is_unauthenticated_indented_and_fails_with_the_database(api: InProcess) -> None:
    r = api.client.get("/api/health", headers=basic("admin", "wrong"))  # credentials are not even looked at
    assert r.status_code == 200 and keys(r.content) == ["database", "version", "commit"]
    head = api.client.head("/api/health")
    assert (head.status_code, head.content) == (200, b"")
    assert api.client.get("/healthz").content == b"Ok"
    api.store.close()
    r = api.client.get("/api/health")
    assert r.status_code == 503
    assert r.content == E11.replace(b'"ok"', b'"failing"')


# -- 13.32: last seen ---------------------------------------------------------------------------------------


def test_13_32_new_users_were_last_seen_ten_years_ago(api: InProcess) -> None:
    r = api.client.post("/api/admin/users", auth=ADMIN, json={"login": "fresh", "password": "secret"})
    assert r.status_code == 200
    hit = json.loads(api.client.get("/api/users/search?query=fresh", auth=ADMIN).content)["users"][0]
    assert (hit["lastSeenAt"], hit["lastSeenAtAge"]) == ("2015-05-06T09:12:31Z", "10 years")
    api.clock.now += 3600
    assert api.client.get("/api/user", headers=basic("fresh", "secret")).status_code == 200
    api.clock.now += 30
    hit = json.loads(api.client.get("/api/users/search?query=fresh", auth=ADMIN).content)["users"][0]
    assert hit["lastSeenAtAge"] == "< 1 minute"
    api.clock.now += 86400 * 45
    hit = json.loads(api.client.get("/api/users/search?query=fresh", auth=ADMIN).content)["users"][0]
    assert hit["lastSeenAtAge"] == "1 month"


# -- frontend settings, cloud mode -----------------------------------------------------------------------


def test_frontend_settings_build_info(api: InProcess) -> None:
    assert api.client.get("/api/frontend/settings").status_code == 401
    body = json.loads(api.client.get("/api/frontend/settings", auth=ADMIN).content)
    assert body["buildInfo"]["version"] == "11.5.2"
    assert body["buildInfo"]["versionString"] == "Grafana v11.5.2 (598e0338d5)"
    assert list(body["buildInfo"]) == [
        "hideVersion", "version", "versionString", "commit", "commitShort", "buildstamp", "edition",
        "latestVersion", "hasUpdate", "env",
    ]  # fmt: skip


def test_cloud_mode_refuses_basic_auth_and_serves_tokens(make_api: MakeApi) -> None:
    api = make_api(cloud=True)
    r = api.client.get("/api/user", auth=ADMIN)
    assert r.status_code == 401 and json.loads(r.content)["messageId"] == "password-auth.failed"
    token = api.sa_token("Admin")
    body = json.loads(api.client.get("/api/frontend/settings", headers=bearer(token)).content)
    assert body["namespace"] == "stacks-1" and body["appUrl"].endswith(".grafana.net/")
    assert re.fullmatch(r"11\.5\.2-\d+", body["buildInfo"]["version"])
    assert api.client.get("/api/users", headers=bearer(token)).status_code == 403
