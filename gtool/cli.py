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
    from gtool.saml.ini import IniFile
    from gtool.saml.inputs import LoadedMessage
    from gtool.saml.lint import LintOptions
    from gtool.saml.mapping import Org, Team
    from gtool.saml.settings import GrafanaConfig
    from gtool.saml.values import Version
    from gtool.sandbox.seed import Seed

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
      gtool saml inspect login.har    show what a captured SAML response holds
      gtool saml explain --config grafana.ini --assertion login.har
                                      what would Grafana grant this user at login, and why?
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


_message_inputs = [
    click.option("--index", type=int, metavar="N", help="Which message of a HAR/trace to use (see --list)."),
    click.option(
        "--idp-cert",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="Verify signatures with this IdP certificate (PEM); only signed content is then used.",
    ),
    click.option(
        "--idp-metadata",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="Verify signatures with the signing certificates of this IdP metadata XML.",
    ),
    click.option(
        "--sp-key",
        type=click.Path(dir_okay=False),
        help="Decrypt an EncryptedAssertion with Grafana's SP private key (needs gtool[decrypt]).",
    ),
    click.option("--allow-sha1", is_flag=True, help="Accept RSA-SHA1 signatures (legacy) when verifying."),
]


def message_inputs(fn: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_message_inputs):
        fn = option(fn)
    return fn


def _load_message(
    source: str,
    index: int | None,
    idp_cert: Sequence[str],
    idp_metadata: Sequence[str],
    sp_key: str | None,
    allow_sha1: bool,
) -> LoadedMessage:
    from gtool.saml.inputs import InputError, load_message

    try:
        return load_message(
            source,
            index=index,
            idp_cert=idp_cert,
            idp_metadata=idp_metadata,
            sp_key=sp_key,
            allow_sha1=allow_sha1,
        )
    except InputError as exc:
        fail(exc.message, exc.hint)


