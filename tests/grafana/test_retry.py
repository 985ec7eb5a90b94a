"""Retries: reads retried with backoff and Retry-After, writes never resent once they may have landed."""

from __future__ import annotations

import logging
from email.utils import formatdate

import httpx
import pytest

from gtool.grafana.base import DisabledIs, GrafanaAdminIs, MemberWithRole, NotMember, UserAbsent, UserPresent
from gtool.grafana.errors import (
    AmbiguousWrite,
    ConnectError,
    GrafanaError,
    NetworkError,
    NotFound,
    RateLimited,
    RequestInfo,
    RequestTimeout,
    ResponseInfo,
    ServerError,
    TLSVerificationFailed,
)
from gtool.grafana.retry import RetryPolicy, Verdict, parse_retry_after
from tests.grafana import E7_OK, FakeGrafana, resp

NOW = 1_700_000_000.0
INFO = RequestInfo("GET", "https://g/api/x")


def status_error(status: int, retry_after: str | None = None) -> GrafanaError:
    headers = (("retry-after", retry_after),) if retry_after else ()
    return ServerError("x", request=INFO, response=ResponseInfo(status, headers=headers))


# --- Retry-After ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        (formatdate(NOW + 45, usegmt=True), 45.0),
        (formatdate(NOW - 45, usegmt=True), 0.0),
        ("soon", None),
        ("-3", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, want: float | None) -> None:
    assert parse_retry_after(value, NOW) == want


# --- the policy ----------------------------------------------------------------------------------------


def test_full_jitter_backoff_is_bounded_and_grows() -> None:
    top = RetryPolicy(random=lambda: 1.0, backoff_base=0.5, backoff_max=10)
    assert [top.backoff(a) for a in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert RetryPolicy(random=lambda: 0.0).backoff(5) == 0.0


TRANSIENT_BEFORE_SEND = [
    ConnectError("refused"),
    RequestTimeout("t", phase="connect"),
    RequestTimeout("t", phase="pool"),
]
MAYBE_SENT = [
    RequestTimeout("t", phase="read"),
    RequestTimeout("t", phase="write"),
    NetworkError("reset"),
    status_error(502),
    status_error(503),
    status_error(504),
]


@pytest.mark.parametrize("err", TRANSIENT_BEFORE_SEND + MAYBE_SENT + [status_error(429)], ids=repr)
def test_reads_retry_every_transient_failure(err: GrafanaError) -> None:
    assert RetryPolicy().decide("GET", 1, err).verdict is Verdict.RETRY


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("err", MAYBE_SENT, ids=repr)
def test_writes_that_may_have_landed_are_ambiguous(method: str, err: GrafanaError) -> None:
    assert RetryPolicy().decide(method, 1, err).verdict is Verdict.AMBIGUOUS


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("err", [*TRANSIENT_BEFORE_SEND, status_error(429)], ids=repr)
def test_writes_retry_only_what_was_not_handled(method: str, err: GrafanaError) -> None:
    assert RetryPolicy().decide(method, 1, err).verdict is Verdict.RETRY


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 501])
def test_definite_answers_are_not_retried(method: str, status: int) -> None:
    assert RetryPolicy().decide(method, 1, status_error(status)).verdict is Verdict.RAISE


def test_a_read_is_retried_on_500_grafana_answers_it_for_passing_trouble_too() -> None:
    decision = RetryPolicy(random=lambda: 1.0).decide("GET", 1, status_error(500))
    assert decision.verdict is Verdict.RETRY and decision.delay == 0.5
    assert RetryPolicy(max_attempts=3).decide("GET", 3, status_error(500)).verdict is Verdict.RAISE


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_write_is_never_resent_after_500_and_not_ambiguous_either(method: str) -> None:
    # Grafana answered: the caller gets the ServerError and reads the state back itself.
    assert RetryPolicy().decide(method, 1, status_error(500)).verdict is Verdict.RAISE


def test_read_retry_statuses_can_be_narrowed() -> None:
    strict = RetryPolicy(read_retry_statuses=frozenset())
    assert strict.decide("GET", 1, status_error(500)).verdict is Verdict.RAISE


