"""The search index kept in the service: built from the database; after a change this process
makes to one procedure only that procedure is re-read; for changes made elsewhere (another
replica, an effective date passing) it is rebuilt when a cheap fingerprint differs."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.catalogue.app.queries import agency_names, now, state
from services.catalogue.domain.model import search_text
from services.catalogue.domain.search import Entry, SearchIndex
from services.catalogue.domain.versions import in_force
from services.catalogue.store.models import Agency, Procedure
from services.platform.logging import get_logger

log = get_logger("catalogue.index")


def _entries(rows: list[Procedure], names: dict[str, str], moment: datetime) -> list[Entry]:
    """One entry per code: its newest published version in force at ``moment``."""
    best: dict[str, Procedure] = {}
    for row in rows:
        if in_force(state(row), moment) and (row.code not in best or row.version > best[row.code].version):
            best[row.code] = row
    return [
        Entry(code=p.code, version=p.version, name=p.name, sector=p.sector, level=p.level,
              agency_code=p.agency_code, online_mode=p.online_mode, text=search_text(p.data),
              agency_name=names.get(p.agency_code, ""))
        for p in best.values()
    ]


async def build(sessions: async_sessionmaker, moment: datetime | None = None) -> SearchIndex:
    moment = moment or now()
    async with sessions() as s:
        rows = list(await s.scalars(select(Procedure).where(Procedure.status == "published")))
        agencies = list(await s.execute(select(Agency.code, Agency.name, Agency.kind)))
    names = {code: name for code, name, _ in agencies}
    communes = frozenset(code for code, _, kind in agencies if kind == "commune")
    return SearchIndex(_entries(rows, names, moment), commune_codes=communes)


async def rebuilt_for(index: SearchIndex, sessions: async_sessionmaker, code: str,
                      moment: datetime | None = None) -> SearchIndex:
    """``index`` with one procedure re-read from the database (the others kept as they are)."""
    moment = moment or now()
    async with sessions() as s:
        rows = list(await s.scalars(select(Procedure).where(Procedure.code == code,
                                                            Procedure.status == "published")))
        names = await agency_names(s, *{r.agency_code for r in rows})
    kept = [e for e in index.entries if e.code != code]
    return SearchIndex(kept + _entries(rows, names, moment), commune_codes=index.commune_codes)


async def fingerprint(sessions: async_sessionmaker) -> tuple:
    async with sessions() as s:
        procs = (await s.execute(select(func.count(), func.max(Procedure.updated_at), func.max(Procedure.created_at)))).one()
        agencies = (await s.execute(select(func.count(), func.max(Agency.valid_to)))).one()
    return tuple(procs) + tuple(agencies)


class LiveIndex:
    """Holds the current ``SearchIndex``; readers never wait for a rebuild."""

    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions
        self.index = SearchIndex([])
        self._fingerprint: tuple | None = None
        self._lock = asyncio.Lock()
        self._built_at: datetime | None = None

    async def refresh(self) -> None:
        async with self._lock:
            self._fingerprint = await fingerprint(self._sessions)
            self._built_at = now()
            self.index = await build(self._sessions, self._built_at)

    async def refresh_code(self, code: str) -> None:
        """After this process changed one procedure: re-index that code alone. The fingerprint
        is left as it was, so the periodic check still picks up other replicas' changes."""
        async with self._lock:
            self.index = await rebuilt_for(self.index, self._sessions, code)

    async def refresh_if_changed(self, *, max_age_seconds: float = 60.0) -> bool:
        """Rebuild when the data changed, or now and then so effective dates take hold."""
        current = await fingerprint(self._sessions)
        stale = self._built_at is None or (now() - self._built_at).total_seconds() >= max_age_seconds
        if current == self._fingerprint and not stale:
            return False
        await self.refresh()
        return True

    async def run(self, every_seconds: float = 5.0) -> None:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                if await self.refresh_if_changed():
                    log.info("search_index_rebuilt", procedures=len(self.index))
            except Exception as exc:  # database away: keep serving the last index
                log.warning("search_index_refresh_failed", error=str(exc)[:200])
