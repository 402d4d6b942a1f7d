"""Receiving one document: streamed to a staging file while its SHA-256 and size are
computed (too large is refused as soon as the limit is crossed, not after), then its type
is decided from the content, the content stored under its hash and the row written."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.dossier.documents.blobs import new_staging_file
from services.dossier.documents.context import DocumentContext
from services.dossier.documents.sniff import identify, safe_filename
from services.dossier.store.document_models import Document
from services.platform.errors import Conflict, InvalidInput
from services.platform.principal import Principal

REQUIREMENT_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
SIZE_FIELD = "size"


@dataclass(frozen=True)
class UploadMetadata:
    requirement_id: str
    filename: str
    declared_content_type: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True)
class UploadResult:
    document: Document
    replayed: bool = False


def _checked(meta: UploadMetadata) -> UploadMetadata:
    if not REQUIREMENT_ID.match(meta.requirement_id or ""):
        raise InvalidInput("Mã thành phần hồ sơ (requirement_id) thiếu hoặc không hợp lệ.",
                           fields={"requirement_id": "1-40 letters, digits, . _ -"})
    if len(meta.idempotency_key) > 200:
        raise InvalidInput("Khóa chống gửi trùng quá dài (tối đa 200 ký tự).", fields={"idempotency_key": "max 200"})
    return UploadMetadata(requirement_id=meta.requirement_id, filename=safe_filename(meta.filename),
                          declared_content_type=(meta.declared_content_type or "")[:120],
                          idempotency_key=meta.idempotency_key)


def too_large(filename: str, max_bytes: int) -> InvalidInput:
    limit = f"{max_bytes / (1024 * 1024):g} MB" if max_bytes >= 1024 * 1024 else f"{max_bytes} byte"
    return InvalidInput(f"Tệp “{filename}” vượt quá dung lượng cho phép ({limit}).",
                        fields={SIZE_FIELD: f"max {max_bytes} bytes"})


async def _stage(chunks: AsyncIterator[bytes], staging_dir: Path, filename: str, max_bytes: int):
    """Write the chunks to a staging file; returns (path, sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    staged = new_staging_file(staging_dir)
    path = Path(staged.name)
    try:
        with staged:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(filename, max_bytes)
                digest.update(chunk)
                staged.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), size


async def upload_document(ctx: DocumentContext, principal: Principal, meta: UploadMetadata,
                          chunks: AsyncIterator[bytes]) -> UploadResult:
    meta = _checked(meta)
    path, sha256, size = await _stage(chunks, ctx.blobs.staging_dir, meta.filename, ctx.max_bytes)
    try:
        if size == 0:
            raise InvalidInput(f"Tệp “{meta.filename}” rỗng.", fields={"file": "empty"})
        fmt = await asyncio.to_thread(identify, path, meta.filename)
        key = meta.idempotency_key or None
        if key:
            previous = await _by_key(ctx, principal.account_id, key)
            if previous is not None:
                return _replay(previous, meta, sha256)
        await ctx.blobs.put(sha256, path)
    finally:
        path.unlink(missing_ok=True)
    doc = Document(
        id=str(uuid.uuid4()), owner_id=principal.applicant_id, uploaded_by=principal.account_id,
        requirement_id=meta.requirement_id, filename=meta.filename,
        declared_content_type=meta.declared_content_type, content_type=fmt.content_type, kind=fmt.kind,
        size=size, sha256=sha256, idempotency_key=key, created_at=datetime.now(UTC),
    )
    try:
        async with ctx.sessions() as session, session.begin():
            session.add(doc)
    except IntegrityError:
        previous = await _by_key(ctx, principal.account_id, key) if key else None
        if previous is None:
            raise
        return _replay(previous, meta, sha256)
    return UploadResult(doc)


async def _by_key(ctx: DocumentContext, uploaded_by: str, key: str) -> Document | None:
    async with ctx.reads() as session:
        return await session.scalar(
            select(Document).where(Document.uploaded_by == uploaded_by, Document.idempotency_key == key))


def _replay(previous: Document, meta: UploadMetadata, sha256: str) -> UploadResult:
    if (previous.sha256, previous.requirement_id, previous.filename) != (sha256, meta.requirement_id, meta.filename):
        raise Conflict("Khóa chống gửi trùng (Idempotency-Key) này đã được dùng cho một tệp khác.",
                       fields={"Idempotency-Key": "reused with a different upload"})
    return UploadResult(previous, replayed=True)
