"""The login simulator (gtool.saml.mapping.simulate). Each test names the saml-reference.md section it
follows (``test_2_2_…`` is §2.2); §12 overrides §3 where they differ.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gtool.saml import ini, settings
from gtool.saml.assertion import Attribute
from gtool.saml.mapping import (
    ASSUMPTIONS,
    AssumptionError,
    Assumptions,
    Org,
    Outcome,
    Team,
    simulate,
    sync_diff,
)
from gtool.saml.settings import GrafanaConfig
from gtool.saml.values import Version

CONTRACT_KEYS = [
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
DIAGNOSTIC_KEYS = {"code", "slug", "severity", "line", "column", "section", "key", "message", "hint"}


def config(saml: str = "", users: str = "", *, enabled: bool = True) -> GrafanaConfig:
    """``[auth.saml]`` (enabled, sign-up on unless the body says otherwise) plus an optional ``[users]``."""
    body = textwrap.dedent(saml).strip("\n")
    head = "enabled = true\n" if enabled else ""
    if "allow_sign_up" not in body:
        head += "allow_sign_up = true\n"
    text = f"[auth.saml]\n{head}{body}\n"
    if users:
        text += "\n[users]\n" + textwrap.dedent(users).strip("\n") + "\n"
    return settings.load([ini.parse_text(text, "grafana.ini")], env={})


def attrs(**values: str | Sequence[str]) -> list[Attribute]:
    return [Attribute(k, (v,) if isinstance(v, str) else tuple(v)) for k, v in values.items()]


ROLE_CFG = """
assertion_attribute_role = role
assertion_attribute_email = mail
assertion_attribute_login = mail
"""


def run(cfg: GrafanaConfig, attributes: Sequence[Attribute], **kw: Any) -> Outcome:
    return simulate(cfg, attributes, **kw)


def roles(outcome: Outcome) -> dict[str, str]:
    doc = outcome.to_json()
    result: dict[str, str] = doc["org_roles"]
    return result


def decision(outcome: Outcome, what: str) -> list[Mapping[str, str]]:
    return [d for d in outcome.to_json()["decisions"] if d["what"] == what]


# -- §7.1 / §9 step 2: the attribute table ---------------------------------------------------------------


def test_7_1_attribute_found_by_name() -> None:
    out = run(config(ROLE_CFG), attrs(mail="a@example.com", role="x"))
    assert out.login == out.email == "a@example.com"
    assert out.diagnostics == []


def test_7_1_attribute_found_by_friendly_name() -> None:
    attribute = Attribute("urn:oid:0.9.2342.19200300.100.1.3", ("a@example.com",), friendly_name="mail")
    out = run(config(ROLE_CFG), [attribute])
    assert out.email == "a@example.com"


def test_7_1_values_of_every_attribute_statement_are_combined() -> None:
    cfg = config(ROLE_CFG + "role_values_admin = ops\n")
    out = run(cfg, [Attribute("role", ("dev",)), Attribute("role", ("ops",))])
    assert roles(out) == {"1": "Admin"}


def test_7_1_attribute_names_are_case_sensitive_and_missing_is_asrt_001() -> None:
    out = run(config(ROLE_CFG), attrs(Mail="a@example.com", role="x"))
    assert out.email is None
    diag = [d.to_json() for d in out.diagnostics]
    assert {d["code"] for d in diag} == {"ASRT-001"}
    assert all(d["key"] in ("assertion_attribute_login", "assertion_attribute_email") for d in diag)
    assert "Mail" in diag[0]["hint"]  # the near miss is named
    assert [d["line"] for d in diag] == [6, 5] and diag[0]["severity"] == "error"


def test_7_1_attribute_name_case_insensitive_assumption() -> None:
    out = run(
        config(ROLE_CFG),
        attrs(Mail="a@example.com"),
        assumptions=Assumptions.parse(["attribute-name-case=insensitive"]),
    )
    assert out.email == "a@example.com"
    assert "attribute-name-case" in [a["name"] for a in out.to_json()["assumptions"]]


def test_7_1_claim_uri_suggested_for_short_name() -> None:
    uri = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
    out = run(config(ROLE_CFG + "role_values_admin = x\n"), [*attrs(mail="a@b"), Attribute(uri, ("x",))])
    hints = [d.hint for d in out.diagnostics if d.key == "assertion_attribute_role"]
    assert hints and uri in hints[0]


# -- §9 step 3: login, email, name ---------------------------------------------------------------------


def test_9_3_login_email_and_name_from_their_attributes() -> None:
    cfg = config(
        "assertion_attribute_login = uid\nassertion_attribute_email = mail\nassertion_attribute_name = cn\n"
    )
    out = run(cfg, attrs(uid="ada", mail="ada@example.com", cn="Ada Lovelace"))
    assert (out.login, out.email, out.name) == ("ada", "ada@example.com", "Ada Lovelace")


def test_9_3_first_value_of_a_multi_valued_attribute() -> None:
    out = run(config(ROLE_CFG), attrs(mail=["first@example.com", "second@example.com"]))
    assert out.email == "first@example.com"
    assert "first of 2" in decision(out, "email")[0]["because"]


def test_9_3_name_template() -> None:
    cfg = config(ROLE_CFG + "assertion_attribute_name = $__saml{firstName} $__saml{lastName}\n")
    out = run(cfg, attrs(mail="a@b", role="x", firstName="Ada", lastName="Lovelace"))
    assert out.name == "Ada Lovelace"
    assert out.diagnostics == []


def test_9_3_name_template_missing_variable_is_a_diagnostic() -> None:
    cfg = config(ROLE_CFG + "assertion_attribute_name = $__saml{firstName} $__saml{lastName}\n")
    out = run(cfg, attrs(mail="a@b", role="x", firstName="Ada", surname="Lovelace"))
    assert out.name == "Ada "
    [diag] = out.diagnostics
    assert diag.code == "ASRT-001" and diag.key == "assertion_attribute_name" and "lastName" in diag.message
    assert out.login_allowed


def test_1_unset_attribute_keys_read_the_documented_defaults() -> None:
    out = run(config(), attrs(mail="a@example.com", displayName="Ada"))
    assert (out.login, out.email, out.name) == ("a@example.com", "a@example.com", "Ada")
    assert "attribute-name-defaults" in [a["name"] for a in out.to_json()["assumptions"]]
    assert decision(out, "login")[0]["source"] == "default"


def test_1_unset_attribute_keys_read_nothing_with_assumption_empty() -> None:
    out = run(
        config(),
        attrs(mail="a@example.com"),
        assumptions=Assumptions.parse(["attribute-name-defaults=empty"]),
    )
    assert (out.login, out.email, out.name) == (None, None, None)
    assert out.diagnostics == []


def test_1_missing_default_attribute_is_only_a_warning() -> None:
    out = run(config(), attrs(email="a@example.com"))
    assert {d.severity for d in out.diagnostics} == {"warning"}


# -- §2.1 / §2.2: SplitString and go-ini quote stripping -----------------------------------------------


def test_2_1_plain_list_splits_on_commas_and_spaces() -> None:
    cfg = config(ROLE_CFG + "role_values_editor = dev, ops qa\n")
    for value in ("dev", "ops", "qa"):
        assert roles(run(cfg, attrs(role=value))) == {"1": "Editor"}


def test_2_1_json_list_keeps_spaces() -> None:
    cfg = config(ROLE_CFG + 'role_values_admin = ["Grafana Admins", "ops"]\n')
    assert roles(run(cfg, attrs(role="Grafana Admins"))) == {"1": "Admin"}
    assert roles(run(cfg, attrs(role="Grafana"))) == {"1": "Viewer"}


def test_2_1_invalid_json_list_is_silently_empty() -> None:
    cfg = config(ROLE_CFG + 'role_values_admin = ["Grafana Admins",]\n')
    out = run(cfg, attrs(role="Grafana Admins"))
    assert roles(out) == {"1": "Viewer"}
    [d] = decision(out, "role_values_admin")
    assert d["result"] == "empty list" and d["source"] == "grafana.ini:7"


def test_2_2_quote_stripped_list_splits_on_space() -> None:
    # go-ini strips the surrounding quotes; SplitString then sees `Grafana Admins` and splits it.
    cfg = config(ROLE_CFG + 'role_values_admin = "Grafana Admins"\n')
    assert cfg.saml("role_values_admin") == "Grafana Admins"
    assert roles(run(cfg, attrs(role="Grafana Admins"))) == {"1": "Viewer"}
    assert roles(run(cfg, attrs(role="Admins"))) == {"1": "Admin"}


def test_2_2_quoted_item_inside_a_plain_list_keeps_its_space() -> None:
    cfg = config(ROLE_CFG + 'role_values_admin = "Grafana Admins", ops\n')
    assert roles(run(cfg, attrs(role="Grafana Admins"))) == {"1": "Admin"}


# -- §2.3: matching ---------------------------------------------------------------------------------------


def test_2_3_matching_is_exact_and_case_sensitive() -> None:
    cfg = config(ROLE_CFG + "role_values_admin = Admins\n")
    out = run(cfg, attrs(role="admins"))
    assert roles(out) == {"1": "Viewer"}
    assert "only in case" in decision(out, "role_values_admin")[0]["because"]


def test_2_3_values_are_trimmed_by_default() -> None:
    cfg = config(ROLE_CFG + "role_values_admin = Admins\n")
    out = run(cfg, attrs(role="\n    Admins\n  "))
    assert roles(out) == {"1": "Admin"}
    assert "trim-values" in [a["name"] for a in out.to_json()["assumptions"]]


def test_2_3_trim_values_false_compares_as_sent() -> None:
    cfg = config(ROLE_CFG + "role_values_admin = Admins\n")
    out = run(cfg, attrs(role=" Admins"), assumptions=Assumptions.parse(["trim-values=false"]))
    assert roles(out) == {"1": "Viewer"}
    assert "without whitespace" in decision(out, "role_values_admin")[0]["because"]


def test_2_3_role_attribute_may_be_the_groups_attribute() -> None:
    cfg = config(
        "assertion_attribute_role = groups\nassertion_attribute_groups = groups\nrole_values_editor = devs\n"
    )
    out = run(cfg, attrs(mail="a@b", groups=["devs", "sre"]), teams=[Team(1, "SRE", 1, ("sre",))])
    assert (
        roles(out) == {"1": "Editor"}
        and out.groups == ["devs", "sre"]
        and [t.team.name for t in out.teams] == ["SRE"]
    )


# -- §2.4: precedence -------------------------------------------------------------------------------------


def test_2_4_top_role_wins_when_several_lists_match() -> None:
    cfg = config(ROLE_CFG + "role_values_viewer = a\nrole_values_admin = b\nrole_values_editor = c\n")
    out = run(cfg, attrs(role=["a", "b", "c"]))
    assert roles(out) == {"1": "Admin"}
    assert [a["name"] for a in out.to_json()["assumptions"]] == ["role-precedence"]


def test_2_4_lowest_role_assumption() -> None:
    cfg = config(ROLE_CFG + "role_values_viewer = a\nrole_values_admin = b\n")
    out = run(cfg, attrs(role=["a", "b"]), assumptions=Assumptions.parse(["role-precedence=lowest-role"]))
    assert roles(out) == {"1": "Viewer"}


def test_2_4_grafana_admin_does_not_imply_org_admin_by_default() -> None:
    cfg = config(ROLE_CFG + "role_values_grafana_admin = root\n")
    out = run(cfg, attrs(role="root"))
    assert out.grafana_admin is True and roles(out) == {"1": "Viewer"}
    assert "grafana-admin-implies-org-admin" in [a["name"] for a in out.to_json()["assumptions"]]


def test_2_4_grafana_admin_implies_org_admin_assumption() -> None:
    cfg = config(ROLE_CFG + "role_values_grafana_admin = root\n")
    out = run(
        cfg, attrs(role="root"), assumptions=Assumptions.parse(["grafana-admin-implies-org-admin=true"])
    )
    assert out.grafana_admin is True and roles(out) == {"1": "Admin"}


# -- §2.5: no match -> auto_assign_org_role in the default org ------------------------------------------


def test_2_5_no_match_gives_auto_assign_org_role() -> None:
    cfg = config(ROLE_CFG + "role_values_admin = ops\n", "auto_assign_org_role = Editor\n")
    out = run(cfg, attrs(role="dev"))
    assert roles(out) == {"1": "Editor"}
    assert decision(out, "org 1")[0]["source"] == "grafana.ini:10"


def test_2_5_unset_auto_assign_org_role_is_viewer() -> None:
    out = run(config(ROLE_CFG), attrs(role="dev"))
    assert roles(out) == {"1": "Viewer"}
    assert decision(out, "org 1")[0]["source"] == "default"


@pytest.mark.parametrize("value", ["editor", "ADMIN", "Owner", "'Admin "])
def test_2_5_invalid_auto_assign_org_role_is_viewer(value: str) -> None:
    cfg = config(ROLE_CFG, f"auto_assign_org_role = {value}\n")
    out = run(cfg, attrs(role="dev"))
    assert roles(out) == {"1": "Viewer"}


def test_2_5_auto_assign_org_role_none() -> None:
    out = run(config(ROLE_CFG, "auto_assign_org_role = None\n"), attrs(role="dev"))
    assert roles(out) == {"1": "None"}


def test_2_5_default_org_is_auto_assign_org_id() -> None:
    out = run(config(ROLE_CFG, "auto_assign_org_id = 4\n"), attrs(role="dev"))
    assert roles(out) == {"4": "Viewer"}


@pytest.mark.parametrize(
    "users",
    [
        "auto_assign_org = false\nauto_assign_org_id = 4\n",
        "auto_assign_org_id = 0\n",
        "auto_assign_org_id = x\n",
    ],
)
def test_2_5_default_org_is_1_otherwise(users: str) -> None:
    assert roles(run(config(ROLE_CFG, users), attrs(role="dev"))) == {"1": "Viewer"}


def test_2_5_direct_role_applies_in_the_default_org() -> None:
    cfg = config(ROLE_CFG + "role_values_editor = dev\n", "auto_assign_org_role = None\n")
    assert roles(run(cfg, attrs(role="dev"))) == {"1": "Editor"}


# -- §2.6: None ---------------------------------------------------------------------------------------------


def test_2_6_role_values_none_gives_the_none_role() -> None:
    cfg = config(ROLE_CFG + "role_values_none = guests\n", "auto_assign_org_role = Editor\n")
    assert roles(run(cfg, attrs(role="guests"))) == {"1": "None"}


def test_2_6_role_values_none_is_ignored_before_10_2() -> None:
    cfg = config(ROLE_CFG + "role_values_none = guests\n", "auto_assign_org_role = Editor\n")
    out = run(cfg, attrs(role="guests"), grafana_version=Version.parse("10.1"))
    assert roles(out) == {"1": "Editor"}
    assert decision(out, "role_values_none")[0]["result"] == "ignored"


def test_2_6_role_values_viewer_is_ignored_before_11_1() -> None:
    cfg = config(ROLE_CFG + "role_values_viewer = v\n", "auto_assign_org_role = None\n")
    assert roles(run(cfg, attrs(role="v"), grafana_version=Version.parse("11.0"))) == {"1": "None"}
    assert roles(run(cfg, attrs(role="v"), grafana_version=Version.parse("11.1"))) == {"1": "Viewer"}


# -- §2.7: Grafana Admin --------------------------------------------------------------------------------


def test_2_7_grafana_admin_managed_when_the_list_is_set() -> None:
    cfg = config(ROLE_CFG + "role_values_grafana_admin = root\n")
    assert run(cfg, attrs(role="root")).grafana_admin is True
    out = run(cfg, attrs(role="dev"))
    assert out.grafana_admin is False and out.to_json()["grafana_admin"] is False


def test_2_7_grafana_admin_unmanaged_when_the_list_is_empty() -> None:
    out = run(config(ROLE_CFG), attrs(role="root"))
    assert out.grafana_admin is None and out.to_json()["grafana_admin"] is None


def test_2_7_broken_json_grafana_admin_list_is_still_managed_and_matches_nobody() -> None:
    cfg = config(ROLE_CFG + 'role_values_grafana_admin = ["root",]\n')
    out = run(cfg, attrs(role="root"))
    assert out.grafana_admin is False
    assert "loses Grafana Admin" in decision(out, "Grafana Admin")[0]["because"]


def test_2_7_grafana_admin_without_role_attribute_is_false() -> None:
    cfg = config("role_values_grafana_admin = root\n")
    assert run(cfg, attrs(mail="a@b", role="root")).grafana_admin is False


# -- §2.8: skip_org_role_sync -----------------------------------------------------------------------------

SKIP = ROLE_CFG + textwrap.dedent(
    """
    skip_org_role_sync = true
    role_values_admin = ops
    role_values_grafana_admin = ops
    org_mapping = eng:2:Admin
    assertion_attribute_org = org
    """
)


def test_2_8_skip_keeps_an_existing_users_roles() -> None:
    out = run(config(SKIP), attrs(role="ops", org="eng"), user_exists=True, current_memberships={3: "Editor"})
    assert out.role_sync == "skipped"
    assert roles(out) == {"3": "Editor"}
    assert out.grafana_admin is None
    assert out.sync is None


def test_2_8_skip_gives_a_new_user_the_default_org_and_auto_role() -> None:
    out = run(
        config(SKIP, "auto_assign_org_role = Editor\n"), attrs(role="ops", org="eng"), user_exists=False
    )
    assert roles(out) == {"1": "Editor"}
    assert "new-user-when-sync-skipped" in [a["name"] for a in out.to_json()["assumptions"]]


def test_2_8_skip_new_user_mapped_assumption() -> None:
    out = run(
        config(SKIP),
        attrs(role="ops", org="eng"),
        user_exists=False,
        assumptions=Assumptions.parse(["new-user-when-sync-skipped=mapped"]),
    )
    assert roles(out) == {"2": "Admin"}
    assert out.grafana_admin is None


def test_2_8_skip_with_unknown_user_says_both() -> None:
    out = run(config(SKIP), attrs(role="ops", org="eng"))
    assert roles(out) == {"1": "Viewer"}
    assert any("existing user keeps" in d["because"] for d in out.to_json()["decisions"])


# -- §2.9: what the sync changes ------------------------------------------------------------------------


def test_2_9_sync_diff_adds_updates_and_removes() -> None:
    diff = sync_diff({1: "Viewer", 2: "Editor", 3: "Viewer"}, {1: "Viewer", 2: "Admin", 4: "Editor"})
    assert diff.added == {4: "Editor"}
    assert diff.updated == {2: ("Editor", "Admin")}
    assert diff.removed == {3: "Viewer"}
    assert diff.unchanged == {1: "Viewer"}
    assert diff.synced and diff.changed


def test_2_9_removing_an_admin_notes_the_last_admin_rule() -> None:
    diff = sync_diff({5: "Admin"}, {1: "Viewer"})
    assert diff.removed == {5: "Admin"}
    assert any("ErrLastOrgAdmin" in n for n in diff.notes)


def test_2_9_empty_target_syncs_nothing() -> None:
    diff = sync_diff({1: "Admin"}, {})
    assert not diff.synced and not diff.changed and diff.unchanged == {1: "Admin"}


def test_2_9_nonexistent_org_is_not_added() -> None:
    diff = sync_diff({}, {1: "Viewer", 9: "Editor"}, existing_orgs=[1, 2])
    assert diff.added == {1: "Viewer"}
    assert any("ErrOrgNotFound" in n for n in diff.notes)


def test_2_9_none_role_is_a_membership_not_a_removal() -> None:
    diff = sync_diff({1: "Viewer"}, {1: "None"})
    assert diff.updated == {1: ("Viewer", "None")} and not diff.removed


def test_2_9_simulate_with_current_memberships() -> None:
    cfg = config(ROLE_CFG + "role_values_editor = dev\n")
    out = run(cfg, attrs(role="dev"), current_memberships={1: "Viewer", 2: "Admin"})
    assert out.sync is not None
    assert out.sync.updated == {1: ("Viewer", "Editor")} and out.sync.removed == {2: "Admin"}
    assert {d["result"] for d in out.to_json()["decisions"] if d["what"].startswith("membership")} == {
        "updated",
        "removed",
    }
    assert out.sync.to_json()["removed"] == {"2": "Admin"}


def test_2_9_org_missing_from_the_org_list_is_dropped() -> None:
    cfg = config(ROLE_CFG + "org_mapping = *:7:Editor\n")
    out = run(cfg, attrs(role="x"), orgs=[Org(1, "Main Org.")])
    assert roles(out) == {}
    assert decision(out, "org 7")[-1]["result"] == "skipped"


# -- §3.1: org_mapping syntax ---------------------------------------------------------------------------

ORG_CFG = ROLE_CFG + "assertion_attribute_org = org\n"


def test_3_1_mapping_by_org_id() -> None:
    out = run(config(ORG_CFG + "org_mapping = Engineering:2:Editor\n"), attrs(org="Engineering"))
    assert roles(out) == {"2": "Editor"}
    assert decision(out, "org 2")[0]["source"] == "grafana.ini:8"


@pytest.mark.parametrize("entry", ["Engineering:2", "Engineering:2:editor", "Engineering:2:Owner"])
def test_3_1_missing_or_invalid_role_is_viewer(entry: str) -> None:
    out = run(config(ORG_CFG + f"org_mapping = {entry}\n"), attrs(org="Engineering"))
    assert roles(out) == {"2": "Viewer"}
    assert "Viewer" in decision(out, "org 2")[0]["because"]


def test_3_1_none_role_in_a_mapping() -> None:
    assert roles(run(config(ORG_CFG + "org_mapping = Eng:2:None\n"), attrs(org="Eng"))) == {"2": "None"}


def test_3_1_invalid_entries_are_skipped() -> None:
    out = run(config(ORG_CFG + "org_mapping = a:b:c:d Eng:2:Admin nocolon\n"), attrs(org="Eng"))
    assert roles(out) == {"2": "Admin"}
    assert [d["result"] for d in out.to_json()["decisions"] if "a:b:c:d" in d["what"]] == ["skipped"]


def test_3_1_escaped_colon_in_the_external_value() -> None:
    out = run(config(ORG_CFG + "org_mapping = External\\:Admin:2:Editor\n"), attrs(org="External:Admin"))
    assert roles(out) == {"2": "Editor"}


def test_3_1_json_with_a_single_backslash_escape_empties_the_mapping() -> None:
    out = run(config(ORG_CFG + 'org_mapping = ["External\\:Admin:2:Editor"]\n'), attrs(org="External:Admin"))
    assert roles(out) == {"1": "Viewer"}
    assert decision(out, "org_mapping")[0]["result"] == "ignored"


def test_3_1_json_with_a_double_backslash_escape_works() -> None:
    out = run(
        config(ORG_CFG + 'org_mapping = ["External\\\\:Admin:ACME Corp:Editor"]\n'),
        attrs(org="External:Admin"),
        orgs=[Org(5, "ACME Corp")],
    )
    assert roles(out) == {"5": "Editor"}


def test_3_1_org_name_resolved_with_the_org_list() -> None:
    orgs = [Org(1, "Main Org."), Org(3, "Data Science")]
    out = run(config(ORG_CFG + 'org_mapping = ["ds:Data Science:Editor"]\n'), attrs(org="ds"), orgs=orgs)
    assert roles(out) == {"3": "Editor"}


def test_3_1_unknown_org_name_is_skipped() -> None:
    orgs = [Org(1, "Main Org."), Org(3, "Data Science")]
    out = run(config(ORG_CFG + 'org_mapping = ["ds:data science:Editor"]\n'), attrs(org="ds"), orgs=orgs)
    assert roles(out) == {"1": "Viewer"}
    assert any(
        d["result"] == "skipped" and "case-sensitive" in d["because"] for d in out.to_json()["decisions"]
    )


def test_3_1_org_name_without_an_org_list_is_shown_by_name() -> None:
    out = run(config(ORG_CFG + 'org_mapping = ["ds:Data Science:Editor"]\n'), attrs(org="ds"))
    assert roles(out) == {"Data Science": "Editor"}
    assert decision(out, "org Data Science")[-1]["result"] == "name not resolved"


def test_3_1_org_names_are_skipped_before_11_5() -> None:
    orgs = [Org(1, "Main Org."), Org(3, "Data Science")]
    cfg = config(ORG_CFG + 'org_mapping = ["ds:Data Science:Editor"]\n')
    assert roles(run(cfg, attrs(org="ds"), orgs=orgs, grafana_version=Version.parse("11.4"))) == {
        "1": "Viewer"
    }
    assert roles(run(cfg, attrs(org="ds"), orgs=orgs, grafana_version=Version.parse("11.5"))) == {
        "3": "Editor"
    }


# -- §3.2: MapOrgRoles ----------------------------------------------------------------------------------


def test_3_2_external_star_maps_every_user() -> None:
    out = run(config(ORG_CFG + "org_mapping = *:2:Viewer\n"), attrs(role="x"))
    assert roles(out) == {"2": "Viewer"}


def test_3_2_star_merges_with_specific_values_by_top_role() -> None:
    cfg = config(ORG_CFG + "org_mapping = *:2:Editor eng:2:Viewer eng:3:Admin\n")
    assert roles(run(cfg, attrs(org="eng"))) == {"2": "Editor", "3": "Admin"}


def test_3_2_several_user_values_merge_by_top_role() -> None:
    cfg = config(ORG_CFG + "org_mapping = a:2:Viewer b:2:Admin c:2:Editor\n")
    assert roles(run(cfg, attrs(org=["a", "b", "c"]))) == {"2": "Admin"}


def test_3_2_grafana_side_star_expands_to_every_org() -> None:
    cfg = config(ORG_CFG + "org_mapping = eng:*:Viewer eng:2:Admin\n")
    out = run(cfg, attrs(org="eng"), orgs=[Org(1, "Main"), Org(2, "Two"), Org(3, "Three")])
    assert roles(out) == {"1": "Viewer", "2": "Admin", "3": "Viewer"}


def test_3_2_grafana_side_star_without_an_org_list_is_shown_as_star() -> None:
    out = run(config(ORG_CFG + "org_mapping = eng:*:Editor\n"), attrs(org="eng"))
    assert roles(out) == {"*": "Editor"}


def test_3_2_direct_role_combined_with_mapped_orgs() -> None:
    cfg = config(ORG_CFG + "role_values_editor = dev\norg_mapping = Engineering:2\n")
    assert roles(run(cfg, attrs(role="dev", org="Engineering"))) == {"2": "Editor"}


def test_3_2_direct_role_does_not_lower_a_mapped_role() -> None:
    cfg = config(ORG_CFG + "role_values_viewer = dev\norg_mapping = Engineering:2:Admin\n")
    assert roles(run(cfg, attrs(role="dev", org="Engineering"))) == {"2": "Admin"}


def test_3_2_no_matching_entry_falls_back_to_the_default_org() -> None:
    cfg = config(
        ORG_CFG + "role_values_editor = dev\norg_mapping = Engineering:2:Admin\n", "auto_assign_org_id = 3\n"
    )
    assert roles(run(cfg, attrs(role="dev", org="Sales"))) == {"3": "Editor"}
    assert roles(run(cfg, attrs(role="other", org="Sales"))) == {"3": "Viewer"}


# -- §12.1 / §12.2 -------------------------------------------------------------------------------------


def test_12_1_a_later_entry_replaces_an_earlier_one() -> None:
    out = run(config(ORG_CFG + "org_mapping = eng:2:Admin eng:2:Viewer\n"), attrs(org="eng"))
    assert roles(out) == {"2": "Viewer"}
    assert decision(out, 'org_mapping entry "eng:2:Admin"')[0]["result"] == "replaced"


def test_12_2_exact_matching_by_default() -> None:
    out = run(config(ORG_CFG + "org_mapping = admin:2:Admin\n"), attrs(org="sysadmin"))
    assert roles(out) == {"1": "Viewer"}
    assert "org-mapping-matching" in [a["name"] for a in out.to_json()["assumptions"]]


def test_12_2_regex_matching_assumption_is_unanchored() -> None:
    regex = Assumptions.parse(["org-mapping-matching=regex"])
    out = run(config(ORG_CFG + "org_mapping = admin:2:Admin\n"), attrs(org="sysadmin"), assumptions=regex)
    assert roles(out) == {"2": "Admin"}


def test_12_2_regex_capture_groups_expand_into_org_and_role() -> None:
    regex = Assumptions.parse(["org-mapping-matching=regex"])
    cfg = config(ORG_CFG + "org_mapping = ^org-(\\d+)-(\\w+)$:$1:$2\n")
    assert roles(run(cfg, attrs(org="org-4-Editor"), assumptions=regex)) == {"4": "Editor"}


def test_12_2_regex_that_does_not_compile_falls_back_to_exact() -> None:
    regex = Assumptions.parse(["org-mapping-matching=regex"])
    cfg = config(ORG_CFG + 'org_mapping = ["a(?=b):2:Admin"]\n')
    assert roles(run(cfg, attrs(org="ab"), assumptions=regex)) == {"1": "Viewer"}
    assert roles(run(cfg, attrs(org="a(?=b)"), assumptions=regex)) == {"2": "Admin"}


# -- §3.3: allowed_organizations --------------------------------------------------------------------------


def test_3_3_allowed_organizations_denies_other_users() -> None:
    cfg = config(ORG_CFG + 'allowed_organizations = ["Platform Engineering", "Data"]\n')
    out = run(cfg, attrs(org="Marketing"))
    assert not out.login_allowed
    assert out.login_denied_reason and "allowed organization" in out.login_denied_reason
    assert roles(out) == {} and out.grafana_admin is None and out.teams == []


def test_3_3_allowed_organizations_lets_members_in() -> None:
    cfg = config(ORG_CFG + 'allowed_organizations = ["Platform Engineering", "Data"]\n')
    assert run(cfg, attrs(org=["Marketing", "Data"])).login_allowed


def test_3_3_allowed_organizations_match_is_case_sensitive() -> None:
    cfg = config(ORG_CFG + "allowed_organizations = Data\n")
    out = run(cfg, attrs(org="data"))
    assert not out.login_allowed and "only in case" in (out.login_denied_reason or "")


def test_3_3_allowed_organizations_without_org_attribute_denies_everyone() -> None:
    out = run(config(ROLE_CFG + "allowed_organizations = Data\n"), attrs(org="Data"))
    assert not out.login_allowed


def test_3_3_broken_json_allowed_organizations_does_not_restrict() -> None:
    out = run(config(ORG_CFG + 'allowed_organizations = ["Data",]\n'), attrs(org="Marketing"))
    assert out.login_allowed


# -- §4: team sync ----------------------------------------------------------------------------------------

TEAMS = [Team(1, "SRE", 1, ("sre", "oncall")), Team(2, "Devs", 2, ("devs",)), Team(3, "Other", 1, ("SRE",))]


def test_4_teams_whose_external_groups_contain_a_group_exactly() -> None:
    cfg = config(ROLE_CFG + "assertion_attribute_groups = groups\n")
    out = run(cfg, attrs(groups=["sre", "oncall", "qa"]), teams=TEAMS)
    assert out.to_json()["teams"] == [
        {"id": 1, "name": "SRE", "orgId": 1, "matchedGroups": ["sre", "oncall"]}
    ]
    assert out.groups == ["sre", "oncall", "qa"]


def test_4_without_a_team_list_groups_are_still_reported() -> None:
    cfg = config(ROLE_CFG + "assertion_attribute_groups = groups\n")
    out = run(cfg, attrs(groups=["sre"]))
    assert out.groups == ["sre"] and out.teams == []
    assert decision(out, "team sync")[0]["result"] == "not computed"


def test_4_team_sync_off_without_groups_attribute() -> None:
    out = run(config(ROLE_CFG), attrs(groups=["sre"]), teams=TEAMS)
    assert out.teams == [] and out.groups == []
    assert decision(out, "team sync")[0]["result"] == "off"


# -- §7.4 / §9 step 7: sign-up and enabled ----------------------------------------------------------------


def test_7_4_sign_up_disabled_denies_a_new_user() -> None:
    out = run(config(ROLE_CFG + "allow_sign_up = false\n"), attrs(mail="a@b"), user_exists=False)
    assert not out.login_allowed and out.login_denied_reason == "Sign up is disabled"


def test_7_4_sign_up_disabled_lets_an_existing_user_in() -> None:
    assert run(
        config(ROLE_CFG + "allow_sign_up = false\n"), attrs(mail="a@b"), user_exists=True
    ).login_allowed


def test_7_4_unknown_user_is_not_denied_but_explained() -> None:
    out = run(config(ROLE_CFG + "allow_sign_up = false\n"), attrs(mail="a@b"))
    assert out.login_allowed
    assert decision(out, "sign-up")[0]["result"] == "unknown"


def test_1_unset_allow_sign_up_follows_the_assumption() -> None:
    cfg = settings.load([ini.parse_text("[auth.saml]\nenabled = true\n", "grafana.ini")], env={})
    assert not run(cfg, attrs(mail="a@b"), user_exists=False).login_allowed
    yes = Assumptions.parse(["sign-up-default=true"])
    assert run(cfg, attrs(mail="a@b"), user_exists=False, assumptions=yes).login_allowed


def test_1_saml_disabled_denies_the_login() -> None:
    out = run(config(ROLE_CFG, enabled=False), attrs(mail="a@b"))
    assert not out.login_allowed and "not enabled" in (out.login_denied_reason or "")


# -- the JSON contract and the text report --------------------------------------------------------------


def test_json_has_exactly_the_contract_keys() -> None:
    cfg = config(ROLE_CFG + "assertion_attribute_groups = g\nrole_values_editor = dev\n")
    out = run(cfg, [Attribute("role", ("dev",)), Attribute("g", ("sre",))], teams=TEAMS)
    doc = out.to_json()
    assert list(doc) == CONTRACT_KEYS
    assert all(set(d) == {"what", "result", "because", "source"} for d in doc["decisions"])
    assert all(set(a) == {"name", "value", "description"} for a in doc["assumptions"])
    assert all(set(t) == {"id", "name", "orgId", "matchedGroups"} for t in doc["teams"])
    assert doc["role_sync"] in ("applied", "skipped")


def test_json_org_ids_are_strings() -> None:
    cfg = config(ORG_CFG + "org_mapping = a:2:Editor a:10:Viewer\n")
    doc = run(cfg, attrs(org="a")).to_json()
    assert doc["org_roles"] == {"2": "Editor", "10": "Viewer"}
    assert all(isinstance(k, str) for k in doc["org_roles"])


def test_json_diagnostics_have_the_lint_shape() -> None:
    doc = run(config(ROLE_CFG), attrs(uid="x")).to_json()
    assert doc["diagnostics"] and all(set(d) >= DIAGNOSTIC_KEYS for d in doc["diagnostics"])


def test_decision_sources_cite_file_and_line() -> None:
    out = run(config(ROLE_CFG + "role_values_editor = dev\n"), attrs(mail="a@b", role="dev"))
    assert decision(out, "role_values_editor")[0]["source"] == "grafana.ini:7"
    assert decision(out, "email")[0]["source"] == "grafana.ini:5"


def test_env_override_is_cited_as_env() -> None:
    text = "[auth.saml]\nenabled = true\nassertion_attribute_role = role\nrole_values_editor = x\n"
    cfg = settings.load([ini.parse_text(text, "grafana.ini")], env={"GF_AUTH_SAML_ROLE_VALUES_EDITOR": "dev"})
    out = run(cfg, attrs(role="dev"))
    assert decision(out, "role_values_editor")[0]["source"] == "env:GF_AUTH_SAML_ROLE_VALUES_EDITOR"


def test_text_report_is_readable() -> None:
    cfg = config(
        ORG_CFG + "role_values_admin = ops\nrole_values_grafana_admin = ops\norg_mapping = eng:2:Viewer\n"
    )
    text = run(cfg, attrs(mail="a@b", role="ops", org="eng"), orgs=[Org(2, "Eng")]).to_text()
    assert "SAML login of a@b" in text
    assert "login allowed" in text
    assert "org 2 (Eng)  Admin" in text
    assert "Grafana Admin: yes" in text
    assert "Assumptions" in text


def test_text_report_of_a_denied_login() -> None:
    text = run(config(ROLE_CFG + "allow_sign_up = false\n"), attrs(mail="a@b"), user_exists=False).to_text()
    assert "LOGIN DENIED: Sign up is disabled" in text


# -- assumptions --------------------------------------------------------------------------------------------


def test_assumptions_parse_sets_values_and_marks_them_reported() -> None:
    a = Assumptions.parse(["trim-values=false", "role-precedence=lowest-role"])
    assert a.trim_values is False and a.role_precedence == "lowest-role"
    assert a.explicit == {"trim-values", "role-precedence"}
    out = run(config(ROLE_CFG), attrs(mail="a@b"), assumptions=a)
    assert {x["name"]: x["value"] for x in out.to_json()["assumptions"]} == {
        "role-precedence": "lowest-role",
        "trim-values": "false",
    }


@pytest.mark.parametrize(
    ("item", "text"),
    [
        ("trim=false", "unknown assumption 'trim'"),
        ("trim-values=maybe", "cannot be 'maybe'"),
        ("trim-values", "gives no value"),
    ],
)
def test_assumptions_parse_rejects_unknown_names_and_values(item: str, text: str) -> None:
    with pytest.raises(AssumptionError) as exc:
        Assumptions.parse([item])
    assert text in exc.value.message and exc.value.hint


def test_every_assumption_has_a_default_that_parses() -> None:
    defaults = Assumptions()
    for spec in ASSUMPTIONS:
        assert spec.default in spec.choices
        assert defaults.text(spec.name) == spec.default
        assert Assumptions.parse([f"{spec.name}={spec.default}"]).text(spec.name) == spec.default


# -- robustness and speed -------------------------------------------------------------------------------


def test_simulate_200_attributes_is_fast() -> None:
    cfg = settings.load([ini.read_file("samples/okta/grafana.ini")], env={})
    attributes = [
        *attrs(email="a@example.com", firstName="A", lastName="B", organization="Data Science"),
        Attribute("groups", (*(f"group {i}" for i in range(50)), "Grafana Editors")),
        *(Attribute(f"urn:attr:{i}", (f" value {i} ",) * 3, friendly_name=f"a{i}") for i in range(200)),
    ]
    simulate(cfg, attributes)
    runs = 50
    start = time.perf_counter()
    for _ in range(runs):
        out = simulate(cfg, attributes)
    elapsed = (time.perf_counter() - start) / runs
    assert roles(out) == {"2": "Editor"}
    assert elapsed < 0.010, f"simulate took {elapsed * 1000:.1f} ms"


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@hsettings(max_examples=150, deadline=None)
@given(
    role_list=_TEXT,
    mapping=_TEXT,
    allowed=_TEXT,
    values=st.lists(_TEXT, max_size=5),
    users_role=_TEXT,
    regex=st.booleans(),
)
def test_simulate_never_raises(
    role_list: str, mapping: str, allowed: str, values: list[str], users_role: str, regex: bool
) -> None:
    def line(v: str) -> str:
        return v.replace("\n", " ").replace("\r", " ")

    text = (
        "[auth.saml]\nenabled = true\nassertion_attribute_role = r\nassertion_attribute_org = r\n"
        f"assertion_attribute_name = $__saml{{r}} $__saml{{x}}\n"
        f"role_values_admin = {line(role_list)}\norg_mapping = {line(mapping)}\n"
        f"allowed_organizations = {line(allowed)}\n[users]\nauto_assign_org_role = {line(users_role)}\n"
    )
    cfg = settings.load([ini.parse_text(text, "grafana.ini")], env={})
    a = Assumptions.parse(["org-mapping-matching=regex"] if regex else [])
    out = simulate(
        cfg,
        [Attribute("r", tuple(values))],
        assumptions=a,
        orgs=[Org(1, "x")],
        current_memberships={1: "Admin"},
    )
    doc = out.to_json()
    assert list(doc) == CONTRACT_KEYS
    assert out.to_text()


def test_asrt_001_slug_matches_the_lint_rule() -> None:
    from gtool.saml.lint.registry import get_rule

    out = run(config(ROLE_CFG), attrs(role="x"))
    rule = get_rule("ASRT-001")
    assert rule is not None and {d.slug for d in out.diagnostics} == {rule.slug}
