"""Bulk role apply/undo against the in-process sandbox, with lost answers and injected 5xx."""

from __future__ import annotations

import json
import stat
import warnings
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from gtool.access.bulk import (
    BulkFileError,
    Row,
    apply_bulk,
    load_rows,
    parse_csv,
    parse_toml,
    plan_rows,
    undo,
)
from gtool.grafana import BasicAuth, GrafanaClient
from gtool.grafana.auth import Secret
from gtool.grafana.retry import RetryPolicy
from gtool.sandbox.app import create_app, load_config, store_options
from gtool.sandbox.faults import Decision, FaultConfig, FaultConfigHolder, FaultMiddleware
from gtool.sandbox.seed import load_seed
from gtool.sandbox.store import Store
from tests.access.conftest import BASE_URL, OKTA, SEED, Recorder, Sandbox

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


def role_of(client: GrafanaClient, login: str, org_id: int) -> str | None:
    user = client.lookup_user(login)
    return next((m.role for m in client.user_orgs(user.id) if m.org_id == org_id), None)


# --- parsing ---------------------------------------------------------------------------------------------


def test_csv_rows_and_errors_with_file_and_line() -> None:
    rows = parse_csv("user,org,role\nbob,Main Org.,viewer\n\n# note\nalice,2,Editor\n", "f.csv")
    assert rows == [Row("bob", "Main Org.", "Viewer", "f.csv:2"), Row("alice", "2", "Editor", "f.csv:5")]
    with pytest.raises(BulkFileError) as err:
        parse_csv("user,org,role\nbob,1,Boss\ncarol,1\n,1,Viewer\nbob,1,Editor\n", "f.csv")
    assert err.value.problems == [
        "f.csv:2: unknown role 'Boss' (use Viewer, Editor, Admin or None)",
        "f.csv:3: expected 3 fields (user,org,role), found 2",
        "f.csv:4: missing or empty user",
    ]
    with pytest.raises(BulkFileError, match=r"f\.csv:1: the header must be user,org,role"):
        parse_csv("login,org,role\nbob,1,Viewer\n", "f.csv")


def test_same_user_and_org_twice_is_an_error() -> None:
    with pytest.raises(BulkFileError, match=r"f.csv:3: BOB in org 1 is already set at f.csv:2"):
        parse_csv("user,org,role\nbob,1,Viewer\nBOB,1,Editor\n", "f.csv")


def test_toml_rows_with_line_numbers() -> None:
    text = (
        '# header\n[[change]]\nuser = "bob"\norg = 1\nrole = "admin"\n\n'
        '[[change]]\nuser = "alice"\norg = "Main Org."\nrole = "Nope"\n'
    )
    with pytest.raises(BulkFileError) as err:
        parse_toml(text, "c.toml")
    assert err.value.problems == ["c.toml:7: unknown role 'Nope' (use Viewer, Editor, Admin or None)"]
    rows = parse_toml(text.replace("Nope", "Viewer"), "c.toml")
    assert [(r.user, r.org, r.role, r.source) for r in rows] == [
        ("bob", "1", "Admin", "c.toml:2"),
        ("alice", "Main Org.", "Viewer", "c.toml:7"),
    ]
    with pytest.raises(BulkFileError, match=r"c.toml:2: not valid TOML"):
        parse_toml('[[change]]\nuser = "bob\n', "c.toml")
    with pytest.raises(BulkFileError, match=r"c.toml:1: unknown key\(s\) extra"):
        parse_toml('[[change]]\nuser = "bob"\norg = 1\nrole = "Viewer"\nextra = 1\n', "c.toml")


