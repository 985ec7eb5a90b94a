"""One connection as the TUI holds it: the credential, both clients, and what the credential may do.

Reads go through the async client in async workers, so a newer search cancels an older one mid-request.
Writes go through the same `gtool.access` plans and `apply` the CLI uses (sync), in thread workers: the
TUI and `gtool role set` cannot disagree about what a change sends, checks or audits.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from gtool.access.browse import UserBrowser
from gtool.grafana.aclient import AsyncGrafanaClient
from gtool.grafana.capabilities import Capabilities
from gtool.grafana.client import GrafanaClient
from gtool.profiles import Connection


def session_of(app: object) -> Session:
    """The app's connected session. Every panel and modal is shown only once the connection is up."""
    session = getattr(app, "session", None)
    if not isinstance(session, Session):
        raise RuntimeError("not connected")
    return session


@dataclass
class Session:
    """The TUI's connection. `capabilities` is None until `connect` has run once."""

    conn: Connection
    read_only: bool = False
    audit_path: Path | None = None  # None: gtool.access.audit's default (XDG state dir)
    capabilities: Capabilities | None = None
    warnings: list[str] = field(default_factory=list)
    _client: AsyncGrafanaClient | None = None
    _sync: GrafanaClient | None = None
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, conn: Connection, *, read_only: bool = False, audit_path: Path | None = None) -> Session:
        return cls(conn, read_only=read_only or conn.read_only, audit_path=audit_path)

    @property
    def url(self) -> str:
        return self.conn.url

    @property
    def profile(self) -> str | None:
        return self.conn.profile

    @property
    def client(self) -> AsyncGrafanaClient:
        if self._client is None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._client = AsyncGrafanaClient(self.conn.url, **self.conn.client_kwargs())
            # --insecure warns once per client: keep it for the screen instead of stderr under the TUI
            self.warnings.extend(str(w.message) for w in caught)
        return self._client

    def sync_client(self) -> GrafanaClient:
        """The blocking client for `gtool.access` plans; call it from thread workers only."""
        with self._sync_lock:
            if self._sync is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # already reported by the async client
                    self._sync = GrafanaClient(self.conn.url, **self.conn.client_kwargs())
                if self.capabilities is not None:  # detected at connect: the plans need not ask again
                    self._sync.adopt_capabilities(self.capabilities)
            return self._sync

    async def connect(self, *, refresh: bool = False) -> Capabilities:
        """Who we are and what we may do (``GET /api/user``, frontend settings, orgs): once per connection."""
        self.capabilities = await self.client.capabilities(refresh=refresh)
        return self.capabilities

    def browser(self, org_id: int | None = None) -> UserBrowser:
        """Users pages: every user for a Grafana server admin, else the members of the credential's org."""
        caps = self.capabilities
        global_search = bool(caps and caps.can_manage_users_globally) and org_id is None
        scoped = org_id if org_id is not None else (caps.org_id if caps else None)
        return UserBrowser(self.client, global_search=global_search, org_id=None if global_search else scoped)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._sync is not None:
            self._sync.close()
