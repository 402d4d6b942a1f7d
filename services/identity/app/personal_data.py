"""A person's own data: view, export (JSON) and the account audit log.

Decree 13/2023/NĐ-CP on personal data protection gives the data subject the right to access and
obtain their data; the export holds everything identity keeps about the person, except secrets
(password hashes, code hashes, token hashes)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from services.identity.app.context import Identity
from services.identity.app.records import audit
from services.identity.store.models import Account, AuditEntry, Representation
from services.platform.errors import NotFound
from services.platform.principal import Principal

MAX_AUDIT_PAGE = 100


async def get_account(ctx: Identity, principal: Principal, account_id: str = "") -> Account:
    wanted = account_id or principal.account_id
    async with ctx.sessions() as session:
        account = await session.get(Account, wanted)
    if account is None or not may_read(principal, account):
        # The same answer whether the account is missing or someone else's.
        raise NotFound("Không tìm thấy tài khoản.")
    return account


def may_read(principal: Principal, account: Account) -> bool:
    """A person reads their own account and the body they act for; a city admin or operator
    any account; an agency admin the officials of their own agency. Nobody else reads a
    citizen's personal data through this call (officials see applicants through dossiers)."""
    if account.id in (principal.account_id, principal.acting_for):
        return True
    if not principal.is_official:
        return False
    if principal.has_role("city_admin", "operator"):
        return True
    return (principal.has_role("agency_admin") and account.kind == "official"
            and bool(principal.agency_code) and account.agency_code == principal.agency_code)


def account_dict(a: Account) -> dict:
    return {
        "id": a.id, "kind": a.kind, "username": a.username, "identity_number": a.identity_number,
        "full_name": a.full_name, "date_of_birth": a.date_of_birth.isoformat() if a.date_of_birth else None,
        "address": a.address, "email": a.email, "email_verified": a.email_verified, "phone": a.phone,
        "phone_verified": a.phone_verified, "verification_level": a.verification_level,
        "agency_code": a.agency_code, "roles": list(a.roles or []), "locale": a.locale,
        "created_at": a.created_at.isoformat(), "updated_at": a.updated_at.isoformat() if a.updated_at else None,
    }


def audit_dict(e: AuditEntry) -> dict:
    return {"id": e.id, "event": e.event, "at": e.at.isoformat(), "actor_id": e.actor_id,
            "client_address": e.client_address, "detail": e.detail or {}}


async def list_audit(ctx: Identity, principal: Principal, *, before_id: int = 0,
                     page_size: int = 50) -> list[AuditEntry]:
    page_size = max(1, min(page_size, MAX_AUDIT_PAGE))
    query = select(AuditEntry).where(AuditEntry.account_id == principal.account_id)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    async with ctx.sessions() as session:
        return list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(page_size)))


async def export(ctx: Identity, principal: Principal, *, client_address: str = "") -> dict:
    async with ctx.sessions() as session, session.begin():
        account = await session.get(Account, principal.account_id)
        if account is None:
            raise NotFound("Không tìm thấy tài khoản.")
        links = list(await session.execute(
            select(Representation, Account).join(Account, Account.id == Representation.body_id)
            .where(Representation.person_id == account.id)))
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.account_id == account.id)
                                             .order_by(AuditEntry.id)))
        audit(session, account.id, "data_exported", client_address=client_address)
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "legal_basis": "Nghị định 13/2023/NĐ-CP về bảo vệ dữ liệu cá nhân",
        "controller": "motcua — identity",
        "account": account_dict(account),
        "representations": [
            {"body_id": body.id, "body_kind": body.kind, "body_name": body.full_name, "tax_code": body.identity_number,
             "role": link.role, "since": link.created_at.isoformat(),
             "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None}
            for link, body in links
        ],
        "audit_log": [audit_dict(e) for e in entries],
    }
