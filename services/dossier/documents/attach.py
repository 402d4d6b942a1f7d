"""Attaching uploaded documents to a dossier, inside the submitting (or supplementing)
transaction: the documents stop being the uploader's drafts and become the dossier's,
each as the next version of its requirement, older versions kept."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dossier.store.document_models import Document
from services.platform.errors import InvalidInput

FIELD = "document_ids"


@dataclass(frozen=True)
class AttachedDocument:
    id: str
    requirement_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    version: int


def as_attached(doc: Document) -> AttachedDocument:
    return AttachedDocument(id=doc.id, requirement_id=doc.requirement_id, filename=doc.filename,
                            content_type=doc.content_type, size=doc.size, sha256=doc.sha256,
                            version=doc.version or 0)


def _refuse(message: str, doc_id: str) -> InvalidInput:
    return InvalidInput(message, fields={FIELD: doc_id})


async def attach_documents(session: AsyncSession, *, owner_id: str, dossier_code: str, document_ids: list[str],
                           requirement_ids: Collection[str] | None = None) -> list[AttachedDocument]:
    """Checks each id is ``owner_id``'s and not attached yet (InvalidInput naming the id
    otherwise), then attaches them. All documents for one requirement attached in one call
    form one version of it (a requirement may need several files, e.g. both sides of a card).
    ``requirement_ids``, when given, are the procedure's: a document for another is refused."""
    if len(set(document_ids)) != len(document_ids):
        dup = next(i for i in document_ids if document_ids.count(i) > 1)
        raise _refuse(f"Tài liệu {dup} được gửi hai lần.", dup)
    if not document_ids:
        return []
    query = select(Document).where(Document.id.in_(document_ids))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    found = {d.id: d for d in (await session.scalars(query))}
    for doc_id in document_ids:
        doc = found.get(doc_id)
        if doc is None or doc.owner_id != owner_id:
            raise _refuse(f"Không tìm thấy tài liệu {doc_id} trong các tệp bạn đã tải lên.", doc_id)
        if doc.dossier_code is not None:
            raise _refuse(f"Tài liệu {doc_id} đã thuộc hồ sơ khác hoặc đã được nộp; hãy tải tệp lên lại.", doc_id)
        if requirement_ids is not None and doc.requirement_id not in requirement_ids:
            raise _refuse(f"Tài liệu {doc_id} gắn với thành phần hồ sơ “{doc.requirement_id}” "
                          "không có trong thủ tục này.", doc_id)
    wanted = {found[i].requirement_id for i in document_ids}
    rows = await session.execute(
        select(Document.requirement_id, func.max(Document.version))
        .where(Document.dossier_code == dossier_code, Document.requirement_id.in_(wanted))
        .group_by(Document.requirement_id))
    latest = {req: int(v or 0) for req, v in rows}
    now = datetime.now(UTC)
    attached = []
    for doc_id in document_ids:
        doc = found[doc_id]
        doc.dossier_code = dossier_code
        doc.version = latest.get(doc.requirement_id, 0) + 1
        doc.attached_at = now
        attached.append(as_attached(doc))
    await session.flush()
    return attached


async def list_documents(session: AsyncSession, dossier_code: str) -> list[AttachedDocument]:
    """Every version of every document of the dossier, by requirement then version."""
    rows = await session.scalars(
        select(Document).where(Document.dossier_code == dossier_code)
        .order_by(Document.requirement_id, Document.version, Document.attached_at, Document.id))
    return [as_attached(d) for d in rows]
