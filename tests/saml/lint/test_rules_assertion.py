"""ROLE-005, TEAM-002/003, ASRT-001…ASRT-011: an assertion checked against the configuration
(saml-reference.md §2.3, §4, §7.3, §10 "Assertion vs config").

Inputs are model objects (Response/Assertion/Attribute) so each case shows exactly what differs; one
end-to-end case goes through the XML reader when it is available.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from gtool.saml import assertion as model
from gtool.saml.assertion import (
    Assertion,
    Attribute,
    Conditions,
    Response,
    SignatureInfo,
    Status,
    SubjectConfirmation,
)
from gtool.saml.lint import Diagnostic
from gtool.saml.lint.registry import all_rules
from gtool.saml.mapping import Team
from tests.saml.lint.cases import NOW, Case, check, fail, ok, run
from tests.saml.lint.pki_fixtures import metadata

ROOT = "https://grafana.example.com/"
ACS = ROOT + "saml/acs"
SP_ENTITY = ROOT + "saml/metadata"
IDP = "https://idp.example.com/saml"
ISSUED = NOW - dt.timedelta(seconds=10)
LATER = NOW + dt.timedelta(minutes=5)
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
SUCCESS = Status("urn:oasis:names:tc:SAML:2.0:status:Success")
ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
PATH = "response.xml"


def attr(name: str, *values: str, friendly: str | None = None, line: int | None = 20) -> Attribute:
    return Attribute(name, tuple(values), friendly_name=friendly, line=line)


GOOD_ATTRS = (
    attr("mail", "ann@example.com", line=21),
    attr("displayName", "Ann", line=22),
    attr("role", "admins", line=23),
    attr("groups", "ops", "dev", line=24),
)


def sig(element: str = "Assertion", **kw: Any) -> SignatureInfo:
    base: dict[str, Any] = {
        "element": element,
        "reference": "#_a1",
        "signature_method": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "digest_method": "http://www.w3.org/2001/04/xmlenc#sha256",
    }
    return SignatureInfo(**(base | kw))


def confirmation(**kw: Any) -> SubjectConfirmation:
    base: dict[str, Any] = {
        "method": "urn:oasis:names:tc:SAML:2.0:cm:bearer",
        "recipient": ACS,
        "not_on_or_after": LATER,
        "in_response_to": "_req1",
    }
    return SubjectConfirmation(**(base | kw))


def assertion(*attributes: Attribute, **kw: Any) -> Assertion:
    base: dict[str, Any] = {
        "id": "_a1",
        "issuer": IDP,
        "issue_instant": ISSUED,
        "name_id": "ann@example.com",
        "name_id_format": TRANSIENT,
        "subject_confirmations": (confirmation(),),
        "conditions": Conditions(NOW - dt.timedelta(seconds=30), LATER, (SP_ENTITY,)),
        "attributes": attributes or GOOD_ATTRS,
        "signature": sig(),
        "line": 5,
    }
    return Assertion(**(base | kw))


def response(*assertions: Assertion, **kw: Any) -> Response:
    base: dict[str, Any] = {
        "kind": "Response",
        "assertions": assertions or (assertion(),),
        "id": "_r1",
        "destination": ACS,
        "in_response_to": "_req1",
        "issue_instant": ISSUED,
        "issuer": IDP,
        "status": SUCCESS,
    }
    return Response(**(base | kw))


GOOD = response()
INI = f"""\
[server]
root_url = {ROOT}
[auth.saml]
enabled = true
idp_metadata_path = idp.xml
assertion_attribute_login = mail
assertion_attribute_email = mail
assertion_attribute_name = displayName
assertion_attribute_role = role
assertion_attribute_groups = groups
role_values_admin = admins
role_values_editor = dev
"""
MD = {"idp.xml": lambda _: metadata(entity_id=IDP)}


def with_ini(*lines: str, base: str = INI) -> str:
    return base + "".join(line + "\n" for line in lines)


def replace_ini(old: str, new: str) -> str:
    assert old in INI, old
    return INI.replace(old, new)


def af(code: str, name: str, resp: Response, ini: str = INI, **kw: Any) -> Case:
    """A failing case in assertion mode; ``options`` adds LintOptions fields (teams, grafana_version)."""
    options = {"assertion": resp, "assertion_path": PATH} | kw.pop("options", {})
    return fail(code, ini, name, options=options, files=kw.pop("files", MD), **kw)


def ao(code: str, name: str, resp: Response = GOOD, ini: str = INI, **kw: Any) -> Case:
    options = {"assertion": resp, "assertion_path": PATH} | kw.pop("options", {})
    return ok(code, ini, name, options=options, files=kw.pop("files", MD), **kw)


def swap(resp: Response, **kw: Any) -> Response:
    """``resp`` with its first assertion changed."""
    first = resp.assertions[0]
    return dataclasses.replace(resp, assertions=(dataclasses.replace(first, **kw), *resp.assertions[1:]))


def attrs(*attributes: Attribute) -> Response:
    return swap(GOOD, attributes=attributes)


def without(name: str) -> Response:
    return attrs(*(a for a in GOOD_ATTRS if a.name != name))


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


TEAMS = [Team(1, "Operations", 1, ("ops",)), Team(2, "Developers", 1, ("dev",))]
ENTRA_ISSUER = "https://sts.windows.net/11111111-2222-3333-4444-555555555555/"
OVERAGE = attr(
    "http://schemas.microsoft.com/claims/groups.link", "https://graph.windows.net/x/getMemberObjects"
)
GRAPH = ("client_id = app", "client_secret = s3cret", "token_url = https://login.microsoftonline.com/t/token")

CASES = [
    # ASRT-001: a configured attribute is absent
    ao("ASRT-001", "all-present"),
    af("ASRT-001", "login-missing", without("mail"), message="no attribute with Name or FriendlyName `mail`"),
    af(
        "ASRT-001",
        "login-default-mail",
        attrs(attr("email", "ann@example.com"), *GOOD_ATTRS[1:]),
        replace_ini("assertion_attribute_login = mail\nassertion_attribute_email = mail\n", ""),
        message="documented default",
        severity="error",
    ),
    ao(
        "ASRT-001",
        "default-mail-present",
        ini=replace_ini("assertion_attribute_login = mail\nassertion_attribute_email = mail\n", ""),
    ),
    af("ASRT-001", "groups-missing-is-warning", without("groups"), message="team sync", severity="warning"),
    af(
        "ASRT-001",
        "template-variable",
        GOOD,
        replace_ini("assertion_attribute_name = displayName", "assertion_attribute_name = $__saml{first} x"),
        message="$__saml{first}",
    ),
    ao(
        "ASRT-001",
        "template-variables-present",
        attrs(*GOOD_ATTRS, attr("givenName", "Ann"), attr("sn", "Lee")),
        replace_ini(
            "assertion_attribute_name = displayName",
            "assertion_attribute_name = $__saml{givenName} $__saml{sn}",
        ),
    ),
    ao(
        "ASRT-001",
        "friendly-name-counts",
        attrs(attr("urn:oid:0.9.2342.19200300.100.1.3", "a@b.c", friendly="mail"), *GOOD_ATTRS[1:]),
    ),
    af(
        "ASRT-001",
        "present-but-empty",
        attrs(attr("mail", ""), *GOOD_ATTRS[1:]),
        message="has no value",
    ),
    af(
        "ASRT-001",
        "org-missing-with-allowed-orgs",
        GOOD,
        with_ini("assertion_attribute_org = org", "allowed_organizations = acme"),
        message="denies the login",
    ),
    af(
        "ASRT-001",
        "external-uid-missing",
        GOOD,
        with_ini("assertion_attribute_external_uid = userUID"),
        message="SCIM",
    ),
    af("ASRT-001", "no-attributes-at-all", swap(GOOD, attributes=()), message="no attribute"),
    ao("ASRT-001", "near-miss-is-asrt-002", attrs(attr("Mail", "a@b.c"), *GOOD_ATTRS[1:])),
    ao("ASRT-001", "encrypted-not-decrypted", response(assertions=(), encrypted_assertions=1)),
    # ASRT-002: near misses of attribute names
    af(
        "ASRT-002",
        "entra-uri",
        attrs(*(a for a in GOOD_ATTRS if a.name != "role"), attr(ROLE_URI, "admins")),
        message=ROLE_URI,
    ),
    af("ASRT-002", "case", attrs(attr("Mail", "a@b.c"), *GOOD_ATTRS[1:]), message="upper/lower case"),
    af(
        "ASRT-002",
        "configured-uri-assertion-short",
        GOOD,
        replace_ini("assertion_attribute_role = role", f"assertion_attribute_role = {ROLE_URI}"),
        message="short form",
    ),
    af(
        "ASRT-002",
        "default-mail-vs-uri",
        attrs(attr("http://schemas.xmlsoap.org/claims/mail", "a@b.c"), *GOOD_ATTRS[1:]),
        replace_ini("assertion_attribute_login = mail\n", ""),
        message="set assertion_attribute_login = http://schemas.xmlsoap.org/claims/mail",
    ),
    ao("ASRT-002", "exact"),
    ao("ASRT-002", "unrelated-attribute-names", without("groups")),
    ao(
        "ASRT-002",
        "numeric-oid-suffix-is-no-match",
        attrs(*GOOD_ATTRS, attr("urn:oid:1.2.3", "x")),
        with_ini("assertion_attribute_external_uid = urn:other:1.2.3"),
    ),
    # ASRT-003: whitespace around values of attributes Grafana reads
    af(
        "ASRT-003",
        "trailing-space",
        attrs(*GOOD_ATTRS[:3], attr("groups", "ops ", "dev")),
        message="'ops '",
    ),
    af(
        "ASRT-003",
        "pretty-printed",
        attrs(*GOOD_ATTRS[:2], attr("role", "\n      admins\n    "), GOOD_ATTRS[3]),
        message="'\\n      admins\\n    '",
    ),
    ao("ASRT-003", "clean"),
    ao("ASRT-003", "unread-attribute", attrs(*GOOD_ATTRS, attr("department", " sales "))),
    # ROLE-005: role/org values matching only ignoring case or whitespace
    af("ROLE-005", "case", attrs(*GOOD_ATTRS[:2], attr("role", "Admins"), GOOD_ATTRS[3]), message="`Admins`"),
    af(
        "ROLE-005",
        "trim",
        attrs(*GOOD_ATTRS[:2], attr("role", "admins "), GOOD_ATTRS[3]),
        message="'admins ' matches `admins` in `role_values_admin` only after trimming",
    ),
    af(
        "ROLE-005",
        "grafana-admin",
        attrs(*GOOD_ATTRS[:2], attr("role", "Superusers"), GOOD_ATTRS[3]),
        with_ini("role_values_grafana_admin = superusers"),
        message="Grafana Admin",
    ),
    af(
        "ROLE-005",
        "org-mapping",
        attrs(*GOOD_ATTRS, attr("org", "ACME")),
        with_ini("assertion_attribute_org = org", "org_mapping = acme:2:Editor"),
        message="org_mapping",
        options={"grafana_version": "12.0"},
    ),
    af(
        "ROLE-005",
        "allowed-organizations",
        attrs(*GOOD_ATTRS, attr("org", "Acme ")),
        with_ini("assertion_attribute_org = org", "allowed_organizations = acme"),
        message="allowed_organizations",
    ),
    ao("ROLE-005", "exact"),
    ao("ROLE-005", "unrelated-value", attrs(*GOOD_ATTRS[:2], attr("role", "viewers"), GOOD_ATTRS[3])),
    ao(
        "ROLE-005",
        "exact-elsewhere-in-list",
        attrs(*GOOD_ATTRS[:2], attr("role", "admins"), GOOD_ATTRS[3]),
        with_ini("role_values_grafana_admin = Admins, admins"),
    ),
    ao(
        "ROLE-005",
        "regex-org-mapping-matches",
        attrs(*GOOD_ATTRS, attr("org", "acme ")),
        with_ini("assertion_attribute_org = org", "org_mapping = acme:2:Editor"),
        options={"grafana_version": "13.0"},
    ),
    # TEAM-002: several groups in one AttributeValue
    af("TEAM-002", "comma", attrs(*GOOD_ATTRS[:3], attr("groups", "ops,dev")), message="contains `,`"),
    af("TEAM-002", "semicolon", attrs(*GOOD_ATTRS[:3], attr("groups", "ops; dev")), message="`;`"),
    af("TEAM-002", "pipe", attrs(*GOOD_ATTRS[:3], attr("groups", "ops|dev")), message="`|`"),
    af("TEAM-002", "json-list", attrs(*GOOD_ATTRS[:3], attr("groups", '["ops", "dev"]')), message="`[`"),
    ao("TEAM-002", "one-per-value"),
    ao("TEAM-002", "ldap-dn", attrs(*GOOD_ATTRS[:3], attr("groups", "CN=Ops,OU=Groups,DC=example,DC=com"))),
    ao("TEAM-002", "comma-in-other-attribute", attrs(*GOOD_ATTRS, attr("address", "1 Main St, Town"))),
    # TEAM-003: groups without a team (needs --teams)
    af(
        "TEAM-003",
        "no-team",
        attrs(*GOOD_ATTRS[:3], attr("groups", "ops", "dev", "finance")),
        options={"teams": TEAMS},
        message="`finance`",
    ),
    af(
        "TEAM-003",
        "case-near-miss-names-team",
        attrs(*GOOD_ATTRS[:3], attr("groups", "Ops", "dev")),
        options={"teams": TEAMS},
        message="team `Operations`",
    ),
    ao("TEAM-003", "all-teams-exist", options={"teams": TEAMS}),
    ao("TEAM-003", "without-team-list"),
    # ASRT-004: Audience vs entity ID
    af(
        "ASRT-004",
        "root-url-only",
        swap(GOOD, conditions=Conditions(ago(30), LATER, (ROOT,))),
        message="path differs",
    ),
    af(
        "ASRT-004",
        "entity-id-set",
        GOOD,
        with_ini("entity_id = grafana"),
        message="`grafana`",
    ),
    ao("ASRT-004", "default-entity"),
    ao(
        "ASRT-004",
        "entity-id-matches",
        swap(GOOD, conditions=Conditions(ago(30), LATER, ("grafana",))),
        with_ini("entity_id = grafana"),
    ),
    af(
        "ASRT-004",
        "entity-id-ignored-before-11.5",
        swap(GOOD, conditions=Conditions(ago(30), LATER, ("grafana",))),
        with_ini("entity_id = grafana"),
        options={"grafana_version": "11.4"},
        message="ignores `entity_id`",
    ),
    ao("ASRT-004", "no-audience-restriction", swap(GOOD, conditions=Conditions(ago(30), LATER, ()))),
    ao(
        "ASRT-004",
        "one-of-several-audiences",
        swap(GOOD, conditions=Conditions(ago(30), LATER, ("other", SP_ENTITY))),
    ),
    # ASRT-005: Destination / Recipient vs <root_url>saml/acs
    af(
        "ASRT-005",
        "sub-path",
        response(
            assertion(subject_confirmations=(confirmation(recipient=ROOT + "grafana/saml/acs"),)),
            destination=ROOT + "grafana/saml/acs",
        ),
        message="the path differs (/grafana/saml/acs vs /saml/acs)",
    ),
    af(
        "ASRT-005",
        "default-root-url",
        GOOD,
        INI.replace(f"[server]\nroot_url = {ROOT}\n", ""),
        message="http://localhost:3000/saml/acs",
    ),
    af(
        "ASRT-005",
        "scheme",
        response(destination="http://grafana.example.com/saml/acs"),
        message="scheme differs",
    ),
    af(
        "ASRT-005",
        "explicit-default-port",
        response(destination="https://grafana.example.com:443/saml/acs"),
        message="written differently",
    ),
    af(
        "ASRT-005",
        "recipient-missing",
        swap(GOOD, subject_confirmations=(confirmation(recipient=None),)),
        message="is empty",
    ),
    af(
        "ASRT-005",
        "signed-response-without-destination",
        response(destination=None, signature=sig("Response", reference="#_r1")),
        message="Destination",
    ),
    ao("ASRT-005", "matches"),
    ao("ASRT-005", "unsigned-response-without-destination", response(destination=None)),
    ao(
        "ASRT-005",
        "bare-assertion",
        Response("Assertion", (assertion(),)),
    ),
    # ASRT-006: Issuer vs the IdP metadata entityID
    af(
        "ASRT-006",
        "assertion-issuer",
        swap(GOOD, issuer="https://other-idp.example.com"),
        message="issuer is not",
    ),
    af("ASRT-006", "response-issuer", response(issuer=IDP + "/"), message="response Issuer does not match"),
    af("ASRT-006", "missing-assertion-issuer", swap(GOOD, issuer=None), message="is empty"),
    ao("ASRT-006", "matches"),
    ao("ASRT-006", "no-metadata", swap(GOOD, issuer="x"), files={}),
    ao(
        "ASRT-006",
        "metadata-url-not-fetched",
        swap(GOOD, issuer="x"),
        replace_ini("idp_metadata_path = idp.xml", "idp_metadata_url = https://idp.example.com/md"),
    ),
    # ASRT-007: signatures
    af(
        "ASRT-007",
        "unsigned",
        swap(GOOD, signature=None),
        message="either the Response or Assertion must be signed",
    ),
    af("ASRT-007", "bare-assertion-unsigned", Response("Assertion", (assertion(signature=None),))),
    af(
        "ASRT-007",
        "signature-fails",
        swap(GOOD, signature=sig(verified=False, problem="digest mismatch")),
        message="digest mismatch",
    ),
    af(
        "ASRT-007",
        "response-signature-fails",
        response(signature=sig("Response", verified=False, problem="wrong certificate")),
        message="wrong certificate",
    ),
    af(
        "ASRT-007",
        "encrypted-not-decrypted",
        response(assertions=(), encrypted_assertions=1),
        with_ini("private_key_path = /etc/grafana/sp.key"),
        message="could not be checked",
        severity="info",
    ),
    ao("ASRT-007", "assertion-signed"),
    ao("ASRT-007", "response-signed-only", response(assertion(signature=None), signature=sig("Response"))),
    ao("ASRT-007", "verified", swap(GOOD, signature=sig(verified=True))),
    # ASRT-008: time windows
    af(
        "ASRT-008",
        "issue-delay",
        response(assertion(issue_instant=ago(300)), issue_instant=ago(300)),
        message="response IssueInstant expired at 2026-06-01T11:56:30Z",
    ),
    af(
        "ASRT-008",
        "conditions-expired",
        swap(GOOD, conditions=Conditions(ago(900), ago(600), (SP_ENTITY,))),
        message="assertion Conditions is expired",
    ),
    af(
        "ASRT-008",
        "not-yet-valid",
        swap(
            GOOD,
            conditions=Conditions(
                NOW + dt.timedelta(minutes=10), LATER + dt.timedelta(minutes=10), (SP_ENTITY,)
            ),
        ),
        message="assertion Conditions is not yet valid",
    ),
    af(
        "ASRT-008",
        "subject-confirmation-expired",
        swap(GOOD, subject_confirmations=(confirmation(not_on_or_after=ago(200)),)),
        message="assertion SubjectConfirmationData is expired",
    ),
    af(
        "ASRT-008",
        "subject-confirmation-without-end",
        swap(GOOD, subject_confirmations=(confirmation(not_on_or_after=None),)),
        message="no NotOnOrAfter",
    ),
    af(
        "ASRT-008",
        "invalid-delay-means-90s",
        response(issue_instant=ago(100)),
        with_ini("max_issue_delay = 1d"),
        message="90s",
    ),
    af(
        "ASRT-008",
        "hint-says-now",
        response(issue_instant=ago(3600)),
        message="--now 2026-06-01T11:00:00Z",
    ),
    ao("ASRT-008", "fresh"),
    ao("ASRT-008", "within-skew", swap(GOOD, conditions=Conditions(ago(30), ago(170), (SP_ENTITY,)))),
    ao("ASRT-008", "longer-delay", response(issue_instant=ago(300)), with_ini("max_issue_delay = 10m")),
    ao(
        "ASRT-008",
        "old-capture-checked-at-capture-time",
        response(
            assertion(
                issue_instant=ago(7200),
                subject_confirmations=(confirmation(not_on_or_after=ago(7000)),),
                conditions=Conditions(ago(7230), ago(7000), (SP_ENTITY,)),
            ),
            issue_instant=ago(7200),
        ),
        options={"now": ago(7190)},
    ),
    # ASRT-009: NameID format
    af(
        "ASRT-009",
        "slo",
        swap(GOOD, name_id_format=EMAIL_FORMAT),
        with_ini("single_logout = true"),
        message="single_logout",
        severity="warning",
    ),
    af(
        "ASRT-009",
        "without-slo-is-info",
        swap(GOOD, name_id_format=EMAIL_FORMAT),
        severity="info",
    ),
    ao("ASRT-009", "default-transient"),
    ao(
        "ASRT-009",
        "configured-matches",
        swap(GOOD, name_id_format=EMAIL_FORMAT),
        with_ini(f"name_id_format = {EMAIL_FORMAT}"),
    ),
    ao(
        "ASRT-009",
        "unspecified-accepts-any",
        swap(GOOD, name_id_format=EMAIL_FORMAT),
        with_ini("name_id_format = urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"),
    ),
    # ASRT-010: IdP-initiated without allow_idp_initiated
    af(
        "ASRT-010",
        "idp-initiated",
        response(
            assertion(subject_confirmations=(confirmation(in_response_to=None),)),
            in_response_to=None,
        ),
        message="InResponseTo` does not match any of the possible request IDs",
    ),
    af(
        "ASRT-010",
        "bare-assertion",
        Response("Assertion", (assertion(subject_confirmations=(confirmation(in_response_to=None),)),)),
        message="SubjectConfirmationData",
    ),
    ao("ASRT-010", "sp-initiated"),
    ao(
        "ASRT-010",
        "allowed",
        response(in_response_to=None),
        with_ini("allow_idp_initiated = true", "relay_state = x"),
    ),
    # ASRT-011: Entra ID groups overage
    af(
        "ASRT-011",
        "overage",
        response(assertion(*GOOD_ATTRS, OVERAGE), issuer=ENTRA_ISSUER),
        message="150 groups",
    ),
    af(
        "ASRT-011",
        "graph-api-too-old",
        attrs(*GOOD_ATTRS, OVERAGE),
        with_ini(*GRAPH),
        options={"grafana_version": "11.1"},
        message="groups.link",
    ),
    ao("ASRT-011", "no-overage"),
    ao("ASRT-011", "graph-api-configured", attrs(*GOOD_ATTRS, OVERAGE), with_ini(*GRAPH)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


ASSERTION_CODES = sorted(r.code for r in all_rules() if r.needs == "assertion")


def _diagnostics(case: Case, tmp_path: Path) -> list[Diagnostic]:
    return [d for d in run(case, tmp_path) if d.code == case.code]


def test_assertion_rules_do_not_run_without_an_assertion(tmp_path: Path) -> None:
    case = fail("ASRT-007", INI, files=MD)
    for code in ASSERTION_CODES:
        assert not _diagnostics(dataclasses.replace(case, code=code), tmp_path), code


def test_findings_about_the_message_point_into_the_assertion(tmp_path: Path) -> None:
    case = af("TEAM-002", "", attrs(*GOOD_ATTRS[:3], attr("groups", "ops,dev", line=42)))
    [d] = _diagnostics(case, tmp_path)
    assert (d.path, d.line) == (PATH, 42)
    unsigned = af(
        "ASRT-007", "", response(assertion(signature=None, line=7)), options={"assertion_path": None}
    )
    [d] = _diagnostics(unsigned, tmp_path)
    assert (d.path, d.line) == ("<assertion>", 7)


def test_findings_about_a_pairing_point_at_the_config_key(tmp_path: Path) -> None:
    case = af("ASRT-001", "", without("groups"))
    [d] = _diagnostics(case, tmp_path)
    assert d.path.endswith("grafana.ini") and d.key == "assertion_attribute_groups"
    assert d.line == INI.splitlines().index("assertion_attribute_groups = groups") + 1
    acs = af("ASRT-005", "", response(destination="http://grafana.example.com/saml/acs"))
    [d] = _diagnostics(acs, tmp_path)
    assert (d.section, d.key, d.line) == ("server", "root_url", 2)
    issuer = af("ASRT-006", "", swap(GOOD, issuer="x"))
    [d] = _diagnostics(issuer, tmp_path)
    assert d.key == "idp_metadata_path"


def test_each_time_problem_of_an_element_is_one_finding(tmp_path: Path) -> None:
    old = response(
        assertion(
            issue_instant=ago(7200),
            subject_confirmations=(confirmation(not_on_or_after=ago(7000)),),
            conditions=Conditions(ago(7230), ago(7000), (SP_ENTITY,)),
        ),
        issue_instant=ago(7200),
    )
    found = _diagnostics(af("ASRT-008", "", old), tmp_path)
    assert len(found) == 2  # the Response, the Assertion
    text = " ".join(d.message for d in found)
    for words in ("response IssueInstant expired at", "expired on", "Conditions is expired", "2h old"):
        assert words in text, words


def test_overage_hint_names_the_tenant(tmp_path: Path) -> None:
    case = af("ASRT-011", "", response(assertion(*GOOD_ATTRS, OVERAGE), issuer=ENTRA_ISSUER))
    [d] = _diagnostics(case, tmp_path)
    assert "login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token" in d.hint


def test_teams_near_miss_and_rest_are_separate(tmp_path: Path) -> None:
    case = af(
        "TEAM-003",
        "",
        attrs(*GOOD_ATTRS[:3], attr("groups", "Ops", "dev", "finance", "hr")),
        options={"teams": TEAMS},
    )
    found = _diagnostics(case, tmp_path)
    assert len(found) == 2
    near = next(d for d in found if "Operations" in d.message)
    assert "`Ops`" in near.hint
    rest = next(d for d in found if d is not near)
    assert "2 of 4" in rest.message


ODD = [
    Response("Response", ()),
    Response("Assertion", (Assertion(None, None),)),
    response(assertion(conditions=None, subject_confirmations=(), attributes=(attr("mail"),))),
    response(assertion(issue_instant=dt.datetime(2026, 6, 1, 11, 0))),  # naive datetime
    response(assertion(attributes=(attr("groups", "", " ", "\x00,|;[", "x" * 100_000),))),
    response(destination="http://[::1", issuer="", in_response_to=""),
    response(assertion(conditions=Conditions(None, None, ("",)), signature=sig(verified=False))),
    response(assertion(attributes=(attr("groups", "a=b," * 20_000, "(a+)+$" * 50, "a" * 5000),))),
]


@pytest.mark.parametrize("resp", ODD, ids=range(len(ODD)))
def test_odd_messages_never_crash(resp: Response, tmp_path: Path) -> None:
    ini = with_ini(
        "assertion_attribute_org = groups",
        "org_mapping = (:1:Admin *:2 (a+)+$:3",
        "allowed_organizations = x",
        "max_issue_delay = -5s",
        "entity_id = ::",
    )
    teams = [Team(1, "t", 1, ("", " "))]
    for code in ASSERTION_CODES:
        case = fail(code, ini, files=MD, options={"assertion": resp, "teams": teams, "assertion_path": PATH})
        for d in run(case, tmp_path):
            assert d.message and d.hint


def test_end_to_end_through_the_xml_reader(tmp_path: Path) -> None:
    parse = model.parse
    xml = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
  xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0"
  IssueInstant="2026-06-01T11:59:50Z" Destination="{ACS}" InResponseTo="_req1">
  <saml:Issuer>{IDP}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-06-01T11:59:50Z">
    <saml:Issuer>{IDP}</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="{TRANSIENT}">ann</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData InResponseTo="_req1" Recipient="{ACS}"
          NotOnOrAfter="2026-06-01T12:05:00Z"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="2026-06-01T11:59:30Z" NotOnOrAfter="2026-06-01T12:05:00Z">
      <saml:AudienceRestriction><saml:Audience>{SP_ENTITY}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AttributeStatement>
      <saml:Attribute Name="mail"><saml:AttributeValue>ann@example.com</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="displayName"><saml:AttributeValue>Ann</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="role"><saml:AttributeValue>Admins</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="groups">
        <saml:AttributeValue>ops,dev</saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
""".encode()
    resp = parse(xml)
    options = {"assertion": resp, "assertion_path": PATH}
    found: dict[str, list[Diagnostic]] = {}
    for code in ASSERTION_CODES:
        found[code] = _diagnostics(fail(code, INI, files=MD, options=options), tmp_path)
    reported = sorted(code for code, ds in found.items() if ds)
    assert reported == ["ASRT-007", "ROLE-005", "TEAM-002"], reported
    [packed] = found["TEAM-002"]
    assert packed.path == PATH and packed.line > 1, packed


