"""`gtool role apply` of 1,000 changes, run as a process, against a real sandbox that is slow, failing,
throttling and dropping connections, and a proxy that loses the answers to writes Grafana did apply.

The sandbox's faults (`PUT /api/sandbox/faults`: latency, 5xx, 429 with ``Retry-After``, dropped
connections) all strike before Grafana handles a request, so on their own they never leave a write applied
with its answer lost, the case that tempts a client to send a change twice. `LosingProxy` sits between
the CLI and the sandbox and adds exactly that: for some writes it passes the request on, lets Grafana
apply it, and hangs up without an answer. It also counts every write Grafana answered 2xx, so "none
doubled" is checked at the server, not from the CLI's own report.

Then, with the faults off, every membership is read back with admin: each row is either applied (its
membership reads as wanted, one successful write) or reported failed (the old role, no write), none
lost, none doubled; `gtool role undo` of the snapshot, again under faults, restores every prior role.
"""

from __future__ import annotations

import collections
import http.client
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gtool.grafana import BasicAuth, GrafanaClient
from tests.conftest import Run
from tests.e2e.test_bulk_faults import choose_rows, faults
from tests.e2e.test_cli_sandbox import start, stop

FAULTS = {
    "latency_ms": 2,
    "jitter_ms": 2,
    "error_rate": 0.05,
    "error_statuses": [500, 502, 503, 504],
    "drop_rate": 0.02,
    "rate_limit_rps": 600,
    "rate_limit_burst": 60,
    "seed": 11,
}
LOSE_RATE = 0.04  # of the writes: applied by Grafana, answer lost on the way back
DONE = ("applied", "ambiguous-resolved", "unchanged")
WriteKey = tuple[str, str, str]  # method, path, body


class LosingProxy(ThreadingHTTPServer):
    """An HTTP/1.1 proxy to `upstream` that loses the answer to `lose_rate` of the writes, after Grafana
    handled them, and counts what came back: statuses, drops, lost answers, and 2xx writes by target."""

    daemon_threads = True

    def __init__(self, upstream: str, *, lose_rate: float, seed: int, throttle_every: int = 150) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        # The sandbox's own rate limit only bites when the client outruns it, which a loaded CI box may
        # never do; a gateway's 429 on every Nth request makes sure the client meets Retry-After.
        self.throttle_every = throttle_every
        self._requests = 0
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.lose_rate = lose_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.seen: collections.Counter[str] = collections.Counter()
        self.applied: collections.Counter[WriteKey] = collections.Counter()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> LosingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(*self.upstream, timeout=30)
            self._local.conn = conn
        return conn

    def count(self, what: str, write: WriteKey | None = None) -> None:
        with self._lock:
            self.seen[what] += 1
            if write is not None:
                self.applied[write] += 1

    def throttle(self) -> bool:
        with self._lock:
            self._requests += 1
            return self._requests % self.throttle_every == 0

    def lose(self) -> bool:
        with self._lock:
            return self._random.random() < self.lose_rate

    def take_applied(self) -> collections.Counter[WriteKey]:
        with self._lock:
            taken, self.applied = self.applied, collections.Counter()
        return taken


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: LosingProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.throttle():
            self.server.count("429")
            data = b'{"message":"Too Many Requests"}'
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn = self.server.connection()
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        except (http.client.HTTPException, OSError):  # the sandbox dropped it: drop ours as well
            self.server.connection(fresh=True)
            self.server.count("dropped by the sandbox")
            self.close_connection = True
            return
        write = self.command != "GET"
        path = self.path.split("?", 1)[0]
        self.server.count(
            str(answer.status), (self.command, path, body.decode()) if write and answer.status < 300 else None
        )
        if write and answer.status < 300 and self.server.lose():
            self.server.count("answer lost after the write")
            self.close_connection = True  # hang up without a byte: the client cannot know it happened
            return
        self.send_response(answer.status)
        for name in ("Content-Type", "Retry-After"):
            if answer.getheader(name):
                self.send_header(name, answer.getheader(name) or "")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def generated() -> Iterator[str]:
    proc, url = start("--users", "1500", "--orgs", "4", "--teams", "5")
    try:
        yield url
    finally:
        stop(proc)


Key = tuple[int, int]  # (org id, user id)


def memberships(client: GrafanaClient) -> dict[Key, str]:
    found: dict[Key, str] = {}
    for org in client.iter_orgs():
        members = list(client.iter_org_users(org.id))
        assert len(members) == len({m.user_id for m in members}), "a membership appears twice"
        found.update({(org.id, m.user_id): m.role for m in members})
    return found


def writes_by_target(applied: collections.Counter[WriteKey], ids: dict[str, int]) -> collections.Counter[Key]:
    """2xx writes per membership: PATCH/DELETE name it in the path, a POST (add) in its body."""
    per: collections.Counter[Key] = collections.Counter()
    for (method, path, body), n in applied.items():
        m = re.fullmatch(r"/api/orgs/(\d+)/users(?:/(\d+))?", path)
        assert m is not None, (method, path)
        user = int(m.group(2)) if m.group(2) else ids[json.loads(body)["loginOrEmail"]]
        per[(int(m.group(1)), user)] += n
    return per


