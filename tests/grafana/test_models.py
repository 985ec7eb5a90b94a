"""Models parse the contract's examples, Grafana 10 and 13 shapes alike, and never trip on odd JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gtool.grafana.models import (
    AuthToken,
    BuildInfo,
    FrontendSettings,
    Health,
    Invite,
    ModelError,
    Org,
    OrgUser,
    ServiceAccount,
    SSOSettings,
    Team,
    TeamGroup,
    TeamMember,
    UserOrg,
    UserProfile,
    UserSearchHit,
    WriteResult,
    find_provider,
    normalize_role,
    parse_time,
    role_rank,
)
from tests.grafana import E1, E2, E3, E4, E5, E7_OK, E11, E12, E13, SA_USER

MODELS: list[Any] = [
    UserSearchHit,
    UserProfile,
    UserOrg,
    AuthToken,
    Org,
    OrgUser,
    Invite,
    Team,
    TeamMember,
    TeamGroup,
    ServiceAccount,
    SSOSettings,
    BuildInfo,
    FrontendSettings,
    Health,
    WriteResult,
]


def test_e1_user_search_hits() -> None:
    users = [UserSearchHit.from_json(u) for u in json.loads(E1)["users"]]
    admin, jane = users
    assert admin.is_admin and not admin.is_external and admin.auth_labels == ()
    assert jane.auth_labels == ("SAML",) and jane.is_external
    assert jane.uid == "ae5t1b2c3d4e5f" and jane.last_seen_at_age == "16 hours"
    assert jane.last_seen_at == datetime(2025, 5, 5, 16, 40, 2, tzinfo=UTC)
    assert jane.is_provisioned is None and jane.created is None  # Grafana 11/12: not sent


def test_grafana_13_search_hit_fields() -> None:
    hit = UserSearchHit.from_json(
        {"id": 3, "login": "x", "isProvisioned": True, "created": "2025-02-01T12:00:00.123456789Z"}
    )
    assert hit.is_provisioned is True
    assert hit.created == datetime(2025, 2, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_e2_user_orgs() -> None:
    orgs = [UserOrg.from_json(o) for o in json.loads(E2)]
    assert orgs == [UserOrg(1, "Main Org.", "Editor"), UserOrg(3, "Ops", "Viewer")]


def test_e3_org_users_null_labels_and_synced() -> None:
    admin, jane = (OrgUser.from_json(x) for x in json.loads(E3))
    assert admin.auth_labels == () and not admin.is_external and not admin.is_externally_synced
    assert (
        jane.is_externally_synced and jane.provider is not None and jane.provider.ini_section == "auth.saml"
    )
    assert jane.created == datetime(2025, 2, 1, 12, 0, tzinfo=UTC)


def test_grafana_10_org_user_without_newer_fields() -> None:
    old = {k: v for k, v in json.loads(E3)[1].items() if k not in ("uid", "created", "isProvisioned")}
    jane = OrgUser.from_json(old)
    assert jane.uid == "" and jane.created is None and jane.is_provisioned is None
    assert jane.role == "Editor" and jane.is_externally_synced


def test_e4_org_users_page_item() -> None:
    (jane,) = (OrgUser.from_json(x) for x in json.loads(E4)["orgUsers"])
    assert (jane.org_id, jane.user_id, jane.login, jane.role) == (1, 2, "jane", "Editor")


def test_e5_profile() -> None:
    p = UserProfile.from_json(json.loads(E5))
    assert p.is_external and p.is_externally_synced and not p.is_grafana_admin_externally_synced
    assert p.org_id == 1 and not p.is_service_account and p.provider is not None
    assert p.is_provisioned is False


def test_service_account_identity() -> None:
    sa = UserProfile.from_json(json.loads(SA_USER))
    assert sa.is_service_account and sa.login == "sa-1-gtool" and sa.org_id == 1
    assert sa.created_at is None and sa.updated_at is None and sa.auth_labels == ()


def test_lookup_profile_with_null_labels() -> None:
    p = UserProfile.from_json({"id": 2, "login": "jane", "authLabels": None, "avatarUrl": ""})
    assert p.auth_labels == () and not p.is_externally_synced


def test_e11_health_and_e12_team_and_e13_sso() -> None:
    h = Health.from_json(json.loads(E11))
    assert h.ok and h.version == "11.5.2"
    (team,) = (Team.from_json(t) for t in json.loads(E12)["teams"])
    assert (
        team.name == "SRE"
        and team.member_count == 2
        and team.permission == 0
        and team.is_provisioned is False
    )
    sso = SSOSettings.from_json(json.loads(E13), etag="db87f729761898ee")
    assert sso.provider == "saml" and sso.enabled and not sso.skip_org_role_sync
    assert sso.source == "system" and sso.etag == "db87f729761898ee"
    assert sso.settings["roleValuesEditor"] == "grafana-editors"


def test_team_member_and_group() -> None:
    m = TeamMember.from_json(
        {"orgId": 1, "teamId": 1, "teamUID": "t", "userId": 2, "userUID": "u", "auth_module": "auth.saml",
         "email": "j@x", "name": "J", "login": "jane", "avatarUrl": "", "labels": ["SAML"], "permission": 4}
    )  # fmt: skip
    assert m.auth_module == "auth.saml" and m.labels == ("SAML",) and m.permission == 4
    g = TeamGroup.from_json({"orgId": 1, "teamId": 1, "groupId": "cn=editors,ou=groups,dc=grafana,dc=org"})
    assert g.group_id.startswith("cn=editors")


def test_frontend_settings_cloud_hints() -> None:
    fs = FrontendSettings.from_json(
        {"buildInfo": {"version": "12.1.0-89456", "edition": "Enterprise"}, "namespace": "stacks-123"}
    )
    assert fs.build_info.version == "12.1.0-89456" and fs.namespace == "stacks-123"
    assert FrontendSettings.from_json({}).build_info == BuildInfo()


def test_write_result_ids() -> None:
    assert WriteResult.from_json(json.loads(E7_OK)) == WriteResult("User added to organization", 2)
    assert WriteResult.from_json({"id": 5, "uid": "a1", "message": "User created"}) == WriteResult(
        "User created", 5, "a1"
    )
    assert WriteResult.from_json({"message": "Organization created", "orgId": 2}).id == 2
    assert WriteResult.from_json(None) == WriteResult("")


def test_invite_hides_code_and_url_from_repr() -> None:
    inv = Invite.from_json(
        {"id": 1, "orgId": 1, "email": "a@b", "code": "SECRETCODE", "url": "https://g/invite/SECRETCODE"}
    )
    assert "SECRETCODE" not in repr(inv) and inv.code == "SECRETCODE"


def test_service_account_and_token() -> None:
    sa = ServiceAccount.from_json({"id": 5, "login": "sa-1-gtool", "role": "Admin", "orgId": 1, "tokens": 2})
    assert sa.role == "Admin" and sa.tokens == 2
    t = AuthToken.from_json(
        {"id": 1, "isActive": True, "clientIp": "10.0.0.1", "seenAt": "2025-05-06T09:12:31Z"}
    )
    assert t.is_active and t.seen_at is not None


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2025-05-06T09:12:31Z", datetime(2025, 5, 6, 9, 12, 31, tzinfo=UTC)),
        ("2025-05-06T09:12:31.5+02:00", datetime.fromisoformat("2025-05-06T09:12:31.5+02:00")),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        ("yesterday", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_time(text: object, want: datetime | None) -> None:
    assert parse_time(text) == want


def test_tolerant_of_wrong_types() -> None:
    u = OrgUser.from_json(
        {"orgId": "1", "userId": 2.0, "login": 7, "role": None, "authLabels": "SAML", "isDisabled": 1}
    )
    assert (u.org_id, u.user_id, u.login, u.role, u.auth_labels, u.is_disabled) == (1, 2, "7", "", (), False)


def test_not_an_object_is_a_model_error() -> None:
    with pytest.raises(ModelError):
        UserProfile.from_json(["not", "an", "object"])
    with pytest.raises(ModelError):
        Org.from_json("Main Org.")


@pytest.mark.parametrize(
    ("given_role", "want"),
    [("viewer", "Viewer"), ("EDITOR", "Editor"), (" Admin ", "Admin"), ("none", "None")],
)
def test_normalize_role(given_role: str, want: str) -> None:
    assert normalize_role(given_role) == want


@pytest.mark.parametrize("bad", ["", "Superuser", "Owner", "GrafanaAdmin"])
def test_normalize_role_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown org role"):
        normalize_role(bad)


def test_role_rank_orders_roles() -> None:
    assert role_rank("None") < role_rank("Viewer") < role_rank("Editor") < role_rank("Admin")
    assert role_rank("Owner") == 0 == role_rank(None)


@pytest.mark.parametrize(
    ("name", "section"),
    [
        ("SAML", "auth.saml"),
        ("saml", "auth.saml"),
        ("oauth_azuread", "auth.azuread"),
        ("AzureAD", "auth.azuread"),
    ],
)
def test_find_provider(name: str, section: str) -> None:
    p = find_provider(name)
    assert p is not None and p.ini_section == section


def test_unknown_provider() -> None:
    assert find_provider("Auth Proxy") is None and find_provider("") is None and find_provider(None) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["id", "userId", "orgId", "login", "email", "role", "authLabels", "lastSeenAt", "created", "isDisabled",
     "isExternallySynced", "uid", "settings", "buildInfo", "namespace", "message", "labels", "permission"]
)  # fmt: skip


@given(st.dictionaries(KEYS, JSON, max_size=10))
def test_every_model_parses_any_object(data: dict[str, Any]) -> None:
    for model in MODELS:
        model.from_json(data)


@given(
    st.builds(
        dict,
        id=st.integers(1, 10**9),
        login=st.text(min_size=1, max_size=30),
        email=st.emails(),
        isAdmin=st.booleans(),
        authLabels=st.lists(st.sampled_from(["SAML", "LDAP", "OAuth"]), max_size=1),
    )
)
def test_search_hit_keeps_what_grafana_sent(data: dict[str, Any]) -> None:
    hit = UserSearchHit.from_json(data)
    assert (hit.id, hit.login, hit.email, hit.is_admin) == (
        data["id"],
        data["login"],
        data["email"],
        data["isAdmin"],
    )
    assert hit.auth_labels == tuple(data["authLabels"])


@pytest.mark.parametrize("value", ["²", "٣", "1e3", "--1"])
def test_non_ascii_or_odd_numbers_fall_back(value: str) -> None:
    assert Org.from_json({"id": value, "name": "x"}).id == 0


# --- fast paths: the same answers as the general path, for every shape -----------------------------------


def _shown(value: datetime | None) -> str | None:
    # isoformat, not ==: aware datetimes at the same instant are equal whatever their offsets
    return None if value is None else value.isoformat()


def _general_parse_time(value: object) -> datetime | None:
    """The reading before the fast path (strip, cut the fraction to six digits, fromisoformat): the
    reference the fast path must agree with."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@pytest.mark.parametrize(
    "text",
    [
        "2025-05-06T09:12:31Z",  # Grafana's usual shape: the fast path
        "2025-05-06T09:12:31+02:00",  # a server not on UTC: the fast path too
        "2025-05-06 09:12:31Z",
        "2025-05-06",
        "20250506T091231Z",
        " 2025-05-06T09:12:31Z",  # the odd shapes the general path strips or cuts
        "2025-05-06T09:12:31Z\n",
        "\t2025-05-06T09:12:31+02:00 ",
        "2025-05-06T09:12:31.123456789Z",
        "2025-05-06T09:12:31.5Z",
        "2025-05-06T09:12:31.1234567+02:00",
        "2025-13-06T09:12:31Z",  # garbage in either shape: None
        "2025-05-06T25:12:31Z",
        "12345",
        "Z",
        "0001-01-01T00:00:00Z",
    ],
)
def test_parse_time_fast_path_agrees_with_the_general_path(text: str) -> None:
    assert _shown(parse_time(text)) == _shown(_general_parse_time(text))


