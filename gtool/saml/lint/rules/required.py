"""Required and exclusive keys: what SAML needs, and keys that must not be set together
(saml-reference.md §1, §6.3, §10 REQ-001…REQ-010)."""

from __future__ import annotations

from collections.abc import Iterator

from gtool.saml.keys import NAME_ID_FORMATS
from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.settings import Setting

_METADATA_KEYS = ("idp_metadata", "idp_metadata_path", "idp_metadata_url")
_GRAPH_KEYS = ("client_id", "client_secret", "token_url")


def _set(ctx: LintContext, *keys: str) -> list[Setting]:
    """The settings some layer (file, env, cfg:, SSO record) gives a non-empty value, in ``keys`` order."""
    out = []
    for key in keys:
        setting = ctx.setting(key)
        if setting is not None and ctx.is_set(key):
            out.append(setting)
    return out


def _names(settings: list[Setting] | list[str]) -> str:
    names = [f"`{s if isinstance(s, str) else s.key}`" for s in settings]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@rule("REQ-001", "idp-metadata-missing", Severity.ERROR)
def idp_metadata_missing(ctx: LintContext) -> Iterator[Finding]:
    """SAML is enabled but none of `idp_metadata`, `idp_metadata_path`, `idp_metadata_url` is set.

    ## What it does
    Looks for the IdP metadata in every layer Grafana reads (file, `GF_AUTH_SAML_*`, `cfg:` arguments,
    SSO settings record) when `enabled = true`. With an SSO settings record it also says when the
    ini's metadata keys are the ones being ignored.

    ## Why is this bad?
    The metadata tells Grafana where to send users and which certificates sign the IdP's responses;
    without it SAML cannot start (Grafana's validator says `No value for key 'idp_metadata' was
    provided`). An SSO settings record owns the `idp_metadata*` keys even when it leaves them out, so
    metadata in grafana.ini does not help then.

    ## Example
    ```ini
    [auth.saml]
    enabled = true
    certificate_path = /etc/grafana/saml.crt
    private_key_path = /etc/grafana/saml.key
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    certificate_path = /etc/grafana/saml.crt
    private_key_path = /etc/grafana/saml.key
    idp_metadata_url = https://idp.example.com/app/metadata
    ```
    """
    if not ctx.enabled or _set(ctx, *_METADATA_KEYS):
        return
    message = (
        "SAML is enabled but no IdP metadata is set (idp_metadata, idp_metadata_path or idp_metadata_url)"
    )
    section = ctx.saml_section
    shadowed = [
        k for k in _METADATA_KEYS if section is not None and section.keys.get(k) and section.keys[k].value
    ]
    if ctx.config.sso_overrides and shadowed:
        message += (
            f"; the SSO settings record owns these keys, so {', '.join(shadowed)} in the file "
            f"{'is' if len(shadowed) == 1 else 'are'} ignored"
        )
        hint = "add the metadata to the SSO settings record (UI or PUT /api/v1/sso-settings/saml)"
    else:
        hint = "set one of idp_metadata_url, idp_metadata_path or idp_metadata (base64 of the XML)"
    yield ctx.at(ctx.setting("enabled"), message + ": SAML login cannot start", hint)


@rule("REQ-002", "multiple-idp-metadata", Severity.ERROR)
def multiple_idp_metadata(ctx: LintContext) -> Iterator[Finding]:
    """More than one of `idp_metadata`, `idp_metadata_path` and `idp_metadata_url` is set.

    ## What it does
    Counts the IdP metadata keys that have a value in any layer (file, environment, `cfg:` arguments,
    SSO settings record).

    ## Why is this bad?
    Grafana takes the IdP metadata from exactly one source; the docs say that setting more than one
    "results in an error" and the settings validator rejects it (`Too many options have been provided
    for the 'idp_metadata' key`). A leftover `idp_metadata_path` next to a new `idp_metadata_url`
    is a common cause.

    ## Example
    ```ini
    [auth.saml]
    idp_metadata_path = /etc/grafana/idp.xml
    idp_metadata_url = https://idp.example.com/app/metadata
    ```

    ## Use instead
    ```ini
    [auth.saml]
    idp_metadata_url = https://idp.example.com/app/metadata
    ```
    """
    found = _set(ctx, *_METADATA_KEYS)
    if len(found) > 1:
        yield ctx.at(
            found[-1],
            f"{_names(found)} are all set: Grafana accepts exactly one source of IdP metadata and rejects "
            "the settings (`Too many options have been provided`)",
            f"keep one of {_names(found)} and remove the others",
        )


