"""Context rules: settings outside `[auth.saml]` and the deployment around it — `[server] root_url`,
cookies, the licence, the SSO settings record, `GF_*` variables, `cfg:` arguments, other providers
(saml-reference.md §1, §5.2-5.3, §6.2, §7.4, §10 CTX-001…CTX-007)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from urllib.parse import SplitResult, urlsplit

from gtool.saml.keys import SAML, SAML_KEYS
from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.settings import Setting, env_key
from gtool.saml.values import parse_bool

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def _user_set(setting: Setting | None) -> Setting | None:
    """The setting when a user set it; a value only Grafana's defaults hold has no line to point at."""
    return setting if setting is not None and setting.source.kind != "default" else None


def _url(value: str) -> SplitResult | None:
    try:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            return parts
    except ValueError:
        pass
    return None


def _is_local(host: str) -> bool:
    return host in _LOCAL_HOSTS or host.endswith(".localhost") or host.startswith("127.")


@rule("CTX-001", "root-url-not-public", Severity.ERROR)
def root_url_not_public(ctx: LintContext) -> Iterator[Finding]:
    """`[server] root_url` is the default or points at localhost, or its scheme differs from the SP's URLs.

    ## What it does
    With SAML enabled, reads the effective `[server] root_url` (Grafana's default expands to
    `http://localhost:3000/`) and reports it when its host is `localhost`/`127.0.0.1`, or when
    `entity_id` or `idp_metadata_url` name the same host with the other scheme (`https` vs `http`).
    A localhost `root_url` is accepted when the IdP is on localhost too (a test setup).

    ## Why is this bad?
    Grafana builds the URLs it gives the IdP from `root_url`: the Assertion Consumer Service
    `<root_url>saml/acs`, the entity ID `<root_url>saml/metadata` and `<root_url>saml/slo`. With a
    localhost or wrong-scheme `root_url`, the IdP sends users to an address they cannot reach, or
    the response's Destination does not match and Grafana rejects it.

    ## Example
    ```ini
    [server]
    domain = localhost

    [auth.saml]
    enabled = true
    entity_id = https://grafana.example.com/saml/metadata
    ```

    ## Use instead
    ```ini
    [server]
    root_url = https://grafana.example.com/

    [auth.saml]
    enabled = true
    entity_id = https://grafana.example.com/saml/metadata
    ```
    """
    if not ctx.enabled:
        return
    setting = ctx.setting("root_url", "server")
    value = ctx.value("root_url", "server")
    root = _url(value)
    if root is None or root.hostname is None:
        return
    target = _user_set(setting)
    hint = "set [server] root_url to the URL users open, e.g. https://grafana.example.com/"
    idp = _url(ctx.value("idp_metadata_url"))
    if _is_local(root.hostname):
        if idp is not None and idp.hostname is not None and _is_local(idp.hostname):
            return  # Grafana and the IdP both on this machine: a test setup
        said = (
            f"`[server] root_url = {value}` points at {root.hostname}"
            if target
            else f"`[server] root_url` is not set, so Grafana uses {value}"
        )
        yield ctx.at(
            target,
            f"{said}: the IdP sends users back to {value.rstrip('/')}/saml/acs, which only works in a "
            "browser on the Grafana host",
            hint + ", and register <root_url>saml/acs at the IdP",
            at_value=target is not None,
        )
        return
    for key in ("entity_id", "idp_metadata_url"):
        other = _url(ctx.value(key))
        if other is None or other.hostname != root.hostname or other.scheme.lower() == root.scheme.lower():
            continue
        yield ctx.at(
            target,
            f"`[server] root_url` uses {root.scheme}:// but `{key}` uses {other.scheme}:// for the same host "
            f"{root.hostname}: the ACS URL Grafana announces ({value.rstrip('/')}/saml/acs) does not match "
            "the address users reach",
            f"set [server] root_url = {other.scheme}://{root.netloc}{root.path or '/'}",
            at_value=target is not None,
        )
        return


