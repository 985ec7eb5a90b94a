"""INI rules: how go-ini reads the file (saml-reference.md §5.1, §10 INI-001…INI-012)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator

from gtool.saml.keys import KNOWN_BAD_KEYS, LIST_KEYS, SAML, SAML_KEYS
from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.values import split_string

_SAML_LOOKALIKE = re.compile(r"^\s*(auth)?[\s._-]*saml\s*$", re.IGNORECASE)


@rule("INI-001", "section-name-near-miss", Severity.ERROR, scope="file")
def section_near_miss(ctx: LintContext) -> Iterator[Finding]:
    """A section header that looks like `[auth.saml]` but is not exactly that.

    ## What it does
    Finds headers such as `[Auth.SAML]`, `[ auth.saml ]`, `[auth_saml]` or `[saml]`.

    ## Why is this bad?
    go-ini section names are case-sensitive and not trimmed: Grafana reads `[auth.saml]` only, and
    silently ignores every key under a near-miss header. SAML stays disabled or half-configured.

    ## Example
    ```ini
    [Auth.SAML]
    enabled = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    ```
    """
    for name, section in ctx.file.sections.items():
        if name != SAML and _SAML_LOOKALIKE.match(name):
            for line in section.headers:
                yield ctx.at(
                    (ctx.file.path, line, 1),
                    f"section [{name}] is not [auth.saml]; Grafana ignores its {len(section.keys)} key(s)",
                    "rename the header to exactly [auth.saml]: lower case, a dot, no spaces",
                )


@rule("INI-002", "unknown-key", Severity.ERROR)
def unknown_key(ctx: LintContext) -> Iterator[Finding]:
    """A key in `[auth.saml]` that Grafana does not read.

    ## What it does
    Reports keys that are not SAML settings: typos (`asssertion_attribute_groups`), keys from old docs
    (`metadata_path`), OAuth-only keys (`role_attribute_path`, `allowed_groups`) and keys from blogs
    (`sp_entity_id`), with the key that was probably meant.

    ## Why is this bad?
    Grafana ignores unknown keys without a word, so the setting you wrote has no effect: a typo in
    `assertion_attribute_groups` switches team sync off.

    ## Example
    ```ini
    [auth.saml]
    asssertion_attribute_groups = groups
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_groups = groups
    ```
    """
    section = ctx.saml_section
    if section is None:
        return
    lowered = {k.lower(): k for k in SAML_KEYS}
    for key in section.keys.values():
        if key.name in SAML_KEYS or key.name.lower() in lowered:
            continue  # known, or a case variant (INI-003)
        if key.name in KNOWN_BAD_KEYS:
            meant, why = KNOWN_BAD_KEYS[key.name]
            hint = f"use `{meant}` ({why})" if meant else f"remove it ({why})"
        else:
            close = difflib.get_close_matches(key.name, SAML_KEYS, n=1, cutoff=0.75)
            hint = (
                f"did you mean `{close[0]}`?"
                if close
                else "remove it, or see `gtool saml rules INI-002` for the keys Grafana reads"
            )
        yield ctx.at(key, f"unknown key `{key.name}` in [auth.saml]: Grafana ignores it", hint)


@rule("INI-003", "key-case-mismatch", Severity.ERROR)
def key_case(ctx: LintContext) -> Iterator[Finding]:
    """A SAML key written with different upper/lower case (`Enabled`, `IDP_METADATA_URL`).

    ## What it does
    Finds keys that match a SAML setting only when case is ignored.

    ## Why is this bad?
    go-ini keys are case-sensitive (`Insensitive=false`): `Enabled = true` is a different, unknown key
    and SAML stays disabled.

    ## Example
    ```ini
    [auth.saml]
    Enabled = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    ```
    """
    section = ctx.saml_section
    if section is None:
        return
    lowered = {k.lower(): k for k in SAML_KEYS}
    for key in section.keys.values():
        if key.name not in SAML_KEYS and key.name.lower() in lowered:
            right = lowered[key.name.lower()]
            yield ctx.at(key, f"`{key.name}` is not `{right}`: keys are case-sensitive", f"write `{right}`")


@rule("INI-004", "duplicate-key", Severity.WARNING)
def duplicate_key(ctx: LintContext) -> Iterator[Finding]:
    """The same key twice in `[auth.saml]`, or the `[auth.saml]` header twice.

    ## What it does
    Reports every earlier occurrence of a key that is set again later in the section, and every
    repeated `[auth.saml]` header.

    ## Why is this bad?
    go-ini keeps the last value and merges repeated sections silently: the earlier line looks active
    but is not, which is how a reviewed change ends up having no effect.

    ## Example
    ```ini
    [auth.saml]
    role_values_admin = admins
    role_values_admin = ops
    ```

    ## Use instead
    ```ini
    [auth.saml]
    role_values_admin = admins, ops
    ```
    """
    section = ctx.saml_section
    if section is None:
        return
    for extra in section.headers[1:]:
        yield ctx.at(
            (ctx.file.path, extra, 1),
            f"[auth.saml] appears again (first at line {section.headers[0]}); go-ini merges the two",
            "keep one [auth.saml] section",
        )
    for key in section.occurrences:
        last = section.keys[key.name]
        if last is not key:
            yield ctx.at(
                key,
                f"`{key.name}` is set again at line {last.line}; this value ({key.value!r}) is discarded",
                "delete one of the lines; go-ini keeps the last",
            )


@rule("INI-005", "inline-comment-cuts-value", Severity.ERROR)
def inline_comment(ctx: LintContext) -> Iterator[Finding]:
    """A value cut short by `#` or `;` (a group `C#-devs`, a secret `a;b`).

    ## What it does
    Finds values where a `#` or `;` that is part of the text (no space before it) starts a comment.

    ## Why is this bad?
    go-ini cuts a value at the first `#` or `;` anywhere, even inside ordinary quotes; only `\"\"\"…\"\"\"`
    and backticks protect. Grafana then matches a truncated value (`C`) or uses a broken secret.

    ## Example
    ```ini
    [auth.saml]
    role_values_editor = C#-devs
    ```

    ## Use instead
    ```ini
    [auth.saml]
    role_values_editor = \"\"\"C#-devs\"\"\"
    ```
    """
    section = ctx.saml_section
    if section is None:
        return
    for key in section.occurrences:
        if key.comment is None or key.quoting not in ("none", "double", "single"):
            continue
        before = key.raw[: len(key.raw) - len(key.comment)]
        if before and not before[-1].isspace():
            intended = key.raw.strip()
            yield ctx.at(
                key,
                f"`{key.name}` is cut at `{key.comment[0]}`: Grafana reads {key.value!r}, not {intended!r}",
                f'wrap the whole value in triple quotes: {key.name} = """{intended.strip(chr(34))}"""',
                at_value=True,
            )


@rule("INI-006", "trailing-backslash", Severity.WARNING)
def trailing_backslash(ctx: LintContext) -> Iterator[Finding]:
    """A value ending in `\\`, which joins the next line to it.

    ## What it does
    Finds values that go-ini reads as continued on the following line(s) because they end in a
    backslash, for example a Windows path.

    ## Why is this bad?
    The next line (even a comment or another key) becomes part of the value, and that key is lost.

    ## Example
    ```ini
    [auth.saml]
    certificate_path = C:\\grafana\\certs\\
    private_key_path = C:\\grafana\\certs\\sp.key
    ```

    ## Use instead
    ```ini
    [auth.saml]
    certificate_path = C:\\grafana\\certs\\sp.crt
    private_key_path = C:\\grafana\\certs\\sp.key
    ```
    """
    section = ctx.saml_section
    if section is None:
        return
    for key in section.occurrences:
        if key.quoting == "continuation":
            joined = key.end_line - key.line
            yield ctx.at(
                key,
                f"`{key.name}` ends in a backslash: go-ini joins {joined} following line(s) into it, "
                f"giving {key.value!r}",
                "remove the trailing backslash, or wrap the value in triple quotes",
                at_value=True,
            )


@rule("INI-007", "fatal-parse-error", Severity.ERROR, scope="file")
def fatal_parse_error(ctx: LintContext) -> Iterator[Finding]:
    """A line that stops Grafana from starting: no `=`, an unclosed `[`, an unterminated `\"\"\"`.

    ## What it does
    Reports go-ini's fatal parse errors with go-ini's own message.

    ## Why is this bad?
    Grafana exits at start-up with `failed to parse "<file>"`: nobody can log in at all.

    ## Example
    ```ini
    [auth.saml
    enabled = true
    allow_sign_up
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    allow_sign_up = true
    ```
    """
    for error in ctx.file.errors:
        yield ctx.at(
            (error.path, error.line, error.column),
            f"Grafana will not start: {error.message}",
            {
                "unclosed-section": "close the section header with `]`",
                "empty-section-name": "name the section, e.g. [auth.saml]",
                "no-delimiter": "write `key = value`, or comment the line out with `;`",
                "empty-key": "put the key name before `=`",
                "unclosed-key-quote": "close the quote around the key name",
                "unterminated-value": 'close the multi-line value with the same quote (""" or `)',
            }.get(error.kind, "fix the line"),
        )


@rule("INI-008", "empty-value-keeps-default", Severity.WARNING, scope="file")
def empty_value(ctx: LintContext) -> Iterator[Finding]:
    """An empty value meant to clear a default, which Grafana skips.

    ## What it does
    Finds `key =` lines in the custom file where a lower layer (defaults.ini) sets a non-empty value.

    ## Why is this bad?
    Grafana skips empty values when it applies the custom file, so the default stays in force.
    An empty placeholder is also not a key for `GF_*` overrides to replace.

    ## Example
    ```ini
    [users]
    auto_assign_org_role =
    ```

    ## Use instead
    ```ini
    [users]
    auto_assign_org_role = None
    ```
    """
    for section in ctx.file.sections.values():
        for key in section.keys.values():
            if key.value != "":
                continue
            effective = ctx.config.get(section.name, key.name)
            if effective is not None and effective.value != "" and effective.source.kind == "default":
                yield ctx.at(
                    key,
                    f"`{key.name} =` is skipped: Grafana keeps the default {effective.value!r}",
                    "set the value you want explicitly, or remove the line",
                )


@rule("INI-009", "unresolved-expansion", Severity.WARNING)
def unresolved_expansion(ctx: LintContext) -> Iterator[Finding]:
    """A `${VAR}`/`$__env{VAR}` whose variable is unset, or a `$__file{path}` that cannot be read.

    ## What it does
    With an environment snapshot (`--env-file`), reports env references to unset variables; always
    reports `$__file{…}` files that are missing; notes `$__vault{…}`, which only Enterprise expands.

    ## Why is this bad?
    An unset variable expands to an empty string, silently; a missing file stops Grafana at start-up
    (`got error while expanding auth.saml.<key> with expander 'file'`).

    ## Example
    ```ini
    [auth.saml]
    private_key = $__file{/run/secrets/saml-key-b64}
    ```

    ## Use instead
    Make sure the file exists on the Grafana host, or lint with `--homepath` pointing at a copy.
    """
    for setting in ctx.config.section_keys(SAML):
        for exp in setting.expansions:
            if exp.resolved:
                continue
            if exp.provider == "env" and ctx.config.env_is_snapshot:
                yield ctx.at(
                    setting,
                    f"`{exp.text}` in `{setting.key}`: {exp.problem}; it expands to an empty string",
                    f"set {exp.argument} where Grafana runs, or write the value directly",
                    at_value=True,
                )
            elif exp.provider == "file":
                yield ctx.at(
                    setting,
                    f"`{exp.text}` in `{setting.key}`: {exp.problem}; Grafana stops at start-up",
                    "create the file on the Grafana host (lint with --homepath to resolve relative paths)",
                    at_value=True,
                )
            elif exp.provider == "vault":
                yield ctx.at(
                    setting,
                    f"`{exp.text}` in `{setting.key}` is expanded only by Grafana Enterprise",
                    "on Grafana OSS, use $__env{…} or $__file{…}",
                    severity=Severity.INFO,
                    at_value=True,
                )


_ENV_REF = re.compile(r"\$(|__env){([^}]+)}")


@rule("INI-010", "env-reference-in-name-template", Severity.ERROR)
def env_in_name_template(ctx: LintContext) -> Iterator[Finding]:
    """`${…}` or `$__env{…}` inside `assertion_attribute_name` where `$__saml{…}` was meant.

    ## What it does
    Finds environment references in the display-name template.

    ## Why is this bad?
    Grafana expands `${firstName}` from the environment when it starts (usually to an empty string);
    only `$__saml{firstName}` reads an assertion attribute.

    ## Example
    ```ini
    [auth.saml]
    assertion_attribute_name = ${firstName} ${lastName}
    ```

    ## Use instead
    ```ini
    [auth.saml]
    assertion_attribute_name = $__saml{firstName} $__saml{lastName}
    ```
    """
    setting = ctx.setting("assertion_attribute_name")
    if setting is None:
        return
    raw = setting.before_expansion if setting.before_expansion is not None else setting.value
    refs = _ENV_REF.findall(raw)
    if refs:
        fixed = _ENV_REF.sub(lambda m: "$__saml{" + m.group(2) + "}", raw)
        yield ctx.at(
            setting,
            f"`assertion_attribute_name` uses environment references ({', '.join(r[1] for r in refs)}), "
            f"which Grafana replaces at start-up, giving {setting.value!r}",
            f"use $__saml{{…}} to read assertion attributes: {fixed}",
            at_value=True,
        )


_PERCENT = re.compile(r"%\(([^)]+)\)s")


@rule("INI-011", "percent-interpolation", Severity.WARNING)
def percent_interpolation(ctx: LintContext) -> Iterator[Finding]:
    """`%(name)s` in a SAML value, which go-ini replaces with another key's value.

    ## What it does
    Finds go-ini interpolation syntax in `[auth.saml]` values.

    ## Why is this bad?
    go-ini replaces `%(name)s` with the value of key `name` in the same section or in the top of the
    file; a literal `%(...)s` in a relay state or attribute name is changed behind your back.

    ## Example
    ```ini
    [auth.saml]
    relay_state = %(domain)s
    ```

    ## Use instead
    Write the value out in full.
    """
    section = ctx.saml_section
    if section is None:
        return
    for key in section.keys.values():
        names = _PERCENT.findall(key.value)
        if names:
            effective = ctx.config.get(SAML, key.name)
            now = effective.value if effective else key.value
            yield ctx.at(
                key,
                f"`{key.name}` uses %({names[0]})s interpolation; Grafana reads {now!r}",
                "write the value out in full",
                at_value=True,
            )


@rule("INI-012", "quoted-list-value", Severity.WARNING)
def quoted_list_value(ctx: LintContext) -> Iterator[Finding]:
    """A list value wrapped in one pair of quotes that contains a space.

    ## What it does
    Finds list keys (`role_values_*`, `allowed_organizations`, `org_mapping`) written as
    `"Grafana Admins"`.

    ## Why is this bad?
    go-ini strips the surrounding quotes first, then `util.SplitString` splits the rest on the space:
    `"Grafana Admins"` becomes the two values `Grafana` and `Admins`, and nobody matches.

    ## Example
    ```ini
    [auth.saml]
    role_values_admin = "Grafana Admins"
    ```

    ## Use instead
    ```ini
    [auth.saml]
    role_values_admin = ["Grafana Admins"]
    ```
    """
    section = ctx.saml_section
    if section is None:
        return
    for key in section.keys.values():
        if key.name in LIST_KEYS and key.quoting in ("double", "single") and " " in key.value:
            items = split_string(key.value).items
            yield ctx.at(
                key,
                f"go-ini strips the quotes of `{key.name}`, so it splits into {list(items)}",
                f"use a JSON list: {key.name} = {json.dumps([key.value])}",
                at_value=True,
            )
