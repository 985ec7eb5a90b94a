"""The bulk apply library (`gtool.access.bulk`) against a real sandbox process that is slow, failing and
throttling, with an operator re-running the rows that failed.

The 1,000-change run through the real `gtool role apply` process, with answers lost after Grafana applied
a write and the undo, is tests/e2e/test_cli_bulk_faults.py; this one is smaller (400 rows) and looks from
below: every HTTP answer the transport saw, and the plans of the re-runs.

The sandbox (`gtool sandbox --users …`) injects ~5 ms latency, ~10 % 5xx answers, a rate limit (429 with
``Retry-After``) and ~3 % dropped connections. Every row must end either applied and verified or reported
as failed: after the faults are switched off (``DELETE /api/sandbox/faults``) every membership is read back
and checked against the row's status, and the audit log shows no change applied twice.
"""

from __future__ import annotations

import collections
import json
import threading
import urllib.request
from pathlib import Path

import httpx

from gtool.access import bulk
from gtool.grafana import BasicAuth, GrafanaClient
from gtool.grafana.retry import RetryPolicy
from tests.e2e.test_cli_sandbox import start, stop

ROWS = 1000  # what `choose_rows` makes by default (the CLI test)
ADDS = 100  # of which: non-members added to an org (a POST, not a PATCH)
LIBRARY_ROWS, LIBRARY_ADDS = 400, 40
ROLES = ("Viewer", "Editor", "None")
FAULT_FLAGS = ("--latency", "5", "--error-rate", "0.1", "--drop-rate", "0.03", "--rate-limit", "500")
DONE = ("applied", "ambiguous-resolved", "unchanged")


class Counting(httpx.HTTPTransport):
    """The real network transport, counting what came back: statuses and connections lost."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except httpx.TransportError as exc:
            with self._lock:
                self.seen[type(exc).__name__] += 1
            raise
        with self._lock:
            self.seen[str(response.status_code)] += 1
        return response


def faults(url: str, method: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{url}/api/sandbox/faults", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer: dict[str, object] = json.loads(resp.read())
        return answer


def choose_rows(
    client: GrafanaClient, rows: int = ROWS, adds: int = ADDS
) -> tuple[list[str], dict[tuple[int, int], str | None]]:
    """CSV lines for `rows` changes (`adds` of them add a non-member), and each (org, user)'s role before."""
    orgs = sorted(client.iter_orgs(), key=lambda o: o.id)
    members = {o.id: {m.user_id: m for m in client.iter_org_users(o.id)} for o in orgs}
    users = sorted(client.iter_users(), key=lambda u: u.id)
    lines, before = ["user,org,role"], {}
    changes = [(o, m) for o in orgs for m in members[o.id].values() if m.role != "Admin"]
    for i, (org, m) in enumerate(changes[: rows - adds]):
        wanted = next(r for r in ROLES[i % 3 :] + ROLES if r != m.role)
        lines.append(f"{m.login},{org.id},{wanted}")
        before[(org.id, m.user_id)] = m.role
    outsiders = [(o, u) for u in users for o in orgs if u.id not in members[o.id] and u.login != "admin"]
    for org, u in outsiders[:adds]:
        lines.append(f"{u.login},{org.name},Viewer")  # by org name, to exercise both forms
        before[(org.id, u.id)] = None
    assert len(lines) == rows + 1, f"the generated instance is too small for {rows} rows"
    return lines, before


