"""SSO settings for the sandbox: the SAML record as Grafana's ``ssosettings`` service builds it (§7.3).

* Storage and ini speak snake_case; the API speaks lowerCamel (``strcase.ToLowerCamel`` / ``ToSnake``).
* ``system`` settings come from the sandbox's own ``[auth.saml]`` (``loadSAMLSettings``: typed values,
  durations as Go ``time.Duration`` nanoseconds); a stored record wins key by key (``mergeSettings``),
  except that certificate / private key / IdP metadata keys are never filled in from the ini.
* Secrets (``IsSecretField``) are written as ``*********``; a PUT that sends ``*********`` keeps what was
  stored. ``auth.AuthSettings`` reads the same stored record through ``Store.get_sso_settings``, so what is
  saved here decides "SAML enabled / skip_org_role_sync" for externally synced users at once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gtool.saml.keys import SAML_KEYS
from gtool.sandbox.gojson import dumps
from gtool.sandbox.store import Store

REDACTED = "*********"  # setting.RedactedPassword
SAML = "saml"
_SECRET_PATTERNS = ("secret", "private", "certificate", "password", "client_key")
_NO_MERGE_PATTERNS = ("certificate", "private_key", "idp_metadata")
_CAMEL_TO_SNAKE = {spec.json_name: name for name, spec in SAML_KEYS.items()}
_UPPER = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class InvalidSettings(Exception):
    """A validator refused the settings; ``str(exc)`` is the public message."""


def is_secret_field(key: str) -> bool:
    """``IsSecretField`` on a snake_case key."""
    lowered = key.lower()
    return any(p in lowered for p in _SECRET_PATTERNS)


def to_camel(key: str) -> str:
    """``strcase.ToLowerCamel`` for snake_case keys."""
    spec = SAML_KEYS.get(key)
    if spec is not None:
        return spec.json_name
    head, *rest = key.split("_")
    return head.lower() + "".join(part[:1].upper() + part[1:] for part in rest)


def to_snake(key: str) -> str:
    """``strcase.ToSnake`` for camelCase keys."""
    known = _CAMEL_TO_SNAKE.get(key)
    if known is not None:
        return known
    return _UPPER.sub("_", key).replace("-", "_").replace(" ", "_").lower()


def _ini_value(config: Any, key: str) -> Any:
    """One key as ``loadSAMLSettings`` reads it (``MustBool``/``MustDuration`` fall back to the default)."""
    from gtool.saml.values import DurationError, parse_bool, parse_duration

    spec = SAML_KEYS[key]
    text: str = config.value("auth.saml", key) if config is not None else spec.default
    if spec.kind == "bool":
        parsed = parse_bool(text)
        return parsed if parsed is not None else parse_bool(spec.default) is True
    if spec.kind == "duration":
        try:
            seconds = parse_duration(text)
        except DurationError:
            seconds = parse_duration(spec.default)
        return round(seconds * 1_000_000_000)
    return text


def system_settings(config: Any) -> dict[str, Any]:
    """The SAML settings the sandbox's ini provides (``source: "system"``)."""
    return {key: _ini_value(config, key) for key in SAML_KEYS}


def stored(store: Store, provider: str) -> tuple[str, dict[str, Any]] | None:
    """(record id, snake_case settings) of a saved, not deleted record."""
    with store.transaction() as db:
        row = db.execute(
            "SELECT id, settings FROM sso_setting WHERE provider = ? AND is_deleted = 0", (provider,)
        ).fetchone()
    if row is None:
        return None
    settings: dict[str, Any] = json.loads(row[1])
    return str(row[0]), settings


def merge(db_settings: dict[str, Any], system: dict[str, Any]) -> dict[str, Any]:
    """``mergeSettings``: stored values, then system values for missing keys (never secrets' sources), and
    system values for stored ``*_url`` keys left empty.
    """
    merged = dict(db_settings)
    for key, value in system.items():
        if key not in merged:
            if not any(p in key for p in _NO_MERGE_PATTERNS):
                merged[key] = value
        elif key.endswith("_url") and merged[key] == "":
            merged[key] = value
    return merged


def provider_settings(store: Store, config: Any, provider: str = SAML) -> dict[str, Any]:
    """``models.SSOSettings`` with redacted secrets and camelCase keys, as GET answers it."""
    system = system_settings(config)
    record = stored(store, provider)
    if record is None:
        record_id, settings, source = "", system, "system"
    else:
        record_id, settings, source = record[0], merge(record[1], system), "database"
    shown = {
        to_camel(k): REDACTED if is_secret_field(k) and v not in ("", None) else v
        for k, v in settings.items()
    }
    return {"id": record_id, "provider": provider, "settings": _sorted(shown), "source": source}


def _sorted(values: dict[str, Any]) -> dict[str, Any]:
    # map[string]any: Go writes the keys sorted.
    return {k: values[k] for k in sorted(values)}


def etag(body: dict[str, Any]) -> str:
    """``generateFNVETag``: FNV-1 (64-bit) of the JSON, as 16 hex digits."""
    value = 0xCBF29CE484222325
    for byte in dumps(body):
        value = (value * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        value ^= byte
    return f"{value:016x}"


def restore_secrets(settings: dict[str, Any], store: Store, config: Any, provider: str = SAML) -> None:
    """Replace each ``*********`` with the stored value (else the system one): the client never saw it."""
    record = stored(store, provider)
    previous = record[1] if record else {}
    system = system_settings(config)
    for key, value in settings.items():
        if value == REDACTED and is_secret_field(key):
            settings[key] = previous.get(key, system.get(key, ""))


def validate_saml(settings: dict[str, Any]) -> None:
    """``RequireOnlyOne`` for IdP metadata, certificate and private key: exactly one of ``key``,
    ``key_path`` and ``key_url`` is present (by key, as the Go map lookup checks).
    """
    for key in ("idp_metadata", "certificate", "private_key"):
        present = sum(k in settings for k in (key, f"{key}_path", f"{key}_url"))
        if present == 0:
            raise InvalidSettings(f"No value for key `{key}` was provided")
        if present > 1:
            raise InvalidSettings(f"Too many options have been provided for the `{key}` key")
