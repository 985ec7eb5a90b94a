"""Mapping-policy tests (gtool.saml.policytest): the CASES.toml reader, the comparison, the shipped sample."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from gtool.saml import ini, settings
from gtool.saml.mapping import Org, Team
from gtool.saml.policytest import CasesError, load_cases, run_cases, to_text
from gtool.saml.settings import GrafanaConfig

ROOT = Path(__file__).resolve().parents[2]
OKTA = ROOT / "samples" / "okta" / "grafana.ini"
SAMPLE = ROOT / "samples" / "mapping-tests.toml"

CONFIG = """
[auth.saml]
enabled = true
allow_sign_up = true
assertion_attribute_email = mail
assertion_attribute_login = mail
assertion_attribute_role = groups
assertion_attribute_groups = groups
assertion_attribute_org = org
role_values_editor = devs
role_values_grafana_admin = root
org_mapping = eng:2:Viewer
allowed_organizations = eng ops
"""


ONE_CASE = '[[case]]\nname = "x"\nattributes = { a = "a" }\nexpect = { login_allowed = true }\n'


def cfg(text: str = CONFIG) -> GrafanaConfig:
    return settings.load([ini.parse_text(textwrap.dedent(text), "grafana.ini")], env={})


def write(tmp_path: Path, text: str, name: str = "cases.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error(path: Path) -> CasesError:
    with pytest.raises(CasesError) as exc:
        run_cases(path, cfg())
    return exc.value


# -- the shipped sample --------------------------------------------------------------------------------


def test_sample_passes_against_the_okta_config() -> None:
    config = settings.load([ini.read_file(OKTA)], env={})
    results = run_cases(SAMPLE, config)
    assert len(results) >= 5
    failures = [r.to_text() for r in results if not r.passed]
    assert not failures, "\n".join(failures)
    names = " ".join(r.name for r in results)
    for kind in ("server admin", "editor", "plain user", "allowed_organizations", "org_mapping"):
        assert kind in names


def test_sample_covers_a_denied_login_and_grafana_admin() -> None:
    cases = load_cases(SAMPLE).cases
    assert any(c.expect.get("login_allowed") is False for c in cases)
    assert any(c.expect.get("grafana_admin") is True for c in cases)


# -- comparison ---------------------------------------------------------------------------------------------


def test_passing_and_failing_cases_with_a_diff(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[case]]
        name = "editor"
        attributes = { mail = "a@b", groups = ["devs"], org = "eng" }
        expect = { org_roles = { "2" = "Editor" }, grafana_admin = false }

        [[case]]
        name = "wrong expectation"
        attributes = { mail = "a@b", groups = ["devs"], org = "eng" }
        expect = { org_roles = { "2" = "Admin", "3" = "Viewer" }, grafana_admin = true, login = "x" }
        """,
    )
    ok, bad = run_cases(path, cfg())
    assert ok.passed and not bad.passed
    diffs = {m.field: m.diff for m in bad.mismatches}
    assert set(diffs) == {"org_roles", "grafana_admin", "login"}
    assert (
        diffs["org_roles"]
        == "org 2: expected Admin, got Editor; org 3: expected Viewer, the user gets no role there"
    )
    assert diffs["grafana_admin"] == "expected true, got false"
    assert diffs["login"] == 'expected "x", got "a@b"'
    text = to_text([ok, bad])
    assert "PASS  editor" in text and "FAIL  wrong expectation" in text
    assert "1 passed, 1 failed" in text
    assert f"{path}:6" in text  # the failing case's line


def test_only_the_given_expectations_are_compared(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[case]]
        name = "only login_allowed"
        attributes = { mail = "a@b", org = "eng" }
        expect = { login_allowed = true }
        """,
    )
    [result] = run_cases(path, cfg())
    assert result.passed


def test_denial_and_reason_substring(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[case]]
        name = "outsider"
        attributes = { mail = "a@b", org = "sales" }
        [case.expect]
        login_allowed = false
        login_denied_reason = "allowed organization"
        org_roles = {}
        grafana_admin = "unmanaged"
        """,
    )
    [result] = run_cases(path, cfg())
    assert result.passed, result.to_text()


