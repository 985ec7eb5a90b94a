"""``gtool role apply FILE``: many (user, org, role) rows as a diff, applied row by row, undoable.

Input (`load_rows`): CSV with the header ``user,org,role``, or TOML with ``[[change]]`` tables of
``user =``, ``org =``, ``role =``. Every problem is reported as ``file:line: message``, all at once, and
nothing is planned from a file with problems. The same (user, org) twice is an error: one of the two would
silently win.

`plan_rows` reads the current state and plans each row with `gtool.access.roles.plan_grant` (a member
with another role gets one ``PATCH``; a non-member is added), so rows already in place are reported as
unchanged and sending nothing, and synced users are blocked unless forced. `BulkPlan.summary` is the
confirmation text.

`apply_bulk` writes a snapshot of the prior roles first (JSON, ``0600``, refused if the file exists), then
applies the rows on a bounded thread pool, each through `gtool.access.roles.apply` (read-back and audit
included). A row whose write failed on a server error, or whose answer was lost and the read-back showed
nothing happened, is planned again from fresh state and retried (``retries`` times); a role change is
idempotent, so nothing is doubled. Each row ends in one `RowStatus`. `undo` restores a snapshot the same
way (members get their old role back, rows that added someone remove them again).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import re
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from gtool.access import roles
from gtool.grafana.client import GrafanaClient
from gtool.grafana.errors import AmbiguousWrite, GrafanaError, ServerError, TransportError
from gtool.grafana.models import Org, normalize_role

RowStatus = Literal["applied", "unchanged", "blocked", "failed", "ambiguous-resolved", "ambiguous"]
SNAPSHOT_VERSION = 1
DEFAULT_WORKERS = 8


class BulkFileError(ValueError):
    """The input file has problems; ``problems`` holds every one as ``file:line: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Row:
    """One wanted state: `user` (login, email or id) has `role` in `org` (id or exact name).

    ``role`` is ``None`` in an undo row that removes a membership the bulk apply added.
    """

    user: str
    org: str
    role: str | None
    source: str  # file:line, or snapshot:index

    def key(self) -> tuple[str, str]:
        return (self.user.casefold(), self.org.casefold())


# --- reading the file ------------------------------------------------------------------------------------


def load_rows(path: Path) -> list[Row]:
    """The rows of a ``.csv`` or ``.toml`` file (by extension; otherwise by content); `BulkFileError`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise BulkFileError([f"{path}: cannot read: {err}"]) from None
    is_toml = path.suffix.lower() == ".toml" or (
        path.suffix.lower() != ".csv" and re.search(r"^\s*\[\[\s*change\s*\]\]", text, re.M) is not None
    )
    return parse_toml(text, str(path)) if is_toml else parse_csv(text, str(path))


def _check(user: object, org: object, role: object, where: str, problems: list[str]) -> Row | None:
    bad = [name for name, v in (("user", user), ("org", org), ("role", role)) if not _text(v)]
    if bad:
        problems.append(f"{where}: missing or empty {', '.join(bad)}")
        return None
    try:
        wanted = normalize_role(str(role).strip())
    except ValueError:
        problems.append(f"{where}: unknown role {role!r} (use Viewer, Editor, Admin or None)")
        return None
    return Row(str(user).strip(), str(org).strip(), wanted, where)


def _text(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip() != ""


def parse_csv(text: str, name: str = "<csv>") -> list[Row]:
    """Rows from CSV text whose header is ``user,org,role`` (any case, any column order)."""
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[Row] = []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip().lower() for c in record]
            if sorted(header) != ["org", "role", "user"]:
                raise BulkFileError(
                    [f"{name}:{line}: the header must be user,org,role, not {','.join(record)}"]
                )
            continue
        if len(record) != 3:
            problems.append(f"{name}:{line}: expected 3 fields (user,org,role), found {len(record)}")
            continue
        cells = dict(zip(header, record, strict=True))
        if (
            row := _check(cells["user"], cells["org"], cells["role"], f"{name}:{line}", problems)
        ) is not None:
            rows.append(row)
    if header is None:
        problems.append(f"{name}:1: empty file: expected the header user,org,role")
    return _finish(rows, problems)


_CHANGE = re.compile(r"^\s*\[\[\s*change\s*\]\]")
_TOML_LINE = re.compile(r"at line (\d+)")


def parse_toml(text: str, name: str = "<toml>") -> list[Row]:
    """Rows from ``[[change]]`` tables; the line of each is the line of its ``[[change]]`` header."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = _TOML_LINE.search(str(err))
        raise BulkFileError([f"{name}:{m.group(1) if m else 1}: not valid TOML: {err}"]) from None
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if _CHANGE.match(line)]
    problems = [
        f"{name}:1: unknown top-level key {k!r} (expected [[change]] tables)" for k in data if k != "change"
    ]
    changes = data.get("change", [])
    if not isinstance(changes, list):
        raise BulkFileError([f"{name}:1: 'change' must be an array of tables ([[change]])"])
    rows: list[Row] = []
    for i, table in enumerate(changes):
        where = f"{name}:{lines[i] if i < len(lines) else 1}"
        if not isinstance(table, dict):
            problems.append(f"{where}: a change must be a table")
            continue
        extra = sorted(set(table) - {"user", "org", "role"})
        if extra:
            problems.append(f"{where}: unknown key(s) {', '.join(extra)} (expected user, org, role)")
            continue
        if (
            row := _check(table.get("user"), table.get("org"), table.get("role"), where, problems)
        ) is not None:
            rows.append(row)
    if not changes and not problems:
        problems.append(f"{name}:1: no [[change]] tables")
    return _finish(rows, problems)


