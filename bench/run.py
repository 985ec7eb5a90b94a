"""gtool benchmarks: print figures and ratios against their goals; never fail a run.

    make bench            # or: .venv/bin/python bench/run.py [--quick]

Each benchmark measures a whole process where start-up is what a user feels (a CI step running
`gtool saml lint`), and compares it to a baseline measured in the same run on the same machine, so the
ratio means something on a loaded 2-core CI box too.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "okta" / "grafana.ini"
# The console script users run (no runpy overhead of `python -m`).
GTOOL = str(Path(sys.executable).with_name("gtool"))


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def median_of(fn: Callable[[], float], runs: int) -> float:
    fn()  # warm the page cache and .pyc files
    return statistics.median(fn() for _ in range(runs))


def report(name: str, value: str, ratio: float | None, goal: str, ok: bool) -> None:
    verdict = "meets goal" if ok else "MISSES goal"
    ratio_text = f"  ratio {ratio:.2f}x" if ratio is not None else ""
    print(f"{name:<44} {value:>12}{ratio_text}  (goal {goal}: {verdict})")


def bench_lint_startup(runs: int) -> None:
    py = sys.executable
    base = median_of(lambda: timed([py, "-c", "import lxml.etree"]), runs)
    lint = median_of(lambda: timed([GTOOL, "saml", "lint", str(SAMPLE)], cwd=ROOT), runs)
    ratio = lint / base
    print(f"  baseline `python -c 'import lxml.etree'`: {base * 1000:.0f} ms (median of {runs})")
    report("one-file lint process (okta sample)", f"{lint * 1000:.0f} ms", ratio, "<= 2x", ratio <= 2.0)


def bench_thousand_files(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for sub in ("certs", "idp"):
            shutil.copytree(ROOT / "samples" / sub, root / sub)
        text = SAMPLE.read_text(encoding="utf-8").replace("../certs/", "certs/").replace("../idp/", "idp/")
        for i in range(count):
            (root / f"grafana-{i:04d}.ini").write_text(text, encoding="utf-8")
        elapsed = median_of(lambda: timed([GTOOL, "saml", "lint", str(root)], cwd=root), 3)
    per_file = elapsed / count * 1000
    report(f"{count} files in one call", f"{elapsed:.2f} s", None, "<= 2 s", elapsed <= 2.0)
    print(f"  {per_file:.2f} ms per file")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    print("gtool saml lint")
    bench_lint_startup(runs)
    bench_thousand_files(1000)


if __name__ == "__main__":
    main()
