"""Verifying bearer access tokens, the same way in the gateway and in the services.

The keys come from a JWKS source (identity's GetJwks, or a provider's own ``jwks()``) and are
cached: refetched every ``max_age_seconds`` so retired keys stop verifying, and on an unknown key
id at most once every ``refresh_seconds`` (a stream of tokens with made-up ``kid`` values cannot
turn into a stream of JWKS requests). Only RS256 and ES256 are accepted, whatever the token's
header says; iss, aud, exp and nbf are checked. Failures raise ``Unauthenticated``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import jwt

from services.platform.errors import Unauthenticated

# () -> (jwks, issuer, audience)
JwksSource = Callable[[], Awaitable[tuple[dict, str, str]]]
ALGORITHMS = ("RS256", "ES256")
INVALID = "Mã truy cập không hợp lệ."
EXPIRED = "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại."
UNKNOWN_KEY = "Phiên đăng nhập không hợp lệ, vui lòng đăng nhập lại."


class TokenExpired(Unauthenticated):
    """The token was valid once: the caller signs in again (or refreshes)."""


class TokenVerifier:
    def __init__(self, source: JwksSource, *, refresh_seconds: float = 10.0, leeway: float = 30.0,
                 max_age_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._source = source
        self._refresh_seconds = refresh_seconds
        self._max_age = max_age_seconds
        self._leeway = leeway
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._jwks: dict = {"keys": []}
        self._issuer = ""
        self._audience = ""
        self._refreshed_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch tried on the verifying path
        self._lock = asyncio.Lock()

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def audience(self) -> str:
        return self._audience

    async def refresh(self) -> None:
        jwks, issuer, audience = await self._source()
        keys = {}
        for k in jwks.get("keys", []):
            if "kid" in k and k.get("alg", "RS256") in ALGORITHMS and k.get("use", "sig") == "sig":
                try:
                    keys[k["kid"]] = jwt.PyJWK(k)
                except jwt.PyJWTError:
                    continue  # a key we cannot use (another type) is simply not one of ours
        self._keys, self._jwks, self._issuer, self._audience = keys, jwks, issuer, audience
        self._refreshed_at = self._attempted_at = self._clock()

    def _age(self) -> float:
        return float("inf") if self._refreshed_at is None else self._clock() - self._refreshed_at

    async def jwks(self) -> dict:
        if self._age() > self._refresh_seconds:
            await self.refresh()
        return self._jwks

    def _since_attempt(self) -> float:
        return float("inf") if self._attempted_at is None else self._clock() - self._attempted_at

    async def _refresh_if(self, due) -> None:
        """One refresh for many callers (whoever waited for the lock finds it done), at most one
        attempt every refresh_seconds; when the source is away the keys we have keep verifying."""
        async with self._lock:
            if not due() or self._since_attempt() <= self._refresh_seconds:
                return
            self._attempted_at = self._clock()
            try:
                await self.refresh()
            except Exception:
                if self._refreshed_at is None:
                    raise

    async def _key(self, kid: str) -> jwt.PyJWK:
        await self._refresh_if(lambda: self._age() > self._max_age)
        key = self._keys.get(kid)
        if key is None:
            await self._refresh_if(lambda: kid not in self._keys)
            key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated(UNKNOWN_KEY)
        return key

    async def verify(self, token: str) -> dict:
        """The token's claims, or Unauthenticated (TokenExpired when only the time is wrong)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(INVALID) from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated(INVALID)
        key = await self._key(str(header.get("kid", "")))
        try:
            return jwt.decode(token, key.key, algorithms=list(ALGORITHMS), audience=self._audience,
                              issuer=self._issuer, leeway=self._leeway,
                              options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired(EXPIRED) from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(INVALID) from exc