TIMES = st.builds(
    lambda day, sep, frac, zone, pad: f"{pad[0]}{day.isoformat()}{sep}12:34:56{frac}{zone}{pad[1]}",
    st.dates(),
    st.sampled_from(["T", " ", "t", "_"]),
    st.sampled_from(["", ".", ".1", ".123", ".123456", ".1234567", ".123456789"]),
    st.sampled_from(["Z", "z", "+02:00", "-0530", "+00:00", "", "UTC"]),
    st.tuples(st.sampled_from(["", " ", "\t", "\n"]), st.sampled_from(["", " ", "\n", "\u3000"])),
)


@given(TIMES | st.text(max_size=30))
def test_parse_time_agrees_with_the_general_path_on_any_text(text: str) -> None:
    assert _shown(parse_time(text)) == _shown(_general_parse_time(text))


LISTING_MODELS: list[Any] = [UserSearchHit, OrgUser, Team, TeamMember]


@given(st.dictionaries(KEYS, JSON, max_size=10))
def test_listing_models_are_whole_objects(data: dict[str, Any]) -> None:
    # Built without __init__ for speed: every field is set, and the object equals (and hashes like) the
    # one __init__ makes from the same values.
    for model in LISTING_MODELS:
        got = model.from_json(data)
        assert set(vars(got)) == {f.name for f in dataclasses.fields(model)}
        same = dataclasses.replace(got)
        assert same == got and repr(same) == repr(got)
        with pytest.raises(dataclasses.FrozenInstanceError):
            got.id = 1