@rule("REQ-003", "value-and-path-both-set", Severity.ERROR)
def value_and_path(ctx: LintContext) -> Iterator[Finding]:
    """Both `certificate` and `certificate_path`, or both `private_key` and `private_key_path`, are set.

    ## What it does
    Reports each pair where the inline (base64) form and the file form have a value in any layer.

    ## Why is this bad?
    The two forms are mutually exclusive: the settings validator rejects the pair (`Too many options
    have been provided for the 'certificate' key`). Even where it is not rejected, it is unclear
    which certificate or key Grafana uses, and a rotation may change only one of them.

    ## Example
    ```ini
    [auth.saml]
    certificate = LS0tLS1CRUdJTi...
    certificate_path = /etc/grafana/saml.crt
    ```

    ## Use instead
    ```ini
    [auth.saml]
    certificate_path = /etc/grafana/saml.crt
    ```
    """
    for key in ("certificate", "private_key"):
        found = _set(ctx, key, f"{key}_path")
        if len(found) == 2:
            yield ctx.at(
                found[1],
                f"both `{key}` and `{key}_path` are set: Grafana accepts one of them and rejects the "
                "settings (`Too many options have been provided`)",
                f"keep `{key}_path` (a file) or `{key}` (base64 of the file), not both",
            )


@rule("REQ-004", "certificate-key-pair-incomplete", Severity.ERROR)
def pair_incomplete(ctx: LintContext) -> Iterator[Finding]:
    """An SP certificate without a private key, or a private key without a certificate.

    ## What it does
    Reports a `certificate`/`certificate_path` with no `private_key`/`private_key_path`, and the
    reverse, across all layers.

    ## Why is this bad?
    Grafana needs both halves: the private key signs requests and decrypts encrypted assertions, the
    certificate is what it publishes in its SP metadata so the IdP can check those signatures and
    encrypt for it. With one half SAML cannot be set up.

    ## Example
    ```ini
    [auth.saml]
    certificate_path = /etc/grafana/saml.crt
    ```

    ## Use instead
    ```ini
    [auth.saml]
    certificate_path = /etc/grafana/saml.crt
    private_key_path = /etc/grafana/saml.key
    ```
    """
    certs = _set(ctx, "certificate", "certificate_path")
    keys = _set(ctx, "private_key", "private_key_path")
    if certs and not keys:
        yield ctx.at(
            certs[0],
            f"{_names(certs)} is set but no private key: Grafana needs the matching key to sign requests "
            "and decrypt assertions",
            "set private_key_path (a PKCS#8 PEM file) or private_key (base64 of that file)",
        )
    elif keys and not certs:
        yield ctx.at(
            keys[0],
            f"{_names(keys)} is set but no certificate: Grafana needs the matching certificate for its SP "
            "metadata",
            "set certificate_path (a PEM file) or certificate (base64 of that file)",
        )


@rule("REQ-005", "no-sp-certificate", Severity.WARNING)
def no_sp_certificate(ctx: LintContext) -> Iterator[Finding]:
    """SAML is enabled with no SP certificate and key, or `signature_algorithm` is set without them.

    ## What it does
    Reports an enabled SAML configuration where none of `certificate`, `certificate_path`,
    `private_key`, `private_key_path` has a value, and names `signature_algorithm` when it asks for
    signed requests that cannot be signed.

    ## Why is this bad?
    The docs mark the certificate and private key as required. Without them Grafana cannot sign
    authentication or logout requests, and cannot decrypt encrypted assertions: IdPs that expect
    either reject the login.

    ## Example
    ```ini
    [auth.saml]
    enabled = true
    idp_metadata_url = https://idp.example.com/app/metadata
    signature_algorithm = rsa-sha256
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    idp_metadata_url = https://idp.example.com/app/metadata
    certificate_path = /etc/grafana/saml.crt
    private_key_path = /etc/grafana/saml.key
    signature_algorithm = rsa-sha256
    ```
    """
    if not ctx.enabled or _set(ctx, "certificate", "certificate_path", "private_key", "private_key_path"):
        return
    hint = (
        "create a key pair (openssl req -x509 -newkey rsa:2048 …), set certificate_path and private_key_path"
    )
    algorithm = _set(ctx, "signature_algorithm")
    if algorithm:
        yield ctx.at(
            algorithm[0],
            f"`signature_algorithm = {algorithm[0].value}` asks Grafana to sign requests, but no SP "
            "certificate or private key is set: there is nothing to sign with",
            hint,
        )
    else:
        yield ctx.at(
            ctx.setting("enabled"),
            "SAML is enabled without an SP certificate and private key (the docs mark them required): "
            "Grafana cannot sign requests or decrypt encrypted assertions",
            hint,
        )


