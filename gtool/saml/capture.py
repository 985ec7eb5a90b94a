"""Find SAML messages in whatever a person captured: raw XML, base64 (with or without line breaks), a
URL-encoded form body (``SAMLResponse=…&RelayState=…``), an HTTP-Redirect URL or query (deflate +
base64), a HAR file exported from browser devtools, or a SAML-tracer export.

Decoding only: the XML itself is parsed later by :mod:`gtool.saml.xml` with its safety limits. Every
decoding step has a size cap so a crafted input (a deflate bomb, a huge HAR) fails fast with a clear error.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlsplit

MAX_INPUT_BYTES = 100 * 1024 * 1024  # a HAR with page bodies can be large; XML itself is capped lower
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
# Base64 of the largest message, with room for line breaks and URL-encoding; longer text is refused
# before any decoding (Go's ParseForm, which Grafana uses, reads at most 10 MB of form body anyway).
MAX_VALUE_CHARS = 2 * MAX_MESSAGE_BYTES

PARAMS = ("SAMLResponse", "SAMLRequest")
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class CaptureError(Exception):
    """The input holds no readable SAML message; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Message:
    """One SAML message found in the input."""

    parameter: str  # SAMLResponse | SAMLRequest | xml (no parameter name was involved)
    xml: bytes
    form: str  # xml | base64 | form-body | redirect-query | har | saml-tracer
    origin: str  # where in the input it was found, for --list and messages
    deflated: bool = False
    relay_state: str | None = None


def read_source(source: str, stdin: BinaryIO | None = None) -> tuple[bytes, str]:
    """The bytes of a file, or of standard input for ``-``, with a size cap; returns (data, display name)."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read(MAX_INPUT_BYTES + 1)
        name = "<stdin>"
    else:
        p = Path(source)
        if p.is_dir():
            raise CaptureError(
                f"{source}: is a directory", "pass a file holding a SAML message, or - for stdin"
            )
        try:
            with p.open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
        except FileNotFoundError:
            raise CaptureError(f"{source}: no such file", "check the path") from None
        except OSError as exc:
            raise CaptureError(f"{source}: {exc.strerror or exc}", "check the path and permissions") from None
        name = source
    if len(data) > MAX_INPUT_BYTES:
        raise CaptureError(
            f"{name}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB",
            "export only the SAML requests (SAML-tracer: 'Show protocol requests only')",
        )
    return data, name


def _b64decode(text: str) -> bytes | None:
    """Standard or URL-safe base64, line breaks and missing padding tolerated; None if it is not base64."""
    compact = re.sub(r"\s+", "", text)
    if not compact or not re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", compact):
        return None
    compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _inflate(data: bytes) -> bytes | None:
    """Raw DEFLATE (HTTP-Redirect binding, RFC 1951), capped against decompression bombs."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, MAX_MESSAGE_BYTES + 1)
    except zlib.error:
        return None
    if len(out) > MAX_MESSAGE_BYTES:
        raise CaptureError(
            f"the deflated message expands beyond {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB",
            "this is not a SAML message a browser would send",
        )
    return out


def _looks_like_xml(data: bytes) -> bool:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 (Windows tools save XML so); the parser reads it
        codec = "utf-16-le" if data[:1] == b"\xff" else "utf-16-be"
        return data[2:400].decode(codec, "ignore").lstrip()[:1] == "<"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return head == b"<"


def _too_long(text: str, what: str) -> CaptureError:
    return CaptureError(
        f"{what} is {len(text) / (1024 * 1024):.0f} MiB long: too large for a SAML message "
        f"(at most {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB of XML)",
        "this is not a SAML message a browser would send; check what was captured",
    )


def _check_length(text: str, what: str) -> None:
    if len(text) > MAX_VALUE_CHARS:
        raise _too_long(text, what)


