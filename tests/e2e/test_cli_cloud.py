"""Every access command against a real sandbox process in Grafana Cloud mode, with a service account token.

The sandbox (`gtool sandbox --cloud`) behaves as a Cloud stack: tokens only, the admin, global-user and
multi-org routes refused with Grafana's RBAC 403. Its grafana.ini is samples/okta/grafana.ini (SAML users'
roles are synced, as on a stack with SAML) plus a mail server, as every Cloud stack has one for invites.
The token is the seed's Admin service account of org 1 "Main Org.".
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Run
from tests.e2e.test_cli_access import SEED, TOKEN, as_json, assert_no_secret, audit_file
from tests.e2e.test_cli_sandbox import start, stop

OKTA = ROOT / "samples" / "okta" / "grafana.ini"
SECRETS = (TOKEN, TOKEN.split("_")[1])
NOT_POSSIBLE = "is not possible with this credential: service account tokens cannot use Grafana's admin API"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ini = tmp_path_factory.mktemp("cloud") / "grafana.ini"
    ini.write_text(OKTA.read_text() + "\n[smtp]\nenabled = true\n")
    proc, url = start("--seed", SEED, "--cloud", "--config", str(ini))
    try:
        yield url
    finally:
        assert stop(proc) == 0


def cloud_env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "GRAFANA_URL": url,
        "GRAFANA_TOKEN": TOKEN,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


def api(url: str, path: str) -> Any:
    """A GET with the token, outside gtool: the state to check against."""
    req = urllib.request.Request(f"{url}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def members(url: str) -> dict[str, dict[str, Any]]:
    found = api(url, "/api/org/users/search?perpage=1000&page=1")["orgUsers"]
    return {m["login"]: m for m in found}


def outputs(*runs: Any) -> list[str]:
    return [r.stdout + r.stderr for r in runs]


# --- reading -------------------------------------------------------------------------------------------


def test_reads_fall_back_to_the_tokens_own_org(gtool: Run, cloud: str, tmp_path: Path) -> None:
    env = cloud_env(cloud, tmp_path)
    who = gtool("whoami", env=env)
    assert who.returncode == 0, who.stderr
    assert "(Grafana Cloud) as service account 'sa-1-gtool-ci' (token): Admin in org 1" in who.stdout
    me = as_json(gtool("whoami", "--format", "json", env=env))
    assert (me["cloud"], me["service_account"], me["grafana_admin"], me["org_id"]) == (True, True, False, 1)

    listed = gtool("users", "ls", "--format", "json", env=env)
    assert {u["login"] for u in as_json(listed)} == set(members(cloud))
    assert "cannot list all users; showing the members of org 1 'Main Org.'" in listed.stderr
    in_org = {
        u["login"]: u
        for u in as_json(gtool("users", "ls", "--org", "Main Org.", "--format", "json", env=env))
    }
    assert in_org["ada@example.com"]["role"] == "Admin" and in_org["ada@example.com"]["role_synced"] is True
    assert in_org["jsmith"]["role_synced"] is False  # LDAP is not enabled: a label, but no sync

    shown = gtool("users", "show", "bob", "--format", "json", env=env)
    assert as_json(shown)["orgs"] == [{"org_id": 1, "name": "Main Org.", "role": "Editor"}]
    assert "showing bob's membership of org 1 only" in shown.stderr
    orgs = gtool("orgs", "ls", "--format", "csv", env=env)
    assert orgs.returncode == 0 and orgs.stdout == "id,name\n1,Main Org.\n"
    assert "cannot list all orgs; showing its own" in orgs.stderr
    in_members = as_json(gtool("orgs", "members", "Main Org.", "--format", "json", env=env))
    assert {m["login"] for m in in_members} == set(members(cloud))
    other = gtool("orgs", "members", "Data Science", env=env)
    assert other.returncode == 2 and "not visible to this credential" in other.stderr

    inv = as_json(gtool("inventory", "export", env=env))
    assert [o["name"] for o in inv["orgs"]] == ["Main Org."]
    assert {m["org_id"] for m in inv["memberships"]} == {1}
    assert {m["login"] for m in inv["memberships"]} == set(members(cloud))
    assert_no_secret(*outputs(who, listed, shown, orgs), json.dumps(inv), secrets=SECRETS)


def test_profile_test_with_a_token_profile(gtool: Run, cloud: str, tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}
    add = gtool(
        "profile", "add", "stack", "--url", cloud, "--auth", "token", "--secret", "env:STACK_TOKEN",
        "--default", env=env,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    tested = gtool("profile", "test", env={**env, "STACK_TOKEN": TOKEN})
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.startswith("ok: Grafana") and "(Grafana Cloud) as service account" in tested.stdout
    assert "  credential from profile stack (env:STACK_TOKEN)" in tested.stdout.splitlines()
    assert_no_secret(*outputs(add, tested), secrets=SECRETS)


# --- org roles -------------------------------------------------------------------------------------------


def test_role_grant_and_set_through_the_org_and_the_synced_refusal(
    gtool: Run, cloud: str, tmp_path: Path
) -> None:
    env = cloud_env(cloud, tmp_path)
    assert "carol" not in members(cloud)
    grant = gtool("role", "grant", "carol", "Main Org.", "Viewer", "--yes", env=env)
    assert grant.returncode == 0 and grant.stdout.startswith("applied: grant carol in org 1"), grant.stderr
    assert "cannot check the account before sending" in grant.stderr
    assert members(cloud)["carol"]["role"] == "Viewer"

    changed = gtool("role", "set", "new.hire", "1", "Editor", "--yes", "--format", "json", env=env)
    assert (as_json(changed)["outcome"], as_json(changed)["verified"]) == ("applied", True)
    assert members(cloud)["new.hire"]["role"] == "Editor"

    synced = gtool("role", "set", "linus@example.com", "Main Org.", "Admin", "--yes", env=env)
    assert synced.returncode == 1 and "syncs this user's org role from SAML" in synced.stderr
    assert "skip_org_role_sync = true" in synced.stderr
    assert members(cloud)["linus@example.com"]["role"] == "Editor"

    elsewhere = gtool("role", "set", "bob", "Data Science", "Viewer", "--yes", env=env)
    assert elsewhere.returncode == 2 and "this connection is in org 1 'Main Org.'" in elsewhere.stderr
    audit = as_json(gtool("audit", "--format", "json", env=env))
    assert [(e["action"], e["outcome"], e["actor"]) for e in audit] == [
        ("grant", "applied", "service account token"),
        ("change-role", "applied", "service account token"),
        ("change-role", "refused", "service account token"),
    ]
    assert_no_secret(
        *outputs(grant, changed, synced, elsewhere), audit_file(tmp_path).read_text(), secrets=SECRETS
    )


def test_revoke_uses_the_current_org_route_and_says_it_may_delete_the_user(
    gtool: Run, cloud: str, tmp_path: Path
) -> None:
    env = cloud_env(cloud, tmp_path)
    dry = gtool("role", "revoke", "wallboard", "Main Org.", "--dry-run", env=env)
    assert dry.returncode == 0 and re.search(
        r"DELETE \S+/api/org/users/\d+ \[X-Grafana-Org-Id: 1\]", dry.stdout
    )
    assert "DESTRUCTIVE" in dry.stdout and "deletes the user account itself" in dry.stdout
    assert "wallboard" in members(cloud)

    done = gtool("role", "revoke", "wallboard", "Main Org.", "--yes", env=env)
    assert done.returncode == 0 and done.stdout.startswith("applied: revoke wallboard"), done.stderr
    # the warning is on stderr at the change too, not only in the dry run
    assert "warning: DESTRUCTIVE: org 1 'Main Org.' may be their only org" in done.stderr
    assert "wallboard" not in members(cloud)
    gone = gtool("role", "revoke", "wallboard", "1", "--yes", env=env)
    assert gone.returncode == 0 and "already gone" in gone.stdout
    assert_no_secret(*outputs(dry, done, gone), audit_file(tmp_path).read_text(), secrets=SECRETS)


def test_role_apply_and_undo_with_a_token(gtool: Run, cloud: str, tmp_path: Path) -> None:
    env = cloud_env(cloud, tmp_path)
    assert "mgarcia" not in members(cloud)
    (tmp_path / "c.csv").write_text(
        "user,org,role\njsmith,Main Org.,Viewer\nmgarcia,1,Editor\nada@example.com,1,Viewer\n"
    )
    r = gtool("role", "apply", "c.csv", "--snapshot", "snap.json", "--yes", "--format", "json", env=env)
    assert r.returncode == 1, r.stderr  # the synced row is blocked
    statuses = {row["user"]: row["status"] for row in json.loads(r.stdout)}
    assert statuses == {"jsmith": "applied", "mgarcia": "applied", "ada@example.com": "blocked"}
    assert (members(cloud)["jsmith"]["role"], members(cloud)["mgarcia"]["role"]) == ("Viewer", "Editor")

    undo = gtool("role", "undo", "snap.json", "--yes", "--format", "json", env=env)
    rows = {row["source"].rsplit("#", 1)[1]: row for row in json.loads(undo.stdout)}
    assert rows["0"]["status"] == "applied" and members(cloud)["jsmith"]["role"] == "Editor"
    # mgarcia was added by login (the token cannot read her id): the undo names her, and refuses to take
    # away what may be her last org, since on Cloud that deletes the account
    assert rows["1"]["user"] == "mgarcia" and rows["1"]["status"] == "blocked"
    assert "may delete the account" in rows["1"]["message"]
    assert undo.returncode == 1 and members(cloud)["mgarcia"]["role"] == "Editor"
    assert_no_secret(*outputs(r, undo), (tmp_path / "snap.json").read_text(), secrets=SECRETS)


# --- accounts ------------------------------------------------------------------------------------------


def test_user_create_is_an_invite_sent_once(gtool: Run, cloud: str, tmp_path: Path) -> None:
    env = cloud_env(cloud, tmp_path)
    dry = gtool(
        "user", "create", "zed", "--email", "zed@example.com", "--role", "Editor", "--dry-run", env=env
    )
    assert dry.returncode == 0 and "POST " in dry.stdout and "/api/org/invites" in dry.stdout
    assert '"loginOrEmail":"zed@example.com"' in dry.stdout and "/api/admin/users" not in dry.stdout

    sent = gtool(
        "user", "create", "zed", "--email", "zed@example.com", "--role", "Editor",
        "--password-file", "zed.pw", "--yes", env=env,
    )  # fmt: skip
    assert sent.returncode == 0 and sent.stdout.startswith("applied: invite zed"), sent.stderr
    assert "inviting instead of creating" in sent.stderr and "no password is generated" in sent.stderr
    assert not (tmp_path / "zed.pw").exists()
    again = gtool("user", "create", "zed", "--email", "zed@example.com", "--yes", env=env)
    assert again.returncode == 0 and "already invited (as Editor" in again.stdout
    invites = [i for i in api(cloud, "/api/org/invites") if i["email"] == "zed@example.com"]
    assert [(i["role"], i["emailSent"]) for i in invites] == [("Editor", True)]
    assert_no_secret(*outputs(dry, sent, again), secrets=SECRETS)


@pytest.mark.parametrize(
    "args",
    [
        ("admin", "grant", "bob"),
        ("admin", "revoke", "bob"),
        ("user", "disable", "bob"),
        ("user", "enable", "tbrown"),
        ("user", "delete", "bob"),
        ("user", "remove-from-orgs", "bob"),
        ("users", "ls", "--admins"),
    ],
    ids=" ".join,
)
def test_server_admin_commands_say_a_token_cannot_before_sending(
    gtool: Run, cloud: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    env = cloud_env(cloud, tmp_path)
    before = members(cloud)
    for extra in (("--yes",), ("--dry-run",)) if args[0] != "users" else ((),):
        r = gtool(*args, *extra, env=env)
        assert r.returncode == 3, r.stderr
        assert NOT_POSSIBLE in r.stderr and "grafana.com" in r.stderr
        assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert_no_secret(r.stdout, r.stderr, secrets=SECRETS)
    assert members(cloud) == before
    assert not audit_file(tmp_path).exists()  # nothing was attempted


def test_saml_drift_compares_the_tokens_org(gtool: Run, cloud: str, tmp_path: Path) -> None:
    env = cloud_env(cloud, tmp_path)
    attrs = (
        "--attr", "email=linus@example.com", "--attr", "groups=Everyone",
        "--attr", "organization=Platform Engineering",
    )  # fmt: skip
    r = gtool("saml", "drift", "linus@example.com", "--config", str(OKTA), *attrs, env=env)
    assert r.returncode == 0, r.stderr
    assert "~ org 1 'Main Org.': Editor -> Viewer" in r.stdout
    assert "? Grafana Admin: this credential cannot read it" in r.stdout
    assert "this credential sees org 1 'Main Org.' only" in r.stdout
    assert "= team 'Platform SRE' in org 1 'Main Org.': stays (added by hand" in r.stdout
    doc = as_json(
        gtool(
            "saml", "drift", "linus@example.com", "--config", str(OKTA), *attrs, "--format", "json", env=env
        )
    )
    assert doc["visible_orgs"] == [1] and doc["grafana_admin"] == {"from": None, "to": False}
    assert doc["teams"]["sync"] == "compared" and doc["changed"] is True
    check = gtool("saml", "drift", "linus@example.com", "--config", str(OKTA), *attrs, "--check", env=env)
    assert check.returncode == 1
    outside = gtool("saml", "drift", "grace@example.com", "--config", str(OKTA), *attrs, env=env)
    assert outside.returncode == 2 and "the only org this credential sees" in outside.stderr
    assert members(cloud)["linus@example.com"]["role"] == "Editor"  # drift sends nothing
