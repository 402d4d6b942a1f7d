"""Bearer tokens: verified the same way whichever provider issued them (JWKS cached,
refreshed on an unknown key id; iss, aud, exp and nbf checked), then passed to the
services as a signed principal."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

import grpc
from fastapi import Request

from gateway.problems import Problem
from motcua.v1 import identity_pb2
from services.platform import tokens
from services.platform.client_address import CLIENT_ADDRESS_KEY, sign_client_address
from services.platform.errors import Unauthenticated
from services.platform.grpc_server import FIELDS_METADATA_KEY
from services.platform.principal import METADATA_KEY, Principal, encode_principal

JwksSource = tokens.JwksSource

class TokenVerifier(tokens.TokenVerifier):
    """The shared verifier (services.platform.tokens), its failures as the API's 401 problem."""

    def __init__(self, source: tokens.JwksSource, **kwargs):
        super().__init__(source, **kwargs)
        self._provider_of = source

    @property
    def provider(self) -> str:
        """local or keycloak, as identity reported with the keys."""
        return getattr(self._provider_of, "provider", "") or "local"

    async def verify(self, token: str) -> dict:
        try:
            return await super().verify(token)
        except Unauthenticated as exc:
            raise Problem(401, exc.message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


@dataclass(frozen=True)
class Caller:
    principal: Principal
    metadata: tuple[tuple[str, str], ...]


def principal_from_claims(claims: dict) -> Principal:
    roles = claims.get("roles", ())
    return Principal(
        account_id=str(claims.get("account_id") or claims["sub"]), kind=str(claims.get("kind", "citizen")),
        name=str(claims.get("name", "")), roles=tuple(r for r in roles if isinstance(r, str))
        if isinstance(roles, list) else (), agency_code=str(claims.get("agency", "") or ""),
        verification_level=int(claims.get("vl", 0) or 0),
    )


ACTING_FOR_HEADER = "x-acting-for"
ACTING_FOR_TTL_SECONDS = 30.0


class RepresentationCache:
    """Links identity confirmed lately (person, body) -> until when; a revoked link stops within the TTL."""

    def __init__(self, ttl: float = ACTING_FOR_TTL_SECONDS, size: int = 10_000):
        self._ttl, self._size = ttl, size
        self._until: dict[tuple[str, str], float] = {}

    def fresh(self, person: str, body: str) -> bool:
        return self._until.get((person, body), 0.0) > time.monotonic()

    def remember(self, person: str, body: str) -> None:
        if len(self._until) >= self._size:
            self._until.clear()
        self._until[(person, body)] = time.monotonic() + self._ttl


async def _acting_for(request: Request, principal: Principal, body_id: str) -> Principal:
    """The gateway signs acting_for into the principal only after identity confirms the link."""
    if len(body_id) > 64 or principal.kind not in ("citizen",):
        raise Problem(403, "Bạn không đại diện cho tổ chức này.", errors={"X-Acting-For": "not a representative"})
    state = request.app.state
    cache = getattr(state, "representations", None)
    if cache is None:
        cache = state.representations = RepresentationCache()
    if not cache.fresh(principal.account_id, body_id):
        metadata = ((METADATA_KEY, encode_principal(principal, state.internal_secret)),)
        try:
            await state.clients.identity.ConfirmRepresentation(
                identity_pb2.ConfirmRepresentationRequest(body_id=body_id), metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
                              grpc.StatusCode.INVALID_ARGUMENT):
                raise Problem(403, "Bạn không đại diện cho tổ chức này.",
                              errors={"X-Acting-For": "not a representative"}) from exc
            raise
        cache.remember(principal.account_id, body_id)
    return replace(principal, acting_for=body_id)


async def caller(request: Request) -> Caller:
    """FastAPI dependency: the verified caller, or a 401 problem. A representative chooses the
    business or organisation they act for per request with the ``X-Acting-For`` header."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Cần đăng nhập để thực hiện thao tác này.", headers={"WWW-Authenticate": "Bearer"})
    state = request.app.state
    claims = await state.verifier.verify(token.strip())
    if str(claims.get("kind", "")) == "service":
        # A commune system's token is for ResolveApplicant over gRPC only, never a caller of the API.
        raise Problem(403, "Mã truy cập của hệ thống không dùng được cho API này.",
                      errors={"Authorization": "machine-client token"})
    principal = principal_from_claims(claims)
    body_id = request.headers.get(ACTING_FOR_HEADER, "").strip()
    if body_id:
        principal = await _acting_for(request, principal, body_id)
    signed = encode_principal(principal, state.internal_secret)
    return Caller(principal, ((METADATA_KEY, signed), *client_metadata(request)))


def client_address(request: Request) -> str:
    """The caller's address. Behind the ingress uvicorn takes it from X-Forwarded-For, but only
    when the connection comes from a trusted proxy (MOTCUA_GATEWAY_FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else ""


def client_metadata(request: Request) -> tuple[tuple[str, str], ...]:
    """The client address signed for the services: identity counts sign-in failures per address
    and believes only an address the gateway signed."""
    address = client_address(request)
    if not address:
        return ()
    return ((CLIENT_ADDRESS_KEY, sign_client_address(address, request.app.state.internal_secret)),)


def jwks_from_identity(identity_stub) -> JwksSource:
    async def fetch() -> tuple[dict, str, str]:
        reply = await identity_stub.GetJwks(identity_pb2.GetJwksRequest())
        fetch.provider = reply.provider or "local"
        return json.loads(reply.jwks_json), reply.issuer, reply.audience

    fetch.provider = ""

    return fetch


async def call_with_retry_after(rpc, message, **kwargs):
    """A 429 from identity keeps its real Retry-After (the wait the back-off chose)."""
    try:
        return await rpc(message, **kwargs)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
            raise
        fields = {}
        for key, value in exc.trailing_metadata() or ():
            if key == FIELDS_METADATA_KEY:
                fields = json.loads(value)
        wait = str(fields.get("retry_after", "60"))
        raise Problem(429, exc.details(), errors=fields, headers={"Retry-After": wait}) from exc
