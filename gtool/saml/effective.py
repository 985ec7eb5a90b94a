"""The effective-settings report behind ``gtool saml config``: every [auth.saml] and [users] key Grafana
reads, its value, where it came from, and for list keys the items ``util.SplitString`` makes of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gtool.saml.keys import LIST_KEYS, SAML, SAML_KEYS, USERS, USERS_KEYS, KeySpec
from gtool.saml.settings import GrafanaConfig

# Values that are secrets themselves; paths to them are not.
SECRET_VALUE_KEYS = frozenset({"private_key", "client_secret"})


@dataclass(frozen=True)
class EffectiveSetting:
    name: str  # section-qualified, e.g. auth.saml.role_values_admin
    value: str
    source: str
    items: tuple[str, ...] | None
    list_error: str | None
    known: bool
    redacted: bool
    note: str | None


def _shown(key: str, value: str) -> tuple[str, bool]:
    if key in SECRET_VALUE_KEYS and value:
        return f"<redacted, {len(value)} characters>", True
    if key == "certificate" and len(value) > 40:
        return f"{value[:24]}… ({len(value)} characters)", False
    return value, False


def describe(config: GrafanaConfig) -> list[EffectiveSetting]:
    out: list[EffectiveSetting] = []
    for section, catalogue in ((SAML, SAML_KEYS), (USERS, USERS_KEYS)):
        present = {s.key: s for s in config.section_keys(section)}
        names = list(catalogue) + sorted(k for k in present if k not in catalogue)
        for key in names:
            spec: KeySpec | None = catalogue.get(key)
            setting = present.get(key)
            raw = setting.value if setting else (spec.default if spec else "")
            source = str(setting.source) if setting else "default"
            value, redacted = _shown(key, raw)
            items = error = None
            if key in LIST_KEYS:
                split = setting.items if setting else None
                items = split.items if split else ()
                error = split.error if split else None
            note = None
            if spec and not setting and spec.doc_default and spec.doc_default != spec.default:
                note = f"Grafana's docs give {spec.doc_default!r} as the default"
            if setting and setting.redacted:
                note = "the SSO settings API returns this secret masked"
            if spec is None:
                note = "Grafana does not read this key"
            out.append(
                EffectiveSetting(
                    f"{section}.{key}", value, source, items, error, spec is not None, redacted, note
                )
            )
    return out


def to_json(settings: list[EffectiveSetting]) -> dict[str, object]:
    doc: dict[str, object] = {}
    for s in settings:
        entry: dict[str, object] = {"value": s.value, "source": s.source}
        if s.items is not None:
            entry["items"] = list(s.items)
        if s.list_error:
            entry["error"] = s.list_error
        if s.redacted:
            entry["redacted"] = True
        if not s.known:
            entry["known"] = False
        if s.note:
            entry["note"] = s.note
        doc[s.name] = entry
    return {"settings": doc}


def to_text(settings: list[EffectiveSetting]) -> str:
    lines: list[str] = []
    section = None
    width = max((len(s.name.rsplit(".", 1)[1]) for s in settings), default=10)
    for s in settings:
        sec, key = s.name.rsplit(".", 1)
        if sec != section:
            if section is not None:
                lines.append("")
            lines.append(f"[{sec}]")
            section = sec
        value = s.value if s.value != "" else '""'
        lines.append(f"  {key:<{width}} = {value}  ({s.source})")
        if s.items is not None and (s.items or s.value):
            lines.append(f"  {'':<{width}}   items: {list(s.items)}")
        if s.list_error:
            lines.append(f"  {'':<{width}}   Grafana reads no items: {s.list_error}")
        if s.note:
            lines.append(f"  {'':<{width}}   note: {s.note}")
    return "\n".join(lines)
