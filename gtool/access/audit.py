"""The audit log: one JSON object per line in ``$XDG_STATE_HOME/gtool/audit.jsonl`` for every write.

Default location ``~/.local/state/gtool/audit.jsonl``; the file is created 0600 in a 0700 directory.
A record has ``time`` (UTC, ISO 8601), ``profile``, ``url``, ``actor``, ``action``, ``target``, ``before``,
``after``, ``outcome`` (one of `OUTCOMES`) and ``detail``.

Durability and concurrency: each record is one ``os.write`` of one complete line to a descriptor opened
with ``O_APPEND`` (the kernel positions every write at the end, so lines from several processes do not
interleave on a local file system), under a thread lock and an ``flock`` (for processes, and for file
systems where ``O_APPEND`` alone is not enough), then ``fsync``\\ ed before `record` returns.

No secret is ever written: `scrub` masks token-shaped strings (``glsa_…``, ``glc_…``, JWTs, legacy API
keys), ``Bearer …``/``Basic …`` header values, ``user:password@`` in URLs, secret-named query parameters
and any value under a secret-named key (``password``, ``token``, ``secret`` …), plus every form of the
secrets the caller passes in `known_secrets`.

`read` and `tail` serve ``gtool audit``; a truncated last line (a write cut short by a crash) is skipped
and reported in `AuditLog.problems`, never an exception.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# _forms: the same raw/URL-quoted/JSON-escaped forms of a secret that the client scrubs from responses
from gtool.grafana.auth import MASK, Secret, _forms, scrub_text

try:  # POSIX only; elsewhere O_APPEND and the thread lock are what we have
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

Outcome = Literal["applied", "already", "refused", "failed", "ambiguous"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)

_LOCK = threading.Lock()

# --- scrubbing -------------------------------------------------------------------------------------------

_SECRET_KEY = re.compile(
    r"(?i)(pass(word|wd)?|pwd|secret|token|api[_-]?key|apikey|authorization|cookie|credential|private[_-]?key|"
    r"session|(?:^|[_-])sig(?:nature)?(?:$|[_-]))"
)
_TOKEN_SHAPES = [
    re.compile(r"\bgl(?:sa|c|sa_pat|pat)_[A-Za-z0-9_=+/-]{8,}"),  # Grafana service account / Cloud tokens
    re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*)?"),  # JWT
    re.compile(r"\beyJrIjoi[A-Za-z0-9+/=]{8,}"),  # Grafana legacy API key (base64 JSON {"k":…)
]
# a credential, not prose like "basic authentication": it has a digit, a symbol or a camel-case bump
_SCHEME_VALUE = re.compile(
    r"(?i)\b(bearer|basic)(\s+)(?-i:(?=[A-Za-z0-9._~+/=-]*(?:[0-9._~+/=-]|[a-z][A-Z])))[A-Za-z0-9._~+/=-]{6,}"
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s@:]*):([^/\s@]*)@")
_URL_BARE_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s@:]+)@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*(?:token|pass(?:word)?|secret|api[_-]?key|apikey|auth|sig|signature|key|code)"
    r"[a-z0-9_.-]*)=)[^&#\s\"']*"
)
_ASSIGNMENT = re.compile(
    r"(?i)(\"?\b(?:[a-z0-9_-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey))\b\"?\s*[:=]\s*\"?)"
    r"([^\s\"',;&})\]]+)"
)


def _mask_userinfo(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}:{MASK}@"


def scrub(text: str, known_secrets: Iterable[str | Secret] = ()) -> str:
    """`text` with everything that looks like a credential replaced by ``****``."""
    forms = [s.reveal() if isinstance(s, Secret) else s for s in known_secrets]
    text = scrub_text(text, _forms(*forms))  # also masks Authorization: … header values
    text = _URL_USERINFO.sub(_mask_userinfo, text)
    text = _URL_BARE_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    for shape in _TOKEN_SHAPES:
        text = shape.sub(MASK, text)
    text = _SCHEME_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return _ASSIGNMENT.sub(lambda m: m.group(1) + MASK, text)


def scrub_value(value: Any, known_secrets: Iterable[str | Secret] = ()) -> Any:
    """A JSON-able copy of `value` with secrets masked: by key name, by shape, and `known_secrets`."""
    known = list(known_secrets)
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return scrub(value, known)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = scrub(str(k), known)
            secret_named = (
                _SECRET_KEY.search(key) and v not in (None, "", False, True) and not isinstance(v, int)
            )
            out[key] = (
                MASK if secret_named and not isinstance(v, Mapping | list | tuple) else scrub_value(v, known)
            )
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(v, known) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value), known)


def safe_url(url: str | None) -> str | None:
    """`url` without ``user:password@`` and with secret-named query parameters masked."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return scrub(url)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    query = [
        (k, MASK if _SECRET_KEY.search(k) or k.lower() in ("key", "code", "auth") else scrub(v))
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    rebuilt = urlunsplit(
        (parts.scheme, netloc, parts.path, urlencode(query, safe=MASK, quote_via=quote), parts.fragment)
    )
    return scrub(rebuilt)