@rule("REQ-006", "idp-initiated-without-relay-state", Severity.WARNING)
def idp_initiated(ctx: LintContext) -> Iterator[Finding]:
    """`allow_idp_initiated = true` without `relay_state` (warning), or with it (a security note).

    ## What it does
    Warns when IdP-initiated login is allowed and `relay_state` is empty; when `relay_state` is set,
    reports an info note about the login-CSRF risk instead. One finding either way, on the
    `allow_idp_initiated` line.

    ## Why is this bad?
    Grafana expects the relay state the IdP sends with an unsolicited response to match `relay_state`;
    when it does not, login fails (`Corresponding relay state was not found`). Some IdPs send none at
    all, in which case leave it empty on purpose and suppress this rule. IdP-initiated login also
    skips the check that a response answers a request Grafana made, so an attacker can log a victim
    into the attacker's account (login CSRF): enable it only when the IdP needs it.

    ## Example
    ```ini
    [auth.saml]
    allow_idp_initiated = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    allow_idp_initiated = true
    relay_state = <the relay state configured in the IdP>
    ```
    """
    if not ctx.bool("allow_idp_initiated"):
        return
    setting = ctx.setting("allow_idp_initiated")
    risk = "responses no longer have to answer a request Grafana made, which allows login CSRF"
    if not ctx.is_set("relay_state"):
        yield ctx.at(
            setting,
            "`allow_idp_initiated = true` but `relay_state` is empty: logins started at the IdP fail when "
            f"the IdP sends a relay state Grafana does not expect; also, {risk}",
            "set relay_state to the value configured in the IdP (leave it empty only if the IdP sends "
            "none), or set allow_idp_initiated = false if users start at Grafana",
        )
    else:
        yield ctx.at(
            setting,
            f"`allow_idp_initiated = true`: {risk}",
            "keep it only if users must start logins from the IdP's portal",
            severity=Severity.INFO,
        )


@rule("REQ-007", "single-logout-transient-name-id", Severity.WARNING)
def slo_transient(ctx: LintContext) -> Iterator[Finding]:
    """`single_logout = true` with a transient (or unset) `name_id_format`.

    ## What it does
    Reports single logout together with the default NameID format, transient.

    ## Why is this bad?
    A logout request names the user by the NameID of their login; a transient NameID is a one-time
    value that the IdP may not recognise later, so logout at the IdP fails or leaves sessions behind.
    The docs recommend `emailAddress` or `persistent` with single logout, matching what the IdP sends.

    ## Example
    ```ini
    [auth.saml]
    single_logout = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    single_logout = true
    name_id_format = urn:oasis:names:tc:SAML:2.0:nameid-format:persistent
    ```
    """
    if not ctx.bool("single_logout"):
        return
    value = ctx.value("name_id_format")
    if value not in ("", NAME_ID_FORMATS[0]):
        return
    shown = "is not set (transient by default)" if value == "" else "is transient"
    yield ctx.at(
        ctx.setting("name_id_format") or ctx.setting("single_logout"),
        f"`single_logout = true` but `name_id_format` {shown}: the IdP may not recognise the one-time "
        "NameID in the logout request",
        f"set name_id_format = {NAME_ID_FORMATS[3]} (or the emailAddress format), the same format the "
        "IdP sends",
    )


