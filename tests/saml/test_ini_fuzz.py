"""Property tests: the go-ini reader never raises and keeps its positions inside the file."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtool.saml import ini

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Heavy on the characters go-ini gives a meaning to, plus whitespace Go and Python disagree about.
_SYNTAX = st.sampled_from([*"[]\"'`#;\\=:-%()$ \t\r\n", '"""', "\r\n", "\u00a0", "\x1c", "\ufeff"])
_WORDS = st.sampled_from(["auth.saml", "enabled", "true", "a", "k", "DEFAULT", "é", "\u2028"])
_TEXT = st.lists(st.one_of(_SYNTAX, _WORDS, st.characters()), max_size=80).map("".join)

# Whole lines that look like ini, so the parser reaches deep states (multi-line values, continuations).
_LINE = st.one_of(
    st.builds(lambda n: f"[{n}]", _TEXT),
    st.builds(lambda k, d, v: f"{k}{d}{v}", _TEXT, st.sampled_from(["=", ":", " = "]), _TEXT),
    _TEXT,
)
_FILE = st.lists(_LINE, max_size=25).map("\n".join)


def _check(f: ini.IniFile) -> None:
    n = len(f.lines)
    for sec in f.sections.values():
        assert all(1 <= h <= n for h in sec.headers)
        for key in sec.occurrences:
            assert 1 <= key.line <= key.end_line <= n, key
            assert key.column >= 1 and key.value_column >= key.column
            if "\n" in key.value:
                assert key.quoting in ("triple", "backtick"), key
            assert "\n" not in key.name and "\n" not in sec.name
        # the last occurrence of a name is the one go-ini keeps
        assert sec.keys == {k.name: k for k in sec.occurrences}
    for error in f.errors:
        assert 1 <= error.line <= n and error.message


@FUZZ
@given(_TEXT)
def test_random_text_never_raises(text: str) -> None:
    _check(ini.parse_text(text))


@FUZZ
@given(_FILE)
def test_random_ini_like_files_never_raise(text: str) -> None:
    _check(ini.parse_text(text))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_are_text_or_a_read_error(data: bytes) -> None:
    try:
        text = ini.decode(data, "grafana.ini")
    except ini.IniReadError as e:
        assert e.message and e.hint
        return
    _check(ini.parse_text(text))


_NAME = st.builds(
    str.__add__, st.sampled_from("abcxyz"), st.text("abcdefghijklmnopqrstuvwxyz0123456789_.", max_size=20)
)
# Safe values: no comment characters, no quotes, no continuation, no leading/trailing whitespace.
_VALUE = st.text("AZaz09/._,:=@+*?!&()[]{}<>|~^- é", max_size=40).map(str.strip)


@FUZZ
@given(st.dictionaries(_NAME, _VALUE, max_size=10), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_simple_files_round_trip(pairs: dict[str, str], newline: str, bom: bool) -> None:
    text = newline.join(["[auth.saml]", *(f"{k} = {v}" for k, v in pairs.items())]) + newline
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    f = ini.parse_text(ini.decode(data, "grafana.ini"))
    assert f.errors == []
    sec = f.sections["auth.saml"]
    assert {k: key.value for k, key in sec.keys.items()} == pairs
    assert [key.line for key in sec.occurrences] == list(range(2, len(pairs) + 2))
