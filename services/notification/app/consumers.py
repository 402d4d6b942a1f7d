"""The durable consumers' handlers: dossier events become notices and deadlines, identity
events keep the contact directory, and a dead-lettered event alerts the operators."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.v1 import events_pb2
from services.notification.app import directory
from services.notification.app.metrics import DEAD_LETTERS
from services.notification.app.notify import Created, Notice, notify, notify_all_sync
from services.notification.domain import audience
from services.notification.domain.context import dossier_context, field_value
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import DossierDeadline, processed_events
from services.notification.store.writer import TransactionRunner
from services.platform.events import first_delivery, utcnow
from services.platform.logging import get_logger

log = get_logger("notification.consumers")

DOSSIER_CONSUMER = "notification-inbox"
ALERT_KIND = "alert.dead_letter"


def _occurred(envelope: events_pb2.EventEnvelope) -> datetime:
    return envelope.occurred_at.ToDatetime(tzinfo=UTC) if envelope.HasField("occurred_at") else utcnow()


def _time(event, name: str) -> datetime | None:
    if name not in event.DESCRIPTOR.fields_by_name or not event.HasField(name):
        return None
    return getattr(event, name).ToDatetime(tzinfo=UTC)


async def first_handling(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Record that ``consumer`` handled ``event_id`` in one statement; False if it already had.
    (On PostgreSQL a concurrent twin waits for the first transaction, then does nothing.)"""
    return event_id in await session.run_sync(lambda s: first_handlings(s.connection(), consumer, [event_id]))


def first_handlings(conn: Connection, consumer: str, event_ids: list[str]) -> set[str]:
    """Record several events in one statement; returns those not handled before."""
    dialect = conn.dialect.name
    now = utcnow()
    unique = list(dict.fromkeys(event_ids))
    if dialect not in ("sqlite", "postgresql"):
        seen = set(conn.scalars(select(processed_events.c.event_id).where(
            processed_events.c.consumer == consumer, processed_events.c.event_id.in_(unique))))
        fresh = [e for e in unique if e not in seen]
        if fresh:
            conn.execute(insert(processed_events),
                         [{"consumer": consumer, "event_id": e, "processed_at": now} for e in fresh])
        return set(fresh)
    make = sqlite_insert if dialect == "sqlite" else pg_insert
    # Parameters as a list (SQLAlchemy's "insertmanyvalues": one statement, compiled once),
    # not .values([...]), which compiled a new statement for every batch.
    statement = make(processed_events).on_conflict_do_nothing().returning(processed_events.c.event_id)
    rows = [{"consumer": consumer, "event_id": e, "processed_at": now} for e in unique]
    return set(conn.execute(statement, rows).scalars())


async def track_deadline(session: AsyncSession, kind: str, event: events_pb2.DossierStatusChanged,
                         occurred: datetime) -> None:
    await session.run_sync(lambda s: track_deadlines(s.connection(), [(kind, event, occurred)]))


def track_deadlines(conn: Connection, changes: list[tuple[str, events_pb2.DossierStatusChanged, datetime]]) -> None:
    """Keep each dossier's due time for the reminder scheduler, in event order; a late older
    event changes nothing; a new due time starts its reminders afresh. One read and at most
    one insert and one update for them all."""
    if not changes:
        return
    t = DossierDeadline.__table__
    codes = list(dict.fromkeys(event.dossier_code for _, event, _ in changes))
    known: dict[str, dict] = {}
    for start in range(0, len(codes), 500):
        rows = conn.execute(select(t.c.dossier_code, t.c.event_at, t.c.assignee_id, t.c.due_at, t.c.reminded)
                            .where(t.c.dossier_code.in_(codes[start:start + 500])))
        known.update({row.dossier_code: {"event_at": row.event_at, "assignee_id": row.assignee_id,
                                         "due_at": row.due_at, "reminded": row.reminded} for row in rows})
    existed = set(known)
    changed: dict[str, dict] = {}
    for kind, event, occurred in changes:
        row = known.get(event.dossier_code)
        if row is not None and row["event_at"] > occurred:
            continue
        due = _time(event, "new_due_at") if kind == "dossier.extended" else None
        due = None if kind in audience.PAUSING_EVENTS else (due or _time(event, "due_at"))
        values = {
            "agency_code": event.agency_code, "procedure_name": event.procedure_name,
            "assignee_id": field_value(event, "assignee_id") or (row["assignee_id"] if row else ""),
            "due_at": due, "open": kind not in audience.CLOSING_EVENTS, "event_at": occurred,
            "reminded": row["reminded"] if row is not None and row["due_at"] == due else "",
        }
        known[event.dossier_code] = changed[event.dossier_code] = values
    inserts = [{"dossier_code": code, **v} for code, v in changed.items() if code not in existed]
    updates = [{"b_code": code, **v} for code, v in changed.items() if code in existed]
    if inserts:
        conn.execute(insert(t), inserts)
    if updates:
        conn.execute(update(t).where(t.c.dossier_code == bindparam("b_code")), updates)