def decode_value(value: str) -> tuple[bytes, bool] | None:
    """A SAMLResponse/SAMLRequest parameter value to XML bytes: base64, or base64 of raw DEFLATE.

    ``None`` when it is neither; :class:`CaptureError` when it is too long to be a SAML message.
    """
    _check_length(value, "the value")
    # Base64 never holds a space: in a one-line value pasted without URL-encoding, form decoding turned
    # '+' into ' '. Try that reading first; in wrapped base64, spaces are layout (indentation).
    compact = value.strip()
    if " " in compact and not any(c in compact for c in "\r\n\t"):
        decoded = _decode_value(compact.replace(" ", "+"))
        if decoded is not None:
            return decoded
    return _decode_value(value)


def _decode_value(value: str) -> tuple[bytes, bool] | None:
    raw = _b64decode(value)
    if raw is None:
        return None
    if _looks_like_xml(raw):
        return raw, False
    inflated = _inflate(raw)
    if inflated is not None and _looks_like_xml(inflated):
        return inflated, True
    return None


def _from_params(pairs: list[tuple[str, str]], form: str, origin: str) -> list[Message]:
    relay = next((v for k, v in pairs if k == "RelayState"), None)
    out = []
    for name, value in pairs:
        if name in PARAMS:
            _check_length(value, f"{origin}: the {name} parameter")
            decoded = decode_value(value)
            if decoded is None:
                raise CaptureError(
                    f"{origin}: the {name} parameter is not base64 of a SAML message",
                    "copy the whole parameter value; URL-decode it only once",
                )
            xml, deflated = decoded
            out.append(Message(name, xml, form, origin, deflated, relay))
    return out


def _query_pairs(url: str) -> list[tuple[str, str]]:
    try:
        query = urlsplit(url).query
    except ValueError:  # "Invalid IPv6 URL": an unbalanced [ in the host part, not a URL a browser sent
        return []
    return parse_qsl(query, keep_blank_values=True)


def _from_query_or_body(text: str, origin: str) -> list[Message]:
    stripped = text.strip()
    _check_length(stripped, f"{origin}: the form body or URL")
    # A URL starts with a scheme; "://" alone also occurs in an unencoded RelayState of a form body.
    if _URL_START.match(stripped) or stripped.startswith(("/", "?")):
        return _from_params(_query_pairs(stripped), "redirect-query", origin)
    return _from_params(parse_qsl(stripped, keep_blank_values=True), "form-body", origin)


def _har_messages(doc: dict[str, Any], name: str) -> list[Message]:
    out: list[Message] = []
    skipped: list[CaptureError] = []
    entries = doc.get("log", {}).get("entries", [])
    if not isinstance(entries, list):
        raise CaptureError(f"{name}: log.entries is not a list", "export the HAR again from the browser")
    for i, entry in enumerate(entries):
        req = entry.get("request", {}) if isinstance(entry, dict) else {}
        if not isinstance(req, dict):
            continue
        method, url = str(req.get("method", "")), str(req.get("url", ""))
        origin = f"HAR entry {i}: {method} {url[:120]}"
        pairs = [
            (str(q.get("name")), str(q.get("value", "")))
            for q in _list(req.get("queryString"))
            if isinstance(q, dict)
        ]
        if not pairs and "?" in url:
            pairs = _query_pairs(url)
        post = req.get("postData") or {}
        if isinstance(post, dict):
            params = post.get("params")
            if isinstance(params, list) and params:
                pairs += [
                    (str(p.get("name")), str(p.get("value", ""))) for p in params if isinstance(p, dict)
                ]
            elif isinstance(post.get("text"), str) and "SAML" in post["text"]:
                if len(post["text"]) > MAX_VALUE_CHARS:
                    skipped.append(_too_long(post["text"], f"{origin}: the POST body"))
                    continue
                pairs += parse_qsl(post["text"], keep_blank_values=True)
        # HAR params are sometimes still URL-encoded (Chrome leaves form values encoded).
        pairs = [(k, _unquote_if_needed(v)) for k, v in pairs]
        try:
            out += _from_params(pairs, "har", origin)
        except CaptureError as exc:
            skipped.append(exc)  # one unreadable entry must not hide the readable ones
    if not out and skipped:
        raise skipped[0]
    return out


def _list(value: object) -> list[Any]:
    """A JSON value that should be a list; anything else (a hand-edited export) reads as empty."""
    return value if isinstance(value, list) else []


