"""The effective settings Grafana would see: defaults, custom file(s), ``GF_*`` environment overrides,
``cfg:`` command-line properties, ``${VAR}``/``$__env{}``/``$__file{}`` expansion, then an SSO settings
record on top (saml-reference.md §5.2-5.4 and §6.2). Every value keeps where it came from.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gtool.saml import ini
from gtool.saml.keys import LIST_KEYS, SAML, SAML_KEYS, USERS, USERS_KEYS
from gtool.saml.values import SplitResult, parse_bool, split_string

# An excerpt of Grafana OSS conf/defaults.ini: the keys SAML depends on. OSS defaults.ini has no
# [auth.saml] section, which is why GF_AUTH_SAML_* overrides only reach keys the custom file sets.
BUILTIN_DEFAULTS = """\
[server]
protocol = http
domain = localhost
http_port = 3000
root_url = %(protocol)s://%(domain)s:%(http_port)s/
serve_from_sub_path = false

[security]
cookie_secure = false
cookie_samesite = lax
content_security_policy = false
content_security_policy_template = \"\"\"script-src 'self' 'unsafe-eval' 'unsafe-inline' 'strict-dynamic' $NONCE;object-src 'none';font-src 'self';style-src 'self' 'unsafe-inline' blob:;img-src * data:;base-uri 'self';connect-src 'self' grafana.com ws://$ROOT_PATH wss://$ROOT_PATH;manifest-src 'self';media-src 'none';form-action 'self';\"\"\"

[users]
allow_sign_up = false
auto_assign_org = true
auto_assign_org_id = 1
auto_assign_org_role = Viewer

[auth.generic_oauth]
auto_login = false

[auth.google]
auto_login = false

[auth.github]
auto_login = false

[auth.gitlab]
auto_login = false

[auth.azuread]
auto_login = false

[auth.okta]
auto_login = false

