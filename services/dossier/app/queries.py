"""Reading dossiers, each through the access rule."""

from __future__ import annotations

import hmac

from sqlalchemy import func, select

from services.dossier.app.access import FINAL_CODES, can_see, not_found, require_official
from services.dossier.app.context import DossierContext
from services.dossier.domain import codes
from services.dossier.store.models import Dossier, LogEntry
from services.platform.errors import NotFound
from services.platform.principal import Principal

MAX_PAGE = 100


def _page(limit: int) -> int:
    return max(1, min(limit or 20, MAX_PAGE))


async def get_dossier(ctx: DossierContext, principal: Principal, code: str) -> Dossier:
    async with ctx.reads() as session:
        dossier = await session.get(Dossier, code)
    if dossier is None or not can_see(principal, dossier):
        raise not_found(code)
    return dossier


async def list_mine(ctx: DossierContext, principal: Principal, *, offset: int, limit: int):
    where = Dossier.applicant_id == principal.account_id
    async with ctx.reads() as session:
        total = await session.scalar(select(func.count()).select_from(Dossier).where(where))
        rows = await session.scalars(
            select(Dossier).where(where).order_by(Dossier.submitted_at.desc(), Dossier.code.desc())
            .offset(offset).limit(_page(limit))
        )
        return list(rows), int(total or 0)


async def dossier_log(ctx: DossierContext, principal: Principal, code: str) -> list[LogEntry]:
    await get_dossier(ctx, principal, code)
    async with ctx.reads() as session:
        rows = await session.scalars(select(LogEntry).where(LogEntry.dossier_code == code).order_by(LogEntry.seq))
        return list(rows)


async def track(ctx: DossierContext, code: str, secret: str) -> Dossier:
    """Public tracking needs the secret from the receipt; a wrong one looks like no dossier."""
    dossier = None
    if codes.looks_like_code(code):  # a malformed code costs no database read
        async with ctx.reads() as session:
            dossier = await session.get(Dossier, code)
    if dossier is None or not hmac.compare_digest(dossier.tracking_secret.encode(), secret.upper().encode()):
        raise NotFound("Không tìm thấy hồ sơ với mã và mã tra cứu này.")
    return dossier


async def work_queue(ctx: DossierContext, principal: Principal, *, status_code: int, offset: int, limit: int):
    """The agency's open dossiers, the most urgent first (no due date yet: newest filings last)."""
    require_official(principal)
    where = [Dossier.agency_code == principal.agency_code]
    if status_code:
        where.append(Dossier.status_code == status_code)
    else:
        where.append(Dossier.status_code.not_in(FINAL_CODES))
    async with ctx.reads() as session:
        total = await session.scalar(select(func.count()).select_from(Dossier).where(*where))
        rows = await session.scalars(
            select(Dossier).where(*where)
            .order_by(Dossier.due_at.is_(None), Dossier.due_at, Dossier.submitted_at, Dossier.code)
            .offset(offset).limit(_page(limit))
        )
        return list(rows), int(total or 0)
