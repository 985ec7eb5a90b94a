"""When to retry a request, and how long to wait: a pure policy that both clients drive.

The rules, in order (see docs/client.md):

1. A TLS verification failure is never retried: it will fail the same way again.
2. A write (POST, PUT, PATCH, DELETE) that may have reached Grafana — a read or write timeout, a dropped
   connection, a 502, 503 or 504 (a gateway or an overloaded server; the write may have been applied
   behind it) — is never resent: the verdict is ``AMBIGUOUS`` and the client raises `AmbiguousWrite`, so
   the caller reads the state back instead of doubling a change.
3. Anything else that is transient is retried, up to ``max_attempts`` in all: for every method a failure
   before the request left (connect error, connect or pool timeout) and a 429 (the rate limiter turned
   the request away unhandled); for reads also the maybe-sent failures of rule 2 and a 500.
   Grafana answers 500 for transient trouble too (a locked or restarting database), and a read changes
   nothing, so reading again is safe: the reads that plan a change and the read-backs that verify one
   ride out a passing 500. A write that gets a 500 is never resent: Grafana may have applied part of it
   (``Failed to disable user`` comes after the user was disabled), so the error is raised and the caller
   reads the state back (`gtool.access` does) before deciding anything.
4. The wait honours ``Retry-After`` (seconds or an HTTP date). A server that asks for longer than
   ``retry_after_max`` gets no retry at all — the error is raised with ``retry_after`` set, so a caller
   can wait and decide — rather than being hammered early. Without ``Retry-After`` the wait is
   exponential backoff with full jitter: ``uniform(0, min(backoff_max, backoff_base * 2**(attempt-1)))``.

``random`` and ``clock`` are injectable so tests are deterministic; the sleep function belongs to the
client (``time.sleep`` or ``asyncio.sleep``).
"""

from __future__ import annotations

import enum
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from gtool.grafana.errors import (
    ConnectError,
    GrafanaError,
    HTTPStatusError,
    NetworkError,
    RequestTimeout,
    TLSVerificationFailed,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAYBE_APPLIED_STATUSES = frozenset({502, 503, 504})


class Verdict(enum.Enum):
    RETRY = "retry"
    RAISE = "raise"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0
    reason: str = ""


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds from now: delta-seconds or an HTTP date; ``None`` if absent or garbage."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is true too
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - now)


def is_write(method: str) -> bool:
    return method.upper() not in SAFE_METHODS


def maybe_sent(error: GrafanaError) -> bool:
    """Whether the failed request may have reached Grafana and been applied."""
    if isinstance(error, RequestTimeout):
        return error.request_sent
    if isinstance(error, NetworkError):
        return True
    if isinstance(error, HTTPStatusError):
        return error.status_code in MAYBE_APPLIED_STATUSES
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """Retry limits and backoff; `decide` is the whole policy."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 10.0
    retry_after_max: float = 60.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    read_retry_statuses: frozenset[int] = frozenset({500})  # retried for reads only (rule 3)
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after the `attempt`-th try (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** max(0, attempt - 1))
        return self.random() * ceiling

    def decide(self, method: str, attempt: int, error: GrafanaError) -> Decision:
        """What to do after `attempt` (1-based) of a `method` request failed with `error`."""
        if isinstance(error, TLSVerificationFailed):
            return Decision(Verdict.RAISE, reason="TLS verification failed")
        if is_write(method) and maybe_sent(error):
            return Decision(Verdict.AMBIGUOUS, reason="a write may have been applied")
        if not self._transient(method, error):
            return Decision(Verdict.RAISE, reason="not transient")
        if attempt >= self.max_attempts:
            return Decision(Verdict.RAISE, reason=f"gave up after {attempt} attempts")
        retry_after = self._retry_after(error)
        if retry_after is not None:
            if retry_after > self.retry_after_max:
                return Decision(Verdict.RAISE, reason=f"Retry-After {retry_after:.0f}s exceeds the cap")
            return Decision(Verdict.RETRY, retry_after, reason=f"Retry-After {retry_after:g}s")
        return Decision(Verdict.RETRY, self.backoff(attempt), reason="backoff")

    def _transient(self, method: str, error: GrafanaError) -> bool:
        if isinstance(error, (ConnectError, RequestTimeout, NetworkError)):
            return True
        if isinstance(error, HTTPStatusError):
            return error.status_code in self.retry_statuses or (
                not is_write(method) and error.status_code in self.read_retry_statuses
            )
        return False

    def _retry_after(self, error: GrafanaError) -> float | None:
        if error.response is None:
            return None
        return parse_retry_after(error.response.header("retry-after"), self.clock())


NO_RETRY = RetryPolicy(max_attempts=1)
"""Never retry (still raises `AmbiguousWrite` for a maybe-applied write)."""
