"""Accounts: register, log in, read. One identity number, one account."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.v1 import events_pb2
from services.identity.domain.validation import check_registration
from services.identity.store.models import Account, outbox
from services.platform.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from services.platform.events import record_event

hasher = PasswordHasher()  # argon2id with the library's recommended cost
# Verified against when the user does not exist, so both answers take as long.
_DUMMY_HASH = hasher.hash("motcua-timing-equaliser")


def mask_number(number: str | None) -> str:
    return "" if not number else "*" * (len(number) - 4) + number[-4:]


async def register_citizen(sessions: async_sessionmaker, relay, *, identity_number: str, full_name: str,
                           date_of_birth: str, email: str, phone: str, password: str) -> Account:
    born = check_registration(identity_number=identity_number, full_name=full_name, date_of_birth=date_of_birth,
                              email=email, phone=phone, password=password)
    password_hash = await asyncio.to_thread(hasher.hash, password)
    account = Account(
        id=str(uuid.uuid4()), kind="citizen", username=identity_number, identity_number=identity_number,
        full_name=" ".join(full_name.split()), date_of_birth=born, email=email.lower(), phone=phone,
        password_hash=password_hash, verification_level=0, roles=[], created_at=datetime.now(UTC),
    )
    try:
        async with sessions() as session, session.begin():
            session.add(account)
            await session.flush()
            await record_event(session, outbox, event_type="identity.account.registered", producer="identity",
                               subject=account.id,
                               payload=events_pb2.AccountChanged(account_id=account.id, kind="citizen",
                                                                 verification_level=0, change="registered"))
    except IntegrityError as exc:
        # Say that the number is taken, never by whom.
        raise AlreadyExists("Số định danh này đã có tài khoản. Vui lòng đăng nhập hoặc khôi phục mật khẩu.",
                            fields={"identity_number": "already registered"}) from exc
    relay.wake()
    return account


async def authenticate(session: AsyncSession, username: str, password: str) -> Account:
    """The same answer, after the same work, for an unknown user and a wrong password."""
    if not username or not password or len(username) > 254 or len(password) > 128:
        raise InvalidInput("Cần tên đăng nhập và mật khẩu.", fields={"username": "required", "password": "required"})
    name = username.strip().lower()
    account = await session.scalar(select(Account).where(or_(Account.username == name, Account.email == name)))
    stored = account.password_hash if account else _DUMMY_HASH
    try:
        await asyncio.to_thread(hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        account = None
    if account is None:
        raise Unauthenticated("Tên đăng nhập hoặc mật khẩu không đúng.")
    return account


async def get_account(session: AsyncSession, account_id: str) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("Không tìm thấy tài khoản.")
    return account
