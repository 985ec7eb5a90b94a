"""A reader for Grafana's ini dialect: go-ini v1.67 with the default ``LoadOptions`` Grafana uses.

It follows go-ini's ``parser.go`` step by step (see docs/ini-dialect.md and saml-reference.md §5.1) and
keeps, for every key, the file, line, column and raw text, so that lint messages can point at them.
Where go-ini stops with a fatal error (Grafana then refuses to start), this reader records the error and
carries on with the next line, so one run reports every problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECTION = "DEFAULT"

# Go's unicode.IsSpace set; Python's str.strip() would also strip \x1c-\x1f, which Go keeps.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501

MAX_FILE_BYTES = 16 * 1024 * 1024

_SUPPRESSION = re.compile(r"[#;].*?\bgtool:\s*ignore(?:\[([A-Za-z0-9_,\s-]*)\])?")


class IniReadError(Exception):
    """The file cannot be read as text at all (missing, a directory, binary, too large, UTF-16)."""

    def __init__(self, path: str, message: str, hint: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class IniKey:
    """One ``key = value`` line as go-ini stores it (before ``%(x)s`` interpolation)."""

    path: str
    section: str
    name: str
    value: str
    raw: str  # the text after the delimiter, as written (all physical lines for multi-line values)
    line: int
    column: int
    value_column: int
    end_line: int
    quoting: str  # none | triple | backtick | double | single | continuation
    comment: str | None = None  # inline comment go-ini cut off the value


@dataclass(frozen=True)
class IniError:
    """A fatal go-ini error: Grafana exits with ``failed to parse "<file>"`` when it meets one."""

    path: str
    line: int
    column: int
    kind: str  # unclosed-section | empty-section-name | no-delimiter | empty-key | unclosed-key-quote |
    #            unterminated-value
    message: str  # go-ini's own wording


@dataclass
class IniSection:
    name: str
    headers: list[int] = field(default_factory=list)  # every header line; go-ini merges duplicates
    keys: dict[str, IniKey] = field(default_factory=dict)  # last occurrence wins, as in go-ini
    occurrences: list[IniKey] = field(default_factory=list)  # every key line in order, duplicates too


@dataclass
class IniFile:
    path: str
    sections: dict[str, IniSection]
    errors: list[IniError]
    lines: list[str]
    suppressions: dict[int, frozenset[str] | None]  # line -> codes (None = every code)

    def section(self, name: str) -> IniSection | None:
        return self.sections.get(name)

    def get(self, section: str, key: str) -> IniKey | None:
        sec = self.sections.get(section)
        return sec.keys.get(key) if sec else None

    def is_suppressed(self, code: str, line: int) -> bool:
        """``; gtool: ignore[CODE]`` on the line itself or on the line above suppresses ``CODE``."""
        for n in (line, line - 1):
            if n in self.suppressions:
                codes = self.suppressions[n]
                if codes is None or code in codes:
                    return True
        return False


_DELIMITERS = re.compile("[=:]")
_COMMENT = re.compile("[#;]")


def _index_any(text: str, chars: re.Pattern[str]) -> int:
    """Go ``strings.IndexAny``: the first of the characters, or -1."""
    m = chars.search(text)
    return m.start() if m else -1


def _has_surrounded_quote(text: str, quote: str) -> bool:
    # go-ini hasSurroundedQuote: first and last are the quote and no other same quote inside.
    return len(text) >= 2 and text[0] == quote and text[-1] == quote and text[1:].find(quote) == len(text) - 2


class _Parser:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        # go-ini reads up to and including each '\n'; a '\r' stays on the line until TrimSpace removes it.
        self.lines = text.split("\n")
        self.pos = 0
        self.file = IniFile(path, {DEFAULT_SECTION: IniSection(DEFAULT_SECTION)}, [], [], {})
        # The chunk after the last '\n' (often "") is go-ini's final read at EOF; it is kept so that the line
        # before it still ends in '\n': `k = """` as the last line then opens a multi-line value and fails.
        self.file.lines = [ln.rstrip("\r") for ln in self.lines]
        self.count = 1  # go-ini p.count: the `-` auto-increment counter, reset by every section header

    def _next(self) -> tuple[int, str] | None:
        if self.pos >= len(self.lines):
            return None
        self.pos += 1
        is_last = self.pos == len(self.lines)
        return self.pos, self.lines[self.pos - 1] + ("" if is_last else "\n")

    def _error(self, line: int, column: int, kind: str, message: str) -> None:
        self.file.errors.append(IniError(self.path, line, column, kind, message))

    def parse(self) -> IniFile:
        section = self.file.sections[DEFAULT_SECTION]
        while (item := self._next()) is not None:
            lineno, raw = item
            self._note_suppression(lineno, raw)
            line = raw.lstrip(GO_SPACE)
            indent = len(raw) - len(line)
            if not line:
                continue
            if line[0] in "#;":
                continue
            if line[0] == "[":
                close = line.rfind("]")
                if close == -1:
                    self._error(lineno, indent + 1, "unclosed-section", f"unclosed section: {line.rstrip()}")
                    continue
                name = line[1:close]
                if not name:
                    self._error(lineno, indent + 1, "empty-section-name", "empty section name")
                    continue
                section = self.file.sections.setdefault(name, IniSection(name))
                section.headers.append(lineno)
                self.count = 1
                continue
            self._read_key(section, lineno, indent, line)
        return self.file

    def _note_suppression(self, lineno: int, raw: str) -> None:
        m = _SUPPRESSION.search(raw) if "gtool" in raw else None
        if not m:
            return
        codes = m.group(1)
        if codes is None:
            self.file.suppressions[lineno] = None
        else:
            self.file.suppressions[lineno] = frozenset(
                c.strip().upper() for c in codes.split(",") if c.strip()
            )

    def _read_key(self, section: IniSection, lineno: int, indent: int, line: str) -> None:
        # readKeyName
        quote = ""
        if line[0] == '"':
            quote = '"""' if len(line) > 6 and line.startswith('"""') else '"'
        elif line[0] == "`":
            quote = "`"
        if quote:
            start = len(quote)
            pos = line.find(quote, start)
            if pos == -1:
                self._error(
                    lineno, indent + 1, "unclosed-key-quote", f"missing closing key quote: {line.rstrip()}"
                )
                return
            rest = line[pos + start :]
            i = _index_any(rest, _DELIMITERS)
            if i < 0:
                self._error(
                    lineno, indent + 1, "no-delimiter", f"key-value delimiter not found: {line.rstrip()}"
                )
                return
            name = line[start:pos].strip(GO_SPACE)
            offset = pos + i + start + 1
        else:
            i = _index_any(line, _DELIMITERS)
            if i < 0:
                self._error(
                    lineno, indent + 1, "no-delimiter", f"key-value delimiter not found: {line.rstrip()}"
                )
                return
            name = line[:i].strip(GO_SPACE)
            offset = i + 1
        if name == "-":  # go-ini auto-increment keys
            name = f"#{self.count}"
            self.count += 1
        # go-ini reads the value (and any lines it spans) before NewKey rejects an empty name.
        key = self._read_value(section.name, name, lineno, indent, line, offset)
        if key is None:
            return
        if not name:
            self._error(lineno, indent + 1, "empty-key", "error creating new key: empty key name")
            return
        section.keys[name] = key
        section.occurrences.append(key)

    def _read_value(
        self, section: str, name: str, lineno: int, indent: int, line: str, offset: int
    ) -> IniKey | None:
        after = line[offset:]
        body = after.lstrip(GO_SPACE)
        value_column = indent + offset + (len(after) - len(body)) + 1

        def make(value: str, raw: str, end: int, quoting: str, comment: str | None = None) -> IniKey:
            return IniKey(
                self.path, section, name, value, raw, lineno, indent + 1, value_column, end, quoting, comment
            )

        if not body:
            return make("", "", lineno, "none")
        quote = ""
        if len(body) > 3 and body.startswith('"""'):
            quote = '"""'
        elif body[0] == "`":
            quote = "`"
        if quote:
            start = len(quote)
            pos = body.rfind(quote, start)
            if pos != -1:
                return make(
                    body[start:pos], body.rstrip("\r\n"), lineno, "triple" if start == 3 else "backtick"
                )
            value = body[start:]
            raw = body
            while True:
                nxt = self._next()
                if nxt is None:
                    self._error(
                        lineno,
                        value_column,
                        "unterminated-value",
                        f"missing closing key quote from '{body.rstrip()}' to ''",
                    )
                    return None
                n, text = nxt
                raw += text
                pos = text.rfind(quote)
                if pos > -1:
                    value += text[:pos]
                    return make(value, raw.rstrip("\r\n"), n, "triple" if start == 3 else "backtick")
                value += text
                if n == len(self.lines):
                    self._error(
                        lineno,
                        value_column,
                        "unterminated-value",
                        f"missing closing key quote from '{body.rstrip()}' to '{text.rstrip()}'",
                    )
                    return None

        trimmed = body.strip(GO_SPACE)
        if trimmed.endswith("\\"):
            # readContinuationLines: no comment cutting and no quote stripping on this path.
            value = trimmed[:-1]
            raw = trimmed
            end = lineno
            while True:
                nxt = self._next()
                if nxt is None:
                    break
                n, text = nxt
                following = text.strip(GO_SPACE)
                if not following:
                    break
                end = n
                raw += "\n" + following
                value += following
                if not value.endswith("\\"):
                    break
                value = value[:-1]
            return make(value, raw, end, "continuation")

        comment = None
        cut = _index_any(trimmed, _COMMENT)
        value = trimmed
        if cut > -1:
            comment = trimmed[cut:]
            value = trimmed[:cut].strip(GO_SPACE)
        quoting = "none"
        if _has_surrounded_quote(value, "'"):
            value, quoting = value[1:-1], "single"
        elif _has_surrounded_quote(value, '"'):
            value, quoting = value[1:-1], "double"
        return make(value, trimmed, lineno, quoting, comment)


