"""One-time codes, verification levels, password reset, representations, the data export,
key rotation and ResolveApplicant's scope check, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import select, update

from services.identity.app import personal_data, registration, representations, signin, verification
from services.identity.app.applicants import resolve_applicant, verifier_for
from services.identity.settings import MachineClientSeed
from services.identity.store.models import OneTimeCode
from services.platform.errors import FailedPrecondition, InvalidInput, NotFound, PermissionDenied, TooManyRequests
from services.platform.errors import Unauthenticated
from services.platform.principal import Principal

CITIZEN = dict(identity_number="001195012345", full_name="Lê Thị Thu", date_of_birth="1995-01-01",
               email="thu@example.vn", phone="0987654321", password="HoaMai@2026")


async def _citizen(ctx, **changes):
    account = await registration.register_citizen(ctx, **{**CITIZEN, **changes})
    return account, Principal(account_id=account.id, kind="citizen", name=account.full_name)


async def test_phone_and_email_codes_lift_the_account_to_level_one_and_only_hashes_are_kept(identity):
    account, me = await _citizen(identity)
    masked = await verification.start_contact_verification(identity, me, what="phone")
    assert "0987654321" not in masked
    code = identity.codes.last("verify_phone")
    async with identity.sessions() as session:
        row = await session.scalar(select(OneTimeCode))
    assert code not in (row.code_hash, row.salt) and row.destination == "0987654321"
    with pytest.raises(InvalidInput) as wrong:
        await verification.confirm_contact(identity, me, what="phone", code="999999" if code != "999999" else "1")
    assert wrong.value.fields == {"code": "wrong"}
    after_phone = await verification.confirm_contact(identity, me, what="phone", code=code)
    assert after_phone.phone_verified and after_phone.verification_level == 0
    with pytest.raises(InvalidInput) as used:
        await verification.confirm_contact(identity, me, what="phone", code=code)
    assert used.value.fields == {"code": "used"}
    await verification.start_contact_verification(identity, me, what="email")
    after_both = await verification.confirm_contact(identity, me, what="email",
                                                    code=identity.codes.last("verify_email"))
    assert after_both.verification_level == 1
    tokens = await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])
    assert jwt.decode(tokens.access_token, options={"verify_signature": False})["vl"] == 1
    events = [e.event for e in await personal_data.list_audit(identity, me)]
    assert events.count("verified") == 3 and "code_rejected" in events


async def test_a_code_dies_after_five_wrong_tries_or_five_minutes_and_resends_wait_a_minute(identity):
    _, me = await _citizen(identity)
    await verification.start_contact_verification(identity, me, what="phone")
    with pytest.raises(TooManyRequests):
        await verification.start_contact_verification(identity, me, what="phone")
    code = identity.codes.last("verify_phone")
    for _ in range(5):
        with pytest.raises(InvalidInput):
            await verification.confirm_contact(identity, me, what="phone", code="x")
    with pytest.raises(InvalidInput) as blocked:
        await verification.confirm_contact(identity, me, what="phone", code=code)
    assert blocked.value.fields == {"code": "too_many_attempts"}
    async with identity.sessions() as session, session.begin():
        await session.execute(update(OneTimeCode).values(attempts=0,
                                                         expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    with pytest.raises(InvalidInput) as expired:
        await verification.confirm_contact(identity, me, what="phone", code=code)
    assert expired.value.fields == {"code": "expired"}


async def test_level_two_needs_level_one_and_the_national_source(identity):
    account, me = await _citizen(identity)
    with pytest.raises(FailedPrecondition):
        await verification.verify_with_national_source(identity, me)
    for what, purpose in (("phone", "verify_phone"), ("email", "verify_email")):
        await verification.start_contact_verification(identity, me, what=what)
        await verification.confirm_contact(identity, me, what=what, code=identity.codes.last(purpose))
    verified = await verification.verify_with_national_source(identity, me)
    assert verified.verification_level == 2


async def test_a_password_reset_by_code_replaces_the_password_and_ends_sessions(identity):
    account, me = await _citizen(identity)
    session_before = await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])
    await verification.start_password_reset(identity, username=CITIZEN["identity_number"])
    await verification.start_password_reset(identity, username="079090000000")  # nobody: same silent answer
    assert [s["destination"] for s in identity.codes.sent] == ["0987654321"]
    with pytest.raises(InvalidInput) as weak:
        await verification.reset_password(identity, username=CITIZEN["identity_number"],
                                          code=identity.codes.last("reset_password"), new_password="short")
    assert set(weak.value.fields) == {"new_password"}
    await verification.reset_password(identity, username=CITIZEN["identity_number"],
                                      code=identity.codes.last("reset_password"), new_password="MoiMoi@2027")
    with pytest.raises(Unauthenticated):
        await signin.sign_in(identity, username=CITIZEN["identity_number"], password=CITIZEN["password"])
    assert await signin.sign_in(identity, username=CITIZEN["identity_number"], password="MoiMoi@2027")
    with pytest.raises(Unauthenticated):
        await signin.refresh(identity, refresh_token=session_before.refresh_token)
    assert "password_changed" in [e.event for e in await personal_data.list_audit(identity, me)]


async def test_a_business_is_linked_to_its_representative_and_others_are_refused(identity):
    owner, owner_p = await _citizen(identity)
    other, other_p = await _citizen(identity, identity_number="079090004321", date_of_birth="1990-02-03",
                                    email="b@example.vn", phone="")
    body = await registration.register_body(identity, owner_p, kind="business", tax_code="0318888806",
                                            name="Công ty TNHH An Phát", address="12 Lê Lợi", email="", phone="")
    link, found = await representations.confirm(identity, owner_p, body.id)
    assert (link.role, found.identity_number) == ("legal_representative", "0318888806")
    with pytest.raises(NotFound):
        await representations.confirm(identity, other_p, body.id)
    with pytest.raises(NotFound):
        await representations.add(identity, other_p, body_id=body.id, identity_number=owner.identity_number,
                                  role="authorised")
    await representations.add(identity, owner_p, body_id=body.id, identity_number=other.identity_number,
                              role="authorised")
    assert (await representations.confirm(identity, other_p, body.id))[0].role == "authorised"
    await representations.remove(identity, owner_p, body_id=body.id, person_id=other.id)
    with pytest.raises(NotFound):
        await representations.confirm(identity, other_p, body.id)
    with pytest.raises(PermissionDenied):
        await registration.register_body(identity, Principal(account_id="x", kind="official"), kind="business",
                                         tax_code="0100109106", name="ABC", address="1 Lê Lợi", email="", phone="")


async def test_the_export_holds_the_persons_data_and_links_but_no_secrets(identity):
    account, me = await _citizen(identity)
    await registration.register_body(identity, me, kind="organisation", tax_code="0100109106",
                                     name="Hội Khuyến học Phường", address="5 Lê Duẩn", email="", phone="")
    data = await personal_data.export(identity, me)
    text = json.dumps(data, ensure_ascii=False)
    assert data["account"]["identity_number"] == CITIZEN["identity_number"]
    assert data["representations"][0]["body_name"] == "Hội Khuyến học Phường"
    assert [e["event"] for e in data["audit_log"]] == ["registered", "representative_added"]
    assert "argon2" not in text and CITIZEN["password"] not in text
    assert (await personal_data.list_audit(identity, me))[0].event == "data_exported"


async def test_resolve_applicant_needs_the_scope(identity):
    account, _ = await _citizen(identity)
    await identity.provider.seed_clients([
        MachineClientSeed(client_id="commune-a", secret="bi-mat-a-2026", scopes=["motcua.applicant.resolve"]),
        MachineClientSeed(client_id="commune-b", secret="bi-mat-b-2026", scopes=[])])
    bearer = verifier_for(identity.provider)
    good = await signin.machine_token(identity, client_id="commune-a", client_secret="bi-mat-a-2026")
    found = await resolve_applicant(identity, bearer, authorization=f"Bearer {good.access_token}",
                                    identity_number=CITIZEN["identity_number"])
    assert found.id == account.id
    scopeless = await signin.machine_token(identity, client_id="commune-b", client_secret="bi-mat-b-2026")
    with pytest.raises(PermissionDenied):
        await resolve_applicant(identity, bearer, authorization=f"Bearer {scopeless.access_token}",
                                identity_number=CITIZEN["identity_number"])
    with pytest.raises(Unauthenticated):
        await resolve_applicant(identity, bearer, authorization="", identity_number=CITIZEN["identity_number"])
    with pytest.raises(Unauthenticated):
        await signin.machine_token(identity, client_id="commune-a", client_secret="sai")
    with pytest.raises(InvalidInput):
        await resolve_applicant(identity, bearer, authorization=f"Bearer {good.access_token}",
                                identity_number="12<script>")


async def test_a_new_key_is_published_before_it_signs_and_the_old_one_outlives_its_tokens(identity):
    provider = identity.provider
    old_kid = provider.keys.signing_key().kid
    now = datetime.now(UTC)
    rotation = timedelta(days=provider.settings.key_rotation_days)
    # Just before the rotation is due, the next key appears in the JWKS but does not sign yet.
    await provider.maintain_keys(now + rotation - timedelta(seconds=provider.settings.key_publish_lead_seconds))
    kids = [k["kid"] for k in (await provider.jwks())["keys"]]
    assert len(kids) == 2 and old_kid in kids
    assert provider.keys.signing_key(now).kid == old_kid
    new_kid = next(k for k in kids if k != old_kid)
    # Once active it signs; the old key stays published while its tokens may live.
    after = now + rotation + timedelta(seconds=1)
    await provider.maintain_keys(after)
    assert provider.keys.signing_key(after).kid == new_kid
    assert old_kid in [k["kid"] for k in (await provider.jwks())["keys"]]
    # After the longest token lifetime the old key is retired.
    await provider.maintain_keys(after + timedelta(seconds=provider.settings.access_token_seconds + 120))
    assert [k["kid"] for k in (await provider.jwks())["keys"]] == [new_kid]
