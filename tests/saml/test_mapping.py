"""The org_mapping parser and resolver (gtool.saml.mapping). Each case names the saml-reference.md section it
follows; §12 overrides §3.1 where they differ.
"""

from __future__ import annotations

import pytest

from gtool.saml.mapping import (
    ALL_ORGS,
    MappingEntry,
    OrgRef,
    go_atoi,
    parse_org_mapping,
    parse_org_ref,
    resolve_mapping,
    split_org_mapping,
)


@pytest.mark.parametrize(
    ("entry", "parts"),
    [
        # §3.1 step 2: plain split on `:`
        ("Engineering:2:Editor", ("Engineering", "2", "Editor")),
        ("Engineering:2", ("Engineering", "2")),
        # §3.1 step 2 / §12.3: `\:` is not a separator and becomes `:`
        ("External\\:Admin:ACME Corp:Admin", ("External:Admin", "ACME Corp", "Admin")),
        ("a\\:b\\:c:1", ("a:b:c", "1")),
        # §12.3 newest source: other backslashes are kept (DOMAIN\group), also in the last part
        ("DOMAIN\\group:1:Editor", ("DOMAIN\\group", "1", "Editor")),
        ("g:1:Edi\\:tor", ("g", "1", "Edi:tor")),
        # §3.1 step 3: more than three parts -> nothing at all
        ("a:b:c:d", ()),
        # one part is returned as is; the validity check rejects it later
        ("Engineering", ("Engineering",)),
        (":1", ("", "1")),
        ("", ("",)),
    ],
)
def test_split_org_mapping(entry: str, parts: tuple[str, ...]) -> None:
    assert split_org_mapping(entry) == parts


@pytest.mark.parametrize(
    ("entry", "parts"),
    [
        # §12.3 as the reference states it (the 11.2-era code): backslashes removed before the last separator
        ("DOMAIN\\group:1:Editor", ("DOMAINgroup", "1", "Editor")),
        ("External\\:Admin:ACME:Admin", ("External:Admin", "ACME", "Admin")),
        # the last part is kept verbatim there
        ("g:1:Edi\\:tor", ("g", "1", "Edi\\:tor")),
        ("a:b:c:d", ()),
    ],
)
def test_split_org_mapping_legacy_escapes(entry: str, parts: tuple[str, ...]) -> None:
    assert split_org_mapping(entry, legacy_escapes=True) == parts


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("2", 2),
        ("+2", 2),
        ("-1", -1),
        ("007", 7),
        (" 2", None),
        ("2 ", None),
        ("1_000", None),
        ("٣", None),
        ("0x10", None),
        ("", None),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
    ],
)
def test_go_atoi(text: str, number: int | None) -> None:
    # §3.1 step 4: strconv.Atoi decides id vs name
    assert go_atoi(text) == number


def test_parse_org_ref() -> None:
    # §3.1 step 4: `*` all orgs, integer id, anything else a name, "" an error
    assert parse_org_ref("*") == OrgRef("all", "*", ALL_ORGS)
    assert parse_org_ref("12") == OrgRef("id", "12", 12)
    assert parse_org_ref("ACME Corp") == OrgRef("name", "ACME Corp")
    assert parse_org_ref(" 2") == OrgRef("name", " 2")
    assert parse_org_ref("") is None


def test_plain_list() -> None:
    # §2.1 plain form + §3.1 steps 3-5
    m = parse_org_mapping("Engineering:2:Editor, Ops:*:Admin,*:1")
    assert m.form == "plain" and m.json_error is None and m.invalid == ()
    eng, ops, everyone = m.entries
    assert eng == MappingEntry(
        0, "Engineering:2:Editor", "Engineering", OrgRef("id", "2", 2), "Editor", "Editor"
    )
    assert ops.org.kind == "all" and ops.org.key == ALL_ORGS and ops.role == "Admin"
    assert everyone.all_users and everyone.raw_role is None and everyone.role == "Viewer"
    assert [e.position for e in m.entries] == [1, 2, 3]


def test_lower_case_role_is_viewer() -> None:
    # §3.1 step 5: exact, case-sensitive role; anything else -> Viewer
    (entry,) = parse_org_mapping("admins:1:admin").entries
    assert entry.raw_role == "admin" and entry.role == "Viewer" and not entry.role_is_valid
    (empty,) = parse_org_mapping("admins:1:").entries
    assert empty.raw_role == "" and empty.role == "Viewer"


