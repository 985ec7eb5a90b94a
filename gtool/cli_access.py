"""``gtool whoami | users | orgs | role | admin | user | inventory | audit | profile``, ``gtool saml drift``.

Registered on the main group by ``register(main)``. Only click and the standard library are imported
here at import time: the client (httpx), profiles (tomlkit) and access modules are imported inside the
command bodies, so ``gtool saml …`` never pays for them.

Exit codes (also in ``gtool --help`` of each command and docs/cli.md)::

    0  success, including "already had it" / "already gone", and a --dry-run of a change that would go ahead
    1  a change was refused or failed: blocked before sending (synced user, read-only profile, …),
       refused by Grafana, failed, or its outcome is unknown; also a declined confirmation
    2  usage or input: bad options, unknown user/org/profile, no terminal to confirm on without --yes,
       an output file that already exists
    3  connection or authentication: Grafana unreachable, TLS, bad credential, permission denied on a read,
       or a command this credential can never run (a service account token on a server-admin-only command:
       said before anything is sent)
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from pathlib import Path

    from gtool.access.bulk import BulkFileError, BulkPlan, BulkReport, Row
    from gtool.access.provision import PasswordDelivery, ProvisionPlan, ProvisionResult
    from gtool.access.roles import Plan, Result
    from gtool.grafana.client import GrafanaClient
    from gtool.grafana.models import Org
    from gtool.profiles import Connection
    from gtool.saml.assertion import Attribute

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CONNECTION = 0, 1, 2, 3

EXIT_CODES_HELP = (
    "Exit codes: 0 ok (also 'already had it'); 1 change refused or failed (synced user, read-only "
    "profile, Grafana said no, declined); 2 usage or input (unknown user/org, no terminal and no --yes); "
    "3 connection or authentication problem, or a command this credential can never run (a service account "
    "token on a server-admin-only command)."
)

F = TypeVar("F", bound=Callable[..., Any])
_P = TypeVar("_P", bound="Plan | ProvisionPlan")  # a roles or a provision plan: same shape
_R = TypeVar("_R")


class Exit(Exception):
    """A one-line error with its exit code, raised inside a command and printed by `_handled`."""

    def __init__(self, code: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def die(code: int, message: str, hint: str | None = None) -> NoReturn:
    click.echo(f"gtool: {message}" + (f" ({hint})" if hint else ""), err=True)
    sys.exit(code)


def warn(message: str) -> None:
    click.echo(f"gtool: warning: {message}", err=True)


# --- options -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opts:
    """The options every Grafana-facing command takes."""

    profile: str | None
    url: str | None
    as_user: str | None
    fmt: str | None
    yes: bool
    dry_run: bool
    ca_bundle: str | None
    insecure: bool


_GLOBAL = ("profile", "url", "as_user", "fmt", "yes", "dry_run", "ca_bundle", "insecure")


def global_options(fn: F) -> F:
    """Add the shared options and pass them to the command as one `Opts` named ``opts``."""
    options = [
        click.option(
            "--profile", metavar="NAME", help="Profile from the gtool config file (default: its default)."
        ),
        click.option("--url", metavar="URL", help="Grafana base URL for this run (overrides the profile)."),
        click.option(
            "--user",
            "as_user",
            metavar="LOGIN",
            help="Basic-auth login for this run. Secrets come only from GRAFANA_PASSWORD / GRAFANA_TOKEN "
            "or the profile's secret reference, never from a flag.",
        ),
        click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), help="Output format."),
        click.option(
            "--yes", "-y", is_flag=True, help="Do not ask before a change (needed without a terminal)."
        ),
        click.option(
            "--dry-run", is_flag=True, help="Print the exact HTTP calls a change would send; send none."
        ),
        click.option(
            "--ca-bundle", type=click.Path(dir_okay=False), help="CA certificates to verify Grafana with."
        ),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns every time)."),
    ]

    def wrapper(**kwargs: Any) -> Any:
        opts = Opts(**{k: kwargs.pop(k) for k in _GLOBAL})
        return fn(opts=opts, **kwargs)

    # functools.wraps also copies __click_params__: the command's own options and arguments survive
    wrapper = functools.wraps(fn)(wrapper)
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


# --- errors ------------------------------------------------------------------------------------------


def _exit_for(exc: Exception) -> Exit | None:
    """The exit for an exception from the core, or None if it is not one we know (a bug: let it show)."""
    from gtool.access.roles import NotPossible
    from gtool.grafana.errors import (
        AuthenticationFailed,
        ConfigurationError,
        GrafanaError,
        HTTPStatusError,
        NotFound,
        PermissionDenied,
        TransportError,
    )
    from gtool.profiles import ProfileError

    if isinstance(exc, Exit):
        return exc
    if isinstance(exc, NotPossible):  # the credential, not the change: said before anything is sent
        return Exit(EXIT_CONNECTION, exc.args[0], exc.hint or None)
    if isinstance(exc, ProfileError):
        where = f"{exc.path}:{exc.line}: " if exc.path and exc.line else f"{exc.path}: " if exc.path else ""
        return Exit(EXIT_USAGE, where + exc.message, exc.hint or None)
    if isinstance(exc, NotFound):
        return Exit(EXIT_USAGE, f"not found: {exc}", "check the login, email, id or org name")
    if isinstance(exc, ConfigurationError):
        return Exit(EXIT_USAGE, str(exc), exc.hint or None)
    if isinstance(exc, TransportError | AuthenticationFailed | PermissionDenied):
        return Exit(EXIT_CONNECTION, str(exc), exc.hint or None)
    if isinstance(exc, HTTPStatusError):
        return Exit(EXIT_CONNECTION, str(exc), exc.hint or None)
    if isinstance(exc, GrafanaError):
        return Exit(EXIT_CONNECTION, str(exc), exc.hint or None)
    if isinstance(exc, ValueError):
        return Exit(EXIT_USAGE, str(exc))
    return None


@contextmanager
def _handled() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        known = _exit_for(exc)
        if known is None:
            raise
        die(known.code, known.message, known.hint)


# --- connecting --------------------------------------------------------------------------------------


def _connection(opts: Opts, environ: Mapping[str, str] | None = None) -> Connection:
    from dataclasses import replace

    from gtool import profiles

    env = dict(os.environ if environ is None else environ)
    # flags for one run behave exactly like the GRAFANA_* overrides the profile module documents
    if opts.url:
        env["GRAFANA_URL"] = opts.url
    if opts.as_user:
        env["GRAFANA_USER"] = opts.as_user
    conn = profiles.resolve(opts.profile, env)
    if opts.ca_bundle or opts.insecure:
        if opts.ca_bundle and opts.insecure:
            raise Exit(EXIT_USAGE, "--ca-bundle and --insecure contradict each other", "choose one")
        conn = replace(conn, ca_bundle=opts.ca_bundle, insecure=opts.insecure)
    for w in conn.warnings:
        warn(w)
    return conn


def _client(conn: Connection) -> GrafanaClient:
    from gtool.grafana.client import GrafanaClient

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = GrafanaClient(conn.url, **conn.client_kwargs())
    for w in caught:  # one clean line instead of Python's file:line warning format
        warn(str(w.message))
    return client


@contextmanager
def connected(opts: Opts) -> Iterator[tuple[Connection, GrafanaClient]]:
    conn = _connection(opts)
    client = _client(conn)
    try:
        yield conn, client
    finally:
        client.close()


# --- output ------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str | None) -> None:
    """Rows as an aligned table (default), a JSON array, or CSV with a header."""
    if fmt == "json":
        click.echo(json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2, default=str))
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow(
                [
                    "true" if r.get(c) is True else "false" if r.get(c) is False else _cell(r.get(c))
                    for c in columns
                ]
            )
        click.echo(out.getvalue(), nl=False)
        return
    cells = [[c.upper() for c in columns]] + [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def emit_record(record: Mapping[str, Any], fmt: str | None) -> None:
    """One object: ``key  value`` lines, a JSON object, or a two-column CSV."""
    if fmt == "json":
        click.echo(json.dumps(record, indent=2, default=str))
    else:
        emit([{"field": k, "value": v} for k, v in record.items()], ["field", "value"], fmt)


# --- lookups -----------------------------------------------------------------------------------------


def _org(client: GrafanaClient, ref: str) -> Org:
    """An org by id or exact name; a token that may not read other orgs gets its own org if it matches."""
    from gtool.access.roles import resolve_org
    from gtool.grafana.errors import PermissionDenied

    try:
        return resolve_org(client, ref)
    except PermissionDenied:
        current = client.current_org()
        if ref in (str(current.id), current.name):
            return current
        raise Exit(
            EXIT_USAGE,
            f"org {ref!r} is not visible to this credential",
            f"it acts in org {current.id} {current.name!r} only",
        ) from None


# --- register ----------------------------------------------------------------------------------------


def register(main: click.Group) -> None:
    """Add the access commands to ``gtool``'s main group."""
    for command in (whoami, users, orgs, role, admin, user, inventory, audit, profile):
        main.add_command(command)
    saml = main.commands.get("saml")
    if isinstance(saml, click.Group):  # `saml drift` needs a connection, so it lives here
        saml.add_command(saml_drift)


