"""Turn what a user passes on the command line into models: a captured SAML message (found, decrypted,
parsed and, when a certificate is given, verified), ``--attr NAME=VALUE`` pairs, and the ``--orgs`` /
``--teams`` JSON lists. Every failure is an :class:`InputError` with a message and a hint, never a
traceback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gtool.saml import assertion, capture
from gtool.saml.assertion import Attribute, Response, SamlError
from gtool.saml.mapping import Org, Team

MAX_JSON_BYTES = 50 * 1024 * 1024


class InputError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class LoadedMessage:
    """A message ready to inspect or explain, and how it was read."""

    response: Response
    message: capture.Message
    source: str  # display name of the input
    count: int  # how many messages the input held
    index: int  # which one was used (0-based)


def _read_pem_files(paths: Sequence[str], what: str) -> list[bytes]:
    out = []
    for p in paths:
        try:
            out.append(Path(p).read_bytes())
        except OSError as exc:
            raise InputError(f"{what} {p}: {exc.strerror or exc}", "check the path") from None
    return out


def idp_certificates(idp_cert: Sequence[str], idp_metadata: Sequence[str]) -> list[bytes]:
    """PEM certificates to verify signatures with, from ``--idp-cert`` files and IdP metadata files."""
    certs = _read_pem_files(idp_cert, "--idp-cert")
    for raw in _read_pem_files(idp_metadata, "--idp-metadata"):
        try:
            found = assertion.certs_from_metadata(raw)
        except SamlError as exc:
            raise InputError(
                f"--idp-metadata: {exc.message}", exc.hint or "pass the IdP's SAML metadata XML"
            ) from None
        if not found:
            raise InputError(
                "--idp-metadata: the metadata holds no signing certificate",
                "download the metadata again from the IdP, or pass the certificate with --idp-cert",
            )
        certs.extend(found)
    return certs


def list_messages(source: str, stdin: BinaryIO | None = None) -> list[capture.Message]:
    try:
        data, name = capture.read_source(source, stdin)
        return capture.find_messages(data, name)
    except capture.CaptureError as exc:
        raise InputError(exc.message, exc.hint) from None


def load_message(
    source: str,
    *,
    index: int | None = None,
    idp_cert: Sequence[str] = (),
    idp_metadata: Sequence[str] = (),
    sp_key: str | None = None,
    allow_sha1: bool = False,
    stdin: BinaryIO | None = None,
) -> LoadedMessage:
    """Find, decrypt (with ``sp_key``), parse and verify (when certificates are given) one message."""
    try:
        data, name = capture.read_source(source, stdin)
        messages = capture.find_messages(data, name)
        chosen = capture.pick(messages, index)
    except capture.CaptureError as exc:
        raise InputError(exc.message, exc.hint) from None
    if chosen.parameter == "SAMLRequest":
        raise InputError(
            f"{chosen.origin}: this is the SAMLRequest Grafana sent, not the IdP's SAMLResponse",
            "use --list to see the messages and --index to pick the response",
        )
    xml = chosen.xml
    try:
        key = _read_pem_files([sp_key], "--sp-key")[0] if sp_key is not None else None
        certs = idp_certificates(idp_cert, idp_metadata)
        if certs:
            # The Response signature usually covers the *encrypted* assertion: verify first, then decrypt
            # the signed content (verify does both), never the other way round.
            response = assertion.verify(xml, certs, allow_sha1=allow_sha1, sp_key_pem=key, what=name)
        else:
            response = assertion.parse(assertion.decrypt(xml, key) if key else xml, what=name)
    except SamlError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise InputError(
            f"{name}{where}: {exc.message}", exc.hint or "check that this is a SAML Response"
        ) from None
    return LoadedMessage(response, chosen, name, len(messages), messages.index(chosen))


def parse_attr_pairs(pairs: Sequence[str]) -> tuple[Attribute, ...]:
    """``--attr NAME=VALUE`` (repeatable; the same NAME again adds a value), in the given order."""
    values: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(
                f"--attr {pair!r} is not NAME=VALUE", "e.g. --attr groups=admins --attr groups=ops"
            )
        values.setdefault(name.strip(), []).append(value)
    return tuple(Attribute(name, tuple(v)) for name, v in values.items())


def _load_json_list(path: str, what: str) -> list[Any]:
    try:
        p = Path(path)
        if p.stat().st_size > MAX_JSON_BYTES:
            raise InputError(f"{what} {path}: larger than 50 MiB", "pass a smaller export")
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{what} {path}: {exc.strerror or exc}", "check the path") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path}: not JSON ({exc})", f"{what} takes a JSON list") from None
    if isinstance(doc, dict):  # accept Grafana's search envelopes: {"orgs": [...]}, {"teams": [...]}
        for key in ("teams", "orgs", "items"):
            if isinstance(doc.get(key), list):
                doc = doc[key]
                break
    if not isinstance(doc, list):
        raise InputError(
            f"{what} {path}: expected a JSON list", f"see `gtool saml explain --help` for {what}"
        )
    return doc


def _int(item: dict[str, Any], key: str, where: str) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{where}: {key!r} must be an integer, got {value!r}", "fix the JSON")
    return value


def load_orgs(path: str) -> list[Org]:
    """``[{"id": 1, "name": "Main Org."}, …]`` (also the output of GET /api/orgs)."""
    orgs = []
    for i, item in enumerate(_load_json_list(path, "--orgs")):
        where = f"--orgs {path}: item {i}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(f'{where}: expected {{"id": 1, "name": "…"}}', "fix the JSON")
        orgs.append(Org(_int(item, "id", where), item["name"]))
    return orgs


def load_teams(path: str) -> list[Team]:
    """``[{"id", "name", "orgId", "externalGroups": [...]}, …]``."""
    teams = []
    for i, item in enumerate(_load_json_list(path, "--teams")):
        where = f"--teams {path}: item {i}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(f'{where}: expected {{"id", "name", "orgId", "externalGroups"}}', "fix the JSON")
        groups = item.get("externalGroups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise InputError(f"{where}: externalGroups must be a list of strings", "fix the JSON")
        org_id = _int(item, "orgId", where) if "orgId" in item else 1
        teams.append(Team(_int(item, "id", where), item["name"], org_id, tuple(groups)))
    return teams
