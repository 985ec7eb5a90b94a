"""Contract tests for the SSO settings API (grafana-api-contract.md §7.3, §13.31, §11 E13).

The ``sso`` routes are mounted by a test-local fixture on top of the default route modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient  # pytest loads conftest.py first, which silences its warning

from gtool.sandbox import ssodata
from gtool.sandbox.app import ROUTE_MODULES, create_app, load_config
from gtool.sandbox.store import Store
from tests.sandbox.conftest import ADMIN, Clock, InProcess, basic

AS_ADMIN = basic(*ADMIN)
PATH = "/api/v1/sso-settings/saml"
E13_INI = """[auth.saml]
enabled = true
allow_sign_up = false
idp_metadata_url = https://idp.example.com/metadata
assertion_attribute_login = login
assertion_attribute_email = mail
assertion_attribute_role = role
role_values_editor = grafana-editors
role_values_admin = grafana-admins
certificate_path = /etc/grafana/saml.crt
private_key_path = /etc/grafana/saml.key
"""
E13 = (
    '{"id":"","provider":"saml","settings":{"allowSignUp":false,"assertionAttributeEmail":"mail",'
    '"assertionAttributeLogin":"login","assertionAttributeRole":"role","enabled":true,"entityId":"",'
    '"idpMetadataUrl":"https://idp.example.com/metadata","name":"SAML","roleValuesAdmin":"grafana-admins",'
    '"roleValuesEditor":"grafana-editors","skipOrgRoleSync":false},"source":"system"}'
)
VALID = {"idpMetadataUrl": "https://idp.example.com/metadata", "certificate": "CERT", "privateKey": "KEY"}

MakeSandbox = Callable[..., InProcess]


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[MakeSandbox]:
    """``make_sandbox(ini=None, edition=None)``: conftest's in-process app with the ``sso`` routes mounted."""
    made: list[InProcess] = []

    def make(ini: str | None = None, *, edition: str | None = None) -> InProcess:
        config = None
        if ini is not None:
            path = tmp_path / f"grafana-{len(made)}.ini"
            path.write_text(ini)
            config = load_config(path, env={})
        clock = Clock()
        store = Store(":memory:", clock=clock)
        modules = (*(m for m in ROUTE_MODULES if m != "sso"), "sso")
        app = create_app(store, config=config, edition=edition, route_modules=modules)
        made.append(InProcess(TestClient(app, base_url="http://localhost:3000"), store, clock))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.client.close()
        sandbox.store.close()


def put(sb: InProcess, settings: dict[str, Any], headers: dict[str, str] = AS_ADMIN) -> Any:
    return sb.client.put(PATH, headers=headers, json={"settings": settings})


def saml(sb: InProcess) -> Any:
    return sb.client.get(PATH, headers=AS_ADMIN)


# -- 13.31 ------------------------------------------------------------------------------------------------


