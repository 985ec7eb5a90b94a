"""`gtool saml lint|config|rules` driven as a process, the way CI and operators run them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import ROOT, Run

BROKEN = """\
[auth.saml]
enabled = true
role_values_admin = "Grafana Admins"
Enabled = true
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_text_output_points_at_lines_and_says_what_to_do(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "grafana.ini", BROKEN)
    r = gtool("saml", "lint", "grafana.ini", "--select", "INI")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert "grafana.ini:3:21: INI-012 [quoted-list-value]" in lines[0]
    assert lines[1].startswith("  hint: use a JSON list")
    assert "grafana.ini:4:1: INI-003 [key-case-mismatch]" in r.stdout
    assert lines[-1] == "Found 2 problems (1 error, 1 warning, 0 infos) in 1 file."
    assert "\x1b[" not in r.stdout, "no colour codes when stdout is not a terminal"


def test_exit_codes_warnings_pass_unless_strict(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "w.ini", '[auth.saml]\nrole_values_admin = "Grafana Admins"\n')
    assert gtool("saml", "lint", "w.ini", "--select", "INI-012").returncode == 0
    assert gtool("saml", "lint", "w.ini", "--select", "INI-012", "--strict").returncode == 1
    write(tmp_path, "clean.ini", "[auth.saml]\nname = SAML\n")
    r = gtool("saml", "lint", "clean.ini", "--select", "INI")
    assert r.returncode == 0
    assert r.stdout.strip() == "All checks passed (1 file)."


def test_json_is_the_documented_contract(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "grafana.ini", BROKEN)
    r = gtool("saml", "lint", "grafana.ini", "--select", "INI", "--format", "json")
    doc = json.loads(r.stdout)
    assert set(doc) == {"files", "summary"}
    assert doc["summary"] == {"errors": 1, "warnings": 1, "infos": 0, "files": 1}
    [f] = doc["files"]
    assert f["path"] == "grafana.ini"
    first = f["diagnostics"][0]
    assert list(first) == ["code", "slug", "severity", "line", "column", "section", "key", "message", "hint"]
    assert first["code"] == "INI-012" and first["severity"] == "warning"
    assert first["section"] == "auth.saml" and first["key"] == "role_values_admin"
    assert (first["line"], first["column"]) == (3, 21)


def test_sarif_has_rule_metadata_and_results(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "grafana.ini", BROKEN)
    doc = json.loads(gtool("saml", "lint", "grafana.ini", "--select", "INI", "--format", "sarif").stdout)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"INI-012": "warning", "INI-003": "error"}
    assert all(r["help"]["markdown"] for r in rules)


def test_github_annotations(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "grafana.ini", BROKEN)
    out = gtool("saml", "lint", "grafana.ini", "--select", "INI", "--format", "github").stdout.splitlines()
    assert out[0].startswith("::warning file=grafana.ini,line=3,col=21,title=INI-012 [quoted-list-value]::")
    assert out[1].startswith("::error file=grafana.ini,line=4,col=1,title=INI-003")


def test_directory_lints_every_ini_below_it(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "conf/a.ini", "[Auth.SAML]\nenabled = true\n")
    write(tmp_path, "conf/nested/b.ini", "[auth.saml]\nenabeld = true\n")
    write(tmp_path, "conf/readme.txt", "not ini")
    doc = json.loads(gtool("saml", "lint", "conf", "--select", "INI", "--format", "json").stdout)
    assert [f["path"] for f in doc["files"]] == ["conf/a.ini", "conf/nested/b.ini"]
    assert doc["files"][1]["diagnostics"][0]["hint"] == "did you mean `enabled`?"


def test_select_ignore_by_category_code_and_slug(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "grafana.ini", BROKEN)

    def codes(*args: str) -> set[str]:
        doc = json.loads(gtool("saml", "lint", "grafana.ini", "--format", "json", *args).stdout)
        return {d["code"] for f in doc["files"] for d in f["diagnostics"]}

    assert codes("--select", "INI", "--ignore", "INI-003") == {"INI-012"}
    assert codes("--select", "key-case-mismatch") == {"INI-003"}
    assert codes("--select", "INI-012,INI-003") == {"INI-012", "INI-003"}
    r = gtool("saml", "lint", "grafana.ini", "--select", "NOPE-1")
    assert r.returncode == 2 and "unknown rule selector 'NOPE-1'" in r.stderr


def test_inline_suppression(gtool: Run, tmp_path: Path) -> None:
    write(
        tmp_path,
        "grafana.ini",
        '[auth.saml]\n; gtool: ignore[INI-012]\nrole_values_admin = "Grafana Admins"\n',
    )
    assert gtool("saml", "lint", "grafana.ini", "--select", "INI", "--strict").returncode == 0


