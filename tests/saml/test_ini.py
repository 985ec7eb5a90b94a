"""The go-ini reader against go-ini v1.67 ``parser.go`` (saml-reference.md §2.2, §5.1).

Each row of ``ROWS`` is one go-ini quirk: ini text and what Grafana ends up with (section, key, value), or
the fatal error that stops Grafana at start-up.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gtool.saml import ini
from gtool.saml.values import split_string


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    section: str = "auth.saml"
    key: str = "k"
    value: str | None = None
    quoting: str | None = None
    error: str | None = None  # IniError.kind expected instead of a value
    line: int | None = None  # line of the key, or of the error
    end_line: int | None = None


def val(id: str, text: str, value: str, quoting: str | None = None, **kw: object) -> Row:
    """A row for a key in ``[auth.saml]``: the ini text is given without the section header."""
    return Row(id, "[auth.saml]\n" + text, value=value, quoting=quoting, **kw)  # type: ignore[arg-type]


def err(id: str, text: str, kind: str, line: int) -> Row:
    return Row(id, text, error=kind, line=line)


ROWS = [
    # Inline comments: cut at the first # or ; anywhere, with a space before it or not.
    val("hash-with-space", "k = a # note\n", "a", "none"),
    val("hash-without-space", "k = C#-devs\n", "C", "none"),
    val("semicolon-with-space", "k = a ; note\n", "a", "none"),
    val("semicolon-without-space", "k = a;b\n", "a", "none"),
    val("url-fragment-cut", "k = https://idp/#/saml\n", "https://idp/", "none"),
    val("only-a-comment", "k = # nothing\n", "", "none"),
    # Ordinary quotes do not protect: cut first, and the now-unbalanced quote is kept.
    val("double-quoted-hash", 'k = "a#b"\n', '"a', "none"),
    val("double-quoted-semicolon-spaces", 'k = "a ; b"\n', '"a', "none"),
    val("quotes-stripped-after-comment-cut", 'k = "a b" ; note\n', "a b", "double"),
    # hasSurroundedQuote: one pair, only when no other same quote is inside.
    val("double-quotes-stripped", 'k = "Grafana Admins"\n', "Grafana Admins", "double"),
    val("single-quotes-stripped", "k = 'Grafana Admins'\n", "Grafana Admins", "single"),
    val("mismatched-quotes-kept", "k = \"a'\n", "\"a'", "none"),
    val("inner-double-quote-kept", 'k = "a"b"\n', '"a"b"', "none"),
    val("inner-single-quote-kept", "k = 'it's'\n", "'it's'", "none"),
    val("two-quoted-items-kept", 'k = "a" "b"\n', '"a" "b"', "none"),
    val("one-pair-only-double-outside", "k = \"'a'\"\n", "'a'", "double"),
    val("one-pair-only-single-outside", "k = '\"a\"'\n", '"a"', "single"),
    val("empty-quotes", 'k = ""\n', "", "double"),
    val("lone-quote", 'k = "\n', '"', "none"),
    val("no-unescaping", 'k = a\\"b\n', 'a\\"b', "none"),
    # Triple quotes and backticks protect # and ; and may span lines, up to the LAST closing quote.
    val("triple-one-line", 'k = """#password;"""\n', "#password;", "triple", end_line=2),
    val("triple-text-after-close", 'k = """a""" b ; c\n', "a", "triple"),
    val("triple-last-close-on-line", 'k = """a"""b"""\n', 'a"""b', "triple"),
    val("triple-empty", 'k = """"""\n', "", "triple"),
    val(
        "triple-multi-line", 'k = """a # 1\n; b\nc"""\nx = 1\n', "a # 1\n; b\nc", "triple", line=2, end_line=4
    ),
    val("triple-multi-last-close", 'k = """a\nb""" c """ d\n', 'a\nb""" c ', "triple", end_line=3),
    val("three-quotes-at-eof-are-a-value", 'k = """', '"""', "none"),
    val("backtick-one-line", "k = `a;b#c`\n", "a;b#c", "backtick"),
    val("backtick-multi-line", "k = `a\n  b`\n", "a\n  b", "backtick", end_line=3),
    val("backtick-keeps-double-quotes", 'k = `"x"`\n', '"x"', "backtick"),
    # Continuation: a trailing backslash joins the next trimmed line; no comment cutting, no quote stripping.
    val("continuation", "k = a\\\n   b\n", "ab", "continuation", end_line=3),
    val("continuation-chain", "k = a \\\n b \\\n c\nx = 1\n", "a b c", "continuation", end_line=4),
    val("continuation-keeps-comment", "k = a ; b \\\n c\n", "a ; b c", "continuation"),
    val("continuation-keeps-quotes", 'k = "a\\\nb"\n', '"ab"', "continuation"),
    val("continuation-swallows-comment-line", "k = a\\\n# not a comment\nx = 1\n", "a# not a comment"),
    val("continuation-swallows-section", "k = a\\\n[server]\nx = 1\n", "a[server]", "continuation"),
    val("continuation-ended-by-blank-line", "k = a\\\n\nx = 1\n", "a", "continuation", end_line=2),
    val("continuation-at-eof", "k = a\\", "a", "continuation"),
    Row(
        "windows-path-eats-next-key",
        "[auth.saml]\ncertificate_path = C:\\certs\\\nprivate_key_path = C:\\certs\\sp.key\n",
        key="certificate_path",
        value="C:\\certsprivate_key_path = C:\\certs\\sp.key",
        quoting="continuation",
    ),
    # Delimiters: the first of = or : wins; the key name is trimmed and case-sensitive.
    val("colon-delimiter", "k: v\n", "v"),
    val("colon-before-equals", "k:b=c\n", "b=c"),
    val("equals-before-colon", "k=b:c\n", "b:c"),
    val("url-after-colon", "k: https://idp.example.com/metadata\n", "https://idp.example.com/metadata"),
    val("no-space-around-equals", "k=v\n", "v"),
    val("whitespace-value", "k =    \n", ""),
    val("tab-and-nbsp-trimmed", "k =\t v \u00a0\n", "v"),
    Row("quoted-key-double", '[auth.saml]\n"my key" = v\n', key="my key", value="v"),
    Row("quoted-key-keeps-delimiters", "[auth.saml]\n`a=b:c` = v\n", key="a=b:c", value="v"),
    Row("quoted-key-triple", '[auth.saml]\n"""k"k""" = v\n', key='k"k', value="v"),
    Row("auto-increment-key", "[auth.saml]\n- = a\n- = b\n", key="#2", value="b"),
    Row(
        "default-section-before-headers",
        "app_mode = production\n[auth.saml]\n",
        "DEFAULT",
        "app_mode",
        "production",
    ),
    Row("default-header-merges", "a = 1\n[DEFAULT]\nb = 2\n", "DEFAULT", "b", "2"),
    # Section names: text between [ and the LAST ], not trimmed, case-sensitive.
    Row("section-spaces-kept", "[ auth.saml ]\nk = v\n", " auth.saml ", value="v"),
    Row("section-trailing-space-kept", "[auth.saml ]\nk = v\n", "auth.saml ", value="v"),
    Row("section-case-kept", "[Auth.SAML]\nk = v\n", "Auth.SAML", value="v"),
    Row("section-comment-after-header", "[auth.saml] ; SAML\nk = v\n", "auth.saml", value="v"),
    Row(
        "section-bracket-in-comment", "[auth.saml] # see [docs]\nk = v\n", "auth.saml] # see [docs", value="v"
    ),
    Row("section-indented", "   [auth.saml]\n   k = v\n", "auth.saml", value="v"),
    # CRLF files: '\r' never reaches a section name or a single-line value.
    Row("crlf-section-and-value", "[auth.saml]\r\nk = v\r\n", value="v"),
    Row("crlf-quoted-value", '[auth.saml]\r\nk = "a b"\r\n', value="a b", quoting="double"),
    Row("crlf-comment-cut", "[auth.saml]\r\nk = v ; c\r\n", value="v"),
    Row("crlf-continuation", "[auth.saml]\r\nk = a\\\r\n  b\r\n", value="ab", quoting="continuation"),
    Row("crlf-key-name", "[auth.saml]\r\nk\t= v\r\n", value="v"),
    # ...but a multi-line value keeps the '\r' of its inner lines, as go-ini does (it reads up to '\n').
    Row("crlf-multi-line-keeps-cr", '[auth.saml]\r\nk = """a\r\nb"""\r\n', value="a\r\nb", quoting="triple"),
    # Fatal errors: Grafana exits with `failed to parse "<file>"`.
    err("unclosed-section", "[auth.saml\nk = v\n", "unclosed-section", 1),
    err("empty-section-name", "[]\nk = v\n", "empty-section-name", 1),
    err("no-delimiter", "[auth.saml]\nenabled\n", "no-delimiter", 2),
    err("quoted-key-no-delimiter", '[auth.saml]\n"k" v\n', "no-delimiter", 2),
    err("empty-key", "[auth.saml]\n= v\n", "empty-key", 2),
    err("empty-key-colon", "[auth.saml]\n : v\n", "empty-key", 2),
    err("unclosed-key-quote", '[auth.saml]\n"k = v\n', "unclosed-key-quote", 2),
    err("unterminated-triple", '[auth.saml]\nk = """abc\nx = 1\n', "unterminated-value", 2),
    err("unterminated-triple-no-newline", '[auth.saml]\nk = """abc\nx = 1', "unterminated-value", 2),
    err("three-quotes-then-newline", '[auth.saml]\nk = """\n', "unterminated-value", 2),
    err("unterminated-backtick", "[auth.saml]\nk = `abc\n", "unterminated-value", 2),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_go_ini_quirk(row: Row) -> None:
    f = ini.parse_text(row.text, "grafana.ini")
    if row.error is not None:
        assert [(e.kind, e.line) for e in f.errors][:1] == [(row.error, row.line)], f.errors
        assert all(e.message for e in f.errors)
        return
    assert f.errors == []
    key = f.get(row.section, row.key)
    assert key is not None, {s.name: list(s.keys) for s in f.sections.values()}
    assert key.value == row.value
    if row.quoting is not None:
        assert key.quoting == row.quoting
    if row.line is not None:
        assert key.line == row.line
    if row.end_line is not None:
        assert key.end_line == row.end_line


