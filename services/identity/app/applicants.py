"""ResolveApplicant for commune systems: identity number -> account id, kind, level, masked name.

Only machine clients holding an access token with scope ``motcua.applicant.resolve`` may ask;
the token is verified against the provider's JWKS like the gateway verifies a person's."""

from __future__ import annotations

import jwt
from sqlalchemy import select

from services.identity.app.context import Identity
from services.identity.domain.identity_numbers import cccd_problem, normal_tax_code, tax_code_problem
from services.identity.providers.base import SCOPE_RESOLVE_APPLICANT
from services.identity.store.models import Account
from services.platform.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated


class BearerCheck:
    """Verifies bearer access tokens with the provider's keys (refetched on an unknown kid)."""

    def __init__(self, provider):
        self._provider = provider
        self._keys: dict[str, jwt.PyJWK] = {}

    async def claims(self, authorization: str) -> dict:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Cần mã truy cập (Bearer) của hệ thống.")
        try:
            kid = str(jwt.get_unverified_header(token).get("kid", ""))
            if kid not in self._keys:
                jwks = await self._provider.jwks()
                self._keys = {k["kid"]: jwt.PyJWK(k) for k in jwks.get("keys", []) if "kid" in k}
            key = self._keys.get(kid)
            if key is None:
                raise jwt.InvalidKeyError("unknown kid")
            return jwt.decode(token, key.key, algorithms=["RS256", "ES256"], audience=self._provider.audience,
                              issuer=self._provider.issuer, leeway=30,
                              options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Mã truy cập không hợp lệ.") from exc


def mask_name(full_name: str) -> str:
    """'Nguyễn Văn An' -> 'N***** V** An': enough for a clerk to recognise, not to learn."""
    words = full_name.split()
    return " ".join(w if i == len(words) - 1 else w[0] + "*" * (len(w) - 1) for i, w in enumerate(words))


async def resolve_applicant(ctx: Identity, bearer: BearerCheck, *, authorization: str,
                            identity_number: str) -> Account:
    claims = await bearer.claims(authorization)
    scopes = set(str(claims.get("scope", "")).split())
    if SCOPE_RESOLVE_APPLICANT not in scopes:
        raise PermissionDenied(f"Mã truy cập thiếu quyền {SCOPE_RESOLVE_APPLICANT}.")
    number = identity_number.strip()
    if not cccd_problem(number, None):
        pass
    elif not tax_code_problem(number):
        number = normal_tax_code(number)
    else:
        raise InvalidInput("Số định danh cá nhân hoặc mã số thuế không hợp lệ.",
                           fields={"identity_number": "malformed"})
    async with ctx.sessions() as session:
        account = await session.scalar(select(Account).where(Account.identity_number == number,
                                                             Account.enabled.is_(True)))
    if account is None:
        raise NotFound("Không có tài khoản với số định danh này.")
    return account
