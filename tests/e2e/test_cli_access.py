"""The access CLI (`gtool whoami | users | orgs | role | admin | inventory | audit | profile`) against a real
sandbox process, self-hosted with basic auth (admin/admin). Grafana Cloud mode: test_cli_cloud.py.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gtool.sandbox.seed import load_seed
from tests.conftest import ROOT, Run
from tests.e2e.test_cli_sandbox import start, stop

SEED = "samples/sandbox-seed.toml"
BASIC_HEADER = base64.b64encode(b"admin:admin").decode()  # what would leak if the credential were printed
TOKEN = load_seed(ROOT / SEED).token("gtool-ci")


@pytest.fixture(scope="module")
def selfhosted() -> Iterator[str]:
    proc, url = start("--seed", SEED, "--config", "samples/okta/grafana.ini")
    try:
        yield url
    finally:
        assert stop(proc) == 0


def admin_env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "GRAFANA_URL": url,
        "GRAFANA_USER": "admin",
        "GRAFANA_PASSWORD": "admin",
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "gtool" / "audit.jsonl"


def as_json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def role_in(gtool: Run, env: dict[str, str], user: str, org: str) -> str | None:
    shown = as_json(gtool("users", "show", user, "--format", "json", env=env))
    return next((o["role"] for o in shown["orgs"] if o["name"] == org), None)


def assert_no_secret(*texts: str, secrets: tuple[str, ...] = (BASIC_HEADER,)) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text


# --- self-hosted ---------------------------------------------------------------------------------------


def test_whoami_and_users_ls(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    who = gtool("whoami", env=env)
    assert who.returncode == 0, who.stderr
    assert "self-hosted" in who.stdout and "'admin'" in who.stdout and "Grafana server admin" in who.stdout
    assert as_json(gtool("whoami", "--format", "json", env=env))["grafana_admin"] is True

    everyone = {u["login"]: u for u in as_json(gtool("users", "ls", "--format", "json", env=env))}
    assert everyone["ada@example.com"]["auth"] == ["SAML"] and everyone["bob"]["auth"] == []
    assert everyone["tbrown"]["disabled"] is True

    synced = as_json(gtool("users", "ls", "--org", "Main Org.", "--synced", "--format", "json", env=env))
    by_login = {u["login"]: u for u in synced}
    assert by_login["ada@example.com"]["role"] == "Admin" and by_login["ada@example.com"]["role_synced"]
    assert "bob" not in by_login and "new.hire" not in by_login
    local = as_json(gtool("users", "ls", "--local", "--admins", "--format", "json", env=env))
    assert [u["login"] for u in local] == ["admin"]

    orgs = gtool("orgs", "ls", "--format", "csv", env=env)
    assert (
        orgs.returncode == 0
        and orgs.stdout.splitlines()[0] == "id,name"
        and "4,Partner Portal" in orgs.stdout
    )
    members = as_json(gtool("orgs", "members", "Data Science", "--format", "json", env=env))
    assert {"login": "grace@example.com", "role": "Editor", "role_synced": True}.items() <= next(
        m for m in members if m["login"] == "grace@example.com"
    ).items()


def test_role_set_on_a_local_user_is_read_back_and_audited(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    assert role_in(gtool, env, "new.hire", "Main Org.") == "Viewer"
    r = gtool("role", "set", "new.hire", "Main Org.", "Editor", "--yes", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("applied: change-role new.hire in org 1 'Main Org.'")
    assert role_in(gtool, env, "new.hire", "Main Org.") == "Editor"

    again = gtool("role", "set", "new.hire", "1", "Editor", "--yes", env=env)
    assert again.returncode == 0 and "already had it" in again.stdout

    entries = as_json(gtool("audit", "--format", "json", env=env))
    assert [(e["action"], e["target"], e["before"], e["after"], e["outcome"]) for e in entries] == [
        ("change-role", "new.hire in org 1 'Main Org.'", "Viewer", "Editor", "applied"),
        ("change-role", "new.hire in org 1 'Main Org.'", "Editor", "Editor", "already"),
    ]


def test_synced_saml_user_is_refused_with_the_fix_and_nothing_changes(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    r = gtool("role", "set", "ada@example.com", "Main Org.", "Viewer", "--yes", env=env)
    assert r.returncode == 1, r.stderr
    assert "refused" in r.stderr and "syncs this user's org role from SAML" in r.stderr
    assert "skip_org_role_sync = true in [auth.saml]" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""
    assert role_in(gtool, env, "ada@example.com", "Main Org.") == "Admin"
    (entry,) = as_json(gtool("audit", "--format", "json", env=env))
    assert entry["outcome"] == "refused" and entry["after"] == "Admin"  # recorded, never sent


def test_dry_run_prints_the_exact_call_and_sends_nothing(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    r = gtool("role", "set", "jsmith", "Main Org.", "Admin", "--dry-run", env=env)
    assert r.returncode == 0, r.stderr
    assert re.search(
        rf'^  PATCH {re.escape(selfhosted)}/api/orgs/1/users/\d+ {{"role":"Admin"}}$', r.stdout, re.M
    )
    assert "nothing was sent" in r.stdout
    plan = as_json(gtool("admin", "grant", "jsmith", "--dry-run", "--format", "json", env=env))
    assert plan["calls"] == [f'PUT {selfhosted}/api/admin/users/13/permissions {{"isGrafanaAdmin":true}}']
    assert role_in(gtool, env, "jsmith", "Main Org.") == "Editor"
    assert as_json(gtool("users", "show", "jsmith", "--format", "json", env=env))["grafana_admin"] is False
    assert not audit_file(tmp_path).exists()


def test_a_write_without_a_terminal_needs_yes(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    r = gtool("role", "set", "jsmith", "1", "Viewer", env=env)
    assert r.returncode == 2 and "no terminal" in r.stderr and "--yes" in r.stderr
    assert role_in(gtool, env, "jsmith", "Main Org.") == "Editor"


def test_read_only_profile_refuses_writes(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}
    add = gtool(
        "profile", "add", "ro", "--url", selfhosted, "--auth", "basic", "--user", "alice",
        "--secret", "env:GT_ALICE_PW", "--read-only", "--default", env=env,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    with_pw = {**env, "GT_ALICE_PW": "alice-sandbox"}
    who = gtool("whoami", "--profile", "ro", env=with_pw)
    assert who.returncode == 0 and "'alice'" in who.stdout, who.stderr
    r = gtool("role", "set", "bob", "Main Org.", "Viewer", "--yes", env=with_pw)  # the default profile
    assert r.returncode == 1 and "profile 'ro' is read-only: nothing was sent" in r.stderr
    listed = gtool("profile", "list", env=env)
    shown = as_json(gtool("profile", "show", "ro", "--format", "json", env=with_pw))
    assert shown["secret"] == "env:GT_ALICE_PW" and shown["read_only"] is True
    assert_no_secret(who.stdout, who.stderr, r.stdout, r.stderr, listed.stdout, secrets=("alice-sandbox",))
    assert role_in(gtool, admin_env(selfhosted, tmp_path), "bob", "Main Org.") == "Editor"
    assert not audit_file(tmp_path).exists()


def test_admin_grant_and_revoke(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    granted = gtool("admin", "grant", "carol", "--yes", env=env)
    assert granted.returncode == 0 and granted.stdout.startswith("applied: grafana-admin carol"), (
        granted.stderr
    )
    assert as_json(gtool("users", "show", "carol", "--format", "json", env=env))["grafana_admin"] is True
    revoked = as_json(gtool("admin", "revoke", "carol", "--yes", "--format", "json", env=env))
    assert revoked["outcome"] == "applied" and revoked["verified"] is True
    assert as_json(gtool("users", "show", "carol", "--format", "json", env=env))["grafana_admin"] is False
    gone = gtool("admin", "revoke", "carol", "--yes", env=env)
    assert gone.returncode == 0 and "already gone" in gone.stdout
    entries = as_json(gtool("audit", "--target", "carol", "--format", "json", env=env))
    assert [(e["before"], e["after"], e["outcome"]) for e in entries] == [
        (False, True, "applied"),
        (True, False, "applied"),
        (False, False, "already"),
    ]


def test_audit_keeps_action_names_when_the_password_is_a_common_word(
    gtool: Run, selfhosted: str, tmp_path: Path
) -> None:
    env = admin_env(selfhosted, tmp_path)
    assert gtool("admin", "revoke", "bob", "--yes", env=env).returncode == 0
    (entry,) = as_json(gtool("audit", "--format", "json", env=env))
    assert entry["action"] == "grafana-admin"


def test_inventory_export_csv_refuses_to_overwrite(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    r = gtool("inventory", "export", "--format", "csv", "--output", "inv.csv", env=env)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "inv.csv").read_text()
    header, *rows = text.splitlines()
    assert header.startswith("org_id,") and "login" in header and "role" in header
    assert any("ada@example.com" in row and "Admin" in row for row in rows)
    again = gtool("inventory", "export", "--format", "csv", "--output", "inv.csv", env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert (tmp_path / "inv.csv").read_text() == text
    assert gtool("inventory", "export", "--format", "table", env=env).returncode == 2
    full = as_json(gtool("inventory", "export", env=env))
    assert set(full) == {"users", "orgs", "memberships", "teams"}


def test_errors_are_one_line_with_documented_codes(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    wrong = gtool("whoami", env={**env, "GRAFANA_PASSWORD": "S3cret-not-shown!"})
    assert wrong.returncode == 3 and "401" in wrong.stderr
    down = gtool("whoami", env={**env, "GRAFANA_URL": "http://127.0.0.1:1"})
    assert down.returncode == 3 and "cannot connect" in down.stderr
    unknown = gtool("role", "set", "nobody-here", "1", "Viewer", "--yes", env=env)
    assert unknown.returncode == 2 and "not found" in unknown.stderr
    no_role = gtool("role", "set", "bob", "1", env=env)
    assert no_role.returncode == 2 and "needs a ROLE" in no_role.stderr
    nothing = gtool("whoami", env={"XDG_CONFIG_HOME": str(tmp_path / "empty")})
    assert nothing.returncode == 2 and "GRAFANA_URL" in nothing.stderr
    for r in (wrong, down, unknown, no_role, nothing):
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert_no_secret(wrong.stdout, wrong.stderr, secrets=("S3cret-not-shown!", BASIC_HEADER))


def test_no_secret_in_any_output_or_the_audit_log(gtool: Run, selfhosted: str, tmp_path: Path) -> None:
    env = admin_env(selfhosted, tmp_path)
    runs = [
        gtool("whoami", "--format", "json", env=env),
        gtool("role", "grant", "carol", "Data Science", "Viewer", "--yes", env=env),
        gtool("role", "revoke", "carol", "Data Science", "--yes", env=env),
        gtool("role", "set", "grace@example.com", "2", "Admin", "--yes", env=env),
        gtool("audit", "--format", "json", env=env),
    ]
    assert [r.returncode for r in runs] == [0, 0, 0, 1, 0]
    assert_no_secret(*(r.stdout + r.stderr for r in runs), audit_file(tmp_path).read_text())
    actions = [e["action"] for e in json.loads(runs[-1].stdout)]
    assert actions == ["grant", "revoke", "change-role"]


# --- import hygiene ------------------------------------------------------------------------------------

PROBE = """
import sys
from gtool.cli import main
sys.argv = ["gtool", "saml", "rules"]
try:
    main()
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"httpx", "tomlkit", "textual", "rich", "starlette"})
print("REGISTERED=" + str("whoami" in main.commands and "gtool.cli_access" in sys.modules), file=sys.stderr)
print("LOADED=" + ",".join(heavy), file=sys.stderr)
"""


def test_saml_rules_loads_no_http_stack_with_the_access_commands_registered(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert "REGISTERED=True" in r.stderr, r.stderr
    assert "LOADED=\n" in r.stderr or r.stderr.rstrip().endswith("LOADED="), r.stderr
