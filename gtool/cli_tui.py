"""`gtool tui` and `gtool demo`: the terminal app, on a real Grafana or on a sandbox started for it.

Textual is imported only inside these commands, so every other command starts without it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gtool.cli_access import EXIT_USAGE, Exit, Opts, _connection, _handled, die

if TYPE_CHECKING:  # Textual loads only when the app runs; process handling only for the demo
    import subprocess

    from gtool.tui.session import Session

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
DEMO_SEED = SAMPLES / "sandbox-seed.toml"
DEMO_CONFIG = SAMPLES / "okta" / "grafana.ini"
START_TIMEOUT = 60.0  # a 100,000-user sandbox takes a few seconds to seed


def register(main: click.Group) -> None:
    main.add_command(tui)
    main.add_command(demo)


def _has_target(opts: Opts) -> bool:
    """True when a profile, --url or GRAFANA_URL says where to connect (else the connect screen asks)."""
    from gtool import profiles

    if opts.profile or opts.url or os.environ.get("GRAFANA_URL"):
        return True
    try:
        return profiles.load().default is not None
    except profiles.ProfileError:
        return True  # let resolve() report the broken file with its line


def _run_app(
    session: Session | None, *, saml_config: Path | None, read_only: bool, audit: Path | None
) -> None:
    from gtool.tui.app import GtoolApp

    app = GtoolApp(session, saml_config=saml_config, read_only=read_only, audit_path=audit)
    app.run()


@click.command()
@click.option("--profile", metavar="NAME", help="Profile to connect with (default: the file's default).")
@click.option("--url", metavar="URL", help="Grafana base URL (with GRAFANA_USER/PASSWORD or GRAFANA_TOKEN).")
@click.option(
    "--user", "as_user", metavar="LOGIN", help="Basic-auth login; the password comes from GRAFANA_PASSWORD."
)
@click.option("--ca-bundle", type=click.Path(dir_okay=False), help="CA certificates to verify Grafana with.")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (shown in the app).")
@click.option("--read-only", is_flag=True, help="Browse only: every write is hidden and refused.")
@click.option(
    "--saml-config",
    type=click.Path(dir_okay=False, exists=True),
    help="grafana.ini whose [auth.saml] the SAML tools and the drift view start from.",
)
@click.option("--audit", type=click.Path(dir_okay=False), help="Audit log file (default: XDG state dir).")
def tui(
    profile: str | None,
    url: str | None,
    as_user: str | None,
    ca_bundle: str | None,
    insecure: bool,
    read_only: bool,
    saml_config: str | None,
    audit: str | None,
) -> None:
    """Open the terminal app: find users, see their orgs and roles, and change them safely.

    With a profile (or GRAFANA_URL and a credential) it connects at once; with neither it opens a
    connect screen that can also save a profile. Every change is shown as before → after with the
    exact HTTP call, and sent only after you confirm.

    \b
    Examples:
      gtool tui --profile prod --read-only
      GRAFANA_URL=https://grafana.example.com GRAFANA_USER=admin GRAFANA_PASSWORD=… gtool tui
      gtool demo        # the same app on a local sandbox with sample data
    """
    from gtool.tui.session import Session

    opts = Opts(profile, url, as_user, None, False, False, ca_bundle, insecure)
    session = None
    if _has_target(opts):
        with _handled():
            session = Session.open(_connection(opts), read_only=read_only)
    _run_app(
        session,
        saml_config=Path(saml_config) if saml_config else None,
        read_only=read_only,
        audit=Path(audit) if audit else None,
    )


# --- the demo --------------------------------------------------------------------------------------------


@dataclass
class Sandbox:
    url: str
    user: str
    password: str
    process: subprocess.Popen[str]


def _read_banner(process: subprocess.Popen[str], timeout: float) -> tuple[str, str, str]:
    """The URL and admin credentials the sandbox prints when it listens (see gtool/sandbox/server.py).

    Its banner also lists tokens: nothing of it is echoed on failure, the log (--log) says why.
    """
    import threading

    found: dict[str, str] = {}

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if "listening on " in line:
                found["url"] = line.split("listening on ", 1)[1].strip()
            if "admin credentials: " in line:
                login, _, password = line.split("admin credentials: ", 1)[1].split()[:3]
                found["user"], found["password"] = login, password
            if "stop with Ctrl+C" in line:  # the banner's last line
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if "url" in found and "password" not in found:
        raise Exit(EXIT_USAGE, "the seed starts a Grafana Cloud sandbox", "gtool demo needs `cloud = false`")
    if "password" not in found:
        raise Exit(1, "the demo sandbox did not start", "run it again with --log FILE to see why")
    return found["url"], found["user"], found["password"]


@contextmanager
def demo_sandbox(args: list[str], log: Path | None) -> Iterator[Sandbox]:
    """A sandbox process on a free loopback port, stopped (and waited for) however the app exits."""
    import signal
    import subprocess

    cmd = [sys.executable, "-m", "gtool", "sandbox", "--host", "127.0.0.1", "--port", "0", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GF_")}
    with open(log or os.devnull, "ab") as err:
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        url, user, password = _read_banner(process, START_TIMEOUT)
        yield Sandbox(url, user, password, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@click.command()
@click.option(
    "--seed",
    type=click.Path(dir_okay=False, exists=True),
    help="Sandbox seed TOML (default: samples/sandbox-seed.toml).",
)
@click.option("--users", type=int, help="Generate this many users instead of the seed (e.g. 100000).")
@click.option("--read-only", is_flag=True, help="Browse only: every write is hidden and refused.")
@click.option("--frozen-time", metavar="ISO8601", help="Stop the sandbox clock (for screenshots).")
@click.option(
    "--audit", type=click.Path(dir_okay=False), help="Audit log (default: XDG state dir, demo-audit.jsonl)."
)
@click.option("--log", type=click.Path(dir_okay=False), help="Write the sandbox's own log here.")
def demo(
    seed: str | None,
    users: int | None,
    read_only: bool,
    frozen_time: str | None,
    audit: str | None,
    log: str | None,
) -> None:
    """Open the terminal app on a local sandbox Grafana with sample data.

    Starts `gtool sandbox` on a free loopback port with samples/sandbox-seed.toml (an Okta SAML setup:
    synced users are locked, as in a real Grafana), connects as its admin, and stops the sandbox when
    you quit. Nothing outside the sandbox is changed; the demo's audit log is kept apart from yours.
    """
    from gtool.access.audit import default_path
    from gtool.profiles import Connection
    from gtool.tui.session import Session

    if seed and users:
        die(EXIT_USAGE, "give either --seed or --users, not both")
    args: list[str] = []
    if users:
        args += ["--users", str(users)]
    else:
        chosen = Path(seed) if seed else DEMO_SEED
        if not chosen.is_file():
            die(
                EXIT_USAGE,
                f"{chosen}: no such seed",
                "gtool demo needs the samples/ of a source checkout, or --seed",
            )
        args += ["--seed", str(chosen)]
    if frozen_time:
        args += ["--frozen-time", frozen_time]
    audit_path = Path(audit) if audit else default_path().with_name("demo-audit.jsonl")
    with _handled(), demo_sandbox(args, Path(log) if log else None) as sandbox:
        from gtool.grafana.auth import Secret

        conn = Connection(
            url=sandbox.url,
            auth_kind="basic",
            secret=Secret(sandbox.password),
            user=sandbox.user,
            profile="demo",
        )
        _run_app(
            Session.open(conn, read_only=read_only),
            saml_config=DEMO_CONFIG if DEMO_CONFIG.is_file() else None,
            read_only=read_only,
            audit=audit_path,
        )
