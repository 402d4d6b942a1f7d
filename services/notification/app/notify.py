"""One notice to one account: the inbox item and the email and SMS deliveries its
preferences ask for, rendered now from the newest template version, inside the
caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import Connection, insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.v1 import notification_pb2
from services.notification.app import directory
from services.notification.app.metrics import INBOX_CREATED
from services.notification.domain import audience
from services.notification.domain.delivery import State
from services.notification.domain.masking import mask
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import Delivery, Notification, outbox
from services.platform.events import make_envelope, utcnow

DELIVERY_UPDATED = "notification.delivery.updated"


@dataclass
class Created:
    """What a transaction produced, for the caller to wake the worker and the relay."""

    notices: int = 0
    deliveries: list[str] = field(default_factory=list)
    events: int = 0


@dataclass(frozen=True)
class Notice:
    """One notice to send: ``source_id`` (the event) with account and channel makes it once."""

    source_id: str
    account_id: str
    kind: str
    context: dict
    dossier_code: str = ""


@dataclass
class Rows:
    """Rows for one transaction, written with one statement per table."""

    notifications: list[dict] = field(default_factory=list)
    deliveries: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)


async def notify(session: AsyncSession, templates: TemplateRegistry, *, source_id: str, account_id: str,
                 kind: str, context: dict, dossier_code: str = "", created: Created) -> None:
    await notify_all(session, templates, [Notice(source_id, account_id, kind, context, dossier_code)], created)


async def notify_all(session: AsyncSession, templates: TemplateRegistry, notices: list[Notice],
                     created: Created) -> None:
    await session.run_sync(lambda sync: notify_all_sync(sync.connection(), templates, notices, created))


def notify_all_sync(conn: Connection, templates: TemplateRegistry, notices: list[Notice], created: Created) -> None:
    """Several notices in the caller's transaction: one read of the directory and one insert
    per table, however many notices (a consumer batch handles many events at once)."""
    if not notices:
        return
    accounts = sorted({n.account_id for n in notices})
    contacts = directory.load_contacts(conn, accounts)
    prefs = directory.load_preferences(conn, accounts)
    rows = Rows()
    now = utcnow()
    for notice in notices:
        plan_notice(templates, notice, contacts.get(notice.account_id),
                    prefs.get(notice.account_id, audience.Preferences()), now=now, rows=rows, created=created)
    write_rows(conn, rows)


def plan_notice(templates: TemplateRegistry, notice: Notice, contact: audience.Contact | None,
                prefs: audience.Preferences, *, now, rows: Rows, created: Created) -> None:
    """Render one notice on the channels its preferences ask for, into ``rows``."""
    locale = audience.locale_for(prefs, contact)
    context = notice.context
    if contact is not None and contact.name:
        context = context | {"recipient_name": contact.name}
    kind, account_id, dossier_code = notice.kind, notice.account_id, notice.dossier_code
    for channel in audience.channels_for(kind, prefs, contact):
        rendered = templates.render(kind, channel, locale, context)
        if channel == "inbox":
            notice_id = str(uuid.uuid4())
            rows.notifications.append(dict(
                id=notice_id, account_id=account_id, event_id=notice.source_id, event_type=kind,
                subject=dossier_code, channel="inapp", title=rendered.title, body=rendered.body, read=False,
                created_at=now, template_ref=rendered.ref))
            created.notices += 1
            INBOX_CREATED.inc()
            if dossier_code and kind in audience.LEGALLY_REQUIRED:
                # The inbox is where a legally required notice is certain to arrive: the log says so.
                rows.events.append(delivery_updated_row(
                    delivery_id=notice_id, dossier_code=dossier_code, account_id=account_id, channel="inapp",
                    destination_masked="", state=State.DELIVERED.value, event_type=kind, title=rendered.title))
                created.events += 1
            continue
        destination = ""
        if contact is not None:
            destination = contact.email if channel == "email" else contact.phone
        delivery_id = str(uuid.uuid4())
        rows.deliveries.append(dict(
            id=delivery_id, source_id=notice.source_id, account_id=account_id, channel=channel,
            destination=destination, destination_masked=mask(channel, destination), event_type=kind,
            dossier_code=dossier_code, title=rendered.title, body=rendered.body, template_ref=rendered.ref,
            state=State.CREATED.value, attempts=0, next_attempt_at=now, expires_at=None, last_error="",
            created_at=now, updated_at=now, settled_at=None))
        created.deliveries.append(delivery_id)


def write_rows(conn: Connection, rows: Rows) -> None:
    if rows.notifications:
        conn.execute(insert(Notification.__table__), rows.notifications)
    if rows.deliveries:
        conn.execute(insert(Delivery.__table__), rows.deliveries)
    if rows.events:
        conn.execute(insert(outbox), rows.events)


def delivery_updated_row(*, delivery_id: str, dossier_code: str, account_id: str, channel: str,
                         destination_masked: str, state: str, event_type: str, title: str) -> dict:
    """An outbox row announcing notification.delivery.updated (written with the change it tells of)."""
    payload = notification_pb2.DeliveryUpdated(
        delivery_id=delivery_id, dossier_code=dossier_code, account_id=account_id, channel=channel,
        destination_masked=destination_masked, state=state, event_type=event_type, title=title)
    payload.occurred_at.FromDatetime(utcnow())
    envelope = make_envelope(event_type=DELIVERY_UPDATED, producer="notification",
                             subject=dossier_code or delivery_id, payload=payload)
    return dict(event_id=envelope.event_id, subject=DELIVERY_UPDATED, data=envelope.SerializeToString(),
                request_id=envelope.request_id, created_at=utcnow(), published_at=None)


async def record_delivery_updated(session: AsyncSession, **fields) -> None:
    await session.execute(insert(outbox).values(**delivery_updated_row(**fields)))