def run(gtool: Run, *args: str, env: dict[str, str]) -> tuple[list[dict[str, Any]], int, float]:
    began = time.monotonic()
    r = gtool(*args, "--workers", "16", "--yes", "--format", "json", env=env)
    took = time.monotonic() - began
    assert r.returncode in (0, 1), r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout), r.returncode, took


def test_cli_applies_1000_changes_under_faults_none_lost_none_doubled_and_undo_restores(
    gtool: Run, generated: str, tmp_path: Path
) -> None:
    began = time.monotonic()
    admin = GrafanaClient(generated, BasicAuth("admin", "admin"), timeout=10)
    with admin, LosingProxy(generated, lose_rate=LOSE_RATE, seed=5) as proxy:
        lines, before = choose_rows(admin)
        (tmp_path / "changes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        ids = {u.login: u.id for u in admin.iter_users()}
        orgs = {o.name: o.id for o in admin.iter_orgs()}
        start_state = memberships(admin)
        env = {
            "GRAFANA_URL": proxy.url,
            "GRAFANA_USER": "admin",
            "GRAFANA_PASSWORD": "admin",
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }

        assert faults(generated, "PUT", FAULTS)["error_rate"] == FAULTS["error_rate"]
        rows, code, apply_took = run(
            gtool, "role", "apply", "changes.csv", "--snapshot", "snap.json", env=env
        )
        applied_writes = proxy.take_applied()
        audit = [
            json.loads(x) for x in (tmp_path / "state" / "gtool" / "audit.jsonl").read_text().splitlines()
        ]
        faults(generated, "DELETE")
        after_apply = memberships(admin)

        undo_runs: list[tuple[collections.Counter[str], float]] = []
        undo_writes: collections.Counter[WriteKey] = collections.Counter()
        faults(generated, "PUT", FAULTS)
        for _ in range(4):  # an operator re-runs an undo that reported failures; it is idempotent
            undone, undo_code, took = run(gtool, "role", "undo", "snap.json", env=env)
            undo_runs.append((collections.Counter(r["status"] for r in undone), took))
            undo_writes += proxy.take_applied()
            if undo_code == 0:
                break
        faults(generated, "DELETE")
        restored = memberships(admin)

    statuses = collections.Counter(r["status"] for r in rows)
    undo_report = [(dict(c), round(t, 1)) for c, t in undo_runs]
    print(f"\napply: {apply_took:.1f}s, exit {code}, {dict(statuses)}; undo runs: {undo_report}")
    print(f"proxy saw {dict(proxy.seen)}; the test took {time.monotonic() - began:.1f}s")
    for r in rows:
        if r["status"] not in DONE:
            print(f"  {r['source']}: {r['status']}: {r['message']}")
    # the faults really struck: 5xx, 429, dropped connections, and answers lost after Grafana applied
    for what in ("429", "500", "502", "503", "504", "dropped by the sandbox", "answer lost after the write"):
        assert proxy.seen[what] > 0, (what, proxy.seen)

    def key(row: dict[str, Any]) -> Key:
        org = int(row["org"]) if row["org"].isdigit() else orgs[row["org"]]
        return (org, ids[row["user"]])

    wanted = {(c[0], c[1]): c[2] for c in (line.split(",") for line in lines[1:])}
    # none lost: one report row per input row, in order, each done or reported failed with a reason
    assert [r["source"] for r in rows] == [f"changes.csv:{n}" for n in range(2, len(lines) + 1)]
    assert set(statuses) <= {*DONE, "failed", "ambiguous"} and statuses["blocked"] == 0
    assert all(r["message"] for r in rows)
    assert sum(statuses[s] for s in DONE) >= 0.9 * len(rows), statuses
    assert code == (0 if all(r["status"] in DONE for r in rows) else 1)
    by_target = writes_by_target(applied_writes, ids)
    for r in rows:
        now, was, want = after_apply.get(key(r)), before[key(r)], wanted[(r["user"], r["org"])]
        if r["status"] in ("applied", "ambiguous-resolved"):  # ("None" is Grafana's role without rights)
            assert now == want and by_target[key(r)] == 1, (r, now, by_target[key(r)])
        elif r["status"] == "failed":
            assert now == was and by_target[key(r)] == 0, (r, now, by_target[key(r)])
        else:  # ambiguous: said so; whatever happened, happened once at most
            assert now in (was, want) and by_target[key(r)] <= 1, r
    # none doubled: no membership was written twice, and nothing outside the file was touched
    targets = {key(r) for r in rows}
    assert max(by_target.values()) == 1 and set(by_target) <= targets
    assert {k: v for k, v in after_apply.items() if k not in targets} == {
        k: v for k, v in start_state.items() if k not in targets
    }
    confirmed = collections.Counter(e["target"] for e in audit if e["outcome"] == "applied")
    assert max(confirmed.values()) == 1  # the audit log agrees: no change confirmed twice

    # the snapshot restores: after the undo every membership is as it was before the apply
    snapshot = json.loads((tmp_path / "snap.json").read_text())["entries"]
    unplanned = [r for r in rows if r["message"].startswith("cannot plan")]  # reads that failed 4 times
    assert len(snapshot) == len(rows) - len(unplanned) and len(unplanned) <= 5
    assert undo_runs[-1][0]["failed"] == 0 and undo_runs[-1][0]["ambiguous"] == 0
    assert restored == start_state
    assert max(writes_by_target(undo_writes, ids).values()) == 1
