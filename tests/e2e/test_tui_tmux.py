"""`gtool demo` in a real terminal (tmux), driven as a person would: it starts a sandbox and the app, finds a
user, changes their role, and quits cleanly, leaving no process behind.

Everything else about the TUI is tested with Pilot (tests/tui); this is the one test that goes through a
real pseudo-terminal, the console script, the demo's own sandbox process and its shutdown.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

GTOOL = str(Path(sys.executable).with_name("gtool"))
TIMEOUT = 30.0


class Terminal:
    """One tmux session running one command in a 100x30 window."""

    def __init__(self, name: str, command: str, env: dict[str, str]) -> None:
        self.name = name
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        # the trailing shell keeps the pane (and what the app printed on exit) readable after the app ends
        shell = f"cd {ROOT} && env {exports} {command}; echo GTOOL-EXITED-$?; sleep 60"
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "100", "-y", "30", shell], check=True)

    def screen(self) -> str:
        out = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return out.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = TIMEOUT) -> str:
        test = (lambda s: what in s) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if test(shown):
                return shown
            time.sleep(0.1)
        raise AssertionError(f"never saw {what!r} on the screen:\n{self.screen()}")

    def pane_pid(self) -> int:
        out = subprocess.run(
            ["tmux", "display-message", "-p", "-t", self.name, "#{pane_pid}"], capture_output=True, text=True
        )
        return int(out.stdout.strip())

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc, no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[[str], Terminal]]:
    assert shutil.which("tmux"), "tmux is needed for the terminal test (apt install tmux)"
    made: list[Terminal] = []

    def make(command: str) -> Terminal:
        env = {"XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
        term = Terminal(f"gtool-test-{os.getpid()}-{len(made)}", command, env)
        made.append(term)
        return term

    yield make
    for term in made:
        term.close()


def role_of(url: str, login: str) -> str | None:
    answer = httpx.get(
        f"{url}/api/orgs/1/users/search", params={"query": login}, auth=("admin", "admin"), timeout=10
    )
    answer.raise_for_status()
    return next((m["role"] for m in answer.json()["orgUsers"] if m["login"] == login), None)


def test_demo_finds_a_user_changes_a_role_and_quits_cleanly(terminal: Callable[[str], Terminal]) -> None:
    term = terminal(f"{GTOOL} demo")
    shown = term.wait_for("all users · 1–17 of 17")
    port = re.search(r"127\.0\.0\.1:(\d+)", shown)
    assert port, shown
    url = f"http://127.0.0.1:{port.group(1)}"
    running = descendants(term.pane_pid())
    assert running, "the demo should run a sandbox process below the app"
    assert role_of(url, "new.hire") == "Viewer"

    term.keys("/")
    term.type("new.hire")
    term.wait_for("1–1 of 1")
    term.keys("Enter")  # run the search, back to the rows
    term.keys("Enter")  # open the user
    term.wait_for("User new.hire")
    term.keys("r")
    term.wait_for("already had it")  # the modal opens on the current role, planned
    term.keys("Right")  # Viewer -> Editor
    term.wait_for(lambda s: "PATCH /api/orgs/1/users/" in s and '{"role":"Editor"}' in s)
    term.keys("y")
    term.wait_for(lambda s: "Change role" not in s)
    deadline = time.monotonic() + TIMEOUT
    while role_of(url, "new.hire") != "Editor":
        assert time.monotonic() < deadline, "the role never changed on the server"
        time.sleep(0.1)
    term.wait_for(lambda s: re.search(r"Main Org\.\s+Editor", s) is not None)  # read back on screen

    term.keys("Escape")
    term.wait_for("all users")
    term.keys("q")
    term.wait_for("GTOOL-EXITED-0")
    deadline = time.monotonic() + 15
    while left := [pid for pid in running if alive(pid)]:
        assert time.monotonic() < deadline, f"processes left behind: {left}"
        time.sleep(0.1)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/api/health", timeout=2)  # the demo's sandbox is gone
