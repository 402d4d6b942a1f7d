"""People who act for a business or organisation (principal.acting_for).

The gateway signs acting_for into the principal only after ``confirm`` says the link exists, so a
person cannot file in the name of a body they do not represent. Only confirmed links count: a
registrant's claim the business registry did not confirm (``status == "unconfirmed"``) gives no
right to act for the body nor to link others to it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from services.identity.app.context import Identity
from services.identity.app.records import audit
from services.identity.domain.identity_numbers import cccd_problem
from services.identity.store.models import Account, Representation
from services.platform.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from services.platform.principal import Principal

ROLES = ("legal_representative", "authorised")


async def list_for_person(ctx: Identity, person_id: str) -> list[tuple[Representation, Account]]:
    async with ctx.sessions() as session:
        rows = await session.execute(
            select(Representation, Account).join(Account, Account.id == Representation.body_id)
            .where(Representation.person_id == person_id, Representation.revoked_at.is_(None),
                   Representation.status == "confirmed", Account.enabled.is_(True)).order_by(Account.full_name))
        return [(link, body) for link, body in rows]


async def confirm(ctx: Identity, principal: Principal, body_id: str) -> tuple[Representation, Account]:
    """The caller's live link to ``body_id``; NotFound otherwise (nobody learns which bodies exist)."""
    for link, body in await list_for_person(ctx, principal.account_id):
        if body.id == body_id:
            return link, body
    raise NotFound("Bạn không đại diện cho tổ chức này.", fields={"acting_for": "not a representative"})


async def _legal_representative_of(session, principal: Principal, body_id: str) -> Account:
    link = await session.scalar(select(Representation).where(
        Representation.body_id == body_id, Representation.person_id == principal.account_id,
        Representation.role == "legal_representative", Representation.revoked_at.is_(None),
        Representation.status == "confirmed"))
    body = await session.get(Account, body_id)
    if link is None or body is None:
        raise NotFound("Không tìm thấy tổ chức.")
    return body


async def add(ctx: Identity, principal: Principal, *, body_id: str, identity_number: str, role: str) -> Representation:
    """The legal representative links another citizen (by CCCD) as authorised person or co-representative."""
    if role not in ROLES:
        raise InvalidInput("Vai trò phải là legal_representative hoặc authorised.", fields={"role": "unknown"})
    problem = cccd_problem(identity_number, None)
    if problem:
        raise InvalidInput(problem, fields={"identity_number": problem})
    now = datetime.now(UTC)
    async with ctx.sessions() as session, session.begin():
        body = await _legal_representative_of(session, principal, body_id)
        person = await session.scalar(select(Account).where(Account.identity_number == identity_number,
                                                            Account.kind == "citizen"))
        if person is None:
            raise NotFound("Người này chưa có tài khoản công dân.", fields={"identity_number": "no account"})
        link = await session.scalar(select(Representation).where(Representation.body_id == body.id,
                                                                 Representation.person_id == person.id))
        if link is not None and link.revoked_at is None:
            raise AlreadyExists("Người này đã được liên kết với tổ chức.", fields={"identity_number": "linked"})
        if link is None:
            link = Representation(id=str(uuid.uuid4()), body_id=body.id, person_id=person.id, role=role,
                                  status="confirmed", created_at=now, created_by=principal.account_id)
            session.add(link)
        else:
            link.role, link.revoked_at, link.created_at, link.created_by = role, None, now, principal.account_id
            link.status = "confirmed"
        for subject in (body.id, person.id):
            audit(session, subject, "representative_added", actor_id=principal.account_id, body_id=body.id,
                  person_id=person.id, role=role)
    return link


async def remove(ctx: Identity, principal: Principal, *, body_id: str, person_id: str) -> None:
    async with ctx.sessions() as session, session.begin():
        await _legal_representative_of(session, principal, body_id)
        if person_id == principal.account_id:
            raise PermissionDenied("Người đại diện không tự gỡ liên kết của mình.")
        link = await session.scalar(select(Representation).where(
            Representation.body_id == body_id, Representation.person_id == person_id,
            Representation.revoked_at.is_(None)))
        if link is None:
            raise NotFound("Không tìm thấy liên kết.")
        link.revoked_at = datetime.now(UTC)
        for subject in (body_id, person_id):
            audit(session, subject, "representative_removed", actor_id=principal.account_id, body_id=body_id,
                  person_id=person_id)
