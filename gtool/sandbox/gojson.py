"""JSON exactly as Go's ``encoding/json`` writes it, so sandbox bodies match Grafana's byte for byte.

* Struct fields come out in declaration order: build a plain ``dict`` in that order.
* Map keys come out sorted (``util.DynMap``, ``map[string]any``, the re-marshalled error bodies): wrap the
  dict in :class:`GoMap`.
* Compact separators, no trailing newline, non-ASCII written as UTF-8, and Go's HTML-safe escaping of
  ``<``, ``>``, ``&``, U+2028 and U+2029.
* A big listing can be encoded ahead as :class:`Raw` text (see :mod:`gtool.sandbox.listings`), which
  ``dumps`` splices in as it is.
"""

from __future__ import annotations

import datetime as dt
import json
from json.encoder import encode_basestring
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response

# Go's encodeState escapes these even in strings that are not HTML; JSON puts them only inside strings,
# so replacing them in the encoded text is equivalent.
_HTML_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)

ZERO_TIME = "0001-01-01T00:00:00Z"


class GoMap(dict[str, Any]):
    """A Go map: ``encoding/json`` writes its keys in sorted order, whatever order they were set in."""


class Raw(str):
    """JSON text encoded ahead, exactly as ``json.dumps(v, ensure_ascii=False, separators=(",", ":"))``
    writes ``v`` (the HTML escaping is left to :func:`dumps`, which escapes the whole body once).

    Allowed as the whole value or as a value of the top-level dict or list; deeper it is refused, since
    ``json`` would quietly write it as a string.
    """


# A string as ``json.dumps(text, ensure_ascii=False)`` writes it: the very function it calls.
quote = encode_basestring


def _prepare(value: Any) -> Any:
    if isinstance(value, GoMap):
        return {k: _prepare(value[k]) for k in sorted(value)}
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    if isinstance(value, Raw):
        raise TypeError("gojson.Raw is allowed only at the top level or directly in the top-level container")
    return value


def _escape(text: str) -> str:
    for raw, escaped in _HTML_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def _text(value: Any) -> str:
    """The JSON text of ``value``, before HTML escaping; :class:`Raw` parts are copied, not re-encoded."""
    if isinstance(value, Raw):
        return value
    if isinstance(value, dict) and any(isinstance(v, Raw) for v in value.values()):
        keys = sorted(value) if isinstance(value, GoMap) else list(value)
        return "{" + ",".join(f"{quote(k)}:{compact(value[k])}" for k in keys) + "}"
    if isinstance(value, list | tuple) and any(isinstance(v, Raw) for v in value):
        return "[" + ",".join(compact(v) for v in value) + "]"
    return compact(value)


def compact(value: Any) -> str:
    """The JSON text of ``value`` (a :class:`Raw` as it is), before the HTML escaping :func:`dumps` adds."""
    if isinstance(value, Raw):
        return value
    return json.dumps(_prepare(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> bytes:
    """``json.Marshal``."""
    return _escape(_text(value)).encode("utf-8")


def dumps_indent(value: Any) -> bytes:
    """``json.MarshalIndent(v, "", "  ")``."""
    text = json.dumps(_prepare(value), ensure_ascii=False, indent=2, separators=(",", ": "), allow_nan=False)
    return _escape(text).encode("utf-8")


def go_time(ts: int | None) -> str:
    """A ``time.Time`` as Go marshals it (RFC 3339, UTC, whole seconds as Grafana's database keeps them).

    ``None`` is Go's zero time.
    """
    if ts is None:
        return ZERO_TIME
    if type(ts) is not int:
        return _strftime(ts)
    # strftime costs microseconds and listings hold thousands of times: format the date once per day
    # (UTC days are exactly 86,400 s in Unix time) and the time of day by arithmetic.
    day, second = divmod(ts, 86400)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        midnight = _strftime(day * 86400)
        prefix = midnight[: midnight.index("T") + 1]
        if len(_DAY_PREFIXES) >= 100_000:
            _DAY_PREFIXES.clear()
        _DAY_PREFIXES[day] = prefix
    hour, rest = divmod(second, 3600)
    return prefix + _HOURS[hour] + _MINUTES_SECONDS[rest]


_DAY_PREFIXES: dict[int, str] = {}
_HOURS = tuple(f"{h:02d}:" for h in range(24))
_MINUTES_SECONDS = tuple(f"{m:02d}:{s:02d}Z" for m in range(60) for s in range(60))


def _strftime(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GoJSONResponse(Response):
    """``response.JSON``: Go-marshalled body with ``Content-Type: application/json``."""

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        return dumps(content)
