"""The sandbox seed (gtool.sandbox.seed): the TOML reader, its error messages, and the shipped sample."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from gtool.sandbox.seed import (
    SeedError,
    auth_label,
    is_token,
    load_seed,
    make_token,
    parse_time,
    problems,
    token_checksum,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "sandbox-seed.toml"
OKTA = ROOT / "samples" / "okta" / "grafana.ini"
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

ADMIN = """[[user]]
login = "admin"
password = "admin"
orgs = [{ org = "Main Org.", role = "Admin" }]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "seed.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# -- the shipped sample ----------------------------------------------------------------------------------


def test_sample_loads_and_is_consistent() -> None:
    seed = load_seed(SAMPLE, now=NOW)
    assert problems(seed) == []
    assert [(o.id, o.name) for o in seed.orgs] == [
        (1, "Main Org."),
        (2, "Data Science"),
        (3, "Customer Success"),
        (4, "Partner Portal"),
    ]
    assert seed.sandbox.saml_config == OKTA.resolve()
    assert seed.sandbox.edition == "Enterprise" and not seed.sandbox.cloud


def test_sample_has_every_kind_of_user_the_demo_needs() -> None:
    seed = load_seed(SAMPLE, now=NOW)
    admin = seed.user("admin")
    assert admin.password == "admin" and admin.is_grafana_admin and admin.auth_labels == ()
    modules = {u.auth_module for u in seed.users}
    assert modules >= {None, "auth.saml", "ldap", "authproxy", "oauth_generic_oauth"}
    labels = {label for u in seed.users for label in u.auth_labels}
    assert labels == {"SAML", "LDAP", "Auth Proxy", "Generic OAuth"}
    assert any(u.is_disabled and u.auth_module is None for u in seed.users)  # can be re-enabled
    assert any(u.is_disabled and u.auth_module == "ldap" for u in seed.users)  # 500 on enable
    assert seed.user("new.hire").last_seen is None
    assert len({len(u.memberships) for u in seed.users}) > 2  # users in 1, 2 and 4 orgs
    assert all(u.password for u in seed.users if u.auth_module is None)


def test_sample_token_is_known_to_tests_and_well_formed() -> None:
    seed = load_seed(SAMPLE, now=NOW)
    key = seed.token("gtool-ci")
    assert is_token(key) and key.startswith("glsa_")
    assert key == make_token("gtool-sandbox-demo", 1, "gtool-ci", "ci")
    assert key == load_seed(SAMPLE).token("gtool-ci", "ci", org="Main Org.")  # independent of now
    expired = next(t for _, t in seed.all_tokens() if t.name == "expired")
    assert expired.expires == NOW - dt.timedelta(days=10)


def test_sample_saml_users_match_what_their_next_okta_login_gives() -> None:
    """Every SAML user's orgs, Grafana Admin flag, name and synced teams are what a login with their
    attributes gives under samples/okta/grafana.ini, except the one user the sample marks as DRIFT."""
    from gtool.saml import ini, settings
    from gtool.saml.assertion import Attribute
    from gtool.saml.mapping import Org, Team, simulate

    seed = load_seed(SAMPLE, now=NOW)
    config = settings.load([ini.read_file(OKTA)], env={})
    orgs = [Org(o.id, o.name) for o in seed.orgs]
    teams = [Team(i, t.name, t.org_id, t.external_groups) for i, t in enumerate(seed.teams, 1)]
    saml_users = [u for u in seed.users if u.auth_module == "auth.saml"]
    assert len(saml_users) >= 5 and all(u.saml_attributes for u in saml_users)
    drifted = []
    for user in saml_users:
        current = {m.org_id: m.role for m in user.memberships}
        outcome = simulate(
            config,
            [Attribute(a.name, a.values) for a in user.saml_attributes],
            orgs=orgs,
            teams=teams,
            user_exists=True,
            current_memberships=current,
        )
        assert outcome.login_allowed, user.login
        assert (outcome.login, outcome.email, outcome.name) == (user.login, user.email, user.name)
        assert bool(outcome.grafana_admin) == user.is_grafana_admin, user.login
        synced = {t.name for t in seed.teams if t.external_groups and user.login in t.members}
        assert {m.team.name for m in outcome.teams} == synced, user.login
        if outcome.org_roles != current:
            drifted.append(user.login)
            assert outcome.sync is not None and outcome.sync.changed
    assert drifted == ["former@example.com"]


