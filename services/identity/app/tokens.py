"""The embedded default's token issuer: RS256 access tokens, keys in the database, JWKS.

Standards-based so the gateway verifies these tokens exactly as it verifies Keycloak's:
through the issuer's JWKS, checking iss, aud, exp and nbf.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.store.models import Account, SigningKey

ACCESS_TOKEN_SECONDS = 900
AUDIENCE = "motcua"


def _new_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return SigningKey(kid=uuid.uuid4().hex[:16], private_pem=pem, created_at=datetime.now(UTC))


class Issuer:
    def __init__(self, issuer_url: str):
        self.issuer_url = issuer_url
        self._keys: list[SigningKey] = []
        self._private = None

    async def load(self, session: AsyncSession) -> None:
        """Load the active keys, creating the first one on a fresh database."""
        keys = list(await session.scalars(
            select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc())
        ))
        if not keys:
            key = _new_key()
            session.add(key)
            await session.commit()
            keys = [key]
        self._keys = keys
        self._private = serialization.load_pem_private_key(keys[0].private_pem.encode(), password=None)

    def jwks(self) -> dict:
        out = []
        for key in self._keys:
            public = serialization.load_pem_private_key(key.private_pem.encode(), password=None).public_key()
            jwk = json.loads(RSAAlgorithm.to_jwk(public))
            jwk.update(kid=key.kid, use="sig", alg="RS256")
            out.append(jwk)
        return {"keys": out}

    def access_token(self, account: Account, *, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims = {
            "iss": self.issuer_url, "aud": AUDIENCE, "sub": account.id, "iat": now, "nbf": now,
            "exp": now + timedelta(seconds=ACCESS_TOKEN_SECONDS), "jti": uuid.uuid4().hex,
            "preferred_username": account.username, "name": account.full_name, "kind": account.kind,
            "roles": list(account.roles or []), "agency": account.agency_code,
            "vl": account.verification_level,
        }
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self._keys[0].kid})