[auth.grafana_com]
auto_login = false
"""  # noqa: E501

SSO_SECRET_MASK = "*********"


@dataclass(frozen=True)
class Source:
    """Where an effective value came from."""

    kind: str  # file | default | env | cli | sso-settings
    path: str | None = None
    line: int | None = None
    column: int | None = None
    name: str | None = None  # env var name or cfg: argument

    def __str__(self) -> str:
        if self.kind == "file":
            return f"{self.path}:{self.line}"
        if self.kind == "default":
            return "default" if self.path is None else f"{self.path}:{self.line}"
        if self.kind == "env":
            return f"env:{self.name}"
        if self.kind == "cli":
            return f"cli:{self.name}"
        return self.kind


@dataclass(frozen=True)
class Expansion:
    """One ``${…}``/``$__provider{…}`` reference met while expanding a value."""

    text: str
    provider: str  # env | file | vault | other
    argument: str
    resolved: bool
    problem: str | None = None


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    value: str  # what Grafana reads, after expansion and %(x)s interpolation
    source: Source
    written: ini.IniKey | None = None  # the file line that set the value, when a file did
    before_expansion: str | None = None
    expansions: tuple[Expansion, ...] = ()
    redacted: bool = False  # an SSO settings secret sent back as *********

    @property
    def items(self) -> SplitResult:
        return split_string(self.value)


@dataclass(frozen=True)
class SsoRecord:
    """An SSO settings record for SAML, as ``GET /api/v1/sso-settings/saml`` returns it."""

    path: str
    source: str  # database | system
    settings: dict[str, str]  # snake_case key -> Go-style string value
    unknown: tuple[str, ...] = ()


def _hostname() -> str:
    import socket  # only for $HOSTNAME fallback; keeps the common path's imports small

    return socket.gethostname()


@functools.lru_cache(maxsize=1)
def builtin_defaults() -> ini.IniFile:
    """The built-in defaults excerpt, parsed once per process (callers must not modify it)."""
    return ini.parse_text(BUILTIN_DEFAULTS, "<defaults.ini>")


class SettingsError(Exception):
    """An input beside the ini (env file, SSO JSON, cfg: argument) is unusable; says what to do."""

    def __init__(self, path: str, message: str, hint: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.hint = hint


def env_key(section: str, key: str) -> str:
    """Grafana ``EnvKey``: dots and dashes of the section, and dots of the key, become underscores."""
    sn = section.replace(".", "_").upper().replace("-", "_")
    return f"GF_{sn}_{key.replace('.', '_').upper()}"


def read_env_file(path: str) -> dict[str, str]:
    """An environment snapshot: ``KEY=VALUE`` lines as ``env`` prints them (values literal, quotes kept).

    ``export KEY=VALUE`` is accepted; blank lines and ``#`` lines are skipped.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SettingsError(path, exc.strerror or str(exc), "check the --env-file path") from None
    env: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[7:].lstrip()
        name, sep, value = stripped.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SettingsError(
                f"{path}:{n}", f"not a NAME=VALUE line: {line[:60]!r}", "fix or remove the line"
            )
        env[name] = value
    return env


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _go_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def read_sso_settings(path: str) -> SsoRecord:
    """Read an SSO settings document: the object ``GET /api/v1/sso-settings/saml`` returns, the list that
    ``GET /api/v1/sso-settings`` returns (the ``saml`` entry is taken), or a bare ``settings`` object.
    """
    try:
        raw = Path(path).read_text(encoding="utf-8")
        doc = json.loads(raw)
    except OSError as exc:
        raise SettingsError(path, exc.strerror or str(exc), "check the --sso-settings path") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SettingsError(
            path, f"not JSON: {exc}", "save the output of GET /api/v1/sso-settings/saml"
        ) from None
    if isinstance(doc, list):
        found = [d for d in doc if isinstance(d, dict) and d.get("provider") == "saml"]
        if not found:
            raise SettingsError(
                path, 'the list holds no provider "saml"', "is SAML configured on that instance?"
            )
        doc = found[0]
    if not isinstance(doc, dict):
        raise SettingsError(
            path, "expected a JSON object", "save the output of GET /api/v1/sso-settings/saml"
        )
    if "settings" in doc and isinstance(doc["settings"], dict):
        source = str(doc.get("source") or "database")
        body = doc["settings"]
    else:
        source, body = "database", doc
    settings: dict[str, str] = {}
    unknown = []
    for name, value in body.items():
        snake = _camel_to_snake(str(name))
        if snake not in SAML_KEYS:
            unknown.append(str(name))
        settings[snake] = _go_string(value)
    return SsoRecord(path, source, settings, tuple(unknown))


_EXPANSION = re.compile(r"\$(|__\w+){([^}]+)}", re.ASCII)  # Go's \w is ASCII-only


def _expand(value: str, env: Mapping[str, str], base: Path | None) -> tuple[str, tuple[Expansion, ...]]:
    """Grafana ``expandConfig``: the env provider (``${X}``, ``$__env{X}``), then ``$__file{path}``.

    Unknown providers (``$__saml{…}``, Enterprise ``$__vault{…}``) are left as written.
    """
    seen: list[Expansion] = []

    def env_sub(m: re.Match[str]) -> str:
        provider, arg = m.group(1), m.group(2)
        if provider not in ("", "__env"):
            return m.group(0)
        if arg == "HOSTNAME" and not env.get(arg):  # envExpander: an unset or empty HOSTNAME is os.Hostname()
            seen.append(Expansion(m.group(0), "env", arg, True))
            return _hostname()
        if arg in env:
            seen.append(Expansion(m.group(0), "env", arg, True))
            return env[arg]
        seen.append(Expansion(m.group(0), "env", arg, False, f"environment variable {arg} is not set"))
        return ""

    def file_sub(m: re.Match[str]) -> str:
        provider, arg = m.group(1), m.group(2)
        if provider != "__file":
            if provider not in ("", "__env"):
                kind = "vault" if provider == "__vault" else "other"
                seen.append(Expansion(m.group(0), kind, arg, False))
            return m.group(0)
        p = Path(arg)
        if not p.is_absolute() and base is not None:
            p = base / p
        try:
            content = p.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            seen.append(
                Expansion(m.group(0), "file", arg, False, f"cannot read {arg}: {exc.strerror or exc}")
            )
            return m.group(0)
        seen.append(Expansion(m.group(0), "file", arg, True))
        return content.strip()

    if "$" not in value:
        return value, ()
    value = _EXPANSION.sub(env_sub, value)
    value = _EXPANSION.sub(file_sub, value)
    return value, tuple(seen)


