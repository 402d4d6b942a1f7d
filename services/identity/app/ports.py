"""Ports to the other services identity talks to, with their gRPC adapters."""

from __future__ import annotations

from typing import Protocol

import grpc

from motcua.v1 import catalogue_pb2, notification_pb2
from services.platform.errors import InvalidInput, Unavailable


class CodeSender(Protocol):
    async def send(self, *, account_id: str, channel: str, destination: str, code: str, purpose: str,
                   idempotency_key: str, expires_in_seconds: int) -> str:
        """Delivers a one-time code; returns the masked destination."""


class AgencyDirectory(Protocol):
    async def check_agency(self, code: str) -> str:
        """The agency's name; InvalidInput naming agency_code when the catalogue has no such agency
        or the agency is no longer active (merged or dissolved)."""


class NotificationCodeSender:
    """NotificationService.SendOneTimeCode: notification delivers, identity keeps only the hash."""

    def __init__(self, stub, metadata=()):
        self._stub = stub
        self._metadata = metadata

    async def send(self, *, account_id, channel, destination, code, purpose, idempotency_key,
                   expires_in_seconds) -> str:
        try:
            reply = await self._stub.SendOneTimeCode(notification_pb2.SendOneTimeCodeRequest(
                account_id=account_id, channel=channel, destination=destination, code=code, purpose=purpose,
                idempotency_key=idempotency_key, expires_in_seconds=expires_in_seconds),
                metadata=self._metadata() if callable(self._metadata) else self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable("Chưa gửi được mã xác nhận, vui lòng thử lại sau ít phút.") from exc
        return reply.destination_masked


class CatalogueAgencies:
    """The agency tree is the catalogue's data: officials' agencies are checked with GetAgency."""

    def __init__(self, stub):
        self._stub = stub

    async def check_agency(self, code: str) -> str:
        if not code or len(code) > 35:
            raise InvalidInput("Cần mã đơn vị.", fields={"agency_code": "required"})
        try:
            reply = await self._stub.GetAgency(catalogue_pb2.GetAgencyRequest(code=code))
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise InvalidInput("Không có đơn vị với mã này trong danh mục.",
                                   fields={"agency_code": "unknown agency"}) from exc
            raise Unavailable("Chưa kiểm tra được đơn vị, vui lòng thử lại sau.") from exc
        agency = reply.agency
        if not agency.active:
            # Merged or dissolved (sáp nhập, giải thể): its officials belong to the successor.
            successor = f" Đơn vị kế thừa: {agency.successor_code}." if agency.successor_code else ""
            raise InvalidInput(f"Đơn vị này đã ngừng hoạt động (sáp nhập hoặc giải thể).{successor}",
                               fields={"agency_code": "inactive agency"})
        return agency.name
