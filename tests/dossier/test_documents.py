"""Documents at the store level, on SQLite and PostgreSQL: streamed upload with its hash,
size limit and type check; content stored once; idempotent retries; attachment inside the
caller's transaction, with versions per requirement; who may read what."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.dossier.documents.attach import attach_documents, list_documents
from services.dossier.documents.blobs import FilesystemBlobStore
from services.dossier.documents.context import DocumentContext
from services.dossier.documents.queries import dossier_documents, visible_document
from services.dossier.documents.upload import UploadMetadata, upload_document
from services.dossier.store.document_models import Document
from services.dossier.store.models import Dossier
from services.platform.db import make_engine, session_factory
from services.platform.errors import Conflict, InvalidInput, NotFound
from services.platform.principal import Principal
from tests.dossier import documents_samples as samples

AGENCY = "000.00.01.H29"
CODE = f"{AGENCY}-260306-0001"
AN = Principal(account_id="11111111-1111-1111-1111-111111111111", kind="citizen", name="Nguyễn Văn An")
BINH = Principal(account_id="22222222-2222-2222-2222-222222222222", kind="citizen", name="Trần Thị Bình")
OFFICIAL = Principal(account_id="33333333-3333-3333-3333-333333333333", kind="official",
                     roles=("reception",), agency_code=AGENCY)
OTHER_OFFICIAL = Principal(account_id="44444444-4444-4444-4444-444444444444", kind="official",
                           roles=("reception",), agency_code="000.00.02.H29")


@pytest.fixture
def url(migrated):
    return migrated("dossier")


@pytest.fixture
async def ctx(url, tmp_path):
    engine = make_engine(url, pool_size=5)
    blobs = FilesystemBlobStore(tmp_path / "documents")
    await blobs.start()
    sessions = session_factory(engine)
    try:
        yield DocumentContext(sessions, sessions, blobs, max_bytes=256 * 1024)
    finally:
        await engine.dispose()


async def chunks_of(data: bytes, size: int = 64 * 1024, consumed: list | None = None):
    for i in range(0, len(data), size):
        if consumed is not None:
            consumed.append(i)
        yield data[i:i + size]


async def upload(ctx, content: bytes, name: str = "don.pdf", *, who=AN, requirement="d1", key=""):
    return await upload_document(ctx, who, UploadMetadata(requirement_id=requirement, filename=name,
                                                          declared_content_type="application/octet-stream",
                                                          idempotency_key=key), chunks_of(content))


async def add_dossier(ctx, code=CODE, applicant=AN):
    now = datetime.now(UTC)
    async with ctx.sessions() as session, session.begin():
        session.add(Dossier(code=code, procedure_code="1.001193", procedure_version=1,
                            procedure_name="Đăng ký khai sinh", agency_code=AGENCY, applicant_id=applicant.account_id,
                            applicant_name=applicant.name, channel=2, status_code=1, submitted_at=now,
                            processing_unit="working_day", tracking_secret="ABCDEF", form_data={}, version=1,
                            updated_at=now))


async def count(ctx) -> int:
    async with ctx.reads() as session:
        return await session.scalar(select(func.count()).select_from(Document))


def staged_files(ctx) -> list:
    return list(ctx.blobs.staging_dir.iterdir())


async def test_upload_records_hash_size_and_detected_type_and_stores_content_by_hash(ctx):
    content = samples.pdf()
    result = await upload(ctx, content, "Giấy chứng sinh.pdf")
    doc = result.document
    assert doc.sha256 == hashlib.sha256(content).hexdigest() and doc.size == len(content)
    assert (doc.content_type, doc.kind, doc.declared_content_type) == ("application/pdf", "pdf",
                                                                        "application/octet-stream")
    assert doc.owner_id == AN.account_id and doc.dossier_code is None and doc.version is None
    blob = ctx.blobs.path(doc.sha256)
    assert blob.relative_to(ctx.blobs.root).parts[:3] == ("blobs", doc.sha256[:2], doc.sha256[2:4])
    assert blob.read_bytes() == content
    assert b"".join([c async for c in ctx.blobs.read(doc.sha256)]) == content
    assert staged_files(ctx) == []


async def test_identical_content_is_stored_once(ctx):
    content = samples.png(40, 40)
    first = (await upload(ctx, content, "a.png")).document
    second = (await upload(ctx, content, "b.png", who=BINH)).document
    assert first.id != second.id and first.sha256 == second.sha256
    blobs = [p for p in (ctx.blobs.root / "blobs").rglob("*") if p.is_file()]
    assert blobs == [ctx.blobs.path(first.sha256)]


async def test_too_large_is_refused_while_streaming_and_leaves_nothing(ctx):
    content = samples.pdf() + b"0" * (ctx.max_bytes * 3)
    consumed: list[int] = []
    with pytest.raises(InvalidInput) as err:
        await upload_document(ctx, AN, UploadMetadata(requirement_id="d1", filename="big.pdf"),
                              chunks_of(content, consumed=consumed))
    assert "vượt quá dung lượng" in err.value.message and "size" in err.value.fields
    assert len(consumed) <= ctx.max_bytes // (64 * 1024) + 1  # stopped at the limit, not at the end
    assert await count(ctx) == 0 and staged_files(ctx) == []


async def test_refused_content_leaves_no_row_no_blob_no_staging_file(ctx):
    with pytest.raises(InvalidInput) as err:
        await upload(ctx, samples.elf(), "giay-to.pdf")
    assert "ELF" in err.value.message
    assert await count(ctx) == 0 and staged_files(ctx) == []
    assert not (ctx.blobs.root / "blobs").exists()


async def test_bad_metadata_names_the_field(ctx):
    with pytest.raises(InvalidInput) as err:
        await upload(ctx, samples.pdf(), requirement="")
    assert "requirement_id" in err.value.fields
    with pytest.raises(InvalidInput) as err:
        await upload(ctx, samples.pdf(), name="")
    assert "filename" in err.value.fields


async def test_a_retry_with_the_same_key_returns_the_first_upload(ctx):
    first = await upload(ctx, samples.pdf(), key="k-1")
    again = await upload(ctx, samples.pdf(), key="k-1")
    assert again.replayed and again.document.id == first.document.id and await count(ctx) == 1
    with pytest.raises(Conflict):
        await upload(ctx, samples.png(), "a.png", key="k-1")
    other = await upload(ctx, samples.pdf(), key="k-1", who=BINH)  # keys are per uploader
    assert not other.replayed and await count(ctx) == 2


async def test_attach_checks_owner_and_state_naming_the_document(ctx):
    await add_dossier(ctx)
    mine = (await upload(ctx, samples.pdf())).document
    theirs = (await upload(ctx, samples.pdf(), who=BINH)).document
    for ids, bad in (([mine.id, theirs.id], theirs.id), (["no-such-id"], "no-such-id"), ([mine.id, mine.id], mine.id)):
        with pytest.raises(InvalidInput) as err:
            async with ctx.sessions() as session, session.begin():
                await attach_documents(session, owner_id=AN.account_id, dossier_code=CODE, document_ids=ids)
        assert err.value.fields == {"document_ids": bad} and bad in err.value.message
    async with ctx.sessions() as session:  # the failed transactions attached nothing
        assert (await session.get(Document, mine.id)).dossier_code is None
    async with ctx.sessions() as session, session.begin():
        await attach_documents(session, owner_id=AN.account_id, dossier_code=CODE, document_ids=[mine.id])
    with pytest.raises(InvalidInput) as err:
        async with ctx.sessions() as session, session.begin():
            await attach_documents(session, owner_id=AN.account_id, dossier_code=CODE, document_ids=[mine.id])
    assert "đã thuộc hồ sơ" in err.value.message


async def test_attach_can_restrict_to_the_procedures_requirements(ctx):
    await add_dossier(ctx)
    doc = (await upload(ctx, samples.pdf(), requirement="d9")).document
    with pytest.raises(InvalidInput) as err:
        async with ctx.sessions() as session, session.begin():
            await attach_documents(session, owner_id=AN.account_id, dossier_code=CODE, document_ids=[doc.id],
                                   requirement_ids={"d1", "d2"})
    assert "d9" in err.value.message


async def test_a_rolled_back_submission_leaves_the_documents_unattached(ctx):
    await add_dossier(ctx)
    doc = (await upload(ctx, samples.pdf())).document
    with pytest.raises(RuntimeError):
        async with ctx.sessions() as session, session.begin():
            await attach_documents(session, owner_id=AN.account_id, dossier_code=CODE, document_ids=[doc.id])
            raise RuntimeError("the submission failed after attaching")
    async with ctx.sessions() as session:
        assert (await session.get(Document, doc.id)).dossier_code is None


async def test_each_supplement_adds_a_version_and_keeps_the_old_ones(ctx):
    await add_dossier(ctx)
    front = (await upload(ctx, samples.png(3, 3), "mat-truoc.png", requirement="d1")).document
    back = (await upload(ctx, samples.png(4, 4), "mat-sau.png", requirement="d1")).document
    form = (await upload(ctx, samples.pdf(), "to-khai.pdf", requirement="d2")).document
    async with ctx.sessions() as session, session.begin():
        attached = await attach_documents(session, owner_id=AN.account_id, dossier_code=CODE,
                                          document_ids=[front.id, back.id, form.id])
    assert [(a.requirement_id, a.version) for a in attached] == [("d1", 1), ("d1", 1), ("d2", 1)]
    fixed = (await upload(ctx, samples.docx(), "to-khai-sua.docx", requirement="d2")).document
    async with ctx.sessions() as session, session.begin():
        [again] = await attach_documents(session, owner_id=AN.account_id, dossier_code=CODE, document_ids=[fixed.id])
    assert (again.requirement_id, again.version, again.filename) == ("d2", 2, "to-khai-sua.docx")
    async with ctx.sessions() as session:
        listed = await list_documents(session, CODE)
    assert [(d.requirement_id, d.version) for d in listed] == [("d1", 1), ("d1", 1), ("d2", 1), ("d2", 2)]
    assert listed[3].content_type.endswith("wordprocessingml.document") and listed[3].sha256 == fixed.sha256


async def test_before_attachment_only_the_uploader_reads_a_document(ctx):
    doc = (await upload(ctx, samples.pdf())).document
    assert (await visible_document(ctx, AN, doc.id)).id == doc.id
    for stranger in (BINH, OFFICIAL):
        with pytest.raises(NotFound):
            await visible_document(ctx, stranger, doc.id)
    with pytest.raises(NotFound):
        await visible_document(ctx, AN, "not-a-uuid")


async def test_after_attachment_the_dossier_decides_who_reads(ctx):
    await add_dossier(ctx)
    doc = (await upload(ctx, samples.pdf())).document
    async with ctx.sessions() as session, session.begin():
        await attach_documents(session, owner_id=AN.account_id, dossier_code=CODE, document_ids=[doc.id])
    for reader in (AN, OFFICIAL):
        assert (await visible_document(ctx, reader, doc.id)).dossier_code == CODE
        assert [d.id for d in await dossier_documents(ctx, reader, CODE)] == [doc.id]
    for stranger in (BINH, OTHER_OFFICIAL):
        with pytest.raises(NotFound):
            await visible_document(ctx, stranger, doc.id)
        with pytest.raises(NotFound):
            await dossier_documents(ctx, stranger, CODE)
