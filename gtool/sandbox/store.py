"""The sandbox's state in SQLite, shaped like Grafana's own tables (``user``, ``org``, ``org_user``,
``user_auth``, ``team``, ``team_member``, ``team_group``, ``api_key``, ``temp_user``, ``user_auth_token``,
``sso_setting``) and following Grafana's store semantics where they show through the API.

One connection, shared by every thread, behind one re-entrant lock: each public method is one
transaction, and :meth:`Store.transaction` groups several (a seed, a read-modify-write). Files use WAL so a
restarted sandbox finds everything it had. Times are whole Unix seconds, as Grafana's database keeps them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import string
import threading
import time
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from gtool.sandbox.listings import UserHitRow
    from gtool.sandbox.seed import Seed

_T = TypeVar("_T")

ROLES = ("None", "Viewer", "Editor", "Admin")
MAIN_ORG_NAME = "Main Org."

SCHEMA = """
CREATE TABLE IF NOT EXISTS org (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    address1 TEXT NOT NULL DEFAULT '', address2 TEXT NOT NULL DEFAULT '', city TEXT NOT NULL DEFAULT '',
    zip_code TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT '', country TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL, updated INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_org_name ON org(name);
CREATE TABLE IF NOT EXISTS "user" (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL,
    login TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL DEFAULT '',
    salt TEXT NOT NULL DEFAULT '',
    theme TEXT NOT NULL DEFAULT '',
    is_admin INTEGER NOT NULL DEFAULT 0,
    is_disabled INTEGER NOT NULL DEFAULT 0,
    is_service_account INTEGER NOT NULL DEFAULT 0,
    is_provisioned INTEGER NOT NULL DEFAULT 0,
    org_id INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_user_uid ON "user"(uid);
CREATE UNIQUE INDEX IF NOT EXISTS uq_user_login ON "user"(lower(login));
CREATE UNIQUE INDEX IF NOT EXISTS uq_user_email ON "user"(lower(email));
CREATE INDEX IF NOT EXISTS ix_user_login_email ON "user"(login, email);
CREATE INDEX IF NOT EXISTS ix_user_email ON "user"(email);
CREATE INDEX IF NOT EXISTS ix_user_name ON "user"(name);
CREATE INDEX IF NOT EXISTS ix_user_last_seen ON "user"(last_seen_at);
CREATE INDEX IF NOT EXISTS ix_user_is_sa ON "user"(is_service_account);
-- The default order of user searches (login, email, id) among non-service accounts, read from the index
-- alone: a page deep in the list skips its offset without touching the table.
CREATE INDEX IF NOT EXISTS ix_user_sa_login ON "user"(is_service_account, login, email);
CREATE TABLE IF NOT EXISTS org_user (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    role TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_org_user ON org_user(org_id, user_id);
CREATE INDEX IF NOT EXISTS ix_org_user_user ON org_user(user_id);
CREATE TABLE IF NOT EXISTS user_auth (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    auth_module TEXT NOT NULL,
    auth_id TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_user_auth_user ON user_auth(user_id, created);
CREATE TABLE IF NOT EXISTS team (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL,
    org_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    external_uid TEXT NOT NULL DEFAULT '',
    is_provisioned INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_team_org_name ON team(org_id, name);
CREATE UNIQUE INDEX IF NOT EXISTS uq_team_uid ON team(uid);
CREATE TABLE IF NOT EXISTS team_member (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL,
    team_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    external INTEGER NOT NULL DEFAULT 0,
    permission INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_team_member ON team_member(team_id, user_id);
CREATE INDEX IF NOT EXISTS ix_team_member_user ON team_member(user_id);
CREATE TABLE IF NOT EXISTS team_group (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL,
    team_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_team_group ON team_group(team_id, group_id);
CREATE TABLE IF NOT EXISTS api_key (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'Viewer',
    service_account_id INTEGER,
    expires INTEGER,
    is_revoked INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_api_key_key ON api_key(key);
CREATE UNIQUE INDEX IF NOT EXISTS uq_api_key_org_name ON api_key(org_id, name);
CREATE TABLE IF NOT EXISTS temp_user (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT 'Viewer',
    code TEXT NOT NULL,
    status TEXT NOT NULL,
    invited_by_user_id INTEGER NOT NULL DEFAULT 0,
    email_sent INTEGER NOT NULL DEFAULT 0,
    email_sent_on INTEGER,
    remote_addr TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_temp_user_code ON temp_user(code);
CREATE TABLE IF NOT EXISTS user_auth_token (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    auth_token TEXT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    client_ip TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    rotated_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_user_auth_token_user ON user_auth_token(user_id);
CREATE TABLE IF NOT EXISTS sso_setting (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    settings TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_sso_setting_provider ON sso_setting(provider);
"""

_USER_COLUMNS = (
    "id, uid, login, email, name, theme, is_admin, is_disabled, is_service_account, is_provisioned, "
    "org_id, created, updated, last_seen_at"
)

# Columns a caller may set directly (tests, seeds); everything else goes through a Grafana-shaped method.
_SETTABLE_USER_FIELDS = frozenset(
    {
        "uid",
        "login",
        "email",
        "name",
        "theme",
        "is_admin",
        "is_disabled",
        "is_provisioned",
        "org_id",
        "created",
        "updated",
        "last_seen_at",
    }
)

SORT_FIELDS = ("login", "email", "name", "last_seen_at")

# GetUserLabels as a column: the newest auth module of the user ``u`` (NULL for a local user).
AUTH_MODULE_COLUMN = (
    "(SELECT a.auth_module FROM user_auth a WHERE a.user_id = u.id "
    "ORDER BY a.created DESC, a.id DESC LIMIT 1)"
)
# What `Store.remembered` keeps at most, in list items (a sorted org of 100,000 members is 100,000).
_MEMO_BUDGET = 2_000_000

TABLES = (
    "org",
    '"user"',
    "org_user",
    "user_auth",
    "team",
    "team_member",
    "team_group",
    "api_key",
    "temp_user",
    "user_auth_token",
    "sso_setting",
)


class StoreError(Exception):
    """A Grafana store error the API maps to a status (the message is Grafana's error text)."""


class UserNotFound(StoreError):
    def __init__(self) -> None:
        super().__init__("user not found")


class UserAlreadyExists(StoreError):
    def __init__(self) -> None:
        super().__init__("user already exists")


class OrgNotFound(StoreError):
    def __init__(self) -> None:
        super().__init__("organization not found")


class OrgNameTaken(StoreError):
    def __init__(self) -> None:
        super().__init__("organization name taken")


class OrgUserAlreadyAdded(StoreError):
    def __init__(self) -> None:
        super().__init__("user is already added to organization")


class LastGrafanaAdmin(StoreError):
    def __init__(self) -> None:
        super().__init__("cannot remove last grafana admin")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    uid: str
    login: str
    email: str
    name: str
    theme: str
    is_admin: bool
    is_disabled: bool
    is_service_account: bool
    is_provisioned: bool
    org_id: int  # the current ("using") org; 0 when the user belongs to no org
    created: int
    updated: int
    last_seen_at: int

    @property
    def name_or_fallback(self) -> str:
        """``NameOrFallback``: name, else login, else email."""
        return self.name or self.login or self.email


@dataclass(frozen=True, slots=True)
class Org:
    id: int
    name: str
    address1: str
    address2: str
    city: str
    zip_code: str
    state: str
    country: str
    created: int
    updated: int


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: int
    name: str  # the org's name
    role: str


@dataclass(frozen=True, slots=True)
class AuthInfo:
    user_id: int
    auth_module: str
    auth_id: str
    created: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    org_id: int
    name: str
    role: str
    service_account_id: int | None
    expires: int | None
    is_revoked: bool
    created: int
    last_used_at: int | None


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    uid: str
    org_id: int
    name: str
    email: str
    external_uid: str
    is_provisioned: bool
    created: int
    updated: int


@dataclass(frozen=True, slots=True)
class UserTeam:
    """A team one user belongs to, with what ``GET /api/users/:id/teams`` shows."""

    team: Team
    member_count: int
    permission: int


@dataclass(frozen=True, slots=True)
class UserToken:
    """A login session (``user_auth_token``), as ``GET /api/admin/users/:id/auth-tokens`` lists them."""

    id: int
    user_id: int
    user_agent: str
    client_ip: str
    created_at: int
    seen_at: int
    rotated_at: int
    revoked_at: int


def encode_password(password: str, salt: str) -> str:
    """``util.EncodePassword``: PBKDF2-HMAC-SHA256, 10,000 rounds, 50 bytes, hex."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 10_000, 50).hex()


def random_string(n: int) -> str:
    """``util.GetRandomString``: alphanumerics."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def hash_password(password: str) -> tuple[str, str]:
    """A fresh ``(hash, salt)`` pair; compute once and pass as ``password_hash`` to seed many users fast."""
    salt = random_string(10)
    return encode_password(password, salt), salt


def short_uid() -> str:
    """A Grafana-style short UID: 14 characters, a letter first."""
    tail = string.ascii_lowercase + string.digits
    return secrets.choice(string.ascii_lowercase) + "".join(secrets.choice(tail) for _ in range(13))


def ten_years_before(ts: int) -> int:
    """``time.Now().AddDate(-10, 0, 0)``: what Grafana stores as a new user's ``last_seen_at``."""
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    try:
        back = when.replace(year=when.year - 10)
    except ValueError:  # 29 February: Go normalises to 1 March
        back = when.replace(year=when.year - 10, month=3, day=1)
    return int(back.timestamp())


def sa_token_secret(token: str) -> str:
    """What the store keeps of a token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_sa_token() -> str:
    """``glsa_<32 alphanumerics>_<crc32 of the rest, 8 hex>`` like Grafana's ``satokengen``."""
    secret = random_string(32)
    body = f"glsa_{secret}"
    return f"{body}_{zlib.crc32(body.encode()):08x}"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "sa"


def _user(row: sqlite3.Row | tuple[Any, ...]) -> User:
    return User(
        id=row[0],
        uid=row[1],
        login=row[2],
        email=row[3],
        name=row[4],
        theme=row[5],
        is_admin=bool(row[6]),
        is_disabled=bool(row[7]),
        is_service_account=bool(row[8]),
        is_provisioned=bool(row[9]),
        org_id=row[10],
        created=row[11],
        updated=row[12],
        last_seen_at=row[13],
    )


def _org(row: sqlite3.Row | tuple[Any, ...]) -> Org:
    return Org(*row)


def _team(row: sqlite3.Row | tuple[Any, ...]) -> Team:
    return Team(
        id=row[0],
        uid=row[1],
        org_id=row[2],
        name=row[3],
        email=row[4],
        external_uid=row[5],
        is_provisioned=bool(row[6]),
        created=row[7],
        updated=row[8],
    )


def _chunks(values: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


class Store:
    """Grafana's database for the sandbox. Thread-safe; every method is atomic."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        clock: Callable[[], float] = time.time,
        admin_login: str = "admin",
        admin_password: str = "admin",
        admin_email: str = "admin@localhost",
        auto_assign_org: bool = True,
        auto_assign_org_id: int = 1,
        auto_assign_org_role: str = "Viewer",
    ) -> None:
        self.path = str(path)
        self.clock = clock
        self.auto_assign_org = auto_assign_org
        self.auto_assign_org_id = auto_assign_org_id
        self.auto_assign_org_role = auto_assign_org_role if auto_assign_org_role in ROLES else "Viewer"
        self._lock = threading.RLock()
        self._depth = 0
        self._verified: dict[tuple[str, str], bool] = {}
        self._memo: dict[Hashable, Any] = {}
        self._memo_generation: tuple[int, int] = (-1, -1)
        self._memo_weight = 0
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(SCHEMA)
        with self.transaction():
            if self._conn.execute('SELECT COUNT(*) FROM "user"').fetchone()[0] == 0:
                # Grafana creates the server admin (and "Main Org.") when the user table is empty.
                self.create_user(login=admin_login, email=admin_email, password=admin_password, is_admin=True)

    # -- plumbing -------------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """The connection for a consistent read (no transaction: nothing to commit or roll back)."""
        return self._read()

    def remembered(self, key: Hashable, compute: Callable[[sqlite3.Connection], _T]) -> _T:
        """``compute(db)``, kept until the database changes: what every page of a listing needs again
        (its total, its sort order) is then computed once per listing, not once per page.

        Any insert, update or delete, by this connection (``total_changes``) or another one
        (``data_version``), forgets everything. Inside a transaction nothing is kept, since a rollback
        would not count as a change.
        """
        with self._lock:
            if self._depth:
                return compute(self._conn)
            generation = (
                self._conn.total_changes,
                self._conn.execute("PRAGMA data_version").fetchone()[0],
            )
            if generation != self._memo_generation:
                self._forget(generation)
            if key in self._memo:
                found: _T = self._memo[key]
                return found
            value = compute(self._conn)
            weight = len(value) if isinstance(value, list | tuple | dict) else 1
            if self._memo_weight + weight > _MEMO_BUDGET:
                self._forget(generation)
            self._memo[key] = value
            self._memo_weight += weight
            return value

    def _forget(self, generation: tuple[int, int]) -> None:
        self._memo.clear()
        self._memo_weight = 0
        self._memo_generation = generation

    def ping(self) -> bool:
        """Grafana's health check: ``SELECT 1`` works."""
        try:
            with self._read() as db:
                db.execute("SELECT 1").fetchone()
        except (sqlite3.Error, sqlite3.ProgrammingError):
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- orgs -----------------------------------------------------------------------------------------

    def create_org(self, name: str, *, org_id: int | None = None) -> Org:
        now = self.now()
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM org WHERE name = ?", (name,)).fetchone():
                raise OrgNameTaken()
            cur = db.execute(
                "INSERT INTO org (id, name, created, updated) VALUES (?, ?, ?, ?)", (org_id, name, now, now)
            )
            new_id = cur.lastrowid
            assert new_id is not None
            org = self.get_org(new_id)
            assert org is not None
            return org

    def get_org(self, org_id: int) -> Org | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM org WHERE id = ?", (org_id,)).fetchone()
        return _org(row) if row else None

    def get_org_by_name(self, name: str) -> Org | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM org WHERE name = ?", (name,)).fetchone()
        return _org(row) if row else None

    def _org_for_new_user(self, db: sqlite3.Connection, org_id: int, fallback_name: str) -> int:
        """``getOrgIDForNewUser`` + ``getOrCreateOrg``."""
        if self.auto_assign_org and org_id:
            if not db.execute("SELECT 1 FROM org WHERE id = ?", (org_id,)).fetchone():
                raise OrgNotFound()
            return org_id
        if self.auto_assign_org:
            if db.execute("SELECT 1 FROM org WHERE id = ?", (self.auto_assign_org_id,)).fetchone():
                return self.auto_assign_org_id
            if self.auto_assign_org_id != 1:
                raise OrgNotFound()
            return self.create_org(MAIN_ORG_NAME, org_id=1).id
        name = fallback_name
        while db.execute("SELECT 1 FROM org WHERE name = ?", (name,)).fetchone():
            name += "-"  # Grafana errors on a taken name here; a sandbox seed should not
        return self.create_org(name).id

    # -- users ----------------------------------------------------------------------------------------

    def create_user(
        self,
        *,
        login: str = "",
        email: str = "",
        name: str = "",
        password: str | None = None,
        password_hash: tuple[str, str] | None = None,
        is_admin: bool = False,
        is_disabled: bool = False,
        is_service_account: bool = False,
        is_provisioned: bool = False,
        org_id: int = 0,
        org_role: str | None = None,
        skip_org_setup: bool = False,
        uid: str | None = None,
        theme: str = "",
        created: int | None = None,
        last_seen_at: int | None = None,
    ) -> User:
        """``userService.Create``: login falls back to email and back; a conflict on either (ignoring
        case) raises :class:`UserAlreadyExists`; unless ``skip_org_setup`` the user joins the org
        Grafana would pick, as Admin when a server admin, else with ``org_role`` or the auto-assign role.
        """
        login = login or email
        email = email or login
        if not login:
            raise ValueError("need login or email")
        now = self.now()
        created_at = now if created is None else created
        seen = ten_years_before(now) if last_seen_at is None else last_seen_at
        if password_hash is not None:
            pw_hash, salt = password_hash
        elif password:
            pw_hash, salt = hash_password(password)
        else:
            pw_hash, salt = "", random_string(10)
        with self.transaction() as db:
            clash = db.execute(
                'SELECT 1 FROM "user" WHERE lower(email) = lower(?) OR lower(login) = lower(?)',
                (email, login),
            ).fetchone()
            if clash:
                raise UserAlreadyExists()
            current_org = 0
            if not skip_org_setup:
                current_org = self._org_for_new_user(db, org_id, email or login)
            cur = db.execute(
                'INSERT INTO "user" (uid, login, email, name, password, salt, theme, is_admin, is_disabled, '
                "is_service_account, is_provisioned, org_id, created, updated, last_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uid or short_uid(),
                    login,
                    email,
                    name,
                    pw_hash,
                    salt,
                    theme,
                    int(is_admin),
                    int(is_disabled),
                    int(is_service_account),
                    int(is_provisioned),
                    current_org,
                    created_at,
                    created_at,
                    seen,
                ),
            )
            user_id = cur.lastrowid
            assert user_id is not None
            if current_org:
                role = "Admin"
                if self.auto_assign_org and not is_admin:
                    role = org_role or self.auto_assign_org_role
                db.execute(
                    "INSERT INTO org_user (org_id, user_id, role, created, updated) VALUES (?, ?, ?, ?, ?)",
                    (current_org, user_id, role, created_at, created_at),
                )
            user = self.get_user(user_id, include_service_accounts=True)
            assert user is not None
            return user

    def get_user(self, user_id: int, *, include_service_accounts: bool = False) -> User | None:
        """``GetByID`` (service accounts are excluded, as Grafana's ``notServiceAccountFilter`` does)."""
        sql = f'SELECT {_USER_COLUMNS} FROM "user" WHERE id = ?'
        if not include_service_accounts:
            sql += " AND is_service_account = 0"
        with self._read() as db:
            row = db.execute(sql, (user_id,)).fetchone()
        return _user(row) if row else None

    def get_user_by_uid(self, uid: str) -> User | None:
        with self._read() as db:
            row = db.execute(f'SELECT {_USER_COLUMNS} FROM "user" WHERE uid = ?', (uid,)).fetchone()
        return _user(row) if row else None

    def get_user_by_login_or_email(self, login_or_email: str) -> User | None:
        """``GetByLogin``: the login first (ignoring case), then the email when the text has an ``@``."""
        if not login_or_email:
            return None
        base = f'SELECT {_USER_COLUMNS} FROM "user" WHERE is_service_account = 0 AND '
        with self._read() as db:
            row = db.execute(base + "lower(login) = lower(?)", (login_or_email,)).fetchone()
            if row is None and "@" in login_or_email:
                row = db.execute(base + "lower(email) = lower(?)", (login_or_email,)).fetchone()
        return _user(row) if row else None

    def update_user_fields(self, user_id: int, **fields: Any) -> None:
        """Set columns directly (seeds and tests); ``updated`` is left alone unless given."""
        unknown = set(fields) - _SETTABLE_USER_FIELDS
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        if not fields:
            return
        assignments = ", ".join(f"{k} = ?" for k in fields)
        values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        with self.transaction() as db:
            db.execute(f'UPDATE "user" SET {assignments} WHERE id = ?', (*values, user_id))

    def search_users(
        self,
        *,
        query: str = "",
        order: Sequence[tuple[str, bool]] = (),
        limit: int = 1000,
        offset: int = 0,
    ) -> tuple[int, list[User]]:
        """``userimpl`` ``Search``: no service accounts, ``%query%`` on email/name/login, ordered by
        ``order`` ((field, descending) pairs from :data:`SORT_FIELDS`) or by login then email.
        Returns (total matches ignoring paging, the page).
        """
        total, rows = self._user_search(_USER_COLUMNS, query, order, limit, offset)
        return total, [_user(r) for r in rows]

    def user_hits(
        self,
        *,
        query: str = "",
        order: Sequence[tuple[str, bool]] = (),
        limit: int = 1000,
        offset: int = 0,
    ) -> tuple[int, list[UserHitRow]]:
        """:meth:`search_users` as the rows ``/api/users/search`` shows, each with its newest auth module
        (:data:`gtool.sandbox.listings.UserHitRow`), in one query."""
        columns = (
            "u.id, u.uid, u.name, u.login, u.email, u.is_admin, u.is_disabled, u.last_seen_at, "
            + AUTH_MODULE_COLUMN
        )
        return self._user_search(columns, query, order, limit, offset)

    def user_ranks(self) -> dict[int, int]:
        """Each user's position in the default search order (login, email, id), service accounts left
        out; read from ``ix_user_sa_login`` alone, and kept until the database changes."""

        def ranks(db: sqlite3.Connection) -> dict[int, int]:
            rows = db.execute('SELECT id FROM "user" WHERE is_service_account = 0 ORDER BY login, email, id')
            return {user_id: rank for rank, (user_id,) in enumerate(rows)}

        return self.remembered("user_ranks", ranks)

    def _user_search(
        self, columns: str, query: str, order: Sequence[tuple[str, bool]], limit: int, offset: int
    ) -> tuple[int, list[Any]]:
        where = "u.is_service_account = 0"
        args: list[Any] = []
        if query:
            where += " AND (u.email LIKE ? OR u.name LIKE ? OR u.login LIKE ?)"
            like = f"%{query}%"
            args += [like, like, like]
        order_sql = ", ".join(f"u.{f} {'DESC' if desc else 'ASC'}" for f, desc in order if f in SORT_FIELDS)
        # The default order walks ix_user_sa_login. Any other: "+u.is_service_account" keeps SQLite from
        # picking that index for the page, so it walks the index of the sort column instead of sorting
        # 100,000 rows.
        page_where = where if not order_sql else "+" + where
        order_sql = order_sql or "u.login ASC, u.email ASC"

        def count(db: sqlite3.Connection) -> int:
            found: int = db.execute(f'SELECT COUNT(*) FROM "user" u WHERE {where}', args).fetchone()[0]
            return found

        with self._read() as db:
            total = self.remembered(("users", query), count)
            rows = db.execute(
                f'SELECT {columns} FROM "user" u WHERE {page_where} ORDER BY {order_sql}, u.id ASC '
                "LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return total, rows

    def check_password(self, login_or_email: str, password: str) -> User | None:
        """The user whose login or email this is and whose stored hash matches, else ``None``."""
        user = self.get_user_by_login_or_email(login_or_email)
        if user is None:
            return None
        with self._read() as db:
            stored, salt = db.execute('SELECT password, salt FROM "user" WHERE id = ?', (user.id,)).fetchone()
        if not stored:
            return None
        # PBKDF2 costs milliseconds: remember successes by hash and password digest, never the password.
        key = (stored, hashlib.sha256(password.encode()).hexdigest())
        if key not in self._verified:
            ok = hmac.compare_digest(encode_password(password, salt), stored)
            if not ok:
                return None
            if len(self._verified) > 4096:
                self._verified.clear()
            self._verified[key] = True
        return user

    def set_password(self, user_id: int, password: str) -> None:
        pw_hash, salt = hash_password(password)
        with self.transaction() as db:
            cur = db.execute(
                'UPDATE "user" SET password = ?, salt = ?, updated = ? '
                "WHERE id = ? AND is_service_account = 0",
                (pw_hash, salt, self.now(), user_id),
            )
            if cur.rowcount == 0:
                raise UserNotFound()

    def set_grafana_admin(self, user_id: int, is_admin: bool) -> None:
        """``Update`` with ``IsGrafanaAdmin``: at least one server admin must remain."""
        with self.transaction() as db:
            cur = db.execute(
                'UPDATE "user" SET is_admin = ?, updated = ? WHERE id = ? AND is_service_account = 0',
                (int(is_admin), self.now(), user_id),
            )
            if cur.rowcount == 0:
                raise UserNotFound()
            if db.execute('SELECT COUNT(*) FROM "user" WHERE is_admin = 1').fetchone()[0] == 0:
                raise LastGrafanaAdmin()  # rolls the update back

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        with self.transaction() as db:
            cur = db.execute(
                'UPDATE "user" SET is_disabled = ?, updated = ? WHERE id = ? AND is_service_account = 0',
                (int(disabled), self.now(), user_id),
            )
            if cur.rowcount == 0:
                raise UserNotFound()

    def set_using_org(self, user_id: int, org_id: int) -> None:
        with self.transaction() as db:
            db.execute('UPDATE "user" SET org_id = ? WHERE id = ?', (org_id, user_id))

    def touch_last_seen(self, user_id: int) -> None:
        """``SyncLastSeenHook``: refresh ``last_seen_at`` when it is more than a minute old."""
        now = self.now()
        with self.transaction() as db:
            db.execute(
                'UPDATE "user" SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?',
                (now, user_id, now - 60),
            )

    def delete_user(self, user_id: int) -> None:
        """``AdminDeleteUser``: the user and everything hanging off it."""
        with self.transaction() as db:
            cur = db.execute('DELETE FROM "user" WHERE id = ? AND is_service_account = 0', (user_id,))
            if cur.rowcount == 0:
                raise UserNotFound()
            for table in ("org_user", "team_member", "user_auth", "user_auth_token"):
                db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))

    # -- external auth --------------------------------------------------------------------------------

    def set_auth_info(
        self, user_id: int, auth_module: str, auth_id: str = "", *, created: int | None = None
    ) -> None:
        """Record a login through ``auth_module``; the newest row is the one Grafana reads."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO user_auth (user_id, auth_module, auth_id, created) VALUES (?, ?, ?, ?)",
                (user_id, auth_module, auth_id, self.now() if created is None else created),
            )

    def clear_auth_info(self, user_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM user_auth WHERE user_id = ?", (user_id,))

    def get_auth_info(self, user_id: int) -> AuthInfo | None:
        """``GetAuthInfo``: the most recent ``user_auth`` row."""
        with self._read() as db:
            row = db.execute(
                "SELECT user_id, auth_module, auth_id, created FROM user_auth WHERE user_id = ? "
                "ORDER BY created DESC, id DESC LIMIT 1",
                (user_id,),
            ).fetchone()
        return AuthInfo(*row) if row else None

    def auth_modules(self, user_ids: Iterable[int]) -> dict[int, str]:
        """The newest auth module of each user that has one (``GetUserLabels``)."""
        ids = list(user_ids)
        out: dict[int, str] = {}
        with self._read() as db:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT user_id, auth_module FROM user_auth WHERE user_id IN ({marks}) "
                    "ORDER BY created, id",
                    list(chunk),
                ).fetchall()
                for user_id, module in rows:
                    out[user_id] = module
        return out

    # -- org membership -------------------------------------------------------------------------------

    def add_org_user(self, org_id: int, user_id: int, role: str) -> None:
        """Add a membership; :class:`OrgUserAlreadyAdded` when it exists. The first org becomes current."""
        now = self.now()
        with self.transaction() as db:
            if not db.execute("SELECT 1 FROM org WHERE id = ?", (org_id,)).fetchone():
                raise OrgNotFound()
            if db.execute(
                "SELECT 1 FROM org_user WHERE org_id = ? AND user_id = ?", (org_id, user_id)
            ).fetchone():
                raise OrgUserAlreadyAdded()
            db.execute(
                "INSERT INTO org_user (org_id, user_id, role, created, updated) VALUES (?, ?, ?, ?, ?)",
                (org_id, user_id, role, now, now),
            )
            db.execute('UPDATE "user" SET org_id = ? WHERE id = ? AND org_id = 0', (org_id, user_id))

    def org_role(self, org_id: int, user_id: int) -> str | None:
        with self._read() as db:
            row = db.execute(
                "SELECT role FROM org_user WHERE org_id = ? AND user_id = ?", (org_id, user_id)
            ).fetchone()
        return row[0] if row else None

    def user_orgs(self, user_id: int) -> list[Membership]:
        """``GetUserOrgList``: the user's orgs, by name ignoring case; none for service accounts."""
        with self._read() as db:
            rows = db.execute(
                "SELECT o.id, o.name, ou.role FROM org_user ou JOIN org o ON o.id = ou.org_id "
                'JOIN "user" u ON u.id = ou.user_id WHERE ou.user_id = ? AND u.is_service_account = 0',
                (user_id,),
            ).fetchall()
        members = [Membership(*r) for r in rows]
        # org.ByOrgName: strings.ToLower(a) < strings.ToLower(b), a stable-enough order for equal names.
        return sorted(members, key=lambda m: m.name.lower())

    # -- teams ----------------------------------------------------------------------------------------

    def create_team(
        self, org_id: int, name: str, email: str = "", *, uid: str | None = None, external_uid: str = ""
    ) -> Team:
        now = self.now()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO team (uid, org_id, name, email, external_uid, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (uid or short_uid(), org_id, name, email, external_uid, now, now),
            )
            row = db.execute("SELECT * FROM team WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _team(row)

    def add_team_member(
        self, team_id: int, user_id: int, *, permission: int = 0, external: bool = False
    ) -> None:
        now = self.now()
        with self.transaction() as db:
            org_id = db.execute("SELECT org_id FROM team WHERE id = ?", (team_id,)).fetchone()[0]
            db.execute(
                "INSERT INTO team_member (org_id, team_id, user_id, external, permission, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (org_id, team_id, user_id, int(external), permission, now, now),
            )

    def add_team_group(self, team_id: int, group_id: str) -> None:
        now = self.now()
        with self.transaction() as db:
            org_id = db.execute("SELECT org_id FROM team WHERE id = ?", (team_id,)).fetchone()[0]
            db.execute(
                "INSERT INTO team_group (org_id, team_id, group_id, created, updated) VALUES (?, ?, ?, ?, ?)",
                (org_id, team_id, group_id, now, now),
            )

    def user_teams(self, org_id: int, user_id: int) -> list[UserTeam]:
        """``GetTeamsByUser``: the user's teams in one org, by name."""
        with self._read() as db:
            rows = db.execute(
                "SELECT t.id, t.uid, t.org_id, t.name, t.email, t.external_uid, t.is_provisioned, t.created, "
                "t.updated, (SELECT COUNT(*) FROM team_member m WHERE m.team_id = t.id), tm.permission "
                "FROM team t JOIN team_member tm ON tm.team_id = t.id "
                "WHERE t.org_id = ? AND tm.user_id = ? ORDER BY t.name ASC, t.id ASC",
                (org_id, user_id),
            ).fetchall()
        return [UserTeam(_team(r[:9]), r[9], r[10]) for r in rows]

    # -- service accounts and tokens ------------------------------------------------------------------

    def create_service_account(
        self, org_id: int, name: str, role: str = "Viewer", *, is_disabled: bool = False
    ) -> User:
        """A service account: a ``user`` row flagged as such, login ``sa-<org>-<slug>``, one membership."""
        login = f"sa-{org_id}-{slug(name)}"
        with self.transaction():
            if self.get_org(org_id) is None:
                raise OrgNotFound()
            user = self.create_user(
                login=login, name=name, is_service_account=True, is_disabled=is_disabled, skip_org_setup=True
            )
            self.add_org_user(org_id, user.id, role)
            found = self.get_user(user.id, include_service_accounts=True)
        assert found is not None
        return found

    def create_sa_token(
        self,
        service_account_id: int,
        name: str,
        *,
        seconds_to_live: int | None = None,
        token: str | None = None,
        expires: int | None = None,
    ) -> tuple[ApiKey, str]:
        """A token for a service account, bound to its org. Returns the key and the token (shown once)."""
        token = token or new_sa_token()
        now = self.now()
        if expires is None and seconds_to_live:
            expires = now + seconds_to_live
        with self.transaction() as db:
            sa = self.get_user(service_account_id, include_service_accounts=True)
            if sa is None or not sa.is_service_account:
                raise UserNotFound()
            role = self.org_role(sa.org_id, sa.id) or "Viewer"
            cur = db.execute(
                "INSERT INTO api_key (org_id, name, key, role, service_account_id, expires, created, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sa.org_id, name, sa_token_secret(token), role, sa.id, expires, now, now),
            )
            key_id = cur.lastrowid
            assert key_id is not None
            key = self._api_key(db, key_id)
        assert key is not None
        return key, token

    @staticmethod
    def _api_key(db: sqlite3.Connection, key_id: int) -> ApiKey | None:
        row = db.execute(
            "SELECT id, org_id, name, role, service_account_id, expires, is_revoked, created, last_used_at "
            "FROM api_key WHERE id = ?",
            (key_id,),
        ).fetchone()
        if row is None:
            return None
        return ApiKey(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8])

    def find_service_account(self, org_id: int, name: str) -> User | None:
        with self._read() as db:
            row = db.execute(
                f'SELECT {_USER_COLUMNS} FROM "user" '
                "WHERE is_service_account = 1 AND lower(login) = lower(?)",
                (f"sa-{org_id}-{slug(name)}",),
            ).fetchone()
        return _user(row) if row else None

    def lookup_token(self, token: str) -> ApiKey | None:
        with self._read() as db:
            row = db.execute("SELECT id FROM api_key WHERE key = ?", (sa_token_secret(token),)).fetchone()
            return self._api_key(db, row[0]) if row else None

    def revoke_token(self, key_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE api_key SET is_revoked = 1 WHERE id = ?", (key_id,))

    def touch_token(self, key_id: int) -> None:
        now = self.now()
        with self.transaction() as db:
            db.execute(
                "UPDATE api_key SET last_used_at = ? "
                "WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                (now, key_id, now - 60),
            )

    # -- login sessions -------------------------------------------------------------------------------

    def create_user_token(self, user_id: int, *, client_ip: str = "", user_agent: str = "") -> UserToken:
        now = self.now()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO user_auth_token (user_id, auth_token, user_agent, client_ip, created_at, "
                "seen_at, rotated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user_id, sa_token_secret(random_string(32)), user_agent, client_ip, now, now, now),
            )
            row = db.execute(
                "SELECT id, user_id, user_agent, client_ip, created_at, seen_at, rotated_at, revoked_at "
                "FROM user_auth_token WHERE id = ?",
                (cur.lastrowid,),
            ).fetchone()
        return UserToken(*row)

    def user_tokens(self, user_id: int) -> list[UserToken]:
        """Active sessions of a user (``GetUserTokens``: not revoked)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT id, user_id, user_agent, client_ip, created_at, seen_at, rotated_at, revoked_at "
                "FROM user_auth_token WHERE user_id = ? AND revoked_at = 0 ORDER BY id",
                (user_id,),
            ).fetchall()
        return [UserToken(*r) for r in rows]

    def revoke_user_token(self, user_id: int, token_id: int) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE user_auth_token SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at = 0",
                (self.now(), token_id, user_id),
            )
            return cur.rowcount > 0

    def revoke_all_user_tokens(self, user_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM user_auth_token WHERE user_id = ?", (user_id,))

    # -- SSO settings ---------------------------------------------------------------------------------

    def get_sso_settings(self, provider: str) -> dict[str, Any] | None:
        """Settings saved through the SSO settings API (snake_case keys), or ``None``."""
        with self._read() as db:
            row = db.execute(
                "SELECT settings FROM sso_setting WHERE provider = ? AND is_deleted = 0", (provider,)
            ).fetchone()
        if row is None:
            return None
        loaded: dict[str, Any] = json.loads(row[0])
        return loaded

    def put_sso_settings(self, provider: str, settings: dict[str, Any]) -> None:
        now = self.now()
        body = json.dumps(settings, sort_keys=True)
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE sso_setting SET settings = ?, updated = ?, is_deleted = 0 WHERE provider = ?",
                (body, now, provider),
            )
            if cur.rowcount == 0:
                db.execute(
                    "INSERT INTO sso_setting (id, provider, settings, created, updated) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (short_uid(), provider, body, now, now),
                )

    def delete_sso_settings(self, provider: str) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE sso_setting SET is_deleted = 1, updated = ? WHERE provider = ? AND is_deleted = 0",
                (self.now(), provider),
            )
            return cur.rowcount > 0

    # -- seeds ----------------------------------------------------------------------------------------

    def load_seed(self, seed: Seed) -> None:
        """Replace the whole state with ``seed``: orgs, users (ids 1… in seed order) with memberships and
        auth modules, teams with members and external groups, service accounts with their tokens.

        One transaction and bulk inserts, so 100,000 users load in seconds. Users sharing a password share
        one salt (hashed once): fine for a sandbox, never for a real server.
        """
        now = self.now()
        hashes: dict[str, tuple[str, str]] = {}

        def password(plain: str | None) -> tuple[str, str]:
            if plain is None:
                return "", ""
            if plain not in hashes:
                hashes[plain] = hash_password(plain)
            return hashes[plain]

        users: list[tuple[Any, ...]] = []
        members: list[tuple[Any, ...]] = []
        auth: list[tuple[Any, ...]] = []
        ids: dict[str, int] = {}
        for user_id, u in enumerate(seed.users, 1):
            created = int(u.created.timestamp())
            seen = int(u.last_seen.timestamp()) if u.last_seen else ten_years_before(created)
            pw_hash, salt = password(u.password)
            users.append(
                (
                    user_id,
                    u.uid,
                    u.login,
                    u.email,
                    u.name,
                    pw_hash,
                    salt,
                    int(u.is_grafana_admin),
                    int(u.is_disabled),
                    0,
                    u.current_org_id,
                    created,
                    created,
                    seen,
                )
            )
            members.extend((m.org_id, user_id, m.role, created, created) for m in u.memberships)
            if u.auth_module is not None:
                auth.append((user_id, u.auth_module, u.auth_id, created))
            ids[u.login] = user_id
        teams: list[tuple[Any, ...]] = []
        team_members: list[tuple[Any, ...]] = []
        groups: list[tuple[Any, ...]] = []
        for team_id, t in enumerate(seed.teams, 1):
            teams.append((team_id, t.uid, t.org_id, t.name, t.email, now, now))
            team_members.extend(
                (t.org_id, team_id, ids[login], 4 if login in t.admins else 0, now, now)
                for login in t.members
            )
            groups.extend((t.org_id, team_id, g, now, now) for g in t.external_groups)
        keys: list[tuple[Any, ...]] = []
        for sa_id, sa in enumerate(seed.service_accounts, len(seed.users) + 1):
            login = f"sa-{sa.org_id}-{slug(sa.name)}"
            users.append(
                (
                    sa_id,
                    short_uid(),
                    login,
                    login,
                    sa.name,
                    "",
                    "",
                    0,
                    int(sa.is_disabled),
                    1,
                    sa.org_id,
                    now,
                    now,
                    ten_years_before(now),
                )
            )
            members.append((sa.org_id, sa_id, sa.role, now, now))
            keys.extend(
                (
                    sa.org_id,
                    t.name,
                    sa_token_secret(t.key),
                    sa.role,
                    sa_id,
                    int(t.expires.timestamp()) if t.expires else None,
                    now,
                    now,
                )
                for t in sa.tokens
            )
        with self.transaction() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM {table}")
            db.executemany(
                "INSERT INTO org (id, name, created, updated) VALUES (?, ?, ?, ?)",
                [(o.id, o.name, now, now) for o in seed.orgs],
            )
            db.executemany(
                'INSERT INTO "user" (id, uid, login, email, name, password, salt, is_admin, is_disabled, '
                "is_service_account, org_id, created, updated, last_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                users,
            )
            db.executemany(
                "INSERT INTO org_user (org_id, user_id, role, created, updated) VALUES (?, ?, ?, ?, ?)",
                members,
            )
            db.executemany(
                "INSERT INTO user_auth (user_id, auth_module, auth_id, created) VALUES (?, ?, ?, ?)", auth
            )
            db.executemany(
                "INSERT INTO team (id, uid, org_id, name, email, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                teams,
            )
            db.executemany(
                "INSERT INTO team_member (org_id, team_id, user_id, permission, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                team_members,
            )
            db.executemany(
                "INSERT INTO team_group (org_id, team_id, group_id, created, updated) VALUES (?, ?, ?, ?, ?)",
                groups,
            )
            db.executemany(
                "INSERT INTO api_key (org_id, name, key, role, service_account_id, expires, created, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                keys,
            )
        self._verified.clear()
