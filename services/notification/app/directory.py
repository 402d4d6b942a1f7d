"""The contact directory and preferences: kept from identity.account.* events in this
service's own tables (the notification service never reads identity's database)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from motcua.v1 import events_pb2
from services.notification.domain import audience
from services.notification.domain.context import field_value
from services.notification.store.models import Contact, Preference, processed_events
from services.platform.errors import InvalidInput
from services.platform.events import first_delivery, utcnow

CONTACTS_CONSUMER = "notification-contacts"


def as_contact(row) -> audience.Contact | None:
    """The domain's view of a contact row (an ORM object or a column row alike)."""
    if row is None:
        return None
    return audience.Contact(account_id=row.account_id, name=row.name, email=row.email, phone=row.phone,
                            email_verified=row.email_verified, phone_verified=row.phone_verified,
                            locale=row.locale, kind=row.kind, agency_code=row.agency_code,
                            roles=tuple(row.roles.split()))


async def handle_account_event(sessions: async_sessionmaker, envelope: events_pb2.EventEnvelope) -> bool:
    """Apply an AccountChanged snapshot; an older event arriving after a newer one changes nothing."""
    event = events_pb2.AccountChanged()
    if not envelope.payload.Unpack(event):
        raise ValueError(f"unexpected payload {envelope.payload.type_url}")
    if not event.account_id:
        raise ValueError("AccountChanged without account_id")
    occurred = envelope.occurred_at.ToDatetime(tzinfo=UTC) if envelope.HasField("occurred_at") else utcnow()
    async with sessions() as session, session.begin():
        if not await first_delivery(session, processed_events, CONTACTS_CONSUMER, envelope.event_id):
            return False
        row = await session.get(Contact, event.account_id)
        if row is not None and row.event_at > occurred:
            return True
        if row is None:
            row = Contact(account_id=event.account_id)
            session.add(row)
        row.name = field_value(event, "full_name")
        row.email = field_value(event, "email").strip()
        row.phone = field_value(event, "phone").strip()
        row.email_verified = bool(field_value(event, "email_verified", False))
        row.phone_verified = bool(field_value(event, "phone_verified", False))
        row.locale = field_value(event, "locale") if field_value(event, "locale") in audience.LOCALES else "vi"
        row.kind = event.kind
        row.agency_code = field_value(event, "agency_code")
        row.roles = " ".join(field_value(event, "roles", ()))
        row.event_at = occurred
    return True


_CONTACT_COLUMNS = (Contact.account_id, Contact.name, Contact.email, Contact.phone, Contact.email_verified,
                    Contact.phone_verified, Contact.locale, Contact.kind, Contact.agency_code, Contact.roles)


async def contact_of(session: AsyncSession, account_id: str) -> audience.Contact | None:
    # Column queries, not ORM loads: this runs for every recipient of every event.
    row = (await session.execute(select(*_CONTACT_COLUMNS).where(Contact.account_id == account_id))).first()
    return as_contact(row)


def load_contacts(conn: Connection, account_ids: list[str]) -> dict[str, audience.Contact]:
    """The known contacts among ``account_ids``, in one query (synchronous: see store.writer)."""
    found: dict[str, audience.Contact] = {}
    for start in range(0, len(account_ids), 500):
        rows = conn.execute(select(*_CONTACT_COLUMNS).where(Contact.account_id.in_(account_ids[start:start + 500])))
        for row in rows:
            found[row.account_id] = as_contact(row)
    return found


def load_preferences(conn: Connection, account_ids: list[str]) -> dict[str, audience.Preferences]:
    """The stored preferences among ``account_ids`` (the others have the defaults), in one query."""
    found: dict[str, audience.Preferences] = {}
    for start in range(0, len(account_ids), 500):
        rows = conn.execute(select(Preference.account_id, Preference.inbox, Preference.email, Preference.sms,
                                   Preference.locale).where(Preference.account_id.in_(account_ids[start:start + 500])))
        for row in rows:
            found[row.account_id] = audience.Preferences(inbox=row.inbox, email=row.email, sms=row.sms,
                                                         locale=row.locale)
    return found


async def officials_with_role(session: AsyncSession, agency_code: str, role: str) -> list[audience.Contact]:
    rows = await session.scalars(select(Contact).where(Contact.agency_code == agency_code,
                                                       Contact.roles.contains(role)))
    return [c for c in map(as_contact, rows) if role in c.roles]


async def accounts_with_role(session: AsyncSession, role: str) -> list[audience.Contact]:
    rows = await session.scalars(select(Contact).where(Contact.roles.contains(role)))
    return [c for c in map(as_contact, rows) if role in c.roles]


async def preferences_of(session: AsyncSession, account_id: str) -> audience.Preferences:
    row = (await session.execute(select(Preference.inbox, Preference.email, Preference.sms, Preference.locale)
                                 .where(Preference.account_id == account_id))).first()
    if row is None:
        return audience.Preferences()
    return audience.Preferences(inbox=row.inbox, email=row.email, sms=row.sms, locale=row.locale)


async def read_preferences(sessions: async_sessionmaker, account_id: str):
    async with sessions() as session:
        return await preferences_of(session, account_id), await contact_of(session, account_id)


async def update_preferences(sessions: async_sessionmaker, account_id: str, *, inbox: bool, email: bool, sms: bool,
                             locale: str):
    if locale and locale not in audience.LOCALES:
        raise InvalidInput("Ngôn ngữ không được hỗ trợ (vi hoặc en).", fields={"locale": "Chỉ nhận vi hoặc en."})
    async with sessions() as session, session.begin():
        row = await session.get(Preference, account_id)
        if row is None:
            row = Preference(account_id=account_id, locale="")
            session.add(row)
        row.inbox, row.email, row.sms = inbox, email, sms
        if locale:
            row.locale = locale
        row.updated_at = utcnow()
    return await read_preferences(sessions, account_id)