class Notifier:
    def __init__(self, sessions: async_sessionmaker, templates: TemplateRegistry | None = None,
                 on_created: Callable[[Created], None] = lambda created: None,
                 transactions: TransactionRunner | None = None):
        self.sessions = sessions
        self._transactions = transactions or TransactionRunner(sessions.kw["bind"])
        self.templates = templates or TemplateRegistry()
        self._on_created = on_created

    async def handle_dossier_event(self, envelope: events_pb2.EventEnvelope) -> bool:
        """False when the event had already been handled (a redelivery)."""
        return (await self.handle_dossier_events([envelope]))[0]

    async def handle_dossier_events(self, envelopes: list[events_pb2.EventEnvelope]) -> list[bool]:
        """Handle events in order in ONE transaction (the consumer's batches): per event, False
        when it had already been handled. Raises, writing nothing, if any payload is wrong."""
        parsed = []
        for envelope in envelopes:
            event = events_pb2.DossierStatusChanged()
            if not envelope.payload.Unpack(event):
                raise ValueError(f"unexpected payload {envelope.payload.type_url}")
            parsed.append((envelope, event))
        created = Created()
        handled = await self._transactions.run(lambda conn: self._apply(conn, parsed, created))
        self._on_created(created)
        return handled

    def _apply(self, conn: Connection, parsed: list, created: Created) -> list[bool]:
        fresh = first_handlings(conn, DOSSIER_CONSUMER, [e.event_id for e, _ in parsed])
        new_events, handled = [], []
        for envelope, event in parsed:
            first = envelope.event_id in fresh
            fresh.discard(envelope.event_id)  # the same event twice in a batch counts once
            handled.append(first)
            if first:
                new_events.append((envelope, event))
        track_deadlines(conn, [(e.type, ev, _occurred(e)) for e, ev in new_events if ev.dossier_code])
        notices = []
        for envelope, event in new_events:
            kind = envelope.type
            recipients = []
            if kind in audience.APPLICANT_EVENTS and event.applicant_id:
                recipients.append(event.applicant_id)
            assignee = field_value(event, "assignee_id")
            if kind in audience.ASSIGNEE_EVENTS and assignee:
                recipients.append(assignee)
            if not recipients:
                continue
            context = dossier_context(event, occurred_at=_occurred(envelope))
            notices.extend(Notice(envelope.event_id, account_id, kind, context, event.dossier_code)
                           for account_id in recipients)
        notify_all_sync(conn, self.templates, notices, created)
        return handled

    def close(self) -> None:
        self._transactions.dispose()

    async def handle_account_event(self, envelope: events_pb2.EventEnvelope) -> bool:
        return await directory.handle_account_event(self.sessions, envelope)

    async def alert_dead_letter(self, consumer: str, subject: str, data: bytes, error: str) -> int:
        """An event went to the dead-letter stream: tell the operators (log, metric, inbox)."""
        log.error("operator_alert", alert="dead_letter", consumer=consumer, subject=subject, error=error[:300])
        DEAD_LETTERS.labels(consumer).inc()
        source_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"deadletter:{consumer}:{subject}:{data.hex()}"))
        context = {"consumer": consumer, "subject": subject, "error": error[:300], "recipient_name": ""}
        created = Created()
        async with self.sessions() as session, session.begin():
            if not await first_delivery(session, processed_events, "notification-alerts", source_id):
                return 0
            for operator in await directory.accounts_with_role(session, "operator"):
                await notify(session, self.templates, source_id=source_id, account_id=operator.account_id,
                             kind=ALERT_KIND, context=context, created=created)
        self._on_created(created)
        return created.notices
