"""The sandbox as a real process: start on a free port, answer over HTTP, stop on SIGTERM/SIGINT with exit
code 0, keep its state in the ``--db`` file across a restart, and stay consistent under concurrent writes.
"""

from __future__ import annotations

import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gtool.sandbox.seed import load_seed
from tests.conftest import ROOT
from tests.sandbox.conftest import RunningSandbox, start_sandbox

SEED = ROOT / "samples" / "sandbox-seed.toml"


def test_sandbox_process_serves_and_stops_on_sigterm(sandbox: RunningSandbox) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:")
    assert sandbox.auth == ("admin", "admin")
    health = httpx.get(f"{sandbox.url}/api/health")
    assert health.status_code == 200 and json.loads(health.content)["database"] == "ok"
    me = httpx.get(f"{sandbox.url}/api/user", auth=sandbox.auth)
    assert me.status_code == 200 and json.loads(me.content)["login"] == "admin"
    assert httpx.get(f"{sandbox.url}/api/user").status_code == 401
    assert sandbox.stop(signal.SIGTERM) == 0
    assert sandbox.process.poll() == 0
    assert "Grafana sandbox stopped" in sandbox.output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{sandbox.url}/api/health", timeout=2)


def test_sigint_stops_cleanly_too(tmp_path: Path) -> None:
    running = start_sandbox(log=tmp_path / "log")
    try:
        assert httpx.get(f"{running.url}/api/health").status_code == 200
    finally:
        assert running.stop(signal.SIGINT) == 0


def test_state_in_the_db_file_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "grafana.db"
    first = start_sandbox(db=db, log=tmp_path / "log")
    try:
        r = httpx.post(
            f"{first.url}/api/admin/users",
            auth=first.auth,
            json={"login": "jane", "email": "jane@example.com", "password": "s3cret"},
        )
        assert r.status_code == 200
        uid = json.loads(r.content)["uid"]
    finally:
        assert first.stop() == 0
    second = start_sandbox(db=db, log=tmp_path / "log")
    try:
        assert any("unless changed in the database" in line for line in second.output)
        me = httpx.get(f"{second.url}/api/user", auth=("jane", "s3cret"))
        assert me.status_code == 200
        assert json.loads(me.content)["uid"] == uid
        total = json.loads(httpx.get(f"{second.url}/api/users/search", auth=second.auth).content)[
            "totalCount"
        ]
        assert total == 2
    finally:
        assert second.stop() == 0


def test_concurrent_writes_lose_nothing(sandbox: RunningSandbox) -> None:
    def create(n: int) -> int:
        body = {"login": f"user{n:03d}", "password": "secret"}
        with httpx.Client(base_url=sandbox.url, auth=sandbox.auth, timeout=30) as client:
            return client.post("/api/admin/users", json=body).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(create, range(60)))
    assert statuses == [200] * 60
    body = json.loads(httpx.get(f"{sandbox.url}/api/users/search?perpage=1", auth=sandbox.auth).content)
    assert body["totalCount"] == 61

    def toggle(n: int) -> int:
        with httpx.Client(base_url=sandbox.url, auth=sandbox.auth, timeout=30) as client:
            flag = n % 2 == 0
            return client.put(
                f"/api/admin/users/{n + 2}/permissions", json={"isGrafanaAdmin": flag}
            ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert set(pool.map(toggle, range(60))) == {200}
    admins = [
        u["login"]
        for u in json.loads(httpx.get(f"{sandbox.url}/api/users", auth=sandbox.auth).content)
        if u["isAdmin"]
    ]
    assert len(admins) == 31  # admin plus every even-numbered user


def test_a_seed_file_is_loaded_into_a_new_database(tmp_path: Path) -> None:
    seed = load_seed(SEED)
    running = start_sandbox("--seed", str(SEED), db=tmp_path / "seeded.db", log=tmp_path / "log")
    try:
        token = seed.token("gtool-ci")
        assert any(token in line for line in running.output)  # printed once at start-up
        search = httpx.get(f"{running.url}/api/users/search", auth=running.auth)
        assert json.loads(search.content)["totalCount"] == len(seed.users)
        ada = seed.user("ada@example.com")
        me = httpx.get(
            f"{running.url}/api/users/lookup", params={"loginOrEmail": ada.login}, auth=running.auth
        )
        user_id = json.loads(me.content)["id"]
        profile = json.loads(httpx.get(f"{running.url}/api/users/{user_id}", auth=running.auth).content)
        # samples/okta/grafana.ini enables SAML without skip_org_role_sync: SAML users are synced.
        assert (profile["authLabels"], profile["isExternallySynced"]) == (["SAML"], True)
        as_sa = httpx.get(f"{running.url}/api/user", headers={"Authorization": f"Bearer {token}"})
        assert as_sa.status_code == 200 and json.loads(as_sa.content)["login"] == "sa-1-gtool-ci"
        health = json.loads(httpx.get(f"{running.url}/api/health").content)
        assert health["version"] == seed.sandbox.version
    finally:
        assert running.stop() == 0
