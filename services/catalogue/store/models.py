"""The catalogue's own tables: agencies, procedure versions, the audit trail and its event outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.platform.db import UtcDateTime
from services.platform.events import outbox_table


class Base(DeclarativeBase):
    pass


class Agency(Base):
    """An agency is never deleted: a merged or renamed one keeps its code, gets a successor
    and a ``valid_to``, so old dossiers still point at what they were filed with."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(35), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    parent_code: Mapped[str | None] = mapped_column(String(35), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # city, department, board, commune, team
    demo_code: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    successor_code: Mapped[str | None] = mapped_column(String(35), nullable=True)
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Procedure(Base):
    """One version of a procedure; ``data`` keeps the full content and its sources."""

    __tablename__ = "procedures"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(12), index=True)  # draft, published, retired
    name: Mapped[str] = mapped_column(Text)
    name_folded: Mapped[str] = mapped_column(Text)
    search_folded: Mapped[str] = mapped_column(Text)
    sector: Mapped[str] = mapped_column(String(200), default="")
    level: Mapped[str] = mapped_column(String(20), default="")
    agency_code: Mapped[str] = mapped_column(String(35), default="")
    online_mode: Mapped[str] = mapped_column(String(10), default="none")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    effective_from: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    effective_to: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_by: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (Index("ix_procedures_published", "status", "code"),)


class AuditEntry(Base):
    """Who changed what in the catalogue, with the old and new values (JSON)."""

    __tablename__ = "catalogue_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_id: Mapped[str] = mapped_column(String(64), default="")
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(30))
    entity: Mapped[str] = mapped_column(String(20))  # procedure, agency
    entity_key: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[list] = mapped_column(JSON, default=list)

    __table_args__ = (Index("ix_catalogue_audit_entity", "entity", "entity_key", "id"),)


outbox = outbox_table(Base.metadata)
