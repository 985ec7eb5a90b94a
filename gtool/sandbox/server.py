"""Run the sandbox: ``serve(...)`` binds a socket, prints the URL and credentials, serves until Ctrl+C or
SIGTERM, and exits 0 after a graceful shutdown (in-flight requests finish, the database is closed).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import uvicorn

from gtool.sandbox.app import create_app, load_config, store_options
from gtool.sandbox.faults import FaultConfig, FaultConfigHolder, FaultMiddleware, fault_routes
from gtool.sandbox.store import Store, UserAlreadyExists
from gtool.sandbox.web import DEFAULT_VERSION

if TYPE_CHECKING:
    from gtool.sandbox.seed import Seed

CLOUD_ACCOUNT = "sandbox-admin"


class _Server(uvicorn.Server):
    """uvicorn re-raises the caught SIGINT/SIGTERM after a graceful shutdown; a sandbox exits 0 instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and with
    # proto 0 every keep-alive answer waited ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listen now, before the URL is printed: a client that connects at once queues in the backlog
        # until uvicorn accepts, instead of being refused.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _cloud_token(store: Store) -> str:
    """Grafana Cloud is reached with a service-account token: make (or reuse) an Admin account in org 1
    and issue a fresh token each start, since only a token's hash is kept."""
    account = store.find_service_account(1, CLOUD_ACCOUNT)
    if account is None:
        try:
            account = store.create_service_account(1, CLOUD_ACCOUNT, "Admin")
        except UserAlreadyExists:  # pragma: no cover - a login taken by a user of that name
            raise SystemExit(f"gtool sandbox: cannot create service account {CLOUD_ACCOUNT!r}") from None
    _, token = store.create_sa_token(account.id, f"{CLOUD_ACCOUNT}-{store.now()}-{id(store) % 10_000}")
    return token


def serve(
    host: str = "127.0.0.1",
    port: int = 3000,
    db: str | Path | None = None,
    config: str | Path | None = None,
    seed: Seed | str | Path | None = None,
    cloud: bool | None = None,
    version: str | None = None,
    *,
    log_level: str = "warning",
    middleware: Any = (),
    extra_routes: Any = (),
    faults: FaultConfig | None = None,
    out: TextIO | None = None,
    on_ready: Callable[[str], None] | None = None,
    frozen_time: float | None = None,
) -> int:
    """Serve a sandbox until interrupted; returns the exit code (0).

    ``db`` keeps state in a SQLite file (kept across restarts; in memory when None). ``seed`` (a
    :class:`~gtool.sandbox.seed.Seed` or a TOML path) is loaded only into a new database; its ``[sandbox]``
    settings fill in ``version``, ``cloud`` and ``config`` when those are not given. ``faults`` sets the
    initial fault injection; /api/sandbox/faults changes it at runtime either way. ``frozen_time`` (a Unix
    time) stops the clock there, and anchors the seed's relative times to it: screenshots and snapshot
    tests then see the same "last seen 2 hours" on every run.
    """
    stream = out or sys.stdout
    loaded = _load_seed(seed, frozen_time)
    if loaded is not None:
        version = version or loaded.sandbox.version
        cloud = loaded.sandbox.cloud if cloud is None else cloud
        config = config or loaded.sandbox.saml_config
    cfg = load_config(config) if config else None
    fresh = db is None or not Path(db).exists() or Path(db).stat().st_size == 0
    clock: dict[str, Any] = {} if frozen_time is None else {"clock": lambda: frozen_time}
    store = Store(db or ":memory:", **store_options(cfg), **clock)
    if loaded is not None and fresh:
        store.load_seed(loaded)
    holder = FaultConfigHolder(faults or FaultConfig())
    app = create_app(
        store,
        config=cfg,
        cloud=bool(cloud),
        version=version or DEFAULT_VERSION,
        edition=loaded.sandbox.edition if loaded is not None else None,
        middleware=middleware,
        extra_routes=[*extra_routes, *fault_routes(holder)],
    )
    # Outermost, not a Starlette middleware: dropping a connection needs uvicorn's own send.
    served = FaultMiddleware(app, holder)
    sock = bind_socket(host, port)
    url = _url(host, sock.getsockname()[1])
    lines = [f"Grafana sandbox listening on {url}"]
    if cloud:
        lines.append(f"  service account token (Admin, org 1): {_cloud_token(store)}")
    else:
        login, password = _admin_credentials(cfg, loaded if fresh else None)
        note = "" if fresh else " (unless changed in the database)"
        lines.append(f"  admin credentials: {login} / {password}{note}")
    if loaded is not None and fresh:
        lines.extend(
            f"  token {token.name!r} of service account {sa.name!r} (org {sa.org_id}, {sa.role}): {token.key}"
            for sa, token in loaded.all_tokens()
        )
    if loaded is not None and not fresh:
        lines.append(f"  seed {loaded.source or 'given'} not loaded: {db} already holds a sandbox")
    lines.append(f"  database: {db if db else 'in memory (lost on exit)'}")
    lines.append("  stop with Ctrl+C")
    print("\n".join(lines), file=stream, flush=True)
    if on_ready is not None:
        on_ready(url)
    server = _Server(uvicorn.Config(served, log_level=log_level, lifespan="off", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        store.close()
    print("Grafana sandbox stopped", file=stream, flush=True)
    return 0


def _admin_credentials(cfg: Any, seed: Seed | None) -> tuple[str, str]:
    """The Grafana Admin to sign in as: the seed's first one with a password, else ``[security]``'s."""
    if seed is not None:
        for user in seed.users:
            if user.is_grafana_admin and user.password and not user.is_disabled:
                return user.login, user.password
    opts = store_options(cfg)
    return str(opts.get("admin_login", "admin")), str(opts.get("admin_password", "admin"))


def _load_seed(seed: Seed | str | Path | None, frozen_time: float | None = None) -> Seed | None:
    if seed is None:
        return None
    if isinstance(seed, str | Path):
        import datetime as dt

        from gtool.sandbox.seed import load_seed

        now = None if frozen_time is None else dt.datetime.fromtimestamp(frozen_time, dt.UTC)
        return load_seed(seed, now=now)
    return seed
