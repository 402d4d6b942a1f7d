"""DocumentService over real gRPC (client-streaming upload, server-streaming download) and
the gateway's documents routes in front of it, without the rest of the system."""

from __future__ import annotations

import hashlib

import grpc
import httpx
import pytest
from fastapi import FastAPI

from gateway import problems
from gateway.auth import Caller, caller
from gateway.middleware import BodyLimit
from gateway.routes import documents as routes
from motcua.v1 import documents_pb2, documents_pb2_grpc
from services.dossier.documents.blobs import FilesystemBlobStore
from services.dossier.documents.context import DocumentContext
from services.dossier.documents.servicer import DocumentServicer
from services.platform.db import make_engine, session_factory, upgrade_to_head
from services.platform.embedded import free_port
from services.platform.grpc_client import make_channel
from services.platform.grpc_server import ServiceServer
from services.platform.principal import METADATA_KEY, Principal, encode_principal
from tests.conftest import MIGRATIONS
from tests.dossier import documents_samples as samples

SECRET = "test-secret"
AN = Principal(account_id="11111111-1111-1111-1111-111111111111", kind="citizen")
BINH = Principal(account_id="22222222-2222-2222-2222-222222222222", kind="citizen")
LIMIT = 300 * 1024


def signed(principal: Principal) -> tuple[tuple[str, str], ...]:
    return ((METADATA_KEY, encode_principal(principal, SECRET)),)


@pytest.fixture
def url(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dossier.db'}"
    upgrade_to_head(MIGRATIONS["dossier"], url)
    return url


@pytest.fixture
async def stub(url, tmp_path):
    engine = make_engine(url)
    blobs = FilesystemBlobStore(tmp_path / "documents")
    await blobs.start()
    sessions = session_factory(engine)
    server = ServiceServer(name="dossier", addr=f"127.0.0.1:{free_port()}", secret=SECRET)
    documents_pb2_grpc.add_DocumentServiceServicer_to_server(
        DocumentServicer(DocumentContext(sessions, sessions, blobs, max_bytes=LIMIT)), server.server)
    await server.start()
    channel = make_channel(server.addr)
    try:
        yield documents_pb2_grpc.DocumentServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)
        await engine.dispose()


@pytest.fixture
async def http(stub):
    who = {"principal": AN}
    app = FastAPI()
    problems.install(app)
    app.include_router(routes.router)
    app.add_middleware(BodyLimit, max_bytes=1000, paths={routes.UPLOAD_PATH: LIMIT + routes.UPLOAD_OVERHEAD_BYTES})
    app.state.clients = type("Clients", (), {"documents": stub})()
    app.dependency_overrides[caller] = lambda: Caller(who["principal"], signed(who["principal"]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        client.who = who
        yield client


async def requests(meta, content: bytes):
    yield documents_pb2.UploadDocumentRequest(metadata=meta)
    for i in range(0, len(content), 64 * 1024):
        yield documents_pb2.UploadDocumentRequest(chunk=content[i:i + 64 * 1024])


async def test_grpc_upload_and_streamed_download(stub):
    content = samples.png(200, 200) + b"\x00" * 150_000
    reply = await stub.UploadDocument(requests(documents_pb2.UploadMetadata(requirement_id="d1", filename="a.png"),
                                               content), metadata=signed(AN))
    assert reply.document.sha256 == hashlib.sha256(content).hexdigest() and reply.document.kind == "png"
    call = stub.DownloadDocument(documents_pb2.DownloadDocumentRequest(id=reply.document.id), metadata=signed(AN))
    parts = [m async for m in call]
    assert parts[0].document.id == reply.document.id
    assert b"".join(p.chunk for p in parts[1:]) == content and len(parts) > 3


async def test_grpc_download_refuses_strangers_and_unsigned_callers(stub):
    reply = await stub.UploadDocument(requests(documents_pb2.UploadMetadata(requirement_id="d1", filename="a.pdf"),
                                               samples.pdf()), metadata=signed(AN))
    for metadata, code in ((signed(BINH), grpc.StatusCode.NOT_FOUND), ((), grpc.StatusCode.UNAUTHENTICATED),
                           (((METADATA_KEY, "forged.sig"),), grpc.StatusCode.UNAUTHENTICATED)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in stub.DownloadDocument(documents_pb2.DownloadDocumentRequest(id=reply.document.id),
                                                 metadata=metadata):
                pass
        assert err.value.code() == code


async def test_grpc_upload_needs_metadata_first(stub):
    async def chunk_first():
        yield documents_pb2.UploadDocumentRequest(chunk=b"%PDF-1.4")

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UploadDocument(chunk_first(), metadata=signed(AN))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "metadata" in err.value.details()


async def test_gateway_upload_download_and_headers(http):
    content = samples.pdf() + b"%" + b"y" * 100_000
    reply = await http.post("/api/v1/documents", data={"requirement_id": "d3"},
                            files={"file": ("Tờ khai.pdf", content, "application/pdf")})
    assert reply.status_code == 201, reply.text
    doc = reply.json()
    assert doc["size"] == len(content) and doc["requirement_id"] == "d3"
    got = await http.get(doc["content_url"])
    assert got.content == content and got.headers["content-type"] == "application/pdf"
    assert got.headers["content-length"] == str(len(content)) and got.headers["etag"] == f'"{doc["sha256"]}"'
    assert "filename*=UTF-8''T%E1%BB%9D%20khai.pdf" in got.headers["content-disposition"]
    http.who["principal"] = BINH
    assert (await http.get(doc["content_url"])).status_code == 404
    assert (await http.get(f"/api/v1/documents/{doc['id']}")).status_code == 404


async def test_gateway_maps_refusals_to_problems(http):
    reply = await http.post("/api/v1/documents", data={"requirement_id": "d1"},
                            files={"file": ("giay.pdf", samples.png(), "application/pdf")})
    assert reply.status_code == 422 and "không khớp" in reply.json()["detail"]
    # over the service's limit, under the gateway's body limit: the service's refusal is a 413
    reply = await http.post("/api/v1/documents", data={"requirement_id": "d1"},
                            files={"file": ("lon.pdf", samples.pdf() + b"0" * LIMIT, "application/pdf")})
    assert reply.status_code == 413 and "vượt quá" in reply.json()["detail"]
    # far over: the gateway's body limit stops it
    reply = await http.post("/api/v1/documents", data={"requirement_id": "d1"},
                            files={"file": ("lon.pdf", b"0" * (LIMIT * 2), "application/pdf")})
    assert reply.status_code == 413
    # other paths keep the small JSON limit
    assert (await http.post("/api/v1/documents/x", content=b"0" * 2000)).status_code == 413
