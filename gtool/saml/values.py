"""Go value semantics Grafana applies to ini strings: go-ini's ``parseBool``, Go's ``time.ParseDuration``
and Grafana's ``util.SplitString``. Each returns ``None`` (or raises) where Go would report an error, so
callers can tell a silent fallback from a real value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from gtool.saml.ini import GO_SPACE

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


def _go_quote(s: str) -> str:
    """Go ``time.quote``: non-ASCII and control bytes as ``\\xNN``, ``"`` and ``\\`` backslash-escaped."""
    out: list[str] = []
    for ch in s:
        if ch < " " or ord(ch) >= 0x80:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    return '"' + "".join(out) + '"'


_MAX = 1 << 63  # Go Duration is an int64 of nanoseconds: about 292 years


def _leading_int(s: str) -> tuple[int, str] | None:
    """Go ``leadingInt``: the leading digits, or ``None`` past 2^63."""
    i, x = 0, 0
    while i < len(s) and "0" <= s[i] <= "9":
        if x > _MAX // 10:
            return None
        x = x * 10 + int(s[i])
        if x > _MAX:
            return None
        i += 1
    return x, s[i:]


def _leading_fraction(s: str) -> tuple[int, float, str]:
    """Go ``leadingFraction``: digits past int64 precision are consumed but ignored."""
    i, x, scale, overflow = 0, 0, 1.0, False
    while i < len(s) and "0" <= s[i] <= "9":
        if not overflow:
            y = x * 10 + int(s[i])
            if x > (_MAX - 1) // 10 or y > _MAX:
                overflow = True
            else:
                x, scale = y, scale * 10
        i += 1
    return x, scale, s[i:]


def parse_duration(text: str) -> float:
    """Go ``time.ParseDuration``: seconds as a float, or :class:`DurationError` with Go's message.

    ``"0"`` needs no unit; every other number does; there is no ``d`` unit; more than ~292 years is an error.
    """
    invalid = DurationError(f"time: invalid duration {_go_quote(text)}")
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        before = len(s)
        lead = _leading_int(s)
        if lead is None:
            raise invalid
        v, s = lead
        pre = len(s) != before
        f, scale, post = 0, 1.0, False
        if s.startswith("."):
            before = len(s) - 1
            f, scale, s = _leading_fraction(s[1:])
            post = len(s) != before
        if not pre and not post:
            raise invalid
        k = 0
        while k < len(s) and s[k] != "." and not ("0" <= s[k] <= "9"):
            k += 1
        unit, s = s[:k], s[k:]
        if not unit:
            raise DurationError(f"time: missing unit in duration {_go_quote(text)}")
        if unit not in _UNITS_NS:
            raise DurationError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(text)}")
        size = _UNITS_NS[unit]
        if v > _MAX // size:
            raise invalid
        v *= size
        if f > 0:
            v += int(float(f) * (float(size) / scale))
            if v > _MAX:
                raise invalid
        total += v
        if total > _MAX:
            raise invalid
    if not neg and total > _MAX - 1:
        raise invalid
    seconds = total / 1e9
    return -seconds if neg else seconds


def format_duration(seconds: float) -> str:
    """A short human form (``45s``, ``1m30s``, ``48h``) for messages."""
    whole = int(seconds)
    if whole != seconds or whole == 0:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts)


_GO_FIELDS = re.compile(f"[{GO_SPACE}]+")  # strings.Fields separators (unicode.IsSpace)
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
    # Go's strings.TrimSpace: unlike str.strip() it keeps \x1c-\x1f.
    if value.strip(GO_SPACE).startswith("["):
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
    if value.strip(GO_SPACE).startswith("["):
        return split_string(value).items
    fields = value.replace(",", " ").strip(GO_SPACE)
    return tuple(_GO_FIELDS.split(fields)) if fields else ()


ORG_ROLES = ("None", "Viewer", "Editor", "Admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ORG_ROLES)}


def top_role(a: str | None, b: str | None) -> str | None:
    """``getTopRole``: the higher of two org roles by None < Viewer < Editor < Admin."""
    if a is None:
        return b
    if b is None:
        return a
    return a if ROLE_RANK[a] >= ROLE_RANK[b] else b


@dataclass(frozen=True, order=True)
class Version:
    """A Grafana version (``--grafana-version``); here rather than in lint so the simulator can use it."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> Version:
        m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?", text.strip())
        if not m:
            raise ValueError(f"not a Grafana version: {text!r} (expected X.Y or X.Y.Z, e.g. 11.5)")
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"
