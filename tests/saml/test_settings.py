"""Settings layering as Grafana's ``Cfg.loadConfiguration`` does it, and the SSO settings record on top
(saml-reference.md §2.2, §5.2-5.4, §6.2)."""

from __future__ import annotations

import json
import socket
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from gtool.saml import ini, settings
from gtool.saml.settings import GrafanaConfig, Setting, SettingsError, Source, SsoRecord, env_key
from gtool.saml.values import split_string


def load(
    text: str = "",
    *,
    env: Mapping[str, str] | None = None,
    cli: tuple[str, ...] = (),
    sso: SsoRecord | None = None,
    base_dir: Path | None = None,
    defaults: str | None = None,
) -> GrafanaConfig:
    custom = ini.parse_text(textwrap.dedent(text).lstrip("\n"), "grafana.ini")
    return settings.load(
        [custom],
        defaults=ini.parse_text(defaults, "defaults.ini") if defaults is not None else None,
        env=env if env is not None else {},
        cli_args=cli,
        sso=sso,
        base_dir=base_dir,
    )


def setting(cfg: GrafanaConfig, section: str, key: str) -> Setting:
    s = cfg.get(section, key)
    assert s is not None, f"[{section}] {key} is not set"
    return s


# Layering order: defaults, cfg:default., custom file, GF_* env, cfg:, expansion.
def test_custom_file_overrides_defaults() -> None:
    cfg = load("[users]\nauto_assign_org_role = Editor\n")
    role = setting(cfg, "users", "auto_assign_org_role")
    assert role.value == "Editor"
    assert str(role.source) == "grafana.ini:2"
    assert role.written is not None and role.written.line == 2
    untouched = setting(cfg, "users", "auto_assign_org_id")
    assert (untouched.value, str(untouched.source)) == ("1", "default")


def test_custom_file_adds_new_sections_and_keys() -> None:
    cfg = load("[auth.saml]\nenabled = true\nname = Okta\n")
    assert cfg.saml("name") == "Okta"
    assert cfg.saml_bool("enabled") is True


def test_empty_custom_value_does_not_blank_a_default() -> None:
    cfg = load("[users]\nauto_assign_org_role =\n")
    role = setting(cfg, "users", "auto_assign_org_role")
    assert (role.value, str(role.source)) == ("Viewer", "default")


def test_empty_custom_value_does_not_create_the_key() -> None:
    cfg = load(
        "[auth.saml]\nassertion_attribute_email =\n", env={"GF_AUTH_SAML_ASSERTION_ATTRIBUTE_EMAIL": "mail"}
    )
    assert cfg.get("auth.saml", "assertion_attribute_email") is None
    # ...so the env var has no key to override either.
    assert cfg.unused_env == ["GF_AUTH_SAML_ASSERTION_ATTRIBUTE_EMAIL"]


def test_defaults_file_may_be_given() -> None:
    cfg = load("", defaults="[auth.saml]\nenabled = false\n", env={"GF_AUTH_SAML_ENABLED": "true"})
    enabled = setting(cfg, "auth.saml", "enabled")
    assert (enabled.value, str(enabled.source)) == ("true", "env:GF_AUTH_SAML_ENABLED")
    assert cfg.unused_env == []


def test_later_custom_file_wins() -> None:
    first = ini.parse_text("[auth.saml]\nname = A\nenabled = true\n", "a.ini")
    second = ini.parse_text("[auth.saml]\nname = B\n", "b.ini")
    cfg = settings.load([first, second], env={})
    assert (cfg.saml("name"), str(setting(cfg, "auth.saml", "name").source)) == ("B", "b.ini:2")
    assert cfg.saml("enabled") == "true"


# applyEnvVariableOverrides: existing keys only, non-empty values only.
def test_env_overrides_an_existing_key() -> None:
    cfg = load("[auth.saml]\nenabled = false\n", env={"GF_AUTH_SAML_ENABLED": "true"})
    enabled = setting(cfg, "auth.saml", "enabled")
    assert enabled.value == "true"
    assert str(enabled.source) == "env:GF_AUTH_SAML_ENABLED"
    assert enabled.written is not None and enabled.written.line == 2  # the line the env var replaced
    assert cfg.unused_env == []


