"""Go value semantics Grafana applies to ini strings: go-ini's ``parseBool``, Go's ``time.ParseDuration``
and Grafana's ``util.SplitString``. Each returns ``None`` (or raises) where Go would report an error, so
callers can tell a silent fallback from a real value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# go-ini key.go parseBool: exactly these literals; anything else makes MustBool return its default.
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True", "YES", "yes", "Yes", "y", "ON", "on", "On"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False", "NO", "no", "No", "n", "OFF", "off", "Off"})


def parse_bool(value: str) -> bool | None:
    """go-ini ``parseBool``: ``True``/``False``, or ``None`` where ``MustBool`` falls back silently."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


class DurationError(ValueError):
    """The text is not a Go duration; the message is Go's own wording."""


def parse_duration(text: str) -> float:
    """Go ``time.ParseDuration``: seconds as a float, or :class:`DurationError` with Go's message.

    ``"0"`` needs no unit; every other number does; there is no ``d`` unit.
    """
    quoted = f'"{text}"'
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise DurationError(f"time: invalid duration {quoted}")
    total_ns = 0.0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise DurationError(f"time: invalid duration {quoted}")
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        int_part, s = s[:i], s[i:]
        frac_part = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and "0" <= s[j] <= "9":
                j += 1
            frac_part, s = s[:j], s[j:]
        if not int_part and not frac_part:
            raise DurationError(f"time: invalid duration {quoted}")
        k = 0
        while k < len(s) and s[k] != "." and not ("0" <= s[k] <= "9"):
            k += 1
        unit, s = s[:k], s[k:]
        if not unit:
            raise DurationError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS_NS:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        number = float(f"{int_part or '0'}.{frac_part or '0'}")
        total_ns += number * _UNITS_NS[unit]
    seconds = total_ns / 1e9
    return -seconds if neg else seconds


def format_duration(seconds: float) -> str:
    """A short human form (``90s``, ``48h``, ``1h30m``) for messages."""
    whole = int(seconds)
    if whole != seconds or whole == 0:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts)


_LIST_ITEM = re.compile(r'"[^"]+"|[^,\t\n\v\f\r ]+')


@dataclass(frozen=True)
class SplitResult:
    """What ``util.SplitStringWithError`` returns: items, the JSON error Grafana swallows, the form."""

    items: tuple[str, ...]
    form: str  # "empty" | "json" | "plain"
    error: str | None = None


def split_string(value: str) -> SplitResult:
    """Grafana ``util.SplitStringWithError`` (pkg/util/strings.go).

    A value whose trimmed text starts with ``[`` must be a JSON array of strings; anything else in that
    form yields no items at all (``SplitString`` swallows the error). Otherwise items are runs of
    non-separators (comma, space, tab, newline, VT, FF, CR) or double-quoted runs, each stripped of ``"``.
    """
    if not value:
        return SplitResult((), "empty")
    if value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            return SplitResult((), "json", f"incorrect format: {exc}")
        # Go's json.Unmarshal into []string rejects numbers, bools, objects and nested arrays; a null
        # element leaves the string at its zero value "" without an error.
        if not isinstance(parsed, list) or not all(item is None or isinstance(item, str) for item in parsed):
            return SplitResult((), "json", "incorrect format: not a JSON array of strings")
        return SplitResult(tuple("" if item is None else item for item in parsed), "json")
    return SplitResult(tuple(m.strip('"') for m in _LIST_ITEM.findall(value)), "plain")


def split_string_legacy(value: str) -> tuple[str, ...]:
    """Older Grafana: the same JSON branch, then ``strings.Fields`` after replacing commas with spaces."""
    if value.strip().startswith("["):
        return split_string(value).items
    return tuple(value.replace(",", " ").split())


ORG_ROLES = ("None", "Viewer", "Editor", "Admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ORG_ROLES)}


def top_role(a: str | None, b: str | None) -> str | None:
    """``getTopRole``: the higher of two org roles by None < Viewer < Editor < Admin."""
    if a is None:
        return b
    if b is None:
        return a
    return a if ROLE_RANK[a] >= ROLE_RANK[b] else b
