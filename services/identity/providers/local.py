"""The embedded identity provider (``local``): a standards-based issuer inside the identity service.

RS256 access tokens signed with rotating keys (``keys.py``), argon2id password hashes, opaque
refresh tokens stored hashed with rotation and reuse detection (a reused token revokes its whole
family), and machine clients with hashed secrets for the client-credentials grant.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.identity.providers.base import AUDIENCE, ProviderUser, RefreshTokenReused, TokenSet
from services.identity.providers.keys import KeyRing
from services.identity.settings import IdentitySettings, MachineClientSeed
from services.identity.store.ambient import transaction
from services.identity.store.models import LocalUser, MachineClient, RefreshToken
from services.platform.errors import AlreadyExists, Unauthenticated
from services.platform.logging import get_logger

log = get_logger("identity.local")

WRONG_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."
SESSION_ENDED = "Phiên đăng nhập đã kết thúc, vui lòng đăng nhập lại."


class _Reused(Unauthenticated, RefreshTokenReused):
    def __init__(self, account_id: str):
        super().__init__(SESSION_ENDED)
        self.account_id = account_id


def make_hasher(settings: IdentitySettings) -> PasswordHasher:
    return PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                          parallelism=settings.argon2_parallelism)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LocalProvider:
    name = "local"
    audience = AUDIENCE

    def __init__(self, sessionmaker: async_sessionmaker, issuer: str | None = None,
                 settings: IdentitySettings | None = None):
        self.settings = settings or IdentitySettings()
        self.issuer = issuer or self.settings.issuer_url
        self._sessions = sessionmaker
        self._hasher = make_hasher(self.settings)
        # Verified against when the user does not exist, so both answers take as long.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(8))
        self.keys = KeyRing(rotation=timedelta(days=self.settings.key_rotation_days),
                            publish_lead=timedelta(seconds=self.settings.key_publish_lead_seconds),
                            token_lifetime=timedelta(seconds=self.settings.access_token_seconds))
        self._task: asyncio.Task | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.maintain_keys()
        await self.seed_clients(self.settings.machine_clients)
        self._task = asyncio.create_task(self._maintain_forever())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def maintain_keys(self, now: datetime | None = None) -> None:
        async with self._sessions() as session, session.begin():
            await self.keys.maintain(session, now=now)

    async def _maintain_forever(self) -> None:
        while True:
            await asyncio.sleep(60)
            try:
                await self.maintain_keys()
            except Exception:
                log.exception("key_maintenance_failed")

    async def seed_clients(self, seeds: list[MachineClientSeed]) -> None:
        for seed in seeds:
            async with self._sessions() as session, session.begin():
                if await session.get(MachineClient, seed.client_id) is None:
                    secret_hash = await asyncio.to_thread(self._hasher.hash, seed.secret)
                    session.add(MachineClient(client_id=seed.client_id, name=seed.name or seed.client_id,
                                              secret_hash=secret_hash, scopes=list(seed.scopes), enabled=True,
                                              created_at=datetime.now(UTC)))

    # --- users ---------------------------------------------------------------------------------

    async def create_user(self, user: ProviderUser, password: str) -> None:
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        try:
            async with transaction(self._sessions) as session:
                async with session.begin_nested():
                    session.add(LocalUser(account_id=user.account_id, password_hash=password_hash,
                                          **self._claims_of(user)))
        except IntegrityError as exc:
            raise AlreadyExists("Tên đăng nhập đã được dùng.", fields={"username": "already registered"}) from exc

    @staticmethod
    def _claims_of(user: ProviderUser) -> dict:
        return dict(username=user.username.lower(), email=user.email.lower(), full_name=user.full_name,
                    kind=user.kind, roles=list(user.roles), agency_code=user.agency_code,
                    verification_level=user.verification_level, enabled=user.enabled)

    async def update_user(self, user: ProviderUser) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(update(LocalUser).where(LocalUser.account_id == user.account_id)
                                  .values(**self._claims_of(user)))
            if not user.enabled:
                await self._revoke_account(session, user.account_id)

    async def delete_user(self, account_id: str) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(delete(LocalUser).where(LocalUser.account_id == account_id))
            await self._revoke_account(session, account_id)

    async def set_password(self, account_id: str, password: str) -> None:
        """Also ends every session of the account: whoever knew the old password is signed out."""
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        async with transaction(self._sessions) as session:
            await session.execute(update(LocalUser).where(LocalUser.account_id == account_id)
                                  .values(password_hash=password_hash))
            await self._revoke_account(session, account_id)

    async def _revoke_account(self, session, account_id: str) -> None:
        await session.execute(update(RefreshToken).where(RefreshToken.account_id == account_id,
                                                         RefreshToken.revoked_at.is_(None))
                              .values(revoked_at=datetime.now(UTC)))

    async def find_user(self, username: str) -> LocalUser | None:
        """By user name, or by email when exactly one account has it."""
        name = username.strip().lower()
        async with self._sessions() as session:
            user = await session.scalar(select(LocalUser).where(LocalUser.username == name))
            if user is None and "@" in name:
                found = list(await session.scalars(select(LocalUser).where(LocalUser.email == name).limit(2)))
                user = found[0] if len(found) == 1 else None
        return user

    # --- grants --------------------------------------------------------------------------------

    async def password_grant(self, username: str, password: str) -> TokenSet:
        user = await self.find_user(username) if username and len(username) <= 254 else None
        stored = user.password_hash if user else self._dummy_hash
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            user = None
        if user is None or not user.enabled:
            raise Unauthenticated(WRONG_CREDENTIALS)
        if self._hasher.check_needs_rehash(user.password_hash):
            await self.set_password_hash_only(user.account_id, password)
        now = datetime.now(UTC)
        refresh = await self._new_refresh(user.account_id, str(uuid.uuid4()),
                                          now + timedelta(seconds=self.settings.session_max_seconds), now)
        return self._token_set(user, refresh, now)

    async def set_password_hash_only(self, account_id: str, password: str) -> None:
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        async with self._sessions() as session, session.begin():
            await session.execute(update(LocalUser).where(LocalUser.account_id == account_id)
                                  .values(password_hash=password_hash))

    async def _new_refresh(self, account_id: str, family_id: str, family_expires_at: datetime,
                           now: datetime) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        expires_at = min(now + timedelta(seconds=self.settings.refresh_token_seconds), family_expires_at)
        async with self._sessions() as session, session.begin():
            session.add(RefreshToken(token_hash=_digest(token), family_id=family_id, account_id=account_id,
                                     issued_at=now, expires_at=expires_at, family_expires_at=family_expires_at))
        return token, int((expires_at - now).total_seconds())

    async def refresh(self, refresh_token: str) -> TokenSet:
        now = datetime.now(UTC)
        digest = _digest(refresh_token or "")
        async with self._sessions() as session, session.begin():
            row = await session.get(RefreshToken, digest)
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise Unauthenticated(SESSION_ENDED)
            # Only one caller can use a token: the conditional update is the lock.
            used = await session.execute(update(RefreshToken).where(RefreshToken.token_hash == digest,
                                                                    RefreshToken.used_at.is_(None))
                                         .values(used_at=now))
            if used.rowcount != 1:
                await session.execute(update(RefreshToken).where(RefreshToken.family_id == row.family_id,
                                                                 RefreshToken.revoked_at.is_(None))
                                      .values(revoked_at=now))
                reused = _Reused(row.account_id)
            else:
                reused = None
            family, family_expires_at, account_id = row.family_id, row.family_expires_at, row.account_id
            user = await session.get(LocalUser, account_id)
        if reused:
            log.warning("refresh_token_reuse_detected", account_id=account_id, family_id=family)
            raise reused
        if user is None or not user.enabled:
            raise Unauthenticated(SESSION_ENDED)
        refresh = await self._new_refresh(account_id, family, family_expires_at, now)
        return self._token_set(user, refresh, now)

    async def logout(self, refresh_token: str) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(RefreshToken, _digest(refresh_token or ""))
            if row is not None:
                await session.execute(update(RefreshToken).where(RefreshToken.family_id == row.family_id,
                                                                 RefreshToken.revoked_at.is_(None))
                                      .values(revoked_at=datetime.now(UTC)))

    async def client_credentials_grant(self, client_id: str, client_secret: str) -> TokenSet:
        async with self._sessions() as session:
            client = await session.get(MachineClient, client_id) if client_id and len(client_id) <= 100 else None
        stored = client.secret_hash if client else self._dummy_hash
        try:
            await asyncio.to_thread(self._hasher.verify, stored, client_secret or "")
        except (VerificationError, InvalidHashError):
            client = None
        if client is None or not client.enabled:
            raise Unauthenticated("Thông tin xác thực của hệ thống không đúng.")
        now = datetime.now(UTC)
        scope = " ".join(client.scopes or [])
        claims = self._base_claims(client.client_id, now)
        claims.update(account_id=client.client_id, kind="service", roles=[], agency="", vl=0, name=client.name,
                      preferred_username=client.client_id, scope=scope, client_id=client.client_id)
        return TokenSet(access_token=self._sign(claims, now), refresh_token="",
                        expires_in=self.settings.access_token_seconds, refresh_expires_in=0, scope=scope)

    async def jwks(self) -> dict:
        return self.keys.jwks()

    # --- tokens --------------------------------------------------------------------------------

    def _base_claims(self, subject: str, now: datetime) -> dict:
        return {"iss": self.issuer, "aud": AUDIENCE, "sub": subject, "iat": now, "nbf": now,
                "exp": now + timedelta(seconds=self.settings.access_token_seconds), "jti": uuid.uuid4().hex}

    def _sign(self, claims: dict, now: datetime) -> str:
        key = self.keys.signing_key(now)
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})

    def access_token(self, user: LocalUser, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims = self._base_claims(user.account_id, now)
        claims.update(account_id=user.account_id, kind=user.kind, roles=list(user.roles or []),
                      agency=user.agency_code, vl=user.verification_level, name=user.full_name,
                      preferred_username=user.username, email=user.email)
        return self._sign(claims, now)

    def _token_set(self, user: LocalUser, refresh: tuple[str, int], now: datetime) -> TokenSet:
        return TokenSet(access_token=self.access_token(user, now), refresh_token=refresh[0],
                        expires_in=self.settings.access_token_seconds, refresh_expires_in=refresh[1])