# saml-reference.md §2.2, reproduced exactly: go-ini's quote stripping, then util.SplitString.
TRAP_TABLE = [
    ('role_values_admin = "Grafana Admins"', "Grafana Admins", ["Grafana", "Admins"]),
    ('role_values_admin = "Grafana Admins", ops', '"Grafana Admins", ops', ["Grafana Admins", "ops"]),
    ('role_values_admin = ["Grafana Admins"]', '["Grafana Admins"]', ["Grafana Admins"]),
    (
        'allowed_organizations = ["org 1", "second org"]',
        '["org 1", "second org"]',
        ["org 1", "second org"],
    ),
]


@pytest.mark.parametrize(("line", "after_ini", "items"), TRAP_TABLE, ids=[r[0] for r in TRAP_TABLE])
def test_quote_stripping_trap_table(line: str, after_ini: str, items: list[str]) -> None:
    f = ini.parse_text(f"[auth.saml]\n{line}\n")
    (key,) = f.sections["auth.saml"].occurrences
    assert key.value == after_ini
    assert list(split_string(key.value).items) == items


def test_three_quotes_need_more_than_three_characters() -> None:
    # `len(line) > 3`: the newline counts, so `k = """` opens a value unless it is the very last byte.
    assert ini.parse_text('k = """').get("DEFAULT", "k") is not None
    assert [e.kind for e in ini.parse_text('k = """\n').errors] == ["unterminated-value"]


