"""What every channel adapter offers, and the two failures the retry schedule tells apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class TemporaryFailure(Exception):
    """Try again later: the server is away, busy or answered 4xx."""


class PermanentFailure(Exception):
    """Retrying will not help: the address or number was refused."""


@dataclass(frozen=True)
class OutgoingMessage:
    delivery_id: str  # also the message id, so a receiver can drop a repeat
    destination: str
    subject: str
    body: str


class Channel(Protocol):
    name: str  # email or sms

    async def send(self, message: OutgoingMessage) -> None: ...