def test_empty_env_value_is_ignored() -> None:
    cfg = load("[auth.saml]\nenabled = false\n", env={"GF_AUTH_SAML_ENABLED": ""})
    assert setting(cfg, "auth.saml", "enabled").value == "false"
    assert cfg.unused_env == []


def test_env_for_a_key_absent_from_the_files_is_not_applied() -> None:
    env = {
        "GF_AUTH_SAML_ENABLED": "true",
        "GF_AUTH_SAML_ALLOW_SIGN_UP": "true",
        "GF_SERVER_DOMAIN": "g.example",
    }
    cfg = load("[auth.saml]\nname = SAML\n", env=env)
    assert cfg.get("auth.saml", "enabled") is None
    assert cfg.saml_bool("enabled") is False
    assert cfg.unused_env == ["GF_AUTH_SAML_ALLOW_SIGN_UP", "GF_AUTH_SAML_ENABLED"]
    assert setting(cfg, "server", "domain").value == "g.example"  # [server] domain is in defaults.ini


def test_env_values_bypass_go_ini_quote_and_comment_handling() -> None:
    # §2.2: the ini line would lose its quotes; the env value keeps them, so SplitString sees one item.
    cfg = load(
        "[auth.saml]\nrole_values_admin = x\nrole_values_editor = x\n",
        env={
            "GF_AUTH_SAML_ROLE_VALUES_ADMIN": '"Grafana Admins"',
            "GF_AUTH_SAML_ROLE_VALUES_EDITOR": "C#-devs ; ops",
        },
    )
    assert cfg.saml("role_values_admin") == '"Grafana Admins"'
    assert cfg.saml_list("role_values_admin") == ("Grafana Admins",)
    assert cfg.saml_list("role_values_editor") == ("C#-devs", ";", "ops")
    shell_ate_quotes = load(
        "[auth.saml]\nrole_values_admin = x\n", env={"GF_AUTH_SAML_ROLE_VALUES_ADMIN": "Grafana Admins"}
    )
    assert shell_ate_quotes.saml_list("role_values_admin") == ("Grafana", "Admins")


@pytest.mark.parametrize(
    ("section", "key", "name"),
    [
        ("auth.saml", "role_values_admin", "GF_AUTH_SAML_ROLE_VALUES_ADMIN"),
        (
            "plugin.grafana-image-renderer",
            "rendering_timezone",
            "GF_PLUGIN_GRAFANA_IMAGE_RENDERER_RENDERING_TIMEZONE",
        ),
        ("auth.generic_oauth", "client.id", "GF_AUTH_GENERIC_OAUTH_CLIENT_ID"),  # dots in the key
        ("feature_toggles", "my-toggle", "GF_FEATURE_TOGGLES_MY-TOGGLE"),  # dashes in the KEY are kept
        ("DEFAULT", "app_mode", "GF_DEFAULT_APP_MODE"),
    ],
)
def test_env_key(section: str, key: str, name: str) -> None:
    assert env_key(section, key) == name


def test_env_key_with_a_dash_in_the_key_name() -> None:
    text = "[feature_toggles]\nmy-toggle = false\n"
    assert (
        setting(
            load(text, env={"GF_FEATURE_TOGGLES_MY_TOGGLE": "true"}), "feature_toggles", "my-toggle"
        ).value
        == "false"
    )
    assert (
        setting(
            load(text, env={"GF_FEATURE_TOGGLES_MY-TOGGLE": "true"}), "feature_toggles", "my-toggle"
        ).value
        == "true"
    )


