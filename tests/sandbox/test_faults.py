"""Fault injection (gtool/sandbox/faults.py): latency, seeded 5xx, 429 + Retry-After, drops, runtime API."""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gtool.sandbox.faults import (
    FAULTS_PATH,
    ConnectionDropped,
    FaultConfig,
    FaultConfigError,
    FaultConfigHolder,
    FaultMiddleware,
    fault_routes,
)

# Every async test runs under this bound; a hung request fails the test instead of the run.
TEST_TIMEOUT_S = 20


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def make_app(holder: FaultConfigHolder) -> ASGIApp:
    inner = Starlette(
        routes=[
            Route("/api/ping", _ok, methods=["GET", "POST"]),
            Route("/api/health", _ok),
            Route("/api/healthz", _ok),
            Route("/api/open/inner", _ok),
            *fault_routes(holder),
        ]
    )
    return FaultMiddleware(inner, holder)


@asynccontextmanager
async def client_for(holder: FaultConfigHolder) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(holder))
    with anyio.fail_after(TEST_TIMEOUT_S):
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


# --- FaultConfig -----------------------------------------------------------------------------------------


def test_default_config_injects_nothing() -> None:
    config = FaultConfig()
    assert not config.active
    assert FaultConfigHolder(config).decide("/api/ping") is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"latency_ms": -1}, "latency_ms must be a number from 0 to 60000 (milliseconds), got int -1"),
        ({"latency_ms": 60_001}, "latency_ms must be a number from 0 to 60000"),
        ({"jitter_ms": "5"}, "jitter_ms must be a number from 0 to 60000 (milliseconds), got str '5'"),
        ({"error_rate": 1.5}, "error_rate must be a number from 0 to 1, got float 1.5"),
        ({"error_rate": True}, "error_rate must be a number from 0 to 1, got bool True"),
        ({"error_rate": float("nan")}, "error_rate must be a number from 0 to 1"),
        ({"drop_rate": -0.1}, "drop_rate must be a number from 0 to 1"),
        ({"error_rate": 0.6, "drop_rate": 0.5}, "error_rate + drop_rate must not exceed 1"),
        ({"error_statuses": ()}, "error_statuses must be a non-empty list"),
        ({"error_statuses": (500, 418)}, "distinct codes among 500, 502, 503, 504"),
        ({"error_statuses": (500, 500)}, "distinct codes"),
        ({"rate_limit_rps": 0}, "rate_limit_rps must be above 0; use null to turn rate limiting off"),
        ({"rate_limit_rps": -2}, "rate_limit_rps must be a number"),
        ({"rate_limit_rps": 5, "rate_limit_burst": 0}, "rate_limit_burst must be an integer from 1"),
        ({"rate_limit_rps": 5, "rate_limit_burst": 2.5}, "rate_limit_burst must be an integer"),
        ({"rate_limit_burst": 3}, "rate_limit_burst needs rate_limit_rps"),
        ({"seed": "abc"}, "seed must be an integer or null, got str 'abc'"),
        ({"exempt_paths": ("api/x",)}, "exempt_paths must be a list of paths starting with '/'"),
        ({"exempt_paths": "/api/x"}, "exempt_paths must be a list of paths"),
    ],
)
def test_invalid_config_is_refused_with_a_clear_message(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(FaultConfigError) as exc:
        FaultConfig(**kwargs)
    assert fragment in str(exc.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(FaultConfigError) as exc:
        FaultConfig(latency_ms=-1, error_rate=2)
    assert "latency_ms" in str(exc.value)
    assert "error_rate" in str(exc.value)


def test_from_dict_refuses_unknown_fields_and_non_objects() -> None:
    with pytest.raises(FaultConfigError, match=r"unknown field\(s\) latency, rate; known fields: latency_ms"):
        FaultConfig.from_dict({"latency": 5, "rate": 1})
    with pytest.raises(FaultConfigError, match="must be a JSON object, got list"):
        FaultConfig.from_dict([1, 2])


def test_to_dict_round_trips_and_lists_become_tuples() -> None:
    config = FaultConfig.from_dict(
        {"latency_ms": 5, "error_statuses": [502], "exempt_paths": ["/api/open"], "rate_limit_rps": 3}
    )
    assert config.error_statuses == (502,)
    assert config.exempt_paths == ("/api/open",)
    assert config.burst == 3
    assert FaultConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_exempt_paths_cover_the_path_and_below_only() -> None:
    config = FaultConfig(error_rate=1, exempt_paths=("/api/open",))
    assert config.is_exempt("/api/health")
    assert config.is_exempt(FAULTS_PATH)
    assert config.is_exempt("/api/open")
    assert config.is_exempt("/api/open/inner")
    assert not config.is_exempt("/api/healthz")
    assert not config.is_exempt("/api/opened")
    assert not config.is_exempt("/api/sandbox/faultsx")


# --- latency and jitter ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_latency_delays_each_request() -> None:
    holder = FaultConfigHolder(FaultConfig(latency_ms=120))
    async with client_for(holder) as client:
        for _ in range(3):
            start = time.perf_counter()
            r = await client.get("/api/ping")
            elapsed = time.perf_counter() - start
            assert r.status_code == 200
            assert 0.115 <= elapsed < 1.5


def test_jitter_is_uniform_within_plus_minus_and_never_negative() -> None:
    holder = FaultConfigHolder(FaultConfig(latency_ms=100, jitter_ms=40, seed=3))
    delays = [d.delay_s for d in (holder.decide("/api/ping") for _ in range(200)) if d]
    assert len(delays) == 200
    assert all(0.06 <= d <= 0.14 for d in delays)
    assert min(delays) < 0.065
    assert max(delays) > 0.135

    # Jitter wider than the latency is clamped at 0, never a negative wait.
    holder.set(FaultConfig(latency_ms=10, jitter_ms=50, seed=3))
    delays = [d.delay_s for d in (holder.decide("/api/ping") for _ in range(200)) if d]
    assert min(delays) == 0.0
    assert max(delays) <= 0.06


@pytest.mark.anyio
async def test_jittered_latency_is_measured_on_the_wire() -> None:
    holder = FaultConfigHolder(FaultConfig(latency_ms=100, jitter_ms=50, seed=11))
    async with client_for(holder) as client:
        for _ in range(3):
            start = time.perf_counter()
            await client.get("/api/ping")
            assert 0.045 <= time.perf_counter() - start < 1.5


# --- 5xx answers -----------------------------------------------------------------------------------------

# seed 1234, error_rate 0.25: 59 of the first 200 draws of Random("1234:outcome") are below 0.25.
SEEDED_ERRORS = 59


@pytest.mark.anyio
async def test_seeded_error_rate_gives_exactly_the_expected_count_over_200_requests() -> None:
    runs = []
    for _ in range(2):
        holder = FaultConfigHolder(FaultConfig(error_rate=0.25, seed=1234))
        async with client_for(holder) as client:
            runs.append([(await client.get("/api/ping")).status_code for _ in range(200)])
    errors = [s for s in runs[0] if s >= 500]
    assert len(errors) == SEEDED_ERRORS
    assert set(errors) == {500, 502, 503}
    assert runs[0].count(200) == 200 - SEEDED_ERRORS
    assert runs[1] == runs[0], "the same seed must give the same sequence"

    # The documented rule: request n fails when draw n of Random(f"{seed}:outcome") is below the rate.
    draws = random.Random("1234:outcome")
    expected = [draws.random() < 0.25 for _ in range(200)]
    assert [s >= 500 for s in runs[0]] == expected


def test_adding_jitter_does_not_move_which_requests_fail() -> None:
    def failures(config: FaultConfig) -> list[bool]:
        holder = FaultConfigHolder(config)
        return [d is not None and d.action == "error" for d in (holder.decide("/x") for _ in range(100))]

    plain = failures(FaultConfig(error_rate=0.3, seed=5))
    assert failures(FaultConfig(error_rate=0.3, seed=5, latency_ms=1, jitter_ms=1)) == plain
    assert failures(FaultConfig(error_rate=0.3, seed=6)) != plain


NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (500, "application/json", b'{"message":"Internal Server Error","traceID":""}'),
        (502, "text/html", NGINX_502),
        (503, "text/plain", b"no healthy upstream"),
        (504, "text/html", NGINX_502.replace(b"502 Bad Gateway", b"504 Gateway Time-out")),
    ],
)
async def test_error_bodies_look_like_grafana_or_its_proxy(
    status: int, content_type: str, body: bytes
) -> None:
    holder = FaultConfigHolder(FaultConfig(error_rate=1, error_statuses=(status,)))
    async with client_for(holder) as client:
        r = await client.get("/api/ping")
    assert r.status_code == status
    assert r.headers["content-type"] == content_type
    assert r.content == body


