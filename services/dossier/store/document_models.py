"""Uploaded documents (thành phần hồ sơ): the row describes a file whose content lives in
the blob store under its SHA-256, so identical files are stored once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.dossier.store.models import Base
from services.platform.db import UtcDateTime


class Document(Base):
    """Owned by the applicant it was uploaded for until attached; then it belongs to the
    dossier, as version ``version`` of requirement ``requirement_id`` (older versions stay)."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The applicant (the represented business, or the person) and the person who uploaded.
    owner_id: Mapped[str] = mapped_column(String(36))
    uploaded_by: Mapped[str] = mapped_column(String(36))
    requirement_id: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    declared_content_type: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    dossier_code: Mapped[str | None] = mapped_column(String(60))
    version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("uploaded_by", "idempotency_key", name="uq_documents_idempotency"),
        Index("ix_documents_owner", "owner_id", "created_at"),
        Index("ix_documents_dossier", "dossier_code", "requirement_id", "version"),
        Index("ix_documents_sha256", "sha256"),
    )