# --- records ---------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuditEntry:
    """One write and what came of it. `before`/`after` are JSON-able states (a role, a flag, a dict)."""

    action: str
    target: str
    outcome: Outcome
    profile: str | None = None
    url: str | None = None
    actor: str | None = None
    before: Any = None
    after: Any = None
    detail: str | None = None
    time: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {self.outcome!r}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEntry:
        """An entry from a stored record; unknown keys (from a newer gtool) are ignored."""
        outcome = data.get("outcome")
        return cls(
            action=str(data.get("action", "")),
            target=str(data.get("target", "")),
            outcome=outcome if outcome in OUTCOMES else "failed",
            profile=data.get("profile"),
            url=data.get("url"),
            actor=data.get("actor"),
            before=data.get("before"),
            after=data.get("after"),
            detail=data.get("detail"),
            time=str(data.get("time", "")),
        )


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/gtool/audit.jsonl``, default ``~/.local/state/gtool/audit.jsonl``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "gtool" / "audit.jsonl"


def to_record(entry: AuditEntry, known_secrets: Iterable[str | Secret] = ()) -> dict[str, Any]:
    """The dict that `record` writes: the entry scrubbed, its URL stripped of credentials."""
    known = list(known_secrets)
    raw = asdict(entry)
    raw["url"] = safe_url(entry.url)
    order = ("time", "profile", "url", "actor", "action", "target", "before", "after", "outcome", "detail")
    # time, action and outcome are gtool's own vocabulary: anything secret-shaped is still masked, but a
    # short known password is not searched for inside them ("grafana-****" for the password "admin"
    # would only break `gtool audit --action`).
    fixed = {"time", "action", "outcome"}
    return {k: scrub_value(raw[k], () if k in fixed else known) for k in order}


def _write_line(fd: int, data: bytes) -> None:
    # A line left unfinished by a crash would swallow ours; start a fresh line after it (hence O_RDWR).
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        data = b"\n" + data
    written = os.write(fd, data)
    while written < len(data):  # only on a full disk or a signal; finish rather than leave half a line
        written += os.write(fd, data[written:])


def record(
    entry: AuditEntry, path: Path | None = None, *, known_secrets: Iterable[str | Secret] = ()
) -> dict[str, Any]:
    """Append `entry` (scrubbed) as one line, fsync it, and return what was written.

    Pass the connection's secret(s) in `known_secrets` to mask them wherever they appear, whatever
    their shape. Raises `OSError` if the log cannot be written: a write that cannot be audited should
    be reported by the caller.
    """
    path = path or default_path()
    rec = to_record(entry, known_secrets)
    data = (json.dumps(rec, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _LOCK:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            if os.fstat(fd).st_mode & 0o077:  # created by something else, or before the umask was tight
                os.fchmod(fd, 0o600)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            _write_line(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)  # also drops the flock
    return rec


# --- reading ---------------------------------------------------------------------------------------------


@dataclass
class AuditLog:
    """What `read` found: entries (oldest first) and lines that could not be read, with their numbers."""

    path: Path
    entries: list[AuditEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            complete = raw.endswith(b"\n")
            yield number, raw.decode("utf-8", errors="replace").rstrip("\r\n"), complete


def _matches(
    entry: AuditEntry,
    profile: str | None,
    action: str | None,
    target: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
) -> bool:
    return (
        (profile is None or entry.profile == profile)
        and (action is None or entry.action == action)
        and (target is None or target.lower() in entry.target.lower())
        and (outcome is None or entry.outcome == outcome)
        and (since is None or entry.time >= since)
        and (until is None or entry.time < until)
    )


def read(
    path: Path | None = None,
    *,
    profile: str | None = None,
    action: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditLog:
    """Entries matching every filter given. `target` is a case-insensitive substring; `since`/`until`
    are ISO times compared as text (records are UTC ``…Z``). A missing log is an empty `AuditLog`."""
    path = path or default_path()
    log = AuditLog(path)
    if not path.exists():
        return log
    for number, line, complete in _lines(path):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            why = "is truncated (a write interrupted by a crash?)" if not complete else "is not a JSON record"
            log.problems.append(f"{path}:{number}: line {why}; skipped")
            continue
        entry = AuditEntry.from_json(data)
        if _matches(entry, profile, action, target, outcome, since, until):
            log.entries.append(entry)
    return log


def tail(
    n: int = 20,
    path: Path | None = None,
    *,
    profile: str | None = None,
    action: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditLog:
    """The last `n` matching entries (oldest first), with any problems `read` found."""
    log = read(path, profile=profile, action=action, target=target, outcome=outcome, since=since, until=until)
    log.entries = log.entries[-n:] if n > 0 else []
    return log