# --- 429 -------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_past_the_rate_answers_429_with_retry_after() -> None:
    clock = FakeClock()
    holder = FaultConfigHolder(FaultConfig(rate_limit_rps=2), clock=clock)
    async with client_for(holder) as client:
        assert [(await client.get("/api/ping")).status_code for _ in range(2)] == [200, 200]
        r = await client.get("/api/ping")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json() == {"message": "Too Many Requests"}

        clock.now += 0.5  # half a second at 2 rps refills exactly one token
        assert (await client.get("/api/ping")).status_code == 200
        assert (await client.get("/api/ping")).status_code == 429

        # A slow rate asks for a longer wait, in whole seconds.
        await client.put(FAULTS_PATH, json={"rate_limit_rps": 0.2, "rate_limit_burst": 1})
        assert (await client.get("/api/ping")).status_code == 200
        r = await client.get("/api/ping")
        assert (r.status_code, r.headers["retry-after"]) == (429, "5")
        clock.now += 4.5
        assert (await client.get("/api/ping")).headers["retry-after"] == "1"


@pytest.mark.anyio
async def test_rate_limit_with_the_real_clock() -> None:
    holder = FaultConfigHolder(FaultConfig(rate_limit_rps=1, rate_limit_burst=3))
    async with client_for(holder) as client:
        codes = [(await client.get("/api/ping")).status_code for _ in range(4)]
    # Four in-process requests take far less than the second a new token needs.
    assert codes == [200, 200, 200, 429]


