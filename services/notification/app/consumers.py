"""The durable consumers' handlers: dossier events become notices and deadlines, identity
events keep the contact directory, and a dead-lettered event alerts the operators."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.v1 import events_pb2
from services.notification.app import directory
from services.notification.app.metrics import DEAD_LETTERS
from services.notification.app.notify import Created, notify
from services.notification.domain import audience
from services.notification.domain.context import dossier_context, field_value
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import DossierDeadline, processed_events
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
    dialect = session.bind.dialect.name
    values = {"consumer": consumer, "event_id": event_id, "processed_at": utcnow()}
    if dialect == "sqlite":
        statement = sqlite_insert(processed_events).values(**values).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = pg_insert(processed_events).values(**values).on_conflict_do_nothing()
    else:
        return await first_delivery(session, processed_events, consumer, event_id)
    return (await session.execute(statement)).rowcount == 1


async def track_deadline(session: AsyncSession, kind: str, event: events_pb2.DossierStatusChanged,
                         occurred: datetime) -> None:
    """Keep the dossier's due time for the reminder scheduler; a late older event changes nothing."""
    t = DossierDeadline
    row = (await session.execute(select(t.event_at, t.assignee_id).where(t.dossier_code == event.dossier_code))).first()
    if row is not None and row.event_at > occurred:
        return
    due = _time(event, "new_due_at") if kind == "dossier.extended" else None
    values = {
        "agency_code": event.agency_code, "procedure_name": event.procedure_name,
        "assignee_id": field_value(event, "assignee_id") or (row.assignee_id if row else ""),
        "due_at": None if kind in audience.PAUSING_EVENTS else (due or _time(event, "due_at")),
        "open": kind not in audience.CLOSING_EVENTS, "event_at": occurred,
    }
    if row is None:
        await session.execute(insert(t).values(dossier_code=event.dossier_code, **values))
    else:
        await session.execute(update(t).where(t.dossier_code == event.dossier_code).values(**values))


class Notifier:
    def __init__(self, sessions: async_sessionmaker, templates: TemplateRegistry | None = None,
                 on_created: Callable[[Created], None] = lambda created: None):
        self.sessions = sessions
        self.templates = templates or TemplateRegistry()
        self._on_created = on_created

    async def handle_dossier_event(self, envelope: events_pb2.EventEnvelope) -> bool:
        """False when the event had already been handled (a redelivery)."""
        event = events_pb2.DossierStatusChanged()
        if not envelope.payload.Unpack(event):
            raise ValueError(f"unexpected payload {envelope.payload.type_url}")
        kind = envelope.type
        created = Created()
        async with self.sessions() as session, session.begin():
            if not await first_handling(session, DOSSIER_CONSUMER, envelope.event_id):
                return False
            if event.dossier_code:
                await track_deadline(session, kind, event, _occurred(envelope))
            recipients = []
            if kind in audience.APPLICANT_EVENTS and event.applicant_id:
                recipients.append(event.applicant_id)
            assignee = field_value(event, "assignee_id")
            if kind in audience.ASSIGNEE_EVENTS and assignee:
                recipients.append(assignee)
            context = dossier_context(event, occurred_at=_occurred(envelope))
            for account_id in recipients:
                await notify(session, self.templates, source_id=envelope.event_id, account_id=account_id, kind=kind,
                             context=context, dossier_code=event.dossier_code, created=created)
        self._on_created(created)
        return True

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