# Command line: cfg:default.<section>.<key> before the custom file, cfg:<section>.<key> after env.
def test_cfg_default_changes_a_default_and_the_custom_file_still_wins() -> None:
    arg = "cfg:default.users.auto_assign_org_role=Editor"
    role = setting(load("", cli=(arg,)), "users", "auto_assign_org_role")
    assert (role.value, str(role.source)) == ("Editor", f"cli:{arg}")
    assert (
        load("[users]\nauto_assign_org_role = Admin\n", cli=(arg,)).value("users", "auto_assign_org_role")
        == "Admin"
    )


def test_cfg_default_only_reaches_keys_of_defaults_ini() -> None:
    cfg = load(
        "[auth.saml]\nname = SAML\n",
        cli=("cfg:default.auth.saml.enabled=true", "cfg:default.auth.saml.name=X"),
    )
    assert cfg.get("auth.saml", "enabled") is None
    assert cfg.saml("name") == "SAML"


def test_cfg_overrides_file_and_env() -> None:
    cfg = load(
        "[auth.saml]\nenabled = false\n",
        env={"GF_AUTH_SAML_ENABLED": "false"},
        cli=("cfg:auth.saml.enabled=true",),
    )
    enabled = setting(cfg, "auth.saml", "enabled")
    assert (enabled.value, str(enabled.source)) == ("true", "cli:cfg:auth.saml.enabled=true")


def test_cfg_for_an_absent_key_is_not_applied() -> None:
    cfg = load("[auth.saml]\nname = SAML\n", cli=("cfg:auth.saml.enabled=true",))
    assert cfg.get("auth.saml", "enabled") is None


def test_cfg_value_containing_equals_is_ignored() -> None:
    cfg = load("[auth.saml]\ncertificate = old\n", cli=("cfg:auth.saml.certificate=abc==",))
    assert cfg.saml("certificate") == "old"
    assert cfg.cli_args == ["cfg:auth.saml.certificate=abc=="]


def test_cfg_last_argument_wins_and_default_section_keys_have_no_prefix() -> None:
    cfg = load(
        "app_mode = development\n[auth.saml]\nname = A\n",
        cli=("cfg:auth.saml.name=B", "cfg:auth.saml.name=C", "cfg:app_mode=production", "not-a-cfg=1"),
    )
    assert cfg.saml("name") == "C"
    assert cfg.value("DEFAULT", "app_mode") == "production"


# expandConfig: ${VAR}, $__env{VAR}, $__file{path}; other providers untouched.
def test_env_expansion() -> None:
    cfg = load(
        "[auth.saml]\nclient_secret = ${SECRET}\nclient_id = $__env{CLIENT}-x\nname = ${UNSET}SAML\n",
        env={"SECRET": "s3cr3t", "CLIENT": "abc"},
    )
    secret = setting(cfg, "auth.saml", "client_secret")
    assert (secret.value, secret.before_expansion) == ("s3cr3t", "${SECRET}")
    assert [(e.provider, e.argument, e.resolved) for e in secret.expansions] == [("env", "SECRET", True)]
    assert cfg.saml("client_id") == "abc-x"
    name = setting(cfg, "auth.saml", "name")
    assert name.value == "SAML"
    (unset,) = name.expansions
    assert (unset.provider, unset.argument, unset.resolved) == ("env", "UNSET", False)
    assert unset.problem is not None and "UNSET" in unset.problem


def test_env_override_values_are_expanded_too() -> None:
    cfg = load("[auth.saml]\nclient_secret = x\n", env={"GF_AUTH_SAML_CLIENT_SECRET": "${S}", "S": "v"})
    assert cfg.saml("client_secret") == "v"


@pytest.mark.parametrize("env", [{}, {"HOSTNAME": ""}])
def test_hostname_falls_back_to_the_host_name(env: dict[str, str]) -> None:
    cfg = load("[auth.saml]\nentity_id = https://${HOSTNAME}/saml/metadata\n", env=env)
    assert cfg.saml("entity_id") == f"https://{socket.gethostname()}/saml/metadata"
    assert all(e.resolved for e in setting(cfg, "auth.saml", "entity_id").expansions)


