"""/healthz, /metrics and the issuer's discovery documents."""

from __future__ import annotations

import asyncio
import json

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import Response
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.responses import JSONResponse
from motcua.v1 import identity_pb2

router = APIRouter(tags=["Vận hành"])

# What each service reports: itself, its database and (for those that use it) NATS.
COMPONENTS = {
    "identity": ("", "identity.database"),
    "catalogue": ("", "catalogue.database"),
    "dossier": ("", "dossier.database", "dossier.nats"),
    "notification": ("", "notification.database", "notification.nats"),
}


async def _check(channel: grpc.aio.Channel, service: str) -> str:
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.5)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    except grpc.aio.AioRpcError as exc:
        return "UNREACHABLE" if exc.code() != grpc.StatusCode.NOT_FOUND else "UNKNOWN"


@router.get("/healthz", summary="Sức khỏe hệ thống: dịch vụ, cơ sở dữ liệu, NATS")
async def healthz(request: Request):
    channels = request.app.state.clients.channels
    checks = {(svc, comp): _check(channels[svc], comp) for svc, comps in COMPONENTS.items() for comp in comps}
    results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
    services = {}
    for (svc, comp), status in results.items():
        services.setdefault(svc, {})[comp.split(".")[-1] if comp else "service"] = status
    nats = "SERVING" if all(s == "SERVING" for (svc, c), s in results.items() if c.endswith(".nats")) else "NOT_SERVING"
    healthy = all(s == "SERVING" for s in results.values())
    body = {"status": "ok" if healthy else "degraded", "services": services, "nats": nats}
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/metrics", summary="Chỉ số Prometheus", include_in_schema=False)
async def metrics():
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/auth/.well-known/openid-configuration", summary="OIDC discovery của bộ cấp mã nhúng")
async def openid_configuration(request: Request):
    reply = await request.app.state.clients.identity.GetJwks(identity_pb2.GetJwksRequest())
    issuer = reply.issuer
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks",
        "token_endpoint": str(request.base_url).rstrip("/") + "/api/v1/auth/token",
        "grant_types_supported": ["password"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["token"],
    }


@router.get("/auth/jwks", summary="Khóa công khai xác minh mã truy cập (JWKS)")
async def jwks(request: Request):
    reply = await request.app.state.clients.identity.GetJwks(identity_pb2.GetJwksRequest())
    return JSONResponse(json.loads(reply.jwks_json))
