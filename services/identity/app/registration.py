"""Registering accounts: citizens themselves, businesses and organisations by their legal
representative, officials by an admin. One identity number, one account.

Register is all or nothing across the database and the provider: the provider user is created
inside the transaction's scope and deleted again (compensation) if the commit fails."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.identity.app.context import Identity
from services.identity.app.provider_sync import provider_transaction
from services.identity.app.records import audit, provider_user, publish_change
from services.identity.domain.identity_numbers import normal_tax_code
from services.identity.domain.officials import may_manage
from services.identity.domain.validation import (
    check_body_registration,
    check_official,
    check_registration,
    roles_problem_of,
    tidy,
)
from services.identity.store import throttles
from services.identity.store.ambient import ambient
from services.identity.store.models import Account, AuditEntry, Representation
from services.platform.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied, TooManyRequests
from services.platform.logging import get_logger
from services.platform.principal import Principal

log = get_logger("identity.registration")

TAKEN = "Số định danh này đã có tài khoản. Vui lòng đăng nhập hoặc khôi phục mật khẩu."
REGISTRATION_WINDOW = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


async def _create(ctx: Identity, account: Account, *, password: str | None, extra: list, actor_id: str,
                  client_address: str, taken_field: str) -> Account:
    """Account, links, audit entry and event in one transaction; the provider user within it."""
    created_in_provider = False
    try:
        async with ctx.sessions() as session, session.begin():
            session.add(account)
            try:
                await session.flush()
            except IntegrityError as exc:
                # Say that the number is taken, never by whom.
                raise AlreadyExists(TAKEN if taken_field != "username" else "Tên đăng nhập đã được dùng.",
                                    fields={taken_field: "already registered"}) from exc
            for row in extra:
                session.add(row)
            audit(session, account.id, "registered", actor_id=actor_id, client_address=client_address,
                  kind=account.kind)
            if account.kind == "official":
                audit(session, account.id, "role_changed", actor_id=actor_id, old=[], new=list(account.roles))
                # The admin's own log shows whom they created.
                audit(session, actor_id, "official_created", actor_id=actor_id, official_id=account.id,
                      agency_code=account.agency_code, roles=list(account.roles))
            await publish_change(session, account, "registered")
            if password is not None:
                with ambient(session):
                    await ctx.provider.create_user(provider_user(account), password)
                created_in_provider = True
    except BaseException:
        if created_in_provider:
            await _compensate(ctx, account.id)
        raise
    ctx.relay.wake()
    return account


async def _compensate(ctx: Identity, account_id: str) -> None:
    try:
        await ctx.provider.delete_user(account_id)
    except Exception:
        # The operator removes it by hand; the account row does not exist, so nobody can use it.
        log.exception("provider_compensation_failed", account_id=account_id)


async def _count_registration(ctx: Identity, client_address: str) -> None:
    """At most ``registrations_per_address_hour`` attempts an hour from one client address, counted
    (and committed) before the attempt, so probing which numbers have accounts cannot go in bulk."""
    if not client_address:
        return
    now = _now()
    async with ctx.sessions() as session, session.begin():
        state = await throttles.count(session, f"register:{client_address[:64]}", now, window=REGISTRATION_WINDOW)
    if state.failures > ctx.settings.registrations_per_address_hour:
        wait = max(1, int((state.window_started_at + REGISTRATION_WINDOW - now).total_seconds()) + 1)
        raise TooManyRequests(f"Đăng ký quá nhiều lần từ một địa chỉ. Vui lòng thử lại sau {wait} giây.",
                              fields={"retry_after": str(wait)})


async def register_citizen(ctx: Identity, *, identity_number: str, full_name: str, date_of_birth: str, email: str,
                           phone: str, password: str, client_address: str = "") -> Account:
    await _count_registration(ctx, client_address)
    born = check_registration(identity_number=identity_number, full_name=full_name, date_of_birth=date_of_birth,
                              email=email, phone=phone, password=password)
    account = Account(id=str(uuid.uuid4()), kind="citizen", username=identity_number,
                      identity_number=identity_number, full_name=tidy(full_name), date_of_birth=born,
                      email=email.lower(), phone=phone, email_verified=False, phone_verified=False,
                      verification_level=0, agency_code="", roles=[], enabled=True, locale="vi",
                      address="", created_at=_now())
    return await _create(ctx, account, password=password, extra=[], actor_id=account.id,
                         client_address=client_address, taken_field="identity_number")


async def register_body(ctx: Identity, principal: Principal, *, kind: str, tax_code: str, name: str,
                        address: str, email: str, phone: str, client_address: str = "") -> Account:
    """A business or organisation, registered by the person who claims to be its legal representative.
    It has no password: people linked to it act for it after choosing it in the portal.

    The claim is checked with the business registry. An unconfirmed claim still creates the body, but
    its link gives no right to act for it; when the real representative (a confirmed claim) registers
    the same tax code later, their claim replaces every unconfirmed one and takes over the body."""
    if kind not in ("business", "organisation"):
        raise InvalidInput("Loại tài khoản phải là doanh nghiệp hoặc tổ chức.", fields={"kind": "unknown"})
    if principal.kind != "citizen" or principal.acting_for:
        raise PermissionDenied("Người đại diện theo pháp luật đăng ký bằng tài khoản công dân của mình.")
    check_body_registration(tax_code=tax_code, name=name, address=address, email=email, phone=phone)
    await _count_registration(ctx, client_address)
    number = normal_tax_code(tax_code)
    async with ctx.sessions() as session:
        person = await session.get(Account, principal.account_id)
        existing = await session.scalar(select(Account.id).where(Account.identity_number == number))
    if person is None:
        raise NotFound("Không tìm thấy tài khoản.")
    claim = await ctx.business_registry.check(tax_code=number, representative_number=person.identity_number or "")
    status = "confirmed" if claim.confirmed else "unconfirmed"
    if existing is not None:
        if not claim.confirmed:
            raise AlreadyExists(TAKEN, fields={"tax_code": "already registered"})
        return await _take_over(ctx, principal, existing, kind=kind, name=name, address=address, email=email,
                                phone=phone, source=claim.source, client_address=client_address)
    now = _now()
    account = Account(id=str(uuid.uuid4()), kind=kind, username=f"{kind}:{number}", identity_number=number,
                      full_name=tidy(name), address=tidy(address), email=email.lower(), phone=phone,
                      email_verified=False, phone_verified=False, verification_level=0, agency_code="",
                      roles=[], enabled=True, locale="vi", created_at=now)
    link = Representation(id=str(uuid.uuid4()), body_id=account.id, person_id=principal.account_id,
                          role="legal_representative", status=status, created_at=now, created_by=principal.account_id)
    # The person's own log shows the link too (the body's shows its registration).
    person_entry = AuditEntry(account_id=principal.account_id, event="representative_added",
                              actor_id=principal.account_id, client_address=client_address[:64],
                              detail={"body_id": account.id, "role": "legal_representative", "status": status,
                                      "source": claim.source}, at=now)
    return await _create(ctx, account, password=None, extra=[link, person_entry], actor_id=principal.account_id,
                         client_address=client_address, taken_field="tax_code")


async def _take_over(ctx: Identity, principal: Principal, body_id: str, *, kind: str, name: str, address: str,
                     email: str, phone: str, source: str, client_address: str) -> Account:
    """A confirmed claim to a body nobody represents with confirmation yet: the unconfirmed links
    are revoked and the body's details are the confirmed representative's."""
    now = _now()
    async with ctx.sessions() as session, session.begin():
        # The body's row lock serialises two confirmed claims arriving together.
        body = await session.scalar(select(Account).where(Account.id == body_id).with_for_update())
        links = list(await session.scalars(select(Representation).where(Representation.body_id == body_id)))
        live = [link for link in links if link.revoked_at is None]
        if body is None or body.kind != kind or any(link.status == "confirmed" for link in live):
            raise AlreadyExists(TAKEN, fields={"tax_code": "already registered"})
        for link in live:
            link.revoked_at = now
            audit(session, link.person_id, "representative_replaced", actor_id=principal.account_id,
                  client_address=client_address, body_id=body_id)
        mine = next((link for link in links if link.person_id == principal.account_id), None)
        if mine is None:
            session.add(Representation(id=str(uuid.uuid4()), body_id=body_id, person_id=principal.account_id,
                                       role="legal_representative", status="confirmed", created_at=now,
                                       created_by=principal.account_id))
        else:
            mine.role, mine.status, mine.revoked_at = "legal_representative", "confirmed", None
            mine.created_at, mine.created_by = now, principal.account_id
        body.full_name, body.address, body.email, body.phone = tidy(name), tidy(address), email.lower(), phone
        body.updated_at = now
        for subject in (body_id, principal.account_id):
            audit(session, subject, "representative_added", actor_id=principal.account_id,
                  client_address=client_address, body_id=body_id, person_id=principal.account_id,
                  role="legal_representative", status="confirmed", source=source, replaced=len(live))
        await publish_change(session, body, "updated")
    ctx.relay.wake()
    return body


async def create_official(ctx: Identity, principal: Principal, *, username: str, full_name: str, email: str,
                          phone: str, agency_code: str, roles: list[str], password: str) -> Account:
    """By a city admin (any agency) or an agency admin (their own agency)."""
    if not principal.has_role("city_admin", "agency_admin"):
        raise PermissionDenied("Chỉ quản trị viên mới tạo được tài khoản cán bộ.")
    username = username.strip().lower()
    check_official(username=username, full_name=full_name, email=email, phone=phone, roles=roles,
                   password=password)
    if not may_manage(admin_roles=principal.roles, admin_agency=principal.agency_code, agency_code=agency_code,
                      roles=roles):
        raise PermissionDenied("Bạn chỉ quản lý cán bộ của đơn vị mình, với các vai trò được phép.",
                               fields={"agency_code": "outside your agency", "roles": "not allowed"})
    await ctx.agencies.check_agency(agency_code)
    account = Account(id=str(uuid.uuid4()), kind="official", username=username, identity_number=None,
                      full_name=tidy(full_name), email=email.lower(), phone=phone, email_verified=False,
                      phone_verified=False, verification_level=0, agency_code=agency_code, roles=list(roles),
                      enabled=True, locale="vi", address="", created_at=_now())
    return await _create(ctx, account, password=password, extra=[], actor_id=principal.account_id,
                         client_address="", taken_field="username")


async def set_official_roles(ctx: Identity, principal: Principal, *, account_id: str, roles: list[str]) -> Account:
    problem = roles_problem_of(roles)
    if problem:
        raise InvalidInput(problem, fields={"roles": problem})
    async with provider_transaction(ctx) as tx:
        session = tx.session
        account = await session.get(Account, account_id)
        # Another agency's official is invisible to an agency admin: 404, not 403.
        if account is None or account.kind != "official" or not may_manage(
                admin_roles=principal.roles, admin_agency=principal.agency_code, agency_code=account.agency_code,
                roles=list(account.roles or [])):
            raise NotFound("Không tìm thấy cán bộ.")
        if not may_manage(admin_roles=principal.roles, admin_agency=principal.agency_code,
                          agency_code=account.agency_code, roles=roles):
            raise PermissionDenied("Bạn không được cấp các vai trò này.", fields={"roles": "not allowed"})
        before = provider_user(account)
        old = list(account.roles or [])
        account.roles = list(roles)
        account.updated_at = _now()
        audit(session, account.id, "role_changed", actor_id=principal.account_id, old=old, new=list(roles))
        await publish_change(session, account, "roles_changed")
        await tx.update_user(account, before)
    ctx.relay.wake()
    return account