def _finish(rows: list[Row], problems: list[str]) -> list[Row]:
    seen: dict[tuple[str, str], Row] = {}
    for row in rows:
        if (first := seen.get(row.key())) is not None:
            problems.append(f"{row.source}: {row.user} in org {row.org} is already set at {first.source}")
        else:
            seen[row.key()] = row
    if problems:
        raise BulkFileError(problems)
    return rows


# --- planning --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowPlan:
    """A row and its plan, or why it could not be planned (an unknown user or org)."""

    row: Row
    plan: roles.Plan | None
    error: str | None = None

    @property
    def state(self) -> Literal["change", "unchanged", "blocked", "error"]:
        if self.plan is None:
            return "error"
        if self.plan.blocked:
            return "blocked"
        return "unchanged" if self.plan.noop else "change"


@dataclass(frozen=True)
class BulkPlan:
    rows: tuple[RowPlan, ...]

    def count(self, state: str) -> int:
        return sum(1 for r in self.rows if r.state == state)

    @property
    def changes(self) -> list[RowPlan]:
        return [r for r in self.rows if r.state == "change"]

    def summary(self) -> list[str]:
        """The confirmation text: counts, then each change, blocked row and error with its source line."""
        lines = [
            f"{len(self.rows)} rows: {self.count('change')} to change, {self.count('unchanged')} unchanged, "
            f"{self.count('blocked')} blocked, {self.count('error')} with errors"
        ]
        for r in self.rows:
            if r.state == "change" and r.plan is not None:
                lines.append(
                    f"  {r.row.source}: {r.plan.target}: {_role(r.plan.before)} -> {_role(r.plan.after)}"
                )
            elif r.state == "blocked" and r.plan is not None:
                lines.append(f"  {r.row.source}: blocked: {r.plan.blocked}")
            elif r.state == "error":
                lines.append(f"  {r.row.source}: {r.error}")
        return lines


def _role(value: object) -> str:
    return "not a member" if value is None else str(value)


def plan_row(client: GrafanaClient, row: Row, *, force: bool = False, org: Org | None = None) -> RowPlan:
    """Plan one row from the current state; lookup failures become `RowPlan.error`, never an exception.

    `org` is the row's org already resolved (`plan_rows` resolves each org of a file once).
    """
    where: Org | str = org if org is not None else row.org
    try:
        if row.role is None:
            plan = roles.plan_revoke(client, row.user, where, force=force)
            if plan.destructive and not plan.blocked:  # Cloud: the last org's removal deletes the account
                why = "removing this membership may delete the account (Grafana Cloud): remove it by hand"
                plan = dataclasses.replace(plan, calls=(), blocked=why)
        else:
            plan = roles.plan_grant(client, row.user, where, row.role, force=force)
    except (GrafanaError, ValueError) as err:
        return RowPlan(row, None, error=f"cannot plan {row.user} in org {row.org}: {err}")
    return RowPlan(row, plan)


def _pool_map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    if workers < 1:
        raise ValueError("workers must be at least 1")
    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(items)))) as pool:
        return list(pool.map(fn, items))