def test_unterminated_value_message_is_go_inis() -> None:
    (error,) = ini.parse_text('[auth.saml]\nk = """abc\nlast\n').errors
    assert error.message == "missing closing key quote from '\"\"\"abc' to ''"


def test_empty_key_with_multi_line_value_is_one_error() -> None:
    # go-ini reads the whole value before rejecting the empty name: its body is not parsed as keys.
    f = ini.parse_text('[auth.saml]\n= """a\nb = c"""\nx = 1\n')
    assert [(e.kind, e.line) for e in f.errors] == [("empty-key", 2)]
    assert list(f.sections["auth.saml"].keys) == ["x"]


def test_every_fatal_error_is_reported_not_only_the_first() -> None:
    f = ini.parse_text("[auth.saml\nenabled\n[auth.saml]\n= v\nk = v\n")
    assert [(e.kind, e.line) for e in f.errors] == [
        ("unclosed-section", 1),
        ("no-delimiter", 2),
        ("empty-key", 4),
    ]
    assert f.get("auth.saml", "k") is not None


def test_duplicate_key_last_wins_and_every_occurrence_is_kept() -> None:
    f = ini.parse_text("[auth.saml]\nenabled = true\nname = A\nenabled = false\n")
    sec = f.sections["auth.saml"]
    assert sec.keys["enabled"].value == "false"
    assert sec.keys["enabled"].line == 4
    assert [(k.name, k.line) for k in sec.occurrences] == [("enabled", 2), ("name", 3), ("enabled", 4)]


