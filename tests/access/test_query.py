"""The `/` query language of the users screen (gtool/access/query.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gtool.access.query import Facts, QueryError, UserQuery, matches, parse

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def facts(**kw: object) -> Facts:
    base: dict[str, object] = {
        "is_admin": False,
        "is_disabled": False,
        "auth_labels": (),
        "synced": False,
        "last_seen_at": NOW - timedelta(hours=2),
    }
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def test_free_text_goes_to_grafana_and_facets_stay_with_us() -> None:
    q = parse("jane origin:SAML synced:yes seen>90d")
    assert q.text == "jane"
    assert (q.origin, q.synced, q.seen_more_than) == ("SAML", True, timedelta(days=90))
    assert q.has_filters
    assert not parse("jane doe").has_filters
    assert parse("jane doe").text == "jane doe"


def test_an_email_is_text_not_a_facet() -> None:
    assert parse("jane@example.com").text == "jane@example.com"


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("colour:red", "filters are synced:, admin:"),
        ("synced:maybe", "write synced:yes or synced:no"),
        ("role:Owner", "Admin, Editor, Viewer, None"),
        ("seen>ninety", "seen>90d"),
        ("origin:", "origin:SAML"),
    ],
)
def test_mistakes_say_what_works(text: str, fix: str) -> None:
    with pytest.raises(QueryError, match=fix):
        parse(text)


def test_render_round_trips_and_keys_cycle_a_facet() -> None:
    q = parse("ada admin:no disabled:yes origin:LDAP seen<2w role:editor seen:never")
    assert parse(q.render()) == q
    assert q.role == "Editor"
    cycled = [UserQuery().cycle("synced")]
    cycled.append(cycled[-1].cycle("synced"))
    cycled.append(cycled[-1].cycle("synced"))
    assert [c.synced for c in cycled] == [True, False, None]
    assert cycled[0].render() == "synced:yes"


def test_facets_filter_users() -> None:
    saml = facts(auth_labels=("SAML",), synced=True)
    local = facts()
    assert matches(parse("origin:saml"), saml, NOW) and not matches(parse("origin:saml"), local, NOW)
    assert matches(parse("origin:local"), local, NOW) and not matches(parse("origin:local"), saml, NOW)
    assert matches(parse("synced:yes"), saml, NOW) and not matches(parse("synced:yes"), local, NOW)
    assert matches(parse("admin:yes"), facts(is_admin=True), NOW)
    assert not matches(parse("admin:yes"), facts(is_admin=None), NOW)  # unknown is not a yes
    assert matches(parse("disabled:yes"), facts(is_disabled=True), NOW)
    assert matches(parse("role:Viewer"), facts(role="Viewer"), NOW)
    assert not matches(parse("role:Viewer"), facts(role="Admin"), NOW)


def test_seen_ages_and_never_seen() -> None:
    old = facts(last_seen_at=NOW - timedelta(days=120))
    recent = facts(last_seen_at=NOW - timedelta(hours=2))
    # Grafana creates users "seen" ten years back: that is never
    never = facts(last_seen_at=NOW - timedelta(days=3653))
    assert matches(parse("seen>90d"), old, NOW) and not matches(parse("seen>90d"), recent, NOW)
    assert matches(parse("seen>90d"), never, NOW)
    assert matches(parse("seen<1d"), recent, NOW) and not matches(parse("seen<1d"), never, NOW)
    assert matches(parse("seen:never"), never, NOW) and not matches(parse("seen:never"), old, NOW)
    assert matches(parse("seen>3h"), facts(last_seen_at=NOW - timedelta(hours=4)), NOW)
