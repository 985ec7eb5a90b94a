"""What a sandbox starts with: orgs, users, teams and service accounts, as plain frozen data.

A :class:`Seed` comes from a TOML file (:func:`load_seed`; samples/sandbox-seed.toml is a commented
instance) or from :func:`gtool.sandbox.generate.generate`. The store turns it into rows and hashes the
passwords and token keys; nothing here touches a database, the web app or a third-party package.

The TOML format, in short (unknown keys are errors, so a typo never goes unnoticed)::

    [sandbox]                      # optional
    version = "12.3.0"             # what /api/health and buildInfo report
    edition = "Enterprise"         # or "Open Source": SAML and team sync need Enterprise
    cloud = false                  # Grafana Cloud mode: a single org
    saml_config = "okta/grafana.ini"   # relative to the seed file
    token_seed = "demo"            # token keys are derived from it (see make_token)

    [[org]]                        # none at all: just org 1, "Main Org."
    id = 1                         # optional: one more than the org before, skipping ids in use
    name = "Main Org."

    [[user]]
    login = "jane"                 # login or email; a missing one copies the other, as Grafana does
    email = "jane@example.com"
    name = "Jane Doe"
    password = "secret"            # plain: the store hashes it; leave it out for external users
    auth_module = "auth.saml"      # ldap, authproxy, jwt, oauth_<provider>; leave it out for local users
    is_grafana_admin = false
    is_disabled = false
    created = "2025-01-10T08:00:00Z"   # ISO time, TOML date/time, "now", "3 days ago"
    last_seen = "2 hours ago"      # or "never"
    orgs = [{ org = "Main Org.", role = "Editor" }]   # org name or id; role None/Viewer/Editor/Admin
    current_org = "Main Org."      # optional: the first of orgs
    [user.saml_attributes]         # optional, SAML users: what the IdP sends at their next login
    groups = ["Grafana Editors"]

    [[team]]
    org = "Main Org."
    name = "SRE"
    email = "sre@example.com"
    members = ["jane"]             # logins or emails; admins are members too
    admins = []
    external_groups = ["SRE On-Call"]

    [[service_account]]
    org = "Main Org."
    name = "gtool-ci"
    role = "Admin"
    tokens = ["ci", { name = "old", expires = "3 days ago" }]

Times without a time zone are refused (Grafana stores UTC; say ``Z``). Relative times are taken from the
``now`` given to :func:`load_seed`, so a demo seed stays "seen 2 hours ago" whenever it is loaded.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import hmac
import re
import string
import tomllib
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAIN_ORG_ID = 1
MAIN_ORG_NAME = "Main Org."
ORG_ROLES = ("None", "Viewer", "Editor", "Admin")
EDITIONS = ("Open Source", "Enterprise")
DEFAULT_TOKEN_SEED = "gtool-sandbox"

SAML_MODULE = "auth.saml"
# auth_module -> GetAuthProviderLabel (pkg/services/login/authinfo.go, 2024).
AUTH_LABELS: Mapping[str, str] = {
    SAML_MODULE: "SAML",
    "ldap": "LDAP",
    "jwt": "JWT",
    "authproxy": "Auth Proxy",
    "oauth_generic_oauth": "Generic OAuth",
    "oauth_github": "GitHub",
    "oauth_gitlab": "GitLab",
    "oauth_google": "Google",
    "oauth_azuread": "AzureAD",
    "oauth_okta": "Okta",
    "oauth_grafana_com": "grafana.com",
    "oauth_grafananet": "grafana.com",
}


def auth_label(module: str) -> str:
    """Grafana's ``GetAuthProviderLabel``: ``""`` is LDAP (a Grafana FIXME), anything unknown Unknown."""
    if module == "":
        return "LDAP"
    return AUTH_LABELS.get(module, "Unknown")


