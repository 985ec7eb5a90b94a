"""Credentials for Grafana and the `Secret` that keeps them out of reprs, logs and errors.

Three ways to authenticate (contract §1):

* `BasicAuth(user, password)`: ``Authorization: Basic base64(user:password)``, for a self-hosted
  Grafana server admin (also LDAP users);
* `TokenAuth(token)`: ``Authorization: Bearer <token>``, for a service account token (``glsa_…``),
  the Grafana Cloud way;
* `ApiKeyBasicAuth(token)`: the same token sent as ``Basic base64("api_key:<token>")``, which Grafana's
  API-key client accepts too (``getTokenFromRequest``); useful behind proxies that eat ``Bearer``.

The secret is revealed in exactly one place, `Auth.authorization()`, when a request is sent. Everything
else sees ``Secret('****')``. `Auth.scrub()` removes every form of the secret (raw, base64, URL- and
JSON-escaped) from text the server sends back, in case a proxy echoes request headers into an error page.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from typing import Any, Literal, NoReturn, Protocol
from urllib.parse import quote

MASK = "****"

AuthKind = Literal["basic", "token", "api_key"]


class Secret:
    """A string that never shows itself: ``repr`` is ``Secret('****')``, ``str`` and f-strings give ``****``.

    Call `reveal()` to get the value. A `Secret` cannot be pickled, so it does not end up in a cache or a
    multiprocessing payload by accident; `copy.deepcopy` returns the same object (it is immutable).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret needs a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The secret itself: use it only to build the request that needs it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


def as_secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


class Auth(Protocol):
    """What the clients need from a credential."""

    @property
    def kind(self) -> AuthKind: ...

    def authorization(self) -> str:
        """The ``Authorization`` header value (reveals the secret)."""
        ...

    def describe(self) -> str:
        """A human description without the secret, e.g. ``basic auth as 'admin'``."""
        ...

    def scrub(self, text: str) -> str:
        """`text` with every form of the secret replaced by ``****``."""
        ...


def _forms(*values: str) -> list[str]:
    """Every way a secret may come back in a response body: raw, URL-quoted, JSON-escaped."""
    out: set[str] = set()
    for v in values:
        if len(v) < 3:  # masking "a" everywhere would shred the text and hide nothing useful
            continue
        out.update({v, quote(v, safe=""), quote(v), json.dumps(v)[1:-1]})
    return sorted(out, key=len, reverse=True)


_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\b\s*[:=]\s*\"?)(?:basic|bearer)?\s*[^\s\"',;}]+")


def scrub_text(text: str, secrets: list[str]) -> str:
    for form in secrets:
        text = text.replace(form, MASK)
    return _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)


class _SecretAuth:
    __slots__ = ("_forms",)
    _forms: list[str]

    def scrub(self, text: str) -> str:
        return scrub_text(text, self._forms)


class BasicAuth(_SecretAuth):
    """Basic auth with a login and password: a self-hosted Grafana server admin."""

    __slots__ = ("_password", "_username")

    def __init__(self, username: str, password: str | Secret) -> None:
        self._username = username
        self._password = as_secret(password)
        pair = f"{username}:{self._password.reveal()}"
        self._forms = _forms(self._password.reveal(), pair, base64.b64encode(pair.encode()).decode())

    @property
    def kind(self) -> AuthKind:
        return "basic"

    @property
    def username(self) -> str:
        return self._username

    @property
    def password(self) -> Secret:
        return self._password

    def authorization(self) -> str:
        pair = f"{self._username}:{self._password.reveal()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def describe(self) -> str:
        return f"basic auth as {self._username!r}"

    def __repr__(self) -> str:
        return f"BasicAuth(username={self._username!r}, password={self._password!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BasicAuth):
            return NotImplemented
        return self._username == other._username and self._password == other._password

    def __hash__(self) -> int:
        return hash((BasicAuth, self._username, self._password))


class TokenAuth(_SecretAuth):
    """A service account token sent as ``Authorization: Bearer <token>``."""

    __slots__ = ("_token",)

    def __init__(self, token: str | Secret) -> None:
        self._token = as_secret(token)
        self._forms = _forms(self._token.reveal())

    @property
    def kind(self) -> AuthKind:
        return "token"

    @property
    def token(self) -> Secret:
        return self._token

    def authorization(self) -> str:
        return "Bearer " + self._token.reveal()

    def describe(self) -> str:
        return "service account token"

    def __repr__(self) -> str:
        return f"TokenAuth(token={self._token!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, TokenAuth)
        return self._token == other._token

    def __hash__(self) -> int:
        return hash((type(self), self._token))


class ApiKeyBasicAuth(TokenAuth):
    """A service account token sent as basic auth with the literal user ``api_key``."""

    __slots__ = ()

    def __init__(self, token: str | Secret) -> None:
        super().__init__(token)
        pair = f"api_key:{self._token.reveal()}"
        self._forms = _forms(self._token.reveal(), pair, base64.b64encode(pair.encode()).decode())

    @property
    def kind(self) -> AuthKind:
        return "api_key"

    def authorization(self) -> str:
        pair = f"api_key:{self._token.reveal()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def describe(self) -> str:
        return "service account token (as api_key basic auth)"

    def __repr__(self) -> str:
        return f"ApiKeyBasicAuth(token={self._token!r})"


def basic_or_api_key(username: str, password: str | Secret) -> BasicAuth | ApiKeyBasicAuth:
    """A credential from a login and password; ``api_key`` as the login means a token (contract §1)."""
    if username == "api_key":
        return ApiKeyBasicAuth(password)
    return BasicAuth(username, password)
