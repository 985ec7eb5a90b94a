"""Connection profiles: ``$XDG_CONFIG_HOME/gtool/config.toml`` (default ``~/.config/gtool/config.toml``).

A profile names a Grafana (URL, TLS settings, default org, read-only flag) and *where* its secret lives,
never the secret itself::

    default = "prod"

    [profiles.prod]
    url = "https://grafana.example.com/grafana/"
    auth = "token"
    secret = "env:GRAFANA_PROD_TOKEN"      # or command:…, keyring:service/user, file:/path (0600)
    read_only = true

The file is edited with tomlkit, so comments and key order written by the user survive `add` and
`remove`; every write goes to a 0600 temporary file that is renamed over the old one, so a failed write
leaves the old file as it was. `resolve` turns a profile (plus the ``GRAFANA_*`` environment overrides,
see `resolve`) into a `Connection` whose secret is a `Secret`. Nothing here prints: warnings are returned.
See docs/profiles.md.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shlex
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError
from tomlkit.items import Table

from gtool.grafana.auth import Auth, Secret, TokenAuth, basic_or_api_key
from gtool.grafana.errors import ConfigurationError

ProfileAuth = Literal["basic", "token"]

SECRET_SCHEMES = ("env", "command", "keyring", "file")
COMMAND_TIMEOUT = 30.0
ENV_OVERRIDES = ("GRAFANA_URL", "GRAFANA_TOKEN", "GRAFANA_USER", "GRAFANA_PASSWORD")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KEYS = ("url", "auth", "user", "secret", "ca_bundle", "insecure", "read_only", "default_org")
_REFERENCE_HINT = (
    'store a reference instead: secret = "env:VAR" (an environment variable), '
    '"command:pass show grafana/prod" (a command printing it), "keyring:service/user" (the system keyring) '
    'or "file:/path" (a 0600 file)'
)


class ProfileError(Exception):
    """A problem with the profile file or a profile; `hint` says what to do about it."""

    def __init__(
        self, message: str, hint: str = "", *, path: Path | None = None, line: int | None = None
    ) -> None:
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(where + message)


@dataclass(frozen=True)
class Profile:
    """One ``[profiles.NAME]`` table. `secret` is a reference (``env:…``), never a secret."""

    name: str
    url: str
    auth: ProfileAuth
    secret: str
    user: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    read_only: bool = False
    default_org: int | str | None = None

    def validate(self) -> None:
        """Raise `ProfileError` if this profile could not be used (or would store a secret)."""
        if not _NAME.match(self.name):
            raise ProfileError(
                f"invalid profile name {self.name!r}",
                "use letters, digits, '.', '_' and '-', starting with a letter or digit",
            )
        check_url(self.url)
        if self.auth not in ("basic", "token"):
            raise ProfileError(f"auth must be 'basic' or 'token', not {self.auth!r}")
        if self.auth == "basic" and not self.user:
            raise ProfileError("auth = 'basic' needs a user", 'add user = "admin" (the Grafana login)')
        if self.auth == "token" and self.user:
            raise ProfileError(
                "a token profile has no user",
                "remove user, or use auth = 'basic' (user \"api_key\" sends the token as basic auth)",
            )
        parse_reference(self.secret)
        if self.insecure and self.ca_bundle:
            raise ProfileError("ca_bundle and insecure = true contradict each other", "choose one")


@dataclass(frozen=True)
class ProfileFile:
    """What `load` read: the profiles in file order, the default profile name and any warnings."""

    path: Path
    profiles: dict[str, Profile]
    default: str | None = None
    warnings: list[str] = field(default_factory=list)
    exists: bool = True


@dataclass(frozen=True)
class Connection:
    """Everything needed to build a client; `secret` is resolved but stays masked until revealed.

    `sources` says where the URL and the credential came from (``profile prod``, ``GRAFANA_URL`` …) so
    ``gtool profile show`` can explain an override.
    """

    url: str
    auth_kind: ProfileAuth
    secret: Secret
    user: str | None = None
    profile: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    read_only: bool = False
    default_org: int | str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def credential(self) -> Auth:
        """The client credential (`BasicAuth`, `ApiKeyBasicAuth` for user ``api_key``, or `TokenAuth`)."""
        if self.auth_kind == "basic":
            return basic_or_api_key(self.user or "", self.secret)
        return TokenAuth(self.secret)

    @property
    def actor(self) -> str | None:
        """Who an audit record names: the basic-auth login, or "service account token"."""
        return self.user or ("service account token" if self.auth_kind == "token" else None)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``GrafanaClient(conn.url, **conn.client_kwargs())``.

        A `default_org` given by name is not passed: the caller looks it up (``org_id`` needs an id).
        """
        org = self.default_org if isinstance(self.default_org, int) else None
        return {
            "auth": self.credential(),
            "ca_bundle": self.ca_bundle,
            "insecure": self.insecure,
            "org_id": org,
        }