def _signed_response(tamper: bool = False) -> bytes:
    """A Response whose Assertion is signed with signxml by a key made here (never committed)."""
    from lxml import etree
    from signxml import XMLSigner, methods

    from tests.saml.lint.pki_fixtures import cert_pem, key_bytes, make_cert

    ns = 'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
    assertion_xml = f"""<saml:Assertion {ns} ID="_a1" Version="2.0" IssueInstant="2026-06-01T11:59:50Z">
<saml:Issuer>{IDP}</saml:Issuer>
<saml:Subject><saml:NameID Format="{TRANSIENT}">ann</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
<saml:SubjectConfirmationData InResponseTo="_req1" Recipient="{ACS}" NotOnOrAfter="2026-06-01T12:05:00Z"/>
</saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="2026-06-01T11:59:30Z" NotOnOrAfter="2026-06-01T12:05:00Z">
<saml:AudienceRestriction><saml:Audience>{SP_ENTITY}</saml:Audience></saml:AudienceRestriction>
</saml:Conditions>
<saml:AttributeStatement>
<saml:Attribute Name="mail"><saml:AttributeValue>ann@example.com</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="displayName"><saml:AttributeValue>Ann</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="role"><saml:AttributeValue>viewers</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="groups"><saml:AttributeValue>ops</saml:AttributeValue></saml:Attribute>
</saml:AttributeStatement>
</saml:Assertion>"""
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    signed = signer.sign(
        etree.fromstring(assertion_xml.encode()),
        key=key_bytes(),
        cert=cert_pem(make_cert()).decode(),
        reference_uri="_a1",
    )
    body = etree.tostring(signed).decode()
    if tamper:
        body = body.replace(">viewers<", ">admins<")
    return (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" '
        f'IssueInstant="2026-06-01T11:59:50Z" Destination="{ACS}" InResponseTo="_req1">'
        f'<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{IDP}</saml:Issuer>'
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"{body}</samlp:Response>"
    ).encode()


@pytest.mark.parametrize("tamper", [False, True], ids=["signed", "tampered"])
def test_verified_message_end_to_end(tamper: bool, tmp_path: Path) -> None:
    verify = model.verify
    from tests.saml.lint.pki_fixtures import cert_pem, make_cert

    resp = verify(_signed_response(tamper), [cert_pem(make_cert())], now=NOW)
    options = {"assertion": resp, "assertion_path": PATH}
    found = {
        code: _diagnostics(fail(code, INI, files=MD, options=options), tmp_path) for code in ASSERTION_CODES
    }
    reported = sorted(code for code, ds in found.items() if ds)
    if not tamper:
        assert reported == [], found
        return
    # The tampered assertion is dropped; nothing of its content is trusted, only its signature is reported.
    assert reported == ["ASRT-007"], found
    [d] = found["ASRT-007"]
    assert "does not verify" in d.message
