"""The instance header: where you are, as whom, and whether writes are possible (k9s's context line)."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from gtool.grafana.capabilities import Capabilities


class InstanceHeader(Static):
    """URL, Grafana version, Cloud or self-hosted, identity, org in context, READ-ONLY, connection state."""

    DEFAULT_CSS = """
    InstanceHeader {
        dock: top;
        height: auto;
        max-height: 2;
        background: $primary-background;
        color: $text;
        padding: 0 1;
    }
    """

    def __init__(self, url: str, read_only: bool, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.url = url
        self.read_only = read_only
        self.caps: Capabilities | None = None
        self.lost: str = ""
        self.refresh_text()

    def show(self, caps: Capabilities | None = None, lost: str | None = None) -> None:
        if caps is not None:
            self.caps = caps
        if lost is not None:
            self.lost = lost
        self.refresh_text()

    def refresh_text(self) -> None:
        self.update(render_header(self.url, self.caps, self.read_only, self.lost))


def render_header(url: str, caps: Capabilities | None, read_only: bool, lost: str = "") -> str:
    """The header line as Textual markup."""
    shown = url.split("://", 1)[-1].rstrip(
        "/"
    )  # the scheme is noise in a one-line header; TLS is shown apart
    parts = [f"[b]{escape(shown)}[/b]"]
    if caps is not None:
        parts.append(f"Grafana {escape(caps.version)}" if caps.version else "Grafana (version hidden)")
        parts.append("Cloud" if caps.is_cloud else "self-hosted")
        who = caps.identity.login or str(caps.identity.id)
        kind = "service account " if caps.is_service_account else ""
        admin = " (Grafana Admin)" if caps.is_grafana_admin else ""
        parts.append(f"{kind}{escape(who)}{admin}")
        if caps.org_id is not None:
            org = f"org {caps.org_id}" + (f" {escape(caps.org_name)}" if caps.org_name else "")
            parts.append(f"{org}: {escape(caps.org_role or '?')}")
    else:
        parts.append("connecting…")
    text = " · ".join(parts)
    if read_only:
        text += "  [reverse] READ-ONLY [/reverse]"
    if lost:
        text += f"  [b red]connection lost: {escape(lost)} (retrying)[/b red]"
    return text