def plan_rows(
    client: GrafanaClient, rows: Sequence[Row], *, force: bool = False, workers: int = DEFAULT_WORKERS
) -> BulkPlan:
    """The diff: every row planned against the current state, with at most `workers` requests at once."""
    orgs = _orgs(client, rows)
    return BulkPlan(
        tuple(_pool_map(lambda r: plan_row(client, r, force=force, org=orgs.get(r.org)), rows, workers))
    )


def _orgs(client: GrafanaClient, rows: Sequence[Row]) -> dict[str, Org]:
    # A file names a handful of orgs for many rows: each is resolved once, not once per row. An org that
    # cannot be resolved here is left to each row, which then says why in its own error.
    found: dict[str, Org] = {}
    for ref in dict.fromkeys(r.org for r in rows):
        with contextlib.suppress(GrafanaError, ValueError):
            found[ref] = roles.find_org(client, ref)
    return found


# --- the snapshot ----------------------------------------------------------------------------------------


def write_snapshot(path: Path, plan: BulkPlan, *, url: str = "") -> Path:
    """The prior role of every row that will change, as JSON in a new ``0600`` file (never overwritten)."""
    entries = [
        {
            "user": r.plan.user.login,
            "user_id": r.plan.user.id,
            "org": r.plan.org.name if r.plan.org else r.row.org,
            "org_id": r.plan.org.id if r.plan.org else None,
            "role": r.plan.before,  # None: was not a member
            "source": r.row.source,
        }
        for r in plan.changes
        if r.plan is not None
    ]
    doc = {"version": SNAPSHOT_VERSION, "url": url, "time": datetime.now(UTC).isoformat(), "entries": entries}
    data = (json.dumps(doc, indent=2) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def load_snapshot(path: Path) -> list[Row]:
    """The rows that restore a snapshot: the old role, or ``None`` (remove) where there was none."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BulkFileError([f"{path}: cannot read the snapshot: {err}"]) from None
    if (
        not isinstance(doc, dict)
        or doc.get("version") != SNAPSHOT_VERSION
        or not isinstance(doc.get("entries"), list)
    ):
        raise BulkFileError([f"{path}: not a gtool role snapshot (version {SNAPSHOT_VERSION})"])
    rows: list[Row] = []
    for i, e in enumerate(doc["entries"]):
        if (
            not isinstance(e, dict)
            or not isinstance(e.get("user_id"), int)
            or not isinstance(e.get("org_id"), int)
        ):
            raise BulkFileError([f"{path}: entry {i}: needs user_id and org_id"])
        user = _snapshot_user(e)
        if user is None:
            raise BulkFileError([f"{path}: entry {i}: needs a user_id or the user's login"])
        role = e.get("role")
        rows.append(Row(user, str(e["org_id"]), normalize_role(role) if role else None, f"{path}:#{i}"))
    return rows


def _snapshot_user(entry: dict[str, Any]) -> str | None:
    # A credential that cannot look up users outside its org (a Cloud token) adds a non-member by login
    # without learning the id first: such an entry has user_id 0, and the login is what names the user.
    if entry["user_id"] > 0:
        return str(entry["user_id"])
    login = entry.get("user")
    return login if isinstance(login, str) and login else None


# --- applying --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowResult:
    row: Row
    status: RowStatus
    message: str
    attempts: int = 0
    result: roles.Result | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class BulkReport:
    results: tuple[RowResult, ...]
    snapshot: Path | None = None

    def count(self, status: RowStatus) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def ok(self) -> bool:
        """Every row applied, unchanged or resolved: nothing blocked, failed or in doubt."""
        return all(r.status in ("applied", "unchanged", "ambiguous-resolved") for r in self.results)

    def summary(self) -> list[str]:
        statuses: tuple[RowStatus, ...] = (
            "applied",
            "ambiguous-resolved",
            "unchanged",
            "blocked",
            "failed",
            "ambiguous",
        )
        lines = [", ".join(f"{self.count(s)} {s}" for s in statuses)]
        lines.extend(
            f"  {r.row.source}: {r.status}: {r.message}"
            for r in self.results
            if r.status not in ("applied", "unchanged")
        )
        return lines


def _retryable(result: roles.Result) -> bool:
    # Safe to plan again and resend: Grafana failed (5xx), the request never got an answer, or a lost
    # answer was read back as "not applied". A refusal (4xx) would only be refused again.
    return result.outcome == "failed" and (
        isinstance(result.error, ServerError | TransportError)
        or (isinstance(result.error, AmbiguousWrite) and result.verified is False)
    )


def _replan(client: GrafanaClient, row: Row, *, force: bool, tries: int) -> RowPlan:
    # The re-read is what settles a doubtful write, so a re-read that still fails after the client's own
    # retries (a 500 or a dropped connection that outlasts them) gets a few more tries here.
    again = plan_row(client, row, force=force)
    for _ in range(tries):
        if again.plan is not None:
            break
        again = plan_row(client, row, force=force)
    return again


def _apply_row(
    client: GrafanaClient,
    rp: RowPlan,
    *,
    retries: int,
    force: bool,
    audit: Path | None,
    profile: str | None,
    actor: str | None,
) -> RowResult:
    """One row to its end state: sent, read back, and after a doubtful failure re-read and resent.

    A resend happens only after a fresh read shows the change is still missing, so a write that did land
    is never sent twice; `retries` bounds the resends.
    """
    if rp.plan is None:
        return RowResult(rp.row, "failed", rp.error or "could not be planned")
    plan, attempts, doubt = rp.plan, 0, False
    last: roles.Result | None = None
    while True:
        if plan.blocked:
            return RowResult(rp.row, "blocked", plan.blocked, attempts)
        if plan.noop:
            if attempts and doubt:  # an earlier attempt did land after all
                return RowResult(
                    rp.row, "ambiguous-resolved", "applied (confirmed by reading back)", attempts
                )
            return RowResult(rp.row, "unchanged", plan.noop, attempts)
        if last is not None and attempts > retries:
            return RowResult(
                rp.row, "failed", f"{last.message} (read back: still not applied)", attempts, last
            )
        try:
            last = roles.apply(client, plan, audit=audit, profile=profile, actor=actor)
        except OSError as err:  # the audit log: the write happened (or not) but could not be recorded
            return RowResult(rp.row, "failed", f"the audit log could not be written: {err}", attempts + 1)
        attempts += 1
        doubt = doubt or isinstance(last.error, AmbiguousWrite | ServerError | TransportError)
        if last.outcome == "applied":
            status: RowStatus = "ambiguous-resolved" if doubt else "applied"
            return RowResult(rp.row, status, last.message, attempts, last)
        if last.outcome != "ambiguous" and not _retryable(last):
            return RowResult(rp.row, "failed", last.message, attempts, last)
        again = _replan(client, rp.row, force=force, tries=retries)
        if again.plan is None:
            status = "ambiguous" if last.outcome == "ambiguous" else "failed"
            return RowResult(rp.row, status, f"{last.message}; then {again.error}", attempts, last)
        plan = again.plan


def apply_bulk(
    client: GrafanaClient,
    plan: BulkPlan,
    *,
    snapshot: Path | None = None,
    workers: int = DEFAULT_WORKERS,
    retries: int = 2,
    force: bool = False,
    audit: Path | None = None,
    profile: str | None = None,
    actor: str | None = None,
) -> BulkReport:
    """Apply every row of `plan` with at most `workers` rows in flight; one `RowResult` per row, in order.

    The snapshot (when given) is written before the first write; `FileExistsError` if it exists, and then
    nothing is sent. Blocked and unplannable rows are reported, never sent.
    """
    if snapshot is not None:
        write_snapshot(snapshot, plan, url=client.base_url)

    def run(rp: RowPlan) -> RowResult:
        return _apply_row(client, rp, retries=retries, force=force, audit=audit, profile=profile, actor=actor)

    return BulkReport(tuple(_pool_map(run, plan.rows, workers)), snapshot)


def undo(
    client: GrafanaClient,
    snapshot: Path,
    *,
    workers: int = DEFAULT_WORKERS,
    retries: int = 2,
    force: bool = False,
    audit: Path | None = None,
    profile: str | None = None,
    actor: str | None = None,
) -> BulkReport:
    """Restore the roles a snapshot recorded (planned against the current state, applied like a bulk)."""
    rows = load_snapshot(snapshot)
    plan = plan_rows(client, rows, force=force, workers=workers)
    return apply_bulk(
        client, plan, workers=workers, retries=retries, force=force, audit=audit, profile=profile, actor=actor
    )