# --- whoami ------------------------------------------------------------------------------------------


@click.command(epilog=EXIT_CODES_HELP)
@global_options
def whoami(opts: Opts) -> None:
    """Who this connection is, where, and what it may do."""
    with _handled(), connected(opts) as (conn, client):
        caps = client.capabilities()
        record = {
            "url": conn.url,
            "profile": conn.profile,
            "login": caps.identity.login,
            "auth": caps.auth_kind,
            "service_account": caps.is_service_account,
            "grafana_admin": caps.is_grafana_admin,
            "org_id": caps.org_id,
            "org_name": caps.org_name,
            "org_role": caps.org_role,
            "cloud": caps.is_cloud,
            "version": caps.version,
            "read_only": conn.read_only,
        }
        if opts.fmt is None:
            click.echo(caps.summary())
        else:
            emit_record(record, opts.fmt)


# --- users -------------------------------------------------------------------------------------------

USER_COLUMNS = ["id", "login", "email", "name", "auth", "grafana_admin", "disabled"]


@click.group()
def users() -> None:
    """List and show users."""


@users.command("ls", epilog=EXIT_CODES_HELP)
@global_options
@click.option(
    "--org", "org_ref", metavar="ORG", help="Only members of this org (id or exact name); adds their role."
)
@click.option("--query", "-q", default="", help="Server-side search on login, email and name.")
@click.option(
    "--synced",
    "origin",
    flag_value="synced",
    help="Only users who sign in through a provider (SAML, LDAP, OAuth …).",
)
@click.option("--local", "origin", flag_value="local", help="Only users without an external login.")
@click.option("--admins", is_flag=True, help="Only Grafana server admins.")
@click.option("--disabled", is_flag=True, help="Only disabled users.")
def users_ls(
    opts: Opts, org_ref: str | None, query: str, origin: str | None, admins: bool, disabled: bool
) -> None:
    """List users (every user, or the members of one org)."""
    from gtool.grafana.errors import PermissionDenied

    with _handled(), connected(opts) as (_conn, client):
        if admins:  # only the global user search has the flag: an org's member list does not
            from gtool.access.roles import require

            require(client, "manage_users_globally", "listing Grafana server admins (--admins)")
        org = _org(client, org_ref) if org_ref else None
        members = {m.user_id: m for m in client.iter_org_users(org.id, query)} if org else None
        rows: list[dict[str, Any]] = []
        try:
            for u in client.iter_users(query):
                if members is None or u.id in members:
                    rows.append(
                        {
                            "id": u.id,
                            "login": u.login,
                            "email": u.email,
                            "name": u.name,
                            "auth": list(u.auth_labels),
                            "grafana_admin": u.is_admin,
                            "disabled": u.is_disabled,
                        }
                    )
        except PermissionDenied:
            # a token or org admin cannot search all users: the members of an org are what it can see
            if org is None or members is None:
                org = client.current_org()
                members = {m.user_id: m for m in client.iter_org_users(None, query)}
            warn(f"this credential cannot list all users; showing the members of org {org.id} {org.name!r}")
            rows = [
                {
                    "id": m.user_id,
                    "login": m.login,
                    "email": m.email,
                    "name": m.name,
                    "auth": list(m.auth_labels),
                    "grafana_admin": None,
                    "disabled": m.is_disabled,
                }
                for m in members.values()
            ]
        columns = list(USER_COLUMNS)
        if members is not None and org_ref:
            columns += ["role", "role_synced"]
            for r in rows:
                m = members[r["id"]]
                r["role"], r["role_synced"] = m.role, m.is_externally_synced
        keep = [
            r
            for r in rows
            if (origin is None or bool(r["auth"]) == (origin == "synced"))
            and (not admins or r["grafana_admin"])
            and (not disabled or r["disabled"])
        ]
        emit(keep, columns, opts.fmt)


