"""Who may read a document: before it is attached, only the person who uploaded it; after,
whoever may see its dossier (the applicant, the officials of the agency). Anyone else is
told it does not exist, so ids cannot be probed."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.dossier.app.access import can_see, not_found
from services.dossier.documents.context import DocumentContext
from services.dossier.store.document_models import Document
from services.dossier.store.models import Dossier
from services.platform.errors import NotFound
from services.platform.principal import Principal


def document_not_found(doc_id: str) -> NotFound:
    return NotFound(f"Không tìm thấy tài liệu {doc_id}.")


async def visible_document(ctx: DocumentContext, principal: Principal, doc_id: str) -> Document:
    try:
        uuid.UUID(doc_id)
    except ValueError:
        raise document_not_found(doc_id) from None
    async with ctx.reads() as session:
        doc = await session.get(Document, doc_id)
        if doc is None:
            raise document_not_found(doc_id)
        if doc.dossier_code is None:
            if doc.uploaded_by != principal.account_id:
                raise document_not_found(doc_id)
            return doc
        dossier = await session.get(Dossier, doc.dossier_code)
    if dossier is None or not can_see(principal, dossier):
        raise document_not_found(doc_id)
    return doc


async def dossier_documents(ctx: DocumentContext, principal: Principal, code: str) -> list[Document]:
    async with ctx.reads() as session:
        dossier = await session.get(Dossier, code)
        if dossier is None or not can_see(principal, dossier):
            raise not_found(code)
        rows = await session.scalars(
            select(Document).where(Document.dossier_code == code)
            .order_by(Document.requirement_id, Document.version, Document.attached_at, Document.id))
        return list(rows)
