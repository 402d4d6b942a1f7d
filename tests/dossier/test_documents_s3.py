"""The S3-compatible store against a real S3 server (moto's standalone server on loopback):
content addressed by hash, stored once, multipart for large files, read back in chunks."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from moto.server import ThreadedMotoServer

from services.dossier.documents.blobs import S3BlobStore, blob_key, make_blob_store
from services.dossier.documents.context import DocumentContext
from services.dossier.documents.upload import UploadMetadata, upload_document
from services.platform.db import make_engine, session_factory, upgrade_to_head
from services.platform.embedded import free_port
from services.platform.principal import Principal
from services.platform.settings import PlatformSettings
from tests.conftest import MIGRATIONS
from tests.dossier import documents_samples as samples

BUCKET = "motcua-documents"


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
async def store(s3_endpoint, tmp_path):
    settings = PlatformSettings(document_storage="s3", document_s3_endpoint=s3_endpoint, document_dir=tmp_path,
                                document_s3_access_key="test", document_s3_secret_key="test",
                                document_s3_bucket=BUCKET)
    store = make_blob_store(settings)
    assert isinstance(store, S3BlobStore)
    await store.start()
    try:
        await store._client.create_bucket(Bucket=BUCKET)
    except store._client.exceptions.BucketAlreadyOwnedByYou:
        pass
    yield store
    await store.close()


def stage(store, data: bytes):
    store.staging_dir.mkdir(parents=True, exist_ok=True)
    path = store.staging_dir / f"upload-{hashlib.sha256(data).hexdigest()[:8]}-{os.urandom(4).hex()}"
    path.write_bytes(data)
    return path


async def keys(store) -> list[str]:
    reply = await store._client.list_objects_v2(Bucket=BUCKET, Prefix="blobs/")
    return sorted(o["Key"] for o in reply.get("Contents", []))


async def test_put_read_and_store_once(store):
    data = samples.pdf() * 50
    sha = hashlib.sha256(data).hexdigest()
    before = await keys(store)
    assert not await store.exists(sha)
    first, second = stage(store, data), stage(store, data)
    await store.put(sha, first)
    await store.put(sha, second)
    assert not first.exists() and not second.exists()
    assert await store.exists(sha)
    assert await keys(store) == sorted({*before, blob_key(sha)})
    assert b"".join([c async for c in store.read(sha)]) == data


async def test_large_files_go_up_in_parts(store):
    data = os.urandom(S3BlobStore.PART + 300_000)
    sha = hashlib.sha256(data).hexdigest()
    await store.put(sha, stage(store, data))
    head = await store._client.head_object(Bucket=BUCKET, Key=blob_key(sha))
    assert head["ContentLength"] == len(data) and head["ETag"].strip('"').endswith("-2")
    chunks = [c async for c in store.read(sha)]
    assert b"".join(chunks) == data and len(chunks) > 1


async def test_an_upload_lands_in_the_bucket(store, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dossier.db'}"
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS["dossier"], url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        content = samples.docx()

        async def chunks():
            yield content

        result = await upload_document(DocumentContext(sessions, sessions, store),
                                       Principal(account_id="a1", kind="citizen"),
                                       UploadMetadata(requirement_id="d1", filename="to-khai.docx"), chunks())
    finally:
        await engine.dispose()
    assert result.document.kind == "docx"
    assert b"".join([c async for c in store.read(result.document.sha256)]) == content
    assert list(store.staging_dir.iterdir()) == []
