"""Reading the catalogue: one procedure (the version in force, or a pinned one), its
versions, agencies, the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.domain.versions import VersionState, current
from services.catalogue.store.models import Agency, AuditEntry, Procedure
from services.platform.errors import InvalidInput, NotFound

MAX_PAGE = 100


def now() -> datetime:
    return datetime.now(UTC)


def state(p: Procedure) -> VersionState:
    return VersionState(p.version, p.status, p.effective_from, p.effective_to)


async def versions_of(session: AsyncSession, code: str) -> list[Procedure]:
    rows = await session.scalars(select(Procedure).where(Procedure.code == code).order_by(Procedure.version))
    return list(rows)


async def get_procedure(session: AsyncSession, code: str, version: int = 0) -> Procedure:
    """Version 0: the published version in force now; version N: that version, whatever its
    status (a dossier filed under N reads N for ever)."""
    if version < 0:
        raise InvalidInput("Số phiên bản không hợp lệ.", fields={"version": "must be >= 0"})
    if version:
        found = await session.get(Procedure, (code, version))
    else:
        rows = await versions_of(session, code)
        live = current([state(r) for r in rows], now())
        found = next((r for r in rows if live and r.version == live.version), None)
    if found is None:
        raise NotFound(f"Không tìm thấy thủ tục có mã {code}" + (f" phiên bản {version}." if version else "."))
    return found


async def agency_names(session: AsyncSession, *codes: str) -> dict[str, str]:
    wanted = [c for c in codes if c]
    if not wanted:
        return {}
    rows = await session.execute(select(Agency.code, Agency.name).where(Agency.code.in_(wanted)))
    return {code: name for code, name in rows}


async def list_agencies(session: AsyncSession, *, parent_code: str = "", kind: str = "",
                        include_inactive: bool = False) -> list[Agency]:
    stmt = select(Agency)
    if parent_code:
        stmt = stmt.where(Agency.parent_code == parent_code)
    if kind:
        stmt = stmt.where(Agency.kind == kind)
    rows = list(await session.scalars(stmt.order_by(Agency.kind, Agency.name, Agency.code)))
    if include_inactive:
        return rows
    moment = now()
    return [a for a in rows if (a.valid_from is None or a.valid_from <= moment)
            and (a.valid_to is None or a.valid_to > moment)]


async def get_agency(session: AsyncSession, code: str) -> Agency:
    """Also a merged or renamed agency: old dossiers keep pointing at it."""
    agency = await session.get(Agency, code)
    if agency is None:
        raise NotFound(f"Không tìm thấy cơ quan có mã {code}.")
    return agency


async def list_audit(session: AsyncSession, *, entity: str = "", entity_key: str = "", offset: int = 0,
                     limit: int = 50) -> list[AuditEntry]:
    stmt = select(AuditEntry)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_key:
        stmt = stmt.where(AuditEntry.entity_key == entity_key)
    limit = max(1, min(limit or 50, MAX_PAGE))
    rows = await session.scalars(stmt.order_by(AuditEntry.id.desc()).offset(offset).limit(limit + 1))
    return list(rows)
