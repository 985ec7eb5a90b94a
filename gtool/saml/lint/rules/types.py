"""Type rules: values Grafana parses with Go semantics and silently replaces when they do not parse
(saml-reference.md §1, §2.5, §5.1, §10 TYPE-001…TYPE-008)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from gtool.saml.keys import BOOL_KEYS, LIST_KEYS, NAME_ID_FORMATS, SAML_KEYS, SIGNATURE_ALGORITHMS, USERS
from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.orgmapping import has_bad_json_escape
from gtool.saml.settings import Setting
from gtool.saml.values import (
    ORG_ROLES,
    DurationError,
    format_duration,
    parse_bool,
    parse_duration,
    split_string,
)


def _kv(key: str, value: str) -> str:
    """`key = value` for a message, with a Python repr when spaces at the edges matter."""
    return f"`{key} = {value}`" if value == value.strip() else f"`{key}` = {value!r}"


def _checkable(setting: Setting | None) -> str | None:
    """The value to check, or ``None`` when unset, empty, or still holding an unexpanded reference
    (INI-009 reports those; checking the literal `$__file{…}` text would only add noise)."""
    if setting is None or setting.value == "":
        return None
    if any(not e.resolved and e.provider != "env" for e in setting.expansions):
        return None
    return setting.value


def _default_note(key: str) -> str:
    spec = SAML_KEYS[key]
    note = f"`{spec.default}`"
    if spec.doc_default is not None and spec.doc_default != spec.default:
        note += f" (Grafana's SSO settings code; the docs say {spec.doc_default})"
    return note


_TRUTHY = {"true", "yes", "on", "1", "y", "t", "enable", "enabled"}
_FALSY = {"false", "no", "off", "0", "n", "f", "disable", "disabled", "none"}


@rule("TYPE-001", "invalid-bool", Severity.ERROR)
def invalid_bool(ctx: LintContext) -> Iterator[Finding]:
    """A boolean key whose value go-ini does not read as true or false (`enable`, `True.`, `"yes please"`).

    ## What it does
    Checks `enabled`, `single_logout`, `allow_sign_up`, `auto_login`, `allow_idp_initiated`,
    `skip_org_role_sync` and `force_use_graph_api` against go-ini's exact literals:
    `1 t T true TRUE True YES yes Yes y ON on On` and `0 f F false FALSE False NO no No n OFF off Off`.

    ## Why is this bad?
    Grafana reads booleans with go-ini's `MustBool`, which returns the key's default for anything else,
    without a log line. `enabled = enable` leaves SAML disabled; `skip_org_role_sync = ture` keeps role
    sync on.

    ## Example
    ```ini
    [auth.saml]
    enabled = enable
    allow_sign_up = yES
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    allow_sign_up = true
    ```
    """
    for key in BOOL_KEYS:
        setting = ctx.setting(key)
        value = _checkable(setting)
        if value is None or parse_bool(value) is not None:
            continue
        folded = value.strip().strip("\"'").lower()
        meant = "true" if folded in _TRUTHY else "false" if folded in _FALSY else None
        hint = f"write `{key} = {meant}`" if meant else f"write `{key} = true` or `{key} = false`"
        yield ctx.at(
            setting,
            f"{_kv(key, value)} is not a boolean go-ini reads: Grafana silently uses the default "
            f"{_default_note(key)}",
            hint,
            at_value=True,
        )


_UNIT_WORDS = {
    "": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
}
_DAY_WORDS = {"d": 24, "day": 24, "days": 24, "w": 168, "week": 168, "weeks": 168}


def _duration_seconds(setting: Setting, value: str) -> float:
    """Seconds, or :class:`DurationError`; an SSO record may hold Go's JSON form, integer nanoseconds."""
    if setting.source.kind == "sso-settings" and re.fullmatch(r"\d+", value):
        return int(value) / 1e9
    return parse_duration(value)


def _suggest_duration(value: str) -> str | None:
    """A Go duration for what was probably meant: `1d` -> `24h`, `90` -> `90s`, `1h 30m` -> `1h30m`."""
    squeezed = re.sub(r"\s+", "", value)
    for candidate in (squeezed, squeezed.lower()):
        try:
            parse_duration(candidate)
        except DurationError:
            continue
        return candidate if candidate != value else None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", value.strip())
    if not m:
        return None
    number, unit = float(m.group(1)), m.group(2).lower()
    if unit in _DAY_WORDS:
        return f"{number * _DAY_WORDS[unit]:g}h"
    if unit in _UNIT_WORDS:
        return f"{number:g}{_UNIT_WORDS[unit]}"
    return None