@users.command("show", epilog=EXIT_CODES_HELP)
@global_options
@click.argument("user")
def users_show(opts: Opts, user: str) -> None:
    """One user (login, email or numeric id): profile, sync status and org roles."""
    from gtool.access.roles import resolve_user
    from gtool.grafana.errors import PermissionDenied

    with _handled(), connected(opts) as (_conn, client):
        try:
            p = resolve_user(client, user)
        except PermissionDenied:
            _show_member(client, user, opts.fmt)  # a token (Grafana Cloud) sees its own org only
            return
        memberships = client.user_orgs(p.id)
        record: dict[str, Any] = {
            "id": p.id,
            "login": p.login,
            "email": p.email,
            "name": p.name,
            "auth": list(p.auth_labels),
            "externally_synced": p.is_externally_synced,
            "grafana_admin": p.is_grafana_admin,
            "grafana_admin_synced": p.is_grafana_admin_externally_synced,
            "disabled": p.is_disabled,
            "orgs": [{"org_id": m.org_id, "name": m.name, "role": m.role} for m in memberships],
        }
        _emit_user(record, opts.fmt)


def _show_member(client: GrafanaClient, user: str, fmt: str | None) -> None:
    org = client.current_org()
    m = client.find_org_user(None, user)
    if m is None:
        raise Exit(
            EXIT_USAGE, f"no user {user!r} in org {org.id} {org.name!r}", "the only org this credential sees"
        )
    warn(f"this credential cannot read users globally; showing {m.login}'s membership of org {org.id} only")
    record: dict[str, Any] = {
        "id": m.user_id,
        "login": m.login,
        "email": m.email,
        "name": m.name,
        "auth": list(m.auth_labels),
        "externally_synced": m.is_externally_synced,
        "disabled": m.is_disabled,
        "orgs": [{"org_id": org.id, "name": org.name, "role": m.role}],
    }
    _emit_user(record, fmt)


def _emit_user(record: dict[str, Any], fmt: str | None) -> None:
    if fmt == "json":
        emit_record(record, "json")
    elif fmt == "csv":
        rows = [{"login": record["login"], **o} for o in record["orgs"]]
        emit(rows, ["login", "org_id", "name", "role"], "csv")
    else:
        emit_record({k: v for k, v in record.items() if k != "orgs"}, None)
        click.echo("")
        emit(record["orgs"], ["org_id", "name", "role"], None)


# --- orgs --------------------------------------------------------------------------------------------


@click.group()
def orgs() -> None:
    """List orgs and their members."""


@orgs.command("ls", epilog=EXIT_CODES_HELP)
@global_options
def orgs_ls(opts: Opts) -> None:
    """Every org (a credential that may not list them sees its own)."""
    from gtool.grafana.errors import PermissionDenied

    with _handled(), connected(opts) as (_conn, client):
        try:
            found = list(client.iter_orgs())
        except PermissionDenied:
            found = [client.current_org()]
            warn("this credential cannot list all orgs; showing its own")
        emit([{"id": o.id, "name": o.name} for o in found], ["id", "name"], opts.fmt)


@orgs.command("members", epilog=EXIT_CODES_HELP)
@global_options
@click.argument("org_ref", metavar="ORG")
def orgs_members(opts: Opts, org_ref: str) -> None:
    """The members of ORG (id or exact name) with their role and whether it is synced from a provider."""
    with _handled(), connected(opts) as (_conn, client):
        org = _org(client, org_ref)
        rows = [
            {
                "user_id": m.user_id,
                "login": m.login,
                "email": m.email,
                "role": m.role,
                "auth": list(m.auth_labels),
                "role_synced": m.is_externally_synced,
            }
            for m in client.iter_org_users(org.id)
        ]
        emit(rows, ["user_id", "login", "email", "role", "auth", "role_synced"], opts.fmt)


# --- writes ------------------------------------------------------------------------------------------


def _refuse_read_only(conn: Connection, opts: Opts) -> None:
    if conn.read_only and not opts.dry_run:
        raise Exit(
            EXIT_REFUSED,
            f"profile {conn.profile!r} is read-only: nothing was sent",
            "use another profile, or remove read_only = true from this one (--dry-run still works)",
        )


def _plan_record(plan: Plan | ProvisionPlan, client: GrafanaClient) -> dict[str, Any]:
    return {
        "action": plan.action,
        "target": plan.target,
        "before": plan.before,
        "after": plan.after,
        "calls": [client.describe(c) for c in plan.calls],
        "warnings": list(plan.warnings),
        "blocked": plan.blocked,
        "noop": plan.noop,
    }


def _confirm(plan: Plan, client: GrafanaClient, opts: Opts) -> None:
    if opts.yes:
        return
    if not sys.stdin.isatty():
        raise Exit(
            EXIT_USAGE,
            f"refusing to {plan.action} {plan.target} without confirmation: there is no terminal to ask on",
            "pass --yes to confirm, or --dry-run to see the calls",
        )
    for line in plan.describe(client):
        click.echo(line, err=True)
    if not click.confirm("Send this change?", default=False, err=True):
        raise Exit(EXIT_REFUSED, "not confirmed: nothing was sent")


def _report(result: Result, fmt: str | None) -> int:
    ok = result.outcome in ("applied", "already")
    if fmt == "json":
        record = {
            "action": result.plan.action,
            "target": result.plan.target,
            "before": result.plan.before,
            "after": result.plan.after,
            "outcome": result.outcome,
            "message": result.message,
            "verified": result.verified,
        }
        click.echo(json.dumps(record, indent=2, default=str))
    elif ok:
        click.echo(f"{result.outcome}: {result.plan.action} {result.plan.target}: {result.message}")
    if not ok:
        click.echo(
            f"gtool: {result.outcome}: {result.plan.action} {result.plan.target}: {result.message}", err=True
        )
    return EXIT_OK if ok else EXIT_REFUSED


def _run_plan(
    opts: Opts,
    make_plan: Callable[[GrafanaClient], _P],
    *,
    apply: Callable[..., _R],
    confirm: Callable[[_P, GrafanaClient, Opts], None],
    report: Callable[[_R, str | None], int],
    record: Callable[[_P, GrafanaClient], dict[str, Any]],
    check: Callable[[_P], None] | None = None,
) -> None:
    """Plan, show (--dry-run) or confirm, apply, report, exit: the one path every write takes."""
    with _handled():
        conn = _connection(opts)
        _refuse_read_only(conn, opts)
        client = _client(conn)
        try:
            plan = make_plan(client)
            if check is not None:
                check(plan)
            if opts.dry_run:
                if opts.fmt == "json":
                    click.echo(json.dumps(record(plan, client), indent=2, default=str))
                else:
                    for line in plan.describe(client):
                        click.echo(line)
                    click.echo("dry run: nothing was sent")
                sys.exit(EXIT_REFUSED if plan.blocked else EXIT_OK)
            for w in plan.warnings:
                warn(w)
            if not plan.blocked and not plan.noop:
                confirm(plan, client, opts)
            actor = conn.actor
            try:
                result = apply(client, plan, profile=conn.profile, actor=actor)
            except OSError as exc:
                raise Exit(
                    EXIT_REFUSED,
                    f"{plan.action} {plan.target}: cannot write the audit log ({exc.strerror or exc})",
                    "the change may have been applied: check with `gtool users show`",
                ) from None
        finally:
            client.close()
    sys.exit(report(result, opts.fmt))


