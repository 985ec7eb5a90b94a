"""The sandbox generator (gtool.sandbox.generate): deterministic, consistent, realistic and fast."""

from __future__ import annotations

import collections
import datetime as dt
import time

import pytest

from gtool.sandbox.generate import ADMIN_PASSWORD, GENERATED_PASSWORD, generate
from gtool.sandbox.seed import ORG_ROLES, SandboxSettings, Seed, is_token, problems

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def medium() -> Seed:
    return generate(users=5000, orgs=40, teams=120, seed=7, now=NOW)


def test_same_arguments_give_the_same_seed() -> None:
    a = generate(users=2000, orgs=25, teams=60, seed=42, now=NOW)
    b = generate(users=2000, orgs=25, teams=60, seed=42, now=NOW)
    assert a == b
    assert a.token("provisioning") == b.token("provisioning")


def test_another_seed_gives_another_instance() -> None:
    a = generate(users=500, orgs=10, teams=10, seed=1, now=NOW)
    b = generate(users=500, orgs=10, teams=10, seed=2, now=NOW)
    assert [u.login for u in a.users] != [u.login for u in b.users]


def test_now_only_shifts_the_times() -> None:
    a = generate(users=300, orgs=5, teams=5, seed=3, now=NOW)
    b = generate(users=300, orgs=5, teams=5, seed=3, now=NOW + dt.timedelta(days=10))
    assert [(u.login, u.memberships, u.uid) for u in a.users] == [
        (u.login, u.memberships, u.uid) for u in b.users
    ]
    assert a.teams == b.teams
    shift = dt.timedelta(days=10)
    assert all(y.created - x.created == shift for x, y in zip(a.users, b.users, strict=True))


@pytest.mark.parametrize(
    ("users", "orgs", "teams"),
    [(1, 1, 0), (3, 10, 5), (50, 1, 3), (100, 2, 2), (100, 3, 3), (200, 30, 40), (5000, 40, 120)],
)
def test_generated_seeds_are_consistent(users: int, orgs: int, teams: int) -> None:
    seed = generate(users=users, orgs=orgs, teams=teams, seed=11, now=NOW)
    assert len(seed.users) == users and len(seed.orgs) == orgs and len(seed.teams) == teams
    # Every membership refers to an existing org, logins and emails are unique (ignoring case), every
    # org with members has an Admin, team members belong to the team's org, token keys are valid.
    assert problems(seed) == []
    org_ids = {o.id for o in seed.orgs}
    assert all(m.org_id in org_ids for u in seed.users for m in u.memberships)
    assert len({u.login.casefold() for u in seed.users}) == users
    assert len({u.email.casefold() for u in seed.users}) == users


def test_admin_is_grafanas_first_user(medium: Seed) -> None:
    admin = medium.users[0]
    assert (admin.login, admin.email, admin.password) == ("admin", "admin@localhost", ADMIN_PASSWORD)
    assert admin.is_grafana_admin and admin.auth_module is None and admin.role_in(1) == "Admin"
    assert medium.orgs[0].id == 1 and medium.orgs[0].name == "Main Org."


def test_mix_of_users_looks_like_a_real_instance(medium: Seed) -> None:
    users = medium.users
    modules = collections.Counter(u.auth_module for u in users)
    assert set(modules) == {None, "auth.saml", "ldap", "oauth_generic_oauth", "authproxy"}
    assert modules["auth.saml"] > modules["ldap"] > modules["authproxy"]
    assert 0.01 < sum(u.is_disabled for u in users) / len(users) < 0.06
    assert 1 < sum(u.is_grafana_admin for u in users) < len(users) * 0.02
    assert all(u.password == GENERATED_PASSWORD for u in users[1:] if u.auth_module is None)
    assert all(u.password is None for u in users if u.auth_module is not None)
    labels = {label for u in users for label in u.auth_labels}
    assert labels == {"SAML", "LDAP", "Generic OAuth", "Auth Proxy"}
    # Names and emails read like people's.
    someone = users[1]
    assert " " in someone.name and "@" in someone.email and someone.login.isascii()


