"""META-001…META-005: the IdP metadata (saml-reference.md §10 "IdP metadata", §7.3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gtool.saml.lint.rules import metadata as meta_rules
from gtool.saml.lint.rules.metadata import csp_allows, form_action_sources
from tests.saml.lint.cases import Case, check, fail, ok, run
from tests.saml.lint.pki_fixtures import POST, REDIRECT, b64, expiring_cert, make_cert, metadata

SAML = "[auth.saml]\nenabled = true\n"
PATH = SAML + "idp_metadata_path = idp.xml\n"
ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
POST_ONLY = metadata(sso=[(POST, "https://idp.example.com/sso")])
CSP_ON = "[security]\ncontent_security_policy = true\n"


def md(**kw: object) -> dict[str, bytes]:
    return {"idp.xml": metadata(**kw)}  # type: ignore[arg-type]


def csp(template: str) -> str:
    return CSP_ON + f"content_security_policy_template = `{template}`\n"


CASES = [
    # META-001: readable XML describing an IdP
    fail("META-001", PATH, "missing-file", message="cannot read"),
    fail("META-001", PATH, "not-xml", files={"idp.xml": b"hello"}, message="not well-formed"),
    fail("META-001", PATH, "empty-file", files={"idp.xml": b""}, message="empty"),
    fail(
        "META-001",
        PATH,
        "html-page",
        files={"idp.xml": b"<html><body>Sign in</body></html>"},
        message="web page",
    ),
    fail(
        "META-001",
        PATH,
        "doctype",
        files={"idp.xml": b'<!DOCTYPE md [<!ENTITY x "y">]>\n' + metadata()},
        message="DOCTYPE declarations are not allowed",
    ),
    fail("META-001", PATH, "sp-metadata", files=md(idp=False), message="SP metadata"),
    fail("META-001", PATH, "entities-without-idp", files=md(idp=False, wrap=True), message="no entity found"),
    fail(
        "META-001",
        PATH,
        "wrong-namespace",
        files={"idp.xml": metadata().replace(b"SAML:2.0:metadata", b"SAML:1.0:metadata")},
        message="namespace",
    ),
    fail(
        "META-001", SAML + "idp_metadata = <md:EntityDescriptor/>\n", "raw-xml-inline", message="base64 -w0"
    ),
    fail("META-001", SAML + "idp_metadata = not base64!\n", "not-base64", message="not valid base64"),
    fail("META-001", SAML + f"idp_metadata = {b64('{}')}\n", "base64-of-json", message="not well-formed"),
    ok("META-001", PATH, "valid-file", files=md()),
    ok("META-001", SAML + f"idp_metadata = {b64(metadata())}\n", "valid-inline"),
    ok("META-001", PATH, "entities-descriptor", files=md(wrap=True)),
    ok("META-001", SAML + "idp_metadata_url = http://127.0.0.1:9/metadata\n", "url-not-fetched"),
    ok("META-001", SAML + "idp_metadata_path = $__file{nope}\n", "unresolved-is-INI-009"),
    # META-002: a signing certificate
    fail(
        "META-002",
        PATH,
        "encryption-only",
        files=md(certs=[("encryption", make_cert())]),
        message="cannot find",
    ),
    fail("META-002", PATH, "no-key-descriptor", files=md(certs=[])),
    fail("META-002", PATH, "use-is-case-sensitive", files=md(certs=[("Signing", make_cert())])),
    fail(
        "META-002", PATH, "bad-base64", files=md(certs=[("signing", "not!base64")]), message="does not parse"
    ),
    fail("META-002", PATH, "not-a-cert", files=md(certs=[("signing", b64("hello"))]), message="X.509"),
    ok("META-002", PATH, "signing", files=md()),
    ok("META-002", PATH, "no-use", files=md(certs=[(None, make_cert())])),
    ok(
        "META-002",
        PATH,
        "signing-and-encryption",
        files=md(certs=[("encryption", make_cert()), ("signing", make_cert())]),
    ),
    ok("META-002", PATH, "broken-metadata-is-META-001", files={"idp.xml": b"<x/>"}),
    # META-003: expiry, relative to NOW (2026-06-01)
    fail(
        "META-003",
        PATH,
        "only-cert-expired",
        files=md(certs=[("signing", expiring_cert(-3))]),
        message="Cert is not valid at this time",
        severity="error",
    ),
    fail(
        "META-003",
        PATH,
        "one-of-two-expired",
        files=md(certs=[("signing", expiring_cert(-3)), ("signing", make_cert())]),
        severity="warning",
    ),
    fail(
        "META-003",
        PATH,
        "valid-until-past",
        files=md(valid_until="2026-01-01T00:00:00Z"),
        message="validUntil",
    ),
    fail(
        "META-003",
        PATH,
        "valid-until-no-zone",
        files=md(valid_until="2026-05-31T23:00:00"),
        severity="warning",
    ),
    ok("META-003", PATH, "long-valid", files=md()),
    ok("META-003", PATH, "valid-until-future", files=md(valid_until="2026-06-03T00:00:00.000Z")),
    ok("META-003", PATH, "valid-until-garbage", files=md(valid_until="soon")),
    ok("META-003", PATH, "expires-later", files=md(certs=[("signing", expiring_cert(2))])),
    ok(
        "META-003",
        PATH,
        "encryption-cert-expired",
        files=md(certs=[("encryption", expiring_cert(-3)), ("signing", make_cert())]),
    ),
    # META-004: a login binding Grafana can use
    fail("META-004", PATH, "no-sso-service", files=md(sso=[]), message="found: none"),
    fail(
        "META-004",
        PATH,
        "artifact-only",
        files=md(sso=[(ARTIFACT, "https://idp/a")]),
        message="HTTP-Artifact",
    ),
    fail(
        "META-004",
        CSP_ON + PATH,
        "post-only-default-csp",
        files={"idp.xml": POST_ONLY},
        message="form-action 'self'",
    ),
    fail(
        "META-004",
        csp("default-src 'self'; form-action 'self' https://other.example.com") + PATH,
        "post-only-other-host",
        files={"idp.xml": POST_ONLY},
        message="https://idp.example.com",
    ),
    fail(
        "META-004",
        csp("form-action http://idp.example.com:8443") + PATH,
        "post-only-wrong-port",
        files={"idp.xml": POST_ONLY},
    ),
    ok("META-004", PATH, "redirect-and-post", files=md()),
    ok("META-004", PATH, "redirect-only", files=md(sso=[(REDIRECT, "https://idp.example.com/sso")])),
    ok("META-004", PATH, "post-only-csp-off", files={"idp.xml": POST_ONLY}),
    ok(
        "META-004",
        csp("form-action 'self' https://idp.example.com") + PATH,
        "post-only-allowed",
        files={"idp.xml": POST_ONLY},
    ),
    ok(
        "META-004",
        csp("form-action *.example.com") + PATH,
        "post-only-wildcard",
        files={"idp.xml": POST_ONLY},
    ),
    ok("META-004", csp("script-src 'self'") + PATH, "no-form-action-directive", files={"idp.xml": POST_ONLY}),
    ok(
        "META-004",
        CSP_ON + PATH,
        "post-only-csp-from-env",
        files={"idp.xml": POST_ONLY},
        options={
            "env": {"GF_SECURITY_CONTENT_SECURITY_POLICY_TEMPLATE": "form-action 'self' idp.example.com"}
        },
    ),
    # META-005: single logout needs an IdP logout endpoint
    fail(
        "META-005", PATH + "single_logout = true\n", "no-slo", files=md(slo=[]), message="SingleLogoutService"
    ),
    fail("META-005", SAML + "single_logout = true\n" + f"idp_metadata = {b64(metadata(slo=[]))}\n", "inline"),
    ok("META-005", PATH + "single_logout = true\n", "slo-present", files=md()),
    ok("META-005", PATH + "single_logout = false\n", "slo-off", files=md(slo=[])),
    ok("META-005", PATH + "single_logout = true\n", "unreadable-is-META-001"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def test_xxe_in_metadata_never_leaks_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE-1234")
    doc = (
        f'<?xml version="1.0"?>\n<!DOCTYPE md [<!ENTITY s SYSTEM "file://{secret}">]>\n'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&s;"/>'
    )
    found = run(fail("META-001", PATH, files={"idp.xml": doc}), tmp_path)
    assert [d.code for d in found] == ["META-001"]
    assert all("TOP-SECRET" not in d.message + d.hint for d in found)


def test_no_metadata_means_no_xml_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from gtool.saml.lint import lint_text\n"
        "lint_text('[auth.saml]\\nenabled = true\\nsingle_logout = true\\n', env={})\n"
        "print(sorted(m for m in ('lxml', 'cryptography') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# -- idp_metadata_url, against a local server ----------------------------------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


def _send(status: int, body: bytes, content_type: str = "application/xml") -> Route:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


@pytest.fixture
def idp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, Route], str]]:
    """A metadata server on 127.0.0.1 (never another address) that is always shut down."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    routes: dict[str, Route] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes.get(self.path, _send(404, b"not found", "text/plain"))(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that hangs up early (the size and timeout cases) is expected

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield routes, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _url_case(code: str, url: str, expect: bool, *, fetch: bool = True, message: str | None = None) -> Case:
    ini = SAML + f"idp_metadata_url = {url}\nsingle_logout = true\n"
    return Case(code, ini, expect, options={"fetch_metadata": fetch}, message=message)


