"""Bearer tokens: verified the same way whichever provider issued them (JWKS cached,
refreshed on an unknown key id; iss, aud, exp and nbf checked), then passed to the
services as a signed principal."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import grpc
import jwt
from fastapi import Request

from gateway.problems import Problem
from motcua.v1 import identity_pb2
from services.platform.principal import METADATA_KEY, Principal, encode_principal

JwksSource = Callable[[], Awaitable[tuple[dict, str, str]]]


class TokenVerifier:
    def __init__(self, source: JwksSource, *, refresh_seconds: float = 10.0, leeway: float = 30.0,
                 max_age_seconds: float = 300.0):
        self._source = source
        # Keys are refetched at least this often, so retired keys stop verifying and new ones are known.
        self._max_age = max_age_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._issuer = ""
        self._audience = ""
        self._refreshed_at = 0.0
        self._jwks: dict = {"keys": []}
        self._refresh_seconds = refresh_seconds
        self._leeway = leeway

    async def refresh(self) -> None:
        jwks, issuer, audience = await self._source()
        self._keys = {k["kid"]: jwt.PyJWK(k) for k in jwks.get("keys", []) if "kid" in k}
        self._issuer, self._audience = issuer, audience
        self._jwks = jwks
        self._refreshed_at = time.monotonic()

    async def jwks(self) -> dict:
        if not self._refreshed_at or time.monotonic() - self._refreshed_at > self._refresh_seconds:
            await self.refresh()
        return self._jwks

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def provider(self) -> str:
        """local or keycloak, as identity reported with the keys."""
        return getattr(self._source, "provider", "") or "local"

    async def _key(self, kid: str) -> jwt.PyJWK:
        if self._refreshed_at and time.monotonic() - self._refreshed_at > self._max_age:
            try:
                await self.refresh()
            except Exception:  # identity away: keep verifying with the keys we have
                self._refreshed_at = time.monotonic() - self._max_age + self._refresh_seconds
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._refreshed_at > self._refresh_seconds:
            await self.refresh()
            key = self._keys.get(kid)
        if key is None:
            raise Problem(401, "Phiên đăng nhập không hợp lệ, vui lòng đăng nhập lại.",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return key

    async def verify(self, token: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid() from exc
        key = await self._key(str(header.get("kid", "")))
        try:
            return jwt.decode(
                token, key.key, algorithms=["RS256", "ES256"], audience=self._audience, issuer=self._issuer,
                leeway=self._leeway, options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Problem(401, "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại.",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
        except jwt.PyJWTError as exc:
            raise _invalid() from exc


def _invalid() -> Problem:
    return Problem(401, "Mã truy cập không hợp lệ.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


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
    principal = principal_from_claims(claims)
    body_id = request.headers.get(ACTING_FOR_HEADER, "").strip()
    if body_id:
        principal = await _acting_for(request, principal, body_id)
    signed = encode_principal(principal, state.internal_secret)
    return Caller(principal, ((METADATA_KEY, signed),))


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def jwks_from_identity(identity_stub) -> JwksSource:
    async def fetch() -> tuple[dict, str, str]:
        reply = await identity_stub.GetJwks(identity_pb2.GetJwksRequest())
        fetch.provider = reply.provider or "local"
        return json.loads(reply.jwks_json), reply.issuer, reply.audience

    fetch.provider = ""

    return fetch
