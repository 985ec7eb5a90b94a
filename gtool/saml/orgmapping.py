"""Grafana's ``org_mapping``: how a raw value becomes mapping entries (saml-reference.md §3.1, corrected by
§12), and which entry wins when several name the same external value and org (§12.1).

SAML shares the mapper with OAuth (``pkg/login/social/connectors/org_role_mapper.go``): the value goes
through ``util.SplitString``, each item through ``splitOrgMapping``, then ``isValidOrgMappingFormat``
(2 or 3 parts), ``getOrgIDForInternalMapping`` (``*``, an integer, or an org name) and
``getRoleForInternalOrgMapping`` (an exact ``None|Viewer|Editor|Admin``, otherwise ``Viewer``).

A module of its own so the linter can parse mappings without loading the login simulator
(:mod:`gtool.saml.mapping`), which builds on these frozen records.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from gtool.saml.values import ORG_ROLES, split_string

ALL_ORGS = -1  # mapperMatchAllOrgID: the Grafana-side `*`
DEFAULT_ROLE = "Viewer"  # getRoleForInternalOrgMapping: a missing or invalid role
MAX_PARTS = 3

OrgKind = Literal["all", "id", "name"]
OrgKey = int | str  # an org id (ALL_ORGS for `*`) or an org name still to be looked up
InvalidKind = Literal["parts", "empty-org"]


@dataclass(frozen=True)
class Org:
    """An existing Grafana organization (``--orgs`` JSON: ``{"id": 1, "name": "Main Org."}``)."""

    id: int
    name: str


@dataclass(frozen=True)
class Team:
    """An existing Grafana team with its team-sync external group IDs (``--teams`` JSON)."""

    id: int
    name: str
    org_id: int
    external_groups: tuple[str, ...] = ()


# strconv.Atoi: an optional sign and ASCII digits only; no spaces, no underscores, no other digit sets.
_ATOI = re.compile(r"[+-]?[0-9]+")
_INT64 = (-(2**63), 2**63 - 1)


def go_atoi(text: str) -> int | None:
    """Go ``strconv.Atoi`` on a 64-bit platform: the integer, or ``None`` where Go returns an error."""
    if not _ATOI.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64[0] <= number <= _INT64[1] else None


@dataclass(frozen=True)
class OrgRef:
    """The Grafana org an entry targets: every org (`*`), an org id, or an org name looked up at login."""

    kind: OrgKind
    text: str  # the part as Grafana sees it after splitting
    id: int | None = None  # for kind "id" (ALL_ORGS for "all")

    @property
    def key(self) -> OrgKey:
        """What Grafana keys the mapping by: the org id, or the name until it is looked up."""
        return self.id if self.id is not None else self.text

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class MappingEntry:
    """One valid ``external:org[:role]`` item of the list."""

    index: int  # 0-based position in the SplitString list
    text: str  # the item as SplitString returned it, before splitting on `:`
    external: str  # the value compared with the user's org attribute values (`*`: every user)
    org: OrgRef
    raw_role: str | None  # the third part as written; None when the entry has two parts
    role: str  # the role Grafana applies: raw_role when valid, else Viewer

    @property
    def position(self) -> int:
        """1-based, as people count list items."""
        return self.index + 1

    @property
    def role_is_valid(self) -> bool:
        return self.raw_role is not None and self.raw_role in ORG_ROLES

    @property
    def all_users(self) -> bool:
        return self.external == "*"


@dataclass(frozen=True)
class InvalidEntry:
    """An item Grafana skips, with why."""

    index: int
    text: str
    parts: tuple[str, ...]  # what splitOrgMapping returned (empty when there were more than 3 parts)
    kind: InvalidKind
    reason: str  # one sentence for people
    part_count: int  # how many `:`-separated parts the item has

    @property
    def position(self) -> int:
        return self.index + 1


@dataclass(frozen=True)
class OrgMapping:
    """A parsed ``org_mapping`` value."""

    raw: str
    form: str  # "empty" | "json" | "plain": the SplitString branch the value took
    json_error: str | None  # set when a `[…]` value is not a JSON array of strings (the list is then empty)
    items: tuple[str, ...]
    entries: tuple[MappingEntry, ...]
    invalid: tuple[InvalidEntry, ...]


def _split_parts(entry: str, legacy_escapes: bool) -> list[str]:
    """Every part, before the more-than-3 check."""
    parts: list[str] = []
    if legacy_escapes:
        # 11.2-era splitOrgMapping (PR #89951): a `:` after `\` is no separator, and every `\` is removed
        # from the parts before the last separator; the last part is kept verbatim.
        start = 0
        for i, ch in enumerate(entry):
            if ch == ":" and (i == 0 or entry[i - 1] != "\\"):
                parts.append(entry[start:i].replace("\\", ""))
                start = i + 1
        parts.append(entry[start:])
        return parts
    # Newest splitOrgMapping: only `\:` is an escape (giving `:`); other backslashes stay (DOMAIN\group).
    current: list[str] = []
    i = 0
    while i < len(entry):
        ch = entry[i]
        if ch == ":":
            parts.append("".join(current))
            current = []
        elif ch == "\\" and i + 1 < len(entry) and entry[i + 1] == ":":
            current.append(":")
            i += 1
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def split_org_mapping(entry: str, *, legacy_escapes: bool = False) -> tuple[str, ...]:
    """Grafana ``splitOrgMapping``: the parts of one item, or ``()`` when it has more than three.

    ``legacy_escapes`` selects the 11.2-era variant that strips backslashes (saml-reference.md §12.3);
    the default follows the newest source, where only ``\\:`` is special.
    """
    parts = _split_parts(entry, legacy_escapes)
    return tuple(parts) if len(parts) <= MAX_PARTS else ()


def count_parts(entry: str, *, legacy_escapes: bool = False) -> int:
    return len(_split_parts(entry, legacy_escapes))


def parse_org_ref(part: str) -> OrgRef | None:
    """``getOrgIDForInternalMapping`` without the database: ``None`` for an empty part (Grafana skips it)."""
    if part == "*":
        return OrgRef("all", part, ALL_ORGS)
    if part == "":
        return None
    number = go_atoi(part)
    if number is not None:
        return OrgRef("id", part, number)
    return OrgRef("name", part)


def _parse_item(index: int, item: str, legacy_escapes: bool) -> MappingEntry | InvalidEntry:
    count = count_parts(item, legacy_escapes=legacy_escapes)
    parts = split_org_mapping(item, legacy_escapes=legacy_escapes)
    if not 1 < len(parts) <= MAX_PARTS:
        reason = (
            "it has no `:` separating the external value from the org"
            if count == 1
            else f"it has {count} `:`-separated parts; at most 3 are allowed"
        )
        return InvalidEntry(index, item, parts, "parts", reason, count)
    org = parse_org_ref(parts[1])
    if org is None:
        return InvalidEntry(index, item, parts, "empty-org", "its org part is empty", count)
    raw_role = parts[2] if len(parts) == MAX_PARTS else None
    role = raw_role if raw_role is not None and raw_role in ORG_ROLES else DEFAULT_ROLE
    return MappingEntry(index, item, parts[0], org, raw_role, role)


@functools.lru_cache(maxsize=256)
def parse_org_mapping(raw: str, *, legacy_escapes: bool = False) -> OrgMapping:
    """Parse an ``org_mapping`` value exactly as Grafana's ``ParseOrgMappingSettings`` reads it.

    Invalid JSON gives an empty list, silently, as ``util.SplitString`` does; ``json_error`` says why.
    """
    split = split_string(raw)
    entries: list[MappingEntry] = []
    invalid: list[InvalidEntry] = []
    for index, item in enumerate(split.items):
        parsed = _parse_item(index, item, legacy_escapes)
        if isinstance(parsed, MappingEntry):
            entries.append(parsed)
        else:
            invalid.append(parsed)
    return OrgMapping(raw, split.form, split.error, split.items, tuple(entries), tuple(invalid))


@dataclass(frozen=True)
class ResolvedMapping:
    """The mapping Grafana keeps: per external value, per org, the entry that won."""

    winners: Mapping[str, Mapping[OrgKey, MappingEntry]]
    replaced: tuple[tuple[MappingEntry, MappingEntry], ...]  # (earlier entry dropped, later entry kept)
    unresolved: tuple[MappingEntry, ...]  # org names absent from the supplied org list (Grafana skips them)

    def role(self, external: str, org: OrgKey) -> str | None:
        entry = self.winners.get(external, {}).get(org)
        return entry.role if entry is not None else None


def resolve_mapping(
    entries: Iterable[MappingEntry], org_ids: Mapping[str, int] | None = None
) -> ResolvedMapping:
    """Model ``res[orga][orgID] = role``: a later entry for the same (external value, org) replaces the
    earlier one (saml-reference.md §12.1); ``getTopRole`` is not involved here.

    With ``org_ids`` (exact, case-sensitive org name -> id, as ``GetByName``), names become ids, so a name
    and an id naming the same org collide as they do in Grafana; names not in it are skipped.
    """
    winners: dict[str, dict[OrgKey, MappingEntry]] = {}
    replaced: list[tuple[MappingEntry, MappingEntry]] = []
    unresolved: list[MappingEntry] = []
    for entry in entries:
        key: OrgKey = entry.org.key
        if entry.org.kind == "name" and org_ids is not None:
            if entry.org.text not in org_ids:
                unresolved.append(entry)
                continue
            key = org_ids[entry.org.text]
        per_org = winners.setdefault(entry.external, {})
        if key in per_org:
            replaced.append((per_org[key], entry))
        per_org[key] = entry
    return ResolvedMapping(winners, tuple(replaced), tuple(unresolved))


_SINGLE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\:")


def has_bad_json_escape(raw: str) -> bool:
    """A JSON-form ``org_mapping`` that fails because it writes ``\\:`` (the docs' escape) where JSON
    needs ``\\\\:``: Grafana then reads no mapping at all (saml-reference.md §3.1)."""
    parsed = parse_org_mapping(raw)
    return parsed.form == "json" and parsed.json_error is not None and bool(_SINGLE_ESCAPE.search(raw))


def fix_json_escapes(raw: str) -> str:
    """``\\:`` written as JSON wants it: ``\\\\:``."""
    return _SINGLE_ESCAPE.sub(lambda m: m.group(0)[:-2] + "\\\\:", raw)