def test_hostname_from_the_environment_wins() -> None:
    assert load("[auth.saml]\nname = ${HOSTNAME}\n", env={"HOSTNAME": "box"}).saml("name") == "box"


def test_file_expansion_relative_to_base_dir_and_trimmed(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key.b64").write_text("\n  QUJD  \n\n")
    cfg = load("[auth.saml]\nprivate_key = $__file{secrets/key.b64}\n", base_dir=tmp_path)
    key = setting(cfg, "auth.saml", "private_key")
    assert key.value == "QUJD"
    assert [(e.provider, e.argument, e.resolved) for e in key.expansions] == [
        ("file", "secrets/key.b64", True)
    ]


def test_file_expansion_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "id").write_text("https://sp.example\n")
    cfg = load(f"[auth.saml]\nentity_id = $__file{{{tmp_path / 'id'}}}\n", base_dir=Path("/nonexistent"))
    assert cfg.saml("entity_id") == "https://sp.example"


def test_missing_file_expansion_is_recorded(tmp_path: Path) -> None:
    cfg = load("[auth.saml]\nprivate_key = $__file{nope.pem}\n", base_dir=tmp_path)
    key = setting(cfg, "auth.saml", "private_key")
    (missing,) = key.expansions
    assert (missing.provider, missing.argument, missing.resolved) == ("file", "nope.pem", False)
    assert missing.problem is not None and "nope.pem" in missing.problem


def test_other_providers_are_left_untouched() -> None:
    text = """
        [auth.saml]
        assertion_attribute_name = $__saml{firstName} $__saml{lastName}
        client_secret = $__vault{kv:a:b}
    """
    cfg = load(text, env={"firstName": "WRONG"})
    assert cfg.saml("assertion_attribute_name") == "$__saml{firstName} $__saml{lastName}"
    assert cfg.saml("client_secret") == "$__vault{kv:a:b}"
    vault = setting(cfg, "auth.saml", "client_secret").expansions
    assert [(e.provider, e.resolved) for e in vault] == [("vault", False)]


def test_dollar_brace_in_a_saml_template_is_eaten_by_the_env_expander() -> None:
    # INI-010: ${firstName} is the env provider, not $__saml{firstName}.
    assert (
        load("[auth.saml]\nassertion_attribute_name = ${firstName}\n").saml("assertion_attribute_name") == ""
    )


# %(x)s interpolation after expansion.
def test_root_url_from_builtin_defaults() -> None:
    assert load("").value("server", "root_url") == "http://localhost:3000/"


def test_root_url_interpolates_overridden_parts() -> None:
    cfg = load("[server]\ndomain = grafana.example.com\n", env={"GF_SERVER_HTTP_PORT": "8443"})
    assert cfg.value("server", "root_url") == "http://grafana.example.com:8443/"


def test_interpolation_in_saml_reaches_auth_and_default_sections() -> None:
    cfg = load(
        """
        tenant = acme
        [auth]
        idp = https://idp
        [auth.saml]
        idp_metadata_url = %(idp)s/%(tenant)s/metadata
        """
    )
    assert cfg.saml("idp_metadata_url") == "https://idp/acme/metadata"


# Source strings as messages print them.
@pytest.mark.parametrize(
    ("source", "text"),
    [
        (Source("file", "grafana.ini", 12, 1), "grafana.ini:12"),
        (Source("env", name="GF_AUTH_SAML_ENABLED"), "env:GF_AUTH_SAML_ENABLED"),
        (Source("default"), "default"),
        (
            Source("default", "/usr/share/grafana/conf/defaults.ini", 7),
            "/usr/share/grafana/conf/defaults.ini:7",
        ),
        (Source("sso-settings", path="sso.json"), "sso-settings"),
        (Source("cli", name="cfg:auth.saml.enabled=true"), "cli:cfg:auth.saml.enabled=true"),
    ],
)
def test_source_strings(source: Source, text: str) -> None:
    assert str(source) == text


