"""Contract tests for orgs, org users and invites (grafana-api-contract.md §4, §5, §13; examples E3, E4, E6,
E7, E10). ``test_13_<n>_…`` checks behaviour n of §13; bodies are compared as bytes where the contract gives
them, so field order and key sorting count.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from gtool.sandbox.app import ROUTE_MODULES, create_app, load_config, store_options
from gtool.sandbox.dtos import avatar_url
from gtool.sandbox.store import Store
from tests.sandbox.conftest import ADMIN, FROZEN, Clock, InProcess, basic, bearer

with warnings.catch_warnings():
    # As in conftest: Starlette 1.x asks for httpx2 under TestClient; httpx works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

MODULES = ROUTE_MODULES if "orgs" in ROUTE_MODULES else (*ROUTE_MODULES, "orgs")
SAML_ON = "[auth.saml]\nenabled = true\n"
BAD_REQUEST_DATA = b'{"message":"bad request data","traceID":""}'
ACE = re.compile(
    rb'\{"accessErrorId":"ACE\d{10}","message":"You\'ll need additional permissions to perform this action. '
    rb'Permissions needed: (?P<needed>[^"]+)","title":"Access denied"\}'
)
SYNCED = (
    b'{"message":"cannot change role for externally synced user","messageId":"org.externallySynced",'
    b'"statusCode":403,"traceID":""}'
)
HIGHER = b'{"message":"Cannot assign a role higher than user\'s role"}'
AS_ADMIN = basic(*ADMIN)

MakeOrgsApi = Callable[..., InProcess]


@pytest.fixture
def make_orgs_api(tmp_path: Path) -> Iterator[MakeOrgsApi]:
    """Like conftest's ``make_api``, with the orgs routes mounted (until app.py lists them)."""
    made: list[InProcess] = []

    def make(ini: str | None = None) -> InProcess:
        config = None
        if ini is not None:
            path = tmp_path / f"grafana-{len(made)}.ini"
            path.write_text(ini)
            config = load_config(path, env={})
        clock = Clock()
        store = Store(":memory:", clock=clock, **store_options(config))
        app = create_app(store, config=config, route_modules=MODULES)
        made.append(InProcess(TestClient(app, base_url="http://localhost:3000"), store, clock))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.client.close()
        sandbox.store.close()


@pytest.fixture
def api(make_orgs_api: MakeOrgsApi) -> InProcess:
    return make_orgs_api()


def as_user(login: str) -> dict[str, str]:
    return basic(login, f"pw-{login}")


def get(api: InProcess, path: str, headers: dict[str, str] = AS_ADMIN) -> Any:
    return api.client.get(path, headers=headers)


def send(api: InProcess, method: str, path: str, body: Any = None, headers: dict[str, str] = AS_ADMIN) -> Any:
    if isinstance(body, bytes):
        return api.client.request(method, path, headers=headers, content=body)
    return api.client.request(method, path, headers=headers, json=body)


def role_of(api: InProcess, org_id: int, user_id: int) -> str | None:
    return api.store.org_role(org_id, user_id)


# -- E3 / E4: byte-exact org user lists ------------------------------------------------------------------


def _e3_state(api: InProcess) -> None:
    api.store.update_user_fields(
        1, uid="ce5t0x6a3w4xsd", last_seen_at=FROZEN, created=int(_ts("2025-01-10T08:00:00"))
    )
    jane = api.user("jane", email="jane@example.com", name="Jane Doe", orgs={1: "Editor"}, module="auth.saml")
    api.store.update_user_fields(
        jane.id,
        uid="ae5t1b2c3d4e5f",
        created=int(_ts("2025-02-01T12:00:00")),
        last_seen_at=int(_ts("2025-05-05T16:40:02")),
    )


