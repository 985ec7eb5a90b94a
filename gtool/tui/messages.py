"""Messages screens send each other (posting's convention: dataclass messages in one place)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class UserChanged(Message):
    """A write touched this user: screens showing them read them again (the row comes from a read-back)."""

    user_id: int


@dataclass
class ConnectionState(Message):
    """The server stopped or started answering (`error` says why it stopped)."""

    ok: bool
    error: str = ""