# --env-file: a snapshot as `env` prints it.
def test_read_env_file(tmp_path: Path) -> None:
    p = tmp_path / "grafana.env"
    p.write_text(
        "# saved with env\n"
        "\n"
        "GF_AUTH_SAML_ENABLED=true\n"
        'GF_AUTH_SAML_ROLE_VALUES_ADMIN="Grafana Admins"\n'
        "export GF_SERVER_DOMAIN=g.example\n"
        "GF_AUTH_SAML_CERTIFICATE=abc==\n"
        "EMPTY=\n"
        "GF_AUTH_SAML_NAME=a # not a comment\n"
    )
    assert settings.read_env_file(str(p)) == {
        "GF_AUTH_SAML_ENABLED": "true",
        "GF_AUTH_SAML_ROLE_VALUES_ADMIN": '"Grafana Admins"',
        "GF_SERVER_DOMAIN": "g.example",
        "GF_AUTH_SAML_CERTIFICATE": "abc==",
        "EMPTY": "",
        "GF_AUTH_SAML_NAME": "a # not a comment",
    }


@pytest.mark.parametrize("bad", ["just words", "=value", "1ABC=x", "A B=x"])
def test_read_env_file_bad_line(tmp_path: Path, bad: str) -> None:
    p = tmp_path / "grafana.env"
    p.write_text(f"A=1\n{bad}\n")
    with pytest.raises(SettingsError) as info:
        settings.read_env_file(str(p))
    assert info.value.path == f"{p}:2"
    assert info.value.hint


