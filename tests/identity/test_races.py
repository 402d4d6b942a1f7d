"""Throttles and one-time codes hold under parallel attempts: real concurrent sessions on
PostgreSQL (and, serialised by its single writer, on SQLite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.identity.app import registration, signin, verification
from services.identity.store.models import AuditEntry, LoginThrottle, OneTimeCode
from services.platform.errors import InvalidInput, TooManyRequests, Unauthenticated
from services.platform.principal import Principal

CITIZEN = dict(identity_number="079090004321", full_name="Nguyễn Thị Mai", date_of_birth="1990-02-03",
               email="mai@example.vn", phone="0912345678", password="HoaSen@2026")


async def test_thirty_parallel_wrong_passwords_block_the_account_and_none_is_a_fault(identity):
    account = await registration.register_citizen(identity, **CITIZEN)
    results = await asyncio.gather(*(
        signin.sign_in(identity, username=CITIZEN["identity_number"], password=f"Sai@mat-khau{i}",
                       client_address=f"10.0.{i}.1") for i in range(30)), return_exceptions=True)
    faults = [r for r in results if not isinstance(r, Unauthenticated | TooManyRequests)]
    assert faults == []
    with pytest.raises(TooManyRequests):
        await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"],
                             client_address="10.9.9.9")
    async with identity.sessions() as session:
        row = await session.get(LoginThrottle, f"account:{account.id}")
        failed = list(await session.scalars(select(AuditEntry).where(AuditEntry.event == "login_failed")))
    # Every failure that reached the provider was counted: one block, not one per racing attempt.
    assert row.blocked_until > datetime.now(UTC) and row.strikes == 1
    assert len(failed) == sum(isinstance(r, Unauthenticated) for r in results) >= 10


async def test_parallel_guesses_of_a_code_get_five_attempts_in_all(identity):
    account = await registration.register_citizen(identity, **CITIZEN)
    me = Principal(account_id=account.id, kind="citizen")
    await verification.start_contact_verification(identity, me, what="phone")
    right = identity.codes.last("verify_phone")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    results = await asyncio.gather(*(verification.confirm_contact(identity, me, what="phone", code=wrong)
                                     for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, InvalidInput) for r in results)
    reasons = sorted(r.fields["code"] for r in results)
    assert reasons.count("wrong") == 5 and reasons.count("too_many_attempts") == 15
    async with identity.sessions() as session:
        assert (await session.scalar(select(OneTimeCode.attempts))) == 5
    with pytest.raises(InvalidInput) as late:
        await verification.confirm_contact(identity, me, what="phone", code=right)
    assert late.value.fields == {"code": "too_many_attempts"}


async def test_a_right_code_sent_twice_in_parallel_is_used_once(identity):
    account = await registration.register_citizen(identity, **CITIZEN)
    me = Principal(account_id=account.id, kind="citizen")
    await verification.start_contact_verification(identity, me, what="email")
    code = identity.codes.last("verify_email")
    results = await asyncio.gather(*(verification.confirm_contact(identity, me, what="email", code=code)
                                     for _ in range(4)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(r.fields == {"code": "used"} for r in results if isinstance(r, Exception))
