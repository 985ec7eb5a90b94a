"""The big listings, ``/api/users/search`` and ``/api/orgs/:id/users/search``, encoded straight from SQL rows.

A full inventory reads every user and every membership in pages of 1,000. Building a dict per row
(:func:`gtool.sandbox.dtos.user_search_hit`, :func:`gtool.sandbox.routes.orgs.org_user_dto`) and walking it
again in :func:`gtool.sandbox.gojson.dumps` cost ~15 µs a row, which made the single-process sandbox, not
the network, the bottleneck of a client reading pages concurrently. Here each row is formatted once into
its JSON text, with what repeats (auth labels, avatars, dates) computed once.

Those dict builders stay the specification: the text made here is, byte for byte, what ``gojson.dumps``
writes for them (tests/sandbox/test_listing_bytes.py holds the two equal, on a generated instance and on
hostile strings). Avatar URLs, times and ages are written between quotes without ``quote``: they are
made of letters, digits and ``/-:< `` only, which JSON leaves as they are (``<`` is escaped with the rest
of the body by ``gojson.dumps``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from gtool.sandbox import dtos
from gtool.sandbox.auth import auth_label
from gtool.sandbox.gojson import GoMap, Raw, compact, go_time
from gtool.sandbox.gojson import quote as q

UserHitRow = tuple[int, str, str, str, str, int, int, int, str | None]
"""id, uid, name, login, email, is_admin, is_disabled, last_seen_at, newest auth module (None: local)."""

OrgUserRow = tuple[int, int, str, str, str, str, str, int, int, int, int, str | None]
"""org_id, user_id, uid, email, name, login, role, last_seen_at, created, is_disabled, is_provisioned,
newest auth module (None: local)."""

_BOOL = ("false", "true")
_AGE_UNITS = ((525600, "year"), (43800, "month"), (1440, "day"), (60, "hour"))
_CACHE_LIMIT = 200_000
_avatars: dict[str, str] = {}
_labels: dict[str | None, str] = {}


def avatar(email: str) -> str:
    """``dtos.avatar_url``, remembered: the users listing and every org listing show the same emails."""
    url = _avatars.get(email)
    if url is None:
        url = dtos.avatar_url(email)
        if len(_avatars) >= _CACHE_LIMIT:
            _avatars.clear()
        _avatars[email] = url
    return url


def age(ts: int | None, now: int) -> str:
    """``dtos.age_string`` in integer arithmetic.

    Go (and ``age_string``) floor ``(now - ts) / 60 / size`` in floating point; for whole seconds that is
    ``(now - ts) // 60 // size`` exactly, since a quotient that is not a whole number stays at least
    ``1 / (60 * 525600)`` away from one, far above the rounding error of a double at these magnitudes.
    """
    if type(ts) is not int or type(now) is not int:
        return dtos.age_string(ts, now)
    minutes = (now - ts) // 60
    for size, unit in _AGE_UNITS:
        amount = minutes // size
        if amount > 0:
            return f"1 {unit}" if amount == 1 else f"{amount} {unit}s"
    if minutes > 0:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return "< 1 minute"


def _labels_text(module: str | None, none: str) -> str:
    """``authLabels`` of a row: ``none`` (``[]`` or ``null``) without a module, else the one label."""
    if module is None:
        return none
    text = _labels.get(module)
    if text is None:
        if len(_labels) >= _CACHE_LIMIT:
            _labels.clear()
        text = _labels[module] = f"[{q(auth_label(module))}]"
    return text


def user_hits(rows: Iterable[UserHitRow], now: int) -> Raw:
    """A JSON array of ``UserSearchHitDTO`` (``dtos.user_search_hit``)."""
    parts = []
    for user_id, uid, name, login, email, is_admin, is_disabled, last_seen, module in rows:
        parts.append(
            f'{{"id":{user_id:d},"uid":{q(uid)},"name":{q(name)},"login":{q(login)},'
            f'"email":{q(email)},"avatarUrl":"{avatar(email)}",'
            f'"isAdmin":{_BOOL[bool(is_admin)]},"isDisabled":{_BOOL[bool(is_disabled)]},'
            f'"lastSeenAt":"{go_time(last_seen)}","lastSeenAtAge":"{age(last_seen, now)}",'
            f'"authLabels":{_labels_text(module, "[]")}}}'
        )
    return Raw(f"[{','.join(parts)}]")


def org_users(
    rows: Sequence[OrgUserRow],
    now: int,
    is_synced: Callable[[str], bool],
    access: dict[str, bool] | None,
) -> Raw:
    """A JSON array of ``OrgUserDTO`` (``routes.orgs.org_user_dto``); ``is_synced(module)`` is the
    request's provider settings, ``access`` the same ``accessControl`` map for every row (or None)."""
    access_text = f'"accessControl":{compact(GoMap(access))},' if access else ""
    synced: dict[str, str] = {}
    parts = []
    for (
        org_id,
        user_id,
        uid,
        email,
        name,
        login,
        role,
        last_seen,
        created,
        is_disabled,
        is_provisioned,
        module,
    ) in rows:
        if module is None:
            synced_text = "false"
        elif (synced_text := synced.get(module, "")) == "":
            synced_text = synced[module] = _BOOL[is_synced(module)]
        # Two f-strings: past 30 parts CPython builds one through a list and str.join, a third slower.
        head = (
            f'{{"orgId":{org_id:d},"userId":{user_id:d},"uid":{q(uid)},"email":{q(email)},'
            f'"name":{q(name)},"avatarUrl":"{avatar(email)}","login":{q(login)},'
        )
        parts.append(
            f'{head}"role":{q(role)},"lastSeenAt":"{go_time(last_seen)}",'
            f'"created":"{go_time(created)}","lastSeenAtAge":"{age(last_seen, now)}",'
            f"{access_text}"
            f'"isDisabled":{_BOOL[bool(is_disabled)]},"authLabels":{_labels_text(module, "null")},'
            f'"isExternallySynced":{synced_text},"isProvisioned":{_BOOL[bool(is_provisioned)]}}}'
        )
    return Raw(f"[{','.join(parts)}]")