def test_bad_input_is_a_one_line_error_never_a_traceback(gtool: Run, tmp_path: Path) -> None:
    (tmp_path / "binary.ini").write_bytes(b"\x00\x01\x02PNG")
    (tmp_path / "utf16.ini").write_bytes("[auth.saml]\n".encode("utf-16"))
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "latin1.ini").write_bytes(b"[auth.saml]\nname = Gr\xe4fana\n")
    cases = {
        "missing.ini": "no such file",
        "binary.ini": "not a text file",
        "utf16.ini": "UTF-16",
        "empty-dir": "no *.ini file",
    }
    for path, words in cases.items():
        r = gtool("saml", "lint", path)
        assert r.returncode == 2, (path, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr + r.stdout
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and words in err[0] and path in err[0], r.stderr
    r = gtool("saml", "lint", "latin1.ini", "--select", "INI")
    assert r.returncode == 0 and "Traceback" not in r.stderr


def test_one_bad_path_still_lints_the_others(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "grafana.ini", BROKEN)
    r = gtool("saml", "lint", "grafana.ini", "missing.ini", "--select", "INI", "--format", "json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["files"][0]["path"] == "grafana.ini" and doc["errors"][0]["path"] == "missing.ini"


def test_env_file_override_reaches_existing_keys_only(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "grafana.ini", "[auth.saml]\nenabled = true\nrole_values_admin = admins\n")
    write(
        tmp_path,
        "prod.env",
        'GF_AUTH_SAML_ROLE_VALUES_ADMIN="Grafana Admins"\nGF_AUTH_SAML_ROLE_VALUES_EDITOR=editors\n',
    )
    doc = json.loads(
        gtool("saml", "config", "grafana.ini", "--env-file", "prod.env", "--format", "json").stdout
    )
    admin = doc["settings"]["auth.saml.role_values_admin"]
    # Env values bypass go-ini: the literal quotes stay, so SplitString keeps one item.
    assert admin == {
        "value": '"Grafana Admins"',
        "source": "env:GF_AUTH_SAML_ROLE_VALUES_ADMIN",
        "items": ["Grafana Admins"],
    }
    # role_values_editor is not in the file: OSS Grafana applies GF_* overrides only to existing keys.
    assert doc["settings"]["auth.saml.role_values_editor"]["source"] == "default"


def test_config_layers_files_and_never_prints_secrets(gtool: Run, tmp_path: Path) -> None:
    write(
        tmp_path,
        "base.ini",
        "[auth.saml]\nenabled = false\nclient_secret = s3cr3t-value\n[users]\n"
        "auto_assign_org_role = Editor\n",
    )
    write(tmp_path, "prod.ini", '[auth.saml]\nenabled = true\nrole_values_admin = ["a b", "c"]\n')
    r = gtool("saml", "config", "base.ini", "prod.ini")
    assert r.returncode == 0, r.stderr
    assert "s3cr3t-value" not in r.stdout
    assert re.search(r"enabled\s+= true\s+\(prod.ini:2\)", r.stdout)
    assert "items: ['a b', 'c']" in r.stdout
    doc = json.loads(gtool("saml", "config", "base.ini", "prod.ini", "--format", "json").stdout)
    s = doc["settings"]
    assert s["auth.saml.client_secret"]["redacted"] is True and "s3cr3t" not in json.dumps(doc)
    assert s["users.auto_assign_org_role"] == {"value": "Editor", "source": "base.ini:5"}
    assert s["auth.saml.max_issue_delay"] == {"value": "90s", "source": "default"}


def test_config_with_sso_settings_record(gtool: Run, tmp_path: Path) -> None:
    write(tmp_path, "grafana.ini", "[auth.saml]\nenabled = true\ncertificate_path = /c.pem\nname = Okta\n")
    write(
        tmp_path,
        "sso.json",
        json.dumps(
            {
                "id": "1",
                "provider": "saml",
                "source": "database",
                "settings": {"enabled": True, "roleValuesAdmin": "admins", "privateKey": "*********"},
            }
        ),
    )
    doc = json.loads(
        gtool("saml", "config", "grafana.ini", "--sso-settings", "sso.json", "--format", "json").stdout
    )
    s = doc["settings"]
    assert s["auth.saml.role_values_admin"]["source"] == "sso-settings"
    assert s["auth.saml.name"]["source"] == "grafana.ini:4"
    # The record owns certificate keys even when it leaves them out: the ini path is ignored.
    assert s["auth.saml.certificate_path"]["source"] == "default"


def test_rules_lists_and_explains(gtool: Run) -> None:
    r = gtool("saml", "rules")
    assert r.returncode == 0
    assert re.search(r"^INI-012\s+warning\s+quoted-list-value\s+\S", r.stdout, re.M)
    one = gtool("saml", "rules", "quoted-list-value")
    assert one.stdout.startswith("INI-012 [quoted-list-value] (default severity: warning)")
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in one.stdout
    missing = gtool("saml", "rules", "XYZ-1")
    assert missing.returncode == 2 and "no rule 'XYZ-1'" in missing.stderr


def test_docs_rules_md_is_generated_and_current() -> None:
    from gtool.saml.lint import docs

    on_disk = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert on_disk == docs.markdown(), "docs/rules.md is stale: run `make docs`"
