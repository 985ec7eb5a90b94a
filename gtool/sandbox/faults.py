"""Fault injection for the sandbox: latency, jitter, 5xx answers, 429 past a rate, dropped connections.

gtool's client must survive a slow, flaky or throttling Grafana, and its resilience tests need those
conditions on demand and reproducibly. This module is self-contained: a pure-ASGI middleware, a holder
for the current :class:`FaultConfig`, and the ``/api/sandbox/faults`` routes to change it at runtime.

Mounting::

    holder = FaultConfigHolder(FaultConfig(latency_ms=args.latency, error_rate=args.error_rate))
    app = Starlette(routes=[*routes, *fault_routes(holder)])
    app = FaultMiddleware(app, holder)  # outermost: a drop needs uvicorn's own `send`

What happens to a request, in order:

1. Non-HTTP scopes (lifespan, websocket) and exempt paths pass untouched and draw nothing. Always exempt:
   ``/api/health`` (so a readiness probe never flaps) and ``/api/sandbox/faults`` (so a test can always
   switch faults off). ``exempt_paths`` adds more; an entry covers the path itself and everything below it.
2. On arrival the request takes a token from the bucket (``rate_limit_rps``, capacity ``rate_limit_burst``,
   default ``ceil(rps)``) and draws its random numbers.
3. It waits ``latency_ms`` plus a uniform jitter in ``[-jitter_ms, +jitter_ms]`` (never below 0). The wait
   applies to every outcome below, 429 and 5xx included, like a slow network would.
4. Outcome: 429 when the bucket was empty; otherwise one uniform draw ``u`` in [0, 1) decides: a drop when
   ``u < drop_rate``, a 5xx when ``u < drop_rate + error_rate``, else the app answers.

Bodies, chosen to look like what a client meets in the field:

* 500, ``application/json``: ``{"message":"Internal Server Error","traceID":""}``, as Grafana's own
  handlers answer (``response.Error(500, "", err)``, contract §9.1).
* 502, ``text/html``: nginx's built-in "502 Bad Gateway" page, as the reverse proxy in front of Grafana
  answers when Grafana is down.
* 503, ``text/plain``: ``no healthy upstream``, as Envoy or a load balancer answers with no healthy
  Grafana behind it.
* 504, ``text/html``: nginx's built-in "504 Gateway Time-out" page (upstream too slow).
* 429, ``application/json``: ``{"message":"Too Many Requests"}`` with ``Retry-After: <whole seconds, ≥ 1>``.
  [I] Grafana OSS has no rate limit on these API routes, so a 429 comes from a gateway in front of it; the
  body Grafana Cloud's gateway sends is not confirmed.

``error_statuses`` picks which of these a 5xx answer uses (uniformly); the default is 500, 502 and 503.

A dropped connection: under uvicorn the middleware closes the TCP connection after the request was read and
before a single response byte is written. A client sees the server hang up with no answer:
``httpx.RemoteProtocolError("Server disconnected without sending a response.")``, curl's
``(52) Empty reply from server``, requests' ``RemoteDisconnected``. If the request body was still in flight
the kernel may reset instead (``httpx.ReadError``, "Connection reset by peer"). ASGI has no "abort" message,
so the middleware reaches uvicorn's transport through its ``send`` (a bound method of uvicorn's per-request
cycle), hence "mount outermost". Where no transport is reachable (httpx's ``ASGITransport``, or the
middleware mounted inside Starlette's own error middleware) it raises :class:`ConnectionDropped` instead,
which ``ASGITransport`` re-raises in the client.

Determinism: with ``seed`` set, the n-th faultable request since the last config change draws the n-th
numbers of three independent streams, ``random.Random(f"{seed}:outcome")``, ``…:status`` and ``…:jitter``
(string seeds hash with SHA-512, so they are stable across runs and machines). Every request draws from all
three, so adding jitter does not move which requests fail. Every PUT/PATCH/DELETE starts the streams over
and refills the bucket. Concurrent requests take their draws in arrival order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "ALWAYS_EXEMPT",
    "FAULTS_PATH",
    "ConnectionDropped",
    "Decision",
    "FaultConfig",
    "FaultConfigError",
    "FaultConfigHolder",
    "FaultMiddleware",
    "fault_routes",
]

log = logging.getLogger(__name__)

FAULTS_PATH = "/api/sandbox/faults"
ALWAYS_EXEMPT: tuple[str, ...] = ("/api/health", FAULTS_PATH)

# Past a minute a "latency" is a hang; clients time out long before.
MAX_DELAY_MS = 60_000
MAX_RPS = 1_000_000.0
MAX_BURST = 1_000_000
MAX_BODY_BYTES = 64 * 1024
DEFAULT_ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)

Clock = Callable[[], float]
Action = Literal["pass", "throttle", "drop", "error"]


class FaultConfigError(ValueError):
    """A fault configuration that cannot be applied; the message lists every problem found."""


class ConnectionDropped(Exception):
    """Raised for a drop where no server transport can be closed (e.g. under httpx's ASGITransport)."""


def _nginx_page(status_line: str) -> bytes:
    # Current nginx's built-in page (ngx_http_special_response.c), CRLFs included; older releases had
    # <body bgcolor="white">.
    return (
        f"<html>\r\n<head><title>{status_line}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status_line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


ERROR_ANSWERS: dict[int, tuple[str, bytes]] = {
    500: ("application/json", b'{"message":"Internal Server Error","traceID":""}'),
    502: ("text/html", _nginx_page("502 Bad Gateway")),
    503: ("text/plain", b"no healthy upstream"),
    504: ("text/html", _nginx_page("504 Gateway Time-out")),
}
THROTTLE_BODY = b'{"message":"Too Many Requests"}'


# --- configuration -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """What to inject. The default injects nothing. Invalid values raise :class:`FaultConfigError`."""

    latency_ms: float = 0
    jitter_ms: float = 0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = DEFAULT_ERROR_STATUSES
    rate_limit_rps: float | None = None
    rate_limit_burst: int | None = None
    drop_rate: float = 0.0
    seed: int | None = None
    exempt_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # JSON gives lists; keep the record immutable and hashable.
        for name in ("error_statuses", "exempt_paths"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        problems = _problems(self)
        if problems:
            raise FaultConfigError("; ".join(problems))

    @classmethod
    def from_dict(cls, data: object, base: FaultConfig | None = None) -> FaultConfig:
        """Build a config from decoded JSON; fields missing from ``data`` keep ``base``'s values."""
        if not isinstance(data, Mapping):
            raise FaultConfigError(f"fault config must be a JSON object, got {_describe(data)}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise FaultConfigError(f"unknown field(s) {', '.join(unknown)}; known fields: {', '.join(known)}")
        values: dict[str, Any] = (base or cls()).to_dict()
        values.update(data)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form served by ``GET /api/sandbox/faults``; ``from_dict`` accepts it back."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.jitter_ms or self.error_rate or self.drop_rate) or (
            self.rate_limit_rps is not None
        )

    @property
    def burst(self) -> int:
        if self.rate_limit_burst is not None:
            return self.rate_limit_burst
        return max(1, math.ceil(self.rate_limit_rps or 0))

    def is_exempt(self, path: str) -> bool:
        return any(_covers(prefix, path) for prefix in (*ALWAYS_EXEMPT, *self.exempt_paths))


def _covers(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _describe(value: object) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r}"


def _is_number(value: object) -> TypeGuard[float]:
    # bool is an int subclass; `true` as a rate is a mistake, not 1.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _range_problem(name: str, value: object, low: float, high: float, unit: str = "") -> str | None:
    if _is_number(value) and low <= value <= high:
        return None
    return f"{name} must be a number from {low:.0f} to {high:.0f}{unit}, got {_describe(value)}"


def _problems(c: FaultConfig) -> list[str]:
    found = [
        _range_problem("latency_ms", c.latency_ms, 0, MAX_DELAY_MS, " (milliseconds)"),
        _range_problem("jitter_ms", c.jitter_ms, 0, MAX_DELAY_MS, " (milliseconds)"),
        _range_problem("error_rate", c.error_rate, 0, 1),
        _range_problem("drop_rate", c.drop_rate, 0, 1),
        _statuses_problem(c.error_statuses),
        _rate_limit_problem(c.rate_limit_rps, c.rate_limit_burst),
        None
        if c.seed is None or _is_int(c.seed)
        else f"seed must be an integer or null, got {_describe(c.seed)}",
        _paths_problem(c.exempt_paths),
    ]
    problems = [p for p in found if p]
    if not problems and c.error_rate + c.drop_rate > 1:
        problems.append(
            f"error_rate + drop_rate must not exceed 1 (one draw decides both), got "
            f"{c.error_rate:g} + {c.drop_rate:g}"
        )
    return problems


def _statuses_problem(statuses: object) -> str | None:
    allowed = ", ".join(str(s) for s in ERROR_ANSWERS)
    if (
        isinstance(statuses, tuple)
        and statuses
        and all(_is_int(s) and s in ERROR_ANSWERS for s in statuses)
        and len(set(statuses)) == len(statuses)
    ):
        return None
    got = _describe(statuses)
    return f"error_statuses must be a non-empty list of distinct codes among {allowed}, got {got}"


def _rate_limit_problem(rps: object, burst: object) -> str | None:
    if rps is not None and (problem := _range_problem("rate_limit_rps", rps, 0, MAX_RPS, " or null")):
        return problem
    if rps == 0:
        return "rate_limit_rps must be above 0; use null to turn rate limiting off"
    if burst is None:
        return None
    if not (_is_int(burst) and 1 <= burst <= MAX_BURST):
        return f"rate_limit_burst must be an integer from 1 to {MAX_BURST} or null, got {_describe(burst)}"
    if rps is None:
        return "rate_limit_burst needs rate_limit_rps; set both, or neither"
    return None


def _paths_problem(paths: object) -> str | None:
    if isinstance(paths, tuple) and all(isinstance(p, str) and p.startswith("/") for p in paths):
        return None
    return f"exempt_paths must be a list of paths starting with '/', got {_describe(paths)}"


# --- decisions -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """What the middleware does to one request: wait ``delay_s``, then act."""

    action: Action
    delay_s: float
    status: int = 0
    retry_after_s: int = 0


class _TokenBucket:
    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self._rate = rate
        self._capacity = float(capacity)
        self._tokens = float(capacity)
        self._stamp = now

    def take(self, now: float) -> float:
        """Take a token: 0.0 on success, else the seconds until one will be there."""
        if now > self._stamp:
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate


def _stream(seed: int | None, name: str) -> random.Random:
    return random.Random(f"{seed}:{name}") if seed is not None else random.Random()


class _Runtime:
    """One config with its random streams and bucket; replaced as a whole on every config change."""

    def __init__(self, config: FaultConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._outcome = _stream(config.seed, "outcome")
        self._status = _stream(config.seed, "status")
        self._jitter = _stream(config.seed, "jitter")
        rps = config.rate_limit_rps
        self._bucket = _TokenBucket(rps, config.burst, clock()) if rps is not None else None

    def decide(self) -> Decision:
        c = self.config
        with self._lock:
            u = self._outcome.random()
            status = self._status.choice(c.error_statuses)
            jitter = self._jitter.uniform(-c.jitter_ms, c.jitter_ms)
            wait = self._bucket.take(self._clock()) if self._bucket else 0.0
        delay = max(0.0, c.latency_ms + jitter) / 1000
        if wait > 0:
            return Decision("throttle", delay, 429, max(1, math.ceil(wait)))
        if u < c.drop_rate:
            return Decision("drop", delay)
        if u < c.drop_rate + c.error_rate:
            return Decision("error", delay, status)
        return Decision("pass", delay)


class FaultConfigHolder:
    """The current :class:`FaultConfig`, swapped atomically; safe to use from threads and tasks.

    A request reads the holder once on arrival, so it keeps the config it started with even when a
    PUT lands while it waits out its latency.
    """

    def __init__(self, config: FaultConfig | None = None, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._swap = threading.Lock()
        self._runtime = _Runtime(config or FaultConfig(), clock)

    @property
    def config(self) -> FaultConfig:
        return self._runtime.config

    def set(self, config: FaultConfig) -> FaultConfig:
        with self._swap:
            self._runtime = _Runtime(config, self._clock)
        log.info("sandbox faults: %s", config.to_dict() if config.active else "none")
        return config

    def update(self, changes: object) -> FaultConfig:
        """Merge decoded JSON into the current config (PATCH); raises :class:`FaultConfigError`."""
        # Under the lock, so two concurrent PATCHes cannot lose one another's fields.
        with self._swap:
            config = FaultConfig.from_dict(changes, base=self._runtime.config)
            self._runtime = _Runtime(config, self._clock)
        log.info("sandbox faults: %s", config.to_dict() if config.active else "none")
        return config

    def reset(self) -> FaultConfig:
        return self.set(FaultConfig())

    def decide(self, path: str) -> Decision | None:
        """The fault for one request to ``path``, or None when it must reach the app untouched."""
        runtime = self._runtime
        if not runtime.config.active or runtime.config.is_exempt(path):
            return None
        return runtime.decide()


# --- middleware ------------------------------------------------------------------------------------------


class FaultMiddleware:
    """Pure-ASGI middleware applying the holder's current faults to each HTTP request."""

    def __init__(self, app: ASGIApp, config_holder: FaultConfigHolder) -> None:
        self.app = app
        self.holder = config_holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        decision = self.holder.decide(scope["path"]) if scope["type"] == "http" else None
        if decision is None:
            await self.app(scope, receive, send)
            return
        if decision.delay_s > 0:
            await anyio.sleep(decision.delay_s)
        if decision.action == "pass":
            await self.app(scope, receive, send)
            return
        log.debug("sandbox fault %s on %s %s", decision.action, scope["method"], scope["path"])
        if decision.action == "throttle":
            headers = [(b"retry-after", str(decision.retry_after_s).encode())]
            await _answer(send, 429, "application/json", THROTTLE_BODY, headers)
        elif decision.action == "error":
            content_type, body = ERROR_ANSWERS[decision.status]
            await _answer(send, decision.status, content_type, body)
        else:
            await _drop(receive, send)


async def _answer(
    send: Send, status: int, content_type: str, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _server_transport(send: Send) -> asyncio.BaseTransport | None:
    # uvicorn's `send` is a bound method of its per-request cycle, which holds the connection's transport.
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.BaseTransport) else None


async def _drop(receive: Receive, send: Send) -> None:
    transport = _server_transport(send)
    if transport is None:
        raise ConnectionDropped("sandbox fault: connection dropped without a response")
    transport.close()
    # Return only once uvicorn has seen the connection go; otherwise it would log "returned without
    # starting response" and try to answer 500 on the closed socket.
    with anyio.move_on_after(5):
        while (await receive())["type"] != "http.disconnect":
            pass


# --- runtime control API ---------------------------------------------------------------------------------


def fault_routes(holder: FaultConfigHolder) -> list[Route]:
    """``/api/sandbox/faults``: GET the config, PUT to replace it, PATCH to change fields, DELETE to reset.

    PUT and PATCH take a JSON object with :class:`FaultConfig`'s field names (fields left out of a PUT take
    their defaults); all four answer the config now in force. Bad input answers 400 ``{"message": …}``
    naming every problem, and leaves the config unchanged.
    """

    async def faults(request: Request) -> Response:
        try:
            if request.method == "PUT":
                config = holder.set(FaultConfig.from_dict(await _read_json(request)))
            elif request.method == "PATCH":
                config = holder.update(await _read_json(request))
            elif request.method == "DELETE":
                config = holder.reset()
            else:
                config = holder.config
        except FaultConfigError as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
        return JSONResponse(config.to_dict())

    return [Route(FAULTS_PATH, faults, methods=["GET", "PUT", "PATCH", "DELETE"])]


async def _read_json(request: Request) -> object:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise FaultConfigError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise FaultConfigError('request body is empty; send a JSON object such as {"error_rate": 0.1}')
    try:
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise FaultConfigError(f"request body is not valid JSON: {exc}") from None
