"""Child process of `bench_tui`: drive the real app headless against a sandbox and print timings.

Prints one line per figure (``first-rows``, ``keystroke MS``, ``page MS``, ``rss MB``) as soon as it is
known, so the parent can time "start to first rows" from its own clock, interpreter start-up included.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

from textual.widgets import DataTable

from gtool.grafana.auth import Secret
from gtool.profiles import Connection
from gtool.tui.app import GtoolApp
from gtool.tui.screens.users import UsersScreen
from gtool.tui.session import Session


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def until(predicate: Any, timeout: float = 30) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the screen never got there")
        await asyncio.sleep(0.002)


async def main(url: str, user: str, password: str) -> None:
    conn = Connection(url=url, auth_kind="basic", secret=Secret(password), user=user)
    app = GtoolApp(Session.open(conn))
    async with app.run_test(size=(120, 40)) as pilot:

        def users() -> UsersScreen | None:
            return app.screen if isinstance(app.screen, UsersScreen) else None

        await until(lambda: users() is not None and users().page is not None)  # type: ignore[union-attr]
        print("first-rows", flush=True)
        screen = users()
        assert screen is not None
        table = screen.query_one("#users", DataTable)
        await app.workers.wait_for_complete()

        keystrokes = []
        for word in ("smith", "ann", "maria", "zzzz", "e"):
            await pilot.press("slash", "ctrl+u", *word[:-1])
            await pilot.pause(0.3)
            await app.workers.wait_for_complete()
            start = time.perf_counter()
            await pilot.press(word[-1])
            await until(
                lambda w=word: (
                    screen.page is not None
                    and screen.query_.text == w
                    and not any(wk.group == "users" and not wk.is_finished for wk in app.workers)
                )
            )
            keystrokes.append(time.perf_counter() - start)
            print(f"keystroke {word!r} {keystrokes[-1] * 1000:.0f} rows={table.row_count}", flush=True)
        print(f"keystroke-median {statistics.median(keystrokes) * 1000:.0f}", flush=True)

        await pilot.press("ctrl+u", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        turns = []
        for _ in range(20):
            before = screen.page
            start = time.perf_counter()
            await pilot.press("right_square_bracket")
            await until(lambda b=before: screen.page is not b)
            turns.append(time.perf_counter() - start)
            await app.workers.wait_for_complete()  # the orgs column fills in too
        print(f"page-median {statistics.median(turns) * 1000:.0f} rows={table.row_count}", flush=True)
        print(f"rss {rss_mb():.0f}", flush=True)
        await app.session.aclose()  # type: ignore[union-attr]


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