def test_json_names_with_spaces() -> None:
    # §3.1: JSON list syntax keeps spaces; names need 11.5+ (lookup by exact name)
    m = parse_org_mapping('["Team One:ACME Corp:Editor", "*:Main Org."]')
    assert m.form == "json"
    first, second = m.entries
    assert (
        first.external == "Team One" and first.org == OrgRef("name", "ACME Corp") and first.role == "Editor"
    )
    assert second.all_users and second.org.key == "Main Org."


def test_json_double_backslash_escape() -> None:
    # §3.1 JSON escaping pitfall: `\\:` in JSON is the string `\:`, i.e. an escaped colon
    (entry,) = parse_org_mapping('["External\\\\:Admin:ACME Corp:Admin"]').entries
    assert entry.external == "External:Admin" and entry.org.text == "ACME Corp" and entry.role == "Admin"


def test_invalid_json_is_silently_empty() -> None:
    # §2.1 step 2 / §3.1: `\:` is not a JSON escape -> SplitString returns [] without a word
    m = parse_org_mapping('["External\\:Admin:ACME Corp:Admin"]')
    assert m.form == "json" and m.json_error is not None
    assert m.items == () and m.entries == () and m.invalid == ()


@pytest.mark.parametrize("raw", ['["a:1",]', "[a:1]", "[1]", '{"a": "b"}x'])
def test_other_bad_json(raw: str) -> None:
    # §2.1 step 2: trailing comma, unquoted items, numbers
    m = parse_org_mapping(raw)
    if raw.startswith("["):
        assert m.form == "json" and m.json_error and not m.entries
    else:
        assert m.form == "plain"


def test_invalid_entries() -> None:
    # §3.1 step 3: 1 or >3 parts are skipped; step 4: an empty org part is an error
    m = parse_org_mapping("Engineering, team:ops:2:Editor, admins::Admin, ok:1")
    assert [e.text for e in m.entries] == ["ok:1"]
    one, four, empty = m.invalid
    assert (one.position, one.kind, one.part_count, one.parts) == (1, "parts", 1, ("Engineering",))
    assert (four.position, four.kind, four.part_count, four.parts) == (2, "parts", 4, ())
    assert (empty.position, empty.kind) == (3, "empty-org")
    assert "4" in four.reason and "empty" in empty.reason


def test_space_split_in_plain_form() -> None:
    # §2.1 step 3 + §2.2: without JSON the space separates items
    m = parse_org_mapping("Team One:2:Editor")
    assert m.items == ("Team", "One:2:Editor")
    assert [i.text for i in m.invalid] == ["Team"] and m.entries[0].external == "One"


def test_quoted_item_in_plain_form() -> None:
    # §2.1 step 3: a double-quoted run keeps its space
    m = parse_org_mapping('"Team One:2:Editor", Ops:3')
    assert [e.external for e in m.entries] == ["Team One", "Ops"]


def test_empty_value() -> None:
    m = parse_org_mapping("")
    assert m.form == "empty" and m.items == () and m.entries == ()


def test_resolve_later_entry_replaces_earlier() -> None:
    # §12.1: the later entry for the same (external value, org) replaces the earlier one -- not the highest
    m = parse_org_mapping("admins:1:Admin, admins:1:Viewer, admins:2:Editor, *:1:Editor")
    r = resolve_mapping(m.entries)
    assert r.role("admins", 1) == "Viewer"
    assert r.role("admins", 2) == "Editor"
    assert r.role("*", 1) == "Editor"
    assert r.role("nobody", 1) is None
    ((dropped, kept),) = r.replaced
    assert (dropped.position, kept.position) == (1, 2)


def test_resolve_star_and_minus_one_are_the_same_org() -> None:
    # §3.1 step 4: `*` is org id -1 internally, so `-1` collides with it
    r = resolve_mapping(parse_org_mapping("g:*:Admin, g:-1:Viewer").entries)
    assert r.role("g", ALL_ORGS) == "Viewer" and len(r.replaced) == 1


def test_resolve_with_org_list() -> None:
    # §3.1 step 4: names are looked up exactly; unknown names are skipped
    m = parse_org_mapping('["g:Main Org.:Editor", "g:1:Admin", "g:main org.:Admin"]')
    r = resolve_mapping(m.entries, {"Main Org.": 1})
    assert r.role("g", 1) == "Admin" and len(r.replaced) == 1
    assert [e.org.text for e in r.unresolved] == ["main org."]
    # without the org list, a name and an id stay distinct keys
    r2 = resolve_mapping(m.entries)
    assert r2.role("g", "Main Org.") == "Editor" and r2.role("g", 1) == "Admin" and r2.replaced == ()