def test_login_allowed_mismatch_shows_the_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[case]]
        name = "outsider"
        attributes = { mail = "a@b", org = "sales" }
        expect = { login_allowed = true }
        """,
    )
    [result] = run_cases(path, cfg())
    assert "denied: not a member of an allowed organization" in result.mismatches[0].diff
    assert "allowed_organizations: login denied" in result.to_text()


def test_user_exists_and_current_memberships(tmp_path: Path) -> None:
    config = cfg(CONFIG.replace("allow_sign_up = true", "allow_sign_up = false"))
    path = write(
        tmp_path,
        """
        [[case]]
        name = "new user refused"
        user_exists = false
        attributes = { mail = "a@b", org = "eng" }
        expect = { login_allowed = false, login_denied_reason = "Sign up is disabled" }

        [[case]]
        name = "existing user re-synced"
        current_memberships = { "1" = "Admin", "2" = "Editor" }
        attributes = { mail = "a@b", org = "eng" }
        expect = { login_allowed = true, org_roles = { "2" = "Viewer" } }
        """,
    )
    results = run_cases(path, config)
    assert [r.passed for r in results] == [True, True], to_text(results)
    assert results[1].outcome.sync is not None and results[1].outcome.sync.removed == {1: "Admin"}


def test_teams_by_name_or_id_from_team_tables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[team]]
        id = 7
        name = "Developers"
        org_id = 2
        external_groups = ["devs"]

        [[team]]
        id = 8
        name = "Root"
        external_groups = ["root"]

        [[case]]
        name = "dev"
        attributes = { mail = "a@b", org = "eng", groups = ["devs"] }
        expect = { teams = ["Developers"] }

        [[case]]
        name = "dev by id"
        attributes = { mail = "a@b", org = "eng", groups = ["devs"] }
        expect = { teams = [7] }

        [[case]]
        name = "wrong team"
        attributes = { mail = "a@b", org = "eng", groups = ["devs", "root"] }
        expect = { teams = ["Developers", "Ops"] }
        """,
    )
    a, b, c = run_cases(path, cfg())
    assert a.passed and b.passed
    assert c.mismatches[0].diff == 'missing "Ops"; unexpected "Root"'


def test_teams_without_a_team_list_say_so(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[case]]
        name = "dev"
        attributes = { mail = "a@b", org = "eng", groups = ["devs"] }
        expect = { teams = ["Developers"] }
        """,
    )
    [result] = run_cases(path, cfg())
    assert "no team list" in result.mismatches[0].diff


def test_orgs_and_teams_from_json_files(tmp_path: Path) -> None:
    (tmp_path / "orgs.json").write_text(json.dumps([{"id": 1, "name": "Main"}, {"id": 2, "name": "Eng"}]))
    (tmp_path / "teams.json").write_text(
        json.dumps([{"id": 3, "name": "Devs", "orgId": 2, "externalGroups": ["devs"]}])
    )
    config = cfg(CONFIG.replace("org_mapping = eng:2:Viewer", 'org_mapping = ["eng:Eng:Editor"]'))
    path = write(
        tmp_path,
        """
        orgs = "orgs.json"
        teams = "teams.json"

        [[case]]
        name = "org name resolved"
        attributes = { mail = "a@b", org = "eng", groups = ["devs"] }
        expect = { org_roles = { "2" = "Editor" }, teams = ["Devs"] }
        """,
    )
    [result] = run_cases(path, config)
    assert result.passed, result.to_text()


def test_orgs_and_teams_given_to_run_cases_override_the_files(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[team]]
        id = 1
        name = "From the file"
        external_groups = ["devs"]

        [[case]]
        name = "dev"
        attributes = { mail = "a@b", org = "eng", groups = ["devs"] }
        expect = { teams = ["Given"] }
        """,
    )
    [result] = run_cases(path, cfg(), teams=[Team(9, "Given", 1, ("devs",))], orgs=[Org(2, "Eng")])
    assert result.passed, result.to_text()


def test_assumptions_in_the_file_and_per_case(tmp_path: Path) -> None:
    config = cfg(
        CONFIG.replace("role_values_editor = devs", "role_values_editor = devs\nrole_values_admin = ops")
    )
    path = write(
        tmp_path,
        """
        assume = ["role-precedence=lowest-role"]

        [[case]]
        name = "lowest wins"
        attributes = { mail = "a@b", org = "eng", groups = ["devs", "ops"] }
        expect = { org_roles = { "2" = "Editor" } }

        [[case]]
        name = "top wins here"
        assume = ["role-precedence=top-role"]
        attributes = { mail = "a@b", org = "eng", groups = ["devs", "ops"] }
        expect = { org_roles = { "2" = "Admin" } }
        """,
    )
    assert [r.passed for r in run_cases(path, config)] == [True, True]