def test_last_seen_spreads_over_a_year(medium: Seed) -> None:
    ages = [(NOW - u.last_seen).days for u in medium.users if u.last_seen is not None]
    never = sum(u.last_seen is None for u in medium.users)
    assert 0 < never < len(medium.users) * 0.1
    assert min(ages) == 0 and 300 < max(ages) <= 365
    assert sum(a < 7 for a in ages) > len(ages) / 3  # most people were here this week
    assert all(u.created <= (u.last_seen or NOW) <= NOW for u in medium.users)


def test_memberships_and_roles(medium: Seed) -> None:
    per_user = collections.Counter(len(u.memberships) for u in medium.users)
    assert set(per_user) == {1, 2, 3, 4, 5}
    assert per_user[1] > per_user[2] > per_user[5]
    roles = collections.Counter(m.role for u in medium.users for m in u.memberships)
    assert set(roles) == set(ORG_ROLES)
    assert roles["Viewer"] > roles["Editor"] > roles["Admin"]
    sizes = collections.Counter(m.org_id for u in medium.users for m in u.memberships)
    assert sizes.most_common(1)[0][0] == 1  # Main Org. is the biggest
    assert all(u.current_org_id == u.memberships[0].org_id for u in medium.users)


def test_team_sync_groups_are_carried_by_saml_members(medium: Seed) -> None:
    synced = [t for t in medium.teams if t.external_groups]
    assert 0 < len(synced) < len(medium.teams)
    by_login = {u.login: u for u in medium.users}
    saml_members = 0
    for team in synced:
        for login in team.members:
            user = by_login[login]
            if user.auth_module == "auth.saml":
                saml_members += 1
                groups = next(a.values for a in user.saml_attributes if a.name == "groups")
                assert set(team.external_groups) <= set(groups)
    assert saml_members > 0
    assert all(set(t.admins) <= set(t.members) for t in medium.teams)


def test_saml_users_carry_the_okta_role_groups(medium: Seed) -> None:
    for user in medium.users:
        if user.auth_module != "auth.saml":
            assert user.saml_attributes == ()
            continue
        groups = user.saml_attributes[0].values
        assert "Everyone" in groups
        roles = {m.role for m in user.memberships}
        assert ("Grafana Admins" in groups) == ("Admin" in roles)
        assert ("Grafana Server Admins" in groups) == user.is_grafana_admin


def test_service_account_tokens(medium: Seed) -> None:
    assert [(sa.name, sa.role, sa.org_id) for sa in medium.service_accounts] == [
        ("provisioning", "Admin", 1),
        ("dashboards-reader", "Viewer", 2),
    ]
    assert is_token(medium.token("provisioning")) and is_token(medium.token("dashboards-reader"))
    other = generate(users=10, orgs=2, teams=0, now=NOW, sandbox=SandboxSettings(token_seed="other"))
    assert other.token("provisioning") != generate(users=10, orgs=2, teams=0, now=NOW).token("provisioning")


def test_more_orgs_than_names() -> None:
    seed = generate(users=50, orgs=400, teams=0, seed=5, now=NOW)
    assert len({o.name for o in seed.orgs}) == 400
    assert problems(seed) == []


@pytest.mark.parametrize(
    "kwargs",
    [{"users": 0}, {"orgs": 0}, {"teams": -1}, {"orgs": 2, "sandbox": SandboxSettings(cloud=True)}],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate(**kwargs)  # type: ignore[arg-type]


def test_generation_is_fast() -> None:
    # ~0.15 s on a 2-core CI box; the bound is generous so a loaded machine does not fail it.
    start = time.perf_counter()
    generate(users=20_000, orgs=100, teams=400, seed=42, now=NOW)
    assert time.perf_counter() - start < 5.0


@pytest.mark.slow
def test_100k_users_200_orgs_within_10_seconds() -> None:
    start = time.perf_counter()
    seed = generate(users=100_000, orgs=200, teams=2000, seed=42, now=NOW)
    elapsed = time.perf_counter() - start
    assert len(seed.users) == 100_000 and len(seed.orgs) == 200
    assert elapsed < 10.0, f"{elapsed:.1f} s"
