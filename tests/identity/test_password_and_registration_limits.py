"""Password reset and change, and registration, are throttled; a reset reveals nobody's account.
On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.identity.app import registration, signin, verification
from services.identity.store.models import AuditEntry
from services.platform.errors import InvalidInput, TooManyRequests
from services.platform.principal import Principal

CITIZEN = dict(identity_number="079090004321", full_name="Nguyễn Thị Mai", date_of_birth="1990-02-03",
               email="mai@example.vn", phone="0912345678", password="HoaSen@2026")


async def _events(ctx, event: str) -> list[AuditEntry]:
    async with ctx.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.event == event)))


async def test_a_weak_new_password_is_refused_alike_for_a_known_and_an_unknown_name(identity):
    await registration.register_citizen(identity, **CITIZEN)
    answers = []
    for name in (CITIZEN["identity_number"], "079090009999"):
        with pytest.raises(InvalidInput) as err:
            await verification.reset_password(identity, username=name, code="123456", new_password="short")
        answers.append((err.value.message, err.value.fields))
    assert answers[0] == answers[1] and set(answers[0][1]) == {"new_password"}
    # A good password and a wrong code: the same answer again, account or not.
    wrong = []
    for name in (CITIZEN["identity_number"], "079090009999"):
        with pytest.raises(InvalidInput) as err:
            await verification.reset_password(identity, username=name, code="000000", new_password="MoiHon@2027x")
        wrong.append(err.value.fields)
    assert wrong[0] == wrong[1] == {"code": "wrong"}


async def test_wrong_reset_codes_from_one_address_are_throttled(identity):
    await registration.register_citizen(identity, **CITIZEN)
    await verification.start_password_reset(identity, username=CITIZEN["identity_number"])
    right = identity.codes.last("reset_password")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for i in range(10):
        with pytest.raises(InvalidInput):
            await verification.reset_password(identity, username=f"07909000{i:04d}", code=wrong,
                                              new_password="MoiHon@2027x", client_address="10.7.7.7")
    with pytest.raises(TooManyRequests):
        await verification.reset_password(identity, username=CITIZEN["identity_number"], code=right,
                                          new_password="MoiHon@2027x", client_address="10.7.7.7")
    assert len(await _events(identity, "password_reset_failed")) == 10
    # Another address is not held back.
    await verification.reset_password(identity, username=CITIZEN["identity_number"], code=right,
                                      new_password="MoiHon@2027x", client_address="10.8.8.8")


async def test_wrong_current_passwords_are_throttled_and_audited(identity):
    account = await registration.register_citizen(identity, **CITIZEN)
    me = Principal(account_id=account.id, kind="citizen")
    for i in range(10):
        with pytest.raises(InvalidInput) as err:
            await verification.change_password(identity, me, current_password=f"Sai@mat-khau{i}",
                                               new_password="MoiHon@2027x", client_address=f"10.0.0.{i}")
        assert err.value.fields == {"current_password": "wrong"}
    failed = await _events(identity, "password_change_failed")
    assert len(failed) == 10 and {e.account_id for e in failed} == {account.id}
    with pytest.raises(TooManyRequests):
        await verification.change_password(identity, me, current_password=CITIZEN["password"],
                                           new_password="MoiHon@2027x", client_address="10.9.9.9")
    # The same keys as signing in: the account is blocked there too.
    with pytest.raises(TooManyRequests):
        await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])


async def test_registrations_are_limited_per_client_address(identity):
    limit = identity.settings.registrations_per_address_hour
    for i in range(limit):
        with pytest.raises(InvalidInput):  # probing numbers: each attempt counts, good or bad
            await registration.register_citizen(identity, **{**CITIZEN, "password": "x"},
                                                client_address="10.5.5.5")
    with pytest.raises(TooManyRequests) as err:
        await registration.register_citizen(identity, **CITIZEN, client_address="10.5.5.5")
    assert 3500 <= int(err.value.fields["retry_after"]) <= 3601
    assert (await registration.register_citizen(identity, **CITIZEN, client_address="10.6.6.6")).kind == "citizen"