def test_read_env_file_missing(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        settings.read_env_file(str(tmp_path / "nope.env"))
    assert "--env-file" in info.value.hint


# --sso-settings: what GET /api/v1/sso-settings[/saml] returns.
RECORD = {
    "enabled": True,
    "name": "Okta",
    "entityId": "https://grafana.example.com/saml/metadata",
    "idpMetadataUrl": "https://idp/metadata",
    "allowSignUp": False,
    "roleValuesGrafanaAdmin": ["Grafana Admins", "ops"],
    "assertionAttributeExternalUid": "uid",
    "maxIssueDelay": "90s",
    "privateKey": "*********",
    "mysteryKey": "x",
}
EXPECTED = {
    "enabled": "true",
    "name": "Okta",
    "entity_id": "https://grafana.example.com/saml/metadata",
    "idp_metadata_url": "https://idp/metadata",
    "allow_sign_up": "false",
    "role_values_grafana_admin": '["Grafana Admins", "ops"]',
    "assertion_attribute_external_uid": "uid",
    "max_issue_delay": "90s",
    "private_key": "*********",
    "mystery_key": "x",
}


@pytest.mark.parametrize(
    "document",
    [
        {"id": "1", "provider": "saml", "settings": RECORD, "source": "database"},
        [
            {"id": "2", "provider": "github", "settings": {"enabled": True}, "source": "system"},
            {"id": "1", "provider": "saml", "settings": RECORD, "source": "database"},
        ],
        RECORD,
    ],
    ids=["one-provider", "list", "bare-settings"],
)
def test_read_sso_settings_shapes(tmp_path: Path, document: object) -> None:
    p = tmp_path / "sso.json"
    p.write_text(json.dumps(document))
    record = settings.read_sso_settings(str(p))
    assert record.source == "database"
    assert record.settings == EXPECTED
    assert record.unknown == ("mysteryKey",)
    assert split_string(record.settings["role_values_grafana_admin"]).items == ("Grafana Admins", "ops")


def test_read_sso_settings_keeps_system_source_and_snake_case_keys(tmp_path: Path) -> None:
    p = tmp_path / "sso.json"
    p.write_text(
        json.dumps(
            {"provider": "saml", "source": "system", "settings": {"role_values_admin": "a", "x": None}}
        )
    )
    record = settings.read_sso_settings(str(p))
    assert record.source == "system"
    assert record.settings == {"role_values_admin": "a", "x": ""}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('[{"provider": "github", "settings": {}}]', "saml"),
        ("[]", "saml"),
        ('"a string"', "JSON object"),
    ],
)
def test_read_sso_settings_errors(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "sso.json"
    p.write_text(content)
    with pytest.raises(SettingsError) as info:
        settings.read_sso_settings(str(p))
    assert message in info.value.message
    assert info.value.hint


def test_read_sso_settings_missing_and_binary(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        settings.read_sso_settings(str(tmp_path / "nope.json"))
    p = tmp_path / "sso.json"
    p.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(SettingsError):
        settings.read_sso_settings(str(p))


# mergeSettings (§6.2): the record wins; missing keys come from the ini except certificate, private_key
# and idp_metadata keys; an empty *_url in the record takes the ini value.
INI = """\
[auth.saml]
enabled = true
name = From ini
allow_sign_up = true
certificate_path = /etc/grafana/sp.crt
private_key_path = /etc/grafana/sp.key
idp_metadata_path = /etc/grafana/idp.xml
idp_metadata_url = https://ini-idp/metadata
token_url = https://login/token
relay_state = rs
"""


def sso(values: dict[str, str], source: str = "database") -> SsoRecord:
    return SsoRecord("sso.json", source, values)


def test_sso_record_wins_and_missing_keys_come_from_the_ini() -> None:
    cfg = load(INI, sso=sso({"name": "From record", "enabled": "true", "certificate": "Q0VSVA=="}))
    assert cfg.sso_overrides
    name = setting(cfg, "auth.saml", "name")
    assert (name.value, str(name.source)) == ("From record", "sso-settings")
    sign_up = setting(cfg, "auth.saml", "allow_sign_up")
    assert (sign_up.value, str(sign_up.source)) == ("true", "grafana.ini:4")
    assert cfg.saml("relay_state") == "rs"


def test_sso_record_owns_certificate_private_key_and_idp_metadata_keys() -> None:
    cfg = load(INI, sso=sso({"name": "From record"}))
    for key in ("certificate_path", "private_key_path", "idp_metadata_path", "idp_metadata_url"):
        assert cfg.get("auth.saml", key) is None, key
    assert cfg.saml("token_url") == "https://login/token"


def test_sso_record_empty_url_takes_the_ini_value() -> None:
    cfg = load(INI, sso=sso({"idp_metadata_url": "", "token_url": "", "relay_state": "", "name": ""}))
    assert setting(cfg, "auth.saml", "idp_metadata_url").value == "https://ini-idp/metadata"
    assert str(setting(cfg, "auth.saml", "token_url").source) == "grafana.ini:9"
    assert cfg.saml("relay_state") == ""  # only *_url keys are replaced
    assert cfg.saml("name") == ""


def test_sso_record_empty_url_without_ini_value_stays_empty() -> None:
    cfg = load("[auth.saml]\nenabled = true\n", sso=sso({"token_url": ""}))
    assert setting(cfg, "auth.saml", "token_url").value == ""


def test_sso_redacted_secret_is_marked() -> None:
    cfg = load(INI, sso=sso({"private_key": "*********", "client_secret": "plain"}))
    assert setting(cfg, "auth.saml", "private_key").redacted
    assert not setting(cfg, "auth.saml", "client_secret").redacted


def test_sso_system_record_does_not_override() -> None:
    cfg = load(INI, sso=sso({"name": "From record", "enabled": "false"}, source="system"))
    assert not cfg.sso_overrides
    name = setting(cfg, "auth.saml", "name")
    assert (name.value, str(name.source)) == ("From ini", "grafana.ini:3")
    assert cfg.get("auth.saml", "certificate_path") is not None


def test_sso_record_leaves_other_sections_alone() -> None:
    cfg = load(INI + "[server]\ndomain = g.example\n", sso=sso({"name": "x"}))
    assert cfg.value("server", "root_url") == "http://g.example:3000/"