def _ts(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


E3 = (
    b'[{"orgId":1,"userId":1,"uid":"ce5t0x6a3w4xsd","email":"admin@localhost","name":"",'
    b'"avatarUrl":"/avatar/46d229b033af06a191ff2267bca9ae56","login":"admin","role":"Admin",'
    # Go's encoder writes "<" as \u003c (HTML-safe escaping); the contract shows the decoded text.
    b'"lastSeenAt":"2025-05-06T09:12:31Z","created":"2025-01-10T08:00:00Z",'
    b'"lastSeenAtAge":"\\u003c 1 minute",'
    b'"isDisabled":false,"authLabels":null,"isExternallySynced":false,"isProvisioned":false},'
    b'{"orgId":1,"userId":2,"uid":"ae5t1b2c3d4e5f","email":"jane@example.com","name":"Jane Doe",'
    b'"avatarUrl":"/avatar/9e26471d35a78862c17e467d87cddedf","login":"jane","role":"Editor",'
    b'"lastSeenAt":"2025-05-05T16:40:02Z","created":"2025-02-01T12:00:00Z","lastSeenAtAge":"16 hours",'
    b'"isDisabled":false,"authLabels":["SAML"],"isExternallySynced":true,"isProvisioned":false}]'
)


def test_e3_org_users_bare_array(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api(SAML_ON)
    _e3_state(api)
    response = get(api, "/api/orgs/1/users")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == E3
    assert get(api, "/api/org/users").content == E3


def test_e4_org_users_search_page(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api(SAML_ON)
    _e3_state(api)
    response = get(api, "/api/org/users/search?perpage=1&page=2")
    second = json.dumps(json.loads(E3)[1], separators=(",", ":")).encode()
    assert response.content == b'{"totalCount":2,"orgUsers":[' + second + b'],"page":2,"perPage":1}'


# -- orgs ------------------------------------------------------------------------------------------------


def test_current_org_and_org_by_id_and_name(api: InProcess) -> None:
    main = (
        b'{"id":1,"name":"Main Org.","address":{"address1":"","address2":"","city":"","zipCode":"",'
        b'"state":"","country":""}}'
    )
    assert get(api, "/api/org").content == main
    assert get(api, "/api/org/").content == main
    assert get(api, "/api/orgs/1").content == main
    assert get(api, "/api/orgs/name/Main%20Org.").content == main
    not_found = b'{"message":"Organization not found","traceID":""}'
    assert (get(api, "/api/orgs/99").status_code, get(api, "/api/orgs/99").content) == (404, not_found)
    assert get(api, "/api/orgs/name/nope").content == not_found


def test_create_org(api: InProcess) -> None:
    response = send(api, "POST", "/api/orgs", {"name": "Ops"})
    assert response.content == b'{"message":"Organization created","orgId":2}'
    assert role_of(api, 2, 1) == "Admin"  # the creator is the new org's Admin
    taken = send(api, "POST", "/api/orgs", {"name": "Ops"})
    assert (taken.status_code, taken.content) == (409, b'{"message":"Organization name taken","traceID":""}')
    assert send(api, "POST", "/api/orgs", {}).content == BAD_REQUEST_DATA


def test_create_org_needs_grafana_admin_unless_allow_org_create(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api()
    api.user("ed", orgs={1: "Admin"})
    denied = send(api, "POST", "/api/orgs", {"name": "Mine"}, as_user("ed"))
    assert denied.status_code == 403
    match = ACE.fullmatch(denied.content)
    assert match and match["needed"] == b"orgs:create"
    open_api = make_orgs_api("[users]\nallow_org_create = true\n")
    ed = open_api.user("ed", orgs={1: "Viewer"})
    assert send(open_api, "POST", "/api/orgs", {"name": "Mine"}, as_user("ed")).status_code == 200
    assert role_of(open_api, 2, ed.id) == "Admin"


def test_13_5_org_search_pages_are_zero_based(api: InProcess) -> None:
    for name in ("Alpha", "Beta", "Gamma", "Alps"):
        api.store.create_org(name)
    names = [o["name"] for o in get(api, "/api/orgs").json()]
    assert names == ["Main Org.", "Alpha", "Beta", "Gamma", "Alps"]
    assert get(api, "/api/orgs?perpage=2").content == b'[{"id":1,"name":"Main Org."},{"id":2,"name":"Alpha"}]'
    assert [o["id"] for o in get(api, "/api/orgs?perpage=2&page=0").json()] == [1, 2]
    assert [o["id"] for o in get(api, "/api/orgs?perpage=2&page=1").json()] == [3, 4]
    assert [o["id"] for o in get(api, "/api/orgs?perpage=2&page=2").json()] == [5]
    assert get(api, "/api/orgs?perpage=2&page=3").content == b"[]"
    assert [o["name"] for o in get(api, "/api/orgs?query=Al").json()] == ["Alpha", "Alps"]  # prefix
    assert get(api, "/api/orgs?query=lph").json() == []
    assert get(api, "/api/orgs?name=Beta").json() == [{"id": 3, "name": "Beta"}]


def test_org_list_routes_are_global_org_permissions(api: InProcess) -> None:
    api.user("boss", orgs={1: "Admin"})
    token = api.sa_token("Admin")
    for path in ("/api/orgs", "/api/orgs/name/Main%20Org."):
        for headers in (as_user("boss"), bearer(token)):
            response = get(api, path, headers)
            match = ACE.fullmatch(response.content)
            assert response.status_code == 403 and match and match["needed"] == b"orgs:read"
    # An org Admin, or an Admin service account, may use /api/orgs/<own org>/users…
    for headers in (as_user("boss"), bearer(token)):
        assert get(api, "/api/orgs/1", headers).status_code == 200
        assert get(api, "/api/orgs/1/users", headers).status_code == 200


def test_path_org_is_authorized_in_that_org(api: InProcess) -> None:
    api.store.create_org("Other")
    api.user("boss", orgs={1: "Admin"})
    api.user("viewer", orgs={1: "Viewer", 2: "Admin"})
    for path, needed in (("/api/orgs/2/users", b"org.users:read"), ("/api/orgs/0", b"orgs:read")):
        response = get(api, path, as_user("boss"))
        match = ACE.fullmatch(response.content)
        assert response.status_code == 403 and match and match["needed"] == needed
    assert get(api, "/api/orgs/abc/users", as_user("boss")).status_code == 403
    # The path org, not the request's org, decides.
    assert get(api, "/api/orgs/2/users", as_user("viewer")).status_code == 200
    assert get(api, "/api/org/users", as_user("viewer")).status_code == 403


def test_13_20_token_for_another_org_is_refused_on_org_routes(api: InProcess) -> None:
    api.store.create_org("Other")
    token = api.sa_token("Admin")
    assert get(api, "/api/org/users", bearer(token)).status_code == 200
    response = api.client.get("/api/org/users", headers={**bearer(token), "X-Grafana-Org-Id": "2"})
    assert response.status_code == 401
    assert response.content == (
        b'{"extra":null,"message":"API key does not belong to the requested organization",'
        b'"messageId":"api-key.organization-mismatch","statusCode":401,"traceID":""}'
    )


def test_request_org_header_selects_the_current_org(api: InProcess) -> None:
    api.store.create_org("Other")
    api.user("both", orgs={1: "Viewer", 2: "Admin"})
    headers = {**as_user("both"), "X-Grafana-Org-Id": "2"}
    assert get(api, "/api/org", headers).json()["name"] == "Other"
    assert [u["login"] for u in get(api, "/api/org/users", headers).json()] == ["both"]
    assert get(api, "/api/org/users", as_user("both")).status_code == 403  # Viewer in org 1
    outsider = get(api, "/api/org", {**as_user("both"), "X-Grafana-Org-Id": "7"})
    assert outsider.status_code == 403 and ACE.fullmatch(outsider.content)


# -- 13.6: org user search ---------------------------------------------------------------------------------


def test_13_6_org_user_search_is_one_based_with_total(api: InProcess) -> None:
    for login in ("carol", "bob", "dave"):
        api.user(login)
    api.store.create_service_account(1, "robot", "Viewer")
    default = get(api, "/api/org/users/search").json()
    assert list(default) == ["totalCount", "orgUsers", "page", "perPage"]
    assert (default["totalCount"], default["page"], default["perPage"]) == (4, 1, 1000)
    assert [u["login"] for u in default["orgUsers"]] == ["admin", "bob", "carol", "dave"]
    page2 = get(api, "/api/orgs/1/users/search?perpage=3&page=2").json()
    assert (page2["totalCount"], page2["page"], [u["login"] for u in page2["orgUsers"]]) == (4, 2, ["dave"])
    page0 = get(api, "/api/org/users/search?perpage=3&page=0").json()
    assert page0["page"] == 1 and len(page0["orgUsers"]) == 3
    found = get(api, "/api/org/users/search?query=AR").json()
    assert (found["totalCount"], [u["login"] for u in found["orgUsers"]]) == (1, ["carol"])
    desc = get(api, "/api/org/users/search?sort=login-desc").json()
    assert [u["login"] for u in desc["orgUsers"]] == ["dave", "carol", "bob", "admin"]
    bad = get(api, "/api/org/users/search?sort=nope")
    assert bad.status_code == 400
    assert b'"messageId":"unknown sorting option"' in bad.content


def test_org_user_list_query_limit_and_lookup(api: InProcess) -> None:
    for login in ("carol", "bob"):
        api.user(login)
    assert [u["login"] for u in get(api, "/api/org/users?limit=2").json()] == ["admin", "bob"]
    assert [u["login"] for u in get(api, "/api/org/users?query=car").json()] == ["carol"]
    lookup = get(api, "/api/org/users/lookup?query=bob")
    bob = api.store.get_user_by_login_or_email("bob")
    assert bob is not None
    avatar = avatar_url(bob.email)
    assert (
        lookup.content
        == f'[{{"userId":{bob.id},"uid":"{bob.uid}","login":"bob","avatarUrl":"{avatar}"}}]'.encode()
    )
    denied = get(api, "/api/org/users/lookup", as_user("bob"))
    assert denied.status_code == 403 and ACE.fullmatch(denied.content)


def test_hidden_users_are_hidden_from_others(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api("[users]\nhidden_users = ghost, boss\n")
    api.user("ghost")
    api.user("boss", orgs={1: "Admin"})
    seen = [u["login"] for u in get(api, "/api/org/users", as_user("boss")).json()]
    assert seen == ["admin", "boss"]  # ghost hidden; boss sees itself
    assert [u["login"] for u in get(api, "/api/org/users").json()] == ["admin", "boss", "ghost"]


def test_accesscontrol_metadata_only_when_asked(api: InProcess) -> None:
    api.user("boss", orgs={1: "Admin"})
    plain = get(api, "/api/org/users", as_user("boss")).json()[0]
    assert "accessControl" not in plain
    item = get(api, "/api/org/users?accesscontrol=true", as_user("boss")).json()[0]
    assert list(item)[10:12] == ["lastSeenAtAge", "accessControl"]
    assert item["accessControl"] == {
        "org.users:add": True,
        "org.users:read": True,
        "org.users:remove": True,
        "org.users:write": True,
    }


# -- 13.7: role strings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "stored"),
    [
        ("Viewer", "Viewer"),
        ("viewer", "Viewer"),
        ("editor", "Editor"),
        ("admin", "Admin"),
        ("None", "None"),
        ("", "Viewer"),
    ],
)
def test_13_7_role_input_is_title_cased(api: InProcess, role: str, stored: str) -> None:
    jane = api.user("jane", orgs={1: "Editor"})
    response = send(api, "PATCH", f"/api/org/users/{jane.id}", {"role": role})
    assert response.content == b'{"message":"Organization user updated"}'
    assert role_of(api, 1, jane.id) == stored


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"role": "VIEWER"},
        {"role": "ADMIN"},
        {"role": "Superuser"},
        {"role": "Owner"},
        {"role": 1},
        {"role": None},
    ],
)
def test_13_7_missing_uppercase_or_unknown_role_is_bad_request_data(
    api: InProcess, body: dict[str, Any]
) -> None:
    jane = api.user("jane", orgs={1: "Editor"})
    for method, path, form in (
        ("PATCH", f"/api/org/users/{jane.id}", body),
        ("PATCH", f"/api/orgs/1/users/{jane.id}", body),
        ("POST", "/api/org/users", {"loginOrEmail": "jane", **body}),
        ("POST", "/api/orgs/1/users", {"loginOrEmail": "jane", **body}),
        ("POST", "/api/org/invites", {"loginOrEmail": "new@example.com", **body}),
    ):
        response = send(api, method, path, form)
        assert (response.status_code, response.content) == (400, BAD_REQUEST_DATA), (method, path)
    assert role_of(api, 1, jane.id) == "Editor"


def test_e10_patch_with_an_unknown_role(api: InProcess) -> None:
    jane = api.user("jane", orgs={1: "Editor"})
    response = send(api, "PATCH", f"/api/org/users/{jane.id}", {"role": "Owner"})
    assert (response.status_code, response.content) == (400, BAD_REQUEST_DATA)


def test_bad_user_ids(api: InProcess) -> None:
    invalid = send(api, "PATCH", "/api/org/users/abc", {"role": "Viewer"})
    assert (invalid.status_code, invalid.content) == (400, b'{"message":"userId is invalid","traceID":""}')
    assert (
        send(api, "DELETE", "/api/org/users/abc").content == b'{"message":"userId is invalid","traceID":""}'
    )
    # /api/orgs/:orgId/users/:userId resolves UIDs first.
    unknown = send(api, "PATCH", "/api/orgs/1/users/nosuchuid", {"role": "Viewer"})
    assert (unknown.status_code, unknown.content) == (404, b'{"message":"User not found"}')
    jane = api.user("jane")
    by_uid = send(api, "PATCH", f"/api/orgs/1/users/{jane.uid}", {"role": "Editor"})
    assert by_uid.status_code == 200 and role_of(api, 1, jane.id) == "Editor"


# -- 13.8 / E7: add ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/org/users", "/api/orgs/1/users"])
def test_13_8_add_org_user(api: InProcess, path: str) -> None:
    jane = api.user("jane", email="jane@example.com", orgs={})
    added = send(api, "POST", path, {"loginOrEmail": "JANE@example.com", "role": "editor"})
    assert added.content == b'{"message":"User added to organization","userId":%d}' % jane.id
    assert role_of(api, 1, jane.id) == "Editor"
    again = send(api, "POST", path, {"loginOrEmail": "jane", "role": "Viewer"})
    assert (again.status_code, again.content) == (
        409,
        b'{"message":"User is already member of this organization","userId":%d}' % jane.id,
    )
    unknown = send(api, "POST", path, {"loginOrEmail": "nobody", "role": "Viewer"})
    assert (unknown.status_code, unknown.content) == (404, b'{"message":"User not found"}')
    assert send(api, "POST", path, {"role": "Viewer"}).content == BAD_REQUEST_DATA


def test_e7_add_existing_member(api: InProcess) -> None:
    api.user("one")
    jane = api.user("jane", orgs={1: "Editor"})
    assert jane.id == 3
    response = send(api, "POST", "/api/orgs/1/users", {"loginOrEmail": "jane", "role": "Viewer"})
    assert response.content == b'{"message":"User is already member of this organization","userId":3}'


def test_add_to_another_org_makes_it_current_only_without_one(api: InProcess) -> None:
    api.store.create_org("Other")
    orphan = api.user("orphan", orgs={})
    send(api, "POST", "/api/orgs/2/users", {"loginOrEmail": "orphan", "role": "Viewer"})
    user = api.store.get_user(orphan.id)
    assert user is not None and user.org_id == 2


def test_add_to_a_missing_org_as_grafana_admin_is_500(api: InProcess) -> None:
    api.user("jane")
    response = send(api, "POST", "/api/orgs/42/users", {"loginOrEmail": "jane", "role": "Viewer"})
    assert (response.status_code, response.content) == (
        500,
        b'{"message":"Could not add user to organization","traceID":""}',
    )


def test_add_is_not_blocked_for_externally_synced_users(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api(SAML_ON)
    api.store.create_org("Other")
    jane = api.user("jane", module="auth.saml")
    assert (
        send(api, "POST", "/api/orgs/2/users", {"loginOrEmail": "jane", "role": "Admin"}).status_code == 200
    )
    assert role_of(api, 2, jane.id) == "Admin"


# -- 13.9 / 13.10 / E6: externally synced users --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/orgs/1/users/{id}", "/api/org/users/{id}"])
def test_13_9_e6_role_change_of_synced_user_is_refused(make_orgs_api: MakeOrgsApi, path: str) -> None:
    api = make_orgs_api(SAML_ON)
    jane = api.user("jane", orgs={1: "Editor"}, module="auth.saml")
    response = send(api, "PATCH", path.format(id=jane.id), {"role": "Admin"})
    assert (response.status_code, response.content) == (403, SYNCED)
    assert response.headers["content-type"] == "application/json"
    assert role_of(api, 1, jane.id) == "Editor"
    assert get(api, "/api/org/users").json()[1]["isExternallySynced"] is True


@pytest.mark.parametrize(
    "ini",
    [
        "",  # SAML not enabled
        "[auth.saml]\nenabled = true\nskip_org_role_sync = true\n",
        "[auth.generic_oauth]\nenabled = true\n",  # another provider on: SAML users still not synced
    ],
)
def test_13_9_role_change_allowed_when_skipping_or_disabled(make_orgs_api: MakeOrgsApi, ini: str) -> None:
    api = make_orgs_api(ini)
    jane = api.user("jane", orgs={1: "Editor"}, module="auth.saml")
    response = send(api, "PATCH", f"/api/orgs/1/users/{jane.id}", {"role": "Admin"})
    assert response.content == b'{"message":"Organization user updated"}'
    item = get(api, "/api/org/users").json()[1]
    assert (item["authLabels"], item["isExternallySynced"], item["role"]) == (["SAML"], False, "Admin")


def test_13_9_sso_settings_skip_lifts_the_block(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api(SAML_ON)
    jane = api.user("jane", orgs={1: "Editor"}, module="auth.saml")
    api.store.put_sso_settings("saml", {"enabled": True, "skip_org_role_sync": True})
    assert send(api, "PATCH", f"/api/org/users/{jane.id}", {"role": "Viewer"}).status_code == 200


def test_13_9_oauth_and_ldap_modules_follow_their_provider(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api("[auth.generic_oauth]\nenabled = true\n[auth.ldap]\nenabled = true\n")
    oauth = api.user("oauth", orgs={1: "Viewer"}, module="oauth_generic_oauth")
    ldap = api.user("ldapuser", orgs={1: "Viewer"}, module="ldap")
    for user in (oauth, ldap):
        response = send(api, "PATCH", f"/api/org/users/{user.id}", {"role": "Editor"})
        assert (response.status_code, response.content) == (403, SYNCED)


def test_13_10_authproxy_users_are_never_externally_synced(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api("[auth.proxy]\nenabled = true\n" + SAML_ON)
    proxied = api.user("proxied", orgs={1: "Viewer"}, module="authproxy")
    item = get(api, "/api/org/users").json()[1]
    assert (item["login"], item["authLabels"], item["isExternallySynced"]) == (
        "proxied",
        ["Auth Proxy"],
        False,
    )
    response = send(api, "PATCH", f"/api/org/users/{proxied.id}", {"role": "Editor"})
    assert response.content == b'{"message":"Organization user updated"}'


def test_13_11_removing_a_synced_user_is_allowed(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api(SAML_ON)
    api.store.create_org("Other")
    jane = api.user("jane", orgs={1: "Editor", 2: "Viewer"}, module="auth.saml")
    for path in (f"/api/orgs/1/users/{jane.id}", f"/api/org/users/{jane.id}"):
        if role_of(api, 1, jane.id) is None:
            api.store.add_org_user(1, jane.id, "Editor")
        response = send(api, "DELETE", path)
        assert response.content == b'{"message":"User removed from organization"}'
        assert role_of(api, 1, jane.id) is None


# -- 13.12: roles above the caller's -------------------------------------------------------------------------


def test_13_12_role_check_uses_the_request_org_role(api: InProcess) -> None:
    """``callerOrgRole`` is the caller's role in the request's org even on ``/api/orgs/:orgId``: an Admin of
    org 2 acting from org 1, where it is a Viewer, cannot grant Admin or Editor in org 2."""
    api.store.create_org("Other")
    api.user("mixed", orgs={1: "Viewer", 2: "Admin"})
    target = api.user("target", orgs={2: "Viewer"})
    api.user("newbie", orgs={})
    headers = as_user("mixed")
    for method, path, body in (
        ("PATCH", f"/api/orgs/2/users/{target.id}", {"role": "Editor"}),
        ("POST", "/api/orgs/2/users", {"loginOrEmail": "newbie", "role": "Admin"}),
    ):
        response = send(api, method, path, body, headers)
        assert (response.status_code, response.content) == (403, HIGHER), path
    assert (
        send(api, "PATCH", f"/api/orgs/2/users/{target.id}", {"role": "Viewer"}, headers).status_code == 200
    )
    # From org 2 (header), it is Admin there: everything goes, including invites.
    in_org2 = {**headers, "X-Grafana-Org-Id": "2"}
    assert send(api, "PATCH", f"/api/org/users/{target.id}", {"role": "Admin"}, in_org2).status_code == 200
    assert (
        send(
            api, "POST", "/api/org/invites", {"loginOrEmail": "x@example.com", "role": "Admin"}, in_org2
        ).status_code
        == 200
    )


def test_13_12_invite_and_add_above_callers_role(api: InProcess) -> None:
    """A caller with ``org.users:add`` but a lower role: only a Grafana Admin skips the check, so use an
    Editor-role caller acting on the path org it administers (the check reads the request org's role)."""
    api.store.create_org("Other")
    api.user("mixed", orgs={1: "Editor", 2: "Admin"})
    api.user("newbie", orgs={})
    response = send(
        api, "POST", "/api/orgs/2/users", {"loginOrEmail": "newbie", "role": "Admin"}, as_user("mixed")
    )
    assert (response.status_code, response.content) == (403, HIGHER)
    ok = send(
        api, "POST", "/api/orgs/2/users", {"loginOrEmail": "newbie", "role": "Editor"}, as_user("mixed")
    )
    assert ok.status_code == 200


# -- 13.13: last admin ---------------------------------------------------------------------------------------


def test_13_13_last_org_admin_cannot_be_demoted_or_removed(api: InProcess) -> None:
    demote = send(api, "PATCH", "/api/orgs/1/users/1", {"role": "Editor"})
    assert (demote.status_code, demote.content) == (
        400,
        b'{"message":"Cannot change role so that there is no organization admin left"}',
    )
    for path in ("/api/orgs/1/users/1", "/api/org/users/1"):
        remove = send(api, "DELETE", path)
        assert (remove.status_code, remove.content) == (
            400,
            b'{"message":"Cannot remove last organization admin"}',
        )
    assert role_of(api, 1, 1) == "Admin"
    api.user("second", orgs={1: "Admin"})
    assert send(api, "PATCH", "/api/orgs/1/users/1", {"role": "Editor"}).status_code == 200
    assert role_of(api, 1, 1) == "Editor"


# -- 13.14 / 13.15 / 13.16: removal and updates of non-members -----------------------------------------------


def test_13_14_current_org_delete_of_last_membership_deletes_the_user(api: InProcess) -> None:
    jane = api.user("jane", orgs={1: "Viewer"})
    response = send(api, "DELETE", f"/api/org/users/{jane.id}")
    assert response.content == b'{"message":"User deleted"}'
    assert api.store.get_user(jane.id) is None


def test_13_14_orgs_route_never_deletes_the_user(api: InProcess) -> None:
    jane = api.user("jane", orgs={1: "Viewer"})
    response = send(api, "DELETE", f"/api/orgs/1/users/{jane.id}")
    assert response.content == b'{"message":"User removed from organization"}'
    user = api.store.get_user(jane.id)
    assert user is not None and user.org_id == 0


def test_13_14_removal_moves_the_current_org(api: InProcess) -> None:
    api.store.create_org("Other")
    jane = api.user("jane", orgs={1: "Viewer", 2: "Editor"})
    assert jane.org_id == 1
    assert send(api, "DELETE", f"/api/org/users/{jane.id}").content == (
        b'{"message":"User removed from organization"}'
    )
    user = api.store.get_user(jane.id)
    assert user is not None and user.org_id == 2


def test_13_15_removing_a_non_member_or_unknown_user(api: InProcess) -> None:
    api.store.create_org("Other")
    outsider = api.user("outsider", orgs={2: "Viewer"})
    response = send(api, "DELETE", f"/api/orgs/1/users/{outsider.id}")
    assert (response.status_code, response.content) == (200, b'{"message":"User removed from organization"}')
    assert role_of(api, 2, outsider.id) == "Viewer"
    for path in ("/api/orgs/1/users/999", "/api/org/users/999"):
        unknown = send(api, "DELETE", path)
        assert (unknown.status_code, unknown.content) == (
            500,
            b'{"message":"Failed to remove user from organization","traceID":""}',
        )
    sa = api.store.create_service_account(1, "robot", "Viewer")
    assert send(api, "DELETE", f"/api/orgs/1/users/{sa.id}").status_code == 500


def test_13_16_patch_of_a_non_member_is_500(api: InProcess) -> None:
    api.store.create_org("Other")
    outsider = api.user("outsider", orgs={2: "Viewer"})
    for path in (f"/api/org/users/{outsider.id}", f"/api/orgs/1/users/{outsider.id}", "/api/org/users/999"):
        response = send(api, "PATCH", path, {"role": "Editor"})
        assert (response.status_code, response.content) == (
            500,
            b'{"message":"Failed update org user","traceID":""}',
        )


def test_org_user_writes_need_org_admin(api: InProcess) -> None:
    jane = api.user("jane", orgs={1: "Editor"})
    api.user("ed", orgs={1: "Editor"})
    for method, path, body, needed in (
        ("PATCH", f"/api/org/users/{jane.id}", {"role": "Viewer"}, b"org.users:write"),
        ("DELETE", f"/api/org/users/{jane.id}", None, b"org.users:remove"),
        ("POST", "/api/org/users", {"loginOrEmail": "jane", "role": "Viewer"}, b"org.users:add"),
        ("GET", "/api/org/invites", None, b"org.users:add"),
        ("PATCH", f"/api/orgs/1/users/{jane.id}", {"role": "Viewer"}, b"org.users:write"),
    ):
        response = send(api, method, path, body, as_user("ed"))
        match = ACE.fullmatch(response.content)
        assert response.status_code == 403 and match and match["needed"] == needed, path


# -- 13.25 / 13.26: invites ----------------------------------------------------------------------------------


def test_13_26_invite_for_an_existing_user_adds_them(api: InProcess) -> None:
    api.store.create_org("Other")
    jane = api.user("jane", name="Jane Doe", orgs={2: "Viewer"})
    response = send(api, "POST", "/api/org/invites", {"loginOrEmail": "jane", "role": "Editor"})
    assert (
        response.content
        == b'{"message":"Existing Grafana user Jane Doe added to org Main Org.","userId":%d}' % (jane.id)
    )
    assert role_of(api, 1, jane.id) == "Editor"
    again = send(api, "POST", "/api/org/invites", {"loginOrEmail": "jane", "role": "Editor"})
    assert (again.status_code, again.content) == (
        412,
        b'{"message":"User jane is already added to organization","traceID":""}',
    )
    assert get(api, "/api/org/invites").content == b"[]"


def test_13_26_invite_for_a_new_address_is_pending(api: InProcess) -> None:
    response = send(
        api, "POST", "/api/org/invites", {"loginOrEmail": "new@example.com", "name": "New", "role": ""}
    )
    assert response.content == b'{"message":"Created invite for new@example.com"}'
    invites = get(api, "/api/org/invites").json()
    assert len(invites) == 1
    invite = invites[0]
    assert list(invite) == [
        "id", "orgId", "name", "email", "role", "invitedByLogin", "invitedByEmail", "invitedByName", "code",
        "status", "url", "emailSent", "emailSentOn", "createdOn",
    ]  # fmt: skip
    assert invite["role"] == "Viewer" and invite["status"] == "InvitePending"
    assert (invite["invitedByLogin"], invite["invitedByEmail"]) == ("admin", "admin@localhost")
    assert re.fullmatch(r"[A-Za-z0-9]{30}", invite["code"])
    assert invite["url"] == f"http://localhost:3000/invite/{invite['code']}"
    assert (invite["emailSent"], invite["emailSentOn"]) == (False, "0001-01-01T00:00:00Z")
    assert invite["createdOn"] == "2025-05-06T09:12:31Z"


def test_13_26_invite_email_needs_smtp(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api()
    form = {"loginOrEmail": "new@example.com", "role": "Viewer", "sendEmail": True}
    response = send(api, "POST", "/api/org/invites", form)
    assert response.status_code == 412
    assert json.loads(response.content)["message"].startswith("SMTP not configured")
    smtp = make_orgs_api("[smtp]\nenabled = true\n")
    sent = send(smtp, "POST", "/api/org/invites", form)
    assert sent.content == b'{"message":"Sent invite to new@example.com"}'
    assert get(smtp, "/api/org/invites").json()[0]["emailSent"] is True


def test_13_26_invite_refused_when_login_form_disabled(make_orgs_api: MakeOrgsApi) -> None:
    api = make_orgs_api("[auth]\ndisable_login_form = true\n")
    response = send(api, "POST", "/api/org/invites", {"loginOrEmail": "x@example.com", "role": "Viewer"})
    assert (response.status_code, response.content) == (
        400,
        b'{"message":"Cannot invite external user when login is disabled."}',
    )


def test_13_25_invite_revoke_is_patch(api: InProcess) -> None:
    send(api, "POST", "/api/org/invites", {"loginOrEmail": "new@example.com", "role": "Viewer"})
    code = get(api, "/api/org/invites").json()[0]["code"]
    response = send(api, "PATCH", f"/api/org/invites/{code}/revoke")
    assert (response.status_code, response.content) == (200, b'{"message":"Invite revoked"}')
    assert get(api, "/api/org/invites").content == b"[]"
    unknown = send(api, "PATCH", "/api/org/invites/nope/revoke")
    assert (unknown.status_code, unknown.content) == (404, b'{"message":"Invite not found"}')


def test_13_25_revoking_another_orgs_invite_needs_grafana_admin(api: InProcess) -> None:
    api.store.create_org("Other")
    api.user("boss", orgs={1: "Admin", 2: "Admin"})
    other = {**as_user("boss"), "X-Grafana-Org-Id": "2"}
    send(api, "POST", "/api/org/invites", {"loginOrEmail": "new@example.com", "role": "Viewer"}, other)
    code = get(api, "/api/org/invites", other).json()[0]["code"]
    denied = send(api, "PATCH", f"/api/org/invites/{code}/revoke", None, as_user("boss"))
    assert (denied.status_code, denied.content) == (
        403,
        b'{"message":"Permission denied: not permitted to revoke invite"}',
    )
    assert send(api, "PATCH", f"/api/org/invites/{code}/revoke").status_code == 200  # Grafana Admin, org 1


# -- concurrency ---------------------------------------------------------------------------------------------


def test_concurrent_role_changes_lose_no_update_and_keep_an_admin(api: InProcess) -> None:
    """200 PATCHes at once: every target gets its role; of two Admins demoted together, one stays."""
    roles = ("Viewer", "Editor", "Admin", "None")
    users = [api.user(f"u{i:03}", orgs={1: "Viewer"}) for i in range(180)]
    orgs = []
    for i in range(10):
        org = api.store.create_org(f"Pair {i}")
        pair = [api.user(f"p{i}-{k}", orgs={org.id: "Admin"}) for k in range(2)]
        orgs.append((org.id, pair))
    jobs: list[tuple[str, str, int | None]] = [
        (f"/api/org/users/{u.id}", roles[i % 4], None) for i, u in enumerate(users)
    ]
    jobs += [(f"/api/orgs/{org_id}/users/{p.id}", "Editor", org_id) for org_id, pair in orgs for p in pair]
    assert len(jobs) == 200

    def patch(job: tuple[str, str, int | None]) -> int:
        path, role, _ = job
        status: int = api.client.patch(path, headers=AS_ADMIN, json={"role": role}).status_code
        return status

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(patch, jobs, timeout=120))
    assert statuses[:180] == [200] * 180
    for i, u in enumerate(users):
        assert role_of(api, 1, u.id) == roles[i % 4]
    for k, (org_id, pair) in enumerate(orgs):
        assert sorted(statuses[180 + 2 * k : 182 + 2 * k]) == [200, 400]
        assert sorted(role_of(api, org_id, p.id) or "" for p in pair) == ["Admin", "Editor"]