@rule("CTX-002", "cookie-samesite-strict", Severity.WARNING)
def cookie_samesite_strict(ctx: LintContext) -> Iterator[Finding]:
    """`[security] cookie_samesite = strict` while SAML is enabled.

    ## What it does
    Reports the strict SameSite cookie mode in an installation that logs users in with SAML.

    ## Why is this bad?
    The IdP posts its response to Grafana from another site. With SameSite=Strict the browser does
    not send Grafana's cookies with that request, so Grafana cannot tie the response to the login it
    started: users end up on the login page again, in a loop (Grafana's SAML troubleshooting docs).

    ## Example
    ```ini
    [security]
    cookie_samesite = strict
    ```

    ## Use instead
    ```ini
    [security]
    cookie_samesite = lax
    ```
    """
    setting = ctx.setting("cookie_samesite", "security")
    if ctx.enabled and setting is not None and setting.value == "strict":
        yield ctx.at(
            _user_set(setting),
            "`[security] cookie_samesite = strict`: the browser drops Grafana's cookies on the IdP's "
            "cross-site POST back, so SAML logins loop back to the login page",
            "set cookie_samesite = lax (the default); behind a proxy on another site, use none together "
            "with cookie_secure = true",
            at_value=True,
        )


_LICENSE_ENV = ("GF_ENTERPRISE_LICENSE_PATH", "GF_ENTERPRISE_LICENSE_TEXT")


@rule("CTX-003", "enterprise-license-not-seen", Severity.INFO)
def enterprise_license(ctx: LintContext) -> Iterator[Finding]:
    """SAML is enabled and nothing in the configuration shows a Grafana Enterprise license.

    ## What it does
    Looks for `[enterprise] license_path` or `license_text`, and for `GF_ENTERPRISE_LICENSE_PATH` or
    `GF_ENTERPRISE_LICENSE_TEXT` in the environment gtool was given. An SSO settings record counts
    as a sign of Enterprise. This is a reminder, not a verdict: the license may sit at its default
    place in the data directory, or you may run Grafana Cloud.

    ## Why is this bad?
    SAML is available only in Grafana Enterprise and Grafana Cloud. Grafana OSS has no SAML handler:
    it reads `[auth.saml]` without complaint and never shows a SAML login.

    ## Example
    ```ini
    [auth.saml]
    enabled = true
    ```

    ## Use instead
    ```ini
    [enterprise]
    license_path = /var/lib/grafana/license.jwt

    [auth.saml]
    enabled = true
    ```
    """
    if not ctx.enabled or ctx.config.sso is not None:
        return
    if ctx.is_set("license_path", "enterprise") or ctx.is_set("license_text", "enterprise"):
        return
    if any(ctx.config.env.get(name) for name in _LICENSE_ENV):
        return
    yield ctx.at(
        ctx.setting("enabled"),
        "SAML needs Grafana Enterprise or Grafana Cloud, and nothing here shows a license "
        "([enterprise] license_path, GF_ENTERPRISE_LICENSE_PATH, GF_ENTERPRISE_LICENSE_TEXT): on Grafana "
        "OSS the SAML settings have no effect",
        "ignore this if the license is in Grafana's data directory (license.jwt) or you run Grafana Cloud; "
        "on Grafana OSS, use [auth.generic_oauth] or LDAP instead",
    )


