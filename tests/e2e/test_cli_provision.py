"""`gtool user create|disable|enable|delete`, `gtool role apply|undo` and `gtool saml drift` against a real
sandbox process (self-hosted, basic auth admin/admin)."""

from __future__ import annotations

import base64
import json
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gtool import cli_access
from gtool.cli import main
from tests.conftest import ROOT, Run
from tests.e2e.test_cli_access import SEED, admin_env, as_json, assert_no_secret, audit_file, role_in
from tests.e2e.test_cli_sandbox import start, stop
from tests.saml import saml_fixtures as fx

OKTA = "samples/okta/grafana.ini"


@pytest.fixture(scope="module")
def selfhosted() -> Iterator[str]:
    proc, url = start("--seed", SEED, "--config", OKTA)
    try:
        yield url
    finally:
        assert stop(proc) == 0


def login_status(url: str, login: str, password: str) -> int:
    """The status of ``GET /api/user`` with basic auth: 200 if the account signs in with `password`."""
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    req = urllib.request.Request(f"{url}/api/user", headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


def show(gtool: Run, env: dict[str, str], user: str) -> dict[str, object]:
    shown: dict[str, object] = as_json(gtool("users", "show", user, "--format", "json", env=env))
    return shown


# --- user create ----------------------------------------------------------------------------------------


def test_create_with_a_password_file_delivers_it_once_and_it_signs_in(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    r = gtool(
        "user", "create", "jane", "--email", "jane@example.com", "--name", "Jane Doe",
        "--password-file", "jane.pw", "--yes", env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("applied: create-user jane") and "jane.pw (0600)" in r.stdout
    pw_file = tmp_path / "jane.pw"
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    password = pw_file.read_text().strip()
    assert len(password) >= 20
    assert login_status(selfhosted, "jane", password) == 200
    assert login_status(selfhosted, "jane", password + "x") == 401
    (entry,) = as_json(gtool("audit", "--format", "json", env=env))
    assert (entry["action"], entry["target"], entry["outcome"]) == ("create-user", "jane", "applied")
    assert_no_secret(r.stdout, r.stderr, audit_file(tmp_path).read_text(), secrets=(password,))

    again = gtool("user", "create", "jane", "--password-file", "other.pw", "--yes", env=env)
    assert again.returncode == 0 and "already exists" in again.stdout
    assert not (tmp_path / "other.pw").exists()  # no account got this password: no file either


def test_create_refuses_an_existing_password_file_before_sending(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    (tmp_path / "taken.pw").write_text("keep me\n")
    r = gtool("user", "create", "someone.new", "--password-file", "taken.pw", "--yes", env=env)
    assert r.returncode == 2 and "exists: refusing to overwrite it" in r.stderr
    assert (tmp_path / "taken.pw").read_text() == "keep me\n"
    missing = gtool("users", "show", "someone.new", env=env)
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert not audit_file(tmp_path).exists()


def test_create_needs_exactly_one_delivery(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    none = gtool("user", "create", "nobody.yet", "--yes", env=env)
    assert none.returncode == 2 and "--password-file" in none.stderr
    two = gtool(
        "user", "create", "nobody.yet", "--password-file", "a.pw", "--show-password", "--yes", env=env
    )
    assert two.returncode == 2 and "exactly one" in two.stderr
    assert not (tmp_path / "a.pw").exists()
    assert gtool("users", "show", "nobody.yet", env=env).returncode == 2


def test_create_with_a_password_command_pipes_it_and_never_prints_it(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    sink = tmp_path / "vault.txt"
    cmd = f"python3 -c \"import sys; open('{sink}', 'w').write(sys.stdin.read())\""
    r = gtool("user", "create", "piped", "--password-command", cmd, "--yes", env=env)
    assert r.returncode == 0, r.stderr
    password = sink.read_text().strip()
    assert login_status(selfhosted, "piped", password) == 200
    assert_no_secret(r.stdout, r.stderr, audit_file(tmp_path).read_text(), secrets=(password,))


def test_dry_run_masks_the_password_and_creates_nothing(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    r = gtool("user", "create", "dry.one", "--show-password", "--dry-run", env=env)
    assert r.returncode == 0, r.stderr
    assert "POST" in r.stdout and "/api/admin/users" in r.stdout and "nothing was sent" in r.stdout
    assert '"password":"****"' in r.stdout.replace(" ", "")
    assert gtool("users", "show", "dry.one", env=env).returncode == 2


# --- disable, enable, delete ----------------------------------------------------------------------------


def test_disable_then_enable(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    assert show(gtool, env, "new.hire")["disabled"] is False
    off = gtool("user", "disable", "new.hire", "--yes", env=env)
    assert off.returncode == 0 and off.stdout.startswith("applied: disable new.hire"), off.stderr
    assert show(gtool, env, "new.hire")["disabled"] is True
    again = gtool("user", "disable", "new.hire", "--yes", env=env)
    assert again.returncode == 0 and "already disabled" in again.stdout
    on = gtool("user", "enable", "new.hire", "--yes", env=env)
    assert on.returncode == 0 and on.stdout.startswith("applied: enable new.hire"), on.stderr
    assert show(gtool, env, "new.hire")["disabled"] is False
    entries = as_json(gtool("audit", "--target", "new.hire", "--format", "json", env=env))
    assert [(e["action"], e["before"], e["after"], e["outcome"]) for e in entries] == [
        ("disable", False, True, "applied"),
        ("disable", True, True, "already"),
        ("enable", True, False, "applied"),
    ]
    unknown = gtool("user", "enable", "no-such-user", "--yes", env=env)
    assert unknown.returncode == 2 and "not found" in unknown.stderr


def test_delete_needs_yes_without_a_terminal_and_then_deletes(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    dry = gtool("user", "delete", "legacy.oauth", "--dry-run", env=env)
    assert dry.returncode == 0 and "DESTRUCTIVE" in dry.stdout and "DELETE " in dry.stdout
    asked = gtool("user", "delete", "legacy.oauth", env=env)
    assert asked.returncode == 2 and "no terminal" in asked.stderr and "--yes" in asked.stderr
    assert show(gtool, env, "legacy.oauth")["login"] == "legacy.oauth"
    done = gtool("user", "delete", "legacy.oauth", "--yes", env=env)
    assert done.returncode == 0 and done.stdout.startswith("applied: delete-user legacy.oauth"), done.stderr
    assert gtool("users", "show", "legacy.oauth", env=env).returncode == 2
    gone = gtool("user", "delete", "legacy.oauth", "--yes", env=env)
    assert gone.returncode == 0 and "no such user" in gone.stdout


def test_delete_on_a_terminal_needs_the_login_typed(
    selfhosted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = admin_env(selfhosted, tmp_path)
    monkeypatch.setattr(cli_access, "_is_terminal", lambda: True)
    runner = CliRunner()
    wrong = runner.invoke(main, ["user", "delete", "mgarcia"], input="y\n", env=env)
    assert wrong.exit_code == 1 and "did not match" in wrong.output
    assert "Type the login 'mgarcia'" in wrong.output
    typed = runner.invoke(main, ["user", "delete", "mgarcia"], input="mgarcia\n", env=env)
    assert typed.exit_code == 0 and "applied: delete-user mgarcia" in typed.output, typed.output
    # a reversible change is a plain yes/no question
    monkeypatch.setattr(cli_access, "_is_terminal", lambda: True)
    no = runner.invoke(main, ["user", "disable", "bob"], input="n\n", env=env)
    assert no.exit_code == 1 and "not confirmed" in no.output


# --- role apply / undo ----------------------------------------------------------------------------------


def test_role_apply_then_undo_restores(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    (tmp_path / "changes.csv").write_text(
        "user,org,role\n"
        "jsmith,Main Org.,Admin\n"  # Editor -> Admin
        "new.hire,Data Science,Editor\n"  # not a member -> Editor
        "alice,Main Org.,Admin\n"  # already so
    )
    before = {
        ("jsmith", "Main Org."): role_in(gtool, env, "jsmith", "Main Org."),
        ("new.hire", "Data Science"): role_in(gtool, env, "new.hire", "Data Science"),
    }
    assert before == {("jsmith", "Main Org."): "Editor", ("new.hire", "Data Science"): None}

    dry = gtool("role", "apply", "changes.csv", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("3 rows: 2 to change, 1 unchanged, 0 blocked, 0 with errors")
    assert "jsmith in org 1 'Main Org.': Editor -> Admin" in dry.stdout and "nothing was sent" in dry.stdout
    assert role_in(gtool, env, "jsmith", "Main Org.") == "Editor"

    r = gtool("role", "apply", "changes.csv", "--snapshot", "snap.json", "--yes", "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    statuses = {(row["user"], row["status"]) for row in json.loads(r.stdout)}
    assert statuses == {("jsmith", "applied"), ("new.hire", "applied"), ("alice", "unchanged")}
    assert "gtool role undo snap.json" in r.stderr
    assert stat.S_IMODE((tmp_path / "snap.json").stat().st_mode) == 0o600
    assert role_in(gtool, env, "jsmith", "Main Org.") == "Admin"
    assert role_in(gtool, env, "new.hire", "Data Science") == "Editor"

    again = gtool("role", "apply", "changes.csv", "--snapshot", "snap.json", "--yes", env=env)
    assert again.returncode == 2 and "already exists" in again.stderr

    undo = gtool("role", "undo", "snap.json", "--yes", env=env)
    assert undo.returncode == 0, undo.stderr
    assert "2 applied" in undo.stderr
    assert role_in(gtool, env, "jsmith", "Main Org.") == "Editor"
    assert role_in(gtool, env, "new.hire", "Data Science") is None


def test_role_apply_reports_a_blocked_row_and_exits_1(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    (tmp_path / "c.toml").write_text(
        '[[change]]\nuser = "carol"\norg = "Partner Portal"\nrole = "Editor"\n\n'
        '[[change]]\nuser = "grace@example.com"\norg = "Data Science"\nrole = "Admin"\n'
    )
    r = gtool("role", "apply", "c.toml", "--yes", env=env)
    assert r.returncode == 1
    lines = {line.split()[0]: line for line in r.stdout.splitlines() if line.startswith("c.toml")}
    assert " applied " in lines["c.toml:1"] and " blocked " in lines["c.toml:6"]
    assert "skip_org_role_sync" in lines["c.toml:6"]
    assert "1 row(s) blocked, failed or in doubt" in r.stderr
    assert "snapshot of the prior roles:" in r.stderr  # a default snapshot under the state dir
    assert list((tmp_path / "state" / "gtool" / "snapshots").glob("role-apply-*.json"))
    assert role_in(gtool, env, "carol", "Partner Portal") == "Editor"
    assert role_in(gtool, env, "grace@example.com", "Data Science") == "Editor"


def test_role_apply_file_problems_are_all_reported(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    (tmp_path / "bad.csv").write_text("user,org,role\nbob,1,Boss\nbob,,Viewer\n")
    r = gtool("role", "apply", "bad.csv", "--yes", env=env)
    assert r.returncode == 2
    assert "bad.csv:2: unknown role 'Boss'" in r.stderr and "bad.csv:3: missing or empty org" in r.stderr
    assert not audit_file(tmp_path).exists()


# --- saml drift -----------------------------------------------------------------------------------------

FORMER = (
    "--attr", "email=former@example.com", "--attr", "firstName=Former", "--attr", "lastName=Admin",
    "--attr", "groups=Everyone", "--attr", "organization=Platform Engineering",
)  # fmt: skip


def test_drift_shows_the_manual_admin_role_the_next_login_takes_back(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    r = gtool("saml", "drift", "former@example.com", "--config", str(ROOT / OKTA), *FORMER, env=env)
    assert r.returncode == 0, r.stderr
    assert "~ org 1 'Main Org.': Admin -> Viewer" in r.stdout
    assert "- org 2 'Data Science': removed (was Viewer)" in r.stdout
    assert "drift: the next login changes the above" in r.stdout

    doc = as_json(
        gtool(
            "saml",
            "drift",
            "former@example.com",
            "--config",
            str(ROOT / OKTA),
            *FORMER,
            "--format",
            "json",
            env=env,
        )
    )
    assert doc["updated"] == {"1": {"from": "Admin", "to": "Viewer"}}
    assert doc["removed"] == {"2": "Viewer"} and doc["added"] == {} and doc["changed"] is True
    assert doc["grafana_admin"] == {"from": False, "to": False} and doc["grafana_admin_changes"] is False
    check = gtool(
        "saml", "drift", "former@example.com", "--config", str(ROOT / OKTA), *FORMER, "--check", env=env
    )
    assert check.returncode == 1
    assert role_in(gtool, env, "former@example.com", "Main Org.") == "Admin"  # drift sends nothing


def test_no_drift_for_a_user_in_line_with_the_idp_and_grafana_admin_changes_are_shown(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    config = str(ROOT / OKTA)
    same = gtool(
        "saml", "drift", "grace@example.com", "--config", config, "--attr", "email=grace@example.com",
        "--attr", "groups=Grafana Editors", "--attr", "organization=Data Science", "--check", env=env,
    )  # fmt: skip
    assert same.returncode == 0, same.stderr + same.stdout
    assert "= org 2 'Data Science': stays Editor" in same.stdout and "no drift" in same.stdout
    demoted = gtool(
        "saml", "drift", "ada@example.com", "--config", config, "--attr", "email=ada@example.com",
        "--attr", "groups=Everyone", "--attr", "organization=Platform Engineering", env=env,
    )  # fmt: skip
    assert demoted.returncode == 0, demoted.stderr
    assert "~ Grafana Admin: yes -> no" in demoted.stdout
    assert "~ org 1 'Main Org.': Admin -> Viewer" in demoted.stdout


def test_drift_usage_errors(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    config = str(ROOT / OKTA)
    neither = gtool("saml", "drift", "ada@example.com", "--config", config, env=env)
    assert neither.returncode == 2 and "--assertion" in neither.stderr
    unknown = gtool("saml", "drift", "nobody-here", "--config", config, "--attr", "email=x@y", env=env)
    assert unknown.returncode == 2 and "not found" in unknown.stderr


# --- external users cannot be disabled ------------------------------------------------------------------


def test_disabling_an_external_user_is_refused_before_sending_with_the_way_out(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    dry = gtool("user", "disable", "wallboard", "--dry-run", env=env)
    assert dry.returncode == 1 and "blocked: wallboard signs in through Auth Proxy" in dry.stdout
    r = gtool("user", "disable", "wallboard", "--yes", env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert (
        'Grafana refuses to disable an external user (it answers 500 "Could not disable external user")'
        in (r.stderr)
    )
    assert "Disable or remove the user in the identity provider" in r.stderr
    assert "gtool user remove-from-orgs wallboard" in r.stderr and "Traceback" not in r.stderr
    assert show(gtool, env, "wallboard")["disabled"] is False
    (entry,) = as_json(gtool("audit", "--format", "json", env=env))
    assert (entry["action"], entry["outcome"]) == ("disable", "refused")  # recorded, never sent

    forced = gtool("user", "disable", "wallboard", "--force", "--yes", env=env)
    assert (
        forced.returncode == 1 and "warning: forced: wallboard signs in through Auth Proxy" in forced.stderr
    )
    assert "Grafana failed" in forced.stderr and "Could not disable external user" in forced.stderr
    assert "the read-back shows no change" in forced.stderr
    assert show(gtool, env, "wallboard")["disabled"] is False
    enable = gtool("user", "enable", "tbrown", "--yes", env=env)  # a disabled LDAP user
    assert enable.returncode == 1 and "Could not enable external user" in enable.stderr


# --- saml drift: signed and encrypted assertions, team sync ---------------------------------------------

DORA = {"email": "dora@example.com", "first": "Dora", "last": "Explorer"}


def saml_login(url: str, xml: bytes) -> dict[str, Any]:
    """What the sandbox's SAML login endpoint did (it performs Grafana's login hooks for real)."""
    req = urllib.request.Request(
        f"{url}/api/sandbox/saml/login", data=xml, headers={"Content-Type": "application/xml"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        done: dict[str, Any] = json.loads(resp.read())
    return done


def names(teams: list[dict[str, Any]]) -> list[str]:
    return [t["name"] for t in teams]


def test_drift_predicts_the_teams_and_orgs_the_next_login_changes(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    drift = ("saml", "drift", "dora@example.com", "--config", str(ROOT / OKTA), "--assertion", "next.xml")
    # Dora signs in once in the SRE On-Call group: the login creates her and team sync puts her in
    # Platform SRE (org 1) as a synced member.
    first = saml_login(selfhosted, fx.response_xml(fx.okta_attributes(["Everyone", "SRE On-Call"], **DORA)))
    assert first["created"] and names(first["changes"]["teams"]["joined"]) == ["Platform SRE"]
    # Her next login: she moved to Data Science and into the Data Engineers group.
    attrs = fx.okta_attributes(["Everyone", "Data Engineers"], organization="Data Science", **DORA)
    (tmp_path / "next.xml").write_bytes(fx.response_xml(attrs, name_id=DORA["email"]))

    r = gtool(*drift, env=env)
    assert r.returncode == 0, r.stderr
    assert "+ team 'Data Engineering' in org 2 'Data Science': joins (group 'Data Engineers')" in r.stdout
    assert "- team 'Platform SRE' in org 1 'Main Org.': leaves (the login removes them from the org" in (
        r.stdout
    )
    assert "+ org 2 'Data Science': added as Editor" in r.stdout
    assert "- org 1 'Main Org.': removed (was Editor)" in r.stdout
    doc = as_json(gtool(*drift, "--format", "json", env=env))
    expected = {t["name"] for t in first["teams"]} - set(names(doc["teams"]["leave"]))
    expected |= set(names(doc["teams"]["join"]))

    # The truth: the sandbox performs that very login, and it changes exactly what drift said.
    after = saml_login(selfhosted, (tmp_path / "next.xml").read_bytes())
    assert {t["name"] for t in after["teams"]} == expected == {"Data Engineering"}
    assert names(after["changes"]["teams"]["joined"]) == names(doc["teams"]["join"])
    orgs = after["changes"]["orgs"]
    assert (doc["added"], doc["removed"]) == (orgs["added"], orgs["removed"])
    again = gtool(*drift, "--check", env=env)
    assert again.returncode == 0 and "no drift" in again.stdout, again.stdout

    # A member added by hand stays whatever the groups say; --no-teams skips the comparison.
    margaret = ("saml", "drift", "margaret@example.com", "--config", str(ROOT / OKTA))
    same_org = ("--attr", "email=margaret@example.com", "--attr", "organization=Data Science")
    kept = gtool(*margaret, *same_org, "--attr", "groups=Everyone", env=env)
    assert "= team 'Data Engineering' in org 2 'Data Science': stays (added by hand" in kept.stdout
    assert "no drift" in kept.stdout, kept.stdout
    skipped = gtool(*margaret, *same_org, "--no-teams", "--format", "json", env=env)
    assert as_json(skipped)["teams"]["sync"] == "off"


def test_drift_verifies_the_signature_with_idp_cert(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    idp, impostor = fx.keypair("idp"), fx.keypair("impostor")
    (tmp_path / "idp.pem").write_bytes(idp.cert_pem)
    attrs = fx.okta_attributes(["Everyone", "Grafana Admins"], email="ada@example.com", first="Ada", last="L")
    signed = fx.sign(fx.response_xml(attrs, name_id="ada@example.com"), idp)
    (tmp_path / "signed.xml").write_bytes(signed)
    base = ("saml", "drift", "ada@example.com", "--config", str(ROOT / OKTA), "--idp-cert", "idp.pem")

    ok = gtool(*base, "--assertion", "signed.xml", "--format", "json", env=env)
    assert as_json(ok)["grafana_admin"] == {"from": True, "to": False}  # not in Grafana Server Admins
    assert as_json(ok)["unchanged"] == {"1": "Admin"}

    (tmp_path / "forged.xml").write_bytes(
        fx.sign(fx.response_xml(attrs, name_id="ada@example.com"), impostor)
    )
    forged = gtool(*base, "--assertion", "forged.xml", env=env)
    assert forged.returncode == 2 and "no assertion is covered by a valid signature" in forged.stderr
    tampered = signed.replace(b"Grafana Admins", b"Grafana Server Admins")
    (tmp_path / "tampered.xml").write_bytes(tampered)
    bad = gtool(*base, "--assertion", "tampered.xml", env=env)
    assert bad.returncode == 2 and "Grafana would refuse it" in bad.stderr and bad.stdout == ""


def test_drift_decrypts_an_encrypted_assertion_with_sp_key(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    sp = fx.keypair("sp")
    (tmp_path / "sp.key").write_bytes(sp.key_pem)
    attrs = fx.okta_attributes(["Everyone"], email="former@example.com", first="Former", last="Admin")
    (tmp_path / "enc.xml").write_bytes(
        fx.encrypt(fx.response_xml(attrs, name_id="former@example.com"), sp.cert)
    )
    base = ("saml", "drift", "former@example.com", "--config", str(ROOT / OKTA), "--assertion", "enc.xml")

    locked = gtool(*base, env=env)
    assert (
        locked.returncode == 2
        and "the assertion is encrypted" in locked.stderr
        and "--sp-key" in locked.stderr
    )
    opened = gtool(*base, "--sp-key", "sp.key", env=env)
    assert opened.returncode == 0, opened.stderr
    assert "~ org 1 'Main Org.': Admin -> Viewer" in opened.stdout
    assert "- org 2 'Data Science': removed (was Viewer)" in opened.stdout