def test_tls_failure_is_never_retried() -> None:
    assert RetryPolicy().decide("GET", 1, TLSVerificationFailed("bad cert")).verdict is Verdict.RAISE


def test_attempts_are_capped() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.decide("GET", 2, status_error(503)).verdict is Verdict.RETRY
    assert policy.decide("GET", 3, status_error(503)).verdict is Verdict.RAISE


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(retry_after_max=60, clock=lambda: NOW)
    assert policy.decide("GET", 1, status_error(503, "12")).delay == 12.0
    assert policy.decide("GET", 1, status_error(429, formatdate(NOW + 20, usegmt=True))).delay == 20.0
    too_long = policy.decide("GET", 1, status_error(429, "3600"))
    assert too_long.verdict is Verdict.RAISE and "exceeds" in too_long.reason


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# --- through the client ----------------------------------------------------------------------------------


def test_get_retried_on_503_with_retry_after_via_injected_sleep() -> None:
    sleeps: list[float] = []
    fake = FakeGrafana().on(
        "GET",
        "/api/users/lookup",
        resp(503, '{"message":"Service Unavailable"}', {"retry-after": "3"}),
        resp(200, {"id": 2, "login": "jane"}),
    )
    user = fake.client(sleep=sleeps.append).lookup_user("jane")
    assert user.id == 2
    assert sleeps == [3.0]
    assert fake.calls() == ["GET /api/users/lookup"] * 2


def test_get_gives_up_after_max_attempts_with_jittered_backoff() -> None:
    sleeps: list[float] = []
    fake = FakeGrafana().on("GET", "/api/users/2", resp(502, "<html>bad gateway</html>"))
    client = fake.client(sleep=sleeps.append, retry=RetryPolicy(max_attempts=4, random=lambda: 0.5))
    with pytest.raises(ServerError) as info:
        client.get_user(2)
    assert info.value.status_code == 502
    assert sleeps == [0.25, 0.5, 1.0]  # 0.5 × min(10, 0.5·2^(n-1))
    assert len(fake.requests) == 4


def test_get_retried_on_500_with_grafana_s_body_then_succeeds() -> None:
    sleeps: list[float] = []
    fake = FakeGrafana().on(
        "GET",
        "/api/users/lookup",
        resp(500, '{"message":"Internal Server Error","traceID":""}'),
        resp(500, '{"message":"Failed to get user","traceID":""}'),
        resp(200, {"id": 2, "login": "jane"}),
    )
    assert fake.client(sleep=sleeps.append).lookup_user("jane").id == 2
    assert fake.calls() == ["GET /api/users/lookup"] * 3 and sleeps == [0.25, 0.5]


def test_get_500_that_persists_is_raised_after_max_attempts() -> None:
    fake = FakeGrafana().on("GET", "/api/orgs/1", resp(500, '{"message":"database is locked"}'))
    with pytest.raises(ServerError) as info:
        fake.client(retry=RetryPolicy(max_attempts=3, random=lambda: 0.0)).get_org(1)
    assert info.value.status_code == 500 and info.value.message == "database is locked"
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("POST", "/api/orgs/1/users", lambda c: c.add_org_user(1, "jane", "Viewer")),
        ("PATCH", "/api/orgs/1/users/2", lambda c: c.update_org_user_role(1, 2, "Editor")),
        ("DELETE", "/api/orgs/1/users/2", lambda c: c.remove_org_user(1, 2)),
        ("POST", "/api/admin/users/2/disable", lambda c: c.disable_user(2)),
    ],
)
def test_write_500_is_sent_once_and_raised(method: str, path: str, action: object) -> None:
    sleeps: list[float] = []
    fake = FakeGrafana().on(method, path, resp(500, '{"message":"Failed to update user"}'), resp(200, E7_OK))
    with pytest.raises(ServerError) as info:
        action(fake.client(sleep=sleeps.append))  # type: ignore[operator]
    assert info.value.status_code == 500 and not isinstance(info.value, AmbiguousWrite)
    assert fake.calls() == [f"{method} {path}"] and sleeps == []