# -- reading good files ----------------------------------------------------------------------------------


def test_minimal_file_gets_main_org_and_defaults(tmp_path: Path) -> None:
    seed = load_seed(write(tmp_path, ADMIN), now=NOW)
    assert [(o.id, o.name) for o in seed.orgs] == [(1, "Main Org.")]
    (admin,) = seed.users
    assert admin.email == "admin"  # Grafana copies the login when there is no email
    assert admin.created == NOW and admin.last_seen is None
    assert admin.current_org_id == 1 and admin.role_in(1) == "Admin"
    assert admin.auth_module is None and admin.auth_id == "" and admin.auth_labels == ()
    assert seed.sandbox.version is None and seed.sandbox.saml_config is None
    assert seed.source == str(tmp_path / "seed.toml")


def test_full_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "grafana.ini").write_text("[auth.saml]\nenabled = true\n", encoding="utf-8")
    seed = load_seed(
        write(
            tmp_path,
            """
            [sandbox]
            version = "11.5.2"
            edition = "Open Source"
            saml_config = "conf/grafana.ini"
            token_seed = "t"

            [[org]]
            name = "Main Org."
            [[org]]
            id = 7
            name = "Ops"
            [[org]]
            name = "Later"

            [[user]]
            email = "jane@example.com"
            name = "Jane Doe"
            auth_module = "auth.saml"
            is_grafana_admin = true
            created = 2025-01-10T08:00:00Z
            last_seen = "2 hours ago"
            orgs = [{ org = 7, role = "Admin" }, { org = "Main Org.", role = "None" }]
            current_org = "Main Org."
            [user.saml_attributes]
            groups = ["ops", "sre"]
            mail = "jane@example.com"

            [[user]]
            login = "bob"
            password = "bobpw"
            created = 2025-02-01
            last_seen = "2025-03-01T10:00:00+02:00"
            is_disabled = true
            orgs = [{ org = "Main Org.", role = "Admin" }, { org = "Ops", role = "Viewer" }]

            [[team]]
            org = "Ops"
            name = "SRE"
            members = ["JANE@example.com"]
            admins = ["bob"]
            external_groups = ["sre"]

            [[service_account]]
            org = 7
            name = "ci"
            role = "Editor"
            tokens = ["one", { name = "two", expires = "in 30 days" }]
            """,
        ),
        now=NOW,
    )
    assert seed.sandbox.version == "11.5.2" and seed.sandbox.edition == "Open Source"
    assert seed.sandbox.saml_config == (tmp_path / "conf" / "grafana.ini").resolve()
    assert [(o.id, o.name) for o in seed.orgs] == [(1, "Main Org."), (7, "Ops"), (8, "Later")]
    jane, bob = seed.users
    assert jane.login == jane.email == "jane@example.com"  # login copies the email
    assert jane.auth_labels == ("SAML",) and jane.auth_id == "jane@example.com"
    assert jane.created == dt.datetime(2025, 1, 10, 8, tzinfo=dt.UTC)
    assert jane.last_seen == NOW - dt.timedelta(hours=2)
    assert [(m.org_id, m.role) for m in jane.memberships] == [(7, "Admin"), (1, "None")]
    assert jane.current_org_id == 1
    assert [(a.name, a.values) for a in jane.saml_attributes] == [
        ("groups", ("ops", "sre")),
        ("mail", ("jane@example.com",)),
    ]
    assert bob.created == dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
    assert bob.last_seen == dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC)  # normalised to UTC
    assert bob.is_disabled and not bob.is_grafana_admin
    (team,) = seed.teams
    assert team.org_id == 7
    assert team.members == ("jane@example.com", "bob")  # emails resolve to logins; admins are members
    assert team.admins == ("bob",)
    (sa,) = seed.service_accounts
    assert [t.name for t in sa.tokens] == ["one", "two"]
    assert sa.tokens[1].expires == NOW + dt.timedelta(days=30)
    assert seed.token("ci", "one") == make_token("t", 7, "ci", "one")
    assert problems(seed) == []


