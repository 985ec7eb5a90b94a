"""The big listings (``/api/users/search``, ``/api/orgs/:id/users/search`` and their bare-array siblings) are
encoded straight from SQL rows by gtool/sandbox/listings.py, with the sort order and totals kept between
pages. None of that may change a byte: pages are compared with hashes taken before the fast path existed,
with the readable DTO builders through ``gojson.dumps``, and the encoders with the builders on hostile
values. The listings must also see every write at once, and the injected latency must not serialize
requests (the inventory benchmark reads pages eight at a time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

from gtool.sandbox import dtos, listings, orgdata
from gtool.sandbox.app import create_app, load_config, store_options
from gtool.sandbox.auth import AUTH_LABELS, AuthSettings
from gtool.sandbox.generate import generate
from gtool.sandbox.gojson import GoMap, Raw, dumps, go_time
from gtool.sandbox.routes.orgs import org_user_dto
from gtool.sandbox.routes.users import parse_sort
from gtool.sandbox.store import Store, User
from tests.sandbox.conftest import FROZEN, InProcess, RunningSandbox

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

SEED = generate(1500, 3, 12, seed=5, now=dt.datetime.fromtimestamp(FROZEN, dt.UTC))
HIDDEN = (SEED.users[7].login, SEED.users[8].login)
INI = (
    "[auth.saml]\nenabled = true\n[auth.ldap]\nenabled = true\nskip_org_role_sync = true\n"
    f"[users]\nhidden_users = {HIDDEN[0]}, {HIDDEN[1]}\n"
)
PASSWORDS = {"admin": "admin", "boss": "pw-boss"}

# sha256 of each body as the sandbox of commit c97538e (dict per row, then gojson.dumps) served it for this
# very instance. Rebuild only on purpose: a changed hash means a changed body.
GOLDEN = {
    ("admin", "/api/users/search?perpage=1000&page=1"): (
        "fbe69470f9434330929aa741fba12c066fa9c73e760d50af8cc0e7ac8d28ea6a"
    ),
    ("admin", "/api/users/search?perpage=1000&page=2"): (
        "3c78364c97e9d68e8a2818a6c208094bd2fdfc05d73b7388575469000d0c67b0"
    ),
    ("admin", "/api/users/search?perpage=1000&sort=email-desc,lastSeenAtAge-asc"): (
        "31211650acc594607f14b803ba813ca2965817774a62ad2aa6abc8143bbdbaf6"
    ),
    ("admin", "/api/users/search?perpage=1000&query=an"): (
        "cb439d77497dbcb8c65172cad940ce85311a4ab64fb0243f1a8cfcc27d253bac"
    ),
    ("admin", "/api/users?perpage=1000"): "0e08037bf0986ddfc69d99a75984f903b8597c06e174c12e15f0880b8d6b5c24",
    ("admin", "/api/orgs/1/users/search?perpage=1000&page=1"): (
        "4a3f7c34c7ba0a724e88de46e90fccf8ae314fadbcc0e8cc37532b0783529003"
    ),
    ("admin", "/api/orgs/1/users/search?perpage=1000&page=2"): (
        "bf320401b4d9491fcc05748cf57e69c15114bda5210647be582659b51c065b7e"
    ),
    ("admin", "/api/orgs/2/users/search?perpage=1000&accesscontrol=true"): (
        "188062ad09040d60f90836a7c407794cd0b688dbf825d26109272b499fe4c871"
    ),
    ("admin", "/api/orgs/3/users/search?perpage=1000&sort=name-desc&query=e"): (
        "a95c5bdec524b56f57a07cab5ed1867eb42b208a7399ebea4948dad70eede515"
    ),
    ("admin", "/api/orgs/1/users"): "051ef58c2c0f2b15e3242856c682c00af2283e7113d181895522ef432e42782a",
    ("boss", "/api/org/users/search?perpage=1000"): (
        "3f66693402c32a6bf3c67ec5acdc893b245a830d2ec0d125cb1228fa75ddee81"
    ),
    ("boss", "/api/org/users?accesscontrol=true"): (
        "80944c722c072abe4582ef66e5a177991a075093966109672e30a3a9a1d7e865"
    ),
}


class Instance:
    """The generated instance in-process: 1,500 users in 3 orgs, SAML synced, LDAP not, two hidden users,
    and ``boss``, an org Admin of org 1 who is no Grafana Admin (so the hidden users are hidden from it)."""

    def __init__(self, tmp: Path) -> None:
        ini = tmp / "grafana.ini"
        ini.write_text(INI)
        self.config = load_config(ini, env={})
        self.store = Store(":memory:", clock=lambda: float(FROZEN), **store_options(self.config))
        self.store.load_seed(SEED)
        boss = self.store.create_user(
            login="boss",
            email="boss@example.com",
            password="pw-boss",
            uid="boss0000000001",
            skip_org_setup=True,
        )
        self.store.add_org_user(1, boss.id, "Admin")
        self.client = TestClient(create_app(self.store, config=self.config), base_url="http://localhost:3000")

    def get(self, path: str, who: str = "admin") -> bytes:
        response = self.client.get(path, auth=(who, PASSWORDS[who]))
        assert response.status_code == 200, response.text
        return response.content


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    made = Instance(tmp_path_factory.mktemp("listings"))
    yield made
    made.client.close()
    made.store.close()


# -- the slow path: the DTO builders, as the routes used them before ---------------------------------------


def slow_users(
    store: Store, *, query: str = "", sort: str = "", per_page: int = 1000, page: int = 1
) -> bytes:
    total, users = store.search_users(
        query=query, order=parse_sort(sort), limit=per_page, offset=per_page * (page - 1)
    )
    modules = store.auth_modules(u.id for u in users)
    hits = [dtos.user_search_hit(u, modules.get(u.id), store.now()) for u in users]
    return dumps({"totalCount": total, "users": hits, "page": page, "perPage": per_page})


def slow_org_users(
    store: Store,
    settings: AuthSettings,
    org_id: int,
    *,
    query: str = "",
    sort: str = "",
    per_page: int = 1000,
    page: int = 1,
    hidden: tuple[str, ...] = (),
) -> bytes:
    total, members = orgdata.search_org_users(
        store, org_id, query=query, limit=per_page, page=page, order=parse_sort(sort)
    )
    members = [m for m in members if m.login not in hidden]
    modules = store.auth_modules(m.user_id for m in members)
    items = [org_user_dto(m, modules.get(m.user_id), settings, store.now(), None) for m in members]
    return dumps({"totalCount": total, "orgUsers": items, "page": page, "perPage": per_page})


# -- pages -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "path"), list(GOLDEN))
def test_pages_are_byte_for_byte_those_served_before_the_fast_path(
    instance: Instance, who: str, path: str
) -> None:
    body = instance.get(path, who)
    assert hashlib.sha256(body).hexdigest() == GOLDEN[(who, path)]


USER_PAGES: list[dict[str, Any]] = [
    {"page": 1},
    {"page": 2},
    {"page": 3},
    {"sort": "lastSeenAtAge-desc,login-asc", "per_page": 700, "page": 2},
    {"query": "ar", "per_page": 300},
]


def _query(args: dict[str, Any]) -> str:
    query = f"perpage={args.get('per_page', 1000)}&page={args.get('page', 1)}"
    query += f"&sort={args['sort']}" if "sort" in args else ""
    return query + (f"&query={args['query']}" if "query" in args else "")


@pytest.mark.parametrize("args", USER_PAGES)
def test_user_pages_equal_the_dto_builder(instance: Instance, args: dict[str, Any]) -> None:
    assert instance.get(f"/api/users/search?{_query(args)}") == slow_users(instance.store, **args)


ORG_PAGES: list[tuple[int, dict[str, Any]]] = [
    (1, {"page": 1}),
    (1, {"page": 2}),
    (2, {"per_page": 250, "page": 3}),
    (3, {"sort": "email-desc", "query": "a"}),
]


@pytest.mark.parametrize(("org_id", "args"), ORG_PAGES)
def test_org_pages_equal_the_dto_builder(instance: Instance, org_id: int, args: dict[str, Any]) -> None:
    body = instance.get(f"/api/orgs/{org_id}/users/search?{_query(args)}")
    settings = AuthSettings(instance.store, instance.config)
    assert body == slow_org_users(instance.store, settings, org_id, **args)


def test_hidden_users_leave_the_page_but_not_the_total(instance: Instance) -> None:
    settings = AuthSettings(instance.store, instance.config)
    seen = instance.get("/api/org/users/search?perpage=1000", "boss")
    assert seen == slow_org_users(instance.store, settings, 1, hidden=HIDDEN)
    assert all(f'"login":"{login}"'.encode() not in seen for login in HIDDEN)
    assert f'"login":"{HIDDEN[0]}"'.encode() in instance.get("/api/orgs/1/users/search?perpage=1000")


# -- the encoders, on any value ---------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["<b>&amp;</b>", 'q"uo\\te', "line\nbreak\ttab\x00\x1f\x7f", "\u2028\u2029", "ünï😀cødé", "a&b>c<d", ""]
)
# Go's time range as Python can format it: years 1 to 9999.
TIMESTAMPS = st.integers(min_value=-62135596800, max_value=253402300799)
MODULES = st.none() | st.sampled_from(sorted(AUTH_LABELS)) | TEXT
IDS = st.integers(min_value=0, max_value=2**63 - 1)


class Synced:
    """Provider settings for the encoders: an arbitrary but fixed answer per module."""

    def is_externally_synced(self, module: str) -> bool:
        return len(module) % 2 == 0


@st.composite
def users(draw: st.DrawFn) -> tuple[User, str | None]:
    user = User(
        id=draw(IDS),
        uid=draw(TEXT),
        login=draw(TEXT),
        email=draw(TEXT),
        name=draw(TEXT),
        theme="",
        is_admin=draw(st.booleans()),
        is_disabled=draw(st.booleans()),
        is_service_account=False,
        is_provisioned=draw(st.booleans()),
        org_id=draw(IDS),
        created=draw(TIMESTAMPS),
        updated=0,
        last_seen_at=draw(TIMESTAMPS),
    )
    return user, draw(MODULES)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(users(), max_size=4), TIMESTAMPS)
def test_user_hit_encoding_equals_the_builder(found: list[tuple[User, str | None]], now: int) -> None:
    rows = [
        (u.id, u.uid, u.name, u.login, u.email, int(u.is_admin), int(u.is_disabled), u.last_seen_at, module)
        for u, module in found
    ]
    expected = dumps({"users": [dtos.user_search_hit(u, module, now) for u, module in found]})
    assert dumps({"users": listings.user_hits(rows, now)}) == expected


@hsettings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(users(), TEXT), max_size=4),
    TIMESTAMPS,
    st.none() | st.dictionaries(TEXT, st.just(True), max_size=3),
)
def test_org_user_encoding_equals_the_builder(
    found: list[tuple[tuple[User, str | None], str]], now: int, access: dict[str, bool] | None
) -> None:
    members = [
        (
            orgdata.OrgUser(
                u.org_id,
                u.id,
                u.uid,
                u.email,
                u.name,
                u.login,
                role,
                u.last_seen_at,
                u.created,
                u.is_disabled,
                u.is_provisioned,
            ),
            module,
        )
        for (u, module), role in found
    ]
    rows = [
        (m.org_id, m.user_id, m.uid, m.email, m.name, m.login, m.role, m.last_seen_at, m.created,
         int(m.is_disabled), int(m.is_provisioned), module)
        for m, module in members
    ]  # fmt: skip
    settings: Any = Synced()
    expected = dumps([org_user_dto(m, module, settings, now, access) for m, module in members])
    assert dumps(listings.org_users(rows, now, settings.is_externally_synced, access)) == expected


@hsettings(max_examples=500, deadline=None)
@given(TIMESTAMPS, TIMESTAMPS)
def test_fast_times_and_ages_equal_go_formatting(ts: int, now: int) -> None:
    assert go_time(ts) == dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listings.age(ts, now) == dtos.age_string(ts, now)
    near = now - (ts % 100_000_000)  # ages of seconds to a few years, unit boundaries included
    assert listings.age(near, now) == dtos.age_string(near, now)


@pytest.mark.parametrize("minutes", [0, 1, 2, 59, 60, 61, 1439, 1440, 43799, 43800, 525599, 525600, 1051200])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_ages_at_every_unit_boundary(minutes: int, offset: int) -> None:
    now = FROZEN
    ts = now - minutes * 60 + offset
    assert listings.age(ts, now) == dtos.age_string(ts, now)
    assert listings.age(None, now) == dtos.age_string(None, now) == "?"


def test_raw_json_is_spliced_in_and_escaped_with_the_body() -> None:
    assert (
        dumps({"a": 1, "b": Raw('[1,"<&>"]'), "c": "&"})
        == b'{"a":1,"b":[1,"\\u003c\\u0026\\u003e"],"c":"\\u0026"}'
    )
    assert dumps(GoMap(b=Raw("[]"), a=None)) == b'{"a":null,"b":[]}'
    assert dumps([Raw("{}"), 2]) == b"[{},2]"
    assert dumps(Raw('"\u2028"')) == b'"\\u2028"'
    with pytest.raises(TypeError, match="Raw"):
        dumps({"deep": {"raw": Raw("1")}})  # json would write it as a string: refused, never quietly wrong


# -- the kept order and totals follow every write ------------------------------------------------------------


def _org_listing(api: InProcess, org_id: int = 1, per_page: int = 2) -> list[Any]:
    pages = []
    for page in (1, 2, 3):
        response = api.client.get(
            f"/api/orgs/{org_id}/users/search?perpage={per_page}&page={page}", auth=("admin", "admin")
        )
        settings = AuthSettings(api.store, None)
        assert response.content == slow_org_users(api.store, settings, org_id, per_page=per_page, page=page)
        pages.append(response.json())
    return pages


def _logins(pages: list[Any]) -> list[str]:
    return [m["login"] for p in pages for m in p["orgUsers"]]


def test_org_listing_sees_each_write_at_once(api: InProcess) -> None:
    for login in ("carol", "alice", "bob"):
        api.user(login, orgs={1: "Viewer"})
    assert _logins(_org_listing(api)) == ["admin", "alice", "bob", "carol"]
    aaron = api.user("aaron", orgs={1: "Editor"})
    assert _logins(_org_listing(api)) == ["aaron", "admin", "alice", "bob", "carol"]
    assert _org_listing(api)[0]["totalCount"] == 5
    api.store.update_user_fields(aaron.id, login="zed")  # the sort key changes
    assert _logins(_org_listing(api)) == ["admin", "alice", "bob", "carol", "zed"]
    api.store.set_auth_info(aaron.id, "auth.saml")
    last = _org_listing(api)[2]["orgUsers"][-1]
    assert (last["login"], last["authLabels"]) == ("zed", ["SAML"])
    assert api.client.delete(f"/api/orgs/1/users/{aaron.id}", auth=("admin", "admin")).status_code == 200
    assert _logins(_org_listing(api)) == ["admin", "alice", "bob", "carol"]


def test_a_rolled_back_write_leaves_nothing_behind(api: InProcess) -> None:
    eve = api.user("eve", orgs={})
    assert _logins(_org_listing(api)) == ["admin"]  # signs admin in: no write is pending after this
    with pytest.raises(RuntimeError), api.store.transaction():
        api.store.add_org_user(1, eve.id, "Viewer")
        # A read inside the transaction sees the new member; it must not be kept past the rollback.
        assert "eve" in [row[5] for row in orgdata.org_user_rows(api.store, 1)[1]]
        raise RuntimeError("roll back")
    assert _logins(_org_listing(api)) == ["admin"]
    users = api.client.get("/api/users/search", auth=("admin", "admin")).json()
    assert users["totalCount"] == 2 and [u["login"] for u in users["users"]] == ["admin", "eve"]


def test_a_write_by_another_connection_is_seen(tmp_path: Path) -> None:
    db = tmp_path / "grafana.db"
    store = Store(db, clock=lambda: float(FROZEN))
    client = TestClient(create_app(store), base_url="http://localhost:3000")
    try:

        def listed() -> tuple[list[str], int]:
            org = client.get("/api/orgs/1/users/search", auth=("admin", "admin")).json()
            users = client.get("/api/users/search", auth=("admin", "admin")).json()
            return [m["login"] for m in org["orgUsers"]], users["totalCount"]

        assert listed() == (["admin"], 1)
        other = sqlite3.connect(db)
        with other:  # what the sandbox keeps between pages (order, totals) must not survive this
            other.execute(
                'INSERT INTO "user" (id, uid, login, email, created, updated, last_seen_at) '
                "VALUES (50, 'u50', 'abe', 'abe@example.com', 0, 0, 0)"
            )
            other.execute(
                "INSERT INTO org_user (org_id, user_id, role, created, updated) "
                "VALUES (1, 50, 'Viewer', 0, 0)"
            )
        other.close()
        assert listed() == (["abe", "admin"], 2)
    finally:
        client.close()
        store.close()


# -- latency is a wait, not a lock --------------------------------------------------------------------------


def test_injected_latency_overlaps_across_concurrent_requests(sandbox: RunningSandbox) -> None:
    latency = 0.4
    faults = httpx.put(f"{sandbox.url}/api/sandbox/faults", json={"latency_ms": latency * 1000})
    assert faults.status_code == 200

    def timed(_: int) -> float:
        start = time.perf_counter()
        response = httpx.get(f"{sandbox.url}/api/users/search?perpage=1000", auth=sandbox.auth, timeout=30)
        assert response.status_code == 200
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        each = list(pool.map(timed, range(8)))
    elapsed = time.perf_counter() - start
    assert min(each) >= latency * 0.95  # asyncio may wake a timer up to its clock resolution early
    # One at a time would take 8 x 0.4 s: the waits overlap (the event loop sleeps; no thread or lock held).
    assert elapsed < 3 * latency, f"8 requests took {elapsed:.2f} s"
