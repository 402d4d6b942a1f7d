"""Email over SMTP (aiosmtplib): 5xx is a permanent failure, anything else a temporary one."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notification.channels.base import OutgoingMessage, PermanentFailure, TemporaryFailure


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.destination
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = f"<{message.delivery_id}@motcua>"
    email.set_content(message.body)
    return email


class SmtpChannel:
    name = "email"

    def __init__(self, *, host: str, port: int, sender: str, username: str = "", password: str = "",
                 starttls: bool = False, tls: bool = False, timeout: float = 10.0):
        self._host, self._port, self._sender = host, port, sender
        self._auth = {"username": username, "password": password} if username else {}
        self._starttls, self._tls, self._timeout = starttls, tls, timeout

    async def send(self, message: OutgoingMessage) -> None:
        email = build_email(message, self._sender)
        try:
            await aiosmtplib.send(email, hostname=self._host, port=self._port, timeout=self._timeout,
                                  start_tls=self._starttls, use_tls=self._tls, **self._auth)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {codes}") from exc
            raise TemporaryFailure(f"recipient deferred: {codes}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise PermanentFailure(f"smtp {exc.code}: {exc.message}") from exc
            raise TemporaryFailure(f"smtp {exc.code}: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise TemporaryFailure(f"smtp unreachable: {exc or type(exc).__name__}") from exc
