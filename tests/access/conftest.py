"""Access fixtures: a `GrafanaClient` talking to the real sandbox app in-process.

The sandbox is seeded from samples/sandbox-seed.toml and reads samples/okta/grafana.ini, so its SAML
users are externally synced exactly as in the demo. `Recorder` sits between the client and the app and
keeps every request, so tests can assert what reached the server (or that nothing did).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from gtool.grafana import Auth, BasicAuth, GrafanaClient
from gtool.grafana.retry import NO_RETRY, RetryPolicy
from gtool.sandbox.app import create_app, load_config, store_options
from gtool.sandbox.seed import Seed, load_seed
from gtool.sandbox.store import Store
from gtool.sandbox.web import DEFAULT_VERSION

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "samples" / "sandbox-seed.toml"
OKTA = ROOT / "samples" / "okta" / "grafana.ini"
BASE_URL = "http://localhost:3000"


class Recorder(httpx.BaseTransport):
    """A sync transport that hands each request to the ASGI app (through `TestClient`) and records it."""

    def __init__(self, app_client: TestClient) -> None:
        self.app_client = app_client
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self._lock = threading.Lock()  # one request at a time into the app: the inventory uses threads
        # Lose the answer to the next write with a 503 (or `lose_status`), as a gateway would: "after" the
        # app applied it, or "before" it reached the app.
        self.lose_next_write: str | None = None
        self.lose_status = 503
        # Answer the next N reads with Grafana's own 500 (a locked database), before they reach the app.
        self.fail_next_reads = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append((request.method, request.url.path))
            if request.method in ("GET", "HEAD") and self.fail_next_reads > 0:
                self.fail_next_reads -= 1
                return httpx.Response(500, json={"message": "Internal Server Error", "traceID": ""})
            lose = self.lose_next_write if request.method not in ("GET", "HEAD") else None
            if lose is not None:
                self.lose_next_write = None
                if lose == "before":
                    return httpx.Response(self.lose_status, text="upstream unavailable")
            answer = self.app_client.request(
                request.method,
                str(request.url),
                headers=dict(request.headers),
                content=request.read(),
                follow_redirects=False,
            )
            if lose == "after":
                return httpx.Response(self.lose_status, text="upstream timed out")
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in ("content-encoding",)]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m not in ("GET", "HEAD")]


@dataclass
class Sandbox:
    """The seeded sandbox: a client signed in as the seed's admin, the recorder, the store and seed."""

    client: GrafanaClient
    recorder: Recorder
    store: Store
    seed: Seed
    audit: Path
    made: list[GrafanaClient] = field(default_factory=list)

    def connect(self, login: str, password: str) -> GrafanaClient:
        """Another client on the same app, signed in as someone else."""
        return self.connect_as(BasicAuth(login, password))

    def connect_as(self, auth: Auth) -> GrafanaClient:
        """Another client on the same app with any credential (a service account token, say)."""
        extra = GrafanaClient(BASE_URL, auth, transport=self.recorder, retry=NO_RETRY)
        self.made.append(extra)
        return extra

    def connect_as_with(self, retry: RetryPolicy, auth: Auth | None = None) -> GrafanaClient:
        """Another client on the same app that retries by `retry` without waiting (admin by default)."""
        extra = GrafanaClient(
            BASE_URL,
            auth or BasicAuth("admin", "admin"),
            transport=self.recorder,
            retry=retry,
            sleep=lambda _s: None,
        )
        self.made.append(extra)
        return extra


MakeSandbox = Callable[..., Sandbox]


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[MakeSandbox]:
    """``make_sandbox(cloud=False, edition=None)``: a fresh seeded sandbox and an admin client for it."""
    made: list[tuple[Sandbox, TestClient]] = []

    def make(*, cloud: bool = False, edition: str | None = None) -> Sandbox:
        seed = load_seed(SEED)
        config = load_config(OKTA, env={})
        store = Store(":memory:", **store_options(config))
        store.load_seed(seed)
        app = create_app(
            store,
            config=config,
            cloud=cloud,
            version=seed.sandbox.version or DEFAULT_VERSION,
            edition=edition or seed.sandbox.edition,
        )
        app_client = TestClient(app, base_url=BASE_URL)
        recorder = Recorder(app_client)
        client = GrafanaClient(BASE_URL, BasicAuth("admin", "admin"), transport=recorder, retry=NO_RETRY)
        sandbox = Sandbox(client, recorder, store, seed, tmp_path / f"audit-{len(made)}.jsonl")
        made.append((sandbox, app_client))
        return sandbox

    yield make
    for sandbox, app_client in made:
        for c in (sandbox.client, *sandbox.made):
            c.close()
        app_client.close()
        sandbox.store.close()


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox()
