"""A real SMTP server for tests (aiosmtpd's Controller on a free loopback port) that keeps
what it received, and can be stopped and started again on the same port (an outage)."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller

from services.platform.embedded import free_port


class _Keeper:
    def __init__(self, server: SmtpServer):
        self._server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.invalid"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._server.lock:
            self._server.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(_Keeper(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[Message]:
        with self.lock:
            return list(self.messages)

    def env(self) -> dict[str, str]:
        """What the notification service needs to send here."""
        return {"MOTCUA_NOTIFICATION_SMTP_HOST": "127.0.0.1", "MOTCUA_NOTIFICATION_SMTP_PORT": str(self.port)}

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
