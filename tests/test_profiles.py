"""Profiles: the TOML file, secret references, environment overrides, atomic writes."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from gtool import profiles
from gtool.grafana.auth import ApiKeyBasicAuth, BasicAuth, Secret, TokenAuth
from gtool.profiles import Profile, ProfileError

TOKEN = "glsa_TESTtoken0123456789abcdef_01234567"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "cfg" / "gtool" / "config.toml"


def prod(**kw: object) -> Profile:
    base: dict[str, object] = {
        "name": "prod",
        "url": "https://grafana.example.com/grafana/",
        "auth": "token",
        "secret": "env:PROD_TOKEN",
    }
    base.update(kw)
    return Profile(**base)  # type: ignore[arg-type]


# --- paths -----------------------------------------------------------------------------------------------


def test_default_path_respects_xdg_config_home(tmp_path: Path) -> None:
    assert profiles.default_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "gtool" / "config.toml"


def test_default_path_ignores_relative_xdg_and_falls_back_to_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert profiles.default_path({"XDG_CONFIG_HOME": "relative"}) == Path(
        "/home/someone/.config/gtool/config.toml"
    )
    assert profiles.default_path({}) == Path("/home/someone/.config/gtool/config.toml")


def test_load_uses_xdg_when_no_path_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path / "gtool" / "config.toml",
        '[profiles.a]\nurl = "https://a"\nauth = "token"\nsecret = "env:T"\n',
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert list(profiles.load().profiles) == ["a"]


def test_missing_file_is_empty_not_an_error(cfg: Path) -> None:
    loaded = profiles.load(cfg)
    assert loaded.profiles == {} and not loaded.exists and loaded.warnings == []


# --- add / get / list / remove ---------------------------------------------------------------------------


def test_add_creates_a_0600_file_and_round_trips(cfg: Path) -> None:
    p = prod(read_only=True, default_org=3, ca_bundle="/etc/ssl/corp.pem")
    assert profiles.add(p, path=cfg) == []
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert stat.S_IMODE(cfg.parent.stat().st_mode) == 0o700
    assert profiles.get("prod", cfg) == p
    text = cfg.read_text()
    assert "[profiles.prod]" in text and 'secret = "env:PROD_TOKEN"' in text
    assert "insecure" not in text  # defaults are not written


def test_add_refuses_to_clobber_and_overwrite_updates_in_place(cfg: Path) -> None:
    write(
        cfg,
        "# my Grafanas\n"
        "[profiles.prod]\n"
        "# the big one\n"
        'url = "https://old.example.com"  # moved in 2025\n'
        'auth = "token"\n'
        'secret = "env:OLD"\n'
        "read_only = true\n",
    )
    with pytest.raises(ProfileError, match="already exists"):
        profiles.add(prod(), path=cfg)
    profiles.add(prod(), overwrite=True, path=cfg)
    text = cfg.read_text()
    assert "# my Grafanas" in text and "# the big one" in text
    assert "read_only" not in text  # back to the default
    assert profiles.get("prod", cfg).secret == "env:PROD_TOKEN"


def test_comments_and_order_survive_add_and_remove(cfg: Path) -> None:
    original = (
        "# top comment\n"
        'default = "b"\n\n'
        "[profiles.b]  # staging\n"
        'url = "https://b.example.com"\n'
        'auth = "basic"\n'
        'user = "admin"  # local admin\n'
        'secret = "command:pass show grafana/b"\n\n'
        "[profiles.a]\n"
        'url = "https://a.example.com"\n'
        'auth = "token"\n'
        'secret = "env:A_TOKEN"\n'
    )
    write(cfg, original)
    profiles.add(prod(name="c"), path=cfg)
    text = cfg.read_text()
    assert text.startswith(original)
    assert text.index("[profiles.b]") < text.index("[profiles.a]") < text.index("[profiles.c]")
    profiles.remove("c", cfg)
    assert cfg.read_text().rstrip() == original.rstrip()
    assert [p.name for p in profiles.list_profiles(cfg)] == ["b", "a"]


def test_remove_unknown_and_default(cfg: Path) -> None:
    profiles.add(prod(), path=cfg)
    profiles.set_default("prod", cfg)
    assert profiles.load(cfg).default == "prod"
    with pytest.raises(ProfileError, match="no profile named 'nope'") as err:
        profiles.remove("nope", cfg)
    assert "prod" in err.value.hint
    profiles.remove("prod", cfg)
    loaded = profiles.load(cfg)
    assert loaded.profiles == {} and loaded.default is None


def test_set_default_goes_before_tables(cfg: Path) -> None:
    profiles.add(prod(), path=cfg)
    profiles.set_default("prod", cfg)
    assert cfg.read_text().startswith('default = "prod"')
    assert profiles.load(cfg).default == "prod"
    profiles.set_default(None, cfg)
    assert "default" not in cfg.read_text()


@pytest.mark.parametrize(
    "secret",
    [TOKEN, "hunter2", "s3cret:with-colon", "http://x"],
)
def test_add_refuses_a_literal_secret_without_echoing_it(cfg: Path, secret: str) -> None:
    with pytest.raises(ProfileError) as err:
        profiles.add(prod(secret=secret), path=cfg)
    assert "reference" in err.value.message
    assert "env:" in err.value.hint and "command:" in err.value.hint and "keyring:" in err.value.hint
    assert secret not in str(err.value) + err.value.hint
    assert not cfg.exists()


def test_add_refuses_credentials_in_the_url(cfg: Path) -> None:
    with pytest.raises(ProfileError, match="credentials") as err:
        profiles.add(prod(url="https://admin:hunter2@grafana.example.com"), path=cfg)
    assert "hunter2" not in str(err.value) + err.value.hint


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"name": "bad name"}, "invalid profile name"),
        ({"url": "grafana.example.com"}, "must look like"),
        ({"auth": "oauth"}, "auth must be"),
        ({"auth": "basic"}, "needs a user"),
        ({"user": "admin"}, "token profile has no user"),
        ({"secret": "env:NOT A NAME"}, "not an environment variable name"),
        ({"secret": "keyring:noslash"}, "service and a user"),
        ({"secret": "command:'unclosed"}, "cannot split"),
        ({"secret": "env:"}, "nothing after"),
        ({"insecure": True, "ca_bundle": "/x.pem"}, "contradict"),
    ],
)
def test_add_validates(cfg: Path, kw: dict[str, object], match: str) -> None:
    with pytest.raises(ProfileError, match=match):
        profiles.add(prod(**kw), path=cfg)


def test_failed_write_leaves_the_old_file_intact(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles.add(prod(), path=cfg)
    before = cfg.read_bytes()

    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(ProfileError, match="No space left") as err:
        profiles.add(prod(name="other"), path=cfg)
    assert "unchanged" in err.value.hint
    assert cfg.read_bytes() == before
    assert [p.name for p in cfg.parent.iterdir()] == ["config.toml"]  # no temp file left behind


def test_failed_rename_leaves_the_old_file_intact(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles.add(prod(), path=cfg)
    before = cfg.read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ProfileError):
        profiles.remove("prod", cfg)
    assert cfg.read_bytes() == before
    assert [p.name for p in cfg.parent.iterdir()] == ["config.toml"]


def test_add_refuses_to_rewrite_a_broken_file(cfg: Path) -> None:
    broken = '[profiles.prod]\nurl = "https://x"\nauth = = "token"\n'
    write(cfg, broken)
    with pytest.raises(ProfileError):
        profiles.add(prod(name="other"), path=cfg)
    assert cfg.read_text() == broken


# --- errors with file and line ---------------------------------------------------------------------------


def test_bad_toml_names_file_and_line(cfg: Path) -> None:
    write(cfg, '[profiles.prod]\nurl = "https://x"\nauth = = "token"\n')
    with pytest.raises(ProfileError) as err:
        profiles.load(cfg)
    assert err.value.path == cfg and err.value.line == 3
    assert str(err.value).startswith(f"{cfg}:3: not valid TOML")


def test_unknown_key_names_line(cfg: Path) -> None:
    write(cfg, '[profiles.prod]\nurl = "https://x"\nauth = "token"\nsecret = "env:T"\nverify = false\n')
    with pytest.raises(ProfileError, match="unknown key 'verify'") as err:
        profiles.load(cfg)
    assert err.value.line == 5 and "read_only" in err.value.hint


def test_token_key_is_refused_as_a_literal_secret(cfg: Path) -> None:
    write(cfg, f'[profiles.prod]\nurl = "https://x"\nauth = "token"\ntoken = "{TOKEN}"\n')
    with pytest.raises(ProfileError, match="would hold a secret") as err:
        profiles.load(cfg)
    assert err.value.line == 4 and "env:" in err.value.hint
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize(
    ("body", "match", "line"),
    [
        (
            'url = "https://x"\nauth = "token"\nsecret = "env:T"\nread_only = "yes"\n',
            "read_only must be true",
            5,
        ),
        (
            'url = "https://x"\nauth = "token"\nsecret = "env:T"\ndefault_org = true\n',
            "default_org must be",
            5,
        ),
        ('url = 5\nauth = "token"\nsecret = "env:T"\n', "url must be a string", 2),
        ('auth = "token"\nsecret = "env:T"\n', "has no 'url'", 1),
        ('url = "https://x"\nauth = "token"\nsecret = "hunter2"\n', "must be a reference", 1),
    ],
)
def test_wrong_types_and_values(cfg: Path, body: str, match: str, line: int) -> None:
    write(cfg, "[profiles.prod]\n" + body)
    with pytest.raises(ProfileError, match=match) as err:
        profiles.load(cfg)
    assert err.value.line == line
    assert "hunter2" not in str(err.value)


def test_unknown_top_level_key_and_bad_default(cfg: Path) -> None:
    write(cfg, 'colour = "blue"\n')
    with pytest.raises(ProfileError, match="unknown top-level key 'colour'") as err:
        profiles.load(cfg)
    assert err.value.line == 1
    write(cfg, 'default = "nope"\n')
    with pytest.raises(ProfileError, match="names no profile"):
        profiles.load(cfg)


def test_string_default_org_and_quoted_profile_name(cfg: Path) -> None:
    write(
        cfg,
        '[profiles."eu.prod"]\nurl = "https://x"\nauth = "token"\nsecret = "env:T"\n'
        'default_org = "Main Org."\n',
    )
    assert profiles.get("eu.prod", cfg).default_org == "Main Org."


# --- permission warnings (checked through os.stat modes: root can read anything) -------------------------


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o640, True), (0o604, True), (0o400, False)])
def test_group_or_world_readable_file_warns(cfg: Path, mode: int, warned: bool) -> None:
    write(cfg, '[profiles.a]\nurl = "https://a"\nauth = "token"\nsecret = "env:T"\n', mode)
    warnings = profiles.load(cfg).warnings
    assert bool(warnings) is warned
    if warned:
        assert f"chmod 600 {cfg}" in warnings[0] and f"{mode:04o}" in warnings[0]


def test_resolve_carries_the_mode_warning(cfg: Path) -> None:
    write(cfg, '[profiles.a]\nurl = "https://a"\nauth = "token"\nsecret = "env:T"\n', 0o644)
    conn = profiles.resolve("a", {"T": TOKEN}, cfg)
    assert any("chmod 600" in w for w in conn.warnings)


# --- secret references -----------------------------------------------------------------------------------


def test_env_reference() -> None:
    assert profiles.resolve_secret("env:X", {"X": TOKEN}).reveal() == TOKEN
    with pytest.raises(ProfileError, match="X is not set") as err:
        profiles.resolve_secret("env:X", {"X": ""})
    assert "export X=" in err.value.hint


def test_command_reference_runs_without_a_shell_and_strips() -> None:
    cmd = f"{sys.executable} -c 'print(\"  {TOKEN}  \")'"
    assert profiles.resolve_secret(f"command:{cmd}").reveal() == TOKEN
    # shell syntax is passed to the program as data, not interpreted
    out = profiles.resolve_secret(
        f"command:{sys.executable} -c 'import sys; print(sys.argv[1])' '$HOME;echo'"
    )
    assert out.reveal() == "$HOME;echo"


def test_command_reference_failures() -> None:
    with pytest.raises(ProfileError, match="not found"):
        profiles.resolve_secret("command:/nonexistent/gtool-secret-helper")
    fail = f"command:{sys.executable} -c 'import sys; sys.stderr.write(\"vault is sealed\\n\"); sys.exit(3)'"
    with pytest.raises(ProfileError, match="exit status 3: vault is sealed") as err:
        profiles.resolve_secret(fail)
    assert "run it yourself" in err.value.hint
    with pytest.raises(ProfileError, match="printed nothing"):
        profiles.resolve_secret(f"command:{sys.executable} -c 'pass'")
    with pytest.raises(ProfileError, match=r"did not finish within 0\.5 s"):
        profiles.resolve_secret(f"command:{sys.executable} -c 'import time; time.sleep(5)'", timeout=0.5)


def test_file_reference(tmp_path: Path) -> None:
    secret_file = write(tmp_path / "tok", TOKEN + "\n", 0o600)
    assert profiles.resolve_secret(f"file:{secret_file}").reveal() == TOKEN
    secret_file.chmod(0o640)
    with pytest.raises(ProfileError, match="mode 0640") as err:
        profiles.resolve_secret(f"file:{secret_file}")
    assert err.value.hint == f"chmod 600 {secret_file}"
    with pytest.raises(ProfileError, match="cannot read"):
        profiles.resolve_secret(f"file:{tmp_path / 'missing'}")
    write(tmp_path / "empty", "\n")
    with pytest.raises(ProfileError, match="empty"):
        profiles.resolve_secret(f"file:{tmp_path / 'empty'}")


def test_keyring_missing_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # makes `import keyring` raise ImportError
    with pytest.raises(ProfileError, match="'keyring' package") as err:
        profiles.resolve_secret("keyring:grafana-prod/admin")
    assert "pip install keyring" in err.value.hint and "pipx inject gtool keyring" in err.value.hint


def test_keyring_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeKeyring:
        @staticmethod
        def get_password(service: str, user: str) -> str | None:
            return TOKEN if (service, user) == ("grafana/prod", "admin") else None

    monkeypatch.setitem(sys.modules, "keyring", FakeKeyring)
    assert profiles.resolve_secret("keyring:grafana/prod/admin").reveal() == TOKEN
    with pytest.raises(ProfileError, match="no keyring entry") as err:
        profiles.resolve_secret("keyring:other/admin")
    assert "keyring set other admin" in err.value.hint


def test_keyring_backend_error_is_a_profile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @staticmethod
        def get_password(service: str, user: str) -> str | None:
            raise RuntimeError("no D-Bus session")

    monkeypatch.setitem(sys.modules, "keyring", Broken)
    with pytest.raises(ProfileError, match="no D-Bus session"):
        profiles.resolve_secret("keyring:s/u")


# --- resolve and the environment overrides ---------------------------------------------------------------


@pytest.fixture
def two(cfg: Path, tmp_path: Path) -> Path:
    pw = write(tmp_path / "pw", "hunter2-admin\n", 0o600)
    profiles.add(prod(read_only=True, default_org=2), path=cfg)
    profiles.add(Profile("local", "http://localhost:3000", "basic", f"file:{pw}", user="admin"), path=cfg)
    return cfg


def test_resolve_token_profile(two: Path) -> None:
    conn = profiles.resolve("prod", {"PROD_TOKEN": TOKEN}, two)
    assert conn.url == "https://grafana.example.com/grafana"
    assert conn.auth_kind == "token" and conn.secret == Secret(TOKEN)
    assert conn.read_only and conn.default_org == 2 and conn.profile == "prod"
    assert conn.credential() == TokenAuth(TOKEN)
    assert conn.client_kwargs()["org_id"] == 2
    assert conn.sources == {"url": "profile prod", "credential": "profile prod (env:PROD_TOKEN)"}
    assert TOKEN not in repr(conn)


def test_resolve_basic_profile(two: Path) -> None:
    conn = profiles.resolve("local", {}, two)
    assert conn.credential() == BasicAuth("admin", "hunter2-admin")
    assert "hunter2" not in repr(conn)


def test_api_key_user_means_token_as_basic(cfg: Path) -> None:
    profiles.add(Profile("k", "https://x", "basic", "env:T", user="api_key"), path=cfg)
    assert isinstance(profiles.resolve("k", {"T": TOKEN}, cfg).credential(), ApiKeyBasicAuth)


def test_env_url_and_token_override_the_profile(two: Path) -> None:
    env = {"GRAFANA_URL": "https://other.example.com", "GRAFANA_TOKEN": "glsa_other_0123456789"}
    conn = profiles.resolve("local", env, two)  # the profile's file secret is not even read
    assert conn.url == "https://other.example.com" and conn.credential() == TokenAuth("glsa_other_0123456789")
    assert conn.sources == {"url": "GRAFANA_URL", "credential": "GRAFANA_TOKEN"}


def test_env_password_overrides_with_profile_or_env_user(two: Path) -> None:
    conn = profiles.resolve("local", {"GRAFANA_PASSWORD": "pw-from-env"}, two)
    assert conn.credential() == BasicAuth("admin", "pw-from-env")
    conn = profiles.resolve("prod", {"GRAFANA_USER": "root", "GRAFANA_PASSWORD": "pw-from-env"}, two)
    assert conn.credential() == BasicAuth("root", "pw-from-env")
    assert conn.read_only  # the profile's safety settings still apply
    with pytest.raises(ProfileError, match="no user is known"):
        profiles.resolve("prod", {"GRAFANA_PASSWORD": "pw"}, two)


def test_env_user_alone_changes_the_login_of_a_basic_profile(two: Path) -> None:
    conn = profiles.resolve("local", {"GRAFANA_USER": "ops"}, two)
    assert conn.credential() == BasicAuth("ops", "hunter2-admin")
    with pytest.raises(ProfileError, match="uses a token"):
        profiles.resolve("prod", {"GRAFANA_USER": "ops", "PROD_TOKEN": TOKEN}, two)


def test_env_token_and_password_together_is_an_error(two: Path) -> None:
    with pytest.raises(ProfileError, match="both GRAFANA_TOKEN and GRAFANA_PASSWORD"):
        profiles.resolve("prod", {"GRAFANA_TOKEN": "t" * 10, "GRAFANA_PASSWORD": "p"}, two)


def test_environment_only_without_a_profile(cfg: Path) -> None:
    conn = profiles.resolve(None, {"GRAFANA_URL": "https://g.example.com/", "GRAFANA_TOKEN": TOKEN}, cfg)
    assert conn.profile is None and conn.url == "https://g.example.com" and conn.auth_kind == "token"
    with pytest.raises(ProfileError, match="no credential"):
        profiles.resolve(None, {"GRAFANA_URL": "https://g.example.com/"}, cfg)
    with pytest.raises(ProfileError, match="no Grafana to talk to"):
        profiles.resolve(None, {}, cfg)


def test_default_profile_is_used_when_none_is_named(two: Path) -> None:
    profiles.set_default("local", two)
    assert profiles.resolve(None, {}, two).profile == "local"


def test_env_url_with_credentials_is_refused(two: Path) -> None:
    with pytest.raises(ProfileError, match="credentials") as err:
        profiles.resolve("prod", {"GRAFANA_URL": "https://u:hunter2@x", "PROD_TOKEN": TOKEN}, two)
    assert "hunter2" not in str(err.value) + err.value.hint


def test_unknown_profile(two: Path) -> None:
    with pytest.raises(ProfileError, match="no profile named 'nope'") as err:
        profiles.resolve("nope", {}, two)
    assert "prod" in err.value.hint and "local" in err.value.hint


def test_insecure_profile_warns(cfg: Path) -> None:
    profiles.add(prod(insecure=True), path=cfg)
    conn = profiles.resolve("prod", {"PROD_TOKEN": TOKEN}, cfg)
    assert conn.insecure and any("not verified" in w for w in conn.warnings)


def test_resolve_failure_never_shows_the_secret(cfg: Path, tmp_path: Path) -> None:
    leaky = f"command:{sys.executable} -c 'import sys; print(\"{TOKEN}\"); sys.exit(1)'"
    profiles.add(prod(secret=leaky), path=cfg)
    with pytest.raises(ProfileError) as err:
        profiles.resolve("prod", {}, cfg)
    assert TOKEN not in str(err.value)


def test_os_environ_is_the_default(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles.add(prod(), path=cfg)
    monkeypatch.setenv("PROD_TOKEN", TOKEN)
    for k in profiles.ENV_OVERRIDES:
        monkeypatch.delenv(k, raising=False)
    assert profiles.resolve("prod", path=cfg).secret.reveal() == TOKEN
    assert os.environ["PROD_TOKEN"] == TOKEN


def test_connection_builds_a_client(two: Path) -> None:
    from gtool.grafana import GrafanaClient

    conn = profiles.resolve("prod", {"PROD_TOKEN": TOKEN}, two)
    with GrafanaClient(conn.url, **conn.client_kwargs()) as client:
        assert client.base_url == "https://grafana.example.com/grafana" and client.org_id == 2
        assert TOKEN not in repr(client)


def test_set_default_keeps_a_leading_comment(cfg: Path) -> None:
    write(cfg, '# mine\n[profiles.a]\nurl = "https://a"\nauth = "token"\nsecret = "env:T"\n')
    profiles.set_default("a", cfg)
    text = cfg.read_text()
    assert text.startswith("# mine\n") and text.index("default") < text.index("[profiles.a]")
    assert profiles.load(cfg).default == "a"


def test_a_failing_secret_command_never_shows_a_token_it_printed(tmp_path: Path) -> None:
    import sys

    from gtool import profiles

    script = tmp_path / "leaky.py"
    script.write_text(
        "import sys\nprint('error: token glsa_AbCdEfGhIjKlMnOpQrStUvWxYz012345_deadbeef rejected', "
        "file=sys.stderr)\nsys.exit(3)\n"
    )
    with pytest.raises(profiles.ProfileError) as err:
        profiles.resolve_secret(f"command:{sys.executable} {script}")
    text = str(err.value) + err.value.message + (err.value.hint or "")
    assert "glsa_AbCdEf" not in text and "exit status 3" in text and "****" in text
