"""The `/` query language of the users screen: free text for Grafana's search, facets for the rest.

``jane origin:SAML synced:yes seen>90d`` becomes the server-side ``query=jane`` (Grafana matches it against
login, email and name) plus filters Grafana's search API does not have, applied to each page it returns:

| facet                  | keeps users …                                          |
|------------------------|--------------------------------------------------------|
| ``synced:yes|no``      | whose org role is (not) owned by an external sync      |
| ``admin:yes|no``       | who are (not) Grafana server admins                    |
| ``disabled:yes|no``    | who are (not) disabled                                 |
| ``origin:LABEL``       | whose auth label is LABEL (``SAML``, ``LDAP``…), ``local`` for none |
| ``seen>Nd`` ``seen<Nd``| last seen more / less than N days ago (``h``, ``w`` too) |
| ``seen:never``         | never seen                                             |
| ``role:ROLE``          | with that role in the listed org (org member lists)   |

Pure: no Textual, no I/O; `gtool.access.browse` applies it, the TUI parses what the operator types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

FACETS = ("synced", "admin", "disabled", "origin", "seen", "role")
ROLES = ("Admin", "Editor", "Viewer", "None")
_YES = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}
_AGE = re.compile(r"^(?P<op>[<>])(?P<n>\d+)(?P<unit>[hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class QueryError(ValueError):
    """A facet the query language does not know, or a value it cannot read; the message says what works."""


@dataclass(frozen=True)
class UserQuery:
    """One parsed query. ``None`` for a facet means "any"."""

    text: str = ""
    synced: bool | None = None
    admin: bool | None = None
    disabled: bool | None = None
    origin: str | None = None  # an auth label, compared case-insensitively; "local" for none
    seen_more_than: timedelta | None = None
    seen_less_than: timedelta | None = None
    never_seen: bool = False
    role: str | None = None

    @property
    def has_filters(self) -> bool:
        """True when some facet must be checked on our side (Grafana's search only knows ``text``)."""
        return self != UserQuery(text=self.text)

    def render(self) -> str:
        """The query as text, facets in a fixed order: what the search box shows after a key toggles one."""
        parts = [self.text] if self.text else []
        for name in ("synced", "admin", "disabled"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}:{'yes' if value else 'no'}")
        if self.origin is not None:
            parts.append(f"origin:{self.origin}")
        if self.seen_more_than is not None:
            parts.append(f"seen>{_age_text(self.seen_more_than)}")
        if self.seen_less_than is not None:
            parts.append(f"seen<{_age_text(self.seen_less_than)}")
        if self.never_seen:
            parts.append("seen:never")
        if self.role is not None:
            parts.append(f"role:{self.role}")
        return " ".join(parts)

    def cycle(self, facet: str) -> UserQuery:
        """Any → yes → no → any for a yes/no facet: what the filter keys do."""
        now = getattr(self, facet)
        following = {None: True, True: False, False: None}[now]
        return _set(self, facet, following)


def _set(query: UserQuery, facet: str, value: bool | None) -> UserQuery:
    if facet == "synced":
        return replace(query, synced=value)
    if facet == "admin":
        return replace(query, admin=value)
    if facet == "disabled":
        return replace(query, disabled=value)
    raise QueryError(f"{facet}: is not a yes/no filter")


def _age_text(age: timedelta) -> str:
    if age % _UNITS["w"] == timedelta(0):
        return f"{age // _UNITS['w']}w"
    if age % _UNITS["d"] == timedelta(0):
        return f"{age // _UNITS['d']}d"
    return f"{age // _UNITS['h']}h"


def _yes_no(facet: str, value: str) -> bool:
    try:
        return _YES[value.lower()]
    except KeyError:
        raise QueryError(f"{facet}:{value}: write {facet}:yes or {facet}:no") from None


def _role(value: str) -> str:
    for role in ROLES:
        if role.lower() == value.lower():
            return role
    raise QueryError(f"role:{value}: a role is one of {', '.join(ROLES)}")


def _seen(query: UserQuery, word: str) -> UserQuery:
    if word.lower() == "seen:never":
        return replace(query, never_seen=True)
    match = _AGE.match(word[4:])
    if not match:
        raise QueryError(f"{word}: write seen>90d, seen<7d (h, d or w) or seen:never")
    age = int(match["n"]) * _UNITS[match["unit"]]
    if match["op"] == ">":
        return replace(query, seen_more_than=age)
    return replace(query, seen_less_than=age)


def parse(text: str) -> UserQuery:
    """Parse a query line; raise `QueryError` with a fix for anything it does not understand."""
    query = UserQuery()
    words: list[str] = []
    for word in text.split():
        lowered = word.lower()
        if lowered.startswith("seen") and len(word) > 4 and word[4] in "<>:":
            query = _seen(query, word)
            continue
        facet, sep, value = word.partition(":")
        if not sep or not facet.isalpha():
            words.append(word)  # an email like jane@example.com has no ':'; a URL-ish word stays text
            continue
        facet = facet.lower()
        if facet not in FACETS:
            raise QueryError(f"unknown filter {facet}: — filters are {', '.join(f + ':' for f in FACETS)}")
        if not value:
            raise QueryError(f"{facet}: needs a value, e.g. {facet}:{'SAML' if facet == 'origin' else 'yes'}")
        if facet == "origin":
            query = replace(query, origin=value)
        elif facet == "role":
            query = replace(query, role=_role(value))
        else:
            query = _set(query, facet, _yes_no(facet, value))
    return replace(query, text=" ".join(words))


@dataclass(frozen=True)
class Facts:
    """What a filter looks at for one user: the fields both `/api/users/search` and org member lists carry."""

    is_admin: bool | None  # None: not known (org member lists do not say)
    is_disabled: bool
    auth_labels: tuple[str, ...]
    synced: bool | None  # None: not known yet
    last_seen_at: datetime | None
    role: str | None = None


def matches(query: UserQuery, facts: Facts, now: datetime) -> bool:
    """True when `facts` passes every facet of `query` (the text part is Grafana's job)."""
    checks = (
        query.admin is None or facts.is_admin == query.admin,
        query.disabled is None or facts.is_disabled == query.disabled,
        query.synced is None or facts.synced == query.synced,
        query.origin is None or _origin_matches(query.origin, facts.auth_labels),
        query.role is None or facts.role == query.role,
        _seen_matches(query, facts.last_seen_at, now),
    )
    return all(checks)


def _origin_matches(origin: str, labels: tuple[str, ...]) -> bool:
    if origin.lower() == "local":
        return not labels
    return any(label.lower() == origin.lower() for label in labels)


NEVER = timedelta(days=9 * 365)
"""Grafana creates users with ``last_seen_at`` ten years back (``time.Now().AddDate(-10, 0, 0)``) and shows
"10 years": anything that old means "never signed in"."""


def never_seen(seen: datetime | None, now: datetime) -> bool:
    return seen is None or now - seen > NEVER


def _seen_matches(query: UserQuery, seen: datetime | None, now: datetime) -> bool:
    never = never_seen(seen, now)
    age = None if seen is None else now - seen
    if query.never_seen and not never:
        return False
    if query.seen_more_than is not None and not (never or (age is not None and age > query.seen_more_than)):
        return False
    return query.seen_less_than is None or (not never and age is not None and age < query.seen_less_than)