def test_duplicate_sections_merge() -> None:
    f = ini.parse_text("[auth.saml]\na = 1\nb = 1\n[server]\nx = 1\n[auth.saml]\nb = 2\n")
    sec = f.sections["auth.saml"]
    assert sec.headers == [1, 6]
    assert {k: v.value for k, v in sec.keys.items()} == {"a": "1", "b": "2"}


def test_sections_differing_in_spaces_or_case_are_distinct() -> None:
    f = ini.parse_text("[auth.saml]\na = 1\n[ auth.saml ]\na = 2\n[Auth.SAML]\na = 3\n")
    assert [f.get(s, "a").value for s in ("auth.saml", " auth.saml ", "Auth.SAML")] == ["1", "2", "3"]  # type: ignore[union-attr]


def test_keys_are_case_sensitive() -> None:
    f = ini.parse_text("[auth.saml]\nEnabled = true\nenabled = false\n")
    assert f.get("auth.saml", "Enabled").value == "true"  # type: ignore[union-attr]
    assert f.get("auth.saml", "enabled").value == "false"  # type: ignore[union-attr]


def test_auto_increment_counter_restarts_at_every_section_header() -> None:
    f = ini.parse_text("[s]\n- = a\n- = b\n[t]\n- = x\n[s]\n- = c\n")
    assert {k: v.value for k, v in f.sections["s"].keys.items()} == {"#1": "c", "#2": "b"}
    assert {k: v.value for k, v in f.sections["t"].keys.items()} == {"#1": "x"}


def test_positions() -> None:
    f = ini.parse_text("[auth.saml]\n\n  name   =   My SAML  ; label\n")
    key = f.get("auth.saml", "name")
    assert key is not None
    assert (key.line, key.column, key.value_column, key.end_line) == (3, 3, 14, 3)
    assert key.raw == "My SAML  ; label"
    assert key.comment == "; label"
    assert f.lines[key.line - 1][key.value_column - 1 :].startswith("My SAML")


def test_positions_of_a_colon_delimited_quoted_key() -> None:
    f = ini.parse_text('[auth.saml]\n\t"a b":"v"\n')
    key = f.get("auth.saml", "a b")
    assert key is not None
    assert (key.column, key.value_column, key.value) == (2, 8, "v")


def test_multi_line_raw_text_keeps_every_physical_line() -> None:
    f = ini.parse_text('[auth.saml]\nk = """a\nb"""\n')
    key = f.get("auth.saml", "k")
    assert key is not None
    assert key.raw == '"""a\nb"""'
    assert (key.line, key.end_line) == (2, 3)


def test_utf8_bom_is_skipped() -> None:
    f = ini.parse_text(ini.decode(b"\xef\xbb\xbf[auth.saml]\nenabled = true\n", "grafana.ini"))
    assert f.get("auth.saml", "enabled") is not None
    assert list(f.sections) == ["DEFAULT", "auth.saml"]


