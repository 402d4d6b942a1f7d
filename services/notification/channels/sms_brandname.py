"""Brand-name SMS through an HTTP gateway, as Vietnamese carriers and their resellers offer it:
a JSON POST of brand name, phone number, message and request id, with a bearer key.

This is the one file to replace for another provider (their field names, their status
codes): the rest of the service sees only ``send`` and the two failures.
"""

from __future__ import annotations

import httpx

from services.notification.channels.base import OutgoingMessage, PermanentFailure, TemporaryFailure


class BrandnameSmsChannel:
    name = "sms"

    def __init__(self, *, url: str, brandname: str, api_key: str = "", timeout: float = 10.0):
        self._url = url
        self._brandname = brandname
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=timeout, headers=headers)

    async def send(self, message: OutgoingMessage) -> None:
        body = {"brandname": self._brandname, "phone": message.destination, "message": message.body,
                "request_id": message.delivery_id}
        try:
            reply = await self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"sms gateway unreachable: {exc or type(exc).__name__}") from exc
        if reply.status_code == 429 or reply.status_code >= 500:
            raise TemporaryFailure(f"sms gateway {reply.status_code}")
        if reply.status_code >= 400:
            raise PermanentFailure(f"sms gateway refused {reply.status_code}: {reply.text[:200]}")

    async def close(self) -> None:
        await self._client.aclose()