def _counting(route: Route, hits: list[str]) -> Route:
    def handle(h: BaseHTTPRequestHandler) -> None:
        hits.append(h.path)
        route(h)

    return handle


def test_url_fetched_and_checked(idp_server: tuple[dict[str, Route], str], tmp_path: Path) -> None:
    routes, base = idp_server
    routes["/ok"] = _send(200, metadata())
    routes["/no-slo"] = _send(200, metadata(slo=[]))
    check(_url_case("META-001", base + "/ok", False), tmp_path)
    check(_url_case("META-005", base + "/no-slo", True), tmp_path)


def test_url_not_fetched_without_option(idp_server: tuple[dict[str, Route], str], tmp_path: Path) -> None:
    routes, base = idp_server
    hits: list[str] = []
    routes["/md"] = _counting(_send(200, b"garbage"), hits)
    check(_url_case("META-001", base + "/md", False, fetch=False), tmp_path)
    assert hits == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing", "HTTP 404"),
        ("/html", "web page"),
        ("/garbage", "not XML"),
        ("/redirect-to-file", "not allowed"),
        ("/redirect-to-ftp", "non-HTTP URL"),
        ("/huge", "larger than 10 MiB"),
    ],
)
def test_url_failures_are_findings(
    idp_server: tuple[dict[str, Route], str], tmp_path: Path, path: str, message: str
) -> None:
    routes, base = idp_server
    routes["/html"] = _send(200, b"<html><body>Okta sign in</body></html>", "text/html")
    routes["/garbage"] = _send(200, b"\x00\x01 not xml")

    def redirect(target: str) -> Route:
        def handle(h: BaseHTTPRequestHandler) -> None:
            h.send_response(302)
            h.send_header("Location", target)
            h.send_header("Content-Length", "0")
            h.end_headers()

        return handle

    def huge(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(50 * 1024 * 1024))
        h.end_headers()  # the client must refuse on the header, before any body

    routes["/redirect-to-file"] = redirect("file:///etc/passwd")
    routes["/redirect-to-ftp"] = redirect("ftp://127.0.0.1:9/md.xml")
    routes["/huge"] = huge
    check(_url_case("META-001", base + path, True, message=message), tmp_path)


