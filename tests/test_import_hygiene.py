"""`gtool saml …` runs in CI on every commit: it must never load the TUI, HTTP or server stacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FORBIDDEN = ("textual", "httpx", "rich", "starlette", "uvicorn")

PROBE = """
import sys
from gtool.cli import main
sys.argv = ["gtool", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
print("LOADED=" + ",".join(loaded), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["saml", "lint", "grafana.ini"],
        ["saml", "lint", "grafana.ini", "--format", "sarif"],
        ["saml", "config", "grafana.ini", "--format", "json"],
        ["saml", "rules"],
        ["saml", "inspect", "response.xml"],
        ["saml", "explain", "--config", "grafana.ini", "--attr", "groups=admins"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_saml_commands_load_no_heavy_stack(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "grafana.ini").write_text("[auth.saml]\nenabled = true\nrole_values_admin = a\n")
    (tmp_path / "response.xml").write_bytes((ROOT / "samples" / "assertions" / "okta-admin.xml").read_bytes())
    r = subprocess.run(
        [sys.executable, "-c", PROBE % (FORBIDDEN,), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("LOADED=")]
    assert line, r.stderr
    assert line[0] == "LOADED=", f"{' '.join(args)} imported {line[0][7:]}"


def test_the_core_below_the_tui_never_loads_textual() -> None:
    """Dependencies point one way (tui -> access -> grafana): the use cases and the client must work in a
    script or the CLI without Textual, and must not reach back into gtool.tui."""
    code = (
        "import pkgutil, importlib, sys, gtool.access, gtool.grafana\n"
        "for pkg in (gtool.access, gtool.grafana):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'{pkg.__name__}.{m.name}')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual' or m.startswith('gtool.tui')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
