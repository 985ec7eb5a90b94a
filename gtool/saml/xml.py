"""The one hardened XML entry point for everything gtool reads from outside: IdP metadata, SAML
responses and assertions.

:func:`parse_xml` refuses what XML attacks need and turns every failure into :class:`XmlError`,
a message fit to show a user:

* any ``DOCTYPE`` (internal or external DTD): no entity can be declared, so no XXE (``file://``,
  ``http://`` entities) and no entity expansion bombs ("billion laughs");
* input over ``max_bytes`` (checked before the parser sees a byte) and trees deeper than ``max_depth``;
* the network: the parser never loads a DTD or anything else (``no_network``, ``load_dtd=False``).

Callers get an ``lxml`` element and read it with the namespace constants below, e.g.
``root.find(f"{{{MD}}}IDPSSODescriptor")`` or ``root.xpath("md:IDPSSODescriptor", namespaces=NSMAP)``.
Code that checks signatures must read only what the signature library returns as signed, never the
tree this function returns (signature wrapping).
"""

from __future__ import annotations

import re

from lxml import etree

__all__ = [
    "DS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MD",
    "NSMAP",
    "SAML",
    "SAMLP",
    "XmlError",
    "local_name",
    "parse_xml",
    "source_line",
]

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {"md": MD, "saml": SAML, "samlp": SAMLP, "ds": DS}

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 256
_LIBXML2_MAX_DEPTH = 256  # without huge_tree, libxml2 refuses deeper documents whatever max_depth says

_DOCTYPE_MESSAGE = "DOCTYPE declarations are not allowed (they enable entity attacks)"
_PROLOG_SKIP = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_DOCTYPE = re.compile(rb"\s*<!DOCTYPE", re.IGNORECASE)
_LXML_SUFFIX = re.compile(r"\s*\(<string>, line \d+\)$")


class XmlError(ValueError):
    """The input is not XML gtool accepts; ``str(err)`` is the user-facing message."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _parser(encoding: str | None) -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe and keep an error log.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=False,
        encoding=encoding,
    )


def _ascii_view(data: bytes) -> bytes:
    """The prolog as ASCII bytes, so a UTF-16 document cannot hide its DOCTYPE from the pre-check."""
    head = data[:4096]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(head) > 1 and 0 in head[:2]):
        codec = "utf-16-be" if head[:2] == b"\xfe\xff" or head[:1] == b"\x00" else "utf-16-le"
        return head.decode(codec, errors="replace").encode("ascii", errors="replace")
    return head


def _has_doctype(data: bytes) -> bool:
    """A DOCTYPE can only appear in the prolog: after the XML declaration, PIs and comments."""
    head = _ascii_view(data).removeprefix(b"\xef\xbb\xbf").lstrip(b"\x00")
    pos = 0
    while m := _PROLOG_SKIP.match(head, pos):
        if m.end() == pos:
            break
        pos = m.end()
    return _DOCTYPE.match(head, pos) is not None


def _depth(root: etree._Element) -> int:
    depth = deepest = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def _syntax_message(exc: etree.XMLSyntaxError, what: str, max_depth: int) -> str:
    text = _LXML_SUFFIX.sub("", str(exc.msg or exc))
    if "Excessive depth" in text:  # libxml2's own limit without huge_tree
        return f"{what} nests elements deeper than {min(max_depth, _LIBXML2_MAX_DEPTH)} levels"
    if "Document is empty" in text:
        return f"{what} is empty or not XML"
    return f"{what} is not well-formed XML: {text}"


def parse_xml(
    data: bytes | str, *, what: str = "XML", max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> etree._Element:
    """Parse untrusted XML and return its root element, or raise :class:`XmlError`.

    ``what`` names the input in messages ("IdP metadata", "SAML response"). A ``str`` is encoded as
    UTF-8 and its encoding declaration ignored; ``bytes`` are decoded as the document declares.
    """
    if isinstance(data, str):
        if len(data) > max_bytes:  # a character is at least one byte: no need to encode to refuse
            raise XmlError(_too_large(what, max_bytes))
        raw, encoding = data.encode("utf-8", errors="surrogatepass"), "utf-8"
    else:
        raw, encoding = bytes(data), None
    if len(raw) > max_bytes:
        raise XmlError(_too_large(what, max_bytes))
    if _has_doctype(raw):
        raise XmlError(f"{what}: {_DOCTYPE_MESSAGE}", line=1)
    try:
        root = etree.fromstring(raw, _parser(encoding))
    except etree.XMLSyntaxError as exc:
        raise XmlError(_syntax_message(exc, what, max_depth), line=exc.lineno) from None
    except (etree.LxmlError, ValueError, UnicodeError) as exc:
        raise XmlError(f"{what} is not XML: {exc}") from None
    if root is None:
        raise XmlError(f"{what} is empty or not XML")
    docinfo = root.getroottree().docinfo
    # Backstop for encodings the pre-check cannot read (UTF-32, EBCDIC): refuse after the fact.
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlError(f"{what}: {_DOCTYPE_MESSAGE}", line=1)
    if _depth(root) > max_depth:
        raise XmlError(f"{what} nests elements deeper than {max_depth} levels")
    return root


def _too_large(what: str, max_bytes: int) -> str:
    size = f"{max_bytes / (1024 * 1024):g} MiB" if max_bytes >= 1024 * 1024 else f"{max_bytes} bytes"
    return f"{what} is larger than {size}; refusing to parse it"


def source_line(element: etree._Element) -> int | None:
    """The element's line in the parsed text (lxml-stubs leave ``sourceline`` untyped)."""
    line = element.sourceline
    return line if isinstance(line, int) else None


def local_name(element: etree._Element) -> str:
    """The tag without its namespace (``EntityDescriptor`` for ``{…metadata}EntityDescriptor``)."""
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rpartition("}")[2]