def run_change(opts: Opts, make_plan: Callable[[GrafanaClient], Plan]) -> None:
    """`_run_plan` for role and Grafana Admin changes."""
    from gtool.access import roles

    _run_plan(opts, make_plan, apply=roles.apply, confirm=_confirm, report=_report, record=_plan_record)


def _role_arg(role: str | None, command: str) -> str:
    if not role:
        raise Exit(EXIT_USAGE, f"`gtool role {command}` needs a ROLE", "Viewer, Editor, Admin or None")
    return role


@click.group()
def role() -> None:
    """Change a user's org role: grant (add to the org), set (one PATCH), revoke (remove from the org)."""


_force = click.option(
    "--force", is_flag=True, help="Send even for a user whose role is synced from a login provider."
)


@role.command("grant", epilog=EXIT_CODES_HELP)
@global_options
@_force
@click.argument("user")
@click.argument("org_ref", metavar="ORG")
@click.argument("role_name", metavar="ROLE")
def role_grant(opts: Opts, force: bool, user: str, org_ref: str, role_name: str) -> None:
    """Add USER to ORG with ROLE (a member gets a role change)."""
    from gtool.access.roles import plan_grant

    run_change(opts, lambda c: plan_grant(c, user, org_ref, role_name, force=force))


@role.command("set", epilog=EXIT_CODES_HELP)
@global_options
@_force
@click.argument("user")
@click.argument("org_ref", metavar="ORG")
@click.argument("role_name", metavar="ROLE", required=False)
def role_set(opts: Opts, force: bool, user: str, org_ref: str, role_name: str | None) -> None:
    """Change USER's role in ORG to ROLE with one PATCH (memberships, teams and permissions stay).

    A user whose role is synced from SAML/LDAP/OAuth is refused before anything is sent (exit 1), with
    the fix: skip_org_role_sync = true for the provider, or change the role in the identity provider.
    """
    from gtool.access.roles import plan_role_change

    with _handled():
        chosen = _role_arg(role_name, "set")
    run_change(opts, lambda c: plan_role_change(c, user, org_ref, chosen, force=force))


@role.command("revoke", epilog=EXIT_CODES_HELP)
@global_options
@_force
@click.argument("user")
@click.argument("org_ref", metavar="ORG")
def role_revoke(opts: Opts, force: bool, user: str, org_ref: str) -> None:
    """Remove USER from ORG (the account stays; on Grafana Cloud a last org deletes it: you are warned)."""
    from gtool.access.roles import plan_revoke

    run_change(opts, lambda c: plan_revoke(c, user, org_ref, force=force))


@click.group()
def admin() -> None:
    """Turn the Grafana server admin flag on or off."""


@admin.command("grant", epilog=EXIT_CODES_HELP)
@global_options
@_force
@click.argument("user")
def admin_grant(opts: Opts, force: bool, user: str) -> None:
    """Make USER a Grafana server admin."""
    from gtool.access.roles import plan_grafana_admin

    run_change(opts, lambda c: plan_grafana_admin(c, user, True, force=force))


@admin.command("revoke", epilog=EXIT_CODES_HELP)
@global_options
@_force
@click.argument("user")
def admin_revoke(opts: Opts, force: bool, user: str) -> None:
    """Take the Grafana server admin flag away from USER."""
    from gtool.access.roles import plan_grafana_admin

    run_change(opts, lambda c: plan_grafana_admin(c, user, False, force=force))


# --- inventory ---------------------------------------------------------------------------------------


@click.group()
def inventory() -> None:
    """Who has access to what, exported."""


def _write_new(path: str, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Exit(
            EXIT_USAGE, f"{path} already exists: not overwriting it", "choose another --output"
        ) from None
    except OSError as exc:
        raise Exit(EXIT_USAGE, f"cannot create {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


@inventory.command("export", epilog=EXIT_CODES_HELP)
@global_options
@click.option(
    "--table",
    type=click.Choice(["memberships", "users", "orgs", "teams"]),
    default="memberships",
    show_default=True,
    help="Which table --format csv writes (JSON holds all four).",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write to a new file (never overwritten)."
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=8, show_default=True, help="Requests in flight at once."
)
@click.option("--no-teams", is_flag=True, help="Skip teams and their external groups (faster).")
def inventory_export(opts: Opts, table: str, output: str | None, workers: int, no_teams: bool) -> None:
    """Every user, org, membership and team (JSON by default, or one table as CSV)."""
    from gtool.access import inventory as inv

    with _handled():
        if opts.fmt == "table":
            raise Exit(EXIT_USAGE, "inventory export writes json or csv", "use --format json or --format csv")
        if output and os.path.exists(output):  # before reading thousands of users, not after
            raise Exit(EXIT_USAGE, f"{output} already exists: not overwriting it", "choose another --output")
        with connected(opts) as (_conn, client):

            def progress(p: inv.Progress) -> None:
                if sys.stderr.isatty():
                    click.echo(f"\rread {p.done}/{p.total} orgs", err=True, nl=False)

            data = inv.collect(client, workers=workers, teams=not no_teams, progress=progress)
        if sys.stderr.isatty():
            click.echo("", err=True)
        text = inv.to_csv(data, table) if opts.fmt == "csv" else inv.to_json(data) + "\n"  # type: ignore[arg-type]
        if output:
            _write_new(output, text)
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=False)


# --- audit -------------------------------------------------------------------------------------------

AUDIT_COLUMNS = ["time", "profile", "actor", "action", "target", "before", "after", "outcome", "detail"]


@click.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--tail", "n", type=click.IntRange(0), default=20, show_default=True, help="Show the last N entries."
)
@click.option("--profile", help="Only writes made through this profile.")
@click.option("--action", help="Only this action (change-role, grant, revoke, grafana-admin).")
@click.option("--target", help="Only targets containing this text (case-insensitive).")
@click.option("--outcome", type=click.Choice(["applied", "already", "refused", "failed", "ambiguous"]))
@click.option("--since", metavar="TIME", help="ISO time (UTC), e.g. 2026-01-31 or 2026-01-31T12:00.")
@click.option("--until", metavar="TIME", help="ISO time (UTC), exclusive.")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Audit log (default: XDG state dir).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), help="Output format.")
def audit(
    n: int,
    profile: str | None,
    action: str | None,
    target: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
    path: str | None,
    fmt: str | None,
) -> None:
    """The audit log of changes made with gtool (every write, its outcome, before and after)."""
    from pathlib import Path

    from gtool.access import audit as log_mod

    with _handled():
        try:
            log = log_mod.tail(
                n,
                Path(path) if path else None,
                profile=profile,
                action=action,
                target=target,
                outcome=outcome,
                since=since,
                until=until,
            )
        except OSError as exc:
            raise Exit(EXIT_USAGE, f"cannot read the audit log: {exc.strerror or exc}") from None
        for problem in log.problems:
            warn(problem)
        rows = [
            {
                "time": e.time,
                "profile": e.profile,
                "url": e.url,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "before": e.before,
                "after": e.after,
                "outcome": e.outcome,
                "detail": e.detail,
            }
            for e in log.entries
        ]
        columns = AUDIT_COLUMNS if fmt != "json" else ["time", "url", *AUDIT_COLUMNS[1:]]
        emit(rows, columns, fmt)