def parse_text(text: str, path: str = "<string>") -> IniFile:
    """Parse ini text already decoded."""
    return _Parser(path, text).parse()


def decode(data: bytes, path: str) -> str:
    """Bytes to text as go-ini sees them, or :class:`IniReadError` for content Grafana cannot use."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IniReadError(
            path,
            "the file is UTF-16 encoded; Grafana reads ini files as UTF-8 bytes and would fail to parse it",
            "save the file as UTF-8",
        )
    nul = data.find(b"\x00")
    if nul != -1:
        raise IniReadError(
            path,
            f"not a text file (NUL byte at offset {nul})",
            "pass a grafana.ini file; binary files cannot be Grafana configuration",
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # go-ini works on bytes; invalid UTF-8 is kept as U+FFFD so messages can still be printed.
    return data.decode("utf-8", errors="replace")


def read_file(path: str | Path, display: str | None = None) -> IniFile:
    """Read and parse a file; :class:`IniReadError` says, without a traceback, why it cannot be read."""
    p = Path(path)
    shown = display if display is not None else str(path)
    try:
        if p.is_dir():
            raise IniReadError(shown, "is a directory", "pass a grafana.ini file, or a directory to lint")
        if not p.exists():
            raise IniReadError(shown, "no such file", "check the path")
        if not p.is_file():
            raise IniReadError(shown, "not a regular file", "pass a grafana.ini file")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IniReadError(
                shown,
                f"file is {size // (1024 * 1024)} MiB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                "a grafana.ini is a few kilobytes: check that this is the right file",
            )
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except PermissionError:
        raise IniReadError(shown, "permission denied", "make the file readable by this user") from None
    except IniReadError:
        raise
    except OSError as exc:
        raise IniReadError(shown, exc.strerror or str(exc), "check the path") from None
    return parse_text(decode(data, shown), shown)


_INTERPOLATION = re.compile(r"%\(([^)]+)\)s")


def _get_key(lookup: dict[str, dict[str, str]], section: str, name: str) -> str | None:
    # go-ini Section.GetKey: a key missing from `a.b` is looked up in parent sections (`a`) before failing.
    while True:
        found = lookup.get(section or DEFAULT_SECTION, {}).get(name)
        if found is not None or "." not in section:
            return found
        section = section.rpartition(".")[0]


def interpolate(section: str, key: str, value: str, lookup: dict[str, dict[str, str]]) -> str:
    """go-ini ``transformValue``: replace ``%(name)s`` from the same section (not the key itself) or its
    parent sections (``auth`` for ``auth.saml``), else from DEFAULT, up to 99 times; an unknown name stops
    the replacing and leaves the rest as written.

    ``lookup`` maps section -> key -> value (the effective values after layering).
    """
    if "%" not in value:
        return value
    for _ in range(99):
        m = _INTERPOLATION.search(value)
        if not m:
            break
        name = m.group(1)
        found = _get_key(lookup, section, name) if name != key else None
        if found is None:
            found = lookup.get(DEFAULT_SECTION, {}).get(name)
            if found is None:
                break
        value = value.replace(m.group(0), found)
    return value