_DURATION_KEYS = ("max_issue_delay", "metadata_valid_duration")


@rule("TYPE-002", "invalid-duration", Severity.ERROR)
def invalid_duration(ctx: LintContext) -> Iterator[Finding]:
    """A duration Go's `time.ParseDuration` rejects (`1d`, `90`, `2 days`).

    ## What it does
    Checks `max_issue_delay` and `metadata_valid_duration`, and shows Go's own error message with a
    value that means what was probably intended.

    ## Why is this bad?
    Go durations take the units `ns us µs ms s m h` only (no days), need a unit on every number but
    `0`, and allow no spaces. Grafana's SSO settings code reads these keys with `MustDuration`, which
    falls back to 90s and 48h without a log line; what the Enterprise SAML code does with such a value
    is not public. Either way your value is not used.

    ## Example
    ```ini
    [auth.saml]
    max_issue_delay = 90
    metadata_valid_duration = 7d
    ```

    ## Use instead
    ```ini
    [auth.saml]
    max_issue_delay = 90s
    metadata_valid_duration = 168h
    ```
    """
    for key in _DURATION_KEYS:
        setting = ctx.setting(key)
        value = _checkable(setting)
        if setting is None or value is None:
            continue
        try:
            _duration_seconds(setting, value)
        except DurationError as exc:
            meant = _suggest_duration(value)
            hint = (
                f"write `{key} = {meant}`"
                if meant
                else "use a number with a unit s, m or h (no days), e.g. 90s, 30m, 48h"
            )
            yield ctx.at(
                setting,
                f"{_kv(key, value)}: {exc}; Grafana silently uses {SAML_KEYS[key].default} instead",
                hint,
                at_value=True,
            )


# Linter policy, not Grafana limits: (lowest, highest) in seconds, with what goes wrong outside.
_DURATION_POLICY = {
    "max_issue_delay": (
        30.0,
        3600.0,
        "assertions that take a little longer to arrive, or a Grafana clock slightly behind the IdP's, "
        "fail with `response IssueInstant expired`",
        "a captured SAML response can be replayed for that long",
    ),
    "metadata_valid_duration": (
        3600.0,
        30 * 86400.0,
        "the SP metadata Grafana publishes expires before many IdPs fetch it again",
        "an IdP keeps trusting a copy of Grafana's metadata (and certificate) long after you rotate it",
    ),
}


@rule("TYPE-003", "duration-out-of-range", Severity.WARNING)
def duration_out_of_range(ctx: LintContext) -> Iterator[Finding]:
    """A `max_issue_delay` or `metadata_valid_duration` outside the range gtool considers sensible.

    ## What it does
    Warns when `max_issue_delay` is under 30s or over 1h, or `metadata_valid_duration` is under 1h or
    over 30 days (720h). These thresholds are gtool's policy, not limits Grafana enforces: Grafana
    accepts any Go duration.

    ## Why is this bad?
    `max_issue_delay` is how old a SAML response may be: too short and ordinary network or clock
    delays reject logins (`response IssueInstant expired`), too long and a stolen response stays
    usable. `metadata_valid_duration` sets `validUntil` in Grafana's SP metadata: too short and IdPs
    that cache metadata see it expired, too long and they keep an outdated certificate.

    ## Example
    ```ini
    [auth.saml]
    max_issue_delay = 5s
    metadata_valid_duration = 8760h
    ```

    ## Use instead
    ```ini
    [auth.saml]
    max_issue_delay = 90s
    metadata_valid_duration = 48h
    ```
    """
    for key, (low, high, too_low, too_high) in _DURATION_POLICY.items():
        setting = ctx.setting(key)
        value = _checkable(setting)
        if setting is None or value is None:
            continue
        try:
            seconds = _duration_seconds(setting, value)
        except DurationError:
            continue  # TYPE-002
        default = SAML_KEYS[key].default
        if seconds < low:
            shown = "zero or negative" if seconds <= 0 else f"shorter than {format_duration(low)}"
            message = f"{_kv(key, value)} is {shown} (gtool's threshold): {too_low}"
        elif seconds > high:
            message = (
                f"{_kv(key, value)} is longer than {format_duration(high)} (gtool's threshold): {too_high}"
            )
        else:
            continue
        yield ctx.at(
            setting,
            message,
            f"use the default {default} unless you have a reason; keep it between "
            f"{format_duration(low)} and {format_duration(high)}",
            at_value=True,
        )


_HASH_DIGITS = re.compile(r"(?:sha-?|rs|ps)(1|224|256|384|512)(?!\d)")


