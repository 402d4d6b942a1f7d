"""Domain events: the envelope, the transactional outbox and the processed-events record.

A use case calls ``record_event`` in the same transaction as its state change, so an
event exists exactly when the change does. ``OutboxRelay`` publishes the rows to
JetStream with ``Nats-Msg-Id`` = event id, so a re-publish after a crash is dropped by
the stream's de-duplication window. Consumers call ``first_delivery`` in their own
transaction, so a redelivered event does nothing twice.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.message import Message
from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from motcua.v1 import events_pb2
from services.platform.db import UtcDateTime, is_sqlite
from services.platform.logging import get_logger, request_id_var

log = get_logger("events")


def utcnow() -> datetime:
    return datetime.now(UTC)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("request_id", String(64), nullable=False, default=""),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime(), nullable=True),
        Index(
            "ix_outbox_pending",
            "id",
            sqlite_where=Column("published_at").is_(None),
            postgresql_where=Column("published_at").is_(None),
        ),
    )


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", UtcDateTime(), nullable=False),
    )


def make_envelope(
    *, event_type: str, producer: str, subject: str, payload: Message
) -> events_pb2.EventEnvelope:
    envelope = events_pb2.EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=event_type,
        producer=producer,
        subject=subject,
        request_id=request_id_var.get(),
    )
    envelope.occurred_at.FromDatetime(utcnow())
    packed = AnyProto()
    packed.Pack(payload)
    envelope.payload.CopyFrom(packed)
    return envelope


async def record_event(
    session: AsyncSession,
    outbox: Table,
    *,
    event_type: str,
    producer: str,
    subject: str,
    payload: Message,
) -> events_pb2.EventEnvelope:
    """Write an event into the outbox inside the caller's transaction."""
    envelope = make_envelope(event_type=event_type, producer=producer, subject=subject, payload=payload)
    await session.execute(
        insert(outbox).values(
            event_id=envelope.event_id,
            subject=event_type,
            data=envelope.SerializeToString(),
            request_id=envelope.request_id,
            created_at=utcnow(),
        )
    )
    return envelope


async def first_delivery(session: AsyncSession, processed: Table, consumer: str, event_id: str) -> bool:
    """Record that ``consumer`` handled ``event_id``; False if it already had. One statement
    (INSERT ... ON CONFLICT DO NOTHING RETURNING) on PostgreSQL and SQLite, where a read, a
    savepoint, the insert and its release were four round trips per event; on PostgreSQL a
    concurrent twin waits for the first transaction, then inserts nothing."""
    values = {"consumer": consumer, "event_id": event_id, "processed_at": utcnow()}
    dialect = session.bind.dialect.name
    if dialect in ("postgresql", "sqlite"):
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = make(processed).values(**values).on_conflict_do_nothing().returning(processed.c.event_id)
        return (await session.execute(statement)).first() is not None
    exists = await session.scalar(
        select(processed.c.event_id).where(processed.c.consumer == consumer, processed.c.event_id == event_id))
    if exists:
        return False
    try:
        async with session.begin_nested():
            await session.execute(insert(processed).values(**values))
    except IntegrityError:
        return False
    return True


class OutboxRelay:
    """Publishes outbox rows to JetStream in order; waits for NATS when it is away."""

    def __init__(self, engine: AsyncEngine, outbox: Table, bus, *, batch: int = 200):
        self._engine = engine
        self._outbox = outbox
        self._bus = bus
        self._batch = batch
        self._wakeup = asyncio.Event()
        self._sqlite = is_sqlite(str(engine.url))

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                sent = await self.publish_pending()
                delay = 0.5
            except Exception as exc:  # NATS or database away: try again later
                log.warning("outbox_publish_failed", error=str(exc))
                sent = 0
                delay = min(delay * 2, 5.0)
            if sent >= self._batch:
                continue
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), delay)
            except TimeoutError:
                pass

    async def pending_count(self) -> int:
        """Events written but not yet on NATS: what an outage has held back."""
        async with self._engine.connect() as conn:
            return await conn.scalar(
                select(func.count()).select_from(self._outbox).where(self._outbox.c.published_at.is_(None))
            )

    async def publish_pending(self) -> int:
        if not self._bus.connected:
            return 0
        t = self._outbox
        query = select(t.c.id, t.c.event_id, t.c.subject, t.c.data, t.c.request_id).where(
            t.c.published_at.is_(None)
        ).order_by(t.c.id).limit(self._batch)
        if self._sqlite:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
            done = await self._publish(rows)
            if done:
                async with self._engine.begin() as conn:
                    await conn.execute(update(t).where(t.c.id.in_(done)).values(published_at=utcnow()))
            return len(done)
        async with self._engine.begin() as conn:
            # Several replicas may relay: each takes rows nobody else holds.
            rows = (await conn.execute(query.with_for_update(skip_locked=True))).all()
            done = await self._publish(rows)
            if done:
                await conn.execute(update(t).where(t.c.id.in_(done)).values(published_at=utcnow()))
        return len(done)

    async def _publish(self, rows) -> list[int]:
        """Publish the rows as one window: every message is written before the first
        acknowledgement is awaited (one flush and one wake-up for the lot, not one per
        event), in outbox order on the one connection, so JetStream stores them in order.
        Done is the acknowledged prefix: after a failure the rest go again next round, and
        JetStream drops any of them it had stored (same Nats-Msg-Id, duplicate window)."""
        results = await asyncio.gather(
            *(self._bus.publish(row.subject, row.data, event_id=row.event_id, request_id=row.request_id)
              for row in rows),
            return_exceptions=True)
        done: list[int] = []
        for row, result in zip(rows, results):
            if isinstance(result, BaseException):
                log.warning("outbox_publish_stopped", error=str(result), event_id=row.event_id)
                break
            done.append(row.id)
        return done
