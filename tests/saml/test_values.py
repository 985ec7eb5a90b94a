"""Go value semantics: go-ini ``parseBool``, Go ``time.ParseDuration``, Grafana ``util.SplitString``
(saml-reference.md §2.1, §5.1)."""

from __future__ import annotations

import pytest

from gtool.saml.values import (
    DurationError,
    format_duration,
    parse_bool,
    parse_duration,
    split_string,
    split_string_legacy,
    top_role,
)

TRUE = ["1", "t", "T", "true", "TRUE", "True", "YES", "yes", "Yes", "y", "ON", "on", "On"]
FALSE = ["0", "f", "F", "false", "FALSE", "False", "NO", "no", "No", "n", "OFF", "off", "Off"]
# MustBool silently falls back to the default for every one of these.
NOT_BOOL = [
    "", "True ", " true", "yes!", "enable", "enabled", "Y", "N", "tRUE", "oN", "2", "-1", "+1", "1.0",
    "ok", "none", "null", '"true"', "'true'", "true;", "\u00a0true",
]  # fmt: skip


@pytest.mark.parametrize("text", TRUE)
def test_parse_bool_true(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", FALSE)
def test_parse_bool_false(text: str) -> None:
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", NOT_BOOL)
def test_parse_bool_near_misses_are_not_bools(text: str) -> None:
    assert parse_bool(text) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("0", 0),
        ("+0", 0),
        ("-0", 0),
        ("-5m", -300),
        ("+5m", 300),
        ("300ms", 0.3),
        ("1µs", 1e-6),  # U+00B5 micro sign
        ("1μs", 1e-6),  # U+03BC Greek mu
        ("1us", 1e-6),
        ("1000ns", 1e-6),
        (".5s", 0.5),
        ("1.s", 1),
        ("0s", 0),
        ("48h", 172800),
        ("1h1h", 7200),  # units may repeat
        ("1s1h", 3601),  # and come in any order
        ("2562047h", 2562047 * 3600),  # just under int64 nanoseconds
        ("1.0000000000000000000000001s", 1),  # fraction digits past int64 precision are ignored
    ],
)
def test_parse_duration_valid(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("7d", 'time: unknown unit "d" in duration "7d"'),
        ("90", 'time: missing unit in duration "90"'),
        ("1h30", 'time: missing unit in duration "1h30"'),
        ("", 'time: invalid duration ""'),
        ("2 days", 'time: unknown unit " days" in duration "2 days"'),
        ("90 s", 'time: unknown unit " s" in duration "90 s"'),
        (" 90s", 'time: invalid duration " 90s"'),
        ("h", 'time: invalid duration "h"'),
        (".s", 'time: invalid duration ".s"'),
        ("-.s", 'time: invalid duration "-.s"'),
        ("-", 'time: invalid duration "-"'),
        ("1..5s", 'time: missing unit in duration "1..5s"'),
        ("1H", 'time: unknown unit "H" in duration "1H"'),
        ("1e3s", 'time: unknown unit "e" in duration "1e3s"'),
        ("5m-3s", 'time: unknown unit "m-" in duration "5m-3s"'),
        ('90"', 'time: unknown unit "\\"" in duration "90\\""'),  # Go's quote() escapes " and \
        ("1µx", 'time: unknown unit "\\xc2\\xb5x" in duration "1\\xc2\\xb5x"'),  # and non-ASCII bytes
        ("2562048h", 'time: invalid duration "2562048h"'),  # past ~292 years
        ("99999999999999999999s", 'time: invalid duration "99999999999999999999s"'),
        (
            "99999999999999999999d",
            'time: invalid duration "99999999999999999999d"',
        ),  # overflow is found first
    ],
)
def test_parse_duration_invalid_with_gos_message(text: str, message: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90, "1m30s"), (45, "45s"), (172800, "48h"), (5400, "1h30m"), (0.5, "0.5s"), (0, "0s"), (3601, "1h1s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# util.SplitStringWithError (pkg/util/strings.go), §2.1.
@pytest.mark.parametrize(
    ("value", "items", "form"),
    [
        ("", [], "empty"),
        ("   ", [], "plain"),
        ("admin", ["admin"], "plain"),
        ("a, b,c", ["a", "b", "c"], "plain"),
        ("a b\tc\nd\re\vf\fg", ["a", "b", "c", "d", "e", "f", "g"], "plain"),
        (",,a,,", ["a"], "plain"),  # empty tokens never appear
        ('"Grafana Admins", ops', ["Grafana Admins", "ops"], "plain"),
        ('"a,b" c', ["a,b", "c"], "plain"),
        ("'Grafana Admins'", ["'Grafana", "Admins'"], "plain"),  # single quotes are not special
        ('"unmatched, x', ["unmatched", "x"], "plain"),  # a lone " is stripped from the token's ends
        ('a"b', ['a"b'], "plain"),
        ('""', [""], "plain"),  # "[^"]+" needs one character: "" is a plain run, trimmed to nothing
        ('"a"b', ["a", "b"], "plain"),
        ("C#-devs", ["C#-devs"], "plain"),
        ("a\u00a0b", ["a\u00a0b"], "plain"),  # NBSP is not a separator
        ('["Grafana Admins"]', ["Grafana Admins"], "json"),
        ('  ["a", "b"]  ', ["a", "b"], "json"),
        ('["a, b", " c "]', ["a, b", " c "], "json"),  # JSON items are used verbatim
        ("[]", [], "json"),
        ("[null]", [""], "json"),  # Go leaves a null element at its zero value
        ('["a", null]', ["a", ""], "json"),
        ('["\\u00e9\\\\:x"]', ["é\\:x"], "json"),
    ],
)
def test_split_string(value: str, items: list[str], form: str) -> None:
    result = split_string(value)
    assert (list(result.items), result.form, result.error) == (items, form, None)


@pytest.mark.parametrize(
    "value",
    [
        '["Org\\:1:2:Admin"]',  # \: is not a JSON escape: the whole list is lost
        '["a", "b",]',  # trailing comma
        "[a, b]",  # unquoted items
        "[1, 2]",  # numbers
        '["a", 1]',
        '["a", true]',
        '[["a"]]',
        '[{"a": "b"}]',
        '["a"] extra',
        '["a"',
        "[NaN]",
        " [",
    ],
)
def test_split_string_invalid_json_gives_no_items(value: str) -> None:
    result = split_string(value)
    assert result.items == ()
    assert result.form == "json"
    assert result.error is not None and result.error.startswith("incorrect format")


def test_split_string_json_branch_uses_go_trimspace() -> None:
    # Go's TrimSpace keeps \x1c: the value is not JSON but one plain token.
    assert split_string('\x1c["a"]').form == "plain"
    assert split_string('\u00a0["a"]').form == "json"


@pytest.mark.parametrize(
    ("value", "items"),
    [
        ('"Grafana Admins", ops', ['"Grafana', 'Admins"', "ops"]),  # no quoted-run support
        ("a,b  c", ["a", "b", "c"]),
        ("", []),
        (" , ", []),
        ('["Grafana Admins"]', ["Grafana Admins"]),  # same JSON branch
        ('["a",]', []),
        ("a\x1cb", ["a\x1cb"]),  # strings.Fields does not split on \x1c
        ("a\u3000b", ["a", "b"]),
    ],
)
def test_split_string_legacy(value: str, items: list[str]) -> None:
    assert list(split_string_legacy(value)) == items


@pytest.mark.parametrize(
    ("a", "b", "top"),
    [
        ("Viewer", "Editor", "Editor"),
        ("Admin", "Viewer", "Admin"),
        ("None", "Viewer", "Viewer"),
        ("Editor", "Editor", "Editor"),
        (None, "None", "None"),
        ("Viewer", None, "Viewer"),
        (None, None, None),
    ],
)
def test_top_role(a: str | None, b: str | None, top: str | None) -> None:
    assert top_role(a, b) == top
    assert top_role(b, a) == top
