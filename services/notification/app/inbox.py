"""Turn dossier events into inbox notices (once per event), and read the inbox."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from motcua.v1 import events_pb2
from services.notification.domain.messages import applicant_message
from services.notification.store.models import Notification, processed_events
from services.platform.errors import NotFound
from services.platform.events import first_delivery, utcnow

CONSUMER = "notification-inbox"
MAX_PAGE = 100


async def handle_dossier_event(sessions: async_sessionmaker, envelope: events_pb2.EventEnvelope) -> bool:
    """Returns False when the event had already been handled (a redelivery)."""
    event = events_pb2.DossierStatusChanged()
    if not envelope.payload.Unpack(event):
        raise ValueError(f"unexpected payload {envelope.payload.type_url}")
    async with sessions() as session, session.begin():
        if not await first_delivery(session, processed_events, CONSUMER, envelope.event_id):
            return False
        message = applicant_message(envelope.type, event)
        if message is not None and event.applicant_id:
            session.add(Notification(
                id=str(uuid.uuid4()), account_id=event.applicant_id, event_id=envelope.event_id,
                event_type=envelope.type, subject=event.dossier_code, channel="inapp", title=message.title,
                body=message.body, read=False, created_at=utcnow(),
            ))
    return True


async def list_inbox(sessions, account_id: str, *, unread_only: bool, offset: int, limit: int):
    where = [Notification.account_id == account_id, Notification.channel == "inapp"]
    if unread_only:
        where.append(Notification.read.is_(False))
    async with sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Notification).where(*where))
        unread = await session.scalar(select(func.count()).select_from(Notification).where(
            Notification.account_id == account_id, Notification.channel == "inapp", Notification.read.is_(False)))
        rows = await session.scalars(select(Notification).where(*where)
                                     .order_by(Notification.created_at.desc(), Notification.id)
                                     .offset(offset).limit(max(1, min(limit or 20, MAX_PAGE))))
        return list(rows), int(total or 0), int(unread or 0)


async def mark_read(sessions, account_id: str, notification_id: str) -> Notification:
    async with sessions() as session, session.begin():
        changed = await session.execute(
            update(Notification).where(Notification.id == notification_id, Notification.account_id == account_id)
            .values(read=True)
        )
        if changed.rowcount != 1:
            raise NotFound("Không tìm thấy thông báo.")
        return await session.get(Notification, notification_id)
