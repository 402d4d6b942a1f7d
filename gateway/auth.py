"""Bearer tokens: verified the same way whichever provider issued them (JWKS cached,
refreshed on an unknown key id; iss, aud, exp and nbf checked), then passed to the
services as a signed principal."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import jwt
from fastapi import Request

from gateway.problems import Problem
from motcua.v1 import identity_pb2
from services.platform.principal import METADATA_KEY, Principal, encode_principal

JwksSource = Callable[[], Awaitable[tuple[dict, str, str]]]


class TokenVerifier:
    def __init__(self, source: JwksSource, *, refresh_seconds: float = 10.0, leeway: float = 30.0):
        self._source = source
        self._keys: dict[str, jwt.PyJWK] = {}
        self._issuer = ""
        self._audience = ""
        self._refreshed_at = 0.0
        self._refresh_seconds = refresh_seconds
        self._leeway = leeway

    async def refresh(self) -> None:
        jwks, issuer, audience = await self._source()
        self._keys = {k["kid"]: jwt.PyJWK(k) for k in jwks.get("keys", []) if "kid" in k}
        self._issuer, self._audience = issuer, audience
        self._refreshed_at = time.monotonic()

    async def _key(self, kid: str) -> jwt.PyJWK:
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
    return Principal(
        account_id=claims["sub"], kind=claims.get("kind", "citizen"), name=claims.get("name", ""),
        roles=tuple(claims.get("roles", ())), agency_code=claims.get("agency", ""),
        verification_level=int(claims.get("vl", 0)),
    )


async def caller(request: Request) -> Caller:
    """FastAPI dependency: the verified caller, or a 401 problem."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Cần đăng nhập để thực hiện thao tác này.", headers={"WWW-Authenticate": "Bearer"})
    state = request.app.state
    claims = await state.verifier.verify(token.strip())
    principal = principal_from_claims(claims)
    signed = encode_principal(principal, state.internal_secret)
    return Caller(principal, ((METADATA_KEY, signed),))


def jwks_from_identity(identity_stub) -> JwksSource:
    async def fetch() -> tuple[dict, str, str]:
        reply = await identity_stub.GetJwks(identity_pb2.GetJwksRequest())
        return json.loads(reply.jwks_json), reply.issuer, reply.audience

    return fetch
