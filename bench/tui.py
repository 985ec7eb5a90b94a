"""The terminal app on a 100,000-user sandbox: start to first rows, keystroke to filtered rows, memory."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gtool.cli_tui import demo_sandbox  # noqa: E402  (after the path: bench/ is not a package)

Report = Callable[[str, str, "float | None", str, bool], None]


def bench_tui(users: int, report: Report) -> None:
    """`report(name, value, ratio, goal, ok)` is bench/run.py's printer."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with demo_sandbox(["--users", str(users), "--db", f"{tmp}/big.db"], Path(tmp) / "log") as sb:
            print(f"  sandbox with {users:,} users up in {time.perf_counter() - started:.1f} s")
            probe = [sys.executable, str(ROOT / "bench" / "tui_probe.py"), sb.url, sb.user, sb.password]
            errors = Path(tmp) / "probe.err"  # a file, not a pipe nobody drains while stdout is read
            start = time.perf_counter()
            with errors.open("w") as err:
                proc = subprocess.Popen(probe, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
                assert proc.stdout is not None
                figures: dict[str, float] = {}
                for line in proc.stdout:
                    word, _, rest = line.strip().partition(" ")
                    if word == "first-rows":
                        figures["first"] = time.perf_counter() - start
                    elif word in ("keystroke-median", "page-median", "rss"):
                        figures[word] = float(rest.split()[0])
                    elif word == "keystroke":
                        print(f"    keystroke {rest.strip()} ms")
                proc.wait(120)
            if proc.returncode != 0:
                print(f"  the probe failed: {errors.read_text()[-2000:]}")
                return
    first, key, rss = figures["first"], figures["keystroke-median"], figures["rss"]
    name = f"tui start to first rows ({users:,} users)"
    report(name, f"{first * 1000:.0f} ms", first, "<= 1 s", first <= 1.0)
    report("tui keystroke to filtered rows (median)", f"{key:.0f} ms", key / 300, "<= 300 ms", key <= 300)
    print(f"  page turn (]) median {figures['page-median']:.0f} ms, orgs column included")
    report("tui RSS after 20 pages", f"{rss:.0f} MB", rss / 250, "<= 250 MB", rss <= 250)
