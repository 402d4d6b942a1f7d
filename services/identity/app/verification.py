"""Verification levels and passwords.

Level 1: phone and email confirmed with one-time codes (identity generates the code and keeps its
hash; the notification service delivers it). Level 2: the person's record confirmed by the national
identity source. A password is reset with a code sent to the account's phone or email."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from services.identity.app.context import Identity
from services.identity.app.lookup import account_for_sign_in
from services.identity.app.provider_sync import provider_transaction
from services.identity.app.records import audit, provider_user, publish_change
from services.identity.app.signin import count_failure, refuse_if_blocked, throttle_keys
from services.identity.domain import one_time_codes as otp
from services.identity.domain.validation import password_problem
from services.identity.store import throttles
from services.identity.store.ambient import ambient
from services.identity.store.models import Account, OneTimeCode
from services.platform.errors import FailedPrecondition, InvalidInput, NotFound, TooManyRequests, Unauthenticated
from services.platform.principal import Principal

RESEND_AFTER = timedelta(seconds=60)
CHANNELS = {"phone": ("sms", "verify_phone"), "email": ("email", "verify_email")}
CODE_MESSAGES = {
    "wrong": "Mã xác nhận không đúng.",
    "expired": "Mã xác nhận đã hết hạn, vui lòng yêu cầu mã mới.",
    "used": "Mã xác nhận đã được dùng, vui lòng yêu cầu mã mới.",
    "too_many_attempts": "Nhập sai quá số lần cho phép, vui lòng yêu cầu mã mới.",
    "none": "Chưa có mã xác nhận nào được gửi, vui lòng yêu cầu mã.",
}


def _now() -> datetime:
    return datetime.now(UTC)


async def _own_account(session, principal: Principal) -> Account:
    account = await session.get(Account, principal.account_id)
    if account is None:
        raise NotFound("Không tìm thấy tài khoản.")
    return account


async def _issue_code(ctx: Identity, account: Account, *, purpose: str, channel: str, destination: str,
                      client_address: str = "") -> str:
    """Stores the code's hash, then asks notification to deliver it; returns the masked destination."""
    now = _now()
    code, salt = otp.new_code(), secrets.token_hex(16)
    row = OneTimeCode(id=str(uuid.uuid4()), account_id=account.id, purpose=purpose, channel=channel,
                      destination=destination, salt=salt, code_hash=otp.code_hash(code, salt=salt),
                      expires_at=now + otp.LIFETIME, attempts=0, created_at=now)
    async with ctx.sessions() as session, session.begin():
        last = await session.scalar(select(OneTimeCode).where(
            OneTimeCode.account_id == account.id, OneTimeCode.purpose == purpose).order_by(
            OneTimeCode.created_at.desc()).limit(1))
        if last is not None and now - last.created_at < RESEND_AFTER:
            wait = int((RESEND_AFTER - (now - last.created_at)).total_seconds()) + 1
            raise TooManyRequests(f"Vui lòng đợi {wait} giây trước khi yêu cầu mã mới.",
                                  fields={"retry_after": str(wait)})
        # A new code replaces the old ones.
        await session.execute(update(OneTimeCode).where(OneTimeCode.account_id == account.id,
                                                        OneTimeCode.purpose == purpose,
                                                        OneTimeCode.consumed_at.is_(None)).values(consumed_at=now))
        session.add(row)
        audit(session, account.id, "code_sent", client_address=client_address, purpose=purpose, channel=channel)
    return await ctx.codes.send(account_id=account.id, channel=channel, destination=destination, code=code,
                                purpose=purpose, idempotency_key=row.id,
                                expires_in_seconds=int(otp.LIFETIME.total_seconds()))


