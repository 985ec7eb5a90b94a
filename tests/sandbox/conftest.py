"""Sandbox fixtures.

* ``make_api`` / ``api``: the app in-process over a fresh in-memory store with a frozen clock — fast
  contract tests (``TestClient``; the store is at hand to create users and tokens directly).
* ``sandbox``: a real ``python -m gtool.sandbox`` process on a free loopback port with a ``--db`` file,
  yielding its URL and admin credentials; stopped with SIGTERM afterwards, never left running.
  :func:`start_sandbox` / :meth:`RunningSandbox.stop` do the same for tests that restart it.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from gtool.sandbox.app import create_app, load_config, store_options
from gtool.sandbox.store import Store, User

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 under TestClient; httpx works and is what the project pins.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

FROZEN = int(dt.datetime(2025, 5, 6, 9, 12, 31, tzinfo=dt.UTC).timestamp())  # the §11 examples' "now"
ADMIN = ("admin", "admin")


class Clock:
    """A settable clock for the store (seconds since the epoch)."""

    def __init__(self, now: int = FROZEN) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


def basic(login: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class InProcess:
    """An in-process sandbox: ``client`` speaks HTTP to the app, ``store`` is its database."""

    client: TestClient
    store: Store
    clock: Clock

    def user(
        self,
        login: str,
        *,
        email: str | None = None,
        name: str = "",
        password: str | None = None,
        orgs: dict[int, str] | None = None,
        module: str | None = None,
        grafana_admin: bool = False,
    ) -> User:
        """A user (password ``pw-<login>`` unless given) in ``orgs`` ({org id: role}, default Viewer of 1)."""
        memberships = orgs if orgs is not None else {1: "Viewer"}
        user = self.store.create_user(
            login=login,
            email=email if email is not None else f"{login}@example.com",
            name=name,
            password=password or f"pw-{login}",
            is_admin=grafana_admin,
            skip_org_setup=True,
        )
        for org_id, role in memberships.items():
            if self.store.get_org(org_id) is None:
                self.store.create_org(f"Org {org_id}", org_id=org_id)
            self.store.add_org_user(org_id, user.id, role)
        if module is not None:
            self.store.set_auth_info(user.id, module, f"{login}-external-id")
        found = self.store.get_user(user.id)
        assert found is not None
        return found

    def sa_token(self, role: str = "Admin", org_id: int = 1, name: str = "bot") -> str:
        """A service account in ``org_id`` with ``role`` and a token for it."""
        account = self.store.create_service_account(org_id, name, role)
        return self.store.create_sa_token(account.id, f"{name}-token")[1]


MakeApi = Callable[..., InProcess]


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[MakeApi]:
    """``make_api(ini=None, cloud=False)``: an in-process sandbox, optionally with a grafana.ini."""
    made: list[InProcess] = []

    def make(ini: str | None = None, *, cloud: bool = False) -> InProcess:
        config = None
        if ini is not None:
            path = tmp_path / f"grafana-{len(made)}.ini"
            path.write_text(ini)
            config = load_config(path, env={})
        clock = Clock()
        store = Store(":memory:", clock=clock, **store_options(config))
        client = TestClient(create_app(store, config=config, cloud=cloud), base_url="http://localhost:3000")
        made.append(InProcess(client, store, clock))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.client.close()
        sandbox.store.close()


@pytest.fixture
def api(make_api: MakeApi) -> InProcess:
    return make_api()


# -- a real sandbox process -------------------------------------------------------------------------------


@dataclass
class RunningSandbox:
    """A sandbox process: its URL, the admin credentials it printed, and how to stop it."""

    url: str
    user: str
    password: str
    process: subprocess.Popen[str]
    db: Path | None
    output: list[str] = field(default_factory=list)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the process and wait; kill it if it does not exit in time. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                raise
        return self.process.returncode


def start_sandbox(
    *args: str, db: Path | None = None, log: Path | None = None, timeout: float = 30
) -> RunningSandbox:
    """Start ``python -m gtool.sandbox --port 0 [--db DB] ARGS`` and wait until /api/health answers."""
    cmd = [sys.executable, "-m", "gtool.sandbox", "--host", "127.0.0.1", "--port", "0"]
    if db is not None:
        cmd += ["--db", str(db)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GF_")}
    with open(log or os.devnull, "ab") as stderr:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [*cmd, *args], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, bufsize=1
        )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout
    url = login = password = None
    try:
        # a self-hosted sandbox prints admin credentials; a Cloud one (tokens only) prints its token instead
        while url is None or password is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"sandbox exited early ({process.wait()}): {output}")
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].strip()
            if "admin credentials: " in line:
                login, password = line.split("admin credentials: ", 1)[1].split()[0::2][:2]
            if "service account token (" in line:
                login, password = "", line.rsplit(": ", 1)[1].strip()
        running = RunningSandbox(url, login or "", password, process, db, output)
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    return running
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sandbox at {url} never became healthy")
            time.sleep(0.05)
    except BaseException:
        process.kill()
        process.wait(5)
        raise


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """A real sandbox process (state in ``tmp_path/grafana.db``), stopped after the test."""
    running = start_sandbox(db=tmp_path / "grafana.db", log=tmp_path / "sandbox.log")
    try:
        yield running
    finally:
        running.stop()