# --- paths -----------------------------------------------------------------------------------------------


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/gtool/config.toml``; a relative XDG_CONFIG_HOME is ignored, as the spec says."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "gtool" / "config.toml"


def _mode_warning(path: Path) -> str | None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return (
            f"{path} is readable or writable by group/others (mode {mode:04o}): it names where your Grafana "
            f"secrets are and which servers you administer; run: chmod 600 {path}"
        )
    return None


# --- reading ---------------------------------------------------------------------------------------------


def _line_of(text: str, name: str | None, key: str | None) -> int | None:
    """Best-effort line of ``[profiles.NAME]`` (and KEY inside it): tomlkit items do not carry positions."""
    lines = text.splitlines()
    start = 0
    if name is not None:
        header = re.compile(r"^\s*\[\s*profiles\s*\.\s*[\"']?" + re.escape(name) + r"[\"']?\s*\]")
        found = next((i for i, line in enumerate(lines) if header.match(line)), None)
        if found is None:
            return None
        start = found
        if key is None:
            return found + 1
    if key is None:
        return None
    assign = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
    for i in range(start, len(lines)):
        if i > start and name is not None and lines[i].lstrip().startswith("["):
            break
        if assign.match(lines[i]):
            return i + 1
    return None


def _parse(path: Path, text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        raise ProfileError(
            f"not valid TOML: {exc}", "fix the file by hand or move it aside", path=path, line=exc.line
        ) from None
    except TOMLKitError as exc:
        raise ProfileError(f"not valid TOML: {exc}", "fix the file by hand", path=path) from None


def _profile_from(name: str, table: Mapping[str, Any], path: Path, text: str) -> Profile:
    def fail(message: str, hint: str, key: str | None = None) -> ProfileError:
        return ProfileError(message, hint, path=path, line=_line_of(text, name, key))

    for key in table:
        if key not in _KEYS:
            if key in ("token", "password", "api_key", "key"):
                raise fail(
                    f"profile {name!r}: {key!r} would hold a secret in this file", _REFERENCE_HINT, key
                )
            raise fail(f"profile {name!r}: unknown key {key!r}", f"known keys: {', '.join(_KEYS)}", key)

    def get(key: str, types: tuple[type, ...], what: str, required: bool = False) -> Any:
        if key not in table:
            if required:
                raise fail(f"profile {name!r} has no {key!r}", f"add {key} = … to [profiles.{name}]")
            return None
        value = table[key]
        # bool is an int in Python: do not accept `default_org = true` as org 1.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            shown = type(value).__name__.lower()
            raise fail(
                f"profile {name!r}: {key} must be {what}, not {shown} {value!r}", f"write {key} = …", key
            )
        return value.unwrap() if hasattr(value, "unwrap") else value

    profile = Profile(
        name=name,
        url=get("url", (str,), "a string", required=True),
        auth=get("auth", (str,), "'basic' or 'token'", required=True),
        secret=get("secret", (str,), "a reference string", required=True),
        user=get("user", (str,), "a string"),
        ca_bundle=get("ca_bundle", (str,), "a path string"),
        insecure=bool(get("insecure", (bool,), "true or false")),
        read_only=bool(get("read_only", (bool,), "true or false")),
        default_org=get("default_org", (int, str), "an org id or an exact org name"),
    )
    try:
        profile.validate()
    except ProfileError as exc:
        raise ProfileError(
            f"profile {name!r}: {exc.message}", exc.hint, path=path, line=_line_of(text, name, None)
        ) from None
    return profile


def _read(path: Path) -> tuple[str, tomlkit.TOMLDocument]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "", tomlkit.document()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read the profile file: {exc}", path=path) from None
    return text, _parse(path, text)


def _profiles_table(doc: tomlkit.TOMLDocument, path: Path, text: str) -> Table | None:
    for key in doc:
        if key not in ("profiles", "default"):
            raise ProfileError(
                f"unknown top-level key {key!r}",
                'the file holds `default = "NAME"` and [profiles.NAME] tables',
                path=path,
                line=_line_of(text, None, key),
            )
    table = doc.get("profiles")
    if table is None:
        return None
    if not isinstance(table, Table):
        raise ProfileError(
            "profiles must be a table of [profiles.NAME] tables",
            path=path,
            line=_line_of(text, None, "profiles"),
        )
    return table


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> ProfileFile:
    """Read every profile; a missing file is an empty `ProfileFile` (``exists=False``), not an error."""
    path = path or default_path(environ)
    text, doc = _read(path)
    table = _profiles_table(doc, path, text)
    profiles: dict[str, Profile] = {}
    for name, value in (table or {}).items():
        if not isinstance(value, Table):
            raise ProfileError(
                f"profiles.{name} must be a table",
                f"write [profiles.{name}] with url, auth and secret below it",
                path=path,
                line=_line_of(text, None, name),
            )
        profiles[name] = _profile_from(name, value, path, text)
    default = doc.get("default")
    if default is not None and (not isinstance(default, str) or default not in profiles):
        raise ProfileError(
            f"default = {default!r} names no profile",
            f"profiles: {', '.join(profiles) or '(none)'}",
            path=path,
            line=_line_of(text, None, "default"),
        )
    exists = path.exists()
    warning = _mode_warning(path) if exists else None
    return ProfileFile(path, profiles, default, [warning] if warning else [], exists)


def get(name: str, path: Path | None = None) -> Profile:
    """The profile called `name`, or `ProfileError` listing the ones that exist."""
    loaded = load(path)
    if name not in loaded.profiles:
        known = ", ".join(loaded.profiles) or "none yet"
        raise ProfileError(
            f"no profile named {name!r}",
            f"profiles: {known}; add one with `gtool profile add`",
            path=loaded.path,
        )
    return loaded.profiles[name]


def list_profiles(path: Path | None = None) -> list[Profile]:
    """Every profile, in file order."""
    return list(load(path).profiles.values())


# --- writing ---------------------------------------------------------------------------------------------


def _write_atomic(path: Path, text: str) -> None:
    """Write a 0600 temp file next to `path`, fsync it, rename it over `path`: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _save(path: Path, doc: tomlkit.TOMLDocument) -> None:
    try:
        _write_atomic(path, tomlkit.dumps(doc))
    except OSError as exc:
        raise ProfileError(
            f"cannot write the profile file: {exc}", "the previous file was left unchanged", path=path
        ) from None


def _values(profile: Profile) -> Iterator[tuple[str, Any]]:
    yield "url", profile.url
    yield "auth", profile.auth
    yield "user", profile.user
    yield "secret", profile.secret
    yield "ca_bundle", profile.ca_bundle
    yield "insecure", profile.insecure or None
    yield "read_only", profile.read_only or None
    yield "default_org", profile.default_org


def add(profile: Profile, overwrite: bool = False, path: Path | None = None) -> list[str]:
    """Add (or with `overwrite`, update in place) a profile; returns warnings.

    Refuses a literal secret (`ProfileError` saying how to reference it) and, without `overwrite`, an
    existing name. Comments and other profiles in the file are kept as they were.
    """
    path = path or default_path()
    profile.validate()
    loaded = load(path)  # refuse to rewrite a file that is already broken: the user would lose it
    _, doc = _read(path)
    if profile.name in loaded.profiles and not overwrite:
        raise ProfileError(
            f"a profile named {profile.name!r} already exists",
            "choose another name, or overwrite it explicitly",
            path=path,
        )
    if "profiles" not in doc:
        doc["profiles"] = tomlkit.table(is_super_table=True)
    profiles = cast(Table, doc["profiles"])
    if profile.name not in profiles:
        profiles[profile.name] = tomlkit.table()
    table = cast(Table, profiles[profile.name])
    for key, value in _values(profile):
        if value is None:
            if key in table:
                del table[key]
        elif key not in table or table[key] != value:
            table[key] = value
    _save(path, doc)
    return [w for w in [_mode_warning(path)] if w]


def remove(name: str, path: Path | None = None) -> None:
    """Delete a profile (and `default` if it named it); `ProfileError` if there is no such profile."""
    path = path or default_path()
    get(name, path)
    _, doc = _read(path)
    del cast(Table, doc["profiles"])[name]
    if doc.get("default") == name:
        del doc["default"]
    _save(path, doc)


def set_default(name: str | None, path: Path | None = None) -> None:
    """Make `name` the profile used when none is given (None: no default)."""
    path = path or default_path()
    if name is not None:
        get(name, path)
    _, doc = _read(path)
    if name is None:
        doc.pop("default", None)
    else:
        doc["default"] = name  # tomlkit places a new plain key before the first table, where it belongs
    _save(path, doc)


# --- secret references -----------------------------------------------------------------------------------


def parse_reference(ref: str) -> tuple[str, str]:
    """``("env", "GRAFANA_TOKEN")`` from ``env:GRAFANA_TOKEN``; `ProfileError` for a literal secret."""
    scheme, sep, rest = ref.partition(":")
    if not sep or scheme not in SECRET_SCHEMES:
        # do not echo it: it may well be the secret itself
        raise ProfileError("the secret must be a reference, not the secret itself", _REFERENCE_HINT)
    rest = rest.strip()
    if not rest:
        raise ProfileError(f"{scheme}: reference with nothing after it", _REFERENCE_HINT)
    if scheme == "env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rest):
        raise ProfileError(f"env:{rest} is not an environment variable name", "e.g. env:GRAFANA_TOKEN")
    if scheme == "keyring" and not re.fullmatch(r".+/[^/]+", rest):
        raise ProfileError(f"keyring:{rest} needs a service and a user", "e.g. keyring:grafana-prod/admin")
    if scheme == "command":
        try:
            argv = shlex.split(rest)
        except ValueError as exc:
            raise ProfileError(f"cannot split the command: {exc}", "check the quotes in it") from None
        if not argv:
            raise ProfileError("command: reference with no command", _REFERENCE_HINT)
    return scheme, rest


def _from_env(name: str, environ: Mapping[str, str]) -> str:
    value = environ.get(name, "")
    if not value:
        raise ProfileError(f"environment variable {name} is not set (secret env:{name})", f"export {name}=…")
    return value


def _from_command(command: str, timeout: float) -> str:
    argv = shlex.split(command)
    try:
        # no shell: the reference is data from a file, not a script to interpret
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise ProfileError(
            f"secret command not found: {argv[0]!r}", "check the command: PATH or a full path"
        ) from None
    except subprocess.TimeoutExpired:
        raise ProfileError(
            f"secret command {argv[0]!r} did not finish within {timeout:g} s",
            "does it wait for a passphrase or a touch? unlock the store first",
        ) from None
    except OSError as exc:
        raise ProfileError(f"cannot run secret command {argv[0]!r}: {exc}") from None
    if done.returncode != 0:
        err = done.stderr.strip().splitlines()
        # The helper's own words help ("not in the password store"), but a broken helper may echo the
        # secret: long unbroken runs (tokens, base64, hex) are masked before anything is shown.
        last = f": {_LONG_RUN.sub('****', err[-1][:200])}" if err else ""
        raise ProfileError(
            f"secret command {argv[0]!r} failed with exit status {done.returncode}{last}",
            f"run it yourself to see why: {command}",
        )
    value = done.stdout.strip()
    if not value:
        raise ProfileError(f"secret command {argv[0]!r} printed nothing", f"run it yourself: {command}")
    return value


_LONG_RUN = re.compile(r"\S{20,}")


def _from_keyring(entry: str) -> str:
    service, _, user = entry.rpartition("/")
    try:
        # optional and untyped: most users reference env vars or commands
        keyring = importlib.import_module("keyring")
    except ImportError:
        raise ProfileError(
            f"keyring:{entry} needs the Python 'keyring' package, which is not installed",
            "install it into gtool's environment (pipx inject gtool keyring, or pip install keyring), "
            "or reference the secret another way (env:, command:, file:)",
        ) from None
    try:
        value = keyring.get_password(service, user)
    except Exception as exc:  # keyring backends raise their own types (no D-Bus, locked, …)
        raise ProfileError(
            f"keyring lookup {service!r}/{user!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    if not value:
        raise ProfileError(
            f"no keyring entry for service {service!r}, user {user!r}",
            f"store it: keyring set {shlex.quote(service)} {shlex.quote(user)}",
        )
    return str(value)


def _from_file(name: str) -> str:
    path = Path(name).expanduser()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ProfileError(f"cannot read secret file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ProfileError(
            f"secret file {path} is accessible by group/others (mode {mode:04o}); refusing to use it",
            f"chmod 600 {path}",
        )
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read secret file {path}: {exc}") from None
    if not value:
        raise ProfileError(f"secret file {path} is empty")
    return value


def resolve_secret(
    ref: str, environ: Mapping[str, str] | None = None, *, timeout: float = COMMAND_TIMEOUT
) -> Secret:
    """Fetch the secret a reference points at; `ProfileError` (never containing the secret) on failure."""
    scheme, rest = parse_reference(ref)
    env = os.environ if environ is None else environ
    if scheme == "env":
        return Secret(_from_env(rest, env))
    if scheme == "command":
        return Secret(_from_command(rest, timeout))
    if scheme == "keyring":
        return Secret(_from_keyring(rest))
    return Secret(_from_file(rest))


# --- resolving a connection ------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """The normalized base URL; `ProfileError` for a bad one or one that carries a password."""
    from gtool.grafana.base import normalize_base_url  # base pulls in no HTTP stack, only the helpers

    try:
        normalized, creds = normalize_base_url(url)
    except ConfigurationError as exc:
        raise ProfileError(str(exc), "e.g. https://grafana.example.com or https://host/grafana/") from None
    if creds is not None:
        raise ProfileError("the URL carries credentials", "remove user:password@ from it; " + _REFERENCE_HINT)
    return normalized


def resolve(
    name: str | None = None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
    *,
    timeout: float = COMMAND_TIMEOUT,
) -> Connection:
    """A ready `Connection` for profile `name` (None: the file's `default`, or the environment alone).

    Precedence, highest first, for one run:

    1. ``GRAFANA_URL`` replaces the profile's URL.
    2. ``GRAFANA_TOKEN`` replaces the credential with that token (auth ``token``).
    3. ``GRAFANA_PASSWORD`` replaces the credential with basic auth as ``GRAFANA_USER`` (or the profile's
       user); ``GRAFANA_USER`` alone changes the login of a basic profile and keeps its secret.
    4. The profile's own settings; its secret reference is resolved only if no override replaced it.

    Setting both ``GRAFANA_TOKEN`` and ``GRAFANA_PASSWORD`` is an error (which one was meant?). Empty
    variables count as unset. TLS settings, read-only and default org always come from the profile.
    """
    env = os.environ if environ is None else environ
    over = {k: env.get(k, "") for k in ENV_OVERRIDES}
    loaded = load(path, env)
    name = name or loaded.default
    warnings = list(loaded.warnings)
    if name is not None:
        if name not in loaded.profiles:
            known = ", ".join(loaded.profiles) or "none yet"
            raise ProfileError(f"no profile named {name!r}", f"profiles: {known}", path=loaded.path)
        base: Profile | None = loaded.profiles[name]
    else:
        base = None
    if over["GRAFANA_TOKEN"] and over["GRAFANA_PASSWORD"]:
        raise ProfileError(
            "both GRAFANA_TOKEN and GRAFANA_PASSWORD are set", "unset the one you do not mean to use"
        )
    sources: dict[str, str] = {}
    origin = f"profile {name}" if name else ""
    if over["GRAFANA_URL"]:
        url, sources["url"] = check_url(over["GRAFANA_URL"]), "GRAFANA_URL"
    elif base is not None:
        url, sources["url"] = check_url(base.url), origin
    else:
        raise ProfileError(
            "no Grafana to talk to: no profile given, no default profile and GRAFANA_URL is not set",
            'use --profile NAME, set `default = "NAME"` in the profile file, or export GRAFANA_URL',
            path=loaded.path,
        )

    conn = _credential(base, over, env, timeout, origin, sources)
    if base is not None:
        conn = replace(
            conn,
            profile=base.name,
            ca_bundle=base.ca_bundle,
            insecure=base.insecure,
            read_only=base.read_only,
            default_org=base.default_org,
        )
        if base.insecure:
            warnings.append(f"profile {base.name!r} has insecure = true: TLS certificates are not verified")
    return replace(conn, url=url, sources=sources, warnings=warnings)


def _credential(
    base: Profile | None,
    over: dict[str, str],
    env: Mapping[str, str],
    timeout: float,
    origin: str,
    sources: dict[str, str],
) -> Connection:
    if over["GRAFANA_TOKEN"]:
        sources["credential"] = "GRAFANA_TOKEN"
        return Connection(url="", auth_kind="token", secret=Secret(over["GRAFANA_TOKEN"]))
    user = over["GRAFANA_USER"] or (base.user if base is not None and base.auth == "basic" else None)
    user_src = "GRAFANA_USER" if over["GRAFANA_USER"] else origin
    if over["GRAFANA_PASSWORD"]:
        if not user:
            raise ProfileError("GRAFANA_PASSWORD is set but no user is known", "export GRAFANA_USER=admin")
        sources["credential"] = f"GRAFANA_PASSWORD as user from {user_src}"
        return Connection(url="", auth_kind="basic", user=user, secret=Secret(over["GRAFANA_PASSWORD"]))
    if base is None:
        raise ProfileError(
            "GRAFANA_URL is set but no credential is",
            "export GRAFANA_TOKEN, or GRAFANA_USER and GRAFANA_PASSWORD, or use a profile",
        )
    if over["GRAFANA_USER"] and base.auth == "token":
        raise ProfileError(
            f"GRAFANA_USER is set but profile {base.name!r} uses a token",
            "export GRAFANA_PASSWORD too, or unset it",
        )
    secret = resolve_secret(base.secret, env, timeout=timeout)
    sources["credential"] = f"{origin} ({base.secret})"
    if base.auth == "basic":
        sources["credential"] += f" as user from {user_src}"
    return Connection(url="", auth_kind=base.auth, user=user, secret=secret)
