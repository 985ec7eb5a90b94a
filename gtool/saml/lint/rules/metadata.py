"""META rules: the IdP metadata (saml-reference.md §7.3, §10 META-001…META-005).

Metadata comes from `idp_metadata` (base64 of the XML), the `idp_metadata_path` file, or
`idp_metadata_url`, which is fetched only when linting with ``--fetch-metadata``. It is read as crewjam's
``ParseMetadata`` reads it: an ``EntityDescriptor`` root, or the first ``EntityDescriptor`` child of an
``EntitiesDescriptor`` root that has an ``IDPSSODescriptor``. Each source is loaded once per lint run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from gtool.saml import pki
from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule
from gtool.saml.lint.rules.certs import usable
from gtool.saml.settings import Setting
from gtool.saml.values import parse_bool

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from lxml import etree

MD = "urn:oasis:names:tc:SAML:2.0:metadata"  # == gtool.saml.xml.MD; that module imports lxml
DS = "http://www.w3.org/2000/09/xmldsig#"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
METADATA_KEYS = ("idp_metadata", "idp_metadata_path", "idp_metadata_url")
FETCH_TIMEOUT = 10.0  # seconds, for the whole download
MAX_BYTES = 10 * 1024 * 1024
_REFETCH = "download the IdP metadata again from the IdP's admin console"


@dataclass
class Metadata:
    """One metadata source and what came of reading it."""

    setting: Setting
    origin: str  # for messages: "`idp_metadata_path` file /etc/grafana/idp.xml"
    entity: etree._Element | None = None  # the EntityDescriptor crewjam would use
    root: etree._Element | None = None
    problem: tuple[str, str] | None = None  # META-001 (message, hint)
    signing: list[tuple[int | None, Certificate | str]] = field(default_factory=list)  # (line, cert or error)

    def services(self, name: str) -> list[etree._Element]:
        """``SingleSignOnService``/``SingleLogoutService`` elements of every IDPSSODescriptor, in order."""
        if self.entity is None:
            return []
        return [
            el
            for idp in self.entity.iterchildren(f"{{{MD}}}IDPSSODescriptor")
            for el in idp.iterchildren(f"{{{MD}}}{name}")
        ]


_CACHE: dict[int, list[Metadata]] = {}


def load_metadata(ctx: LintContext) -> list[Metadata]:
    """Every configured metadata source, read and parsed once per :class:`LintContext`."""
    key = id(ctx)
    if key not in _CACHE:
        _CACHE[key] = [m for k in METADATA_KEYS if (m := _load(ctx, k)) is not None]
        weakref.finalize(ctx, _CACHE.pop, key, None)
    return _CACHE[key]


def _load(ctx: LintContext, key: str) -> Metadata | None:
    setting = ctx.setting(key)
    if setting is None or not usable(setting):
        return None
    value = setting.value
    if key == "idp_metadata":
        return _from_bytes(Metadata(setting, "`idp_metadata`"), _decode_inline(value))
    if key == "idp_metadata_path":
        resolved = os.path.abspath(ctx.resolve(value))
        m = Metadata(setting, f"`idp_metadata_path` file {resolved}")
        try:
            data: bytes | tuple[str, str] = ctx.read_bytes(value, limit=MAX_BYTES)
        except OSError as exc:
            data = (
                f"`idp_metadata_path = {value}`: cannot read {resolved}: {exc.strerror or exc}",
                "check the path and that the Grafana user can read the file; relative paths resolve from "
                "Grafana's working directory, so prefer an absolute path",
            )
        return _from_bytes(m, data)
    if not ctx.fetch_metadata or urlsplit(value.strip()).scheme.lower() not in ("http", "https"):
        return None  # not asked to fetch; a non-HTTP URL is TYPE-007's finding
    m = Metadata(setting, f"`idp_metadata_url` {value.strip()}")
    try:
        fetched: bytes | tuple[str, str] = fetch(value.strip())
    except FetchError as exc:
        fetched = (
            f"`idp_metadata_url`: fetching {value.strip()} failed: {exc}",
            "check the URL and that the IdP is reachable; Grafana fetches it from its own server at startup",
        )
    return _from_bytes(m, fetched)


def _decode_inline(value: str) -> bytes | tuple[str, str]:
    encode = "set it to the output of `base64 -w0 metadata.xml` (one line), or use `idp_metadata_path`"
    if value.lstrip().startswith("<"):
        return "`idp_metadata` holds XML text; Grafana expects the base64 of the metadata file", encode
    data = pki.b64decode_strict(value)
    if data is None:
        return "`idp_metadata` is not valid base64", encode
    return data


def _from_bytes(m: Metadata, data: bytes | tuple[str, str]) -> Metadata:
    if isinstance(data, tuple):
        m.problem = data
        return m
    from gtool.saml.xml import XmlError, parse_xml  # lxml: only when there is metadata to read

    try:
        m.root = parse_xml(data, what=f"the IdP metadata in {m.origin}", max_bytes=MAX_BYTES)
    except XmlError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        hint = "remove the DOCTYPE: SAML metadata never needs one" if "DOCTYPE" in exc.message else _REFETCH
        m.problem = (f"{exc.message}{where}", hint)
        return m
    m.entity, problem = _find_entity(m.root)
    if problem:
        m.problem = (f"the IdP metadata in {m.origin} {problem}", _REFETCH + " (its SAML 2.0 IdP metadata)")
    else:
        m.signing = _signing_certificates(m.entity)
    return m


def _find_entity(root: etree._Element) -> tuple[etree._Element | None, str | None]:
    """crewjam ``ParseMetadata``: the entity it would use, or what is wrong (a sentence fragment)."""
    tag = root.tag if isinstance(root.tag, str) else ""
    ns, _, local = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
    if local in ("EntityDescriptor", "EntitiesDescriptor") and ns != MD:
        return None, f"has a <{local}> root in namespace {ns or '(none)'!r}, not {MD!r}"
    if local == "EntityDescriptor":
        if next(root.iterchildren(f"{{{MD}}}IDPSSODescriptor"), None) is not None:
            return root, None
        sp = next(root.iterchildren(f"{{{MD}}}SPSSODescriptor"), None) is not None
        what = " (it is SP metadata, perhaps Grafana's own /saml/metadata)" if sp else ""
        return None, f"has no IDPSSODescriptor{what}: it does not describe an identity provider"
    if local == "EntitiesDescriptor":
        for entity in root.iterchildren(f"{{{MD}}}EntityDescriptor"):
            if next(entity.iterchildren(f"{{{MD}}}IDPSSODescriptor"), None) is not None:
                return entity, None
        return (
            None,
            "has no EntityDescriptor with an IDPSSODescriptor: `no entity found with IDPSSODescriptor`",
        )
    shown = "html: a web page, not metadata" if local.lower() == "html" else local
    return None, f"has a <{shown}> root, not <EntityDescriptor> or <EntitiesDescriptor>"


def _signing_certificates(entity: etree._Element | None) -> list[tuple[int | None, Certificate | str]]:
    """crewjam ``getIDPSigningCerts``: X509Certificates of KeyDescriptors with use="signing" or no use."""
    if entity is None:
        return []
    out: list[tuple[int | None, Certificate | str]] = []
    path = f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
    for idp in entity.iterchildren(f"{{{MD}}}IDPSSODescriptor"):
        for kd in idp.iterchildren(f"{{{MD}}}KeyDescriptor"):
            if kd.get("use", "") not in ("", "signing"):
                continue
            for el in kd.iterfind(path):
                line = _source_line(el)
                try:
                    out.append((line, pki.certificate_from_base64(el.text or "")))
                except pki.PkiError as exc:
                    out.append((line, str(exc)))
    return out


# -- fetching ---------------------------------------------------------------------------------------


class FetchError(Exception):
    """Why a metadata URL could not be downloaded, in words."""


def fetch(url: str, *, timeout: float | None = None, max_bytes: int = MAX_BYTES) -> bytes:
    """GET ``url`` (http/https only, also after redirects) within ``timeout`` seconds and ``max_bytes``."""
    import http.client
    import urllib.error
    import urllib.request

    limit = FETCH_TIMEOUT if timeout is None else timeout

    class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: IO[bytes],
            code: int,
            msg: str,
            headers: http.client.HTTPMessage,
            newurl: str,
        ) -> urllib.request.Request | None:
            if urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise FetchError(f"redirected to a non-HTTP URL ({newurl})")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.build_opener(HttpOnlyRedirects)
    request = urllib.request.Request(
        url,
        headers={"User-Agent": "gtool-saml-lint", "Accept": "application/samlmetadata+xml, application/xml"},
    )
    deadline = time.monotonic() + limit
    try:
        with opener.open(request, timeout=limit) as resp:
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"the response is larger than {max_bytes // (1024 * 1024)} MiB")
            chunks: list[bytes] = []
            size = 0
            while chunk := resp.read(65536):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"the response is larger than {max_bytes // (1024 * 1024)} MiB")
                if time.monotonic() > deadline:
                    raise FetchError(f"timed out after {limit:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = f"timed out after {limit:g} s" if isinstance(reason, TimeoutError) else str(reason)
        raise FetchError(text) from None
    except TimeoutError:
        raise FetchError(f"timed out after {limit:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchError(str(exc) or type(exc).__name__) from None


# -- rules ------------------------------------------------------------------------------------------


@rule("META-001", "invalid-idp-metadata", Severity.ERROR)
def invalid_idp_metadata(ctx: LintContext) -> Iterator[Finding]:
    """The IdP metadata cannot be read, is not XML, or does not describe an identity provider.

    ## What it does
    Reads the metadata from `idp_metadata` (base64), `idp_metadata_path` or, with `--fetch-metadata`,
    `idp_metadata_url`, parses it as hardened XML (a DOCTYPE is refused), and checks that its root is an
    `EntityDescriptor` with an `IDPSSODescriptor`, or an `EntitiesDescriptor` holding one.

    ## Why is this bad?
    Grafana cannot start SAML without the IdP's metadata: it is where the login URL and the IdP's
    signing certificate come from. Typical causes are a file that is missing, raw XML pasted into
    `idp_metadata`, an HTML login page saved instead of the metadata, and SP metadata (Grafana's own)
    given in place of the IdP's (`no entity found with IDPSSODescriptor`).

    ## Example
    ```ini
    [auth.saml]
    idp_metadata_path = /etc/grafana/saml/grafana-sp-metadata.xml
    ```

    ## Use instead
    ```ini
    [auth.saml]
    idp_metadata_path = /etc/grafana/saml/okta-idp-metadata.xml
    ```
    """
    for m in load_metadata(ctx):
        if m.problem:
            yield ctx.at(m.setting, m.problem[0], m.problem[1], at_value=True)


def _source_line(element: etree._Element) -> int | None:
    line = element.sourceline  # lxml-stubs leave it untyped
    return line if isinstance(line, int) else None


def _line(line: int | None) -> str:
    return f" (metadata line {line})" if line else ""


@rule("META-002", "no-idp-signing-cert", Severity.ERROR)
def no_idp_signing_cert(ctx: LintContext) -> Iterator[Finding]:
    """The IdP metadata has no usable signing certificate.

    ## What it does
    Looks for `KeyDescriptor` elements with `use="signing"` or no `use` that hold an `X509Certificate`,
    as Grafana's SAML library does, and checks that each such certificate parses.

    ## Why is this bad?
    Grafana verifies every SAML response with these certificates. Without one, SAML fails with
    `cannot find any signing certificate in the IDP SSO descriptor`; with a broken one, certificate
    parsing fails. Nobody can log in.

    ## Example
    ```ini
    [auth.saml]
    # idp.xml has only <md:KeyDescriptor use="encryption">
    idp_metadata_path = /etc/grafana/saml/idp.xml
    ```

    ## Use instead
    ```ini
    [auth.saml]
    # downloaded again: <md:KeyDescriptor use="signing"> holds the IdP's <ds:X509Certificate>
    idp_metadata_path = /etc/grafana/saml/idp.xml
    ```
    """
    for m in load_metadata(ctx):
        if m.entity is None:
            continue
        if not m.signing:
            yield ctx.at(
                m.setting,
                f'the IdP metadata in {m.origin} has no KeyDescriptor with use="signing" (or no use) holding '
                "an X509Certificate: Grafana fails with `cannot find any signing certificate in the IDP SSO "
                "descriptor`",
                _REFETCH + "; it must include the IdP's signing certificate",
                at_value=True,
            )
        for line, cert in m.signing:
            if isinstance(cert, str):
                yield ctx.at(
                    m.setting,
                    f"a signing certificate in the IdP metadata in {m.origin}{_line(line)} does not parse: "
                    f"{cert}",
                    _REFETCH + "; the X509Certificate must be the base64 DER certificate",
                    at_value=True,
                )


def _parse_datetime(text: str) -> dt.datetime | None:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _expired_certificates(ctx: LintContext, m: Metadata) -> Iterator[Finding]:
    certs = [(line, c) for line, c in m.signing if not isinstance(c, str)]
    expired = [(line, c) for line, c in certs if pki.not_valid_after(c) <= ctx.now]
    for line, cert in expired:
        every = len(expired) == len(certs)
        effect = (
            "Grafana rejects every signed response with `Cert is not valid at this time`"
            if every
            else "responses signed with it are rejected (`Cert is not valid at this time`)"
        )
        yield ctx.at(
            m.setting,
            f"the IdP signing certificate {pki.describe_certificate(cert)} in {m.origin}{_line(line)} "
            f"expired on {pki.not_valid_after(cert):%Y-%m-%d}: {effect}",
            "the IdP has probably rotated its certificate: " + _REFETCH,
            severity=Severity.ERROR if every else None,
            at_value=True,
        )


@rule("META-003", "idp-metadata-expired", Severity.WARNING)
def idp_metadata_expired(ctx: LintContext) -> Iterator[Finding]:
    """An IdP signing certificate has expired, or the metadata's `validUntil` is in the past.

    ## What it does
    Checks the validity end of every IdP signing certificate in the metadata, and the `validUntil`
    attributes of the metadata, its entity and its `IDPSSODescriptor`, against the lint time. When
    every signing certificate has expired, the finding is an error.

    ## Why is this bad?
    Grafana's signature check refuses responses signed with an expired certificate
    (`Cert is not valid at this time`). Outdated metadata usually means the IdP has rotated its
    certificate or moved its endpoints since it was downloaded.

    ## Example
    ```ini
    [auth.saml]
    # downloaded in 2023; the IdP rotated its signing certificate in 2025
    idp_metadata_path = /etc/grafana/saml/idp-2023.xml
    ```

    ## Use instead
    ```ini
    [auth.saml]
    # always current
    idp_metadata_url = https://idp.example.com/app/grafana/sso/saml/metadata
    ```
    """
    for m in load_metadata(ctx):
        if m.entity is None or m.root is None:
            continue
        yield from _expired_certificates(ctx, m)
        holders = [m.root, *([m.entity] if m.entity is not m.root else [])]
        holders += list(m.entity.iterchildren(f"{{{MD}}}IDPSSODescriptor"))
        for el in holders:
            until = _parse_datetime(el.get("validUntil") or "")
            if until is not None and until <= ctx.now:
                name = el.tag.rpartition("}")[2] if isinstance(el.tag, str) else "element"
                yield ctx.at(
                    m.setting,
                    f"the IdP metadata in {m.origin} says it is valid until {until:%Y-%m-%d %H:%M} UTC "
                    f"(validUntil on <{name}>{_line(_source_line(el))}), which has passed",
                    _REFETCH + ", or use `idp_metadata_url` so Grafana reads the current metadata",
                    at_value=True,
                )


# -- META-004 ---------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_SOURCE = re.compile(r"(?:([a-z][a-z0-9+.-]*)://)?(\*|(?:\*\.)?[^/:]+)(?::(\d+|\*))?(/.*)?")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def form_action_sources(template: str, root_url: str) -> list[str] | None:
    """The ``form-action`` sources of a CSP template (``None`` when the directive is absent: no limit)."""
    root = urlsplit(root_url.strip())
    policy = template.replace("$ROOT_PATH", (root.netloc + root.path).rstrip("/"))
    for directive in policy.split(";"):
        parts = directive.split()
        if parts and parts[0].lower() == "form-action":
            return parts[1:]  # the first occurrence wins, as browsers do
    return None


def csp_allows(sources: list[str], url: str, self_url: str) -> bool:
    """Whether a CSP source list allows ``url``: ``'self'``, ``*``, scheme and host sources (CSP3)."""
    scheme, host, port = _origin(url)
    for source in sources:
        low = source.lower()
        if low == "'self'":
            if (scheme, host, port) == _origin(self_url):
                return True
        elif low.startswith("'"):
            continue  # 'none', nonces, hashes, keywords
        elif low == "*":
            if scheme in ("http", "https"):
                return True
        elif re.fullmatch(r"[a-z][a-z0-9+.-]*:", low):
            if low[:-1] == scheme or (low == "http:" and scheme == "https"):
                return True
        elif _host_source_allows(low, scheme, host, port):
            return True
    return False


def _host_source_allows(source: str, scheme: str, host: str, port: int | None) -> bool:
    m = _HOST_SOURCE.fullmatch(source)
    if not m:
        return False
    s_scheme, s_host, s_port = m.group(1), m.group(2), m.group(3)
    if s_scheme and not (s_scheme == scheme or (s_scheme == "http" and scheme == "https")):
        return False
    if not s_scheme and scheme not in ("http", "https"):
        return False
    if s_host.startswith("*."):
        if not host.endswith(s_host[1:]):
            return False
    elif s_host != "*" and s_host != host:
        return False
    if s_port == "*":
        return True
    wanted = int(s_port) if s_port else _DEFAULT_PORTS.get(s_scheme or scheme)
    return port == wanted or (not s_port and s_scheme == "http" and scheme == "https" and port == 443)


def _post_blocked_by_csp(ctx: LintContext, location: str) -> list[str] | None:
    """The ``form-action`` sources when Grafana's CSP blocks a form post to ``location``."""
    if parse_bool(ctx.value("content_security_policy", "security")) is not True:
        return None
    root_url = ctx.value("root_url", "server")
    sources = form_action_sources(ctx.value("content_security_policy_template", "security"), root_url)
    if sources is None or csp_allows(sources, location, root_url):
        return None
    return sources


@rule("META-004", "no-usable-sso-binding", Severity.WARNING)
def no_usable_sso_binding(ctx: LintContext) -> Iterator[Finding]:
    """The IdP offers no HTTP-Redirect or HTTP-POST login, or only HTTP-POST while Grafana's CSP blocks it.

    ## What it does
    Reads the `SingleSignOnService` bindings of the IdP metadata. Reports metadata without an
    HTTP-Redirect or HTTP-POST binding, and HTTP-POST-only IdPs when `[security] content_security_policy`
    is on and the `form-action` directive of `content_security_policy_template` does not allow the IdP.

    ## Why is this bad?
    Grafana sends users to the IdP with the HTTP-Redirect binding, or with a form posted by the
    browser (HTTP-POST). Without either, login cannot start. With HTTP-POST only, Grafana's Content
    Security Policy must allow the IdP in `form-action`, or the browser blocks the post.

    ## Example
    ```ini
    [security]
    content_security_policy = true
    content_security_policy_template = `script-src 'self' $NONCE;form-action 'self';`
    ```

    ## Use instead
    ```ini
    [security]
    content_security_policy = true
    content_security_policy_template = `script-src 'self' $NONCE;form-action 'self' https://idp.example.com;`
    ```
    """
    for m in load_metadata(ctx):
        if m.entity is None:
            continue
        services = m.services("SingleSignOnService")
        bindings = [s.get("Binding", "") for s in services]
        if REDIRECT in bindings:
            continue
        if POST not in bindings:
            found = ", ".join(sorted({b.rpartition(":")[2] or "(none)" for b in bindings})) or "none"
            yield ctx.at(
                m.setting,
                f"the IdP metadata in {m.origin} has no SingleSignOnService with the HTTP-Redirect or "
                f"HTTP-POST binding (found: {found}): Grafana cannot send users to the IdP",
                "enable the HTTP-Redirect (preferred) or HTTP-POST SAML binding for the app at the IdP, "
                "then download its metadata again",
                at_value=True,
            )
            continue
        location = services[bindings.index(POST)].get("Location", "")
        blocked = _post_blocked_by_csp(ctx, location)
        if blocked is None:
            continue
        scheme, host, _ = _origin(location)
        yield ctx.at(
            m.setting,
            f"the IdP supports only HTTP-POST login ({location}) and `[security] content_security_policy` is "
            f"on, but `form-action {' '.join(blocked)}` in `content_security_policy_template` does not allow "
            f"{host}: the browser blocks the login form",
            f"add `{scheme}://{host}` to the form-action directive of `[security] "
            "content_security_policy_template`, or enable the HTTP-Redirect binding at the IdP",
            at_value=True,
        )


@rule("META-005", "no-single-logout-service", Severity.WARNING)
def no_single_logout_service(ctx: LintContext) -> Iterator[Finding]:
    """`single_logout = true` but the IdP metadata has no SingleLogoutService.

    ## What it does
    Reports SAML single logout switched on while the IdP metadata declares no `SingleLogoutService`.

    ## Why is this bad?
    Single logout needs the IdP's logout endpoint. Without one, logging out of Grafana cannot log the
    user out of the IdP: the next login succeeds silently with the old IdP session.

    ## Example
    ```ini
    [auth.saml]
    single_logout = true
    # the IdP metadata has no <SingleLogoutService>
    ```

    ## Use instead
    ```ini
    [auth.saml]
    # enable single logout at the IdP and download its metadata again, or:
    single_logout = false
    ```
    """
    if not ctx.bool("single_logout"):
        return
    target = ctx.setting("single_logout")
    for m in load_metadata(ctx):
        if m.entity is None or m.services("SingleLogoutService"):
            continue
        yield ctx.at(
            target,
            f"`single_logout` is true, but the IdP metadata in {m.origin} has no SingleLogoutService: "
            "logging out of Grafana cannot end the IdP session",
            "enable single logout for the app at the IdP and download its metadata again, or set "
            "`single_logout = false`",
        )