def test_url_timeout(
    idp_server: tuple[dict[str, Route], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes, base = idp_server

    def slow(h: BaseHTTPRequestHandler) -> None:
        time.sleep(1.0)  # bounded: the server thread always finishes
        _send(200, metadata())(h)

    routes["/slow"] = slow
    monkeypatch.setattr(meta_rules, "FETCH_TIMEOUT", 0.2)
    started = time.monotonic()
    check(_url_case("META-001", base + "/slow", True, message="timed out"), tmp_path)
    assert time.monotonic() - started < 1.0


def test_url_connection_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    for var in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check(_url_case("META-001", f"http://127.0.0.1:{port}/md", True, message="fetching"), tmp_path)


def test_url_fetched_once_per_run(idp_server: tuple[dict[str, Route], str], tmp_path: Path) -> None:
    from gtool.saml.lint import LintOptions, lint_file

    routes, base = idp_server
    hits: list[str] = []
    body = metadata(slo=[], sso=[])
    routes["/md"] = _counting(_send(200, body), hits)
    ini = tmp_path / "grafana.ini"
    ini.write_text(SAML + f"idp_metadata_url = {base}/md\nsingle_logout = true\n")
    result = lint_file(
        str(ini), LintOptions(select=["META"], env={}, fetch_metadata=True), raise_crashes=True
    )
    assert {d.code for d in result.diagnostics} == {"META-004", "META-005"}
    assert hits == ["/md"]


# -- CSP form-action matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sources", "url", "allowed"),
    [
        (["'self'"], "https://idp.example.com/sso", False),
        (["'self'"], "https://grafana.example.com/x", True),
        (["'none'"], "https://idp.example.com/sso", False),
        (["*"], "https://idp.example.com/sso", True),
        (["https:"], "https://idp.example.com/sso", True),
        (["http:"], "https://idp.example.com/sso", True),
        (["https:"], "http://idp.example.com/sso", False),
        (["idp.example.com"], "https://idp.example.com/sso", True),
        (["IDP.example.com"], "https://idp.example.com/sso", True),
        (["https://idp.example.com"], "https://idp.example.com:443/sso", True),
        (["http://idp.example.com"], "https://idp.example.com/sso", True),
        (["https://idp.example.com"], "http://idp.example.com/sso", False),
        (["https://idp.example.com:8443"], "https://idp.example.com/sso", False),
        (["https://idp.example.com:*"], "https://idp.example.com:8443/sso", True),
        (["*.example.com"], "https://idp.example.com/sso", True),
        (["*.example.com"], "https://example.com/sso", False),
        (["https://idp.example.com/saml/"], "https://idp.example.com/sso", True),
        (["idp.example.org"], "https://idp.example.com/sso", False),
    ],
)
def test_csp_allows(sources: list[str], url: str, allowed: bool) -> None:
    assert csp_allows(sources, url, "https://grafana.example.com/") is allowed


def test_form_action_sources() -> None:
    assert form_action_sources(
        "default-src 'self'; form-action 'self' $ROOT_PATH;", "https://g.example.com/grafana/"
    ) == [
        "'self'",
        "g.example.com/grafana",
    ]
    assert form_action_sources("FORM-ACTION a; form-action b", "") == ["a"]
    assert form_action_sources("script-src 'self'", "") is None