def test_uids_are_stable_and_can_be_given(tmp_path: Path) -> None:
    text = ADMIN + '\n[[team]]\norg = 1\nname = "A"\n\n[[team]]\norg = 1\nname = "B"\nuid = "my-team_1"\n'
    first = load_seed(write(tmp_path, text), now=NOW)
    again = load_seed(write(tmp_path, text), now=NOW + dt.timedelta(days=3))
    assert first.users[0].uid == again.users[0].uid
    assert len(first.users[0].uid) == 14 and first.users[0].uid[0] in "abcdef"
    assert first.teams[0].uid == again.teams[0].uid != first.teams[1].uid
    assert first.teams[1].uid == "my-team_1"


def test_explicit_token_key_is_kept(tmp_path: Path) -> None:
    key = make_token("elsewhere", 1, "x", "y")
    text = (
        ADMIN
        + f'\n[[service_account]]\norg = 1\nname = "ci"\ntokens = [{{ name = "fixed", key = "{key}" }}]\n'
    )
    seed = load_seed(write(tmp_path, text), now=NOW)
    assert seed.token("ci") == key
    assert seed.service_accounts[0].role == "Viewer"  # Grafana's default for a new service account


def test_token_lookup_errors(tmp_path: Path) -> None:
    seed = load_seed(write(tmp_path, ADMIN), now=NOW)
    with pytest.raises(KeyError):
        seed.token("nobody")
    with pytest.raises(KeyError):
        seed.user("nobody")
    with pytest.raises(KeyError):
        seed.org("Nowhere")


# -- errors: each names the file, the line, the table and what to do -----------------------------------

