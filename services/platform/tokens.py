"""Verifying bearer access tokens, the same way in the gateway and in the services.

The keys come from a JWKS source (identity's GetJwks, or a provider's own ``jwks()``) and are
cached: refetched every ``max_age_seconds`` so retired keys stop verifying, and on an unknown key
id at most once every ``refresh_seconds`` (a stream of tokens with made-up ``kid`` values cannot
turn into a stream of JWKS requests). Only RS256 and ES256 are accepted, whatever the token's
header says; iss, aud, exp and nbf are checked. Failures raise ``Unauthenticated``.

A client sends the same access token with every request for its whole life, so a token
that verified is remembered (bounded, by its exact text) with the key, issuer and audience
it verified under: later requests check only its times, and a new key set, issuer or
audience sends it through the full check again. Verifying an RS256 signature and decoding
the token cost a fifth of the gateway's time per request."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: dict
    key: jwt.PyJWK
    issuer: str
    audience: str
    expires: float  # exp + leeway
    not_before: float  # nbf - leeway, or -inf


class TokenVerifier:
    def __init__(self, source: JwksSource, *, refresh_seconds: float = 10.0, leeway: float = 30.0,
                 max_age_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic,
                 remembered: int = 4096, wall_clock: Callable[[], float] = time.time):
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
        self._remembered: dict[str, _Verified] = {}
        self._remember_at_most = remembered
        self._wall_clock = wall_clock

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
        seen = self._remembered.get(token)
        if seen is not None and self._age() <= self._max_age and self._keys.get(seen.key.key_id) is seen.key \
                and seen.issuer == self._issuer and seen.audience == self._audience:
            now = self._wall_clock()
            if now >= seen.expires:
                del self._remembered[token]
                raise TokenExpired(EXPIRED)
            if now >= seen.not_before:
                return dict(seen.claims)
        claims, key = await self._verify_fully(token)
        self._remember(token, claims, key)
        return dict(claims)

    def _remember(self, token: str, claims: dict, key: jwt.PyJWK) -> None:
        if len(self._remembered) >= self._remember_at_most:
            del self._remembered[next(iter(self._remembered))]  # the oldest
        nbf = claims.get("nbf")
        self._remembered[token] = _Verified(
            claims=claims, key=key, issuer=self._issuer, audience=self._audience,
            expires=float(claims["exp"]) + self._leeway,
            not_before=float(nbf) - self._leeway if isinstance(nbf, (int, float)) else float("-inf"))

    async def _verify_fully(self, token: str) -> tuple[dict, jwt.PyJWK]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(INVALID) from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated(INVALID)
        key = await self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(token, key.key, algorithms=list(ALGORITHMS), audience=self._audience,
                                issuer=self._issuer, leeway=self._leeway,
                                options={"require": ["exp", "iat", "sub", "iss", "aud"]})
            return claims, key
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired(EXPIRED) from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(INVALID) from exc