# --- profiles ----------------------------------------------------------------------------------------


@click.group()
def profile() -> None:
    """Connection profiles in ~/.config/gtool/config.toml (secrets stay where they are: env, command …)."""


@profile.command("add", epilog=EXIT_CODES_HELP)
@click.argument("name")
@click.option("--url", required=True, help="Grafana base URL (a sub-path is fine).")
@click.option("--auth", type=click.Choice(["basic", "token"]), required=True)
@click.option("--user", help="Login for basic auth.")
@click.option(
    "--secret",
    "secret_ref",
    required=True,
    help="Where the secret lives: env:VAR, command:CMD, keyring:service/user or file:/path (0600).",
)
@click.option("--ca-bundle", type=click.Path(dir_okay=False))
@click.option("--insecure", is_flag=True)
@click.option("--read-only", is_flag=True, help="Refuse every write made through this profile.")
@click.option("--default-org", help="Org id or name commands act in by default.")
@click.option("--default", "make_default", is_flag=True, help="Make it the profile used when none is given.")
@click.option("--overwrite", is_flag=True, help="Replace a profile of the same name.")
def profile_add(
    name: str,
    url: str,
    auth: str,
    user: str | None,
    secret_ref: str,
    ca_bundle: str | None,
    insecure: bool,
    read_only: bool,
    default_org: str | None,
    make_default: bool,
    overwrite: bool,
) -> None:
    """Add profile NAME (the secret is stored as a reference, never as the secret itself)."""
    from gtool import profiles

    with _handled():
        org: int | str | None = int(default_org) if default_org and default_org.isdigit() else default_org
        p = profiles.Profile(
            name=name,
            url=url,
            auth="token" if auth == "token" else "basic",
            secret=secret_ref,
            user=user,
            ca_bundle=ca_bundle,
            insecure=insecure,
            read_only=read_only,
            default_org=org,
        )
        for w in profiles.add(p, overwrite=overwrite):
            warn(w)
        if make_default:
            profiles.set_default(name)
        click.echo(f"profile {name!r} saved in {profiles.default_path()}")


def _profile_row(p: Any, default: str | None) -> dict[str, Any]:
    return {
        "name": p.name,
        "default": p.name == default,
        "url": p.url,
        "auth": p.auth,
        "user": p.user,
        "secret": p.secret,
        "read_only": p.read_only,
        "ca_bundle": p.ca_bundle,
        "insecure": p.insecure,
        "default_org": p.default_org,
    }


@profile.command("list", epilog=EXIT_CODES_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]))
def profile_list(fmt: str | None) -> None:
    """Every profile (secret references shown, secrets never resolved)."""
    from gtool import profiles

    with _handled():
        loaded = profiles.load()
        for w in loaded.warnings:
            warn(w)
        rows = [_profile_row(p, loaded.default) for p in loaded.profiles.values()]
        emit(rows, ["name", "default", "url", "auth", "user", "secret", "read_only"], fmt)


@profile.command("show", epilog=EXIT_CODES_HELP)
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]))
def profile_show(name: str | None, fmt: str | None) -> None:
    """One profile (default: the default one) and which GRAFANA_* variables override it for this run."""
    from gtool import profiles

    with _handled():
        loaded = profiles.load()
        for w in loaded.warnings:
            warn(w)
        name = name or loaded.default
        if name is None or name not in loaded.profiles:
            known = ", ".join(loaded.profiles) or "none yet"
            raise Exit(
                EXIT_USAGE,
                f"no profile named {name!r}" if name else "no default profile",
                f"profiles: {known}",
            )
        record = _profile_row(loaded.profiles[name], loaded.default)
        # names only: the values of GRAFANA_PASSWORD / GRAFANA_TOKEN are secrets
        record["overridden_by"] = [k for k in profiles.ENV_OVERRIDES if os.environ.get(k)]
        emit_record(record, fmt)


@profile.command("remove", epilog=EXIT_CODES_HELP)
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (needed without a terminal).")
def profile_remove(name: str, yes: bool) -> None:
    """Delete profile NAME from the config file (comments and other profiles stay)."""
    from gtool import profiles

    with _handled():
        profiles.get(name)
        if not yes:
            if not sys.stdin.isatty():
                raise Exit(
                    EXIT_USAGE, f"refusing to remove profile {name!r} without confirmation", "pass --yes"
                )
            if not click.confirm(f"Remove profile {name!r}?", default=False, err=True):
                raise Exit(EXIT_REFUSED, "not confirmed: nothing removed")
        profiles.remove(name)
        click.echo(f"profile {name!r} removed")


@profile.command("test", epilog=EXIT_CODES_HELP)
@global_options
@click.argument("name", required=False)
def profile_test(opts: Opts, name: str | None) -> None:
    """Connect with profile NAME (or --profile, or the default) and say who it is and what it may do."""
    from dataclasses import replace

    with _handled():
        opts = replace(opts, profile=name or opts.profile)
        with connected(opts) as (conn, client):
            caps = client.capabilities()
            if opts.fmt is None:
                click.echo(f"ok: {caps.summary()}")
                for key, src in conn.sources.items():
                    click.echo(f"  {key} from {src}")
            else:
                emit_record({"ok": True, "summary": caps.summary(), **conn.sources}, opts.fmt)


# --- user provisioning -------------------------------------------------------------------------------


@click.group()
def user() -> None:
    """Create, disable, enable and delete user accounts (Grafana Cloud: create is an org invite)."""


def _is_terminal() -> bool:
    return sys.stdin.isatty()