# -- the data model -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedOrg:
    id: int
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership:
    org_id: int
    role: str  # one of ORG_ROLES


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribute:
    """A SAML attribute the IdP sends for a user: what a simulated login of that user carries."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedUser:
    login: str
    email: str
    name: str = ""
    uid: str
    password: str | None = None  # plain text; None: cannot log in with a password
    auth_module: str | None = None  # None: a local user (no user_auth row)
    auth_id: str = ""  # user_auth.auth_id of an external user
    is_grafana_admin: bool = False
    is_disabled: bool = False
    created: dt.datetime
    last_seen: dt.datetime | None = None  # None: never seen (Grafana shows "10 years")
    memberships: tuple[Membership, ...] = ()
    current_org_id: int = 0  # user.org_id; 0 when the user is in no org
    saml_attributes: tuple[Attribute, ...] = ()

    @property
    def is_external(self) -> bool:
        return self.auth_module is not None

    @property
    def auth_labels(self) -> tuple[str, ...]:
        """The ``authLabels`` Grafana shows: one label from the (only) auth module, none for local users."""
        return () if self.auth_module is None else (auth_label(self.auth_module),)

    def role_in(self, org_id: int) -> str | None:
        return next((m.role for m in self.memberships if m.org_id == org_id), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedTeam:
    org_id: int
    name: str
    email: str = ""
    uid: str
    members: tuple[str, ...] = ()  # logins, admins included
    admins: tuple[str, ...] = ()  # logins of members with the team Admin permission (4)
    external_groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedToken:
    name: str
    key: str  # the full glsa_… key, plain: the store hashes it
    expires: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedServiceAccount:
    org_id: int
    name: str
    role: str = "Viewer"
    is_disabled: bool = False
    tokens: tuple[SeedToken, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxSettings:
    version: str | None = None  # None: the server's default
    edition: str | None = None  # None: the server's default; else one of EDITIONS
    cloud: bool = False
    saml_config: Path | None = None  # absolute once loaded
    token_seed: str = DEFAULT_TOKEN_SEED


@dataclass(frozen=True, slots=True, kw_only=True)
class Seed:
    orgs: tuple[SeedOrg, ...]
    users: tuple[SeedUser, ...]
    teams: tuple[SeedTeam, ...] = ()
    service_accounts: tuple[SeedServiceAccount, ...] = ()
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    source: str = ""  # the file, or how it was generated

    def org(self, ref: int | str) -> SeedOrg:
        """The org with this id or exact name; KeyError if there is none."""
        for org in self.orgs:
            if (org.id if isinstance(ref, int) else org.name) == ref:
                return org
        raise KeyError(ref)

    def user(self, login_or_email: str) -> SeedUser:
        """The user with this login or email (case-insensitive, as Grafana); KeyError if there is none."""
        wanted = login_or_email.casefold()
        for user in self.users:
            if user.login.casefold() == wanted or user.email.casefold() == wanted:
                return user
        raise KeyError(login_or_email)

    def token(self, account: str, name: str | None = None, org: int | str | None = None) -> str:
        """The key of a service account's token (its only one when ``name`` is None), for tests::

        key = load_seed(SEED).token("gtool-ci")   # the same key the sandbox loaded from SEED
        """
        org_id = None if org is None else self.org(org).id
        found = [
            t
            for sa in self.service_accounts
            if sa.name == account and org_id in (None, sa.org_id)
            for t in sa.tokens
            if name in (None, t.name)
        ]
        if len(found) != 1:
            raise KeyError(f"{len(found)} tokens match account={account!r} name={name!r} org={org!r}")
        return found[0].key

    def all_tokens(self) -> Iterator[tuple[SeedServiceAccount, SeedToken]]:
        """Every token with its account, in seed order: what the server prints once at start-up."""
        for sa in self.service_accounts:
            for token in sa.tokens:
                yield sa, token


# -- deterministic identifiers and token keys ------------------------------------------------------------

_TOKEN_CHARS = string.digits + string.ascii_uppercase + string.ascii_lowercase  # util.GetRandomString
_TOKEN = re.compile(r"glsa_([0-9A-Za-z]{32})_([0-9a-f]{8})")
_UID_CHARS = string.digits + string.ascii_lowercase
_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")  # util.IsValidShortUID and the 40-character column


def token_checksum(secret: str, service_id: str = "sa") -> str:
    """satokengen ``CalculateChecksum``: CRC-32 (IEEE) of ``gl<service>_<secret>``, little-endian hex."""
    return zlib.crc32(f"gl{service_id}_{secret}".encode()).to_bytes(4, "little").hex()


def make_token(token_seed: str, org_id: int, account: str, name: str) -> str:
    """A service account token key in Grafana's format (``glsa_<32 chars>_<crc32>``), derived from
    ``token_seed`` so that a test reading the same seed knows the key the sandbox accepts."""
    message = f"{org_id}\x00{account}\x00{name}".encode()
    digest = hmac.new(token_seed.encode(), message, hashlib.sha512).digest()
    secret = "".join(_TOKEN_CHARS[b % len(_TOKEN_CHARS)] for b in digest[:32])
    return f"glsa_{secret}_{token_checksum(secret)}"


def is_token(key: str) -> bool:
    """Whether ``key`` is a well-formed ``glsa_`` key whose checksum matches (satokengen ``Decode``)."""
    m = _TOKEN.fullmatch(key)
    return m is not None and token_checksum(m.group(1)) == m.group(2)


def make_uid(kind: str, name: str, salt: str = DEFAULT_TOKEN_SEED) -> str:
    """A stable 14-character uid shaped like Grafana's short uids (a letter a-f, then base 36)."""
    digest = hashlib.sha256(f"{salt}\x00{kind}\x00{name}".encode()).digest()
    return "abcdef"[digest[0] % 6] + "".join(_UID_CHARS[b % 36] for b in digest[1:14])


# -- times ----------------------------------------------------------------------------------------------

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
    "mo": 30 * 86400,
    "month": 30 * 86400,
    "y": 365 * 86400,
    "year": 365 * 86400,
}
_RELATIVE = re.compile(r"(?:(in)\s+)?(\d+)\s*([a-z]+?)s?(?:\s+(ago))?", re.IGNORECASE)
TIME_HINT = 'write an ISO time with a zone ("2025-01-10T08:00:00Z"), "now", "3 days ago" or "in 2 weeks"'


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def parse_time(value: object, now: dt.datetime) -> dt.datetime:
    """A seed time as an aware UTC datetime (whole seconds); ValueError says what is wrong."""
    if isinstance(value, dt.datetime):
        return _aware(value, repr(value.isoformat()))
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    text = value.strip()
    if text.lower() == "now":
        return now
    m = _RELATIVE.fullmatch(text)
    if m:
        future, count, unit, past = m.groups()
        seconds = _UNITS.get(unit.lower())
        if seconds is None or bool(future) == bool(past):
            raise ValueError(f"{value!r} is not a relative time")
        delta = dt.timedelta(seconds=int(count) * seconds)
        return now + delta if future else now - delta
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a time") from None
    return _aware(parsed, repr(value))


