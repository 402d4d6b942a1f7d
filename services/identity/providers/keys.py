"""The embedded issuer's signing keys: rotation that never breaks a token in flight.

A new key is published in the JWKS ``publish_lead`` before it signs, so verifiers that cache the
JWKS know it by the time tokens carry its kid; a superseded key stays published until every token
it signed has expired, then it is retired.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.store.models import SigningKey


def new_key(*, now: datetime, activates_at: datetime) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return SigningKey(kid=uuid.uuid4().hex[:16], private_pem=pem, created_at=now, activates_at=activates_at)


def _activates(key: SigningKey) -> datetime:
    return key.activates_at or key.created_at


@dataclass
class LoadedKey:
    kid: str
    activates_at: datetime
    private: object
    jwk: dict


@dataclass
class KeyRing:
    rotation: timedelta
    publish_lead: timedelta
    token_lifetime: timedelta

    def __post_init__(self):
        self.keys: list[LoadedKey] = []  # newest first

    async def maintain(self, session: AsyncSession, *, now: datetime | None = None) -> None:
        """Create the first key, publish the next one when due, retire keys nobody needs; then load."""
        now = now or datetime.now(UTC)
        rows = list(await session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))))
        rows.sort(key=_activates, reverse=True)
        if not rows:
            first = new_key(now=now, activates_at=now)
            session.add(first)
            rows = [first]
        active = [k for k in rows if _activates(k) <= now]
        pending = [k for k in rows if _activates(k) > now]
        if active and not pending and now - _activates(active[0]) >= self.rotation - self.publish_lead:
            nxt = new_key(now=now, activates_at=max(now + self.publish_lead, _activates(active[0]) + self.rotation))
            session.add(nxt)
            rows.insert(0, nxt)
        # A key superseded by an active newer key verifies tokens until they expire (plus a minute).
        for newer, older in zip(active, active[1:]):
            if now - _activates(newer) > self.token_lifetime + timedelta(minutes=1):
                older.retired_at = now
        await session.flush()
        self._load([k for k in rows if k.retired_at is None])

    def _load(self, rows: list[SigningKey]) -> None:
        loaded = []
        for row in rows:
            private = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
            jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
            jwk.update(kid=row.kid, use="sig", alg="RS256")
            loaded.append(LoadedKey(row.kid, _activates(row), private, jwk))
        self.keys = sorted(loaded, key=lambda k: k.activates_at, reverse=True)

    def signing_key(self, now: datetime | None = None) -> LoadedKey:
        now = now or datetime.now(UTC)
        for key in self.keys:
            if key.activates_at <= now:
                return key
        return self.keys[-1]

    def jwks(self) -> dict:
        return {"keys": [k.jwk for k in self.keys]}