def test_file_lines_have_no_carriage_returns() -> None:
    f = ini.parse_text("[auth.saml]\r\nk = v\r\n")
    assert f.lines[:2] == ["[auth.saml]", "k = v"]


# Inline suppressions: `; gtool: ignore[CODE]` silences CODE on that line and the next one.
def test_suppressions_are_parsed() -> None:
    f = ini.parse_text(
        "[auth.saml]\n"
        "; gtool: ignore[INI-005]\n"
        "k = C#-devs\n"
        "x = 1 ; gtool: ignore[ini-004, TYPE-001]\n"
        "# gtool: ignore\n"
        "y = 2\n"
        "z = 3 ; gtool:ignore[]\n"
    )
    assert f.suppressions == {
        2: frozenset({"INI-005"}),
        4: frozenset({"INI-004", "TYPE-001"}),
        5: None,
        7: frozenset(),
    }
    assert f.is_suppressed("INI-005", 3)  # the comment line above
    assert not f.is_suppressed("INI-004", 3)
    assert f.is_suppressed("TYPE-001", 4)  # same line
    assert not f.is_suppressed("INI-005", 4)
    assert f.is_suppressed("ANY-999", 6)  # a bare ignore silences everything
    assert not f.is_suppressed("INI-004", 7)
    assert not f.is_suppressed("INI-005", 8)


def test_plain_text_mentioning_gtool_is_not_a_suppression() -> None:
    f = ini.parse_text("[auth.saml]\nname = gtool: ignore[INI-002]\n")
    assert f.suppressions == {}


# interpolate(): go-ini transformValue.
LOOKUP = {
    "DEFAULT": {"domain": "default.example", "only_default": "D", "self": "from-default"},
    "server": {"protocol": "https", "domain": "grafana.example", "port": "443", "self": "%(self)s!"},
    "auth": {"parent_key": "P"},
    "auth.saml": {"a": "%(b)s", "b": "%(c)s", "c": "z"},
}


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("server", "root_url", "%(protocol)s://%(domain)s:%(port)s/", "https://grafana.example:443/"),
        ("server", "x", "%(only_default)s", "D"),
        ("server", "self", "%(self)s!", "from-default!"),  # the key itself is looked up in DEFAULT
        ("auth.saml", "x", "%(self)s", "from-default"),
        ("auth.saml", "x", "%(a)s", "z"),  # references are followed, up to 99 times
        ("auth.saml", "x", "%(c)s-%(c)s", "z-z"),
        ("auth.saml", "x", "%(parent_key)s", "P"),  # go-ini GetKey looks in the parent section [auth]
        ("auth.saml", "x", "%(nope)s and %(c)s", "%(nope)s and %(c)s"),  # an unknown name stops it all
        ("auth.saml", "x", "%(c)s and %(nope)s", "z and %(nope)s"),
        ("auth.saml", "x", "100% (sure)", "100% (sure)"),
        ("auth.saml", "x", "%(c)d", "%(c)d"),
    ],
)
def test_interpolate(section: str, key: str, value: str, expected: str) -> None:
    assert ini.interpolate(section, key, value, LOOKUP) == expected


def test_interpolate_self_reference_without_default_is_left_alone() -> None:
    assert ini.interpolate("s", "k", "%(k)s", {"s": {"k": "%(k)s"}}) == "%(k)s"


# read_file: every unreadable input is an IniReadError with a message and a hint, never another exception.
def _read_error(path: Path | str, **kw: str) -> ini.IniReadError:
    with pytest.raises(ini.IniReadError) as info:
        ini.read_file(path, **kw)
    e = info.value
    assert e.message and e.hint
    return e


def test_read_missing_file(tmp_path: Path) -> None:
    e = _read_error(tmp_path / "nope.ini")
    assert "no such file" in e.message
    assert e.path == str(tmp_path / "nope.ini")


