"""Shared fixtures: running the real `gtool` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def gtool(tmp_path: Path) -> Run:
    """Run ``gtool ARGS`` as a user would: a separate process, no terminal, a clean environment."""

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("GF_")}
        base.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "gtool", *args],
            capture_output=True,
            text=True,
            env=base,
            cwd=cwd or tmp_path,
            timeout=60,
        )

    return run
