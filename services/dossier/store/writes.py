"""Writes that must hold under concurrency: gap-free codes, idempotency records, the log chain."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.dossier.domain.log import GENESIS, entry_hash
from services.dossier.store.models import CodeSequence, IdempotencyKey, LogEntry
from services.platform.errors import Conflict


async def next_sequence(session: AsyncSession, agency_code: str, day: str, count: int = 1) -> int:
    """Bump the agency's counter for the day in one statement (by ``count`` for a batch;
    the numbers taken are the ``count`` ending at the one returned). The row stays locked
    until the transaction ends, and a rollback returns the numbers: no gaps, no duplicates."""
    # ``session`` may be an AsyncSession or, on the lean submit path, its AsyncConnection.
    name = session.dialect.name if hasattr(session, "dialect") else session.bind.dialect.name
    dialect = postgresql if name == "postgresql" else sqlite
    stmt = dialect.insert(CodeSequence).values(agency_code=agency_code, day=day, last_value=count)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CodeSequence.agency_code, CodeSequence.day],
        set_={"last_value": CodeSequence.last_value + count},
    ).returning(CodeSequence.last_value)
    return int((await session.execute(stmt)).scalar_one())


def request_fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def replayed_response(
    session: AsyncSession, *, principal_id: str, key: str, operation: str, fingerprint: str
) -> bytes | None:
    if not key:
        return None
    row = await session.get(IdempotencyKey, (principal_id, key))
    if row is None:
        return None
    if row.operation != operation or row.request_hash != fingerprint:
        raise Conflict(
            "Khóa chống gửi trùng (Idempotency-Key) này đã được dùng cho một yêu cầu khác.",
            fields={"Idempotency-Key": "reused with a different request"},
        )
    return row.response


def remember_response(
    session: AsyncSession, *, principal_id: str, key: str, operation: str, fingerprint: str,
    response: bytes, at: datetime,
) -> None:
    if key:
        session.add(IdempotencyKey(principal_id=principal_id, key=key, operation=operation,
                                   request_hash=fingerprint, response=response, created_at=at))


async def append_log(
    session: AsyncSession, *, dossier_code: str, at: datetime, actor_id: str, actor_name: str,
    actor_role: str, action: str, status_code: int, note: str = "", internal: bool = False,
    internal_note: str = "", first: bool = False, previous: LogEntry | None = None,
) -> LogEntry:
    """Append the next entry of the dossier's chain. ``first`` (a new dossier) or
    ``previous`` (the entry just written) skip the read of the last entry; the unique
    (dossier_code, seq) still guards the chain."""
    last = previous
    if not first and last is None:
        last = await session.scalar(
            select(LogEntry).where(LogEntry.dossier_code == dossier_code).order_by(LogEntry.seq.desc()).limit(1)
        )
        if last is None:  # written earlier in this same transaction, not yet flushed
            last = _pending_last(session, dossier_code)
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else GENESIS
    entry = LogEntry(dossier_code=dossier_code, seq=seq, at=at, actor_id=actor_id, actor_name=actor_name,
                     actor_role=actor_role, action=action, status_code=status_code, note=note,
                     internal=internal, internal_note=internal_note, prev_hash=prev, hash="")
    entry.hash = entry_hash(prev, log_content(entry))
    session.add(entry)
    return entry


def _pending_last(session: AsyncSession, dossier_code: str) -> LogEntry | None:
    pending = [o for o in session.new if isinstance(o, LogEntry) and o.dossier_code == dossier_code]
    return max(pending, key=lambda e: e.seq, default=None)


def as_utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def log_content(entry: LogEntry) -> dict:
    """What the hash covers."""
    return {
        "dossier_code": entry.dossier_code, "seq": entry.seq,
        "at": as_utc(entry.at).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id, "actor_name": entry.actor_name, "actor_role": entry.actor_role,
        "action": entry.action, "status_code": entry.status_code, "note": entry.note,
        # Added later: covered only when set, so entries written before still verify.
        **({"internal": True} if entry.internal else {}),
        **({"internal_note": entry.internal_note} if entry.internal_note else {}),
    }


async def insert_rows(session: AsyncSession, batches: list[tuple], *, guard=None) -> int:
    """Insert rows into several tables. On PostgreSQL in ONE statement (data-modifying
    CTEs), so a submission holding its agency's code counter does one round trip, not
    four, before it commits; elsewhere one statement per table. The statement is built
    once per shape (tables and row counts) with bound parameters, so it compiles once.

    ``guard`` (the idempotency records' table) is inserted ON CONFLICT DO NOTHING, and the
    number of its rows actually inserted is returned: fewer than given means a key was
    already used, and the caller rolls the whole transaction back and replays. So the
    idempotency check costs no read of its own."""
    batches = [(table, rows) for table, rows in batches if rows]
    if guard is not None:  # the guarded insert last: on PostgreSQL it is the main statement
        batches = [b for b in batches if b[0] is not guard] + [b for b in batches if b[0] is guard]
    guarded = batches[-1][1] if batches and batches[-1][0] is guard else None
    if session.bind.dialect.name != "postgresql":
        inserted = 0
        for table, rows in batches:
            if rows is guarded:
                stmt = sqlite.insert(table).values(rows).on_conflict_do_nothing()
                inserted = len((await session.execute(stmt.returning(*table.primary_key.columns))).all())
            else:
                await session.execute(insert(table), rows)
        return inserted
    shape = (tuple((table.name, len(rows), tuple(rows[0])) for table, rows in batches), guarded is not None)
    connection = await session.connection()
    compiled = _STATEMENTS.get(shape)
    if compiled is None:  # SQLAlchemy does not cache multi-VALUES CTEs: compile once ourselves
        compiled = _STATEMENTS[shape] = _multi_insert(batches, guarded is not None).compile(dialect=connection.dialect)
    params = {f"{table.name}_{i}_{key}": value for table, rows in batches
              for i, row in enumerate(rows) for key, value in row.items()}
    processors = compiled._bind_processors
    values = tuple(processors[name](params[name]) if name in processors else params[name]
                   for name in compiled.positiontup)
    result = await connection.exec_driver_sql(compiled.string, values)
    return len(result.all()) if guarded is not None else 0


_STATEMENTS: dict[tuple, object] = {}


def _multi_insert(batches: list[tuple], guarded: bool = False):
    def values(table, rows, dialect_insert=insert):
        return dialect_insert(table).values([{key: bindparam(f"{table.name}_{i}_{key}", type_=table.c[key].type)
                                              for key in row} for i, row in enumerate(rows)])

    *first, last = batches
    if guarded:
        table = last[0]
        stmt = values(*last, dialect_insert=postgresql.insert).on_conflict_do_nothing() \
            .returning(*table.primary_key.columns)
    else:
        stmt = values(*last)
    if first:
        stmt = stmt.add_cte(*(values(*batch).cte(f"w{i}") for i, batch in enumerate(first)))
    return stmt