ERRORS = [
    pytest.param('[[user]]\nlogin = "a\n', 2, "not valid TOML", "double quotes", id="toml-syntax"),
    pytest.param(
        '[[users]]\nlogin = "a"\n', 1, "unknown table or key 'users'", "did you mean 'user'", id="top-typo"
    ),
    pytest.param(
        '[user]\nlogin = "a"\n',
        1,
        "user must be written as [[user]] tables",
        "two brackets",
        id="single-brackets",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\nemial = "a@x"\npassword = "pwpw"\norgs = []\n',
        3,
        "[[user]] #1: unknown key 'emial'",
        "did you mean 'email'",
        id="user-key-typo",
    ),
    pytest.param(
        ADMIN + '[[user]]\nlogin = "b"\npassword = "pwpw"\norgs = [{ org = "Main Org", role = "Viewer" }]\n',
        8,
        "[[user]] 'b': orgs entry 1: no org named 'Main Org'",
        "did you mean 'Main Org.'",
        id="unknown-org-name",
    ),
    pytest.param(
        ADMIN + '[[user]]\nlogin = "b"\npassword = "pwpw"\norgs = [{ org = 5, role = "Viewer" }]\n',
        8,
        "no org with id 5",
        "use one of: 1",
        id="unknown-org-id",
    ),
    pytest.param(
        ADMIN + '[[user]]\nlogin = "ADMIN"\npassword = "pwpw"\norgs = []\n',
        6,
        "[[user]] 'ADMIN': login 'ADMIN' is already used by the [[user]] at line 1",
        "ignoring case",
        id="duplicate-login",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\nemail = "x@y"\npassword = "pwpw"\norgs = []\n'
        '[[user]]\nlogin = "b"\nemail = "X@Y"\npassword = "pwpw"\norgs = []\n',
        8,
        "email 'X@Y' is already used by the [[user]] at line 1",
        "its own email",
        id="duplicate-email",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\norgs = [{ org = 1, role = "viewer" }]\n',
        4,
        "orgs entry 1: role 'viewer' is not a Grafana org role",
        "exactly this case",
        id="role-case",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\n',
        1,
        "[[user]] 'a': orgs is missing",
        "orgs = []",
        id="no-orgs",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\norgs = []\n',
        1,
        "a local user needs a password",
        "auth_module",
        id="no-password",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "abc"\norgs = []\n',
        3,
        "shorter than 4",
        "at least 4",
        id="short-password",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\nauth_module = "saml"\norgs = []\n',
        3,
        "auth_module 'saml' is not a Grafana auth module",
        "did you mean 'auth.saml'",
        id="auth-module",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\ncreated = "2025-01-01T10:00:00"\norgs = []\n',
        4,
        "created: '2025-01-01T10:00:00' has no time zone",
        "with a zone",
        id="naive-time",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\nlast_seen = "3 fortnights ago"\norgs = []\n',
        4,
        "last_seen: '3 fortnights ago' is not a relative time",
        '"never"',
        id="bad-relative-time",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\n'
        'created = "2 days ago"\nlast_seen = "3 days ago"\norgs = []\n',
        5,
        "is before created",
        "seen after being created",
        id="seen-before-created",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\ncreated = "in 2 days"\norgs = []\n',
        4,
        "is in the future",
        "past time",
        id="future",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\n'
        'orgs = [{ org = 1, role = "Admin" }, { org = "Main Org.", role = "Viewer" }]\n',
        4,
        "orgs entry 2: the user is already in org 'Main Org.'",
        "each org once",
        id="org-twice",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\norgs = [{ org = 1, role = "Admin", rol = "x" }]\n',
        4,
        "orgs entry 1: unknown key 'rol'",
        "did you mean 'role'",
        id="membership-key",
    ),
    pytest.param(
        '[[org]]\nname = "Main Org."\n[[org]]\nname = "Ops"\n'
        '[[user]]\nlogin = "a"\npassword = "pwpw"\n'
        'orgs = [{ org = 1, role = "Admin" }]\ncurrent_org = "Ops"\n',
        9,
        "current_org 'Ops' is not one of the user's orgs",
        "add the org to orgs",
        id="current-org",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\norgs = []\n[user.saml_attributes]\ngroups = ["x"]\n',
        5,
        "saml_attributes is set, but the user is not a SAML user",
        'auth_module = "auth.saml"',
        id="attributes-not-saml",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\nauth_module = "auth.saml"\norgs = []\n[user.saml_attributes]\ngroups = [1]\n',
        6,
        "SAML attribute 'groups' must be a string or a list of strings",
        "[user.saml_attributes]",
        id="attribute-type",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\nis_disabled = "yes"\norgs = []\n',
        4,
        "is_disabled must be true or false, not 'yes'",
        "is_disabled = true",
        id="boolean-type",
    ),
    pytest.param(
        '[[user]]\nlogin = "a"\npassword = "pwpw"\norgs = [{ org = 1, role = "Viewer" }]\n',
        1,
        "[[org]] 'Main Org.' has members but no Admin",
        "make one of its users Admin",
        id="no-admin",
    ),
    pytest.param(
        ADMIN
        + '[[user]]\nlogin = "b"\npassword = "pwpw"\norgs = []\n'
        + '[[team]]\norg = 1\nname = "T"\nmembers = ["b"]\n',
        12,
        "[[team]] 'T': members: 'b' is not in org 'Main Org.', the team's org",
        'add { org = "Main Org.", role = "Viewer" }',
        id="team-member-outside-org",
    ),
    pytest.param(
        ADMIN + '[[team]]\norg = 1\nname = "T"\nmembers = ["ghost"]\n',
        8,
        "members: no user 'ghost'",
        "login or email of a [[user]]",
        id="team-unknown-member",
    ),
    pytest.param(
        ADMIN + '[[team]]\norg = 1\nname = "T"\n[[team]]\norg = "Main Org."\nname = "T"\n',
        10,
        "org 'Main Org.' already has a team 'T' (line 5)",
        "unique within an org",
        id="duplicate-team",
    ),
    pytest.param(
        ADMIN + '[[team]]\nname = "T"\n',
        5,
        "[[team]] 'T': org is missing",
        "belongs to one org",
        id="team-no-org",
    ),
    pytest.param(
        '[[org]]\nid = 2\nname = "Ops"\n', 1, "no org has id 1", 'id = 1, name = "Main Org."', id="no-org-1"
    ),
    pytest.param(
        '[[org]]\nname = "Main Org."\n[[org]]\nname = "Main Org."\n',
        4,
        "[[org]] 'Main Org.': org name 'Main Org.' is already used by the [[org]] at line 1",
        "its own name",
        id="duplicate-org-name",
    ),
    pytest.param(
        '[[org]]\nid = 0\nname = "X"\n', 2, "id must be a positive integer", "leave it out", id="org-id"
    ),
    pytest.param(
        '[sandbox]\ncloud = true\n[[org]]\nname = "Main Org."\n[[org]]\nname = "Ops"\n',
        5,
        "cloud = true, but the seed has 2 orgs",
        "a single org",
        id="cloud-orgs",
    ),
    pytest.param(
        '[sandbox]\nversoin = "12.0.0"\n',
        2,
        "[sandbox]: unknown key 'versoin'",
        "did you mean 'version'",
        id="sandbox-key",
    ),
    pytest.param(
        '[sandbox]\nedition = "enterprise"\n',
        2,
        "edition 'enterprise' is not a Grafana edition",
        '"Enterprise"',
        id="edition",
    ),
    pytest.param(
        '[sandbox]\nsaml_config = "nope/grafana.ini"\n',
        2,
        "saml_config 'nope/grafana.ini' is not a file",
        "relative to the seed file",
        id="saml-config-missing",
    ),
    pytest.param(
        "[sandbox]\nversion = 12\n", 2, "version must be a non-empty string", "quote it", id="version-type"
    ),
    pytest.param(
        '[sandbox]\nversion = "v12"\n', 2, "'v12' is not a Grafana version", '"12.3.0"', id="version-format"
    ),
    pytest.param(
        ADMIN + '[[service_account]]\norg = 1\nname = "ci"\ntokens = [{ name = "t", key = "glsa_nope" }]\n',
        8,
        "[[service_account]] 'ci': token 't': key is not a valid glsa_ token",
        "token_seed",
        id="token-key",
    ),
    pytest.param(
        ADMIN + '[[service_account]]\norg = 1\nname = "a"\ntokens = ["t"]\n'
        '[[service_account]]\norg = 1\nname = "b"\ntokens = ["t"]\n',
        12,
        "org 'Main Org.' already has a token 't' (of 'a')",
        "rename one",
        id="duplicate-token",
    ),
    pytest.param(
        ADMIN + '[[service_account]]\norg = 1\nname = "a"\nrole = "Owner"\n',
        8,
        "role 'Owner' is not a Grafana org role",
        "None, Viewer, Editor, Admin",
        id="sa-role",
    ),
    pytest.param(
        ADMIN + '[[service_account]]\norg = 1\nname = "a"\ntokens = [{ name = "t", expires = "soon" }]\n',
        8,
        "tokens entry 1: expires: 'soon' is not a time",
        "3 days ago",
        id="token-expiry",
    ),
]