async def _check_code(session, account_id: str, purpose: str, typed: str) -> str:
    """'' when the code is right (and now used up); else the reason. Counts the attempt first, with
    one conditional UPDATE: parallel guesses each take one of the five attempts, never more."""
    row = await session.scalar(select(OneTimeCode).where(
        OneTimeCode.account_id == account_id, OneTimeCode.purpose == purpose).order_by(
        OneTimeCode.created_at.desc()).limit(1))
    if row is None:
        return "none"
    now = _now()
    attempts = await session.scalar(
        update(OneTimeCode).where(OneTimeCode.id == row.id, OneTimeCode.attempts < otp.MAX_ATTEMPTS,
                                  OneTimeCode.consumed_at.is_(None))
        .values(attempts=OneTimeCode.attempts + 1).returning(OneTimeCode.attempts)
        .execution_options(synchronize_session=False))
    if attempts is None:
        await session.refresh(row)
        reason = "used" if row.consumed_at is not None else "too_many_attempts"
    else:
        result = otp.check_code(typed=typed or "", salt=row.salt, stored_hash=row.code_hash,
                                expires_at=row.expires_at, attempts=attempts - 1, consumed=False, now=now)
        if result.ok:
            used = await session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id,
                                                                   OneTimeCode.consumed_at.is_(None))
                                         .values(consumed_at=now).execution_options(synchronize_session=False))
            if used.rowcount == 1:
                return ""
            reason = "used"
        else:
            reason = result.reason
    audit(session, account_id, "code_rejected", purpose=purpose, reason=reason)
    return reason


def _code_error(reason: str) -> InvalidInput:
    return InvalidInput(CODE_MESSAGES[reason], fields={"code": reason})


async def start_contact_verification(ctx: Identity, principal: Principal, *, what: str,
                                     client_address: str = "") -> str:
    if what not in CHANNELS:
        raise InvalidInput("Chỉ xác nhận được số điện thoại hoặc thư điện tử.", fields={"channel": "phone or email"})
    async with ctx.sessions() as session:
        account = await _own_account(session, principal)
    destination = account.phone if what == "phone" else account.email
    if not destination:
        raise FailedPrecondition("Tài khoản chưa có thông tin này.", fields={what: "missing"})
    channel, purpose = CHANNELS[what]
    return await _issue_code(ctx, account, purpose=purpose, channel=channel, destination=destination,
                             client_address=client_address)


async def confirm_contact(ctx: Identity, principal: Principal, *, what: str, code: str) -> Account:
    if what not in CHANNELS:
        raise InvalidInput("Chỉ xác nhận được số điện thoại hoặc thư điện tử.", fields={"channel": "phone or email"})
    _, purpose = CHANNELS[what]
    async with provider_transaction(ctx) as tx:
        session = tx.session
        account = await _own_account(session, principal)
        before = provider_user(account)
        reason = await _check_code(session, account.id, purpose, code)
        if not reason:
            if what == "phone":
                account.phone_verified = True
            else:
                account.email_verified = True
            audit(session, account.id, "verified", what=what, level=account.verification_level)
            if account.phone_verified and account.email_verified and account.verification_level < 1:
                account.verification_level = 1
                audit(session, account.id, "verified", level=1)
            account.updated_at = _now()
            await publish_change(session, account, "verified")
            await tx.update_user(account, before)
    if reason:
        raise _code_error(reason)
    ctx.relay.wake()
    return account


async def verify_with_national_source(ctx: Identity, principal: Principal) -> Account:
    """Level 2: name, date of birth and number confirmed by the national identity source."""
    async with ctx.sessions() as session:
        account = await _own_account(session, principal)
    if account.kind != "citizen":
        raise FailedPrecondition("Chỉ tài khoản công dân được xác thực với CSDL quốc gia về dân cư.")
    if account.verification_level >= 2:
        return account
    if account.verification_level < 1:
        raise FailedPrecondition("Cần xác nhận số điện thoại và thư điện tử (mức 1) trước.",
                                 fields={"verification_level": "needs level 1"})
    match = await ctx.national.check(identity_number=account.identity_number or "", full_name=account.full_name,
                                     date_of_birth=account.date_of_birth)
    async with provider_transaction(ctx) as tx:
        session = tx.session
        account = await _own_account(session, principal)
        before = provider_user(account)
        if not match.confirmed:
            audit(session, account.id, "verification_failed", level=2, source=match.source, reason=match.reason)
        else:
            account.verification_level = 2
            account.updated_at = _now()
            audit(session, account.id, "verified", level=2, source=match.source)
            await publish_change(session, account, "verified")
            await tx.update_user(account, before)
    if not match.confirmed:
        raise FailedPrecondition("Thông tin tài khoản không khớp với cơ sở dữ liệu quốc gia về dân cư.",
                                 fields={"identity_number": match.reason})
    ctx.relay.wake()
    return account