@dataclass
class GrafanaConfig:
    """The effective configuration, key by key, with provenance."""

    files: list[ini.IniFile]
    settings: dict[tuple[str, str], Setting]
    env: Mapping[str, str]
    env_is_snapshot: bool
    sso: SsoRecord | None = None
    unused_env: list[str] = field(default_factory=list)  # GF_AUTH_SAML_* that matched no key
    cli_args: list[str] = field(default_factory=list)

    def get(self, section: str, key: str) -> Setting | None:
        return self.settings.get((section, key))

    def value(self, section: str, key: str) -> str:
        s = self.settings.get((section, key))
        if s is not None:
            return s.value
        spec = SAML_KEYS.get(key) if section == SAML else USERS_KEYS.get(key) if section == USERS else None
        return spec.default if spec else ""

    def saml(self, key: str) -> str:
        return self.value(SAML, key)

    def saml_setting(self, key: str) -> Setting | None:
        return self.get(SAML, key)

    def saml_bool(self, key: str) -> bool:
        """``MustBool``: an unparseable value falls back to the key's default, silently, as in Grafana."""
        parsed = parse_bool(self.saml(key))
        return parsed if parsed is not None else parse_bool(SAML_KEYS[key].default) is True

    def saml_list(self, key: str) -> tuple[str, ...]:
        return split_string(self.saml(key)).items

    def section_keys(self, section: str) -> list[Setting]:
        return [s for (sec, _), s in self.settings.items() if sec == section]

    @property
    def custom_files(self) -> list[ini.IniFile]:
        return [f for f in self.files if not f.path.startswith("<")]

    @property
    def sso_overrides(self) -> bool:
        return self.sso is not None and self.sso.source == "database"