# --- exempt paths ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_exempt_paths_are_never_faulted() -> None:
    holder = FaultConfigHolder(
        FaultConfig(latency_ms=400, error_rate=1, rate_limit_rps=0.001, exempt_paths=("/api/open",))
    )
    async with client_for(holder) as client:
        start = time.perf_counter()
        for _ in range(10):
            assert (await client.get("/api/health")).status_code == 200
            assert (await client.head("/api/health")).status_code == 200
            assert (await client.get(FAULTS_PATH)).status_code == 200
            assert (await client.get("/api/open/inner")).status_code == 200
        # 40 faulted requests would have waited 16 s.
        assert time.perf_counter() - start < 2.0
        # Faults are on for everything else, including look-alike paths.
        assert (await client.get("/api/healthz")).status_code >= 500


def test_exempt_requests_draw_nothing() -> None:
    def sequence(interleave: bool) -> list[Any]:
        holder = FaultConfigHolder(FaultConfig(error_rate=0.5, seed=9))
        out = []
        for _ in range(50):
            if interleave:
                assert holder.decide("/api/health") is None
            out.append(holder.decide("/api/ping"))
        return out

    assert sequence(True) == sequence(False)


# --- runtime control -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_runtime_put_get_patch_delete() -> None:
    holder = FaultConfigHolder()
    async with client_for(holder) as client:
        r = await client.get(FAULTS_PATH)
        assert r.status_code == 200
        assert r.json() == FaultConfig().to_dict()

        r = await client.put(FAULTS_PATH, json={"error_rate": 1, "error_statuses": [503], "seed": 4})
        assert r.status_code == 200
        assert r.json()["error_rate"] == 1
        assert (await client.get(FAULTS_PATH)).json() == r.json()
        assert (await client.get("/api/ping")).status_code == 503

        r = await client.patch(FAULTS_PATH, json={"error_statuses": [502, 504]})
        assert r.json()["error_rate"] == 1, "PATCH keeps the fields it does not name"
        assert r.json()["seed"] == 4
        assert (await client.get("/api/ping")).status_code in (502, 504)

        r = await client.put(FAULTS_PATH, json={"latency_ms": 1})
        assert r.json()["error_rate"] == 0, "PUT replaces: unnamed fields return to their defaults"
        assert (await client.get("/api/ping")).status_code == 200

        r = await client.delete(FAULTS_PATH)
        assert r.status_code == 200
        assert r.json() == FaultConfig().to_dict()
        assert holder.config == FaultConfig()

        assert (await client.post(FAULTS_PATH, json={})).status_code == 405


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "body", "message"),
    [
        ("PUT", b"{not json", "request body is not valid JSON: "),
        ("PATCH", b"", 'request body is empty; send a JSON object such as {"error_rate": 0.1}'),
        ("PUT", b"[1]", "fault config must be a JSON object, got list [1]"),
        ("PATCH", b'{"errors": 1}', "unknown field(s) errors; known fields: latency_ms, jitter_ms, "),
        ("PUT", b'{"error_rate": 2}', "error_rate must be a number from 0 to 1, got int 2"),
        ("PATCH", b'{"drop_rate": true}', "drop_rate must be a number from 0 to 1, got bool True"),
        (
            "PUT",
            b'{"latency_ms": NaN}',
            "latency_ms must be a number from 0 to 60000 (milliseconds), got float",
        ),
        ("PUT", b'{"rate_limit_burst": 4}', "rate_limit_burst needs rate_limit_rps; set both, or neither"),
        ("PUT", b'{"error_statuses": [404]}', "error_statuses must be a non-empty list of distinct codes"),
        ("PUT", b"\xff\xfe", "request body is not valid JSON: "),
        ("PUT", b" " * 70_000, "request body is larger than 65536 bytes"),
    ],
)
async def test_bad_config_answers_400_and_changes_nothing(method: str, body: bytes, message: str) -> None:
    before = FaultConfig(latency_ms=1, seed=2)
    holder = FaultConfigHolder(before)
    async with client_for(holder) as client:
        r = await client.request(method, FAULTS_PATH, content=body)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert list(r.json()) == ["message"]
    assert r.json()["message"].startswith(message)
    assert holder.config == before


