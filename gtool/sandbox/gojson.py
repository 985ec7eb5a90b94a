"""JSON exactly as Go's ``encoding/json`` writes it, so sandbox bodies match Grafana's byte for byte.

* Struct fields come out in declaration order: build a plain ``dict`` in that order.
* Map keys come out sorted (``util.DynMap``, ``map[string]any``, the re-marshalled error bodies): wrap the
  dict in :class:`GoMap`.
* Compact separators, no trailing newline, non-ASCII written as UTF-8, and Go's HTML-safe escaping of
  ``<``, ``>``, ``&``, U+2028 and U+2029.
"""

from __future__ import annotations

import datetime as dt
import json
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


def _prepare(value: Any) -> Any:
    if isinstance(value, GoMap):
        return {k: _prepare(value[k]) for k in sorted(value)}
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    return value


def _escape(text: str) -> str:
    for raw, escaped in _HTML_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def dumps(value: Any) -> bytes:
    """``json.Marshal``."""
    text = json.dumps(_prepare(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _escape(text).encode("utf-8")


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