def test_read_back_after_a_write_rides_out_a_passing_500() -> None:
    fake = FakeGrafana().on(
        "GET",
        "/api/orgs/1/users/search",
        resp(500, '{"message":"Internal Server Error"}'),
        org_users("Editor"),
    )
    assert fake.client().verify(MemberWithRole(1, 2, "Editor", login="jane")) is True
    assert len(fake.requests) == 2


def test_async_client_follows_the_same_500_rules() -> None:
    import asyncio

    fake = FakeGrafana().on("GET", "/api/users/2", resp(500, ""), resp(200, {"id": 2, "login": "j"}))
    fake.on("PATCH", "/api/orgs/1/users/2", resp(500, '{"message":"x"}'))

    async def run() -> None:
        async with fake.aclient() as client:
            assert (await client.get_user(2)).login == "j"
            with pytest.raises(ServerError):
                await client.update_org_user_role(1, 2, "Editor")

    asyncio.run(run())
    assert fake.calls() == ["GET /api/users/2", "GET /api/users/2", "PATCH /api/orgs/1/users/2"]


def test_get_retried_after_dropped_connection() -> None:
    fake = FakeGrafana().on(
        "GET", "/api/users/2", httpx.RemoteProtocolError("closed"), resp(200, {"id": 2, "login": "j"})
    )
    assert fake.client().get_user(2).login == "j"
    assert len(fake.requests) == 2


def test_post_not_retried_on_503_and_is_ambiguous() -> None:
    sleeps: list[float] = []
    fake = FakeGrafana().on(
        "POST", "/api/orgs/1/users", resp(503, '{"message":"unavailable"}', {"retry-after": "1"})
    )
    with pytest.raises(AmbiguousWrite) as info:
        fake.client(sleep=sleeps.append).add_org_user(1, "jane", "viewer")
    err = info.value
    assert len(fake.requests) == 1 and sleeps == []
    assert isinstance(err.cause, ServerError) and err.cause.status_code == 503
    assert err.expectation == MemberWithRole(1, "jane", "Viewer", "jane")
    assert err.request is not None and err.request.method == "POST"
    assert "unknown" in str(err) and "read the state back" in str(err)


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("PATCH", "/api/orgs/1/users/2", lambda c: c.update_org_user_role(1, 2, "Editor")),
        ("DELETE", "/api/orgs/1/users/2", lambda c: c.remove_org_user(1, 2)),
        ("PUT", "/api/admin/users/2/permissions", lambda c: c.set_grafana_admin(2, True)),
        ("POST", "/api/admin/users/2/disable", lambda c: c.disable_user(2)),
    ],
)
def test_write_read_timeout_is_ambiguous(method: str, path: str, action: object) -> None:
    fake = FakeGrafana().on(method, path, httpx.ReadTimeout("timed out"))
    with pytest.raises(AmbiguousWrite) as info:
        action(fake.client())  # type: ignore[operator]
    assert isinstance(info.value.cause, RequestTimeout) and info.value.cause.phase == "read"
    assert len(fake.requests) == 1


def test_write_connection_drop_is_ambiguous() -> None:
    fake = FakeGrafana().on("DELETE", "/api/orgs/1/users/2", httpx.RemoteProtocolError("Server disconnected"))
    with pytest.raises(AmbiguousWrite) as info:
        fake.client().remove_org_user(1, 2)
    assert isinstance(info.value.cause, NetworkError)
    assert info.value.expectation == NotMember(1, 2)


def test_write_retried_when_never_sent() -> None:
    fake = FakeGrafana().on("POST", "/api/orgs/1/users", httpx.ConnectError("refused"), resp(200, E7_OK))
    assert fake.client().add_org_user(1, "jane", "Viewer").id == 2
    assert len(fake.requests) == 2