@pytest.mark.parametrize(("text", "line", "message", "hint"), ERRORS)
def test_errors_name_file_line_entry_and_fix(
    tmp_path: Path, text: str, line: int, message: str, hint: str
) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeedError) as exc:
        load_seed(path, now=NOW)
    err = exc.value
    assert err.message.startswith(f"{path}:{line}:"), err.message
    assert message in err.message
    assert hint in err.hint
    assert err.line == line and err.path == str(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError) as exc:
        load_seed(tmp_path / "nope.toml")
    assert "nope.toml" in exc.value.message and "--seed" in exc.value.hint


# -- helpers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "label"),
    [
        ("auth.saml", "SAML"),
        ("ldap", "LDAP"),
        ("", "LDAP"),  # Grafana's FIXME mapping
        ("authproxy", "Auth Proxy"),
        ("oauth_generic_oauth", "Generic OAuth"),
        ("oauth_grafananet", "grafana.com"),
        ("jwt", "JWT"),
        ("oauth_okta", "Okta"),
        ("something", "Unknown"),
    ],
)
def test_auth_labels_follow_grafana(module: str, label: str) -> None:
    assert auth_label(module) == label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("3 days ago", NOW - dt.timedelta(days=3)),
        ("2h ago", NOW - dt.timedelta(hours=2)),
        ("1 year ago", NOW - dt.timedelta(days=365)),
        ("in 2 weeks", NOW + dt.timedelta(weeks=2)),
        ("6 months ago", NOW - dt.timedelta(days=180)),
        ("2025-01-10T08:00:00Z", dt.datetime(2025, 1, 10, 8, tzinfo=dt.UTC)),
        (dt.date(2025, 1, 10), dt.datetime(2025, 1, 10, tzinfo=dt.UTC)),
    ],
)
def test_parse_time(text: object, expected: dt.datetime) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["in 3 days ago", "3 days", "yesterday", 5, "2025-13-01T00:00:00Z"])
def test_parse_time_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        parse_time(text, NOW)


def test_token_format_matches_grafana_satokengen() -> None:
    key = make_token("seed", 1, "sa", "tok")
    prefix, secret, checksum = key.split("_")
    assert prefix == "glsa" and len(secret) == 32 and secret.isalnum()
    assert checksum == token_checksum(secret) and len(checksum) == 8
    assert is_token(key)
    assert not is_token(key[:-1] + ("0" if key[-1] != "0" else "1"))  # checksum mismatch
    assert make_token("seed", 1, "sa", "tok") == key != make_token("seed", 2, "sa", "tok")
