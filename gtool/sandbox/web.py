"""Request plumbing shared by every route module, after Grafana's ``pkg/web``: ``Bind`` (Go JSON decoding into
a struct, then ``binding:"Required"``), ``QueryInt``, path params, and :func:`api` to declare a route.

A route handler is a plain function ``handler(ctx) -> body | Response`` run in a worker thread (the store
is synchronous and thread-safe); raising :class:`~gtool.sandbox.errors.GrafanaError` answers with that
error. Returning anything else sends it as ``response.JSON(200, body)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gtool.sandbox import errors
from gtool.sandbox.auth import AuthSettings, Identity, authenticate, parse_role_text
from gtool.sandbox.gojson import GoJSONResponse
from gtool.sandbox.store import Store

# Grafana reads bodies without a cap; the sandbox stops at 1 MiB and answers as a failed Bind would, since
# no request body of these APIs comes anywhere near that size.
MAX_BODY = 1 << 20
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

DEFAULT_VERSION = "11.5.2"
DEFAULT_COMMIT = "598e0338d5374d6bc404b02b2cb2d22fd7b2f7bb"  # Grafana v11.5.2


@dataclass
class Sandbox:
    """Everything a route needs besides the request: the store, the ini the sandbox runs with, the mode."""

    store: Store
    config: Any = None  # gtool.saml.settings.GrafanaConfig | None
    cloud: bool = False
    version: str = DEFAULT_VERSION
    commit: str = DEFAULT_COMMIT
    edition: str = "Enterprise"  # SAML, team sync and SSO settings are Enterprise features
    app_url: str = "http://localhost:3000/"
    stack_id: str = "1"

    def settings(self) -> AuthSettings:
        # Edition: SAML needs the Enterprise licence (saml-reference.md §2.8, contract §7.3).
        return AuthSettings(self.store, self.config, saml_licensed=self.edition != "Open Source")

    def ini_bool(self, section: str, key: str) -> bool:
        """``MustBool(false)`` of an ini key (no config: false)."""
        if self.config is None:
            return False
        from gtool.saml.values import parse_bool

        return parse_bool(self.config.value(section, key)) is True


FieldKind = Literal["string", "bool", "int", "role", "strings", "any"]


@dataclass(frozen=True)
class Field:
    """One field of a Go form struct: its JSON name, Go type and whether it has ``binding:"Required"``."""

    name: str
    kind: FieldKind = "string"
    required: bool = False


_ZERO: dict[str, Any] = {"string": "", "bool": False, "int": 0, "role": "", "strings": None, "any": None}
_SURROGATE = re.compile("[\ud800-\udfff]")


class _BindError(Exception):
    pass


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in document order (so duplicates can be replayed as Go does)."""


def _reject_constant(name: str) -> Any:
    raise _BindError(f"invalid character in JSON: {name}")


def _go_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _BindError(f"number {text} out of range for float64")
    return value


def _plain(value: Any) -> Any:
    """Object pairs back to dicts (last duplicate wins, as Go decodes them)."""
    if isinstance(value, _Pairs):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)  # Go decodes a lone surrogate escape as U+FFFD
    return value