def load(
    custom: Iterable[ini.IniFile],
    *,
    defaults: ini.IniFile | None = None,
    env: Mapping[str, str] | None = None,
    cli_args: Iterable[str] = (),
    sso: SsoRecord | None = None,
    base_dir: Path | None = None,
) -> GrafanaConfig:
    """Layer the inputs as Grafana's ``Cfg.loadConfiguration`` does, then merge an SSO record."""
    env_is_snapshot = env is not None
    environ: Mapping[str, str] = env if env is not None else os.environ
    base = defaults if defaults is not None else builtin_defaults()
    custom_files = list(custom)
    merged: dict[tuple[str, str], Setting] = {}
    for sec in base.sections.values():
        for dkey in sec.keys.values():
            where = Source(
                "default", None if base.path.startswith("<") else base.path, dkey.line, dkey.column
            )
            merged[(sec.name, dkey.name)] = Setting(sec.name, dkey.name, dkey.value, where, dkey)
    args = list(cli_args)
    props = _cli_props(args)
    # applyCommandLineDefaultProperties: only keys defaults.ini has, matched as "default.<section>.<key>".
    for (section, key), setting in list(merged.items()):
        prop = props.get(f"default.{section}.{key}")
        if prop is not None:
            merged[(section, key)] = Setting(
                section, key, prop[1], Source("cli", name=prop[0]), setting.written
            )
    for f in custom_files:
        for sec in f.sections.values():
            for written in sec.keys.values():
                # loadSpecifiedConfigFile skips empty values: a custom file cannot blank a default.
                if written.value == "":
                    continue
                merged[(sec.name, written.name)] = Setting(
                    sec.name,
                    written.name,
                    written.value,
                    Source("file", f.path, written.line, written.column),
                    written,
                )
    # applyEnvVariableOverrides: only keys that exist by now, only non-empty values.
    for (section, key), setting in list(merged.items()):
        name = env_key(section, key)
        if environ.get(name):
            merged[(section, key)] = Setting(
                section, key, environ[name], Source("env", name=name), setting.written
            )
    known = {env_key(SAML, k) for (s, k) in merged if s == SAML}
    unused = sorted(n for n in environ if n.startswith("GF_AUTH_SAML_") and n not in known)
    # applyCommandLineProperties: existing keys only, matched as "<section>.<key>" ("<key>" in DEFAULT).
    for (section, key), setting in list(merged.items()):
        prop = props.get(key if section == ini.DEFAULT_SECTION else f"{section}.{key}")
        if prop is not None:
            merged[(section, key)] = Setting(
                section, key, prop[1], Source("cli", name=prop[0]), setting.written
            )
    lookup: dict[str, dict[str, str]] = {}
    for (section, key), setting in merged.items():
        lookup.setdefault(section, {})[key] = setting.value
    final: dict[tuple[str, str], Setting] = {}
    for (section, key), setting in merged.items():
        expanded, seen = _expand(setting.value, environ, base_dir)
        lookup[section][key] = expanded
        final[(section, key)] = Setting(
            section, key, expanded, setting.source, setting.written, setting.value, seen
        )
    for (section, key), setting in final.items():
        value = ini.interpolate(section, key, setting.value, lookup)
        if value != setting.value:
            final[(section, key)] = Setting(
                section,
                key,
                value,
                setting.source,
                setting.written,
                setting.before_expansion,
                setting.expansions,
            )
    if sso is not None and sso.source == "database":
        final = _merge_sso(final, sso)
    return GrafanaConfig([base, *custom_files], final, environ, env_is_snapshot, sso, unused, args)


def _cli_props(args: Iterable[str]) -> dict[str, tuple[str, str]]:
    """``getCommandLineProperties``: ``cfg:<target>=<value>`` -> {target: (argument, value)}, last one wins.

    An argument whose value holds another ``=`` makes Grafana exit ("Invalid command line argument."); it is
    left out here and reported by CTX-006.
    """
    props: dict[str, tuple[str, str]] = {}
    for arg in args:
        if not arg.startswith("cfg:"):
            continue
        parts = arg[4:].split("=")
        if len(parts) == 2:
            props[parts[0]] = (arg, parts[1])
    return props


def _merge_sso(settings: dict[tuple[str, str], Setting], sso: SsoRecord) -> dict[tuple[str, str], Setting]:
    """``mergeSettings``: the record wins; missing keys come from the ini except certificate, private_key
    and idp_metadata keys, which the record owns even when it leaves them out; an empty ``*_url`` in the
    record is replaced by the ini value.
    """
    out = {k: v for k, v in settings.items() if k[0] != SAML}
    ini_saml = {k: v for (s, k), v in settings.items() if s == SAML}
    for key, value in sso.settings.items():
        if key.endswith("_url") and value == "" and key in ini_saml:
            out[(SAML, key)] = ini_saml[key]
            continue
        out[(SAML, key)] = Setting(
            SAML, key, value, Source("sso-settings", path=sso.path), redacted=value == SSO_SECRET_MASK
        )
    for key, setting in ini_saml.items():
        if key in sso.settings:
            continue
        if any(part in key for part in ("certificate", "private_key", "idp_metadata")):
            continue
        out[(SAML, key)] = setting
    return out


def is_list_key(key: str) -> bool:
    return key in LIST_KEYS