def test_write_retried_on_429_honouring_retry_after() -> None:
    sleeps: list[float] = []
    fake = FakeGrafana().on(
        "PATCH",
        "/api/orgs/1/users/2",
        resp(429, "", {"retry-after": "2"}),
        resp(200, {"message": "Organization user updated"}),
    )
    assert (
        fake.client(sleep=sleeps.append).update_org_user_role(1, 2, "Editor").message
        == "Organization user updated"
    )
    assert sleeps == [2.0]


def test_retry_after_beyond_cap_raises_at_once() -> None:
    sleeps: list[float] = []
    fake = FakeGrafana().on("GET", "/api/users/2", resp(429, "", {"retry-after": "3600"}))
    with pytest.raises(RateLimited) as info:
        fake.client(sleep=sleeps.append).get_user(2)
    assert info.value.retry_after == 3600.0 and sleeps == [] and len(fake.requests) == 1


def test_tls_failure_through_client_is_not_retried() -> None:
    exc = httpx.ConnectError(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
    )
    fake = FakeGrafana().on("GET", "/api/user", exc)
    with pytest.raises(TLSVerificationFailed) as info:
        fake.client().current_user()
    assert "--ca-bundle" in info.value.hint and len(fake.requests) == 1


def test_retries_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeGrafana().on("GET", "/api/users/2", resp(503, ""), resp(200, {"id": 2, "login": "j"}))
    with caplog.at_level(logging.INFO, logger="gtool.grafana"):
        fake.client().get_user(2)
    assert "retrying GET https://grafana.example.com/api/users/2" in caplog.text


# --- reading back after an ambiguous write -------------------------------------------------------------


def org_users(role: str | None) -> httpx.Response:
    rows = (
        [] if role is None else [{"orgId": 1, "userId": 2, "login": "jane", "email": "jane@x", "role": role}]
    )
    return resp(200, {"totalCount": len(rows), "orgUsers": rows, "page": 1, "perPage": 1000})


@pytest.mark.parametrize(("current", "applied"), [("Editor", True), ("Viewer", False), (None, False)])
def test_verify_role_change_after_ambiguous_patch(current: str | None, applied: bool) -> None:
    fake = FakeGrafana().on("PATCH", "/api/orgs/1/users/2", httpx.ReadTimeout("timed out"))
    fake.on("GET", "/api/orgs/1/users/search", org_users(current))
    client = fake.client()
    with pytest.raises(AmbiguousWrite) as info:
        client.update_org_user_role(1, 2, "Editor")
    assert client.verify(info.value.expectation) is applied


def test_verify_with_login_hint_is_one_small_search() -> None:
    fake = FakeGrafana().on("GET", "/api/orgs/1/users/search", org_users("Editor"))
    assert fake.client().verify(MemberWithRole(1, 2, "Editor", login="jane"))
    assert [r.url.params.get("query") for r in fake.requests] == ["jane"]


def test_verify_without_hint_scans_the_org() -> None:
    fake = FakeGrafana().on("GET", "/api/orgs/1/users/search", org_users("Editor"))
    assert fake.client().verify(NotMember(1, 99))
    assert [r.url.params.get("query") for r in fake.requests] == [None]


def test_verify_admin_disabled_and_presence() -> None:
    fake = FakeGrafana().on(
        "GET", "/api/users/2", resp(200, {"id": 2, "login": "j", "isGrafanaAdmin": True, "isDisabled": True})
    )
    fake.on("GET", "/api/users/3", resp(404, '{"message":"user not found"}'))
    fake.on("GET", "/api/users/lookup", resp(404, '{"message":"user not found"}'))
    client = fake.client()
    assert client.verify(GrafanaAdminIs(2, True)) and not client.verify(GrafanaAdminIs(2, False))
    assert client.verify(DisabledIs(2, True))
    assert client.verify(UserAbsent(3)) and not client.verify(UserAbsent(2))
    assert not client.verify(UserPresent("ghost"))
    with pytest.raises(TypeError):
        client.verify("not an expectation")
    with pytest.raises(NotFound):
        client.verify(DisabledIs(3, False))


def test_retry_after_unicode_digits_are_garbage() -> None:
    assert parse_retry_after("²", NOW) is None
