"""The keys of every screen, as a Markdown table for docs/tui-keys.md (`make docs`).

Read from the screens' own `BINDINGS`, as the footer and the help screen (`?`) read them, so the docs
cannot list a key the app does not have. A test checks the file is current.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from textual.binding import Binding, BindingType
from textual.keys import format_key

SCREENS = (
    ("Everywhere", "gtool.tui.app:GtoolApp"),
    ("Users (1)", "gtool.tui.screens.users:UsersScreen"),
    ("User detail", "gtool.tui.screens.user_detail:UserDetailScreen"),
    ("Change role / grant / revoke / Grafana Admin", "gtool.tui.screens.change_role:ChangeModal"),
    ("New user", "gtool.tui.screens.provision:CreateUserModal"),
    ("Deprovision", "gtool.tui.screens.deprovision:DeprovisionModal"),
    ("Orgs (2)", "gtool.tui.screens.orgs:OrgsScreen"),
    ("Org members", "gtool.tui.screens.org_members:OrgMembersScreen"),
    ("User × org matrix", "gtool.tui.screens.matrix:MatrixScreen"),
    ("SAML tools (3)", "gtool.tui.screens.saml_tools:SamlToolsScreen"),
    ("Audit log (4)", "gtool.tui.screens.audit:AuditScreen"),
    ("Connect", "gtool.tui.screens.connect:ConnectScreen"),
    ("Help (?)", "gtool.tui.screens.help:HelpScreen"),
)


def _bindings(path: str) -> Iterator[Binding]:
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    seen: set[str] = set()
    # own bindings first, then inherited ones the screen did not override (OrgMembersScreen < UsersScreen)
    for klass in cls.__mro__:
        if not klass.__module__.startswith("gtool."):
            continue  # Textual's own (tab, ctrl+c…) are the same everywhere and documented by Textual
        for item in klass.__dict__.get("BINDINGS", ()):
            binding = _as_binding(item)
            if binding.key not in seen:
                seen.add(binding.key)
                yield binding


def _as_binding(item: BindingType) -> Binding:
    if isinstance(item, Binding):
        return item
    key, action, *rest = item
    return Binding(key, action, rest[0] if rest else "")


def _keys(binding: Binding) -> str:
    return " ".join(f"`{format_key(k.strip())}`" for k in binding.key.split(","))


def markdown() -> str:
    lines = [
        "# gtool tui: keys",
        "",
        "Generated from the screens' bindings by `make docs` (gtool/tui/keymap.py); `?` in the app shows the",
        "same for the screen you are on. In read-only mode the keys that write are hidden and refused.",
        "",
    ]
    for title, path in SCREENS:
        rows = [b for b in _bindings(path) if b.description]
        if path.endswith(":GtoolApp"):
            from gtool.tui.app import GtoolApp

            palette = Binding(GtoolApp.COMMAND_PALETTE_BINDING, "command_palette", "Every action, by name")
            rows.append(palette)
        lines += [f"## {title}", "", "| key | does | id |", "|---|---|---|"]
        lines += [f"| {_keys(b)} | {b.description} | `{b.id or ''}` |" for b in rows]
        lines.append("")
    return "\n".join(lines)