def _listed(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@rule("CTX-004", "sso-settings-record-overrides", Severity.WARNING)
def sso_record_overrides(ctx: LintContext) -> Iterator[Finding]:
    """An SSO settings record stored in the database overrides the `[auth.saml]` settings.

    ## What it does
    Reports an SSO settings record with `source: database` (given with `--sso-settings`), names the
    keys it sets and the keys of this file that it makes ineffective.

    ## Why is this bad?
    A record saved through the UI, the API or Terraform wins over grafana.ini, `GF_*` variables and
    `cfg:` arguments for every key it sets. Keys containing `certificate`, `private_key` or
    `idp_metadata` are taken from the record only, even when it leaves them out. Editing grafana.ini
    then changes nothing, which is confusing to debug.

    ## Example
    ```ini
    ; GET /api/v1/sso-settings/saml returns "source": "database", "settings": {"enabled": true, …}
    [auth.saml]
    certificate_path = /etc/grafana/saml.crt
    ```

    ## Use instead
    Keep SAML settings in one place: edit them in the record (UI, API, Terraform), or delete the
    record (`DELETE /api/v1/sso-settings/saml`) to go back to grafana.ini.
    ```ini
    [auth.saml]
    certificate_path = /etc/grafana/saml.crt
    ```
    """
    sso = ctx.config.sso
    if sso is None or not ctx.config.sso_overrides:
        return
    owned = sorted(sso.settings)
    section = ctx.saml_section
    ignored = []
    if section is not None:
        for name in section.keys:
            effective = ctx.setting(name)
            if name in SAML_KEYS and (effective is None or effective.source.kind == "sso-settings"):
                ignored.append(name)
    message = f"an SSO settings record (source: database) overrides [auth.saml]; it sets {_listed(owned)}"
    if ignored:
        message += f"; this file's {_listed(ignored)} {'has' if len(ignored) == 1 else 'have'} no effect"
    message += ", and certificate, private key and IdP metadata keys come from the record only"
    target = None if section is not None else (sso.path, 1, 1)
    yield ctx.at(
        target,
        message,
        "change SAML in the record (UI, API or Terraform), or delete it "
        "(DELETE /api/v1/sso-settings/saml) to use grafana.ini again",
    )


_ENV_PREFIX = env_key(SAML, "")  # GF_AUTH_SAML_
_LOOKALIKE = re.compile(r"^GF_?(?:AUTH_?)?SAML_?(.*)$")


def _env_names() -> dict[str, str]:
    return {env_key(SAML, k): k for k in SAML_KEYS}


def _meant_env(name: str) -> str | None:
    """The `GF_AUTH_SAML_*` name a misspelt variable was probably meant to be."""
    names = _env_names()
    normal = re.sub(r"_+", "_", re.sub(r"[^A-Z0-9]+", "_", name.upper())).strip("_")
    m = _LOOKALIKE.match(normal)
    if m is None:
        return None
    candidate = _ENV_PREFIX + m.group(1)
    if candidate in names:
        return candidate
    close = difflib.get_close_matches(candidate, names, n=1, cutoff=0.85)
    return close[0] if close else None


@rule("CTX-005", "saml-env-var-ignored", Severity.WARNING, scope="file")
def env_var_ignored(ctx: LintContext) -> Iterator[Finding]:
    """A `GF_AUTH_SAML_*` variable that Grafana ignores: misspelt, empty, or for a key no file sets.

    ## What it does
    With an environment snapshot (`--env-file`), reports variables that name no SAML key (with the
    name that was probably meant, also for `GF_SAML_…` or lower-case spellings), variables set to an
    empty value, and variables for keys that no loaded ini file sets. It runs even when the file has
    no `[auth.saml]` section, since SAML set up through variables alone is the case it is for.
    Without a snapshot it stays quiet, so your own shell does not cause findings.

    ## Why is this bad?
    Grafana applies `GF_<SECTION>_<KEY>` variables only to keys that exist in its loaded files, and
    skips empty values. OSS `defaults.ini` has no `[auth.saml]` keys, so `GF_AUTH_SAML_ENABLED=true`
    alone does nothing there; whether your Enterprise build ships SAML defaults is not documented.
    A misspelt name is ignored everywhere.

    ## Example
    ```ini
    ; environment: GF_AUTH_SAML_ENABLED=true, GF_AUTH_SAML_IDP_METADATA_URI=https://idp.example.com/md
    [auth.saml]
    name = Company SSO
    ```

    ## Use instead
    ```ini
    ; environment: GF_AUTH_SAML_ENABLED=true, GF_AUTH_SAML_IDP_METADATA_URL=https://idp.example.com/md
    [auth.saml]
    name = Company SSO
    enabled = false
    idp_metadata_url = https://placeholder.invalid/overridden-by-env
    ```
    """
    config = ctx.config
    if not config.env_is_snapshot:
        return
    names = _env_names()
    unused = set(config.unused_env)
    for name in sorted(config.env):
        value = config.env[name]
        if name.startswith(_ENV_PREFIX):
            key = names.get(name)
            if value == "":
                yield ctx.at(
                    _user_set(ctx.setting(key)) if key else None,
                    f"{name} is set but empty: Grafana skips empty variables"
                    + (f", so `{key}` keeps its value from the file" if key and name not in unused else ""),
                    "give it a value, or unset it",
                )
            elif key is None:
                meant = _meant_env(name)
                yield ctx.at(
                    None,
                    f"{name} names no [auth.saml] key: Grafana ignores it",
                    f"did you mean {meant}?" if meant else "see `gtool saml rules INI-002` for the SAML keys",
                )
            elif name in unused:
                yield ctx.at(
                    None,
                    f"{name} is set but no loaded file sets `{key}`: Grafana applies GF_* variables only "
                    "to keys its files contain, so unless your build's defaults.ini has it, it is ignored",
                    f"add `{key} = <placeholder>` to [auth.saml] so the variable has a key to override "
                    "(or lint with --defaults <your defaults.ini>)",
                )
        elif "SAML" in name.upper() and name.upper().startswith("GF"):
            meant = _meant_env(name)
            if meant and meant != name:
                yield ctx.at(
                    None,
                    f"{name} is not a Grafana variable name: Grafana ignores it",
                    f"did you mean {meant}? (upper case: GF_, the section with _ for ., _, the key)",
                )


def _cli_hint(name: str, count: int) -> str:
    if count == 0:
        return "write cfg:<section>.<key>=<value>, with exactly one `=`"
    section, _, key = name[len("cfg:") :].removeprefix("default.").rpartition(".")
    if section != SAML or key not in SAML_KEYS:
        return "set the value in the ini file, or with its GF_ environment variable"
    ways = [f"the variable {env_key(SAML, key)}", "the ini file"]
    if f"{key}_path" in SAML_KEYS:
        ways.insert(0, f"`{key}_path` (a file)")
    return "pass the value another way: " + ", ".join(ways[:-1]) + " or " + ways[-1]


@rule("CTX-006", "cli-arg-with-equals", Severity.ERROR, scope="file")
def cli_arg_with_equals(ctx: LintContext) -> Iterator[Finding]:
    """A `cfg:` command-line argument whose value contains `=` (or that has no `=`), which stops Grafana.

    ## What it does
    Checks the `cfg:<section>.<key>=<value>` arguments given with `--grafana-arg`. Every `cfg:` argument
    is checked, with or without `[auth.saml]` in the file, because Grafana refuses to start on any
    malformed one.

    ## Why is this bad?
    Grafana splits each `cfg:` argument at every `=` and needs exactly two parts; otherwise it exits
    with `Invalid command line argument.`. Base64 values usually end in `=` padding, so
    `cfg:auth.saml.certificate=…==` can never be passed this way.

    ## Example
    ```ini
    ; grafana server cfg:auth.saml.private_key=LS0tLS1CRUdJTi...LS0tCg==
    [auth.saml]
    enabled = true
    ```

    ## Use instead
    ```ini
    ; grafana server  (the key is read from a file instead)
    [auth.saml]
    enabled = true
    private_key_path = /etc/grafana/saml.key
    ```
    """
    for arg in ctx.config.cli_args:
        if not arg.startswith("cfg:"):
            continue
        name, sep, _ = arg.partition("=")
        count = arg.count("=")
        if count == 1:
            continue
        shown = f"{name}=…" if sep else name  # the value may be a secret: never echo it
        problem = f"its value contains {count - 1} `=`" if count > 1 else "it has no `=`"
        yield ctx.at(
            None,
            f"command-line argument `{shown}`: {problem}, so Grafana exits with "
            "`Invalid command line argument.`",
            _cli_hint(name, count),
        )


@rule("CTX-007", "auto-login-conflict", Severity.INFO)
def auto_login_conflict(ctx: LintContext) -> Iterator[Finding]:
    """`auto_login = true` for SAML and for another enabled login provider too.

    ## What it does
    With SAML enabled and `auto_login = true`, looks for enabled `[auth.*]` providers that also set
    `auto_login = true`, and for `[auth] oauth_auto_login = true` (the old switch for every OAuth
    provider).

    ## Why is this bad?
    Grafana redirects to a provider automatically only when exactly one has auto login; with more it
    logs `Skipping auto login because multiple auth providers are configured with auto_login option`
    and shows the login page.

    ## Example
    ```ini
    [auth.generic_oauth]
    enabled = true
    auto_login = true

    [auth.saml]
    enabled = true
    auto_login = true
    ```

    ## Use instead
    ```ini
    [auth.generic_oauth]
    enabled = true
    auto_login = false

    [auth.saml]
    enabled = true
    auto_login = true
    ```
    """
    if not (ctx.enabled and ctx.bool("auto_login")):
        return
    sections = sorted({s for (s, k) in ctx.config.settings if s.startswith("auth.") and s != SAML})
    enabled = [s for s in sections if parse_bool(ctx.value("enabled", s)) is True]
    others = [s for s in enabled if parse_bool(ctx.value("auto_login", s)) is True]
    if not others and parse_bool(ctx.value("oauth_auto_login", "auth")) is True:
        # The legacy switch counts every enabled OAuth provider when none sets auto_login itself.
        # OAuth sections are the ones with an auto_login key; [auth.basic] or [auth.ldap] have none.
        others = [s for s in enabled if ctx.setting("auto_login", s) is not None]
    if others:
        listed = ", ".join(f"[{s}]" for s in others)
        yield ctx.at(
            ctx.setting("auto_login"),
            f"`auto_login = true` here and for {listed}: Grafana skips auto login when more than one "
            "provider has it, so users see the login page",
            "keep auto_login = true in one provider only",
        )
