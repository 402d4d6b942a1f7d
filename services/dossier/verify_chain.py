"""python -m services.dossier.verify_chain CODE [CODE ...] | --all [--database-url URL]

Recomputes a dossier log's hash chain and names the first entry that does not check: an
entry whose content was changed, or the one after an entry that was removed. Exit status
0 when every chain checked is intact, 1 when one is broken, 2 when a dossier has no log.
Run it against a replica or the primary; it only reads."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select

from services.dossier.domain.log import first_broken
from services.dossier.store.models import LogEntry
from services.dossier.store.writes import as_utc, log_content
from services.platform.db import make_engine, session_factory
from services.platform.settings import platform_settings

INTACT, BROKEN, MISSING = 0, 1, 2


@dataclass(frozen=True)
class ChainReport:
    code: str
    entries: int
    broken: LogEntry | None

    @property
    def intact(self) -> bool:
        return self.broken is None and self.entries > 0

    def describe(self) -> str:
        if self.entries == 0:
            return f"MISSING {self.code}: no log entries"
        if self.broken is None:
            return f"OK {self.code}: {self.entries} entries, chain intact"
        e = self.broken
        return (f"BROKEN {self.code}: first broken entry seq={e.seq} (id={e.id}, "
                f"{as_utc(e.at).isoformat()}, action={e.action}): its content or its link to the entry "
                "before it does not match the recorded hash")


def check(code: str, entries: list[LogEntry]) -> ChainReport:
    index = first_broken([(log_content(e), e.prev_hash, e.hash) for e in entries])
    return ChainReport(code, len(entries), None if index is None else entries[index])


async def _chains(sessions, codes: list[str] | None) -> AsyncIterator[tuple[str, list[LogEntry]]]:
    async with sessions() as session:
        if codes is not None:
            for code in codes:
                rows = await session.scalars(
                    select(LogEntry).where(LogEntry.dossier_code == code).order_by(LogEntry.seq))
                yield code, list(rows)
            return
        # Every dossier, streamed in (code, seq) order: one pass, one dossier in memory.
        result = await session.stream_scalars(
            select(LogEntry).order_by(LogEntry.dossier_code, LogEntry.seq).execution_options(yield_per=1000))
        code, entries = None, []
        async for entry in result:
            if entry.dossier_code != code:
                if code is not None:
                    yield code, entries
                code, entries = entry.dossier_code, []
            entries.append(entry)
        if code is not None:
            yield code, entries


async def verify(url: str, codes: list[str] | None, out=sys.stdout) -> int:
    engine = make_engine(url, pool_size=1)
    broken = missing = checked = 0
    try:
        async for code, entries in _chains(session_factory(engine), codes):
            report = check(code, entries)
            checked += 1
            if codes is not None or not report.intact:
                print(report.describe(), file=out)
            missing += report.entries == 0
            broken += report.broken is not None
    finally:
        await engine.dispose()
    status = BROKEN if broken else MISSING if missing else INTACT
    if codes is None:
        print(f"{checked} dossiers checked, {broken} broken", file=out)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.dossier.verify_chain",
                                     description="Verify the hash chain of dossier logs.")
    parser.add_argument("codes", nargs="*", metavar="CODE", help="dossier code(s)")
    parser.add_argument("--all", action="store_true", help="verify every dossier")
    parser.add_argument("--database-url", default=None,
                        help="default: MOTCUA_DOSSIER_DATABASE_URL, else the embedded SQLite file")
    args = parser.parse_args(argv)
    if bool(args.codes) == args.all:
        parser.error("give dossier codes or --all, not both")
    url = args.database_url or platform_settings().database_url("dossier")
    return asyncio.run(verify(url, None if args.all else args.codes))


if __name__ == "__main__":
    sys.exit(main())
