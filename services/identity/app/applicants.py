"""ResolveApplicant for commune systems: identity number -> account id, kind, level, masked name.

Only machine clients holding an access token with scope ``motcua.applicant.resolve`` may ask;
the token is verified against the provider's JWKS by the verifier the gateway uses for a person's."""

from __future__ import annotations

from sqlalchemy import select

from services.identity.app.context import Identity
from services.identity.domain.identity_numbers import cccd_problem, normal_tax_code, tax_code_problem
from services.identity.providers.base import SCOPE_RESOLVE_APPLICANT
from services.identity.store.models import Account
from services.platform.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from services.platform.tokens import TokenVerifier


def verifier_for(provider) -> TokenVerifier:
    """The shared verifier over the provider's own JWKS, issuer and audience."""

    async def source() -> tuple[dict, str, str]:
        return await provider.jwks(), provider.issuer, provider.audience

    return TokenVerifier(source)


async def _claims(verifier: TokenVerifier, authorization: str) -> dict:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Cần mã truy cập (Bearer) của hệ thống.")
    return await verifier.verify(token.strip())


def mask_name(full_name: str) -> str:
    """'Nguyễn Văn An' -> 'N***** V** An': enough for a clerk to recognise, not to learn."""
    words = full_name.split()
    return " ".join(w if i == len(words) - 1 else w[0] + "*" * (len(w) - 1) for i, w in enumerate(words))


async def resolve_applicant(ctx: Identity, verifier: TokenVerifier, *, authorization: str,
                            identity_number: str) -> Account:
    claims = await _claims(verifier, authorization)
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