def _confirm_provision(plan: ProvisionPlan, client: GrafanaClient, opts: Opts) -> None:
    """--yes goes ahead; a terminal asks (a destructive plan: type the login); no terminal refuses."""
    if opts.yes:
        return
    if not _is_terminal():
        raise Exit(
            EXIT_USAGE,
            f"refusing to {plan.action} {plan.target} without confirmation: there is no terminal to ask on",
            "pass --yes to confirm, or --dry-run to see the calls",
        )
    for line in plan.describe(client):
        click.echo(line, err=True)
    if plan.destructive:
        typed = click.prompt(
            f"This cannot be undone. Type the login {plan.target!r} to confirm",
            default="",
            show_default=False,
            err=True,
        )
        if typed.strip() != plan.target:
            raise Exit(EXIT_REFUSED, "not confirmed (the login typed did not match): nothing was sent")
    elif not click.confirm("Send this change?", default=False, err=True):
        raise Exit(EXIT_REFUSED, "not confirmed: nothing was sent")


def _report_provision(result: ProvisionResult, fmt: str | None) -> int:
    ok = result.outcome in ("applied", "already")
    shown = result.password.reveal() if result.password is not None else None
    if fmt == "json":
        record: dict[str, Any] = {
            "action": result.plan.action,
            "target": result.plan.target,
            "before": result.plan.before,
            "after": result.plan.after,
            "outcome": result.outcome,
            "message": result.message,
            "verified": result.verified,
        }
        if shown is not None:  # --show-password asked for it: the one place it is ever printed
            record["password"] = shown
        click.echo(json.dumps(record, indent=2, default=str))
    elif ok:
        click.echo(f"{result.outcome}: {result.plan.action} {result.plan.target}: {result.message}")
        if shown is not None:
            click.echo(f"password: {shown}")
            warn("the password is shown once and not stored anywhere: hand it over now")
    if not ok:
        click.echo(
            f"gtool: {result.outcome}: {result.plan.action} {result.plan.target}: {result.message}", err=True
        )
    return EXIT_OK if ok else EXIT_REFUSED


def run_provision(
    opts: Opts,
    make_plan: Callable[[GrafanaClient], ProvisionPlan],
    check: Callable[[ProvisionPlan], None] | None = None,
) -> None:
    """`_run_plan` for account-level plans.

    `check` may turn a plan into a usage error (an unknown user, a missing password delivery) before
    anything is shown or sent.
    """
    from gtool.access import provision

    def record(plan: ProvisionPlan, client: GrafanaClient) -> dict[str, Any]:
        return _plan_record(plan, client) | {"destructive": plan.destructive}

    _run_plan(
        opts,
        make_plan,
        apply=provision.apply_provision,
        confirm=_confirm_provision,
        report=_report_provision,
        record=record,
        check=check,
    )


def _must_exist(plan: ProvisionPlan) -> None:
    from gtool.access.provision import NO_SUCH_USER

    if plan.noop == NO_SUCH_USER:
        raise Exit(EXIT_USAGE, f"not found: no user {plan.target!r}", "check the login, email or id")


def _delivery(
    password_file: str | None, password_command: str | None, show_password: bool
) -> PasswordDelivery | None:
    import shlex

    from gtool.access.provision import PasswordDelivery

    given = [x for x in (password_file, password_command, show_password or None) if x is not None]
    if len(given) > 1:
        raise Exit(
            EXIT_USAGE,
            "give exactly one of --password-file, --password-command and --show-password",
            "the password is delivered once, to one place",
        )
    if password_file is not None:
        delivery = PasswordDelivery.to_file(password_file)
        if (why := delivery.problem()) is not None:  # before connecting, certainly before creating
            raise Exit(EXIT_USAGE, why)
        return delivery
    if password_command is not None:
        try:
            argv = shlex.split(password_command)
        except ValueError as exc:
            raise Exit(EXIT_USAGE, f"--password-command: {exc}") from None
        if not argv:
            raise Exit(EXIT_USAGE, "--password-command is empty", "e.g. 'vault kv put secret/x password=-'")
        return PasswordDelivery.to_command(argv)
    return PasswordDelivery.show() if show_password else None


@user.command("create", epilog=EXIT_CODES_HELP)
@global_options
@click.argument("login")
@click.option("--email", default="", help="The user's email (Grafana Cloud: the invite goes here).")
@click.option("--name", default="", help="Display name.")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False),
    help="Write the generated password to this NEW file (created 0600; refused if it exists).",
)
@click.option(
    "--password-command",
    metavar="CMD",
    help="Pipe the generated password to CMD's stdin (split like a shell would, run without one), "
    "e.g. 'vault kv put secret/grafana/jane password=-'.",
)
@click.option("--show-password", is_flag=True, help="Print the generated password once on standard output.")
@click.option(
    "--role",
    "role_name",
    default="Viewer",
    show_default=True,
    help="Grafana Cloud: the org role of the invite.",
)
def user_create(
    opts: Opts,
    login: str,
    email: str,
    name: str,
    password_file: str | None,
    password_command: str | None,
    show_password: bool,
    role_name: str,
) -> None:
    """Create local user LOGIN with a generated strong password, delivered exactly once.

    Give exactly one of --password-file, --password-command or --show-password: the password is
    never printed otherwise, never logged and never stored by gtool. The file or command gets it
    before the account is created. On Grafana Cloud users sign in through grafana.com or SSO, so
    this sends an org invite (to --email, or LOGIN) instead, and no password is made.
    """
    from gtool.access.provision import plan_create_user

    with _handled():
        delivery = _delivery(password_file, password_command, show_password)

    def check(plan: ProvisionPlan) -> None:
        if plan.action == "create-user" and delivery is None and not plan.noop:
            raise Exit(
                EXIT_USAGE,
                "say where the generated password goes",
                "give one of --password-file NEW_FILE, --password-command CMD or --show-password",
            )
        if plan.action == "invite" and delivery is not None:
            warn("Grafana Cloud: no password is generated for an invite; the delivery option is unused")

    run_provision(
        opts,
        lambda c: plan_create_user(c, login, email=email, name=name, delivery=delivery, role=role_name),
        check,
    )


_force_external = click.option(
    "--force", is_flag=True, help="Send even for an external user (Grafana itself refuses: 500)."
)


@user.command("disable", epilog=EXIT_CODES_HELP)
@global_options
@_force_external
@click.argument("user_ref", metavar="USER")
def user_disable(opts: Opts, force: bool, user_ref: str) -> None:
    """Disable USER and end all their sessions (reversible with `gtool user enable`).

    A user who signs in through SAML, LDAP, OAuth or an auth proxy is refused before anything is sent
    (exit 1): Grafana answers 500 "Could not disable external user" for them, and a sign-in through the
    provider can enable the account again. Disable them in the identity provider instead, and remove
    them from their orgs (`gtool user remove-from-orgs`) to cut their access in Grafana now.
    """
    from gtool.access.provision import plan_disable

    run_provision(opts, lambda c: plan_disable(c, user_ref, force=force), _must_exist)


