"""What a rule sees: the linted file, the effective settings, the options, and helpers to point at lines."""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gtool.saml import ini
from gtool.saml.keys import SAML
from gtool.saml.lint.registry import Severity
from gtool.saml.settings import GrafanaConfig, Setting
from gtool.saml.values import Version as Version  # re-exported: lint users import it from here

if TYPE_CHECKING:  # assertion mode types only: plain lint runs never load the model
    from gtool.saml.assertion import Response
    from gtool.saml.orgmapping import Org, Team


@dataclass(frozen=True)
class Finding:
    """What a rule yields; the runner turns it into a :class:`~gtool.saml.lint.diagnostic.Diagnostic`."""

    message: str
    hint: str
    target: Setting | ini.IniKey | tuple[str, int, int] | None = None
    severity: Severity | None = None  # overrides the rule's default (ERROR/WARN rules like CERT-004)
    key: str | None = None
    section: str | None = None
    at_value: bool = False


@dataclass
class LintContext:
    file: ini.IniFile  # the custom file being linted
    config: GrafanaConfig
    grafana_version: Version | None = None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    fetch_metadata: builtins.bool = False
    homepath: Path | None = None  # relative *_path values resolve here, as from Grafana's working dir
    assertion: Response | None = None  # assertion mode: the message being checked against the config
    assertion_path: str | None = None  # where it came from, for locating findings
    teams: list[Team] | None = None
    orgs: list[Org] | None = None
    _file_cache: dict[str, bytes | OSError] = field(default_factory=dict)

    # -- settings ------------------------------------------------------------------------------------
    def setting(self, key: str, section: str = SAML) -> Setting | None:
        """The effective setting when some layer set it (``None`` when only Grafana's default applies)."""
        return self.config.get(section, key)

    def value(self, key: str, section: str = SAML) -> str:
        return self.config.value(section, key)

    def is_set(self, key: str, section: str = SAML) -> builtins.bool:
        """Some layer gives the key a value. A ``${VAR}`` that this shell cannot resolve counts as set when
        no ``--env-file`` describes the Grafana host: its environment is unknown here, not empty."""
        s = self.config.get(section, key)
        if s is None or s.source.kind == "default":
            return False
        if s.value != "":
            return True
        unknown_env = any(e.provider == "env" and not e.resolved for e in s.expansions)
        return unknown_env and not self.config.env_is_snapshot

    def bool(self, key: str) -> builtins.bool:
        return self.config.saml_bool(key)

    @property
    def enabled(self) -> builtins.bool:
        return self.config.saml_bool("enabled")

    @property
    def saml_section(self) -> ini.IniSection | None:
        return self.file.section(SAML)

    def version_at_least(self, version: str) -> builtins.bool | None:
        """``None`` when no ``--grafana-version`` was given."""
        if self.grafana_version is None:
            return None
        return self.grafana_version >= Version.parse(version)

    # -- files named by the configuration -------------------------------------------------------------
    def resolve(self, path_value: str) -> Path:
        p = Path(path_value)
        if p.is_absolute() or self.homepath is None:
            return p
        return self.homepath / p

    def read_bytes(self, path_value: str, limit: int = 4 * 1024 * 1024) -> bytes:
        """Read a file a ``*_path`` key names (cached); raises ``OSError`` with a readable message."""
        p = self.resolve(path_value)
        key = str(p)
        if key not in self._file_cache:
            try:
                if p.is_dir():
                    raise IsADirectoryError(21, "is a directory", key)
                with p.open("rb") as fh:
                    data = fh.read(limit + 1)
                if len(data) > limit:
                    raise OSError(27, f"larger than {limit // (1024 * 1024)} MiB", key)
                self._file_cache[key] = data
            except OSError as exc:
                self._file_cache[key] = exc
        cached = self._file_cache[key]
        if isinstance(cached, OSError):
            raise cached
        return cached

    # -- findings ------------------------------------------------------------------------------------
    def at(
        self,
        target: Setting | ini.IniKey | tuple[str, int, int] | None,
        message: str,
        hint: str,
        *,
        severity: Severity | None = None,
        at_value: builtins.bool = False,
    ) -> Finding:
        key = section = None
        if isinstance(target, Setting):
            key, section = target.key, target.section
        elif isinstance(target, ini.IniKey):
            key, section = target.name, target.section
        return Finding(message, hint, target, severity, key, section, at_value)