def _suggest_algorithm(value: str) -> str | None:
    """The short name for a case variant, an XMLDSig URI (`…#rsa-sha256`) or `RS256`/`SHA256withRSA`."""
    text = value.strip().lower()
    if text in SIGNATURE_ALGORITHMS:
        return text
    text = text.rsplit("#", 1)[-1].replace("_", "-")
    if "hmac" in text or re.search(r"(^|[^r])dsa", text):
        return None  # not an RSA algorithm: no short name fits
    m = _HASH_DIGITS.search(text)
    if m is None:
        return None
    candidate = f"rsa-sha{m.group(1)}"
    return candidate if candidate in SIGNATURE_ALGORITHMS else "rsa-sha256"


@rule("TYPE-004", "invalid-signature-algorithm", Severity.ERROR)
def invalid_signature_algorithm(ctx: LintContext) -> Iterator[Finding]:
    """A `signature_algorithm` other than `rsa-sha1`, `rsa-sha256` or `rsa-sha512`, or the legacy `rsa-sha1`.

    ## What it does
    Reports values Grafana does not accept, including upper-case spellings (`RSA-SHA256`) and XMLDSig
    URIs (`http://www.w3.org/2001/04/xmldsig-more#rsa-sha256`), with the short name to use. Warns
    about `rsa-sha1`.

    ## Why is this bad?
    Grafana takes exactly the three lower-case short names; the SAML library it uses signs with
    RSA-SHA1/256/512 only and fails on anything else (`invalid signing method`), so requests cannot be
    signed. SHA-1 signatures are deprecated: the docs call `rsa-sha1` legacy and some IdPs reject it.

    ## Example
    ```ini
    [auth.saml]
    signature_algorithm = http://www.w3.org/2001/04/xmldsig-more#rsa-sha256
    ```

    ## Use instead
    ```ini
    [auth.saml]
    signature_algorithm = rsa-sha256
    ```
    """
    setting = ctx.setting("signature_algorithm")
    value = _checkable(setting)
    if value is None:
        return
    if value == "rsa-sha1":
        yield ctx.at(
            setting,
            "`signature_algorithm = rsa-sha1` signs requests with SHA-1, which the docs call legacy "
            "and some IdPs reject",
            "use `signature_algorithm = rsa-sha256`, and set the IdP to expect SHA-256 signed requests",
            severity=Severity.WARNING,
            at_value=True,
        )
        return
    if value in SIGNATURE_ALGORITHMS:
        return
    # go-ini cuts an XMLDSig URI at its `#` (INI-005); the text as written still says what was meant.
    written = setting.written if setting is not None and setting.source.kind == "file" else None
    cut = written is not None and written.comment is not None
    meant = _suggest_algorithm(written.raw if written is not None and cut else value)
    hint = (
        f"write `signature_algorithm = {meant}`"
        if meant
        else "Grafana signs with RSA keys only: use rsa-sha256 (or rsa-sha512) with an RSA key pair"
    )
    yield ctx.at(
        setting,
        f"`signature_algorithm = {value}`{' (go-ini cut the value at `#`)' if cut else ''} is not one of "
        f"{', '.join(SIGNATURE_ALGORITHMS)} (exact, lower case): Grafana cannot sign requests with it",
        hint,
        at_value=True,
    )


_FORMAT_WORDS = {
    "transient": NAME_ID_FORMATS[0],
    "unspecified": NAME_ID_FORMATS[1],
    "email": NAME_ID_FORMATS[2],
    "persistent": NAME_ID_FORMATS[3],
}


def _suggest_name_id_format(value: str) -> str | None:
    text = value.strip().lower()
    for word, urn in _FORMAT_WORDS.items():
        if word in text:
            return urn
    close = difflib.get_close_matches(value.strip(), NAME_ID_FORMATS, n=1, cutoff=0.6)
    return close[0] if close else None


