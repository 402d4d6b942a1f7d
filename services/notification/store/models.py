"""The notification service's own tables: the in-app inbox and the processed-events record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.platform.db import UtcDateTime
from services.platform.events import processed_events_table


class Base(DeclarativeBase):
    pass


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(10))  # inapp, email, sms
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        # One notice per event, recipient and channel, however often the event is delivered.
        UniqueConstraint("event_id", "account_id", "channel", name="uq_notification_once"),
        Index("ix_notifications_inbox", "account_id", "created_at"),
    )


processed_events = processed_events_table(Base.metadata)
