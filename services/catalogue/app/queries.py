"""Reading the catalogue: search, one procedure, agencies."""

from __future__ import annotations

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.domain.text import fold, terms
from services.catalogue.store.models import Agency, Procedure
from services.platform.errors import InvalidInput, NotFound

MAX_PAGE = 100


async def search_procedures(
    session: AsyncSession,
    *,
    query: str,
    agency_code: str = "",
    sector: str = "",
    level: str = "",
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[Procedure], int]:
    """Accent-insensitive search; a match in the name ranks before one in the description."""
    if len(query) > 200:
        raise InvalidInput("Từ khóa tìm kiếm quá dài (tối đa 200 ký tự).", fields={"q": "too long"})
    limit = max(1, min(limit or 20, MAX_PAGE))
    words = terms(query)
    conditions = [Procedure.status == "published"]
    conditions += [Procedure.search_folded.contains(w, autoescape=True) for w in words]
    if agency_code:
        conditions.append(Procedure.agency_code == agency_code)
    if sector:
        # Compared folded in Python: SQL lower() leaves "Đ" alone on SQLite and in the C locale.
        known = await session.scalars(select(Procedure.sector).distinct())
        conditions.append(Procedure.sector.in_([s for s in known if fold(s) == fold(sector)]))
    if level:
        conditions.append(Procedure.level == level)
    where = and_(*conditions)
    phrase = fold(query)
    rank = case(
        (Procedure.name_folded.contains(phrase, autoescape=True), 0),
        (and_(*[Procedure.name_folded.contains(w, autoescape=True) for w in words]), 1) if words else (False, 1),
        else_=2,
    )
    total = await session.scalar(select(func.count()).select_from(Procedure).where(where))
    rows = await session.scalars(
        select(Procedure).where(where).order_by(rank, func.length(Procedure.name), Procedure.code)
        .offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def get_procedure(session: AsyncSession, code: str, version: int = 0) -> Procedure:
    stmt = select(Procedure).where(Procedure.code == code)
    if version:
        stmt = stmt.where(Procedure.version == version)
    else:
        stmt = stmt.where(Procedure.status == "published").order_by(Procedure.version.desc()).limit(1)
    procedure = await session.scalar(stmt)
    if procedure is None:
        raise NotFound(f"Không tìm thấy thủ tục có mã {code}.")
    return procedure


async def list_agencies(session: AsyncSession, *, parent_code: str = "", kind: str = "") -> list[Agency]:
    stmt = select(Agency)
    if parent_code:
        stmt = stmt.where(Agency.parent_code == parent_code)
    if kind:
        stmt = stmt.where(Agency.kind == kind)
    return list(await session.scalars(stmt.order_by(Agency.kind, Agency.name)))


async def get_agency(session: AsyncSession, code: str) -> Agency:
    agency = await session.get(Agency, code)
    if agency is None:
        raise NotFound(f"Không tìm thấy cơ quan có mã {code}.")
    return agency