@rule("REQ-008", "graph-api-incomplete", Severity.WARNING)
def graph_api_incomplete(ctx: LintContext) -> Iterator[Finding]:
    """Some but not all of `client_id`, `client_secret`, `token_url`, or `force_use_graph_api` without them.

    ## What it does
    Checks the Entra ID Graph API settings (Grafana 11.2+) as a set: all three or none.

    ## Why is this bad?
    Grafana fetches groups from the Microsoft Graph API when Entra ID leaves them out of the assertion
    (more than 150 groups) or when `force_use_graph_api = true`; it needs the app's client ID, secret
    and token URL for that. With one missing the lookup fails, and users get no groups, teams or
    roles from them.

    ## Example
    ```ini
    [auth.saml]
    client_id = 00000000-0000-0000-0000-000000000000
    force_use_graph_api = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    client_id = 00000000-0000-0000-0000-000000000000
    client_secret = $__file{/run/secrets/graph-secret}
    token_url = https://login.microsoftonline.com/<tenant-id>/oauth2/v2.0/token
    force_use_graph_api = true
    ```
    """
    found = _set(ctx, *_GRAPH_KEYS)
    missing = [k for k in _GRAPH_KEYS if all(s.key != k for s in found)]
    if not missing:
        return
    if found:
        yield ctx.at(
            found[0],
            f"{_names(found)} {'is' if len(found) == 1 else 'are'} set but not {_names(missing)}: Grafana "
            "cannot call the Graph API for groups",
            f"set {_names(missing)} too, or remove {_names(found)}",
        )
    elif ctx.bool("force_use_graph_api"):
        yield ctx.at(
            ctx.setting("force_use_graph_api"),
            "`force_use_graph_api = true` but client_id, client_secret and token_url are not set: every "
            "group lookup fails",
            "set client_id, client_secret and token_url of the Entra ID app, or remove force_use_graph_api",
        )


@rule("REQ-009", "allow-sign-up-implicit", Severity.INFO)
def allow_sign_up_implicit(ctx: LintContext) -> Iterator[Finding]:
    """`allow_sign_up` is not set, and Grafana's code and docs disagree on its default.

    ## What it does
    Reports an enabled SAML configuration where no layer sets `allow_sign_up`.

    ## Why is this bad?
    Grafana's SSO settings code defaults `allow_sign_up` to false, while the SAML docs say true. With
    false, users who do not exist in Grafana yet get `Sign up is disabled`; with true, anyone the IdP
    lets through gets an account. Say which one you want.

    ## Example
    ```ini
    [auth.saml]
    enabled = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    allow_sign_up = true
    ```
    """
    if ctx.enabled and not ctx.is_set("allow_sign_up"):
        yield ctx.at(
            ctx.setting("enabled"),
            "`allow_sign_up` is not set: Grafana's SSO settings code treats it as false (new users get "
            "`Sign up is disabled`), while the SAML docs say the default is true",
            "set allow_sign_up = true to create users on first login, or false to admit existing users only",
        )


@rule("REQ-010", "login-email-attribute-default", Severity.INFO)
def login_email_default(ctx: LintContext) -> Iterator[Finding]:
    """`assertion_attribute_login` or `assertion_attribute_email` is not set, so Grafana looks for `mail`.

    ## What it does
    Reports an enabled SAML configuration that leaves the login or email attribute to Grafana's
    documented default, `mail`. gtool cannot see what the IdP sends from the configuration alone,
    so this is a note, not a warning.

    ## Why is this bad?
    Attribute names are matched exactly. Many IdPs do not send an attribute named `mail`: Entra ID
    sends `http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress`, Okta and Keycloak
    send what you map (often `email`). Then Grafana gets no login or email for the user.

    ## Example
    ```ini
    [auth.saml]
    enabled = true
    assertion_attribute_name = displayName
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    assertion_attribute_name = displayName
    assertion_attribute_login = email
    assertion_attribute_email = email
    ```
    """
    if not ctx.enabled:
        return
    unset = [k for k in ("assertion_attribute_login", "assertion_attribute_email") if not ctx.is_set(k)]
    if not unset:
        return
    which = " and ".join(f"`{k}`" for k in unset)
    verb = "are" if len(unset) > 1 else "is"
    yield ctx.at(
        ctx.setting("enabled"),
        f"{which} {verb} not set: Grafana reads the attribute `mail` (the documented default); if the IdP "
        "does not send an attribute named exactly `mail`, Grafana gets no login or email for the user",
        f"set {which} to the attribute name the IdP sends (see it with a SAML tracer browser extension)",
    )
