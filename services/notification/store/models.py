"""The notification service's own tables: the inbox, deliveries on email and SMS with their
retry schedule, the contact directory and preferences, dossier deadlines and fired reminders,
the outbox of its own events and the processed-events record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.platform.db import UtcDateTime
from services.platform.events import outbox_table, processed_events_table


class Base(DeclarativeBase):
    pass


class Notification(Base):
    """An in-app inbox item."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(10))  # inapp
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Which template version produced it, e.g. vi/dossier.accepted@v1#inbox.
    template_ref: Mapped[str] = mapped_column(String(120), default="")

    __table_args__ = (
        # One notice per event, recipient and channel, however often the event is delivered.
        UniqueConstraint("event_id", "account_id", "channel", name="uq_notification_once"),
        Index("ix_notifications_inbox", "account_id", "created_at"),
    )


class Delivery(Base):
    """One message on email or SMS, with its state and its persisted retry schedule."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The event (or one-time-code request) it came from: with account and channel, it is sent once.
    source_id: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(10))  # email, sms
    # Empty: looked up in the contact directory when sending (the address may come later).
    destination: Mapped[str] = mapped_column(String(320), default="")
    destination_masked: Mapped[str] = mapped_column(String(320), default="")
    event_type: Mapped[str] = mapped_column(String(60))
    dossier_code: Mapped[str] = mapped_column(String(80), default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    template_ref: Mapped[str] = mapped_column(String(120), default="")
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("source_id", "account_id", "channel", name="uq_delivery_once"),
        Index("ix_deliveries_due", "next_attempt_at"),
        Index("ix_deliveries_dossier", "dossier_code"),
    )


class Contact(Base):
    """The contact directory, kept from identity.account.* events (never identity's tables)."""

    __tablename__ = "contacts"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(5), default="vi")
    kind: Mapped[str] = mapped_column(String(20), default="")
    agency_code: Mapped[str] = mapped_column(String(40), default="")
    roles: Mapped[str] = mapped_column(String(300), default="")  # space-separated
    # The newest event applied: an older one arriving late changes nothing.
    event_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_contacts_agency", "agency_code"),)


class Preference(Base):
    __tablename__ = "preferences"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    inbox: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    sms: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(5), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DossierDeadline(Base):
    """A dossier's due time as its events tell it: what the reminder scheduler watches."""

    __tablename__ = "dossier_deadlines"

    dossier_code: Mapped[str] = mapped_column(String(80), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(40), default="")
    procedure_name: Mapped[str] = mapped_column(String(500), default="")
    assignee_id: Mapped[str] = mapped_column(String(36), default="")
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    event_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The last reminder fired for this due time: "", due_soon or overdue (reset when the due
    # time moves). The scheduler reads only deadlines whose next threshold has passed.
    reminded: Mapped[str] = mapped_column(String(20), default="")

    __table_args__ = (Index("ix_deadlines_next_reminder", "open", "reminded", "due_at"),)


class FiredReminder(Base):
    __tablename__ = "fired_reminders"

    dossier_code: Mapped[str] = mapped_column(String(80), primary_key=True)
    # e.g. overdue@20260904T030000Z: once per threshold and due time.
    threshold_key: Mapped[str] = mapped_column(String(60), primary_key=True)
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime())


processed_events = processed_events_table(Base.metadata)
outbox = outbox_table(Base.metadata)