def test_load_rows_by_extension(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("user,org,role\nbob,1,Viewer\n")
    (tmp_path / "r.toml").write_text('[[change]]\nuser = "bob"\norg = 1\nrole = "Viewer"\n')
    assert load_rows(tmp_path / "r.csv")[0].source.endswith("r.csv:2")
    assert load_rows(tmp_path / "r.toml")[0].role == "Viewer"


# --- diff, apply, snapshot, undo -------------------------------------------------------------------------


def test_diff_apply_snapshot_and_undo(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = parse_csv(
        "user,org,role\n"
        "bob,Main Org.,Admin\n"  # change
        "bob,Data Science,Viewer\n"  # unchanged
        "carol,Main Org.,Editor\n"  # add
        "ada@example.com,Main Org.,Viewer\n"  # SAML synced: blocked
        "nobody,1,Viewer\n",  # unknown user
        "r.csv",
    )
    plan = plan_rows(sandbox.client, rows)
    assert [r.state for r in plan.rows] == ["change", "unchanged", "change", "blocked", "error"]
    summary = "\n".join(plan.summary())
    assert "5 rows: 2 to change, 1 unchanged, 1 blocked, 1 with errors" in summary
    assert "r.csv:2: bob in org 1 'Main Org.': Editor -> Admin" in summary
    assert "r.csv:6: cannot plan nobody" in summary

    snap = tmp_path / "snap.json"
    sandbox.recorder.requests.clear()
    report = apply_bulk(sandbox.client, plan, snapshot=snap, audit=sandbox.audit, workers=4)

    assert [r.status for r in report.results] == ["applied", "unchanged", "applied", "blocked", "failed"]
    assert not report.ok
    assert len(sandbox.recorder.writes()) == 2  # one PATCH, one POST: nothing for the others
    assert role_of(sandbox.client, "bob", 1) == "Admin" and role_of(sandbox.client, "carol", 1) == "Editor"
    assert stat.S_IMODE(snap.stat().st_mode) == 0o600
    entries = json.loads(snap.read_text())["entries"]
    assert [(e["user"], e["org_id"], e["role"]) for e in entries] == [
        ("bob", 1, "Editor"),
        ("carol", 1, None),
    ]

    with pytest.raises(FileExistsError):
        apply_bulk(sandbox.client, plan, snapshot=snap, audit=sandbox.audit)

    back = undo(sandbox.client, snap, audit=sandbox.audit)
    assert [r.status for r in back.results] == ["applied", "applied"] and back.ok
    assert role_of(sandbox.client, "bob", 1) == "Editor" and role_of(sandbox.client, "carol", 1) is None
    again = undo(sandbox.client, snap, audit=sandbox.audit)
    assert [r.status for r in again.results] == ["unchanged", "unchanged"]


def test_each_org_of_a_file_is_resolved_once(sandbox: Sandbox) -> None:
    rows = parse_csv(
        "user,org,role\nbob,Main Org.,Viewer\nalice,Main Org.,Editor\nnew.hire,Main Org.,Editor\n"
        "carol,Nowhere,Viewer\n",
        "r.csv",
    )
    sandbox.recorder.requests.clear()
    plan = plan_rows(sandbox.client, rows, workers=2)
    assert [r.state for r in plan.rows] == ["change", "change", "change", "error"]
    by_name = [p for _, p in sandbox.recorder.requests if p.startswith("/api/orgs/name/")]
    # Main Org. once for three rows; the unknown org is left to its row, which says why
    assert by_name.count("/api/orgs/name/Main Org.") == 1 and by_name.count("/api/orgs/name/Nowhere") == 2
    assert "cannot plan carol in org Nowhere" in (plan.rows[3].error or "")


def test_rerunning_the_same_file_changes_nothing(sandbox: Sandbox) -> None:
    rows = parse_csv("user,org,role\nbob,1,Viewer\nalice,2,Editor\n", "r.csv")
    first = apply_bulk(sandbox.client, plan_rows(sandbox.client, rows), audit=sandbox.audit)
    assert [r.status for r in first.results] == ["applied", "applied"]
    sandbox.recorder.requests.clear()
    second = apply_bulk(sandbox.client, plan_rows(sandbox.client, rows), audit=sandbox.audit)
    assert [r.status for r in second.results] == [
        "unchanged",
        "unchanged",
    ] and sandbox.recorder.writes() == []


@pytest.mark.parametrize("lose", ["after", "before"])
def test_lost_answers_are_resolved_by_reading_back(sandbox: Sandbox, lose: str) -> None:
    rows = parse_csv("user,org,role\nbob,1,Viewer\n", "r.csv")
    plan = plan_rows(sandbox.client, rows)
    sandbox.recorder.lose_next_write = lose
    report = apply_bulk(sandbox.client, plan, audit=sandbox.audit, workers=1)
    result = report.results[0]
    assert result.status == "ambiguous-resolved" and report.ok
    assert role_of(sandbox.client, "bob", 1) == "Viewer"
    patches = [w for w in sandbox.recorder.writes() if w[0] == "PATCH"]
    # "after": the write landed, so it is never sent again; "before": it did not, so it is sent once more
    assert len(patches) == (1 if lose == "after" else 2)


def _retrying(sandbox: Sandbox) -> GrafanaClient:
    """A client with the product's retry rules (no waiting) on the recorded sandbox."""
    return sandbox.connect_as_with(RetryPolicy(random=lambda: 0.0))


def test_a_passing_500_on_a_planning_read_does_not_fail_the_row(sandbox: Sandbox) -> None:
    client = _retrying(sandbox)
    client.capabilities()  # detected once per connection: the 500s below hit the row's own reads
    rows = parse_csv("user,org,role\nbob,Main Org.,Admin\n", "r.csv")
    sandbox.recorder.fail_next_reads = 2  # e.g. the user lookup and its first retry
    plan = plan_rows(client, rows, workers=1)
    assert [r.state for r in plan.rows] == ["change"] and sandbox.recorder.fail_next_reads == 0
    report = apply_bulk(client, plan, audit=sandbox.audit, workers=1)
    assert [r.status for r in report.results] == ["applied"]
    assert role_of(sandbox.client, "bob", 1) == "Admin"


def test_a_500_that_persists_through_every_retry_still_fails_the_row(sandbox: Sandbox) -> None:
    client = _retrying(sandbox)
    client.capabilities()
    rows = parse_csv("user,org,role\nbob,Main Org.,Admin\n", "r.csv")
    sandbox.recorder.fail_next_reads = 1000
    plan = plan_rows(client, rows, workers=1)
    sandbox.recorder.fail_next_reads = 0
    [row] = plan.rows
    assert row.state == "error" and row.error is not None and "500 Internal Server Error" in row.error
    report = apply_bulk(client, plan, audit=sandbox.audit, workers=1)
    assert [r.status for r in report.results] == ["failed"] and sandbox.recorder.writes() == []
    assert role_of(sandbox.client, "bob", 1) == "Editor"


# --- ~200 rows with injected 5xx -------------------------------------------------------------------------


def _faulty_client(
    tmp_path: Path, holder: FaultConfigHolder, n_users: int
) -> tuple[GrafanaClient, Store, TestClient]:
    seed = load_seed(SEED)
    config = load_config(OKTA, env={})
    store = Store(":memory:", **store_options(config))
    store.load_seed(seed)
    app = create_app(store, config=config, cloud=False)
    app_client = TestClient(FaultMiddleware(app, holder), base_url=BASE_URL)
    recorder = Recorder(app_client)
    retry = RetryPolicy(max_attempts=6, backoff_base=0.0, backoff_max=0.0)
    client = GrafanaClient(
        BASE_URL, BasicAuth("admin", "admin"), transport=recorder, retry=retry, sleep=lambda s: None
    )
    for i in range(n_users):
        client.create_user(
            f"bulk{i:03d}", Secret(f"pw-{i:03d}-long-enough"), email=f"bulk{i:03d}@example.com"
        )
    return client, store, app_client


class CountingHolder(FaultConfigHolder):
    errors = 0

    def decide(self, path: str) -> Decision | None:
        decision = super().decide(path)
        if decision is not None and decision.action == "error":
            self.errors += 1
        return decision


def test_two_hundred_rows_under_injected_5xx_end_applied_or_failed(tmp_path: Path) -> None:
    holder = CountingHolder()
    client, store, app_client = _faulty_client(tmp_path, holder, 100)
    try:
        # 100 new users (role None in org 1, auto_assign_org_role); the even ones made Viewer there
        for i in range(0, 100, 2):
            client.update_org_user_role(1, client.lookup_user(f"bulk{i:03d}").id, "Viewer")
        lines = ["user,org,role"]
        for i in range(100):
            lines.append(f"bulk{i:03d},1,{('Editor', 'Admin', 'Viewer')[i % 3]}")
            lines.append(f"bulk{i:03d},Data Science,{('Viewer', 'Editor')[i % 2]}")
        rows = parse_csv("\n".join(lines) + "\n", "big.csv")
        assert len(rows) == 200
        plan = plan_rows(client, rows, workers=8)
        assert plan.count("error") == 0 and plan.count("unchanged") == 17
        holder.set(FaultConfig(error_rate=0.25, error_statuses=(500, 502, 503), seed=7))
        report = apply_bulk(
            client, plan, workers=8, retries=3, audit=tmp_path / "audit.jsonl", snapshot=tmp_path / "s.json"
        )
        holder.set(FaultConfig())
        assert holder.errors > 20  # the faults did bite

        statuses = {r.status for r in report.results}
        assert statuses <= {"applied", "ambiguous-resolved", "unchanged", "failed"}
        assert report.count("unchanged") == plan.count("unchanged")
        for r in report.results:
            if r.status in ("applied", "ambiguous-resolved", "unchanged"):
                assert role_of(client, r.row.user, 1 if r.row.org == "1" else 2) == r.row.role, r.row.source
            else:  # reported failed, and really not applied: the injected 5xx never reached the app
                assert r.message
                before = next(p.plan.before for p in plan.rows if p.row == r.row and p.plan)
                assert role_of(client, r.row.user, 1 if r.row.org == "1" else 2) == before, r.row.source
        # nothing doubled: no row was ever refused for already being a member (a second POST)
        assert not [r for r in report.results if "already" in r.message.lower() and r.status == "failed"]
        applied = report.count("applied") + report.count("ambiguous-resolved")
        assert applied + report.count("failed") + report.count("unchanged") == 200
        assert applied >= 150
        audit_lines = (tmp_path / "audit.jsonl").read_text().splitlines()
        assert len(audit_lines) >= applied
    finally:
        client.close()
        app_client.close()
        store.close()
