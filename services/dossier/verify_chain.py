"""python -m services.dossier.verify_chain CODE [CODE ...] | --all [--database-url URL]

Recomputes a dossier log's hash chain and names the first entry that does not check: an
entry whose content was changed, or the one after an entry that was removed. The chain's
end is compared with the one the dossier row records (log_seq, log_head, written with
each append), so entries removed from the end show too. Exit status
0 when every chain checked is intact, 1 when one is broken, 2 when a dossier has no log.
Run it against a replica or the primary; it only reads."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import exists, select

from services.dossier.domain.log import first_broken
from services.dossier.store.models import Dossier, LogEntry
from services.dossier.store.writes import as_utc, log_content
from services.platform.db import READ_ONLY, make_engine, session_factory
from services.platform.settings import platform_settings

INTACT, BROKEN, MISSING = 0, 1, 2


Head = tuple[int, str]  # (seq, hash) of the latest entry, as the dossier row records it


@dataclass(frozen=True)
class ChainReport:
    code: str
    entries: int
    broken: LogEntry | None
    # The recorded end when the chain does not reach it: (recorded seq, last seq found).
    short: tuple[int, int] | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None and self.short is None and self.entries > 0

    @property
    def failed(self) -> bool:
        return self.broken is not None or self.short is not None

    def describe(self) -> str:
        if self.short is not None:
            recorded, found = self.short
            return (f"BROKEN {self.code}: the chain ends at seq={found} but the dossier records its last entry "
                    f"as seq={recorded}: entries were removed from the end, or the last one replaced")
        if self.entries == 0:
            return f"MISSING {self.code}: no log entries"
        if self.broken is None:
            return f"OK {self.code}: {self.entries} entries, chain intact"
        e = self.broken
        return (f"BROKEN {self.code}: first broken entry seq={e.seq} (id={e.id}, "
                f"{as_utc(e.at).isoformat()}, action={e.action}): its content or its link to the entry "
                "before it does not match the recorded hash")


def check(code: str, entries: list[LogEntry], head: Head | None = None) -> ChainReport:
    """The first entry that does not check; else, when the dossier records its log's end
    (``head``), whether the chain reaches exactly that entry."""
    index = first_broken([(log_content(e), e.prev_hash, e.hash) for e in entries])
    if index is not None:
        return ChainReport(code, len(entries), entries[index])
    last = (entries[-1].seq, entries[-1].hash) if entries else (0, "")
    short = (head[0], last[0]) if head is not None and tuple(head) != last else None
    return ChainReport(code, len(entries), None, short)


def _head(seq: int | None, digest: str | None) -> Head | None:
    return None if seq is None or not digest else (seq, digest)


async def _chains(sessions, codes: list[str] | None) -> AsyncIterator[tuple[str, list[LogEntry], Head | None]]:
    async with sessions() as session:
        if codes is not None:
            for code in codes:
                rows = await session.scalars(
                    select(LogEntry).where(LogEntry.dossier_code == code).order_by(LogEntry.seq))
                head = (await session.execute(select(Dossier.log_seq, Dossier.log_head)
                                              .where(Dossier.code == code))).first()
                yield code, list(rows), _head(*head) if head else None
            return
        # Every dossier, streamed in (code, seq) order with its recorded end: one pass, one
        # dossier in memory.
        result = await session.stream(
            select(LogEntry, Dossier.log_seq, Dossier.log_head)
            .outerjoin(Dossier, Dossier.code == LogEntry.dossier_code)
            .order_by(LogEntry.dossier_code, LogEntry.seq).execution_options(yield_per=1000))
        code, entries, head = None, [], None
        async for entry, seq, digest in result:
            if entry.dossier_code != code:
                if code is not None:
                    yield code, entries, head
                code, entries, head = entry.dossier_code, [], _head(seq, digest)
            entries.append(entry)
        if code is not None:
            yield code, entries, head
        # Dossiers that record a log whose every entry is gone.
        emptied = await session.execute(
            select(Dossier.code, Dossier.log_seq, Dossier.log_head)
            .where(Dossier.log_seq.is_not(None), ~exists().where(LogEntry.dossier_code == Dossier.code)))
        for code, seq, digest in emptied:
            yield code, [], _head(seq, digest)


async def verify(url: str, codes: list[str] | None, out=sys.stdout) -> int:
    engine = make_engine(url, pool_size=1)
    broken = missing = checked = 0
    try:
        # Read only: on SQLite a plain BEGIN, so a long check never holds the write lock
        # the running service needs.
        reads = session_factory(engine.execution_options(**{READ_ONLY: True}))
        async for code, entries, head in _chains(reads, codes):
            report = check(code, entries, head)
            checked += 1
            if codes is not None or not report.intact:
                print(report.describe(), file=out)
            missing += report.entries == 0 and not report.failed
            broken += report.failed
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