def _load_teams_orgs(teams: str | None, orgs: str | None) -> tuple[list[Team] | None, list[Org] | None]:
    if teams is None and orgs is None:
        return None, None  # the common lint run: do not load the assertion/simulator modules at all
    from gtool.saml.inputs import InputError, load_orgs, load_teams

    try:
        return (load_teams(teams) if teams else None, load_orgs(orgs) if orgs else None)
    except InputError as exc:
        fail(exc.message, exc.hint)


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
@click.option(
    "--assertion",
    "assertion_input",
    metavar="INPUT",
    help="Also check a captured SAML response against each config (XML, base64, form body, HAR, trace, -).",
)
@click.option("--teams", type=click.Path(dir_okay=False), help="Existing teams (JSON) for team-sync checks.")
@click.option("--orgs", type=click.Path(dir_okay=False), help="Existing orgs (JSON) for org-name checks.")
@message_inputs
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
    assertion_input: str | None,
    teams: str | None,
    orgs: str | None,
    index: int | None,
    idp_cert: tuple[str, ...],
    idp_metadata: tuple[str, ...],
    sp_key: str | None,
    allow_sha1: bool,
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
      gtool saml lint grafana.ini --assertion login.har --now 2026-03-01T10:15:00Z
    Silence one finding with a comment on its line or the line above:  ; gtool: ignore[ROLE-002]

    \b
    Exit status: 0 no errors (warnings allowed unless --strict), 1 errors found (or any finding with
    --strict), 2 a path could not be read or the options are wrong.
    """
    from gtool.saml.lint import RuleCrash, expand_paths, lint_file
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
    opts.grafana_version = _version(grafana_version)
    if now:
        opts.now = _parse_now(now)
    if assertion_input is not None:
        loaded = _load_message(assertion_input, index, idp_cert, idp_metadata, sp_key, allow_sha1)
        opts.assertion, opts.assertion_path = loaded.response, loaded.source
    opts.teams, opts.orgs = _load_teams_orgs(teams, orgs)
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


def _version(text: str | None) -> Version | None:
    from gtool.saml.values import Version

    if not text:
        return None
    try:
        return Version.parse(text)
    except ValueError as exc:
        fail(str(exc))


def _load_config(config_path: str, opts: LintOptions) -> tuple[IniFile, GrafanaConfig]:
    """The one grafana.ini of explain/test, layered with the options' defaults, env and SSO record."""
    from gtool.saml import ini
    from gtool.saml.explain import read_config

    try:
        return read_config(config_path, opts)
    except ini.IniReadError as exc:
        fail(f"{exc.path}: {exc.message}", exc.hint)


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
@click.argument("source", metavar="INPUT")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--list", "list_only", is_flag=True, help="List the SAML messages the input holds, then stop.")
@click.option("--redact", is_flag=True, help="Mask NameID, emails and attribute values, for sharing.")
@click.option("--now", metavar="ISO8601", help="Show times relative to this moment instead of now.")
@message_inputs
def inspect(
    source: str,
    fmt: str,
    list_only: bool,
    redact: bool,
    now: str | None,
    index: int | None,
    idp_cert: tuple[str, ...],
    idp_metadata: tuple[str, ...],
    sp_key: str | None,
    allow_sha1: bool,
) -> None:
    """Show what is inside a captured SAML response: issuer, subject, validity, audience, signatures
    and every attribute with all its values (quoted, so stray whitespace shows).

    INPUT is a file or - for stdin, holding raw XML, base64, a form body (SAMLResponse=...), an
    HTTP-Redirect URL, a HAR file exported from the browser's devtools, or a SAML-tracer export.

    \b
    Examples:
      gtool saml inspect response.xml
      gtool saml inspect login.har --list
      gtool saml inspect login.har --index 3 --idp-metadata okta-metadata.xml
      pbpaste | gtool saml inspect - --redact
    """
    import json

    from gtool.saml import report
    from gtool.saml.inputs import InputError, list_messages

    if list_only:
        try:
            messages = list_messages(source)
        except InputError as exc:
            fail(exc.message, exc.hint)
        if fmt == "json":
            rows = [
                {
                    "index": i,
                    "parameter": m.parameter,
                    "form": m.form,
                    "origin": m.origin,
                    "bytes": len(m.xml),
                }
                for i, m in enumerate(messages)
            ]
            click.echo(json.dumps(rows, indent=2))
        else:
            for i, m in enumerate(messages):
                click.echo(f"{i:>3}  {m.parameter:<12}  {m.origin}")
        return
    loaded = _load_message(source, index, idp_cert, idp_metadata, sp_key, allow_sha1)
    if redact:
        from dataclasses import replace

        from gtool.saml.assertion import redact as redact_response

        loaded = replace(loaded, response=redact_response(loaded.response))
    when = _parse_now(now) if now else dt.datetime.now(dt.UTC)
    if fmt == "json":
        click.echo(json.dumps(report.to_json(loaded), indent=2, ensure_ascii=False))
    else:
        click.echo(report.to_text(loaded, when))


