"""Accounts, sign-in, refresh rotation, throttling and the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from motcua.v1 import events_pb2
from services.identity.app import registration, signin
from services.identity.providers.base import RefreshTokenReused
from services.identity.store.models import Account, AuditEntry, LocalUser, LoginThrottle, outbox
from services.platform.errors import AlreadyExists, InvalidInput, TooManyRequests, Unauthenticated, Unavailable
from services.platform.principal import Principal

CITIZEN = dict(identity_number="079090004321", full_name="Nguyễn Thị Mai", date_of_birth="1990-02-03",
               email="mai@example.vn", phone="0912345678", password="HoaSen@2026")


async def _audit(ctx, account_id: str) -> list[str]:
    async with ctx.sessions() as session:
        return list(await session.scalars(select(AuditEntry.event).where(AuditEntry.account_id == account_id)
                                          .order_by(AuditEntry.id)))


async def _count(ctx, model) -> int:
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_registered_citizen_signs_in_and_gets_the_contract_claims(identity):
    account = await registration.register_citizen(identity, **CITIZEN)
    tokens = await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])
    jwks = await identity.provider.jwks()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(tokens.access_token, key.key, algorithms=["RS256"], audience="motcua",
                        issuer="http://issuer.test/auth")
    assert claims["sub"] == claims["account_id"] == account.id
    assert (claims["kind"], claims["vl"], claims["roles"], claims["name"]) == ("citizen", 0, [], "Nguyễn Thị Mai")
    assert claims["preferred_username"] == CITIZEN["identity_number"] and claims["nbf"] <= claims["exp"]
    assert tokens.refresh_token and tokens.refresh_expires_in > 0
    assert await _audit(identity, account.id) == ["registered", "login_succeeded"]
    async with identity.sessions() as session:
        row = (await session.execute(select(outbox.c.subject, outbox.c.data))).one()
    envelope = events_pb2.EventEnvelope.FromString(row.data)
    event = events_pb2.AccountChanged()
    envelope.payload.Unpack(event)
    assert row.subject == "identity.account.registered"
    assert (event.email, event.phone, event.full_name, event.email_verified) == (
        "mai@example.vn", "0912345678", "Nguyễn Thị Mai", False)


async def test_one_identity_number_one_account_and_the_409_names_nobody(identity):
    await registration.register_citizen(identity, **CITIZEN)
    with pytest.raises(AlreadyExists) as err:
        await registration.register_citizen(identity, **{**CITIZEN, "full_name": "Người Khác"})
    assert err.value.fields == {"identity_number": "already registered"}
    assert "Mai" not in err.value.message
    assert await _count(identity, Account) == 1 and await _count(identity, LocalUser) == 1


async def test_a_provider_outage_leaves_no_account_behind(identity, monkeypatch):
    async def down(user, password):
        raise Unavailable("Dịch vụ xác thực tạm thời không sẵn sàng.")

    monkeypatch.setattr(identity.provider, "create_user", down)
    with pytest.raises(Unavailable):
        await registration.register_citizen(identity, **CITIZEN)
    assert await _count(identity, Account) == 0 and await _count(identity, AuditEntry) == 0
    async with identity.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(outbox)) == 0


async def test_a_failed_commit_deletes_the_provider_user_again(identity, monkeypatch):
    deleted = []
    real_create, real_delete = identity.provider.create_user, identity.provider.delete_user

    async def create_then_break_commit(user, password):
        await real_create(user, password)
        from services.identity.store.ambient import _current
        session = _current.get()
        # A second account with the same username makes the commit fail after the provider call.
        session.add(Account(id="x" * 36, kind="citizen", username=user.username + "x", identity_number=None,
                            full_name="X", email="", phone="", verification_level=0, agency_code="", roles=[],
                            created_at=None))

    async def track_delete(account_id):
        deleted.append(account_id)
        await real_delete(account_id)

    monkeypatch.setattr(identity.provider, "create_user", create_then_break_commit)
    monkeypatch.setattr(identity.provider, "delete_user", track_delete)
    with pytest.raises(IntegrityError):
        await registration.register_citizen(identity, **CITIZEN)
    assert len(deleted) == 1
    assert await _count(identity, Account) == 0 and await _count(identity, LocalUser) == 0


async def test_unknown_user_and_wrong_password_get_one_answer_and_are_audited(identity):
    account = await registration.register_citizen(identity, **CITIZEN)
    with pytest.raises(Unauthenticated) as wrong:
        await signin.sign_in(identity, username=CITIZEN["identity_number"], password="Sai@mat-khau1",
                             client_address="10.0.0.1")
    with pytest.raises(Unauthenticated) as unknown:
        await signin.sign_in(identity, username="079090009999", password="Sai@mat-khau1", client_address="10.0.0.1")
    assert wrong.value.message == unknown.value.message
    assert await _audit(identity, account.id) == ["registered", "login_failed"]
    async with identity.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.account_id == ""))
    assert entry.event == "login_failed" and "079090009999" not in str(entry.detail)


async def test_ten_failures_a_minute_block_the_account_with_a_growing_wait(identity):
    await registration.register_citizen(identity, **CITIZEN)
    for i in range(10):
        with pytest.raises(Unauthenticated):
            await signin.sign_in(identity, username=CITIZEN["identity_number"], password=f"Sai@mat-khau{i}",
                                 client_address=f"10.0.0.{i}")
    with pytest.raises(TooManyRequests) as blocked:
        await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"],
                             client_address="10.9.9.9")
    first_wait = int(blocked.value.fields["retry_after"])
    assert 50 <= first_wait <= 60
    # The block ends; ten more failures block again for twice as long.
    async with identity.sessions() as session, session.begin():
        await session.execute(update(LoginThrottle).values(blocked_until=datetime.now(UTC) - timedelta(seconds=1),
                                                           window_started_at=datetime.now(UTC) - timedelta(minutes=2)))
    for i in range(10):
        with pytest.raises(Unauthenticated):
            await signin.sign_in(identity, username=CITIZEN["identity_number"], password=f"Sai@mat-khau{i}",
                                 client_address=f"10.1.0.{i}")
    with pytest.raises(TooManyRequests) as again:
        await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])
    assert int(again.value.fields["retry_after"]) > 100


async def test_ten_failures_from_one_address_block_that_address_for_every_account(identity):
    await registration.register_citizen(identity, **CITIZEN)
    for i in range(10):
        with pytest.raises(Unauthenticated):
            await signin.sign_in(identity, username=f"07909000{i:04d}", password="Sai@mat-khau1",
                                 client_address="203.0.113.7")
    with pytest.raises(TooManyRequests):
        await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"],
                             client_address="203.0.113.7")
    tokens = await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"],
                                  client_address="198.51.100.1")
    assert tokens.access_token


async def test_refresh_rotates_and_a_reused_token_ends_the_whole_session(identity):
    account = await registration.register_citizen(identity, **CITIZEN)
    first = await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])
    second = await signin.refresh(identity, refresh_token=first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    with pytest.raises(Unauthenticated) as reused:
        await signin.refresh(identity, refresh_token=first.refresh_token, client_address="10.6.6.6")
    assert isinstance(reused.value, RefreshTokenReused)
    # The thief's replay revoked the family: the legitimate holder's newer token is dead too.
    with pytest.raises(Unauthenticated):
        await signin.refresh(identity, refresh_token=second.refresh_token)
    assert "token_reuse_detected" in await _audit(identity, account.id)
    # Another session of the same person is untouched.
    other = await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])
    assert (await signin.refresh(identity, refresh_token=other.refresh_token)).access_token


async def test_logout_revokes_the_session_and_garbage_is_refused(identity):
    await registration.register_citizen(identity, **CITIZEN)
    tokens = await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])
    await signin.sign_out(identity, refresh_token=tokens.refresh_token)
    with pytest.raises(Unauthenticated):
        await signin.refresh(identity, refresh_token=tokens.refresh_token)
    with pytest.raises(Unauthenticated):
        await signin.refresh(identity, refresh_token="not-a-token")
    with pytest.raises(InvalidInput):
        await signin.refresh(identity, refresh_token="")


async def test_officials_are_created_by_admins_within_their_agency(identity):
    city = Principal(account_id="c", kind="official", roles=("city_admin",), agency_code="000.00.00.H29")
    agency_admin = await registration.create_official(
        identity, city, username="quantri.x", full_name="Võ Thị Hoa", email="", phone="",
        agency_code="068.00.99.H29", roles=["agency_admin"], password="QuanTri@2026")
    admin = Principal(account_id=agency_admin.id, kind="official", roles=("agency_admin",),
                      agency_code="068.00.99.H29")
    clerk = await registration.create_official(
        identity, admin, username="tiepnhan.x", full_name="Trần Bình", email="", phone="",
        agency_code="068.00.99.H29", roles=["reception"], password="TiepNhan@2026")
    assert (clerk.kind, clerk.agency_code, clerk.roles) == ("official", "068.00.99.H29", ["reception"])
    with pytest.raises(Exception) as other_agency:
        await registration.create_official(identity, admin, username="xuly.y", full_name="Lê Cường", email="",
                                           phone="", agency_code="069.00.99.H29", roles=["processing"],
                                           password="XuLy@20262026")
    assert other_agency.value.code.name == "PERMISSION_DENIED"
    with pytest.raises(InvalidInput) as unknown:
        await registration.create_official(identity, city, username="xuly.z", full_name="Lê Cường", email="",
                                           phone="", agency_code="999.99.99.H29", roles=["processing"],
                                           password="XuLy@20262026")
    assert unknown.value.fields == {"agency_code": "unknown agency"}
    updated = await registration.set_official_roles(identity, admin, account_id=clerk.id,
                                                    roles=["reception", "processing"])
    assert updated.roles == ["reception", "processing"]
    assert await _audit(identity, clerk.id) == ["registered", "role_changed", "role_changed"]
    tokens = await signin.sign_in(identity, username="tiepnhan.x", password="TiepNhan@2026")
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert claims["roles"] == ["reception", "processing"] and claims["agency"] == "068.00.99.H29"