@rule("TYPE-005", "invalid-name-id-format", Severity.ERROR)
def invalid_name_id_format(ctx: LintContext) -> Iterator[Finding]:
    """A `name_id_format` that is not one of the four NameID format URNs Grafana accepts.

    ## What it does
    Compares `name_id_format` with the four URNs Grafana documents, and suggests the closest one. The
    SAML version in the URN matters: `transient` and `persistent` are `SAML:2.0` names,
    `emailAddress` and `unspecified` are `SAML:1.1` names.

    ## Why is this bad?
    Grafana puts this value in the `NameIDPolicy` of every login request. A format the IdP does not
    know (a short name like `emailAddress`, a wrong SAML version, a typo) typically makes the IdP
    answer with an `InvalidNameIDPolicy` error instead of logging the user in.

    ## Example
    ```ini
    [auth.saml]
    name_id_format = urn:oasis:names:tc:SAML:2.0:nameid-format:emailAddress
    ```

    ## Use instead
    ```ini
    [auth.saml]
    name_id_format = urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress
    ```
    """
    setting = ctx.setting("name_id_format")
    value = _checkable(setting)
    if value is None or value in NAME_ID_FORMATS:
        return
    meant = _suggest_name_id_format(value)
    hint = f"write `name_id_format = {meant}`" if meant else "use one of: " + ", ".join(NAME_ID_FORMATS)
    yield ctx.at(
        setting,
        f"`name_id_format = {value}` is not one of the four NameID formats Grafana accepts: the IdP "
        "will likely reject the login request (InvalidNameIDPolicy)",
        hint,
        at_value=True,
    )


_JSON_ESCAPES = frozenset('"\\/bfnrtu')


def _json_string(raw: str) -> str | None:
    """The text of a double-quoted JSON item, with lone backslashes (`\\:`) kept literally."""
    fixed = re.sub(
        r"\\(.)", lambda m: m.group(0) if m.group(1) in _JSON_ESCAPES else "\\\\" + m.group(1), raw
    )
    try:
        item = json.loads(f'"{fixed}"')
    except ValueError:
        return None
    return item if isinstance(item, str) else None


def _repair_json_list(value: str) -> str | None:
    """A valid JSON array of strings for a broken one: `\\:` -> `\\\\:`, trailing comma, single quotes,
    unquoted items and numbers. ``None`` when the intent is not clear (nested lists, objects, stray quotes).
    """
    text = value.strip()
    if not text.startswith("["):
        return None
    inner = text[1:-1] if text.endswith("]") else text[1:]
    items: list[str] = []
    token = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^,"\'\[\]{}]*?))\s*(,|$)')
    pos = 0
    while pos < len(inner):
        m = token.match(inner, pos)
        if m is None or m.end() == pos:
            return None
        double, single, bare, _ = m.groups()
        if double is not None:
            item = _json_string(double)
            if item is None:
                return None
            items.append(item)
        elif single is not None:
            items.append(single)
        elif bare:
            items.append(bare)
        pos = m.end()
    if not items:
        return None
    fixed = json.dumps(items, ensure_ascii=False)
    return fixed if split_string(fixed).error is None else None


def _empty_list_effect(key: str) -> str:
    if key == "allowed_organizations":
        return "it no longer restricts who may log in"
    if key == "org_mapping":
        return "no org mapping applies"
    if key == "role_values_grafana_admin":
        return "nobody is made Grafana Admin through it"
    role = key.removeprefix("role_values_").capitalize()
    return f"nobody gets the {role} role through it"


@rule("TYPE-006", "invalid-json-list", Severity.ERROR)
def invalid_json_list(ctx: LintContext) -> Iterator[Finding]:
    """A list value that starts with `[` but is not a valid JSON array of strings.

    ## What it does
    Checks `role_values_*`, `allowed_organizations` and `org_mapping`: once the value starts with
    `[`, Grafana parses it as JSON. Reports the JSON error and, where the intent is clear, the value
    rewritten as valid JSON (a single `\\` before `:` doubled, a trailing comma removed, single quotes
    or bare words quoted).

    ## Why is this bad?
    Grafana's `util.SplitString` swallows the JSON error and returns an empty list, without a log line:
    role values match nobody, `org_mapping` maps nothing, and an empty `allowed_organizations` lets
    every user in. `\\:` is the usual culprit: JSON needs `\\\\:` for a literal backslash.

    ## Example
    ```ini
    [auth.saml]
    role_values_admin = ["Grafana Admins", "ops",]
    org_mapping = ["team\\:ops:2:Editor"]
    ```

    ## Use instead
    ```ini
    [auth.saml]
    role_values_admin = ["Grafana Admins", "ops"]
    org_mapping = ["team\\\\:ops:2:Editor"]
    ```
    """
    for key in LIST_KEYS:
        setting = ctx.setting(key)
        value = _checkable(setting)
        if value is None:
            continue
        result = split_string(value)
        if result.form != "json" or result.error is None:
            continue
        if key == "org_mapping" and has_bad_json_escape(value):
            continue  # ORG-006 says the same with the exact fix
        fixed = _repair_json_list(value)
        hint = (
            f"write valid JSON: {key} = {fixed}"
            if fixed
            else 'write a JSON array of double-quoted strings, e.g. ["Grafana Admins", "ops"], '
            "or drop the brackets and separate plain values with commas"
        )
        yield ctx.at(
            setting,
            f"`{key}` starts with `[` but is not a JSON array of strings ({result.error}): "
            f"Grafana reads an empty list: {_empty_list_effect(key)}",
            hint,
            at_value=True,
        )


