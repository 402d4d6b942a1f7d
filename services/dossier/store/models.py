"""The dossier service's own tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.platform.db import UtcDateTime
from services.platform.events import outbox_table, processed_events_table


# The partial indexes' predicate: a dossier not yet in a final status (refused, withdrawn,
# stopped, returned). Queries must repeat it word for word, with literals (queries.OPEN).
OPEN_STATUS = "status_code NOT IN (3, 7, 8, 10)"


class Base(DeclarativeBase):
    pass


class Dossier(Base):
    """One electronic dossier (hồ sơ điện tử).

    Work queues are read by four composite indexes, designed for a million dossiers:
    ``ix_dossiers_agency_queue`` (agency_code, status_code, queue_at, code) serves an
    agency's queue filtered by status; ``ix_dossiers_assignee_queue`` (assignee_id,
    status_code, queue_at, code) serves "assigned to me" filtered by status; the partial index
    ``ix_dossiers_agency_open`` (agency_code, queue_at, code) WHERE the status is open
    serves "everything open" without a sort (on PostgreSQL it also carries due_at, so the
    overdue count reads the index alone); ``ix_dossiers_assignee_open`` (assignee_id,
    agency_code, queue_at, code) WHERE open serves "assigned to me" the same way (the
    agency narrows nothing, an official has one, but as a key column it is checked in
    the index rather than on each row, and the planner then prefers this index). ``queue_at`` is the due time once the
    dossier is accepted and the filing time before, so ordering by it puts overdue
    dossiers first and a new filing in line by when it came; the trailing ``code`` makes
    keyset pagination exact (each page starts after the (queue_at, code) last seen), so
    page 500 costs what page 1 costs, unlike OFFSET.
    """

    __tablename__ = "dossiers"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    procedure_code: Mapped[str] = mapped_column(String(40))
    procedure_version: Mapped[int] = mapped_column(Integer)
    procedure_name: Mapped[str] = mapped_column(Text)
    agency_code: Mapped[str] = mapped_column(String(35))
    applicant_id: Mapped[str] = mapped_column(String(36))
    applicant_name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Processing time pinned at submission (from the procedure version).
    processing_value: Mapped[float | None] = mapped_column(Float)
    processing_unit: Mapped[str] = mapped_column(String(20), default="")
    tracking_secret: Mapped[str] = mapped_column(String(20))
    form_data: Mapped[dict] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # --- the lifecycle beyond reception -------------------------------------------
    queue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    submitted_by: Mapped[str] = mapped_column(String(36), default="")
    assignee_id: Mapped[str | None] = mapped_column(String(36))
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    step_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Decision 766: the supplement wait does not count; more than one request is late.
    supplement_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    supplement_count: Mapped[int] = mapped_column(Integer, default=0)
    paused_minutes: Mapped[int] = mapped_column(Integer, default=0)
    missing_items: Mapped[list] = mapped_column(JSON, default=list)
    original_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    fees_due_vnd: Mapped[int | None] = mapped_column(BigInteger)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    result_document_id: Mapped[str | None] = mapped_column(String(64))
    return_method: Mapped[str | None] = mapped_column(String(20))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    # Inter-agency (liên thông): a derived dossier names its original and is not counted
    # again in statistics.
    parent_code: Mapped[str | None] = mapped_column(String(60))
    # The workflow step of the original that a derived dossier handles (one open at a time).
    parent_step: Mapped[int | None] = mapped_column(Integer)
    # The stage of the last supplement request: -1 reception, else the step index.
    supplement_stage: Mapped[int | None] = mapped_column(Integer)
    # The log's end (seq and hash of the latest entry), written with each append: a
    # removed last entry shows as a chain ending short of it.
    log_seq: Mapped[int | None] = mapped_column(Integer)
    log_head: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_dossiers_applicant", "applicant_id", "submitted_at"),
        Index("ix_dossiers_agency_queue", "agency_code", "status_code", "queue_at", "code"),
        Index("ix_dossiers_assignee_queue", "assignee_id", "status_code", "queue_at", "code"),
        Index("ix_dossiers_agency_open", "agency_code", "queue_at", "code",
              sqlite_where=text(OPEN_STATUS), postgresql_where=text(OPEN_STATUS),
              postgresql_include=["status_code", "due_at"]),
        Index("ix_dossiers_assignee_open", "assignee_id", "agency_code", "queue_at", "code",
              sqlite_where=text(OPEN_STATUS), postgresql_where=text(OPEN_STATUS),
              postgresql_include=["status_code", "due_at"]),
        Index("ix_dossiers_parent", "parent_code"),
    )


class LogEntry(Base):
    """Append-only; each row carries the hash of the dossier's previous row."""

    __tablename__ = "dossier_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    dossier_code: Mapped[str] = mapped_column(String(60))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_id: Mapped[str] = mapped_column(String(36))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(40))
    status_code: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Internal entries (officials' notes) are left out of the applicant's log; an
    # internal_note on a public entry is shown to officials only.
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    internal_note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("dossier_code", "seq", name="uq_dossier_log_seq"),)


class CodeSequence(Base):
    """Last dossier number issued per agency per day; bumped in the submitting transaction."""

    __tablename__ = "code_sequences"

    agency_code: Mapped[str] = mapped_column(String(35), primary_key=True)
    day: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class IdempotencyKey(Base):
    """A client's retry of the same write returns the first answer instead of writing twice."""

    __tablename__ = "idempotency_keys"

    principal_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(40))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProcedureSnapshot(Base):
    """A procedure version as the catalogue published it, kept here so a dossier is
    checked and processed by the version it was filed under, and so submitting needs no
    call to the catalogue. Fed by catalogue.procedure.published/retired; fetched on a miss."""

    __tablename__ = "procedure_snapshots"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    # The catalogue's Procedure message, serialized.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