def _convert(kind: FieldKind, value: Any) -> Any:
    """Go's unmarshal of one JSON value into a field of ``kind``; ``None`` (JSON null) leaves it unset."""
    if kind == "any":
        return _plain(value)
    if kind == "string" and isinstance(value, str):
        return _plain(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        if -(2**63) <= value < 2**63:
            return value
        raise _BindError("number out of range for int64")
    if kind == "role" and isinstance(value, str):
        try:
            return parse_role_text(_plain(value))
        except ValueError as exc:
            raise _BindError(str(exc)) from None
    if (
        kind == "strings"
        and isinstance(value, list)
        and not isinstance(value, _Pairs)
        and all(isinstance(v, str) or v is None for v in value)
    ):
        return ["" if v is None else _plain(v) for v in value]
    raise _BindError(f"cannot unmarshal into {kind}")


def bind(body: bytes | None, fields: Sequence[Field]) -> dict[str, Any]:
    """``web.Bind``: decode the first JSON value into the form, then check required fields.

    Like Go: an empty body is fine (zero values), trailing data after the value is ignored, keys match
    field names ignoring case, unknown keys are skipped, ``null`` leaves a field at its zero value, and a
    wrong type, bad JSON or a missing required value fails — here with Grafana's 400 ``bad request data``.
    """
    if body is None:
        raise errors.bad_request_data()
    values: dict[str, Any] = {f.name: _ZERO[f.kind] for f in fields}
    text = body.decode("utf-8", "replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start < len(text):
        decoder = json.JSONDecoder(
            object_pairs_hook=_Pairs, parse_constant=_reject_constant, parse_float=_go_float
        )
        try:
            doc, _ = decoder.raw_decode(text, start)
            _fill(values, fields, doc)
        except (ValueError, _BindError):
            raise errors.bad_request_data() from None
    for f in fields:
        if f.required and not values[f.name]:
            raise errors.bad_request_data()
    return values


def _fill(values: dict[str, Any], fields: Sequence[Field], doc: Any) -> None:
    if doc is None:
        return
    if not isinstance(doc, _Pairs):
        raise _BindError("not an object")
    exact = {f.name: f for f in fields}
    folded = {f.name.casefold(): f for f in fields}
    for key, value in doc:
        spec = exact.get(key) or folded.get(key.casefold())
        if spec is None or value is None:
            continue
        values[spec.name] = _convert(spec.kind, value)


def go_atoi(text: str) -> int | None:
    """``strconv.ParseInt(s, 10, 64)``: ``None`` where Go reports an error."""
    digits = text[1:] if text.startswith(("+", "-")) else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


@dataclass
class Ctx:
    """One request as a handler sees it."""

    request: Request
    sandbox: Sandbox
    body: bytes | None
    identity_or_none: Identity | None = None
    params: dict[str, str] = field(default_factory=dict)
    _settings: AuthSettings | None = None

    @property
    def store(self) -> Store:
        return self.sandbox.store

    @property
    def identity(self) -> Identity:
        assert self.identity_or_none is not None, "route declared without sign-in"
        return self.identity_or_none

    @property
    def settings(self) -> AuthSettings:
        """Provider states, read once per request."""
        if self._settings is None:
            self._settings = self.sandbox.settings()
        return self._settings

    def query(self, name: str) -> str:
        """``c.Query``: the first value, ``""`` when absent."""
        values = self.request.query_params.getlist(name)
        return values[0] if values else ""

    def query_int(self, name: str) -> int:
        """``c.QueryInt``: 0 when absent or not an integer."""
        return go_atoi(self.query(name)) or 0

    def query_bool(self, name: str) -> bool:
        """``c.QueryBool``: ``strconv.ParseBool``, false on error."""
        return self.query(name) in ("1", "t", "T", "true", "TRUE", "True")

    def bind(self, *fields: Field) -> dict[str, Any]:
        return bind(self.body, fields)

    def param_int(self, name: str, message: str) -> int:
        """``strconv.ParseInt(web.Params(c.Req)[name])`` → 400 ``message`` (with traceID) on error."""
        value = go_atoi(self.params.get(name, ""))
        if value is None:
            raise errors.error_with_err(400, message)
        return value


def success(message: str) -> dict[str, str]:
    """``response.Success(message)``."""
    return {"message": message}


Handler = Callable[[Ctx], Any]


async def _read_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def api(methods: str | Sequence[str], path: str, handler: Handler, *, signed_in: bool = True) -> Route:
    """A Grafana API route. ``signed_in`` is the ``/api`` group's ``reqSignedIn`` (401 without identity)."""
    method_list = [methods] if isinstance(methods, str) else list(methods)

    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        body = await _read_body(request) if request.method in BODY_METHODS else b""

        def run() -> Any:
            ctx = Ctx(request, sandbox, body, params=dict(request.path_params))
            if signed_in:
                ctx.identity_or_none = authenticate(
                    sandbox.store, request.headers, request.query_params, cloud=sandbox.cloud
                )
            return handler(ctx)

        try:
            result = await run_in_threadpool(run)
        except errors.GrafanaError as exc:
            return exc.response()
        if isinstance(result, Response):
            return result
        return GoJSONResponse(result)

    return Route(path, endpoint, methods=method_list, name=f"{method_list[0]} {path}")