_URL_KEYS = {
    "idp_metadata_url": "the IdP metadata cannot be fetched, so SAML login does not start",
    "token_url": "Grafana cannot get a token for the Graph API, so group lookups fail",
}


@rule("TYPE-007", "invalid-url", Severity.ERROR)
def invalid_url(ctx: LintContext) -> Iterator[Finding]:
    """An `idp_metadata_url` or `token_url` that is not an absolute http(s) URL, or uses plain `http://`.

    ## What it does
    Reports values without a scheme or host (`idp.example.com/metadata`), with another scheme
    (`file:///…`), or with spaces; warns about `http://`.

    ## Why is this bad?
    Grafana fetches these URLs over HTTP(S): anything else cannot be fetched. Over plain `http://`
    the IdP metadata (which holds the certificates Grafana trusts) or the Graph API token can be read
    or replaced by anyone on the network path.

    ## Example
    ```ini
    [auth.saml]
    idp_metadata_url = http://idp.example.com/app/metadata
    ```

    ## Use instead
    ```ini
    [auth.saml]
    idp_metadata_url = https://idp.example.com/app/metadata
    ```
    """
    for key, effect in _URL_KEYS.items():
        setting = ctx.setting(key)
        value = _checkable(setting)
        if value is None:
            continue
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        scheme = parts.scheme.lower() if parts else ""
        if parts is None or scheme not in ("http", "https") or not host or re.search(r"\s", value):
            if key == "idp_metadata_url" and (
                value.startswith(("/", "./", "../", "file:")) or value[1:3] == ":\\"
            ):
                hint = "a file belongs in idp_metadata_path: idp_metadata_path = " + value.removeprefix(
                    "file://"
                )
            elif parts is not None and not scheme and "." in value.split("/")[0]:
                hint = f"add the scheme: {key} = https://{value}"
            else:
                hint = f"write the full https:// URL in `{key}`"
            yield ctx.at(
                setting, f"{_kv(key, value)} is not an absolute http(s) URL: {effect}", hint, at_value=True
            )
        elif scheme == "http":
            yield ctx.at(
                setting,
                f"`{key}` uses plain http://: what Grafana fetches from {host} can be read or changed "
                "on the way",
                f"use https://{value[len('http://') :]}",
                severity=Severity.WARNING,
                at_value=True,
            )


@rule("TYPE-008", "invalid-auto-assign-org-role", Severity.WARNING, scope="file")
def invalid_auto_assign_org_role(ctx: LintContext) -> Iterator[Finding]:
    """`[users] auto_assign_org_role` not exactly `None`, `Viewer`, `Editor` or `Admin`.

    ## What it does
    Checks the effective `[users] auto_assign_org_role` (file, environment or command line) against the
    four role names, which are case-sensitive. Runs on every file, with or without `[auth.saml]`:
    `[users]` often lives in another file than the SAML settings, and the fallback hits every login
    method, SAML included.

    ## Why is this bad?
    Grafana reads the key with go-ini's `In("Viewer", [None Viewer Editor Admin])`: any other value,
    `editor` included, silently becomes `Viewer`. With SAML, it is the role of every user whose role
    values match no `role_values_*` list, so users get less (or more) access than you set.

    ## Example
    ```ini
    [users]
    auto_assign_org_role = editor
    ```

    ## Use instead
    ```ini
    [users]
    auto_assign_org_role = Editor
    ```
    """
    setting = ctx.setting("auto_assign_org_role", USERS)
    if setting is None or setting.source.kind == "default" or setting.value in ORG_ROLES:
        return
    value = setting.value
    folded = value.strip().lower().replace(" ", "")
    by_fold = {r.lower(): r for r in ORG_ROLES}
    if folded in by_fold:
        hint = f"write `auto_assign_org_role = {by_fold[folded]}` (role names are case-sensitive)"
    elif "grafanaadmin" in folded or "serveradmin" in folded or "superadmin" in folded:
        hint = (
            "Grafana Admin is not an org role: use Admin here and role_values_grafana_admin for server admins"
        )
    else:
        hint = "use one of None, Viewer, Editor, Admin (exact case)"
    yield ctx.at(
        setting,
        f"{_kv('auto_assign_org_role', value)} is not exactly None, Viewer, Editor or Admin: "
        "Grafana silently uses Viewer",
        hint,
        at_value=True,
    )
