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
from typing import Any

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


def make_response(target_bytes: int) -> bytes:
    """A realistic Okta-style Response grown with group values until it is about ``target_bytes``."""
    head = (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" '
        'IssueInstant="2026-06-01T12:00:00Z" Destination="https://grafana.example.com/saml/acs">'
        "<saml:Issuer>http://www.okta.com/exk1demo0000000000</saml:Issuer>"
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        '<saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-06-01T12:00:00Z">'
        "<saml:Issuer>http://www.okta.com/exk1demo0000000000</saml:Issuer>"
        '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        "alice@example.com</saml:NameID></saml:Subject>"
        '<saml:Conditions NotBefore="2026-06-01T11:59:30Z" NotOnOrAfter="2026-06-01T12:05:00Z">'
        "<saml:AudienceRestriction><saml:Audience>https://grafana.example.com/saml/metadata</saml:Audience>"
        "</saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement>"
    )
    attrs = "".join(
        f'<saml:Attribute Name="{n}"><saml:AttributeValue>{v}</saml:AttributeValue></saml:Attribute>'
        for n, v in (
            ("email", "alice@example.com"),
            ("firstName", "Alice"),
            ("lastName", "Doe"),
            ("department", "Data Science"),
        )
    )
    tail = "</saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"
    groups = ['<saml:Attribute Name="groups">', "<saml:AttributeValue>Grafana Admins</saml:AttributeValue>"]
    size = len(head) + len(attrs) + len(tail) + sum(map(len, groups))
    i = 0
    while size < target_bytes:
        value = f"<saml:AttributeValue>okta-group-{i:05d}-engineering</saml:AttributeValue>"
        groups.append(value)
        size += len(value)
        i += 1
    return (head + attrs + "".join(groups) + tail).encode()


def bench_explain(runs: int) -> None:
    from gtool.saml import assertion, ini, mapping, settings

    config = settings.load([ini.read_file(str(SAMPLE))], env={}, base_dir=SAMPLE.parent)
    goals = {5_000: 0.005, 200_000: 0.050}
    for size, goal in goals.items():
        xml = make_response(size)

        def once(xml: bytes = xml) -> float:
            start = time.perf_counter()
            response = assertion.parse(xml)
            first = response.assertion
            assert first is not None
            mapping.simulate(config, first.attributes)
            return time.perf_counter() - start

        elapsed = median_of(once, runs * 4)
        label = f"parse + explain, {len(xml) / 1000:.0f} KB assertion"
        report(label, f"{elapsed * 1000:.2f} ms", None, f"<= {goal * 1000:.0f} ms", elapsed <= goal)


def bench_sandbox(users: int) -> None:
    """Server-side figures of the sandbox, in-process (no network): seeding, and a 1,000-user page."""
    import gc
    import warnings

    from gtool.sandbox.app import create_app
    from gtool.sandbox.generate import generate
    from gtool.sandbox.store import Store

    start = time.perf_counter()
    seed = generate(users, 200, 2000)
    generated = time.perf_counter() - start
    store = Store(":memory:")
    start = time.perf_counter()
    store.load_seed(seed)
    loaded = time.perf_counter() - start
    seeding = generated + loaded
    label = f"seed {users:,} users (generate + load)"
    report(label, f"{seeding:.2f} s", None, "<= 10 s", seeding <= 10)
    print(f"  generate {generated:.2f} s, load {loaded:.2f} s")
    del seed
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's TestClient deprecation notes are not figures
        from starlette.testclient import TestClient

        client = TestClient(create_app(store))
    client.auth = ("admin", "admin")
    times = []
    for page in range(1, 21):
        begin = time.perf_counter()
        resp = client.get("/api/users/search", params={"perpage": 1000, "page": page})
        times.append(time.perf_counter() - begin)
        assert resp.status_code == 200 and len(resp.json()["users"]) == 1000
    median = statistics.median(times)
    report(
        "1,000-user page of /api/users/search", f"{median * 1000:.1f} ms", None, "<= 50 ms", median <= 0.05
    )
    bench_concurrent_patches(client)
    store.close()


def bench_concurrent_patches(client: Any) -> None:
    """200 role PATCHes from 16 threads at once on org 1's members; every final role is read back."""
    from concurrent.futures import ThreadPoolExecutor

    members = client.get("/api/orgs/1/users/search", params={"perpage": 300}).json()["orgUsers"]
    targets = [m for m in members if m["role"] != "Admin"][:200]
    roles = ["Viewer", "Editor", "None"]
    wanted = {m["userId"]: roles[i % 3] for i, m in enumerate(targets)}

    def patch(user_id: int) -> int:
        resp = client.patch(f"/api/orgs/1/users/{user_id}", json={"role": wanted[user_id]})
        return int(resp.status_code)

    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(patch, wanted))
    elapsed = time.perf_counter() - begin
    after = client.get("/api/orgs/1/users/search", params={"perpage": 100_000}).json()["orgUsers"]
    final = {m["userId"]: m["role"] for m in after}
    lost = sum(1 for uid, role in wanted.items() if final.get(uid) != role)
    refused = sum(1 for st in statuses if st != 200)
    ok = lost == 0 and refused == 0 and len(wanted) == 200
    report("200 concurrent role PATCHes", f"{elapsed:.2f} s", None, "none lost", ok)
    print(f"  {len(wanted)} sent, {refused} refused, {lost} lost after read-back")


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process ``pid`` has used so far, from /proc; None where there is no /proc."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, in ticks