@user.command("enable", epilog=EXIT_CODES_HELP)
@global_options
@_force_external
@click.argument("user_ref", metavar="USER")
def user_enable(opts: Opts, force: bool, user_ref: str) -> None:
    """Enable a disabled USER again (an external user is refused, as for disable)."""
    from gtool.access.provision import plan_enable

    run_provision(opts, lambda c: plan_enable(c, user_ref, force=force), _must_exist)


@user.command("remove-from-orgs", epilog=EXIT_CODES_HELP)
@global_options
@click.argument("user_ref", metavar="USER")
def user_remove_from_orgs(opts: Opts, user_ref: str) -> None:
    """Remove USER from every org (the account stays). DESTRUCTIVE: on a terminal, type the login."""
    from gtool.access.provision import plan_remove_from_orgs

    run_provision(opts, lambda c: plan_remove_from_orgs(c, user_ref), _must_exist)


@user.command("delete", epilog=EXIT_CODES_HELP)
@global_options
@click.argument("user_ref", metavar="USER")
def user_delete(opts: Opts, user_ref: str) -> None:
    """Delete USER's account with its memberships, teams and tokens. DESTRUCTIVE: on a terminal, type
    the login to confirm (--yes skips that). An unknown user is "already gone" (exit 0)."""
    from gtool.access.provision import plan_delete

    run_provision(opts, lambda c: plan_delete(c, user_ref))


# --- bulk role changes -------------------------------------------------------------------------------

BULK_COLUMNS = ["source", "user", "org", "role", "status", "attempts", "message"]


def _bulk_file_error(exc: BulkFileError) -> NoReturn:
    for problem in exc.problems[:-1]:
        click.echo(f"gtool: {problem}", err=True)
    die(EXIT_USAGE, exc.problems[-1] if exc.problems else str(exc), "nothing was sent")


def _default_snapshot() -> Path:
    from datetime import UTC, datetime
    from pathlib import Path

    from gtool.access.audit import default_path

    folder = default_path().parent / "snapshots"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return Path(folder) / f"role-apply-{stamp}.json"


def _confirm_bulk(bulk: BulkPlan, opts: Opts, what: str) -> None:
    if opts.yes:
        return
    if not _is_terminal():
        raise Exit(
            EXIT_USAGE,
            f"refusing to {what} without confirmation: there is no terminal to ask on",
            "pass --yes to confirm, or --dry-run to see the calls",
        )
    if not click.confirm(f"Apply {len(bulk.changes)} change(s)?", default=False, err=True):
        raise Exit(EXIT_REFUSED, "not confirmed: nothing was sent")


def _run_bulk(
    opts: Opts, rows: list[Row], force: bool, workers: int, snapshot: Path | None, what: str
) -> None:
    """Plan every row, print the diff, confirm, apply on `workers` threads, print each row, exit."""
    from gtool.access import bulk

    with _handled():
        conn = _connection(opts)
        _refuse_read_only(conn, opts)
        client = _client(conn)
        try:
            plan = bulk.plan_rows(client, rows, force=force, workers=workers)
            for line in plan.summary():
                click.echo(line, err=opts.fmt == "json")
            clean = plan.count("blocked") == 0 and plan.count("error") == 0
            if opts.dry_run:
                _print_bulk_calls(plan, client, opts.fmt)
                click.echo("dry run: nothing was sent", err=opts.fmt == "json")
                sys.exit(EXIT_OK if clean else EXIT_REFUSED)
            if not plan.changes:
                click.echo("nothing to change: nothing was sent", err=opts.fmt == "json")
                sys.exit(EXIT_OK if clean else EXIT_REFUSED)
            _confirm_bulk(plan, opts, what)
            actor = conn.actor
            try:
                report = bulk.apply_bulk(
                    client,
                    plan,
                    snapshot=snapshot,
                    workers=workers,
                    force=force,
                    profile=conn.profile,
                    actor=actor,
                )
            except FileExistsError:
                raise Exit(
                    EXIT_USAGE, f"{snapshot} already exists: not overwriting it; nothing was sent"
                ) from None
            except OSError as exc:
                raise Exit(
                    EXIT_USAGE, f"cannot write the snapshot {snapshot}: {exc.strerror or exc}"
                ) from None
        finally:
            client.close()
        _print_bulk_report(report, opts.fmt)
    sys.exit(EXIT_OK if report.ok else EXIT_REFUSED)


def _print_bulk_calls(plan: BulkPlan, client: GrafanaClient, fmt: str | None) -> None:
    if fmt == "json":
        records = [
            _plan_record(r.plan, client) | {"source": r.row.source} for r in plan.rows if r.plan is not None
        ]
        click.echo(json.dumps(records, indent=2, default=str))
        return
    for r in plan.changes:
        assert r.plan is not None
        for call in r.plan.calls:
            click.echo(f"  {r.row.source}: {client.describe(call)}")


def _print_bulk_report(report: BulkReport, fmt: str | None) -> None:
    rows = [
        {
            "source": r.row.source,
            "user": r.row.user,
            "org": r.row.org,
            "role": r.row.role if r.row.role is not None else "(remove)",
            "status": r.status,
            "attempts": r.attempts,
            "message": r.message,
        }
        for r in report.results
    ]
    emit(rows, BULK_COLUMNS, fmt)
    click.echo(report.summary()[0], err=True)
    if report.snapshot is not None:
        click.echo(f"snapshot of the prior roles: {report.snapshot}", err=True)
        click.echo(f"  undo with: gtool role undo {report.snapshot}", err=True)
    if not report.ok:
        bad = sum(report.count(s) for s in ("blocked", "failed", "ambiguous"))
        click.echo(f"gtool: {bad} row(s) blocked, failed or in doubt (see above)", err=True)


