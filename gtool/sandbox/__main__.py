"""``python -m gtool.sandbox``: start a sandbox (the ``gtool sandbox`` command calls the same ``serve``)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gtool.sandbox", description="A Grafana-compatible server for demos and tests."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=3000, help="port (0: any free port; default 3000)")
    parser.add_argument("--db", help="SQLite file that keeps the state across restarts (default: memory)")
    parser.add_argument("--config", help="the sandbox's grafana.ini (auth providers, admin account)")
    parser.add_argument("--seed", help="TOML description of orgs, users, teams, service accounts")
    parser.add_argument("--cloud", action="store_true", default=None, help="behave as a Grafana Cloud stack")
    parser.add_argument("--grafana-version", dest="version", help="version to report (default 11.5.2)")
    parser.add_argument(
        "--frozen-time",
        metavar="ISO8601",
        help="stop the clock at this time (relative seed times count from it): for screenshots and tests",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default: warning)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from gtool.sandbox.seed import SeedError
    from gtool.sandbox.server import serve

    try:
        frozen = frozen_time(args.frozen_time)
        return serve(
            host=args.host,
            port=args.port,
            db=args.db,
            config=args.config,
            seed=args.seed,
            cloud=args.cloud,
            version=args.version,
            log_level=args.log_level,
            frozen_time=frozen,
        )
    except ValueError as exc:
        print(f"gtool sandbox: --frozen-time: {exc}", file=sys.stderr)
    except SeedError as exc:
        print(f"gtool sandbox: {exc.message} ({exc.hint})", file=sys.stderr)
    except OSError as exc:
        print(f"gtool sandbox: {exc.strerror or exc}", file=sys.stderr)
    except sqlite3.Error as exc:
        print(f"gtool sandbox: database {args.db}: {exc}", file=sys.stderr)
    return 2


def frozen_time(text: str | None) -> float | None:
    """``--frozen-time`` as a Unix time; an ISO time without a zone is refused rather than guessed."""
    if text is None:
        return None
    import datetime as dt

    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; write e.g. 2026-01-15T12:00:00Z")
    return when.timestamp()


if __name__ == "__main__":
    sys.exit(main())