def bench_inventory(
    users: int = 10_000, orgs: int = 20, latency_ms: float = 20, workers: int = 8, runs: int = 3
) -> None:
    """A full `inventory.collect` against a real sandbox process with injected latency, as a ratio to the
    latency bound: requests x latency / concurrency (what perfect overlap of the waits would cost). The
    median of `runs` inventories is reported, each one's CPU times measured around it.

    Alone: .venv/bin/python -c 'import sys; sys.path.insert(0, "bench"); import run; run.bench_inventory()'

    The waits are not all there is: the sandbox is one Python process, so its CPU time per request
    (SQLite and JSON for 1,000-row pages) adds up, and so does the client's (decoding the pages into
    models). The ratio is also given to the bound with the measured server time,
    requests x (latency + server time per request) / concurrency, and both CPU times are printed: a
    figure far above both bounds is the client's CPU or its scheduling, not the server's. The server's
    CPU time alone is a floor no client can beat (its requests do not overlap), so it is printed as a
    ratio to the latency bound too; on a 2-core machine the client's CPU competes with it.
    """
    import os
    import re
    import threading

    import httpx

    from gtool.access import inventory
    from gtool.grafana import BasicAuth, GrafanaClient

    class Counting(httpx.HTTPTransport):
        def __init__(self) -> None:
            super().__init__(limits=httpx.Limits(max_connections=64))
            self.requests = 0
            self._lock = threading.Lock()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            with self._lock:
                self.requests += 1
            return super().handle_request(request)

    cmd = [
        sys.executable,
        "-m",
        "gtool",
        "sandbox",
        "--port",
        "0",
        "--users",
        str(users),
        "--orgs",
        str(orgs),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GF_")}
    proc = subprocess.Popen(
        [*cmd, "--latency", f"{latency_ms:g}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=env,
    )
    elapsed: list[float] = []
    client_cpu: list[float] = []
    server_cpu: list[float] = []
    try:
        url = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if m := re.search(r"listening on (http://127\.0\.0\.1:\d+)", line):
                url = m.group(1)
                break
        if url is None:
            print("  the sandbox did not start; no figure")
            return
        transport = Counting()
        with GrafanaClient(url, BasicAuth("admin", "admin"), transport=transport, timeout=60) as client:
            client.capabilities()  # detected once per connection, as the CLI does before the inventory
            for _ in range(runs):
                transport.requests = 0
                server_before = cpu_seconds(proc.pid)
                client_before = time.process_time()
                start = time.perf_counter()
                inv = inventory.collect(client, workers=workers)
                elapsed.append(time.perf_counter() - start)
                client_cpu.append(time.process_time() - client_before)
                server_after = cpu_seconds(proc.pid)
                if server_before is not None and server_after is not None:
                    server_cpu.append(server_after - server_before)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    requests = transport.requests
    median = statistics.median(elapsed)
    bound = requests * latency_ms / 1000 / workers
    ratio = median / bound
    label = f"inventory {users:,} users x {orgs} orgs, {latency_ms:g} ms"
    report(label, f"{median:.2f} s", ratio, "<= 1.3x", ratio <= 1.3)
    print(
        f"  median of {runs} ({min(elapsed):.2f}-{max(elapsed):.2f} s); {requests} requests, {workers} "
        f"workers: {len(inv.users)} users, {len(inv.memberships)} memberships, {len(inv.teams)} teams"
    )
    if not server_cpu:
        print(f"  latency bound {bound:.2f} s ({ratio:.2f}x); no /proc here to measure the server's CPU time")
        return
    server = statistics.median(server_cpu)
    per_request = server / requests
    with_server = requests * (latency_ms / 1000 + per_request) / workers
    formula = f"{requests} x ({latency_ms:g} + {per_request * 1000:.1f} ms) / {workers}"
    print(
        f"  latency bound {bound:.2f} s ({ratio:.2f}x) | with server time {with_server:.2f} s "
        f"({median / with_server:.2f}x) = {formula}"
    )
    print(
        f"  CPU per inventory: sandbox {server:.2f} s = {server / bound:.2f}x the latency bound (one "
        f"process, its requests do not overlap: a floor for any client), "
        f"client {statistics.median(client_cpu):.2f} s"
    )


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
    print("gtool saml explain")
    bench_explain(runs)
    print("gtool sandbox")
    bench_sandbox(20_000 if args.quick else 100_000)
    print("gtool inventory")
    bench_inventory()
    print("gtool tui")
    from tui import bench_tui  # bench/tui.py: the terminal app on a 100,000-user sandbox

    bench_tui(20_000 if args.quick else 100_000, report)


if __name__ == "__main__":
    main()
