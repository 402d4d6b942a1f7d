"""Development sinks for `make run`: email and SMS land as files under var/outbox/
(``email/<delivery id>.eml`` and one JSON line per SMS in ``sms.jsonl``), so a developer
sees what would have been sent without a mail server or an SMS contract."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from services.notification.channels.base import OutgoingMessage
from services.notification.channels.email_smtp import build_email


class FileEmailSink:
    name = "email"

    def __init__(self, directory: Path, sender: str):
        self._dir = directory / "email"
        self._sender = sender

    async def send(self, message: OutgoingMessage) -> None:
        # Building the message is slow pure Python: off the event loop with the write.
        await asyncio.to_thread(self._write, message)

    def _write(self, message: OutgoingMessage) -> None:
        data = build_email(message, self._sender).as_bytes()
        path = self._dir / f"{message.delivery_id}.eml"
        try:
            path.write_bytes(data)
        except FileNotFoundError:  # the first message (mkdir on every one cost more than the write)
            self._dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


class FileSmsSink:
    name = "sms"

    def __init__(self, directory: Path, brandname: str):
        self._path = directory / "sms.jsonl"
        self._brandname = brandname

    async def send(self, message: OutgoingMessage) -> None:
        line = json.dumps({"brandname": self._brandname, "phone": message.destination, "message": message.body,
                           "request_id": message.delivery_id, "at": datetime.now(UTC).isoformat()},
                          ensure_ascii=False)
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        try:
            out = self._path.open("a", encoding="utf-8")
        except FileNotFoundError:  # the first message
            self._path.parent.mkdir(parents=True, exist_ok=True)
            out = self._path.open("a", encoding="utf-8")
        with out:
            out.write(line + "\n")
