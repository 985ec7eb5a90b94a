"""`gtool saml inspect|explain|test` and `lint --assertion`, driven as processes on the samples."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, Run

SAMPLES = ROOT / "samples"
OKTA = str(SAMPLES / "okta" / "grafana.ini")
HAR = str(SAMPLES / "assertions" / "okta-login.har")
CAPTURED_AT = "2026-06-01T12:00:30Z"

EXPLAIN_KEYS = [
    "login",
    "email",
    "name",
    "login_allowed",
    "login_denied_reason",
    "org_roles",
    "grafana_admin",
    "role_sync",
    "groups",
    "teams",
    "decisions",
    "assumptions",
    "diagnostics",
]


def test_inspect_lists_and_reads_a_har(gtool: Run) -> None:
    listed = gtool("saml", "inspect", HAR, "--list")
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    assert "SAMLRequest" in rows[0] and "SAMLResponse" in rows[1] and "POST" in rows[1]
    shown = gtool("saml", "inspect", HAR, "--now", CAPTURED_AT)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.startswith("Read HAR file: HAR entry 2: POST https://grafana.example.com/saml/acs")
    assert "Subject      jane.doe@example.com  (NameID format: emailAddress)" in out
    assert '"Everyone", "Grafana Admins", "SRE On-Call"' in out
    assert "Signature    not signed" in out
    assert "Valid until  2026-06-01T12:05:00Z (in 4 minutes)" in out


def test_inspect_picks_the_request_only_when_asked_and_says_what_it_is(gtool: Run) -> None:
    r = gtool("saml", "inspect", HAR, "--index", "0")
    assert r.returncode == 2
    assert "SAMLRequest Grafana sent, not the IdP's SAMLResponse" in r.stderr
    out_of_range = gtool("saml", "inspect", HAR, "--index", "7")
    assert out_of_range.returncode == 2 and "--index 7 is out of range" in out_of_range.stderr


def test_inspect_reads_stdin_and_every_capture_form(gtool: Run, tmp_path: Path) -> None:
    forms = {
        "okta-admin.xml": "raw XML",
        "okta-admin.b64": "base64",
        "okta-viewer-form-body.b64": "URL-encoded form body",
        "entra-saml-tracer.json": "SAML-tracer export",
    }
    for name, form in forms.items():
        r = gtool("saml", "inspect", str(SAMPLES / "assertions" / name), "--format", "json")
        assert r.returncode == 0, (name, r.stderr)
        doc = json.loads(r.stdout)
        assert doc["read"]["form"] in {"xml", "base64", "form-body", "saml-tracer"}, form
        assert doc["response"]["assertions"][0]["attributes"], name
    piped = tmp_path / "stdin.txt"
    piped.write_bytes((SAMPLES / "assertions" / "okta-admin.b64").read_bytes())
    import subprocess
    import sys

    with piped.open("rb") as fh:
        r2 = subprocess.run(
            [sys.executable, "-m", "gtool", "saml", "inspect", "-"], stdin=fh, capture_output=True, text=True
        )
    assert r2.returncode == 0 and r2.stdout.startswith("Read base64: <stdin>"), r2.stderr


def test_inspect_redact_hides_identities(gtool: Run) -> None:
    r = gtool("saml", "inspect", HAR, "--redact")
    assert r.returncode == 0, r.stderr
    assert "jane.doe@example.com" not in r.stdout and "Grafana Admins" not in r.stdout
    assert "Attributes (5)" in r.stdout


def test_inspect_refuses_hostile_xml_with_one_line(gtool: Run, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    evil = tmp_path / "evil.xml"
    evil.write_text(
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>'
    )
    r = gtool("saml", "inspect", str(evil))
    assert r.returncode == 2
    assert "DOCTYPE" in r.stderr and "TOP-SECRET-VALUE" not in r.stderr + r.stdout
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_explain_json_is_the_documented_contract(gtool: Run) -> None:
    r = gtool(
        "saml", "explain", "--config", OKTA, "--assertion", HAR, "--now", CAPTURED_AT, "--format", "json",
        "--grafana-version", "12.3",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == EXPLAIN_KEYS
    assert doc["login"] == "jane.doe@example.com" and doc["login_allowed"] is True
    assert doc["org_roles"] == {"1": "Admin"}, "Grafana Admins maps to Admin; org 1 from org_mapping"
    assert doc["grafana_admin"] is False and doc["role_sync"] == "applied"
    assert all(set(d) == {"what", "result", "because", "source"} for d in doc["decisions"])
    assert any(d["source"].startswith(OKTA + ":") for d in doc["decisions"])
    codes = [d["code"] for d in doc["diagnostics"]]
    assert codes == ["ASRT-007"], "the unsigned sample is the only problem"


def test_explain_with_attributes_and_assumptions(gtool: Run) -> None:
    base = ["saml", "explain", "--config", OKTA, "--format", "json"]
    attrs = ["--attr", "email=a@example.com", "--attr", "organization=Data Science"]
    plain = json.loads(gtool(*base, *attrs, "--attr", "groups=Everyone").stdout)
    assert plain["org_roles"] == {"2": "Editor"}
    admin = json.loads(gtool(*base, *attrs, "--attr", "groups=Grafana Server Admins").stdout)
    assert admin["grafana_admin"] is True
    outsider = json.loads(
        gtool(*base, "--attr", "email=x@example.com", "--attr", "organization=Sales").stdout
    )
    assert outsider["login_allowed"] is False and outsider["org_roles"] == {}
    bad = gtool(*base, *attrs, "--assume", "no-such-thing=1")
    assert bad.returncode == 2 and "no-such-thing" in bad.stderr


def test_explain_needs_exactly_one_source_of_attributes(gtool: Run) -> None:
    neither = gtool("saml", "explain", "--config", OKTA)
    both = gtool("saml", "explain", "--config", OKTA, "--assertion", HAR, "--attr", "a=b")
    for r in (neither, both):
        assert r.returncode == 2 and "either --assertion INPUT or one or more --attr" in r.stderr


def test_policy_tests_pass_and_fail_with_exit_codes(gtool: Run, tmp_path: Path) -> None:
    ok = gtool("saml", "test", str(SAMPLES / "mapping-tests.toml"), "--config", OKTA)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.rstrip().endswith("9 passed, 0 failed")
    cases = tmp_path / "cases.toml"
    cases.write_text(
        '[[case]]\nname = "platform engineer is no admin"\n'
        'attributes = { email = "p@example.com", organization = "Platform Engineering", '
        'groups = ["Everyone"] }\n'
        'expect = { org_roles = { "1" = "Admin" } }\n'
    )
    failed = gtool("saml", "test", str(cases), "--config", OKTA)
    assert failed.returncode == 1
    assert "FAIL" in failed.stdout and "Viewer" in failed.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text("[[case]\nname = 1\n")
    r = gtool("saml", "test", str(broken), "--config", OKTA)
    assert r.returncode == 2 and "broken.toml" in r.stderr and "Traceback" not in r.stderr


def test_lint_with_an_assertion_adds_assertion_rules(gtool: Run) -> None:
    r = gtool(
        "saml", "lint", OKTA, "--assertion", HAR, "--now", CAPTURED_AT, "--grafana-version", "12.3",
        "--format", "json",
    )  # fmt: skip
    doc = json.loads(r.stdout)
    codes = {d["code"] for f in doc["files"] for d in f["diagnostics"]}
    assert codes == {"ASRT-007"}
    assert r.returncode == 1
    late = gtool(
        "saml", "lint", OKTA, "--assertion", HAR, "--now", "2026-06-02T12:00:00Z", "--select", "ASRT-008"
    )
    assert "ASRT-008" in late.stdout and "--now" in late.stdout


def test_explain_refuses_a_message_that_fails_verification(gtool: Run) -> None:
    r = gtool(
        "saml", "explain", "--config", OKTA, "--assertion", str(SAMPLES / "assertions" / "okta-admin.xml"),
        "--idp-metadata", str(SAMPLES / "idp" / "okta-metadata.xml"),
    )  # fmt: skip
    assert r.returncode == 2
    assert "no assertion is covered by a valid signature" in r.stderr and "Traceback" not in r.stderr
