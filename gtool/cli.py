"""The ``gtool`` command line: parses arguments, calls the core, prints.

Exit codes: 0 success (lint: no error-level findings), 1 findings at error level (or any with --strict),
2 usage or I/O problems. Heavy modules are imported inside commands so ``gtool saml …`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from gtool import __version__

if TYPE_CHECKING:
    from gtool.saml.lint import LintOptions

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def fail(message: str, hint: str | None = None) -> NoReturn:
    """One line on stderr, no traceback, exit 2."""
    click.echo(f"gtool: {message}" + (f" ({hint})" if hint else ""), err=True)
    sys.exit(EXIT_USAGE)


def _codes(values: Sequence[str]) -> list[str] | None:
    out = [c.strip() for v in values for c in v.split(",") if c.strip()]
    return out or None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gtool")
def main() -> None:
    """gtool: Grafana access control from the terminal.

    \b
    Start here:
      gtool saml lint grafana.ini     lint a SAML configuration before you deploy it
      gtool saml config grafana.ini   show the [auth.saml] settings Grafana would really use
      gtool saml rules                list every lint rule; `gtool saml rules ROLE-006` explains one
    """


@main.group()
def saml() -> None:
    """SAML configuration and role-sync tools (offline: no network, no Grafana needed)."""


_config_inputs = [
    click.option(
        "--env-file",
        type=click.Path(dir_okay=False),
        help="Environment snapshot of the Grafana host (NAME=VALUE lines as `env` prints them; values "
        "literal). Used instead of this shell's environment for GF_* overrides and ${VAR} expansion.",
    ),
    click.option(
        "--defaults",
        type=click.Path(dir_okay=False),
        help="Grafana's conf/defaults.ini to layer under the file (default: the relevant excerpt built in).",
    ),
    click.option(
        "--sso-settings",
        type=click.Path(dir_okay=False),
        help="JSON from GET /api/v1/sso-settings/saml; a record stored in the database overrides the file.",
    ),
    click.option(
        "--grafana-arg",
        "grafana_args",
        multiple=True,
        metavar="cfg:SECTION.KEY=VALUE",
        help="A Grafana command-line property, as passed to grafana server (repeatable).",
    ),
    click.option(
        "--homepath",
        type=click.Path(file_okay=False),
        help="Resolve relative *_path and $__file{} paths here, as Grafana does from its working directory "
        "(default: the directory of each ini file).",
    ),
]


def config_inputs(fn: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_config_inputs):
        fn = option(fn)
    return fn


def _lint_options(
    env_file: str | None,
    defaults: str | None,
    sso_settings: str | None,
    grafana_args: Sequence[str],
    homepath: str | None,
) -> LintOptions:
    from gtool.saml import ini, settings
    from gtool.saml.lint import LintOptions

    opts = LintOptions(cli_args=list(grafana_args), homepath=Path(homepath) if homepath else None)
    try:
        if env_file:
            opts.env = settings.read_env_file(env_file)
        if sso_settings:
            opts.sso = settings.read_sso_settings(sso_settings)
        if defaults:
            opts.defaults = ini.read_file(defaults)
            if opts.defaults.errors:
                e = opts.defaults.errors[0]
                fail(f"{defaults}:{e.line}: {e.message}", "Grafana cannot parse this defaults.ini either")
    except (settings.SettingsError, ini.IniReadError) as exc:
        fail(f"{exc.path}: {exc.message}", exc.hint)
    return opts


@saml.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts, sarif for code scanning, github for workflow annotations.",
)
@click.option(
    "--select", multiple=True, metavar="CODES", help="Only these rules: codes, categories (ROLE) or slugs."
)
@click.option(
    "--ignore", multiple=True, metavar="CODES", help="Skip these rules: codes, categories or slugs."
)
@click.option("--strict", is_flag=True, help="Exit 1 on any finding, warnings and infos included.")
@click.option("--grafana-version", metavar="X.Y", help="Target Grafana version, for version-dependent rules.")
@click.option(
    "--fetch-metadata", is_flag=True, help="Download idp_metadata_url to check it (off by default)."
)
@click.option("--now", metavar="ISO8601", help="Check certificate expiry as of this time instead of now.")
@config_inputs
def lint(
    paths: tuple[str, ...],
    fmt: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    strict: bool,
    grafana_version: str | None,
    fetch_metadata: bool,
    now: str | None,
    env_file: str | None,
    defaults: str | None,
    sso_settings: str | None,
    grafana_args: tuple[str, ...],
    homepath: str | None,
) -> None:
    """Lint grafana.ini files for SAML problems Grafana would not tell you about.

    PATH is a grafana.ini file or a directory (every *.ini below it is linted). Grafana's own reading rules
    are applied: inline comments, quote stripping, GF_* overrides, ${VAR} expansion, SSO settings records.

    \b
    Examples:
      gtool saml lint /etc/grafana/grafana.ini
      gtool saml lint deploy/ --format github --grafana-version 11.5
      gtool saml lint grafana.ini --env-file prod.env --select ROLE,ORG --ignore ROLE-011
    Silence one finding with a comment on its line or the line above:  ; gtool: ignore[ROLE-002]

    \b
    Exit status: 0 no errors (warnings allowed unless --strict), 1 errors found (or any finding with
    --strict), 2 a path could not be read or the options are wrong.
    """
    from gtool.saml.lint import RuleCrash, Version, expand_paths, lint_file
    from gtool.saml.lint.registry import SelectionError
    from gtool.saml.lint.registry import select as select_rules
    from gtool.saml.lint.reporters import render, use_color

    opts = _lint_options(env_file, defaults, sso_settings, grafana_args, homepath)
    opts.select, opts.ignore = _codes(select), _codes(ignore)
    opts.fetch_metadata = fetch_metadata
    try:
        select_rules(opts.select, opts.ignore)
    except SelectionError as exc:
        fail(str(exc))
    if grafana_version:
        try:
            opts.grafana_version = Version.parse(grafana_version)
        except ValueError as exc:
            fail(str(exc))
    if now:
        opts.now = _parse_now(now)
    files, errors = expand_paths(paths)
    results = []
    for path in files:
        try:
            result = lint_file(path, opts)
        except RuleCrash as exc:
            fail(f"internal error: {exc}", "please report this with the file that caused it")
        if result.error is not None:
            errors.append(result.error)
        else:
            results.append(result)
    for e in errors:
        click.echo(f"gtool: {e.path}: {e.message} ({e.hint})", err=True)
    output = render(fmt, results, errors, color=fmt == "text" and use_color(sys.stdout.isatty()))
    if output:
        click.echo(output)
    if errors:
        sys.exit(EXIT_USAGE)
    worst = [d.severity for r in results for d in r.diagnostics]
    if "error" in worst or (strict and worst):
        sys.exit(EXIT_FINDINGS)


def _parse_now(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--now {text!r} is not an ISO 8601 time", "e.g. 2026-01-31T12:00:00Z")
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@saml.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_inputs
def config(
    files: tuple[str, ...],
    fmt: str,
    env_file: str | None,
    defaults: str | None,
    sso_settings: str | None,
    grafana_args: tuple[str, ...],
    homepath: str | None,
) -> None:
    """Show the effective [auth.saml] and [users] settings Grafana would use, and where each comes from.

    Several FILEs are layered in order, each like Grafana's custom file over the previous ones (later
    wins; empty values are skipped, as Grafana skips them). Secrets (private_key, client_secret) are never
    printed. JSON keys are section-qualified, e.g. "auth.saml.role_values_admin", with "value", "source"
    ("grafana.ini:12", "env:GF_…", "default", "sso-settings") and, for list keys, "items".
    """
    import json

    from gtool.saml import effective, ini, settings

    opts = _lint_options(env_file, defaults, sso_settings, grafana_args, homepath)
    parsed = []
    for f in files:
        try:
            parsed.append(ini.read_file(f))
        except ini.IniReadError as exc:
            fail(f"{exc.path}: {exc.message}", exc.hint)
    for p in parsed:
        for e in p.errors:
            click.echo(f"gtool: warning: {e.path}:{e.line}: Grafana would not start: {e.message}", err=True)
    base = opts.homepath or Path(files[-1]).parent
    cfg = settings.load(
        parsed, defaults=opts.defaults, env=opts.env, cli_args=opts.cli_args, sso=opts.sso, base_dir=base
    )
    described = effective.describe(cfg)
    if fmt == "json":
        click.echo(json.dumps(effective.to_json(described), indent=2, ensure_ascii=False))
    else:
        click.echo(effective.to_text(described))


@saml.command()
@click.argument("code", required=False)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
def rules(code: str | None, fmt: str) -> None:
    """List the lint rules, or explain one: `gtool saml rules ROLE-006` (a code or a slug)."""
    from gtool.saml.lint import docs
    from gtool.saml.lint.registry import get_rule

    listing = {"text": docs.table, "json": docs.to_json, "markdown": docs.markdown}[fmt]
    single = {"text": docs.text, "json": docs.to_json_one, "markdown": docs.markdown_one}[fmt]
    if code is None:
        click.echo(listing().rstrip("\n"))
        return
    found = get_rule(code)
    if found is None:
        fail(f"no rule {code!r}", "`gtool saml rules` lists every code and slug")
    click.echo(single(found).rstrip("\n"))


if __name__ == "__main__":
    main()