@saml.command()
@click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="The grafana.ini to use."
)
@click.option(
    "--assertion", "assertion_input", metavar="INPUT", help="A captured SAML response (as for inspect)."
)
@click.option(
    "--attr", "attrs", multiple=True, metavar="NAME=VALUE", help="An attribute instead of an assertion."
)
@click.option(
    "--orgs", type=click.Path(dir_okay=False), help='Existing orgs: JSON [{"id": 1, "name": "..."}].'
)
@click.option(
    "--teams",
    type=click.Path(dir_okay=False),
    help='Existing teams: JSON [{"id", "name", "orgId", "externalGroups": [...]}].',
)
@click.option("--now", metavar="ISO8601", help="Judge the assertion's validity window at this time.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--grafana-version", metavar="X.Y", help="Target Grafana version (version-dependent behaviour)."
)
@click.option(
    "--assume",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change a named assumption (see docs/explain.md), e.g. --assume trim-values=false.",
)
@click.option(
    "--user-exists/--new-user",
    default=None,
    help="Whether the user already exists in Grafana (decides sign-up); unknown by default.",
)
@message_inputs
@config_inputs
def explain(
    config_path: str,
    assertion_input: str | None,
    attrs: tuple[str, ...],
    orgs: str | None,
    teams: str | None,
    now: str | None,
    fmt: str,
    grafana_version: str | None,
    assume: tuple[str, ...],
    user_exists: bool | None,
    index: int | None,
    idp_cert: tuple[str, ...],
    idp_metadata: tuple[str, ...],
    sp_key: str | None,
    allow_sha1: bool,
    env_file: str | None,
    defaults: str | None,
    sso_settings: str | None,
    grafana_args: tuple[str, ...],
    homepath: str | None,
) -> None:
    """Simulate a SAML login: what would Grafana grant this user, and why?

    Reads the config as Grafana does and the attributes of a captured assertion (or --attr pairs),
    then applies role sync, org mapping, allowed_organizations, Grafana Admin sync and team sync.
    Every decision names the config key and line that caused it; every guess about closed-source
    Grafana Enterprise behaviour is a named assumption you can change with --assume.

    \b
    Examples:
      gtool saml explain --config grafana.ini --assertion login.har
      gtool saml explain --config grafana.ini --attr groups="Grafana Admins" --attr email=a@example.com
      gtool saml explain --config grafana.ini --assertion resp.xml --orgs orgs.json --format json
    """
    import json

    from gtool.saml.explain import assertion_attributes
    from gtool.saml.explain import explain as run_explain
    from gtool.saml.inputs import InputError, parse_attr_pairs
    from gtool.saml.mapping import AssumptionError, Assumptions

    if (assertion_input is None) == (not attrs):
        fail(
            "give either --assertion INPUT or one or more --attr NAME=VALUE", "see gtool saml explain --help"
        )
    opts = _lint_options(env_file, defaults, sso_settings, grafana_args, homepath)
    file, cfg = _load_config(config_path, opts)
    version = _version(grafana_version)
    try:
        assumptions = Assumptions.parse(list(assume))
    except AssumptionError as exc:
        fail(str(exc), "see docs/explain.md for the assumptions and their values")
    team_list, org_list = _load_teams_orgs(teams, orgs)
    loaded = None
    try:
        if assertion_input is not None:
            loaded = _load_message(assertion_input, index, idp_cert, idp_metadata, sp_key, allow_sha1)
            attributes = assertion_attributes(loaded)
        else:
            attributes = parse_attr_pairs(attrs)
    except InputError as exc:
        fail(exc.message, exc.hint)
    opts.grafana_version = version
    opts.now = _parse_now(now) if now else None
    opts.teams, opts.orgs = team_list, org_list
    result = run_explain(
        file, cfg, attributes, opts, loaded=loaded, assumptions=assumptions, user_exists=user_exists
    )
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo(result.outcome.to_text())
    if result.findings:
        click.echo("")
        click.echo(f"Configuration and assertion findings ({len(result.findings)}):")
        for d in result.findings:
            click.echo(f"  {d.path}:{d.line}:{d.column}: {d.code} [{d.slug}] {d.message}")