def test_read_error_uses_the_display_name(tmp_path: Path) -> None:
    e = _read_error(tmp_path / "nope.ini", display="grafana.ini")
    assert e.path == "grafana.ini"
    assert str(e).startswith("grafana.ini: ")


def test_read_directory(tmp_path: Path) -> None:
    assert "directory" in _read_error(tmp_path).message


def test_read_binary_file(tmp_path: Path) -> None:
    p = tmp_path / "grafana.db"
    p.write_bytes(b"SQLite format 3\x00\x10\x00")
    assert "NUL byte at offset 15" in _read_error(p).message


_TEXT = "[auth.saml]\nenabled = true\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_TEXT.encode("utf-16"), "UTF-16"),  # with the platform's BOM
        (b"\xff\xfe" + _TEXT.encode("utf-16-le"), "UTF-16"),
        (b"\xfe\xff" + _TEXT.encode("utf-16-be"), "UTF-16"),
        (_TEXT.encode("utf-16-le"), "NUL byte"),  # no BOM: seen as binary
    ],
    ids=["utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-16-no-bom"],
)
def test_read_utf16_file(tmp_path: Path, data: bytes, message: str) -> None:
    p = tmp_path / "grafana.ini"
    p.write_bytes(data)
    assert message in _read_error(p).message


def test_read_invalid_utf8_parses(tmp_path: Path) -> None:
    p = tmp_path / "grafana.ini"
    p.write_bytes(b"[auth.saml]\nname = caf\xe9\nenabled = true\n")
    f = ini.read_file(p)
    assert f.get("auth.saml", "name").value == "caf\ufffd"  # type: ignore[union-attr]
    assert f.get("auth.saml", "enabled").value == "true"  # type: ignore[union-attr]


def test_read_file_with_bom_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "grafana.ini"
    p.write_bytes(b"\xef\xbb\xbf[auth.saml]\r\nenabled = true\r\n")
    assert ini.read_file(p).get("auth.saml", "enabled").value == "true"  # type: ignore[union-attr]


def test_read_ten_megabyte_file_quickly(tmp_path: Path) -> None:
    p = tmp_path / "big.ini"
    block = "".join(f"key_{i} = value {i} ; comment\n" for i in range(49))
    chunks = []
    size = n = 0
    while size < 10 * 1024 * 1024:
        chunk = f"[section{n}]\n{block}"
        chunks.append(chunk)
        size += len(chunk)
        n += 1
    chunks.append("[auth.saml]\nenabled = true\n")
    p.write_text("".join(chunks))
    start = time.perf_counter()
    f = ini.read_file(p)
    elapsed = time.perf_counter() - start
    assert f.get("auth.saml", "enabled").value == "true"  # type: ignore[union-attr]
    assert len(f.sections) == n + 2
    assert elapsed < 6, f"10 MB took {elapsed:.2f} s"


def test_read_file_over_the_size_limit(tmp_path: Path) -> None:
    p = tmp_path / "huge.ini"
    with p.open("wb") as fh:  # sparse: no 16 MiB written to disk
        fh.truncate(ini.MAX_FILE_BYTES + 1)
    e = _read_error(p)
    assert "limit" in e.message


def test_read_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "grafana.ini"
    p.write_text("[auth.saml]\n")

    def deny(self: Path, *args: object, **kw: object) -> object:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", deny)
    assert "permission denied" in _read_error(p).message


def test_read_other_os_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "grafana.ini"
    p.write_text("[auth.saml]\n")

    def broken(self: Path, *args: object, **kw: object) -> object:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "open", broken)
    assert "Input/output error" in _read_error(p).message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_read_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    p = tmp_path / "fifo.ini"
    os.mkfifo(p)
    assert "regular file" in _read_error(p).message


def test_carriage_return_only_file_is_one_line() -> None:
    # go-ini reads up to '\n': an old-Mac file is a single section header, and its keys are lost.
    f = ini.parse_text("[auth.saml]\renabled = true\r")
    assert list(f.sections) == ["DEFAULT", "auth.saml"]
    assert f.sections["auth.saml"].keys == {}
