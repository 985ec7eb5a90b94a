"""A finding as users and scripts see it: an immutable record (the JSON contract of ``--format json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    column: int
    code: str
    slug: str
    severity: str  # error | warning | info
    section: str | None
    key: str | None
    message: str
    hint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "slug": self.slug,
            "severity": self.severity,
            "line": self.line,
            "column": self.column,
            "section": self.section,
            "key": self.key,
            "message": self.message,
            "hint": self.hint,
        }