def test_13_31_get_saml_has_camel_case_keys_redacted_secrets_and_etag(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(E13_INI)
    response = saml(sb)
    assert response.status_code == 200
    body = response.json()
    settings = body["settings"]
    assert "skipOrgRoleSync" in settings and "roleValuesEditor" in settings
    assert all("_" not in key for key in settings)
    assert list(settings) == sorted(settings)
    assert (settings["certificatePath"], settings["privateKeyPath"]) == ("*********", "*********")
    assert settings["certificate"] == ""  # empty secrets are not redacted
    assert response.headers["etag"] == ssodata.etag(body)
    assert len(response.headers["etag"]) == 16


def test_13_31_saml_is_not_found_without_a_saml_licence(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(E13_INI, edition="Open Source")
    expected = (
        b'{"message":"The provider was not found.","messageId":"sso.notFound","statusCode":404,"traceID":""}'
    )
    for response in (saml(sb), put(sb, VALID), sb.client.delete(PATH, headers=AS_ADMIN)):
        assert (response.status_code, response.content) == (404, expected)
    assert sb.client.get("/api/v1/sso-settings", headers=AS_ADMIN).json() == []


def test_13_31_put_returns_204_with_an_empty_body(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    response = put(sb, {**VALID, "enabled": True})
    assert (response.status_code, response.content) == (204, b"")


# -- E13 --------------------------------------------------------------------------------------------------


def test_e13_saml_settings_from_ini_field_for_field(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(E13_INI)
    body = saml(sb).json()
    expected = json.loads(E13)
    assert list(body) == list(expected) == ["id", "provider", "settings", "source"]
    assert {k: body["settings"][k] for k in expected["settings"]} == expected["settings"]
    assert (body["id"], body["provider"], body["source"]) == ("", "saml", "system")


def test_e13_bytes_for_the_shown_subset(make_sandbox: MakeSandbox) -> None:
    """E13 shows a subset of keys: dropping the others from our body gives E13 byte for byte."""
    sb = make_sandbox(E13_INI)
    text = saml(sb).text
    shown = json.loads(E13)["settings"]
    body = json.loads(text)
    body["settings"] = {k: v for k, v in body["settings"].items() if k in shown}
    from gtool.sandbox.gojson import dumps

    assert dumps(body).decode() == E13


def test_durations_serialise_as_go_nanoseconds(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox("[auth.saml]\nmax_issue_delay = 2m\n")
    settings = saml(sb).json()["settings"]
    assert (settings["maxIssueDelay"], settings["metadataValidDuration"]) == (
        120_000_000_000,
        172_800_000_000_000,
    )


# -- PUT / DELETE -----------------------------------------------------------------------------------------


def test_put_then_get_is_database_and_merges_the_ini(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(E13_INI)
    settings_in = {**VALID, "enabled": True, "skipOrgRoleSync": True}
    # The path key wins over "provider" in the body.
    response = sb.client.put(PATH, headers=AS_ADMIN, json={"provider": "github", "settings": settings_in})
    assert response.status_code == 204
    body = saml(sb).json()
    assert body["source"] == "database" and body["provider"] == "saml" and body["id"] != ""
    settings = body["settings"]
    assert settings["skipOrgRoleSync"] is True
    assert settings["roleValuesEditor"] == "grafana-editors"  # filled from the ini
    assert settings["certificate"] == settings["privateKey"] == "*********"
    assert "certificatePath" not in settings  # secrets' sources are never merged from the ini
    assert sb.store.get_sso_settings("saml") == {
        "certificate": "CERT",
        "enabled": True,
        "idp_metadata_url": "https://idp.example.com/metadata",
        "private_key": "KEY",
        "skip_org_role_sync": True,
    }


def test_put_with_redacted_secret_keeps_the_stored_one(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    assert put(sb, VALID).status_code == 204
    shown = saml(sb).json()["settings"]
    assert put(sb, {**shown, "name": "Okta"}).status_code == 204
    stored = sb.store.get_sso_settings("saml")
    assert stored is not None
    assert (stored["certificate"], stored["private_key"], stored["name"]) == ("CERT", "KEY", "Okta")


def test_etag_follows_the_body(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    first = saml(sb).headers["etag"]
    assert saml(sb).headers["etag"] == first
    put(sb, VALID)
    assert saml(sb).headers["etag"] != first


def test_delete_goes_back_to_system(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(E13_INI)
    put(sb, VALID)
    deleted = sb.client.delete(PATH, headers=AS_ADMIN)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert saml(sb).json()["source"] == "system"
    assert sb.client.delete(PATH, headers=AS_ADMIN).json()["messageId"] == "sso.notFound"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"certificate": "C", "privateKey": "K"}, "No value for key `idp_metadata` was provided"),
        (
            {**VALID, "idpMetadata": "PD94"},
            "Too many options have been provided for the `idp_metadata` key",
        ),
        (
            {**VALID, "certificatePath": "/c.pem"},
            "Too many options have been provided for the `certificate` key",
        ),
        ({"idpMetadataUrl": "u", "certificate": "C"}, "No value for key `private_key` was provided"),
    ],
)
def test_put_validation_require_only_one(
    make_sandbox: MakeSandbox, settings: dict[str, Any], message: str
) -> None:
    sb = make_sandbox()
    response = put(sb, settings)
    assert response.status_code == 400
    assert response.json() == {
        "message": message,
        "messageId": "sso.saml.settings",
        "statusCode": 400,
        "traceID": "",
    }
    assert sb.store.get_sso_settings("saml") is None


@pytest.mark.parametrize("body", [b"{", b'{"settings":"x"}', b"[1]", b'{"provider":1}'])
def test_put_bad_body(make_sandbox: MakeSandbox, body: bytes) -> None:
    sb = make_sandbox()
    response = sb.client.put(PATH, headers={**AS_ADMIN, "Content-Type": "application/json"}, content=body)
    assert (response.status_code, response.content) == (
        400,
        b'{"message":"Failed to parse request body","traceID":""}',
    )


def test_unknown_provider_is_not_found(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    response = sb.client.get("/api/v1/sso-settings/github", headers=AS_ADMIN)
    assert (response.status_code, response.json()["messageId"]) == (404, "sso.notFound")


def test_list_holds_saml(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(E13_INI)
    listed = sb.client.get("/api/v1/sso-settings", headers=AS_ADMIN).json()
    assert [p["provider"] for p in listed] == ["saml"]
    assert listed[0] == saml(sb).json()


def test_settings_need_grafana_admin(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    sb.user("orgadmin", orgs={1: "Admin"})
    headers = basic("orgadmin", "pw-orgadmin")
    for response, needed in (
        (sb.client.get(PATH, headers=headers), "settings:read"),
        (put(sb, VALID, headers), "settings:write"),
        (sb.client.get("/api/v1/sso-settings", headers=headers), "settings:read"),
    ):
        assert response.status_code == 403
        assert response.json()["message"].endswith(f"Permissions needed: {needed}")


# -- the stored record drives external sync (§5) ----------------------------------------------------------


def test_stored_settings_decide_externally_synced(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox("[auth.saml]\nenabled = true\n")
    jane = sb.user("jane", module="auth.saml")

    def synced() -> bool:
        flag: bool = sb.client.get(f"/api/users/{jane.id}", headers=AS_ADMIN).json()["isExternallySynced"]
        return flag

    assert synced() is True
    assert put(sb, {**VALID, "enabled": True, "skipOrgRoleSync": True}).status_code == 204
    assert synced() is False
    assert put(sb, {**VALID, "enabled": False}).status_code == 204
    assert synced() is False
    assert sb.client.delete(PATH, headers=AS_ADMIN).status_code == 204
    assert synced() is True
