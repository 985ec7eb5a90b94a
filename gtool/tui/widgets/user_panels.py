"""How a user's details read on screen: the profile, teams, sessions and "why is this locked?" panels,
as Textual `Content` (pure functions of `UserDetails`, so they are tested without an app).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual.content import Content

from gtool.access.details import UserDetails
from gtool.grafana.models import find_provider

if TYPE_CHECKING:
    from gtool.saml.settings import GrafanaConfig


# --- how it reads on screen ---------------------------------------------------------------------------------


def yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


WARN, ERROR, MUTED = "$text-warning bold", "$text-error", "$text-muted"  # theme variables: NO_COLOR-safe


class Writer:
    """Content built a piece at a time (`Content` itself is immutable)."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []

    def add(self, text: str, style: str = "") -> None:
        self.parts.append((text, style))

    def content(self) -> Content:
        content = Content.assemble(*self.parts)
        return content[:-1] if content.plain.endswith("\n") else content


def day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "—"


def profile_text(d: UserDetails) -> Content:
    p = d.profile
    provider = p.auth_labels[0] if p.auth_labels else None
    origin = "local (Grafana password)" if not provider else f"{provider} (external)"
    sync = f"on: {provider} sets org roles at login" if d.synced else "off (managed in Grafana)"
    admin = yes_no(d.grafana_admin)
    if p.is_grafana_admin_externally_synced:
        admin += f" (synced from {provider})"
    rows = [
        ("Login", p.login),
        ("Name", p.name or "—"),
        ("Email", p.email or "—"),
        ("Origin", origin),
        ("Role sync", sync),
        ("Grafana Admin", admin),
        ("Disabled", yes_no(p.is_disabled)),
        ("Created", day(d.created)),
        ("Updated", day(p.updated_at)),
        ("Last seen", d.last_seen or "?"),
    ]
    text = Writer()
    for i, (label, value) in enumerate(rows):
        text.add(f"{label:<14}", style="bold")
        style = WARN if label == "Role sync" and d.synced else ""
        style = ERROR if label == "Disabled" and p.is_disabled else style
        text.add(value, style=style)
        if i < len(rows) - 1:
            text.add("\n")
    return text.content()


def teams_text(d: UserDetails) -> Content:
    text = Writer()
    for team in d.teams:
        org = d.org_names.get(team.org_id, "")
        text.add(f"{team.name}", style="bold")
        text.add(f"  org {team.org_id} {org}".rstrip() + "\n")
    if not d.teams and not d.teams_note:
        text.add("In no team.\n", style=MUTED)
    if d.teams_note:
        text.add(d.teams_note, style=MUTED)
    return text.content()


def sessions_text(d: UserDetails) -> Content:
    if d.sessions is None:
        return Content.styled(f"Not shown: {d.sessions_note}", MUTED)
    if not d.sessions:
        return Content.styled("No active login session.", MUTED)
    text = Writer()
    for s in d.sessions:
        seen = s.seen_at.strftime("%Y-%m-%d %H:%M") if s.seen_at else "?"
        browser = " ".join(x for x in (s.browser, s.browser_version) if x) or "unknown browser"
        what = browser + (" on " + " ".join(x for x in (s.os, s.os_version) if x) if s.os else "")
        text.add(f"{what} · {s.client_ip or '?'} · seen {seen}" + (" · active" if s.is_active else "") + "\n")
    return text.content()


def locked_text(d: UserDetails, config_line: str | None) -> Content:
    """Why a synced user's role cannot be changed here, and where that is decided."""
    p = d.profile
    label = p.auth_labels[0] if p.auth_labels else None
    provider = find_provider(label)
    who = provider.label if provider else (label or "their login provider")
    text = Writer()
    text.add(f"{p.login} signs in through {who}, which sets their org roles at every login: ")
    text.add("Grafana refuses role changes here (403)", style="bold")
    text.add(" and a change made any other way is overwritten at the next login.\n")
    section = provider.ini_section if provider else "auth.<provider>"
    text.add("Key  ", style="bold")
    text.add(f"skip_org_role_sync in [{section}]\n")
    if config_line:
        text.add(f"     {config_line}\n", style=MUTED)
    text.add("Set it to true in one of:\n", style="bold")
    text.add(f" • grafana.ini [{section}]\n     skip_org_role_sync = true\n")
    if provider is not None:
        from gtool.saml.settings import env_key

        text.add(f" • env {env_key(section, 'skip_org_role_sync')}=true\n")
        if provider.sso_key:
            text.add(f" • Administration → Authentication → {provider.label}\n     → Skip org role sync\n")
    text.add("Or change the role in the identity provider.")
    if p.is_grafana_admin_externally_synced:
        text.add(f"\nGrafana Admin is synced from {who} too.")
    return text.content()


def load_saml_config(path: Path) -> GrafanaConfig:
    """The grafana.ini as Grafana layers it (built-in defaults, the file, ``GF_*`` of this process)."""
    from gtool.saml import ini, settings

    return settings.load([ini.read_file(str(path))], base_dir=path.parent)


def config_line(saml_config: Path, section: str) -> str | None:
    """What the known grafana.ini says about the key, e.g. ``grafana.ini:77 says false``."""
    from gtool.saml.ini import IniReadError

    try:
        setting = load_saml_config(saml_config).get(section, "skip_org_role_sync")
    except (IniReadError, OSError, ValueError):
        return None
    if setting is None:
        return None
    src = setting.source
    where = f"{Path(src.path).name}:{src.line}" if src.kind == "file" and src.path else str(src)
    return f"{where} says {setting.value or '(empty)'}"
