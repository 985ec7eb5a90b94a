"""What ``gtool saml inspect`` prints: a SAML message for a human (times relative to now, signature
status, every attribute with whitespace made visible) or as JSON for scripts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from gtool.saml.assertion import Assertion, SignatureInfo
from gtool.saml.inputs import LoadedMessage

_FORMS = {
    "xml": "raw XML",
    "base64": "base64",
    "form-body": "URL-encoded form body",
    "redirect-query": "HTTP-Redirect URL (deflate + base64)",
    "har": "HAR file",
    "saml-tracer": "SAML-tracer export",
}


def relative(when: dt.datetime | None, now: dt.datetime) -> str:
    if when is None:
        return "-"
    delta = (when - now).total_seconds()
    amount = abs(delta)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if amount >= size or size == 1:
            n = int(amount // size)
            text = f"{n} {unit}{'' if n == 1 else 's'}"
            break
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp} ({'in ' + text if delta > 0 else text + ' ago'})"


def _algorithm(uri: str | None) -> str:
    return uri.rsplit("#", 1)[-1] if uri else "unknown algorithm"


def signature_text(sig: SignatureInfo | None) -> str:
    if sig is None:
        return "not signed"
    what = f"signed ({_algorithm(sig.signature_method)}{', legacy SHA-1' if sig.sha1 else ''})"
    if sig.verified is None:
        return f"{what}, not verified (pass --idp-cert or --idp-metadata)"
    if sig.verified:
        return f"{what}, verified"
    return f"{what}, INVALID: {sig.problem or 'verification failed'}"


def _window(a: Assertion, now: dt.datetime) -> list[str]:
    c = a.conditions
    if c is None:
        return []
    state = ""
    if c.not_on_or_after is not None and c.not_on_or_after <= now:
        state = "  (expired)"
    elif c.not_before is not None and c.not_before > now:
        state = "  (not yet valid)"
    return [
        f"  Valid from   {relative(c.not_before, now)}",
        f"  Valid until  {relative(c.not_on_or_after, now)}{state}",
    ]


def visible(value: str) -> str:
    """A value with its edges visible: JSON quoting shows spaces inside the quotes and escapes newlines."""
    return json.dumps(value, ensure_ascii=False)


def to_text(loaded: LoadedMessage, now: dt.datetime, *, attributes: bool = True) -> str:
    """The inspect report; ``attributes=False`` leaves the attribute lists to the caller (the TUI's table)."""
    r = loaded.response
    m = loaded.message
    lines = [f"Read {_FORMS.get(m.form, m.form)}: {m.origin}"]
    if loaded.count > 1:
        lines[0] += f" (message {loaded.index + 1} of {loaded.count}; --list shows them all)"
    if m.deflated:
        lines.append("  (the message was deflated, as in the HTTP-Redirect binding)")
    if r.kind == "Response":
        status = r.status.code.rsplit(":", 1)[-1] if r.status and r.status.code else "-"
        if r.status and r.status.message:
            status += f" ({r.status.message})"
        lines += [
            "",
            f"Response {r.id or '-'}",
            f"  Issued       {relative(r.issue_instant, now)}",
            f"  Issuer       {r.issuer or '-'}",
            f"  Destination  {r.destination or '-'}",
            f"  InResponseTo {r.in_response_to or '- (IdP-initiated)'}",
            f"  Status       {status}",
            f"  Signature    {signature_text(r.signature)}",
        ]
    if r.encrypted_assertions:
        lines.append(
            f"  {r.encrypted_assertions} EncryptedAssertion(s) not decrypted: pass --sp-key SP_KEY.pem"
        )
    for a in r.assertions:
        lines += ["", f"Assertion {a.id or '-'}" + ("  (decrypted)" if r.decrypted else "")]
        fmt = a.name_id_format.rsplit(":", 1)[-1] if a.name_id_format else "unspecified"
        lines += [
            f"  Issued       {relative(a.issue_instant, now)}",
            f"  Issuer       {a.issuer or '-'}",
            f"  Subject      {a.name_id or '-'}  (NameID format: {fmt})",
        ]
        lines += _window(a, now)
        if a.conditions and a.conditions.audiences:
            lines.append(f"  Audience     {', '.join(a.conditions.audiences)}")
        for sc in a.subject_confirmations:
            if sc.recipient:
                lines.append(f"  Recipient    {sc.recipient}  (until {relative(sc.not_on_or_after, now)})")
        if a.session_index:
            lines.append(f"  Session      {a.session_index}")
        lines.append(f"  Signature    {signature_text(a.signature)}")
        if not attributes:
            continue
        lines += ["", f"Attributes ({len(a.attributes)})"]
        width = max((len(x.name) for x in a.attributes), default=4)
        for x in a.attributes:
            friendly = f" ({x.friendly_name})" if x.friendly_name and x.friendly_name != x.name else ""
            values = ", ".join(visible(v) for v in x.values) if x.values else "(no values)"
            lines.append(f"  {x.name:<{width}}{friendly}  {values}")
    if r.verified_only:
        lines += ["", "Only signature-verified content is shown."]
    for note in r.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_json(loaded: LoadedMessage) -> dict[str, Any]:
    r = loaded.response
    doc = {f.name: _plain(getattr(r, f.name)) for f in dataclasses.fields(r) if f.name != "assertions"}
    doc["status"] = _plain(dataclasses.asdict(r.status)) if r.status else None
    doc["signature"] = _plain(dataclasses.asdict(r.signature)) if r.signature else None
    doc["assertions"] = [_plain(dataclasses.asdict(a)) for a in r.assertions]
    return {
        "read": {
            "form": loaded.message.form,
            "origin": loaded.message.origin,
            "deflated": loaded.message.deflated,
            "index": loaded.index,
            "count": loaded.count,
        },
        "response": doc,
    }