async def start_password_reset(ctx: Identity, *, username: str, client_address: str = "") -> None:
    """Answers the same whether or not the account exists (nobody learns who has an account)."""
    if not username or len(username) > 254:
        raise InvalidInput("Cần tên đăng nhập.", fields={"username": "required"})
    async with ctx.sessions() as session:
        account = await account_for_sign_in(session, username.strip().lower())
    if account is None or not account.enabled or not (account.phone or account.email):
        return
    channel, destination = ("sms", account.phone) if account.phone else ("email", account.email)
    try:
        await _issue_code(ctx, account, purpose="reset_password", channel=channel, destination=destination,
                          client_address=client_address)
    except TooManyRequests:
        return


async def reset_password(ctx: Identity, *, username: str, code: str, new_password: str,
                         client_address: str = "") -> None:
    """Wrong codes count against the address like failed sign-ins (besides the code's own five
    attempts), and every answer before the code is right is the same whether or not the account exists."""
    if not username or len(username) > 254:
        raise InvalidInput("Cần tên đăng nhập.", fields={"username": "required"})
    name = username.strip().lower()
    # The policy is checked against what was typed, before the account is looked up: a weak
    # password is refused the same way for a name that has no account.
    weak = password_problem(new_password or "", personal=(name,))
    if weak:
        raise InvalidInput(weak, fields={"new_password": weak})
    now = _now()
    keys = throttle_keys(f"reset:{name[:200]}", client_address)
    await refuse_if_blocked(ctx, keys, now)
    async with ctx.sessions() as session:
        found = await account_for_sign_in(session, name)
    async with ctx.sessions() as session, session.begin():
        reason = await _check_code(session, found.id, "reset_password", code) if found else "wrong"
        if reason == "none":  # no code was asked for: answered as for a name without an account
            reason = "wrong"
        if not reason:
            weak = password_problem(new_password, personal=(found.username, found.identity_number or ""))
            if weak:  # the code was right: the owner may learn why (the transaction gives the code back)
                raise InvalidInput(weak, fields={"new_password": weak})
            audit(session, found.id, "password_changed", client_address=client_address, by="reset")
            await throttles.clear(session, f"account:{found.id}")
            with ambient(session):
                await ctx.provider.set_password(found.id, new_password)
    if reason:
        async with ctx.sessions() as session, session.begin():
            await count_failure(session, keys, now)
            audit(session, found.id if found else "", "password_reset_failed", client_address=client_address,
                  reason=reason)
        raise _code_error(reason)


async def change_password(ctx: Identity, principal: Principal, *, current_password: str, new_password: str,
                          client_address: str = "") -> None:
    """Proving the current password is a sign-in: throttled by the same keys, failures audited."""
    async with ctx.sessions() as session:
        account = await _own_account(session, principal)
    now = _now()
    keys = throttle_keys(f"account:{account.id}", client_address)
    await refuse_if_blocked(ctx, keys, now)
    try:
        proof = await ctx.provider.password_grant(account.username, current_password or "")
    except Unauthenticated:
        async with ctx.sessions() as session, session.begin():
            await count_failure(session, keys, now)
            audit(session, account.id, "password_change_failed", client_address=client_address)
        raise InvalidInput("Mật khẩu hiện tại không đúng.", fields={"current_password": "wrong"}) from None
    await ctx.provider.logout(proof.refresh_token)
    weak = password_problem(new_password or "", personal=(account.username, account.identity_number or ""))
    if weak:
        raise InvalidInput(weak, fields={"new_password": weak})
    async with ctx.sessions() as session, session.begin():
        audit(session, account.id, "password_changed", client_address=client_address, by="owner")
        with ambient(session):
            await ctx.provider.set_password(account.id, new_password)