def test_result_json(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[case]]
        name = "x"
        attributes = { mail = "a@b", org = "eng" }
        expect = { grafana_admin = true }
        """,
    )
    [result] = run_cases(path, cfg())
    doc = result.to_json()
    assert list(doc) == ["name", "location", "passed", "mismatches", "outcome"]
    assert doc["location"] == f"{path}:1"
    assert doc["mismatches"] == [
        {"field": "grafana_admin", "expected": True, "actual": False, "diff": "expected true, got false"}
    ]
    json.dumps(doc)


# -- errors with file:line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('[[case]]\nname = "x\n', ":2:", "not valid TOML"),
        ('colour = "red"\n[[case]]\nname = "x"\n', ":1:", "unknown top-level key 'colour'"),
        (
            '[[case]]\nname = "x"\nattributes = { mail = "a" }\nexpected = { login_allowed = true }\n',
            ":4:",
            "unknown key 'expected'",
        ),
        (
            '[[case]]\nname = "x"\nattributes = { mail = "a" }\n[case.expect]\nlogin_allowed = true\n'
            'org_role = { "1" = "Viewer" }\n',
            ":6:",
            "unknown expectation 'org_role'",
        ),
        (
            '[[case]]\nname = "x"\nattributes = { mail = "a" }\n[case.expect]\n'
            'org_roles = { "1" = "editor" }\n',
            ":5:",
            "is not a Grafana role",
        ),
        (
            '[[case]]\nname = "x"\nattributes = { mail = "a" }\nexpect = { grafana_admin = "yes" }\n',
            ":4:",
            "must be true, false or",
        ),
        (
            '[[case]]\nname = "x"\nattributes = { mail = "a" }\nexpect = { login_allowed = "yes" }\n',
            ":4:",
            "must be true or false",
        ),
        (
            '[[case]]\nname = "x"\n[case.attributes]\nmail = "a"\ngroups = [1, 2]\n'
            "[case.expect]\nlogin_allowed = true\n",
            ":5:",
            "attribute 'groups' must be a string or a list of strings",
        ),
        ('[[case]]\nname = "x"\nattributes = { mail = "a" }\n', ":1:", "expects nothing"),
        ('[[case]]\nattributes = { mail = "a" }\nexpect = { login_allowed = true }\n', ":1:", "has no name"),
        ('grafana_version = "12.3"\n', ":1:", "no [[case]] tables"),
        (
            '[[case]]\nname = "x"\nattributes = { a = "a" }\nexpect = { login_allowed = true }\n'
            '[[case]]\nname = "x"\nattributes = { a = "a" }\nexpect = { login_allowed = true }\n',
            ":5:",
            "used twice",
        ),
        (
            'assume = ["trim=false"]\n[[case]]\nname = "x"\nattributes = { a = "a" }\n'
            "expect = { login_allowed = true }\n",
            ":1:",
            "unknown assumption 'trim'",
        ),
        (
            "grafana_version = 12\n" + ONE_CASE,
            ":1:",
            "grafana_version must be a string",
        ),
        (
            'orgs = "missing.json"\n' + ONE_CASE,
            ":1:",
            "missing.json",
        ),
        (
            '[[team]]\nid = 1\nname = "t"\ngroups = ["a"]\n[[case]]\nname = "x"\nattributes = { a = "a" }\n'
            "expect = { login_allowed = true }\n",
            ":4:",
            "unknown key 'groups' in team 1",
        ),
        (
            '[[org]]\nid = "1"\nname = "Main"\n[[case]]\nname = "x"\nattributes = { a = "a" }\n'
            "expect = { login_allowed = true }\n",
            ":1:",
            "needs an integer id",
        ),
        (
            '[[case]]\nname = "x"\nattributes = { a = "a" }\ncurrent_memberships = { "main" = "Viewer" }\n'
            "expect = { login_allowed = true }\n",
            ":4:",
            "current_memberships",
        ),
    ],
)
def test_bad_files_give_file_and_line(tmp_path: Path, text: str, where: str, words: str) -> None:
    path = write(tmp_path, text)
    exc = error(path)
    assert exc.message.startswith(str(path) + where), exc.message
    assert words in exc.message
    assert exc.hint


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    exc = error(tmp_path / "nope.toml")
    assert "nope.toml" in exc.message and exc.hint
