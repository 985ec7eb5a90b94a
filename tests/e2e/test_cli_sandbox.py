"""`gtool sandbox` as an operator starts it: flags, a generated instance, faults, a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, Run


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gtool", "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("GF_")},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if match:
            return proc, match.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"sandbox exited: {proc.stderr.read() if proc.stderr else ''}")
    proc.kill()
    raise AssertionError("sandbox did not start within 60 s")


def get(url: str, auth: str | None = None) -> tuple[int, object]:
    req = urllib.request.Request(url)
    if auth:
        import base64

        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_generated_instance_with_faults_from_flags_stops_cleanly() -> None:
    proc, url = start("--users", "300", "--orgs", "5", "--teams", "10", "--latency", "15")
    try:
        status, health = get(f"{url}/api/health")
        assert status == 200 and health["database"] == "ok"  # type: ignore[index]
        _, faults = get(f"{url}/api/sandbox/faults")
        assert faults["latency_ms"] == 15  # type: ignore[index]
        begin = time.monotonic()
        _, page = get(f"{url}/api/users/search?perpage=50", auth="admin:admin")
        assert time.monotonic() - begin >= 0.015, "the injected latency applies to API calls"
        assert page["totalCount"] >= 300 and len(page["users"]) == 50  # type: ignore[index]
    finally:
        code = stop(proc)
    assert code == 0


def test_bad_flags_are_one_line_errors(gtool: Run, tmp_path: Path) -> None:
    r = gtool("sandbox", "--port", "0", "--error-rate", "2")
    assert r.returncode == 2 and "error_rate" in r.stderr and "Traceback" not in r.stderr
    both = gtool("sandbox", "--port", "0", "--users", "5", "--seed", "x.toml")
    assert both.returncode == 2 and "either --seed or --users" in both.stderr
    bad_seed = tmp_path / "seed.toml"
    bad_seed.write_text("[[user]]\nlogin = 'a'\nnope = 1\n")
    r2 = gtool("sandbox", "--port", "0", "--seed", str(bad_seed))
    assert r2.returncode == 2 and "seed.toml" in r2.stderr and "Traceback" not in r2.stderr


def test_saml_login_locks_the_role_against_manual_changes() -> None:
    """The demo's story over real HTTP: a SAML login creates Jane with Admin from her groups; an operator's
    role change is then refused because she is externally synced."""
    proc, url = start("--seed", "samples/sandbox-seed.toml", "--config", "samples/okta/grafana.ini")
    try:
        body = (ROOT / "samples" / "assertions" / "okta-admin.xml").read_bytes()
        req = urllib.request.Request(
            f"{url}/api/sandbox/saml/login", data=body, headers={"Content-Type": "application/xml"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            login = json.loads(resp.read())
        assert login["created"] is True and login["orgRoles"] == {"1": "Admin"}
        user_id = login["user"]["id"]
        import base64

        patch = urllib.request.Request(
            f"{url}/api/orgs/1/users/{user_id}",
            data=b'{"role":"Viewer"}',
            method="PATCH",
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(b"admin:admin").decode(),
            },
        )
        try:
            urllib.request.urlopen(patch, timeout=10)
            raise AssertionError("the role change should be refused")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
            assert exc.read() == (
                b'{"message":"cannot change role for externally synced user",'
                b'"messageId":"org.externallySynced","statusCode":403,"traceID":""}'
            )
    finally:
        assert stop(proc) == 0