def test_listing_models_from_a_full_payload() -> None:
    u = OrgUser.from_json(json.loads(E3)[1])
    assert u == OrgUser(
        org_id=1,
        user_id=2,
        login="jane",
        role="Editor",
        email="jane@example.com",
        name="Jane Doe",
        uid="ae5t1b2c3d4e5f",
        avatar_url="/avatar/9e26471d35a78862c17e467d87cddedf",
        last_seen_at=datetime(2025, 5, 5, 16, 40, 2, tzinfo=UTC),
        last_seen_at_age="16 hours",
        created=datetime(2025, 2, 1, 12, 0, tzinfo=UTC),
        is_disabled=False,
        auth_labels=("SAML",),
        is_externally_synced=True,
        is_provisioned=False,
    )
    assert hash(u) == hash(dataclasses.replace(u))


class _Str(str):
    pass


class _Int(int):
    pass


@pytest.mark.parametrize(
    ("data", "want"),
    [
        ({"userId": _Int(7), "login": _Str("x")}, (7, "x", ())),  # subclasses take the general path
        ({"userId": True, "login": 3.0}, (0, "3.0", ())),  # a bool is no id; a number is a string
        ({"userId": "12", "authLabels": ["SAML"]}, (12, "", ("SAML",))),
        ({"authLabels": ["SAML", 3, None, "LDAP"]}, (0, "", ("SAML", "LDAP"))),
        ({"authLabels": [3]}, (0, "", ())),
        ({"authLabels": "SAML"}, (0, "", ())),
        ({"authLabels": None}, (0, "", ())),
    ],
)
def test_readers_fall_back_for_odd_values(data: dict[str, Any], want: tuple[Any, ...]) -> None:
    u = OrgUser.from_json(data)
    assert (u.user_id, u.login, u.auth_labels) == want