@role.command("apply", epilog=EXIT_CODES_HELP)
@global_options
@_force
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option(
    "--snapshot",
    type=click.Path(dir_okay=False),
    help="Write the prior roles to this NEW file (default: a new file under the XDG state dir).",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=8, show_default=True, help="Rows sent at once."
)
def role_apply(opts: Opts, force: bool, path: str, snapshot: str | None, workers: int) -> None:
    """Apply the (user, org, role) rows of FILE: CSV with the header user,org,role, or TOML [[change]].

    Prints the diff (what changes, what is already so, what is blocked), asks, writes a snapshot of
    the prior roles, applies the rows a few at a time (each read back and audited), and prints one line
    per row. Exit 1 if any row was blocked, failed or is in doubt; `gtool role undo SNAPSHOT` restores.
    """
    from pathlib import Path

    from gtool.access import bulk

    with _handled():
        try:
            rows = bulk.load_rows(Path(path))
        except bulk.BulkFileError as exc:
            _bulk_file_error(exc)
        if snapshot is not None and os.path.lexists(snapshot):
            raise Exit(
                EXIT_USAGE, f"{snapshot} already exists: not overwriting it", "choose another --snapshot"
            )
    target = Path(snapshot) if snapshot else (None if opts.dry_run else _default_snapshot())
    _run_bulk(opts, rows, force, workers, target, f"apply {len(rows)} row(s) from {path}")


@role.command("undo", epilog=EXIT_CODES_HELP)
@global_options
@_force
@click.argument("path", metavar="SNAPSHOT", type=click.Path(dir_okay=False))
@click.option(
    "--workers", type=click.IntRange(1, 64), default=8, show_default=True, help="Rows sent at once."
)
def role_undo(opts: Opts, force: bool, path: str, workers: int) -> None:
    """Restore the roles a `gtool role apply` snapshot recorded (people it added are removed again)."""
    from pathlib import Path

    from gtool.access import bulk

    with _handled():
        try:
            rows = bulk.load_snapshot(Path(path))
        except bulk.BulkFileError as exc:
            _bulk_file_error(exc)
    _run_bulk(opts, rows, force, workers, None, f"restore {path}")


# --- saml drift --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MessageOpts:
    """How `saml drift` reads a captured response: as `gtool saml explain` does."""

    index: int | None = None
    idp_cert: tuple[str, ...] = ()
    idp_metadata: tuple[str, ...] = ()
    sp_key: str | None = None
    allow_sha1: bool = False


def _drift_attributes(
    assertion_input: str | None, attrs: tuple[str, ...], message: _MessageOpts
) -> tuple[Attribute, ...]:
    from gtool.cli import _load_message, fail
    from gtool.saml.inputs import InputError, parse_attr_pairs

    if (assertion_input is None) == (not attrs):
        fail("give either --assertion INPUT or one or more --attr NAME=VALUE", "see gtool saml drift --help")
    if assertion_input is None:
        try:
            return parse_attr_pairs(attrs)
        except InputError as exc:
            fail(exc.message, exc.hint)
    m = message
    loaded = _load_message(assertion_input, m.index, m.idp_cert, m.idp_metadata, m.sp_key, m.allow_sha1)
    first = loaded.response.assertion
    if first is None:
        r = loaded.response
        if r.rejected:  # the same words as `gtool saml explain`
            fail(
                f"{loaded.source}: no assertion is covered by a valid signature: Grafana would refuse it",
                "`gtool saml inspect` with the same options shows why",
            )
        if r.encrypted_assertions:
            fail(
                f"{loaded.source}: the assertion is encrypted", "pass Grafana's SP key with --sp-key KEY.pem"
            )
        fail(f"{loaded.source}: the response holds no readable assertion", "check it with gtool saml inspect")
    return tuple(first.attributes)


@click.command("drift", epilog=EXIT_CODES_HELP)
@global_options
@click.argument("user_ref", metavar="USER")
@click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="The grafana.ini to use."
)
@click.option(
    "--assertion", "assertion_input", metavar="INPUT", help="A captured SAML response (as for inspect)."
)
@click.option(
    "--attr", "attrs", multiple=True, metavar="NAME=VALUE", help="An attribute instead of an assertion."
)
@click.option("--index", type=int, metavar="N", help="Which message of a HAR/trace to use.")
@click.option(
    "--idp-cert",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Verify the assertion's signature with this IdP certificate (PEM); only signed content is used.",
)
@click.option(
    "--idp-metadata",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Verify signatures with the signing certificates of this IdP metadata XML.",
)
@click.option(
    "--sp-key",
    type=click.Path(dir_okay=False),
    help="Decrypt an EncryptedAssertion with Grafana's SP private key (PEM).",
)
@click.option("--allow-sha1", is_flag=True, help="Accept RSA-SHA1 signatures (legacy) when verifying.")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Environment snapshot of the Grafana host (NAME=VALUE lines) for GF_* overrides.",
)
@click.option("--no-teams", is_flag=True, help="Do not read teams (skip the team-sync comparison).")
@click.option("--check", is_flag=True, help="Exit 1 when the next login would change something.")
def saml_drift(
    opts: Opts,
    user_ref: str,
    config_path: str,
    assertion_input: str | None,
    attrs: tuple[str, ...],
    index: int | None,
    idp_cert: tuple[str, ...],
    idp_metadata: tuple[str, ...],
    sp_key: str | None,
    allow_sha1: bool,
    env_file: str | None,
    no_teams: bool,
    check: bool,
) -> None:
    """What USER's next SAML login would change: their org roles now (read from Grafana) against what
    the login sets (simulated from --config and the assertion or --attr pairs).

    Lists orgs added, roles updated, memberships removed and the Grafana Admin flag, e.g. a role
    someone set by hand that the next login takes back, and with team sync (assertion_attribute_groups)
    the teams the login joins or leaves: synced memberships no group matches are removed, members added
    by hand never are. A captured --assertion is read as `gtool saml explain` reads it: --idp-cert or
    --idp-metadata verify its signature (only signed content counts), --sp-key decrypts it. Needs a
    connection (the only `gtool saml` command that does); sends nothing.

    \b
    Example:
      gtool saml drift former@example.com --config grafana.ini \\
        --attr email=former@example.com --attr groups=Everyone --attr organization="Platform Engineering"
    """
    from gtool.cli import _lint_options, _load_config

    message = _MessageOpts(index, idp_cert, idp_metadata, sp_key, allow_sha1)
    attributes = _drift_attributes(assertion_input, attrs, message)
    _file, cfg = _load_config(config_path, _lint_options(env_file, None, None, (), None))
    with _handled(), connected(opts) as (_conn, client):
        from gtool.access.drift import read_drift

        drift = read_drift(client, user_ref, cfg, attributes, teams=not no_teams)
        record = drift.record
        if drift.other_user:
            warn(
                f"the assertion is for {drift.other_user!r}, not {drift.login!r}: "
                "Grafana would sign in that user instead"
            )
        if opts.fmt == "json":
            click.echo(json.dumps(record, indent=2, default=str))
        else:
            for line in drift.lines():
                click.echo(line)
    sys.exit(EXIT_REFUSED if check and record["changed"] else EXIT_OK)