def _aware(value: dt.datetime, shown: str) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"{shown} has no time zone")
    return value.astimezone(dt.UTC).replace(microsecond=0)


# -- errors and locations -------------------------------------------------------------------------------


class SeedError(Exception):
    """A seed file cannot be used: ``message`` starts with ``file:line`` and ``hint`` says what to do."""

    def __init__(self, message: str, hint: str, path: str = "", line: int | None = None) -> None:
        super().__init__(f"{message} ({hint})")
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line


ARRAY_TABLES = ("org", "user", "team", "service_account")
TOP_KEYS = ("sandbox", *ARRAY_TABLES)
SANDBOX_KEYS = ("version", "edition", "cloud", "saml_config", "token_seed")
ORG_KEYS = ("id", "name")
USER_KEYS = (
    "login",
    "email",
    "name",
    "uid",
    "password",
    "auth_module",
    "auth_id",
    "is_grafana_admin",
    "is_disabled",
    "created",
    "last_seen",
    "orgs",
    "current_org",
    "saml_attributes",
)
MEMBERSHIP_KEYS = ("org", "role")
TEAM_KEYS = ("org", "name", "email", "uid", "members", "admins", "external_groups")
SERVICE_ACCOUNT_KEYS = ("org", "name", "role", "is_disabled", "tokens")
TOKEN_KEYS = ("name", "key", "expires")


class _Locator:
    """Line numbers for what tomllib parses without them: table headers and the keys below them."""

    _HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z_]+)\s*\]\]|^\s*\[\s*([A-Za-z_]+)\s*\]")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.headers: dict[str, list[int]] = {}
        for n, line in enumerate(self.lines, 1):
            m = self._HEADER.match(line)
            if m:
                self.headers.setdefault(m.group(1) or m.group(2), []).append(n)

    def table(self, kind: str, index: int = 0) -> int:
        found = self.headers.get(kind, [])
        return found[index] if index < len(found) else 1

    def key(self, kind: str, index: int, key: str) -> int:
        """The first line in the table that assigns ``key`` or opens ``[kind.key]`` (else the header)."""
        start = self.table(kind, index)
        following = [n for ns in self.headers.values() for n in ns if n > start]
        end = min(following, default=len(self.lines) + 1)
        pattern = re.compile(rf'(^|[\s{{,.])["\']?{re.escape(key)}["\']?\s*=')
        for n in range(start + 1, end):
            if pattern.search(self.lines[n - 1]):
                return n
        sub = re.compile(rf"^\s*\[\s*{re.escape(kind)}\.{re.escape(key)}\s*\]")
        for n, line in enumerate(self.lines[start:], start + 1):
            if sub.match(line):
                return n
        return start

    def top_key(self, key: str) -> int:
        if key in self.headers:
            return self.headers[key][0]
        pattern = re.compile(rf'^\s*["\']?{re.escape(key)}["\']?\s*[=.]')
        for n, line in enumerate(self.lines, 1):
            if self._HEADER.match(line):
                break
            if pattern.match(line):
                return n
        return 1

    def error(self, line: int, message: str, hint: str) -> SeedError:
        return SeedError(f"{self.path}:{line}: {message}", hint, self.path, line)


def _suggest(word: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    listing = ", ".join(known)
    return f"did you mean {close[0]!r}? known keys: {listing}" if close else f"known keys: {listing}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Entry:
    """One ``[[kind]]`` table being read: it names itself in errors and finds its keys' lines."""

    def __init__(
        self, at: _Locator, kind: str, index: int, raw: Mapping[str, Any], known: Sequence[str]
    ) -> None:
        self.at = at
        self.kind = kind
        self.index = index
        self.raw = raw
        self.label = f"[[{kind}]] #{index + 1}"
        bad = [k for k in raw if k not in known]
        if bad:
            raise self.fail(bad[0], f"unknown key {bad[0]!r}", _suggest(bad[0], known))

    def named(self, label: str) -> None:
        self.label = f"[[{self.kind}]] {label}"

    def line(self, key: str | None = None) -> int:
        return self.at.key(self.kind, self.index, key) if key else self.at.table(self.kind, self.index)

    def fail(self, key: str | None, message: str, hint: str) -> SeedError:
        return self.at.error(self.line(key), f"{self.label}: {message}", hint)

    def string(self, key: str, example: str, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.fail(None, f"{key} is missing", f"add {key} = {example}")
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"{key} must be a string, not {value!r}", f"write {key} = {example}")
        if required and not value.strip():
            raise self.fail(key, f"{key} is empty", f"write {key} = {example}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.raw.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, f"{key} must be true or false, not {value!r}", f"write {key} = true")
        return value

    def strings(self, key: str, example: str) -> tuple[str, ...]:
        value = self.raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"{key} must be a list of strings", f"write {key} = {example}")
        seen: set[str] = set()
        for v in value:
            if v in seen:
                raise self.fail(key, f"{key} lists {v!r} twice", "list each value once")
            seen.add(v)
        return tuple(value)

    def role(self, key: str, value: object, where: str = "") -> str:
        if value not in ORG_ROLES:
            raise self.fail(
                key,
                f"{where}role {value!r} is not a Grafana org role",
                "write one of None, Viewer, Editor, Admin (exactly this case)",
            )
        return str(value)

    def time(self, key: str, now: dt.datetime, *, allow_never: bool = False) -> dt.datetime | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if allow_never and isinstance(value, str) and value.strip().lower() == "never":
            return None
        try:
            return parse_time(value, now)
        except ValueError as exc:
            hint = TIME_HINT + (', or "never"' if allow_never else "")
            raise self.fail(key, f"{key}: {exc}", hint) from None


# -- reading a seed file --------------------------------------------------------------------------------


def load_seed(path: str | Path, *, now: dt.datetime | None = None) -> Seed:
    """Read and validate a seed TOML file; every problem is a :class:`SeedError` naming file and line.

    ``now`` anchors relative times ("2 hours ago") and the default ``created``; default: the current time.
    """
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"{shown}: {exc.strerror or exc}", "check the --seed path", shown) from None
    except UnicodeDecodeError as exc:
        raise SeedError(f"{shown}: not UTF-8 ({exc.reason})", "save the file as UTF-8", shown) from None
    return parse_seed(text, shown, base=Path(path).resolve().parent, now=now)