@pytest.mark.anyio
async def test_a_request_in_flight_keeps_the_config_it_started_with() -> None:
    holder = FaultConfigHolder(FaultConfig(latency_ms=300, error_rate=1, error_statuses=(503,)))
    statuses: list[int] = []
    async with client_for(holder) as client:

        async def slow_request() -> None:
            statuses.append((await client.get("/api/ping")).status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_request)
            await anyio.sleep(0.1)
            assert (await client.delete(FAULTS_PATH)).status_code == 200
        assert (await client.get("/api/ping")).status_code == 200
    assert statuses == [503]


def test_config_swaps_are_safe_across_threads() -> None:
    holder = FaultConfigHolder()
    configs = [FaultConfig(error_rate=1, error_statuses=(s,)) for s in (500, 502, 503)]
    seen: list[tuple[int, ...]] = []
    errors: list[BaseException] = []

    def swapper() -> None:
        for i in range(300):
            holder.set(configs[i % 3])
            holder.update({"latency_ms": 0})

    def requester() -> None:
        try:
            for _ in range(600):
                d = holder.decide("/api/ping")
                if d is not None:
                    seen.append((d.status,))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=swapper), *(threading.Thread(target=requester) for _ in range(3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TEST_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads)
    assert not errors
    assert {s for (s,) in seen} <= {500, 502, 503}
    assert holder.config in configs


# --- ASGI details ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_drop_without_a_server_transport_raises_connection_dropped() -> None:
    holder = FaultConfigHolder(FaultConfig(drop_rate=1))
    async with client_for(holder) as client:
        with pytest.raises(ConnectionDropped):
            await client.get("/api/ping")
        assert (await client.get("/api/health")).status_code == 200


@pytest.mark.anyio
async def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    middleware = FaultMiddleware(app, FaultConfigHolder(FaultConfig(drop_rate=1, latency_ms=5000)))
    with anyio.fail_after(2):
        await middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert seen == ["lifespan"]


# --- a real server ---------------------------------------------------------------------------------------


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free 127.0.0.1 port in a thread; stop it on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # log_config=None: uvicorn's records reach the root logger, so caplog sees them.
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until(lambda: server.started or not thread.is_alive(), 10)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop"


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_dropped_connection_as_a_client_sees_it(caplog: pytest.LogCaptureFixture) -> None:
    holder = FaultConfigHolder(FaultConfig(drop_rate=1))
    with serve(make_app(holder)) as url, httpx.Client(base_url=url, timeout=5, trust_env=False) as client:
        for _ in range(3):
            with pytest.raises(
                httpx.RemoteProtocolError, match="Server disconnected without sending a response"
            ):
                client.get("/api/ping")
            with pytest.raises(httpx.RemoteProtocolError):
                client.post("/api/ping", json={"a": 1})

        # The faults API stays reachable while everything else drops, and the server survives.
        assert client.get("/api/health").status_code == 200
        assert client.patch(FAULTS_PATH, json={"drop_rate": 0}).status_code == 200
        r = client.get("/api/ping")
        assert (r.status_code, r.json()) == (200, {"ok": True})

    # A drop is silent on the server side: no "Exception in ASGI application", no fallback 500.
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR], caplog.text
