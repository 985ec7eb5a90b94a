"""``POST /api/sandbox/saml/login``: a SAML login performed as Grafana would, against the sandbox's store.

The ``samllogin`` routes are mounted by a test-local fixture on top of the default route modules.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from starlette.testclient import TestClient  # conftest.py (loaded first) silences its warning

from gtool.sandbox.app import ROUTE_MODULES, create_app, load_config, store_options
from gtool.sandbox.store import Store
from tests.sandbox.conftest import ADMIN, Clock, InProcess, basic

ROOT = Path(__file__).resolve().parents[2]
OKTA_INI = ROOT / "samples" / "okta" / "grafana.ini"
ASSERTIONS = ROOT / "samples" / "assertions"
LOGIN = "/api/sandbox/saml/login"
AS_ADMIN = basic(*ADMIN)

INI = """[users]
auto_assign_org_role = Viewer

[auth.saml]
enabled = true
allow_sign_up = true
assertion_attribute_login = login
assertion_attribute_email = email
assertion_attribute_name = name
assertion_attribute_role = role
assertion_attribute_org = org
assertion_attribute_groups = groups
role_values_editor = editors
role_values_admin = admins
org_mapping = eng:2:Editor, ops:3:Viewer
"""

MakeSandbox = Callable[..., InProcess]


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[MakeSandbox]:
    """``make_sandbox(ini_text=INI, ini_path=None, orgs=…, admin_in_orgs=True)``: the in-process app with
    ``samllogin`` mounted and orgs 2.. created (``{id: name}``, the admin as their Admin) for the mappings."""
    made: list[InProcess] = []

    def make(
        ini_text: str | None = INI,
        *,
        ini_path: Path | None = None,
        orgs: Mapping[int, str] | None = None,
        admin_in_orgs: bool = True,
        edition: str | None = None,
    ) -> InProcess:
        config = None
        if ini_path is None and ini_text is not None:
            ini_path = tmp_path / f"grafana-{len(made)}.ini"
            ini_path.write_text(ini_text)
        if ini_path is not None:
            config = load_config(ini_path, env={})
        clock = Clock()
        store = Store(":memory:", clock=clock, **store_options(config))
        for org_id, name in (orgs if orgs is not None else {2: "Engineering", 3: "Operations"}).items():
            store.create_org(name, org_id=org_id)
            if admin_in_orgs:  # Grafana orgs have an Admin (their creator); role updates check for one
                store.add_org_user(org_id, 1, "Admin")
        modules = (*(m for m in ROUTE_MODULES if m != "samllogin"), "samllogin")
        app = create_app(store, config=config, route_modules=modules, edition=edition)
        made.append(InProcess(TestClient(app, base_url="http://localhost:3000"), store, clock))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.client.close()
        sandbox.store.close()


def saml_response(
    login: str,
    *,
    email: str | None = None,
    name: str = "",
    role: Sequence[str] = (),
    org: Sequence[str] = (),
    groups: Sequence[str] = (),
    status: str = "urn:oasis:names:tc:SAML:2.0:status:Success",
) -> bytes:
    """An unsigned SAML Response for ``login`` with the given attribute values."""
    attributes = {
        "login": [login],
        "email": [email or f"{login}@example.com"],
        "name": [name] if name else [],
        "role": list(role),
        "org": list(org),
        "groups": list(groups),
    }
    statements = "".join(
        f'<saml:Attribute Name="{key}">'
        + "".join(f"<saml:AttributeValue>{escape(v)}</saml:AttributeValue>" for v in values)
        + "</saml:Attribute>"
        for key, values in attributes.items()
        if values
    )
    return (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0" '
        'IssueInstant="2025-05-06T09:12:00Z">'
        f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>'
        '<saml:Assertion ID="a1" Version="2.0" IssueInstant="2025-05-06T09:12:00Z">'
        "<saml:Issuer>https://idp.example.com</saml:Issuer>"
        f"<saml:Subject><saml:NameID>{escape(login)}</saml:NameID></saml:Subject>"
        f"<saml:AttributeStatement>{statements}</saml:AttributeStatement>"
        "</saml:Assertion></samlp:Response>"
    ).encode()


def log_in(sb: InProcess, body: bytes, content_type: str = "application/xml") -> Any:
    return sb.client.post(LOGIN, content=body, headers={"Content-Type": content_type})


def ok(sb: InProcess, body: bytes) -> dict[str, Any]:
    answer = log_in(sb, body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def okta(sb: InProcess, name: str = "okta-admin.xml") -> bytes:
    return (ASSERTIONS / name).read_bytes()


OKTA_ORGS = {2: "Data Science", 3: "Customer Success"}


# -- sign-up ----------------------------------------------------------------------------------------------


def test_a_new_okta_user_signs_up_with_the_roles_the_sample_config_grants(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(ini_path=OKTA_INI, orgs=OKTA_ORGS)
    result = ok(sb, okta(sb))
    # Platform Engineering -> org 1 Viewer, raised to Admin by the "Grafana Admins" group; not a server
    # admin: "Grafana Server Admins" is not among her groups.
    assert result["created"] is True
    assert result["user"]["login"] == "jane.doe@example.com"
    assert result["user"]["name"] == "Jane Doe"
    assert result["user"]["isGrafanaAdmin"] is False
    assert result["orgRoles"] == {"1": "Admin"}
    assert result["user"]["orgId"] == 1
    assert result["changes"]["orgs"]["added"] == {"1": "Admin"}
    info = sb.store.get_auth_info(result["user"]["id"])
    assert info is not None and (info.auth_module, info.auth_id) == ("auth.saml", "jane.doe@example.com")
    # The admin API now shows her as a SAML user.
    shown = sb.client.get(f"/api/users/{result['user']['id']}", headers=AS_ADMIN).json()
    assert shown["authLabels"] == ["SAML"] and shown["isExternallySynced"] is True


@pytest.mark.parametrize(
    ("sample", "content_type"),
    [
        ("okta-admin.xml", "application/xml"),
        ("okta-admin.b64", "text/plain"),
        ("okta-viewer-form-body.b64", "application/x-www-form-urlencoded"),
    ],
)
def test_the_response_is_accepted_as_xml_base64_or_a_form_body(
    make_sandbox: MakeSandbox, sample: str, content_type: str
) -> None:
    sb = make_sandbox(ini_path=OKTA_INI, orgs=OKTA_ORGS)
    answer = log_in(sb, okta(sb, sample), content_type)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] is True


def test_a_second_login_finds_the_user_and_changes_nothing(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(ini_path=OKTA_INI, orgs=OKTA_ORGS)
    first = ok(sb, okta(sb))
    again = ok(sb, okta(sb))
    assert again["created"] is False
    assert again["user"]["id"] == first["user"]["id"]
    assert again["changes"]["orgs"] == {
        "added": {},
        "updated": {},
        "removed": {},
        "keptLastAdmin": {},
        "skippedMissingOrg": {},
    }
    assert again["changes"]["grafanaAdmin"] is None


def test_sign_up_disabled_refuses_an_unknown_user_with_grafanas_error(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(INI.replace("allow_sign_up = true", "allow_sign_up = false"))
    answer = log_in(sb, saml_response("newcomer", role=["editors"], org=["eng"]))
    assert answer.status_code == 401
    body = answer.json()
    assert (body["messageId"], body["message"], body["statusCode"]) == (
        "user.sync.signup-disabled",
        "Sign up is disabled",
        401,
    )
    assert body["loginAllowed"] is False
    assert sb.store.get_user_by_login_or_email("newcomer") is None


def test_sign_up_disabled_still_lets_an_existing_user_log_in(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(INI.replace("allow_sign_up = true", "allow_sign_up = false"))
    user = sb.user("known", orgs={2: "Viewer"})
    result = ok(sb, saml_response("known", role=["editors"], org=["eng"]))
    assert result["created"] is False and result["user"]["id"] == user.id
    assert result["orgRoles"] == {"2": "Editor"}
    assert result["changes"]["orgs"]["updated"] == {"2": {"from": "Viewer", "to": "Editor"}}


def test_user_fields_follow_the_assertion(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    user = sb.user("sam", email="sam@example.com", name="Old Name", orgs={2: "Editor"})
    result = ok(sb, saml_response("sam", email="sam@example.com", name="Sam Smith", org=["eng"]))
    assert result["user"]["id"] == user.id
    assert result["changes"]["user"] == {"name": {"from": "Old Name", "to": "Sam Smith"}}
    found = sb.store.get_user(user.id)
    assert found is not None and found.name == "Sam Smith"


# -- the role lock and role sync --------------------------------------------------------------------------


def test_a_manual_role_change_is_overwritten_at_the_next_login_and_then_refused(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox()
    dev = sb.user("dev", orgs={2: "Editor"})  # a local user so far: roles are editable
    answer = sb.client.patch(f"/api/orgs/2/users/{dev.id}", headers=AS_ADMIN, json={"role": "Admin"})
    assert answer.status_code == 200, answer.text
    result = ok(sb, saml_response("dev", org=["eng"]))
    assert result["orgRoles"] == {"2": "Editor"}
    assert result["changes"]["orgs"]["updated"] == {"2": {"from": "Admin", "to": "Editor"}}
    # SAML was the last login and syncs roles: the API now refuses the change, as Grafana does.
    answer = sb.client.patch(f"/api/orgs/2/users/{dev.id}", headers=AS_ADMIN, json={"role": "Admin"})
    assert answer.status_code == 403
    assert answer.json()["message"] == "cannot change role for externally synced user"
    assert sb.store.org_role(2, dev.id) == "Editor"


def test_a_role_changed_behind_the_apis_back_is_overwritten_too(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    uid = ok(sb, saml_response("dev", role=["editors"], org=["eng"]))["user"]["id"]
    from gtool.sandbox import orgdata

    orgdata.update_org_user_role(sb.store, 2, uid, "Viewer")  # e.g. an SQL edit or a restore
    result = ok(sb, saml_response("dev", role=["editors"], org=["eng"]))
    assert result["changes"]["orgs"]["updated"] == {"2": {"from": "Viewer", "to": "Editor"}}


def test_with_skip_org_role_sync_a_manual_role_change_survives_the_next_login(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox(INI + "skip_org_role_sync = true\n")
    first = ok(sb, saml_response("dev", role=["editors"], org=["eng"]))
    uid = first["user"]["id"]
    # A new user joins the default org with auto_assign_org_role (assumption new-user-when-sync-skipped).
    assert first["roleSync"] == "skipped" and first["orgRoles"] == {"1": "Viewer"}
    answer = sb.client.patch(f"/api/orgs/1/users/{uid}", headers=AS_ADMIN, json={"role": "Editor"})
    assert answer.status_code == 200, answer.text
    again = ok(sb, saml_response("dev", role=["admins"], org=["ops"]))
    assert again["orgRoles"] == {"1": "Editor"}
    assert again["changes"]["orgs"]["updated"] == {} and again["changes"]["orgs"]["removed"] == {}


def test_a_membership_in_an_org_the_login_does_not_map_is_removed(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    user = sb.user("dev", orgs={3: "Editor"}, module="auth.saml")
    result = ok(sb, saml_response("dev", org=["eng"]))
    assert result["orgRoles"] == {"2": "Editor"}
    assert result["changes"]["orgs"]["removed"] == {"3": "Editor"}
    assert result["changes"]["orgs"]["added"] == {"2": "Editor"}
    assert result["user"]["orgId"] == 2  # the current org moved to the lowest mapped org
    assert sb.store.org_role(3, user.id) is None


def test_the_last_admin_of_an_unmapped_org_keeps_the_membership(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(admin_in_orgs=False)
    user = sb.user("dev", orgs={3: "Admin"})
    result = ok(sb, saml_response("dev", org=["eng"]))
    assert result["changes"]["orgs"]["keptLastAdmin"] == {"3": "Admin"}
    assert result["orgRoles"] == {"2": "Editor", "3": "Admin"}
    assert sb.store.org_role(3, user.id) == "Admin"


def test_demoting_the_last_admin_of_a_mapped_org_fails_the_login_and_writes_nothing(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox(admin_in_orgs=False)
    user = sb.user("dev", name="Before", orgs={2: "Admin"})
    answer = log_in(sb, saml_response("dev", name="After", org=["eng"]))
    assert answer.status_code == 500
    body = answer.json()
    assert (body["messageId"], body["message"]) == ("user.sync.internal", "User sync failed")
    assert "last Admin" in body["reason"]
    after = sb.store.get_user(user.id)
    assert after is not None and after.name == "Before"  # the whole login rolled back
    assert sb.store.org_role(2, user.id) == "Admin"
    assert sb.store.get_auth_info(user.id) is None


def test_a_mapped_org_that_does_not_exist_is_skipped(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(orgs={2: "Engineering"})  # no org 3
    result = ok(sb, saml_response("dev", org=["eng", "ops"]))
    assert result["orgRoles"] == {"2": "Editor"}


# -- Grafana Admin ----------------------------------------------------------------------------------------


def test_a_server_admin_without_the_grafana_admin_group_is_demoted_at_login(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox(ini_path=OKTA_INI, orgs=OKTA_ORGS)
    jane = sb.user("jane.doe@example.com", email="jane.doe@example.com", grafana_admin=True)
    result = ok(sb, okta(sb))
    assert result["user"]["id"] == jane.id
    assert result["changes"]["grafanaAdmin"] == {"from": True, "to": False}
    assert result["user"]["isGrafanaAdmin"] is False
    # role_values_grafana_admin is set: the flag is now locked for her.
    answer = sb.client.put(
        f"/api/admin/users/{jane.id}/permissions", headers=AS_ADMIN, json={"isGrafanaAdmin": True}
    )
    assert answer.status_code == 403


def test_the_grafana_admin_group_makes_a_server_admin(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(ini_path=OKTA_INI, orgs=OKTA_ORGS)
    body = okta(sb).replace(b">SRE On-Call<", b">Grafana Server Admins<")
    result = ok(sb, body)
    assert result["user"]["isGrafanaAdmin"] is True


def test_without_role_values_grafana_admin_the_flag_is_left_alone(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    user = sb.user("dev", orgs={2: "Editor"}, grafana_admin=True)
    result = ok(sb, saml_response("dev", org=["eng"]))
    assert result["changes"]["grafanaAdmin"] is None
    found = sb.store.get_user(user.id)
    assert found is not None and found.is_admin


# -- team sync --------------------------------------------------------------------------------------------


def test_team_sync_adds_the_user_and_never_removes_a_manual_member(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    sre = sb.store.create_team(2, "SRE")
    sb.store.add_team_group(sre.id, "sre")
    manual = sb.store.create_team(2, "Architects")
    sb.store.add_team_group(manual.id, "architects")
    old = sb.store.create_team(2, "Old synced")
    sb.store.add_team_group(old.id, "old-group")
    user = sb.user("dev", orgs={2: "Editor"})
    sb.store.add_team_member(manual.id, user.id)  # added by hand
    sb.store.add_team_member(old.id, user.id, external=True)  # added by an earlier sync
    result = ok(sb, saml_response("dev", org=["eng"], groups=["sre"]))
    assert [t["name"] for t in result["changes"]["teams"]["joined"]] == ["SRE"]
    assert [t["name"] for t in result["changes"]["teams"]["left"]] == ["Old synced"]
    assert {t["name"]: t["synced"] for t in result["teams"]} == {"Architects": False, "SRE": True}


# -- refusals ---------------------------------------------------------------------------------------------


def test_saml_not_enabled_is_refused_clearly(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(INI.replace("enabled = true", "enabled = false"))
    answer = log_in(sb, saml_response("dev"))
    assert answer.status_code == 404
    assert "SAML is not enabled" in answer.json()["message"]


def test_saml_enabled_through_the_sso_settings_api_is_used(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(INI.replace("enabled = true", "enabled = false"))
    sb.store.put_sso_settings("saml", {"enabled": True, "role_values_editor": "devs"})
    result = ok(sb, saml_response("dev", role=["devs"], org=["eng"]))
    assert result["orgRoles"] == {"2": "Editor"}


def test_an_open_source_sandbox_has_no_saml(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(edition="Open Source")
    answer = log_in(sb, saml_response("dev", org=["eng"]))
    assert answer.status_code == 404 and "Enterprise" in answer.json()["message"]


def test_a_sandbox_without_grafana_ini_refuses_saml(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(None)
    assert log_in(sb, saml_response("dev")).status_code == 404


def test_allowed_organizations_refuses_other_users(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(INI + "allowed_organizations = eng\n")
    answer = log_in(sb, saml_response("dev", org=["ops"]))
    assert answer.status_code == 403
    assert answer.json()["messageId"] == "sandbox.saml.login-denied"
    assert sb.store.get_user_by_login_or_email("dev") is None


def test_a_disabled_user_cannot_log_in(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    user = sb.user("dev", orgs={2: "Editor"})
    sb.store.set_disabled(user.id, True)
    answer = log_in(sb, saml_response("dev", org=["eng"]))
    assert answer.status_code == 401 and answer.json()["messageId"] == "identity.disabled"


def test_an_idp_error_status_is_refused(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    answer = log_in(sb, saml_response("dev", status="urn:oasis:names:tc:SAML:2.0:status:Responder"))
    assert answer.status_code == 401
    assert "Responder" in answer.json()["message"]


GARBAGE = [
    b"",
    b"   \n",
    b"hello",
    b"<html><body>login page</body></html>",
    b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'",
    b"SAMLResponse=!!!notbase64",
    base64.b64encode(b"not xml at all"),
    b"\xff\xfe\x00garbage\x80",
    b'{"json": true}',
    b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    b"SAMLRequest="
    + base64.b64encode(b"<samlp:AuthnRequest xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>"),
    b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>",
]


@pytest.mark.parametrize("body", GARBAGE)
def test_a_garbage_body_gets_a_clear_400_never_a_500(make_sandbox: MakeSandbox, body: bytes) -> None:
    sb = make_sandbox()
    answer = log_in(sb, body)
    assert answer.status_code == 400, answer.text
    payload = answer.json()
    assert payload["messageId"] == "sandbox.saml.bad-message"
    assert payload["message"]


def test_an_oversized_body_gets_a_400(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    answer = log_in(sb, b"<x>" + b"a" * (2 << 20) + b"</x>")
    assert answer.status_code == 400
    assert "larger than" in answer.json()["message"]