def test_bulk_changes_under_faults_none_lost_none_doubled(tmp_path: Path) -> None:
    proc, url = start("--users", "1500", "--orgs", "4", "--teams", "5", *FAULT_FLAGS)
    transport = Counting()
    # Short backoffs keep the run brief; the rate limiter's Retry-After is still honoured.
    policy = RetryPolicy(max_attempts=6, backoff_base=0.02, backoff_max=0.2)
    client = GrafanaClient(url, BasicAuth("admin", "admin"), transport=transport, retry=policy, timeout=10)
    # The test's own reads retry harder, so choosing the rows never fails; only the bulk apply is under test.
    reads = RetryPolicy(max_attempts=10, backoff_base=0.02, backoff_max=0.2)
    reader = GrafanaClient(url, BasicAuth("admin", "admin"), retry=reads, timeout=10)
    audit = tmp_path / "audit.jsonl"
    try:
        # The flags are in force; a seed makes the fault draws reproducible (threads still vary the order).
        config = faults(url, "PATCH", {"seed": 7, "rate_limit_burst": 25})
        assert (config["latency_ms"], config["error_rate"], config["drop_rate"]) == (5, 0.1, 0.03)
        assert config["rate_limit_rps"] == 500
        lines, before = choose_rows(reader, LIBRARY_ROWS, LIBRARY_ADDS)
        csv = tmp_path / "changes.csv"
        csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # (user, org as written) -> role
        wanted = {(cells[0], cells[1]): cells[2] for cells in (line.split(",") for line in lines[1:])}

        rows = bulk.load_rows(csv)
        plan = bulk.plan_rows(client, rows, workers=16)
        first = bulk.apply_bulk(client, plan, workers=16, retries=3, audit=audit)
        # What an operator does with a partial failure: run the failed rows again (faults still on), until
        # none is left (bounded: each pass fails ~12 % of what it is given).
        passes: list[bulk.BulkReport] = []
        replans: list[bulk.BulkPlan] = []
        todo = [r.row for r in first.results if r.status not in DONE]
        while todo and len(passes) < 6:
            replans.append(bulk.plan_rows(client, todo, workers=16))
            passes.append(bulk.apply_bulk(client, replans[-1], workers=16, retries=3, audit=audit))
            todo = [r.row for r in passes[-1].results if r.status not in DONE]

        assert faults(url, "DELETE")["error_rate"] == 0
        # every membership, read back with no faults in the way
        ids = {u.login: u.id for u in client.iter_users()}
        orgs = {o.name: o.id for o in client.iter_orgs()}
        final: dict[tuple[int, int], str] = {}
        for org_id in orgs.values():
            members = list(client.iter_org_users(org_id))
            assert len(members) == len({m.user_id for m in members}), "a membership appears twice"
            final.update({(org_id, m.user_id): m.role for m in members})
    finally:
        client.close()
        reader.close()
        stop(proc)

    statuses = collections.Counter(r.status for r in first.results)
    later = [dict(collections.Counter(r.status for r in p.results)) for p in passes]
    print(f"\nfirst pass {dict(statuses)}; re-runs {later}")
    print(f"transport saw {dict(transport.seen)}")
    # the faults really happened
    assert transport.seen["429"] > 0 and transport.seen["200"] > 0
    assert sum(transport.seen[s] for s in ("500", "502", "503")) > 50
    assert sum(n for k, n in transport.seen.items() if not k.isdigit()) > 10, transport.seen

    def key(row: bulk.Row) -> tuple[int, int]:
        return (int(row.org) if row.org.isdigit() else orgs[row.org], ids[row.user])

    # none lost: one result per row, in order, each either done or reported failed with a reason
    assert [r.row.source for r in first.results] == [r.source for r in rows]
    assert statuses["blocked"] == 0, first.summary()
    assert all(r.status in (*DONE, "failed", "ambiguous") and r.message for r in first.results)
    # The planning reads ride out a passing 500 too (the client retries reads on 500), so only a fault that
    # outlasts every retry leaves a row "cannot plan …" (reported failed) in the first pass.
    assert sum(statuses[s] for s in DONE) >= LIBRARY_ROWS * 0.95, statuses
    # A row reported failed left the old role or (answer lost) the new one: planned again, it is either
    # still the old role or already in place.
    for rp in (rp for plan in replans for rp in plan.rows):
        if rp.plan is not None:
            assert rp.state == "unchanged" or rp.plan.before == before[key(rp.row)], rp
    # every row, after the re-run, is applied and its membership reads back as wanted
    last = {r.row.source: r for report in (first, *passes) for r in report.results}
    for source, r in last.items():
        assert r.status in DONE, f"{source}: {r.status}: {r.message}"
        assert final.get(key(r.row)) == wanted[(r.row.user, r.row.org)], f"{source}: {final.get(key(r.row))}"

    # none doubled: each target has at most one write that Grafana confirmed
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    applied = collections.Counter(rec["target"] for rec in records if rec["outcome"] == "applied")
    assert applied and max(applied.values()) == 1
    assert len(applied) == sum(1 for r in last.values() if r.status in ("applied", "ambiguous-resolved"))
