"""Grafana's error bodies (grafana-api-contract.md §9.1) and the exception routes raise to send one.

The four shapes, by the Go call that writes them::

    response.Error(status, msg, nil)   {"message":"…"}                                 -> error()
    response.Error(status, msg, err)   {"message":"…","traceID":""} (sorted map)       -> error_with_err()
    response.Err(errutil.Error)        {"message","messageId","statusCode","traceID"}  -> public_error()
    middleware WriteErrOrFallback      {"extra":null,"message","messageId",…}          -> middleware_error()

plus the RBAC ``deny`` body (``accessErrorId``/``message``/``title``) and ``JsonApiErr`` bodies written by
middleware (``reqGrafanaAdmin`` → ``{"message":"Permission denied"}``, the UID resolver's 404).
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response

from gtool.sandbox.gojson import GoJSONResponse, GoMap

# Middleware writes through web.Context.JSON, which sets the charset (Macaron convention); handlers
# writing response.JSON send plain application/json.
MIDDLEWARE_CONTENT_TYPE = "application/json; charset=UTF-8"

# errutil/status.go (newest): the public message when a base has none.
STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    429: "TooManyRequests",
    500: "InternalError",
    501: "NotImplemented",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class GrafanaError(Exception):
    """Raised by a route to answer with exactly this status and body (``None``: no body at all)."""

    def __init__(
        self,
        status: int,
        body: Any,
        *,
        media_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {body!r}")
        self.status = status
        self.body = body
        self.media_type = media_type
        self.headers = headers or {}

    def response(self) -> Response:
        if self.body is None or self.status == 304:
            # Go's net/http drops any body written with 304 Not Modified.
            return Response(b"", self.status, self.headers, self.media_type)
        return GoJSONResponse(self.body, self.status, self.headers, self.media_type)


def error(status: int, message: str) -> GrafanaError:
    """``response.Error(status, message, nil)``."""
    if not message and status == 404:
        message = "Not Found"
    elif not message and status == 500:
        message = "Internal Server Error"
    return GrafanaError(status, {"message": message})


def error_with_err(status: int, message: str) -> GrafanaError:
    """``response.Error(status, message, err)``: re-marshalled as a map with ``traceID`` (tracing off)."""
    return GrafanaError(status, GoMap(message=message, traceID=""))


def public_error(status: int, message_id: str, message: str = "") -> GrafanaError:
    """``response.Err`` of an ``errutil`` error: the public error plus ``traceID``, keys sorted."""
    return GrafanaError(
        status,
        GoMap(
            message=message or STATUS_REASONS.get(status, "Unknown"),
            messageId=message_id,
            statusCode=status,
            traceID="",
        ),
    )


def middleware_error(status: int, message_id: str, message: str = "") -> GrafanaError:
    """``WriteErrOrFallback`` for an ``errutil`` error: ``extra`` is always present, even as null."""
    return GrafanaError(
        status,
        GoMap(
            extra=None,
            message=message or STATUS_REASONS.get(status, "Unknown"),
            messageId=message_id,
            statusCode=status,
            traceID="",
        ),
        media_type=MIDDLEWARE_CONTENT_TYPE,
    )


def json_api_error(status: int, message: str, *, with_err: bool = False) -> GrafanaError:
    """``c.JsonApiErr(status, message, err)`` from middleware."""
    body = GoMap(message=message, traceID="") if with_err else GoMap(message=message)
    return GrafanaError(status, body, media_type=MIDDLEWARE_CONTENT_TYPE)


def access_error_id() -> str:
    """``fmt.Sprintf("ACE%0.10d", rand.Int63n(1e10))``."""
    return f"ACE{secrets.randbelow(10**10):010d}"


def access_denied(needed: str) -> GrafanaError:
    """The RBAC ``deny`` body; ``needed`` is the evaluator's string (a bare action for one permission)."""
    return GrafanaError(
        403,
        GoMap(
            accessErrorId=access_error_id(),
            message="You'll need additional permissions to perform this action. "
            f"Permissions needed: {needed}",
            title="Access denied",
        ),
        media_type=MIDDLEWARE_CONTENT_TYPE,
    )


def permission_denied() -> GrafanaError:
    """``reqGrafanaAdmin`` / ``reqOrgAdmin`` refusing (``accessForbidden``)."""
    return json_api_error(403, "Permission denied")


def bad_request_data() -> GrafanaError:
    """Any ``web.Bind`` failure: malformed JSON, a wrong type, a missing required field."""
    return error_with_err(400, "bad request data")


def unauthorized() -> GrafanaError:
    """No or unknown credentials (``authn.errCantAuthenticateReq``)."""
    return middleware_error(401, "auth.unauthorized")


def not_found_route() -> GrafanaError:
    """The ``/api/*`` catch-all for a path no route serves."""
    return json_api_error(404, "Not found")