@saml.command("test")
@click.argument("cases", type=click.Path(dir_okay=False), metavar="CASES.toml")
@click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="The grafana.ini to test."
)
@click.option("--orgs", type=click.Path(dir_okay=False), help="Existing orgs (JSON), for org names and `*`.")
@click.option(
    "--teams", type=click.Path(dir_okay=False), help="Existing teams (JSON), for team expectations."
)
@click.option("--grafana-version", metavar="X.Y", help="Target Grafana version.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_inputs
def test_cases(
    cases: str,
    config_path: str,
    orgs: str | None,
    teams: str | None,
    grafana_version: str | None,
    fmt: str,
    env_file: str | None,
    defaults: str | None,
    sso_settings: str | None,
    grafana_args: tuple[str, ...],
    homepath: str | None,
) -> None:
    """Run mapping-policy tests: does each case's user get the roles, teams and access you expect?

    Each case in CASES.toml names attributes and the expected outcome; exit status 1 when any case
    fails, so a CI job can guard the role mapping. Format: docs/explain.md, example:
    samples/mapping-tests.toml.
    """
    import json

    from gtool.saml import policytest

    opts = _lint_options(env_file, defaults, sso_settings, grafana_args, homepath)
    _, cfg = _load_config(config_path, opts)
    version = _version(grafana_version)
    team_list, org_list = _load_teams_orgs(teams, orgs)
    try:
        results = policytest.run_cases(cases, cfg, orgs=org_list, teams=team_list, grafana_version=version)
    except policytest.CasesError as exc:
        fail(exc.message, exc.hint)
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    else:
        click.echo(policytest.to_text(results))
    if any(not r.passed for r in results):
        sys.exit(EXIT_FINDINGS)


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


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default)."
)
@click.option("--port", type=int, default=3000, show_default=True, help="Port; 0 picks a free one.")
@click.option("--db", type=click.Path(dir_okay=False), help="SQLite file keeping state across restarts.")
@click.option("--config", type=click.Path(dir_okay=False), help="The sandbox's grafana.ini (auth providers).")
@click.option(
    "--seed", type=click.Path(dir_okay=False), help="TOML seed: orgs, users, teams, service accounts."
)
@click.option("--cloud", is_flag=True, default=None, help="Behave as a Grafana Cloud stack.")
@click.option("--users", type=int, help="Generate this many users (deterministic) instead of --seed.")
@click.option("--orgs", type=int, default=20, show_default=True, help="With --users: how many orgs.")
@click.option("--teams", type=int, default=100, show_default=True, help="With --users: how many teams.")
@click.option("--latency", type=float, default=0, help="Added latency per request, in ms.")
@click.option("--jitter", type=float, default=0, help="Random +/- jitter on the latency, in ms.")
@click.option("--error-rate", type=float, default=0, help="Share of requests answered with a 5xx (0..1).")
@click.option(
    "--drop-rate", type=float, default=0, help="Share of connections dropped without answer (0..1)."
)
@click.option("--rate-limit", type=float, help="Requests per second before 429 with Retry-After.")
@click.option("--grafana-version", help="Version the sandbox reports (default 11.5.2).")
@click.option(
    "--frozen-time",
    metavar="ISO8601",
    help="Stop the clock at this time (relative seed times count from it): for screenshots and tests.",
)
def sandbox(
    host: str,
    port: int,
    db: str | None,
    config: str | None,
    seed: str | None,
    cloud: bool | None,
    users: int | None,
    orgs: int,
    teams: int,
    latency: float,
    jitter: float,
    error_rate: float,
    drop_rate: float,
    rate_limit: float | None,
    grafana_version: str | None,
    frozen_time: str | None,
) -> None:
    """Run a local Grafana-compatible server for demos and tests.

    It speaks the part of Grafana's HTTP API gtool uses, byte for byte where Grafana's contract is
    known, and prints its URL and credentials (admin / admin unless the seed says otherwise).
    Faults can be injected from the start with the flags below, and changed at runtime through
    /api/sandbox/faults (GET, PUT, PATCH, DELETE).

    \b
    Examples:
      gtool sandbox --seed samples/sandbox-seed.toml --config samples/okta/grafana.ini
      gtool sandbox --users 100000 --orgs 200 --port 0 --db /tmp/big.db
      gtool sandbox --seed samples/sandbox-seed.toml --latency 20 --error-rate 0.05
    """
    import sqlite3

    from gtool.sandbox.__main__ import frozen_time as parse_frozen
    from gtool.sandbox.faults import FaultConfig, FaultConfigError
    from gtool.sandbox.seed import SeedError
    from gtool.sandbox.server import serve

    try:
        frozen = parse_frozen(frozen_time)
    except ValueError as exc:
        fail(f"--frozen-time: {exc}")

    if users is not None and seed is not None:
        fail("give either --seed or --users, not both")
    try:
        faults = FaultConfig(
            latency_ms=latency,
            jitter_ms=jitter,
            error_rate=error_rate,
            drop_rate=drop_rate,
            rate_limit_rps=rate_limit,
        )
    except FaultConfigError as exc:
        fail(str(exc))
    source: Seed | str | None = seed
    if users is not None:
        from gtool.sandbox.generate import generate

        click.echo(f"Generating {users} users, {orgs} orgs, {teams} teams…", err=True)
        source = generate(users, orgs, teams)
    try:
        code = serve(
            host=host,
            port=port,
            db=db,
            config=config,
            seed=source,
            cloud=cloud,
            version=grafana_version,
            faults=faults,
            frozen_time=frozen,
        )
    except SeedError as exc:
        fail(exc.message, exc.hint)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", "pick another --port, or 0 for any")
    except sqlite3.Error as exc:
        fail(f"database {db}: {exc}")
    sys.exit(code)


__import__("gtool.cli_access").cli_access.register(main)  # the access commands (gtool/cli_access.py)
__import__("gtool.cli_tui").cli_tui.register(main)  # `gtool tui` and `gtool demo` (gtool/cli_tui.py)

if __name__ == "__main__":
    main()
