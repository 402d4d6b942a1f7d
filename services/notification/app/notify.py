"""One notice to one account: the inbox item and the email and SMS deliveries its
preferences ask for, rendered now from the newest template version, inside the
caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.v1 import notification_pb2
from services.notification.app import directory
from services.notification.app.metrics import INBOX_CREATED
from services.notification.domain import audience
from services.notification.domain.delivery import State
from services.notification.domain.masking import mask
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import Delivery, Notification, outbox
from services.platform.events import record_event, utcnow

DELIVERY_UPDATED = "notification.delivery.updated"


@dataclass
class Created:
    """What a transaction produced, for the caller to wake the worker and the relay."""

    notices: int = 0
    deliveries: list[str] = field(default_factory=list)
    events: int = 0


async def notify(session: AsyncSession, templates: TemplateRegistry, *, source_id: str, account_id: str,
                 kind: str, context: dict, dossier_code: str = "", created: Created) -> None:
    contact = await directory.contact_of(session, account_id)
    prefs = await directory.preferences_of(session, account_id)
    locale = audience.locale_for(prefs, contact)
    if contact is not None and contact.name:
        context = context | {"recipient_name": contact.name}
    now = utcnow()
    for channel in audience.channels_for(kind, prefs, contact):
        rendered = templates.render(kind, channel, locale, context)
        if channel == "inbox":
            notice_id = str(uuid.uuid4())
            await session.execute(insert(Notification).values(
                id=notice_id, account_id=account_id, event_id=source_id, event_type=kind, subject=dossier_code,
                channel="inapp", title=rendered.title, body=rendered.body, read=False, created_at=now,
                template_ref=rendered.ref))
            created.notices += 1
            INBOX_CREATED.inc()
            if dossier_code and kind in audience.LEGALLY_REQUIRED:
                # The inbox is where a legally required notice is certain to arrive: the log says so.
                await record_delivery_updated(session, delivery_id=notice_id, dossier_code=dossier_code,
                                              account_id=account_id, channel="inapp", destination_masked="",
                                              state=State.DELIVERED.value, event_type=kind, title=rendered.title)
                created.events += 1
            continue
        destination = ""
        if contact is not None:
            destination = contact.email if channel == "email" else contact.phone
        delivery_id = str(uuid.uuid4())
        await session.execute(insert(Delivery).values(
            id=delivery_id, source_id=source_id, account_id=account_id, channel=channel, destination=destination,
            destination_masked=mask(channel, destination), event_type=kind, dossier_code=dossier_code,
            title=rendered.title, body=rendered.body, template_ref=rendered.ref, state=State.CREATED.value,
            attempts=0, next_attempt_at=now, last_error="", created_at=now, updated_at=now))
        created.deliveries.append(delivery_id)


async def record_delivery_updated(session: AsyncSession, *, delivery_id: str, dossier_code: str, account_id: str,
                                  channel: str, destination_masked: str, state: str, event_type: str,
                                  title: str) -> None:
    payload = notification_pb2.DeliveryUpdated(
        delivery_id=delivery_id, dossier_code=dossier_code, account_id=account_id, channel=channel,
        destination_masked=destination_masked, state=state, event_type=event_type, title=title)
    payload.occurred_at.FromDatetime(utcnow())
    await record_event(session, outbox, event_type=DELIVERY_UPDATED, producer="notification",
                       subject=dossier_code or delivery_id, payload=payload)
