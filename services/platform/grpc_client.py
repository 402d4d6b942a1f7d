"""gRPC channels as services and the gateway use them: a deadline on every call, retries
of UNAVAILABLE with back-off, and the request id passed along (the gateway adds the
signed principal to each call's metadata itself)."""

from __future__ import annotations

import json

import grpc

from services.platform.grpc_server import REQUEST_ID_KEY
from services.platform.logging import request_id_var

_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


class _MetadataInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.StreamUnaryClientInterceptor
):
    def __init__(self, default_timeout: float):
        self._timeout = default_timeout

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or [])
        rid = request_id_var.get()
        if rid:
            metadata.append((REQUEST_ID_KEY, rid))
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=details.timeout if details.timeout is not None else self._timeout,
            metadata=grpc.aio.Metadata(*metadata),
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )

    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(self._details(details), request)

    async def intercept_stream_unary(self, continuation, details, request_iterator):
        return await continuation(self._details(details), request_iterator)


def make_channel(addr: str, *, default_timeout: float = 5.0) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        addr,
        options=[
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30000),
            ("grpc.max_receive_message_length", 8 * 1024 * 1024),
        ],
        interceptors=[_MetadataInterceptor(default_timeout)],
    )