def parse_seed(
    text: str, path: str = "<seed>", *, base: Path | None = None, now: dt.datetime | None = None
) -> Seed:
    """:func:`load_seed` on text already read; ``base`` resolves ``saml_config`` (default: the cwd)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{m.group(1)}:{m.group(2)}" if m else path
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise SeedError(
            f"{where}: not valid TOML: {message}",
            'fix the syntax: strings need double quotes, lists are ["a", "b"], one [[user]] per user',
            path,
            int(m.group(1)) if m else None,
        ) from None
    reader = _Reader(_Locator(path, text), now or utc_now(), base or Path.cwd())
    return reader.read(doc)


class _Reader:
    def __init__(self, at: _Locator, now: dt.datetime, base: Path) -> None:
        self.at = at
        self.now = now
        self.base = base
        self.orgs: list[SeedOrg] = []
        self.users: list[SeedUser] = []
        self.user_lines: list[int] = []

    def read(self, doc: Mapping[str, Any]) -> Seed:
        bad = [k for k in doc if k not in TOP_KEYS]
        if bad:
            hint = _suggest(bad[0], TOP_KEYS) + "; write [[user]] (two brackets) once per user"
            raise self.at.error(self.at.top_key(bad[0]), f"unknown table or key {bad[0]!r}", hint)
        sandbox = self.sandbox(doc.get("sandbox", {}))
        self.orgs = self.read_orgs(self.tables(doc, "org"), sandbox)
        for i, raw in enumerate(self.tables(doc, "user")):
            self.users.append(self.user(_Entry(self.at, "user", i, raw, USER_KEYS), sandbox))
            self.user_lines.append(self.at.table("user", i))
        self.check_orgs_have_admins()
        teams = self.read_teams(self.tables(doc, "team"), sandbox)
        accounts = self.read_accounts(self.tables(doc, "service_account"), sandbox)
        return Seed(
            orgs=tuple(self.orgs),
            users=tuple(self.users),
            teams=teams,
            service_accounts=accounts,
            sandbox=sandbox,
            source=self.at.path,
        )

    def tables(self, doc: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
        raw = doc.get(kind, [])
        if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
            raise self.at.error(
                self.at.top_key(kind),
                f"{kind} must be written as [[{kind}]] tables",
                f"start each {kind} with a [[{kind}]] line (two brackets)",
            )
        return raw

    # -- [sandbox] ---------------------------------------------------------------------------------------

    def sandbox(self, raw: object) -> SandboxSettings:
        line = self.at.top_key("sandbox")
        if not isinstance(raw, dict):
            raise self.at.error(line, "sandbox must be a [sandbox] table", "write [sandbox] on its own line")
        bad = [k for k in raw if k not in SANDBOX_KEYS]
        if bad:
            raise self.at.error(
                self.at.key("sandbox", 0, bad[0]),
                f"[sandbox]: unknown key {bad[0]!r}",
                _suggest(bad[0], SANDBOX_KEYS),
            )
        for key in ("version", "edition", "saml_config", "token_seed"):
            if key in raw and (not isinstance(raw[key], str) or not raw[key]):
                raise self.at.error(
                    self.at.key("sandbox", 0, key),
                    f"[sandbox]: {key} must be a non-empty string",
                    f'quote it: {key} = "…"',
                )
        if "cloud" in raw and not isinstance(raw["cloud"], bool):
            raise self.at.error(
                self.at.key("sandbox", 0, "cloud"),
                "[sandbox]: cloud must be true or false",
                "write cloud = true",
            )
        edition = raw.get("edition")
        if edition is not None and edition not in EDITIONS:
            raise self.at.error(
                self.at.key("sandbox", 0, "edition"),
                f"[sandbox]: edition {edition!r} is not a Grafana edition",
                'write edition = "Enterprise" or "Open Source"',
            )
        version = raw.get("version")
        if version is not None and not re.fullmatch(r"\d+\.\d+\.\d+\S*", version):
            raise self.at.error(
                self.at.key("sandbox", 0, "version"),
                f"[sandbox]: version {version!r} is not a Grafana version",
                'write a full version like version = "12.3.0"',
            )
        saml = (self.base / raw["saml_config"]).resolve() if "saml_config" in raw else None
        if saml is not None and not saml.is_file():
            raise self.at.error(
                self.at.key("sandbox", 0, "saml_config"),
                f"[sandbox]: saml_config {raw['saml_config']!r} is not a file (looked for {saml})",
                "the path is relative to the seed file",
            )
        return SandboxSettings(
            version=version,
            edition=edition,
            cloud=raw.get("cloud", False),
            saml_config=saml,
            token_seed=raw.get("token_seed", DEFAULT_TOKEN_SEED),
        )

    # -- [[org]] -----------------------------------------------------------------------------------------

    def read_orgs(self, tables: list[Mapping[str, Any]], sandbox: SandboxSettings) -> list[SeedOrg]:
        if not tables:
            return [SeedOrg(id=MAIN_ORG_ID, name=MAIN_ORG_NAME)]
        entries = [_Entry(self.at, "org", i, raw, ORG_KEYS) for i, raw in enumerate(tables)]
        explicit = {e.raw["id"] for e in entries if _is_int(e.raw.get("id"))}
        previous = 0
        orgs: list[SeedOrg] = []
        lines: dict[object, int] = {}
        for e in entries:
            name = e.string("name", '"Main Org."', required=True)
            assert name is not None
            e.named(repr(name))
            org_id = e.raw.get("id")
            if org_id is None:  # like an autoincrement column fed in file order
                org_id = previous + 1
                while org_id in explicit:
                    org_id += 1
            elif not _is_int(org_id) or org_id < 1:
                raise e.fail(
                    "id", f"id must be a positive integer, not {org_id!r}", "write id = 2, or leave it out"
                )
            for key, value in (("id", org_id), ("name", name)):
                if (key, value) in lines:
                    raise e.fail(
                        key,
                        f"org {key} {value!r} is already used by the [[org]] at line {lines[key, value]}",
                        f"give every org its own {key}",
                    )
                lines[key, value] = e.line()
            orgs.append(SeedOrg(id=org_id, name=name))
            previous = org_id
        if not any(o.id == MAIN_ORG_ID for o in orgs):
            raise self.at.error(
                self.at.table("org"),
                "no org has id 1",
                'Grafana always has org 1: add [[org]] id = 1, name = "Main Org." (or leave out the ids)',
            )
        if sandbox.cloud and len(orgs) > 1:
            raise self.at.error(
                self.at.table("org", 1),
                f"[sandbox] cloud = true, but the seed has {len(orgs)} orgs",
                "a Grafana Cloud stack has a single org: keep one [[org]] or set cloud = false",
            )
        return orgs

    def org_ref(self, e: _Entry, key: str, value: object, where: str = "") -> SeedOrg:
        """An ``org = "name" | id`` reference, resolved."""
        names = [o.name for o in self.orgs]
        if isinstance(value, str):
            for org in self.orgs:
                if org.name == value:
                    return org
            close = difflib.get_close_matches(value, names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise e.fail(
                key,
                f"{where}no org named {value!r}",
                f"{hint}declare it with [[org]] or use one of: {', '.join(map(repr, names))}",
            )
        if _is_int(value):
            for org in self.orgs:
                if org.id == value:
                    return org
            ids = ", ".join(str(o.id) for o in self.orgs)
            raise e.fail(
                key, f"{where}no org with id {value}", f"declare it with [[org]] or use one of: {ids}"
            )
        raise e.fail(
            key, f"{where}org must be an org name or id, not {value!r}", 'write org = "Main Org." or org = 1'
        )

    # -- [[user]] ----------------------------------------------------------------------------------------

    def user(self, e: _Entry, sandbox: SandboxSettings) -> SeedUser:
        login = e.string("login", '"jane"')
        email = e.string("email", '"jane@example.com"')
        if not login and not email:
            raise e.fail(
                None, "has neither login nor email", 'add login = "jane" (and email = "jane@example.com")'
            )
        login = login or email
        email = email or login
        assert login is not None and email is not None
        e.named(repr(login))
        self.check_unique(e, "login", login, [u.login for u in self.users])
        self.check_unique(e, "email", email, [u.email for u in self.users])
        module = self.auth_module(e)
        password = self.password(e, module)
        created = e.time("created", self.now)
        last_seen = e.time("last_seen", self.now, allow_never=True)
        if created is None:
            created = min(last_seen, self.now) if last_seen else self.now
        self.check_times(e, created, last_seen)
        memberships = self.memberships(e)
        uid = e.string("uid", '"ae5t1b2c3d4e5f"') or make_uid("user", login.casefold(), sandbox.token_seed)
        if not _UID.fullmatch(uid):
            raise e.fail("uid", f"uid {uid!r} is not a Grafana uid", "use up to 40 letters, digits, - and _")
        return SeedUser(
            login=login,
            email=email,
            name=e.string("name", '"Jane Doe"') or "",
            uid=uid,
            password=password,
            auth_module=module,
            auth_id=(e.string("auth_id", '"jane@example.com"') or login) if module else "",
            is_grafana_admin=e.boolean("is_grafana_admin"),
            is_disabled=e.boolean("is_disabled"),
            created=created,
            last_seen=last_seen,
            memberships=memberships,
            current_org_id=self.current_org(e, memberships),
            saml_attributes=self.saml_attributes(e, module),
        )

    def check_unique(self, e: _Entry, key: str, value: str, taken: list[str]) -> None:
        # Grafana compares logins and emails case-insensitively (case_insensitive_login, default since 10).
        folded = value.casefold()
        for i, other in enumerate(taken):
            if other.casefold() == folded:
                raise e.fail(
                    key,
                    f"{key} {value!r} is already used by the [[user]] at line {self.user_lines[i]}",
                    f"give every user its own {key} (Grafana compares them ignoring case)",
                )

    def auth_module(self, e: _Entry) -> str | None:
        module = e.string("auth_module", '"auth.saml"')
        if module is None:
            return None
        if module not in AUTH_LABELS:
            close = difflib.get_close_matches(module, list(AUTH_LABELS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise e.fail(
                "auth_module",
                f"auth_module {module!r} is not a Grafana auth module",
                f"{hint}use one of {', '.join(AUTH_LABELS)}, or leave it out for a local user",
            )
        return module

    def password(self, e: _Entry, module: str | None) -> str | None:
        password = e.string("password", '"a-demo-password"')
        if password is None and module is None:
            raise e.fail(
                None,
                "a local user needs a password",
                'add password = "…" (plain: the sandbox hashes it), or set auth_module for an external user',
            )
        if password is not None and len(password) < 4:
            # POST /api/admin/users refuses these too: "Password is missing or too short".
            raise e.fail("password", "password is shorter than 4 characters", "Grafana needs at least 4")
        return password

    def check_times(self, e: _Entry, created: dt.datetime, last_seen: dt.datetime | None) -> None:
        if created > self.now:
            raise e.fail("created", f"created {created.isoformat()} is in the future", "use a past time")
        if last_seen is not None and last_seen > self.now:
            raise e.fail(
                "last_seen", f"last_seen {last_seen.isoformat()} is in the future", "use a past time"
            )
        if last_seen is not None and last_seen < created:
            raise e.fail(
                "last_seen",
                f"last_seen {last_seen.isoformat()} is before created {created.isoformat()}",
                'a user is seen after being created; or write last_seen = "never"',
            )

    def memberships(self, e: _Entry) -> tuple[Membership, ...]:
        example = 'orgs = [{ org = "Main Org.", role = "Viewer" }]'
        if "orgs" not in e.raw:
            raise e.fail(None, "orgs is missing", f"say which orgs the user is in: {example}, or orgs = []")
        raw = e.raw["orgs"]
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise e.fail("orgs", "orgs must be a list of { org, role } tables", f"write {example}")
        out: list[Membership] = []
        for n, item in enumerate(raw, 1):
            where = f"orgs entry {n}: "
            bad = [k for k in item if k not in MEMBERSHIP_KEYS]
            if bad:
                raise e.fail("orgs", f"{where}unknown key {bad[0]!r}", _suggest(bad[0], MEMBERSHIP_KEYS))
            if "org" not in item or "role" not in item:
                raise e.fail("orgs", f"{where}needs both org and role", f"write {example}")
            org = self.org_ref(e, "orgs", item["org"], where)
            if any(m.org_id == org.id for m in out):
                raise e.fail("orgs", f"{where}the user is already in org {org.name!r}", "list each org once")
            out.append(Membership(org_id=org.id, role=e.role("orgs", item["role"], where)))
        return tuple(out)

    def current_org(self, e: _Entry, memberships: tuple[Membership, ...]) -> int:
        if "current_org" not in e.raw:
            return memberships[0].org_id if memberships else 0
        org = self.org_ref(e, "current_org", e.raw["current_org"])
        if all(m.org_id != org.id for m in memberships):
            raise e.fail(
                "current_org",
                f"current_org {org.name!r} is not one of the user's orgs",
                "add the org to orgs, or leave current_org out (it defaults to the first of orgs)",
            )
        return org.id

    def saml_attributes(self, e: _Entry, module: str | None) -> tuple[Attribute, ...]:
        raw = e.raw.get("saml_attributes")
        if raw is None:
            return ()
        if module != SAML_MODULE:
            raise e.fail(
                "saml_attributes",
                "saml_attributes is set, but the user is not a SAML user",
                'set auth_module = "auth.saml", or remove [user.saml_attributes]',
            )
        hint = 'write [user.saml_attributes] with lines like groups = ["Grafana Editors"] or email = "…"'
        if not isinstance(raw, dict):
            raise e.fail("saml_attributes", "saml_attributes must be a table", hint)
        out: list[Attribute] = []
        for name, value in raw.items():
            if isinstance(value, str):
                out.append(Attribute(name=name, values=(value,)))
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                out.append(Attribute(name=name, values=tuple(value)))
            else:
                raise e.fail(name, f"SAML attribute {name!r} must be a string or a list of strings", hint)
        return tuple(out)

    def check_orgs_have_admins(self) -> None:
        for org in self.orgs:
            roles = [u.role_in(org.id) for u in self.users]
            if any(roles) and "Admin" not in roles:
                raise self.at.error(
                    self.at.table("org", self.orgs.index(org)) if self.at.headers.get("org") else 1,
                    f"[[org]] {org.name!r} has members but no Admin",
                    "Grafana never lets an org lose its last Admin: make one of its users Admin there",
                )

    # -- [[team]] ----------------------------------------------------------------------------------------

    def read_teams(self, tables: list[Mapping[str, Any]], sandbox: SandboxSettings) -> tuple[SeedTeam, ...]:
        teams: list[SeedTeam] = []
        lines: dict[tuple[int, str], int] = {}
        for i, raw in enumerate(tables):
            e = _Entry(self.at, "team", i, raw, TEAM_KEYS)
            name = e.string("name", '"SRE"', required=True)
            assert name is not None
            e.named(repr(name))
            if "org" not in raw:
                raise e.fail(None, "org is missing", 'add org = "Main Org." (a team belongs to one org)')
            org = self.org_ref(e, "org", raw["org"])
            if (org.id, name) in lines:
                raise e.fail(
                    "name",
                    f"org {org.name!r} already has a team {name!r} (line {lines[org.id, name]})",
                    "team names are unique within an org: rename one",
                )
            lines[org.id, name] = e.line()
            admins = self.team_logins(e, "admins", org)
            members = self.team_logins(e, "members", org)
            members += tuple(a for a in admins if a not in members)
            teams.append(
                SeedTeam(
                    org_id=org.id,
                    name=name,
                    email=e.string("email", '"sre@example.com"') or "",
                    uid=self.uid(e, "team", f"{org.id}/{name}", sandbox),
                    members=members,
                    admins=admins,
                    external_groups=e.strings("external_groups", '["SRE On-Call"]'),
                )
            )
        return tuple(teams)

    def team_logins(self, e: _Entry, key: str, org: SeedOrg) -> tuple[str, ...]:
        out: list[str] = []
        for ref in e.strings(key, '["jane", "ada@example.com"]'):
            folded = ref.casefold()
            user = next((u for u in self.users if folded in (u.login.casefold(), u.email.casefold())), None)
            if user is None:
                raise e.fail(
                    key, f"{key}: no user {ref!r}", "give the login or email of a [[user]] in this file"
                )
            if user.role_in(org.id) is None:
                raise e.fail(
                    key,
                    f"{key}: {user.login!r} is not in org {org.name!r}, the team's org",
                    f'add {{ org = "{org.name}", role = "Viewer" }} to that user\'s orgs',
                )
            if user.login in out:
                raise e.fail(key, f"{key}: {user.login!r} is listed twice", "list each member once")
            out.append(user.login)
        return tuple(out)

    def uid(self, e: _Entry, kind: str, name: str, sandbox: SandboxSettings) -> str:
        uid = e.string("uid", '"de5t9q7r1s2t3u"') or make_uid(kind, name, sandbox.token_seed)
        if not _UID.fullmatch(uid):
            raise e.fail("uid", f"uid {uid!r} is not a Grafana uid", "use up to 40 letters, digits, - and _")
        return uid

    # -- [[service_account]] -----------------------------------------------------------------------------

    def read_accounts(
        self, tables: list[Mapping[str, Any]], sandbox: SandboxSettings
    ) -> tuple[SeedServiceAccount, ...]:
        accounts: list[SeedServiceAccount] = []
        names: dict[tuple[int, str], int] = {}
        token_names: dict[tuple[int, str], str] = {}
        for i, raw in enumerate(tables):
            e = _Entry(self.at, "service_account", i, raw, SERVICE_ACCOUNT_KEYS)
            name = e.string("name", '"gtool-ci"', required=True)
            assert name is not None
            e.named(repr(name))
            if "org" not in raw:
                raise e.fail(
                    None, "org is missing", 'add org = "Main Org." (a service account lives in one org)'
                )
            org = self.org_ref(e, "org", raw["org"])
            if (org.id, name) in names:
                raise e.fail(
                    "name",
                    f"org {org.name!r} already has a service account {name!r} (line {names[org.id, name]})",
                    "service account names are unique within an org: rename one",
                )
            names[org.id, name] = e.line()
            tokens = self.tokens(e, org, name, sandbox, token_names)
            accounts.append(
                SeedServiceAccount(
                    org_id=org.id,
                    name=name,
                    role=e.role("role", raw.get("role", "Viewer")),
                    is_disabled=e.boolean("is_disabled"),
                    tokens=tokens,
                )
            )
        return tuple(accounts)

    def tokens(
        self,
        e: _Entry,
        org: SeedOrg,
        account: str,
        sandbox: SandboxSettings,
        taken: dict[tuple[int, str], str],
    ) -> tuple[SeedToken, ...]:
        raw = e.raw.get("tokens", [])
        example = 'tokens = ["ci", { name = "old", expires = "3 days ago" }]'
        if not isinstance(raw, list):
            raise e.fail("tokens", "tokens must be a list", f"write {example}")
        out: list[SeedToken] = []
        for n, item in enumerate(raw, 1):
            where = f"tokens entry {n}: "
            spec = {"name": item} if isinstance(item, str) else item
            if not isinstance(spec, dict):
                raise e.fail("tokens", f"{where}must be a name or a {{ name, … }} table", f"write {example}")
            bad = [k for k in spec if k not in TOKEN_KEYS]
            if bad:
                raise e.fail("tokens", f"{where}unknown key {bad[0]!r}", _suggest(bad[0], TOKEN_KEYS))
            name = spec.get("name")
            if not isinstance(name, str) or not name:
                raise e.fail("tokens", f"{where}needs a name", f"write {example}")
            if (org.id, name) in taken:
                raise e.fail(
                    "tokens",
                    f"{where}org {org.name!r} already has a token {name!r} (of {taken[org.id, name]!r})",
                    "Grafana refuses two tokens with one name in an org: rename one",
                )
            taken[org.id, name] = account
            out.append(
                SeedToken(
                    name=name,
                    key=self.token_key(e, spec, org, account, sandbox),
                    expires=self.expiry(e, spec, where),
                )
            )
        return tuple(out)

    def token_key(
        self, e: _Entry, spec: Mapping[str, Any], org: SeedOrg, account: str, sandbox: SandboxSettings
    ) -> str:
        key = spec.get("key")
        if key is None:
            return make_token(sandbox.token_seed, org.id, account, spec["name"])
        if not isinstance(key, str) or not is_token(key):
            raise e.fail(
                "tokens",
                f"token {spec['name']!r}: key is not a valid glsa_ token (format or checksum)",
                "leave key out to have one derived from [sandbox] token_seed",
            )
        return key

    def expiry(self, e: _Entry, spec: Mapping[str, Any], where: str) -> dt.datetime | None:
        if spec.get("expires") is None:
            return None
        try:
            return parse_time(spec["expires"], self.now)
        except ValueError as exc:
            raise e.fail("tokens", f"{where}expires: {exc}", TIME_HINT) from None


# -- consistency of any seed (generated ones included) --------------------------------------------------


def problems(seed: Seed) -> list[str]:
    """What is inconsistent in ``seed``: dangling references, duplicates, invalid roles. ``[]`` when sound.

    :func:`load_seed` already refuses all of this with line numbers; this is for generated seeds and tests.
    """
    out: list[str] = []
    org_ids = {o.id for o in seed.orgs}
    _dupes(out, "org id", [o.id for o in seed.orgs])
    _dupes(out, "org name", [o.name for o in seed.orgs])
    if MAIN_ORG_ID not in org_ids:
        out.append("no org has id 1")
    _dupes(out, "login", [u.login.casefold() for u in seed.users])
    _dupes(out, "email", [u.email.casefold() for u in seed.users])
    members: dict[int, set[str]] = {o.id: set() for o in seed.orgs}
    admins: set[int] = set()
    for u in seed.users:
        out.extend(_user_problems(u, org_ids))
        for m in u.memberships:
            members.setdefault(m.org_id, set()).add(u.login)
            if m.role == "Admin":
                admins.add(m.org_id)
    out.extend(f"org {o} has members but no Admin" for o, who in members.items() if who and o not in admins)
    _dupes(out, "team", [(t.org_id, t.name) for t in seed.teams])
    for t in seed.teams:
        if t.org_id not in org_ids:
            out.append(f"team {t.name!r}: no org {t.org_id}")
        outsiders = [m for m in t.members if m not in members.get(t.org_id, set())]
        out.extend(f"team {t.name!r}: member {m!r} is not in org {t.org_id}" for m in outsiders)
        out.extend(f"team {t.name!r}: admin {a!r} is not a member" for a in t.admins if a not in t.members)
    _dupes(out, "service account", [(sa.org_id, sa.name) for sa in seed.service_accounts])
    _dupes(out, "token name", [(sa.org_id, t.name) for sa, t in seed.all_tokens()])
    _dupes(out, "token key", [t.key for _, t in seed.all_tokens()])
    for sa, token in seed.all_tokens():
        if not is_token(token.key):
            out.append(f"service account {sa.name!r}: token {token.name!r} is not a valid glsa_ key")
    for sa in seed.service_accounts:
        if sa.org_id not in org_ids or sa.role not in ORG_ROLES:
            out.append(f"service account {sa.name!r}: org {sa.org_id} / role {sa.role!r} invalid")
    return out


def _user_problems(u: SeedUser, org_ids: set[int]) -> Iterator[str]:
    orgs = [m.org_id for m in u.memberships]
    if len(set(orgs)) != len(orgs):
        yield f"user {u.login!r}: an org is listed twice"
    for m in u.memberships:
        if m.org_id not in org_ids:
            yield f"user {u.login!r}: no org {m.org_id}"
        if m.role not in ORG_ROLES:
            yield f"user {u.login!r}: role {m.role!r} in org {m.org_id}"
    if u.current_org_id not in (orgs or [0]):
        yield f"user {u.login!r}: current org {u.current_org_id} is not one of its orgs"
    if u.auth_module is not None and u.auth_module not in AUTH_LABELS:
        yield f"user {u.login!r}: auth module {u.auth_module!r}"
    if u.last_seen is not None and u.last_seen < u.created:
        yield f"user {u.login!r}: seen before being created"


def _dupes(out: list[str], what: str, values: Sequence[object]) -> None:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            out.append(f"duplicate {what} {v!r}")
        seen.add(v)