def _unquote_if_needed(value: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(value) if "%" in value and len(value) <= MAX_VALUE_CHARS else value


def _tracer_messages(doc: dict[str, Any], name: str) -> list[Message]:
    out: list[Message] = []
    skipped: list[CaptureError] = []
    requests = doc.get("requests")
    if not isinstance(requests, list):
        raise CaptureError(f"{name}: 'requests' is not a list", "export the trace again from SAML-tracer")
    for i, req in enumerate(requests):
        if not isinstance(req, dict):
            continue
        method, url = str(req.get("method", "")), str(req.get("url", ""))
        origin = f"SAML-tracer request {i}: {method} {url[:120]}"
        pairs: list[tuple[str, str]] = []
        for item in _list(req.get("post")):
            if isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((str(item[0]), str(item[1])))
        if "?" in url:
            pairs += _query_pairs(url)
        try:
            found = _from_params(pairs, "saml-tracer", origin)
        except CaptureError as exc:
            skipped.append(exc)
            found = []
        saml = req.get("saml")
        if not found and isinstance(saml, str) and saml.strip().startswith("<"):
            # The tracer stores the decoded message too; used when parameters were obfuscated on export.
            parameter = "SAMLResponse" if "Response" in saml[:300] else "SAMLRequest"
            found = [Message(parameter, saml.encode("utf-8"), "saml-tracer", origin)]
        out += found
    if not out and skipped:
        raise skipped[0]
    return out


def find_messages(data: bytes, name: str = "<input>") -> list[Message]:
    """Every SAML message in the input, in order; :class:`CaptureError` when there is none."""
    if _looks_like_xml(data):
        return [Message("xml", data, "xml", name)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaptureError(
            f"{name}: not text (not UTF-8) and not XML",
            "pass the XML, the base64 SAMLResponse, a HAR or a SAML-tracer export",
        ) from None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except RecursionError:
            raise CaptureError(
                f"{name}: the JSON nests too deeply to be a HAR file or a SAML-tracer export",
                "export the file again",
            ) from None
        except ValueError as exc:
            raise CaptureError(
                f"{name}: looks like JSON but is not valid: {exc}", "export the file again"
            ) from None
        if isinstance(doc, dict) and isinstance(doc.get("log"), dict):
            found = _har_messages(doc, name)
            kind = "HAR file"
        elif isinstance(doc, dict) and "requests" in doc:
            found = _tracer_messages(doc, name)
            kind = "SAML-tracer export"
        else:
            raise CaptureError(
                f"{name}: JSON, but neither a HAR file nor a SAML-tracer export",
                "export the browser session as HAR, or the SAML-tracer trace with its Export button",
            )
        if not found:
            raise CaptureError(
                f"{name}: the {kind} holds no SAMLResponse or SAMLRequest",
                "record the login again with the capture running from before you click 'Sign in with SAML'",
            )
        return found
    if any(f"{p}=" in stripped for p in PARAMS):
        found = _from_query_or_body(stripped, name)
        if found:
            return found
        raise CaptureError(
            f"{name}: mentions SAMLResponse/SAMLRequest but holds no such parameter",
            "pass the whole form body (SAMLResponse=…&RelayState=…) or the whole redirect URL",
        )
    _check_length(stripped, f"{name}: the text")
    decoded = decode_value(stripped)
    if decoded is not None:
        xml, deflated = decoded
        return [Message("xml", xml, "base64", name, deflated)]
    raise CaptureError(
        f"{name}: no SAML message found",
        "pass the XML, the base64 SAMLResponse value, a form body (SAMLResponse=…), a redirect URL, "
        "a HAR file or a SAML-tracer export",
    )


def pick(messages: list[Message], index: int | None) -> Message:
    """The message to use: ``--index N`` (0-based), else the last SAMLResponse (what the IdP answered)."""
    if index is not None:
        if not 0 <= index < len(messages):
            raise CaptureError(
                f"--index {index} is out of range: the input holds {len(messages)} message(s)",
                "use --list to see them",
            )
        return messages[index]
    responses = [m for m in messages if m.parameter in ("SAMLResponse", "xml")]
    return responses[-1] if responses else messages[-1]
