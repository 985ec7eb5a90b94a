"""The audit log: append-only JSONL, fsynced, 0600, concurrent-safe, and never a secret in it."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import stat
import threading
from datetime import datetime
from pathlib import Path

import pytest

from gtool.access import audit
from gtool.access.audit import AuditEntry
from gtool.grafana.auth import Secret

TOKEN = "glsa_AuDiTt0ken9876543210abcdef_9a8b7c6d"
CLOUD = "glc_eyJvIjoiMTIzNDU2IiwibiI6InN0YWNrIn0K"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXBhcnQ"
LEGACY = "eyJrIjoiUk9PVEtFWTEyMyIsIm4iOiJ4IiwiaWQiOjF9"
PASSWORD = "Tr0ub4dor&3-horse"
BASIC = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
SECRETS = [TOKEN, CLOUD, JWT, LEGACY, PASSWORD, BASIC, "url-pass-42", "query-secret-77", "hunter2hunter2"]


def entry(**kw: object) -> AuditEntry:
    base: dict[str, object] = {
        "action": "role.set",
        "target": "alice@example.com in org 1",
        "outcome": "applied",
    }
    base.update(kw)
    return AuditEntry(**base)  # type: ignore[arg-type]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "state" / "gtool" / "audit.jsonl"


def test_default_path_respects_xdg_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert audit.default_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "gtool" / "audit.jsonl"
    monkeypatch.setenv("HOME", "/home/someone")
    assert audit.default_path({}) == Path("/home/someone/.local/state/gtool/audit.jsonl")
    assert audit.default_path({"XDG_STATE_HOME": "rel"}) == Path(
        "/home/someone/.local/state/gtool/audit.jsonl"
    )


def test_record_without_path_uses_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    audit.record(entry())
    assert len(audit.read().entries) == 1
    assert (tmp_path / "gtool" / "audit.jsonl").exists()


def test_record_writes_one_json_line_with_every_field(log: Path) -> None:
    rec = audit.record(
        entry(
            profile="prod",
            url="https://grafana.example.com/grafana",
            actor="admin",
            before={"role": "Viewer"},
            after={"role": "Editor"},
            detail="PATCH /api/orgs/1/users/7",
        ),
        log,
    )
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data == rec
    assert list(data) == [
        "time", "profile", "url", "actor", "action", "target", "before", "after", "outcome", "detail",
    ]  # fmt: skip
    assert data["outcome"] == "applied" and data["before"] == {"role": "Viewer"}
    when = datetime.fromisoformat(data["time"])
    assert when.utcoffset() is not None and when.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert data["time"].endswith("Z")


def test_file_is_0600_in_a_0700_dir_and_tightened_if_loose(log: Path) -> None:
    audit.record(entry(), log)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    log.chmod(0o644)
    audit.record(entry(), log)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_record_is_append_only_and_fsynced(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    audit.record(entry(target="first"), log)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    audit.record(entry(target="second"), log)
    assert len(synced) == 1
    assert [e.target for e in audit.read(log).entries] == ["first", "second"]


def test_each_record_is_a_single_write(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    audit.record(entry(), log)
    writes: list[bytes] = []
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    audit.record(entry(detail="x" * 100_000), log)
    assert len(writes) == 1 and writes[0].endswith(b"\n") and writes[0].count(b"\n") == 1


@pytest.mark.parametrize("outcome", ["applied", "already", "refused", "failed", "ambiguous"])
def test_outcomes(log: Path, outcome: str) -> None:
    audit.record(entry(outcome=outcome), log)
    assert audit.read(log).entries[0].outcome == outcome


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="outcome must be one of"):
        entry(outcome="done")


def test_concurrent_threads_never_interleave(log: Path) -> None:
    def work(n: int) -> None:
        for i in range(50):
            audit.record(entry(target=f"t{n}-{i}", detail="y" * 5000), log)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = audit.read(log)
    assert result.problems == []
    assert sorted(e.target for e in result.entries) == sorted(
        f"t{n}-{i}" for n in range(8) for i in range(50)
    )


def _append_many(path: str, n: int) -> None:
    for i in range(40):
        audit.record(entry(target=f"p{n}-{i}", detail="z" * 20_000), Path(path))


def test_concurrent_processes_never_interleave(log: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(log), n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    result = audit.read(log)
    assert result.problems == []
    assert len(result.entries) == 160 and len({e.target for e in result.entries}) == 160


# --- reading ---------------------------------------------------------------------------------------------


def test_missing_log_reads_empty(log: Path) -> None:
    result = audit.read(log)
    assert result.entries == [] and result.problems == []


def test_filters_and_tail(log: Path) -> None:
    audit.record(
        entry(profile="prod", target="alice", outcome="applied", time="2026-01-01T00:00:00.000Z"), log
    )
    audit.record(entry(profile="dev", target="bob", outcome="refused", time="2026-02-01T00:00:00.000Z"), log)
    audit.record(
        entry(profile="prod", action="admin.grant", target="Bob", time="2026-03-01T00:00:00.000Z"), log
    )
    assert [e.target for e in audit.read(log, profile="prod").entries] == ["alice", "Bob"]
    assert [e.target for e in audit.read(log, target="bob").entries] == ["bob", "Bob"]
    assert [e.target for e in audit.read(log, outcome="refused").entries] == ["bob"]
    assert [e.action for e in audit.read(log, action="admin.grant").entries] == ["admin.grant"]
    assert [e.target for e in audit.read(log, since="2026-02-01", until="2026-03-01").entries] == ["bob"]
    assert [e.target for e in audit.tail(2, log).entries] == ["bob", "Bob"]
    assert [e.target for e in audit.tail(1, log, profile="prod").entries] == ["Bob"]
    assert audit.tail(0, log).entries == []


def test_truncated_last_line_is_reported_not_fatal(log: Path) -> None:
    audit.record(entry(target="whole"), log)
    with log.open("ab") as fh:
        fh.write(b'{"time":"2026-01-01T00:00:00Z","action":"role.se')  # a crash mid-write
    result = audit.read(log)
    assert [e.target for e in result.entries] == ["whole"]
    assert len(result.problems) == 1 and ":2:" in result.problems[0] and "truncated" in result.problems[0]
    assert [e.target for e in audit.tail(5, log).entries] == ["whole"]

    # the next record starts on a fresh line instead of being glued to the broken one
    audit.record(entry(target="after"), log)
    result = audit.read(log)
    assert [e.target for e in result.entries] == ["whole", "after"]
    assert len(result.problems) == 1 and "not a JSON record" in result.problems[0]


def test_garbage_lines_are_skipped_and_reported(log: Path) -> None:
    log.parent.mkdir(parents=True)
    log.write_text('not json\n[1, 2]\n\n{"action": "x", "target": "t", "outcome": "weird"}\n')
    result = audit.read(log)
    assert len(result.problems) == 2
    assert result.entries[0].action == "x" and result.entries[0].outcome == "failed"


def test_unknown_fields_from_a_newer_gtool_are_ignored(log: Path) -> None:
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps({"action": "a", "target": "t", "outcome": "applied", "future": 1}) + "\n")
    assert audit.read(log).entries[0].action == "a"


# --- secrets ---------------------------------------------------------------------------------------------


def test_url_is_stripped_of_credentials_and_query_secrets() -> None:
    got = audit.safe_url(
        "https://admin:url-pass-42@grafana.example.com:3000/g/api?x=1&api_key=query-secret-77"
    )
    assert got == "https://grafana.example.com:3000/g/api?x=1&api_key=****"
    assert audit.safe_url("https://glsa_x@host/") == "https://host/"
    assert audit.safe_url(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {TOKEN}", "Authorization: ****"),
        (f"sent Bearer {JWT} to the API", "sent Bearer **** to the API"),
        (f"header Basic {BASIC}", "header Basic ****"),
        (f"token {TOKEN} expired", "token **** expired"),
        (f"cloud {CLOUD}", "cloud ****"),
        (f"legacy key {LEGACY}", "legacy key ****"),
        ("https://admin:url-pass-42@host/x", "https://admin:****@host/x"),
        ("GET /api/x?token=query-secret-77&page=2", "GET /api/x?token=****&page=2"),
        ('{"password": "hunter2hunter2", "login": "bob"}', '{"password": "****", "login": "bob"}'),
        ("password=hunter2hunter2 user=bob", "password=**** user=bob"),
        # prose and ordinary values are left alone
        ("basic auth as 'admin'", "basic auth as 'admin'"),
        ("switch to basic authentication", "switch to basic authentication"),
        ("role Viewer -> Editor in org 1", "role Viewer -> Editor in org 1"),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert audit.scrub(text) == expected


def test_scrub_value_masks_secret_named_keys_and_secret_objects() -> None:
    value = {
        "password": PASSWORD,
        "new_password": PASSWORD,
        "Authorization": "whatever",
        "secret": Secret(PASSWORD),
        "login": "bob",
        "role": "Admin",
        "allow_sign_up": True,
        "assignee": "carol",
        "nested": [{"api_key": "k-123"}, Secret("x")],
        "tokens": 3,
    }
    assert audit.scrub_value(value) == {
        "password": "****",
        "new_password": "****",
        "Authorization": "****",
        "secret": "****",
        "login": "bob",
        "role": "Admin",
        "allow_sign_up": True,
        "assignee": "carol",
        "nested": [{"api_key": "****"}, "****"],
        "tokens": 3,
    }


def test_no_secret_ever_reaches_the_file(log: Path) -> None:
    """Secrets in every field, in every shape: grep the file for each one afterwards."""
    blob = " ".join(
        [
            f"Bearer {TOKEN}",
            f"Basic {BASIC}",
            f"Authorization: Bearer {JWT}",
            CLOUD,
            LEGACY,
            f"password={PASSWORD}",
            "https://admin:url-pass-42@grafana.example.com/?token=query-secret-77",
            '"password": "hunter2hunter2"',
        ]
    )
    structured = {
        "password": PASSWORD,
        "token": TOKEN,
        "headers": {"Authorization": f"Basic {BASIC}"},
        "note": blob,
        blob: "key with secrets",
        "list": [blob, Secret(PASSWORD), {"secret": JWT}],
    }
    outcomes: tuple[audit.Outcome, ...] = ("applied", "already", "refused", "failed", "ambiguous")
    for outcome in outcomes:
        audit.record(
            AuditEntry(
                action=blob,
                target=blob,
                outcome=outcome,
                profile=blob,
                url="https://admin:url-pass-42@grafana.example.com/grafana?api_key=query-secret-77&token="
                + TOKEN,
                actor=blob,
                before=structured,
                after=[structured, blob],
                detail=blob + f" (the server said: user admin, password {PASSWORD})",
            ),
            log,
            known_secrets=[Secret(PASSWORD)],  # the bare password in prose is only caught because we know it
        )
    raw = log.read_bytes()
    text = raw.decode()
    for secret in SECRETS:
        assert secret not in text, secret
        assert json.dumps(secret)[1:-1] not in text, secret
    assert "****" in text
    result = audit.read(log)
    assert len(result.entries) == 5 and result.problems == []
    assert result.entries[0].url == "https://grafana.example.com/grafana?api_key=****&token=****"


def test_record_returns_what_it_wrote_so_callers_can_show_it(log: Path) -> None:
    rec = audit.record(entry(detail=f"Bearer {TOKEN}"), log)
    assert rec["detail"] == "Bearer ****"
    assert json.loads(log.read_text())["detail"] == "Bearer ****"


def test_non_json_values_are_stringified_and_scrubbed(log: Path) -> None:
    class Odd:
        def __str__(self) -> str:
            return f"Odd(token={TOKEN})"

    audit.record(entry(before=Odd(), after={1, 2}), log)
    data = json.loads(log.read_text())
    assert data["before"] == "Odd(token=****)" and sorted(data["after"]) == [1, 2]
