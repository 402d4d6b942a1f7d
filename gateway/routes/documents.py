"""/api/v1/documents: upload (multipart, streamed straight through to the dossier service in
64 KiB chunks: the gateway never holds a whole file, in memory or on disk), metadata,
download, and a dossier's documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import grpc
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from python_multipart.multipart import MultipartParser, parse_options_header

from gateway.auth import Caller, caller
from gateway.problems import Problem
from gateway.responses import JSONResponse
from gateway.schemas import ts
from motcua.v1 import documents_pb2
from services.platform.grpc_server import FIELDS_METADATA_KEY, REQUEST_ID_KEY
from services.platform.logging import request_id_var
from services.platform.settings import platform_settings

router = APIRouter(prefix="/api/v1", tags=["Tài liệu"])

CHUNK = 64 * 1024
UPLOAD_PATH = "/api/v1/documents"
MAX_FIELD_BYTES = 1024
# Multipart framing and the small fields around the file.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def view(d: documents_pb2.Document) -> dict:
    return {
        "id": d.id, "requirement_id": d.requirement_id, "filename": d.filename, "content_type": d.content_type,
        "declared_content_type": d.declared_content_type, "kind": d.kind, "size": d.size, "sha256": d.sha256,
        "dossier_code": d.dossier_code or None, "version": d.version or None,
        "created_at": ts(d.created_at), "attached_at": ts(d.attached_at),
        "content_url": f"/api/v1/documents/{d.id}/content",
    }


@dataclass
class FilePart:
    field: str
    filename: str
    content_type: str


class MultipartStream:
    """Parses a multipart/form-data body as it arrives. Small fields before the file are
    collected; the file's bytes are handed on chunk by chunk."""

    def __init__(self, request: Request, boundary: bytes):
        self._body = request.stream()
        self._events: list[tuple] = []
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._part: FilePart | None = None
        self._field: str | None = None
        self._value = bytearray()
        self.fields: dict[str, str] = {}
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._on_part_begin, "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end, "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value, "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
        })

    def _on_part_begin(self):
        self._headers = {}

    def _on_header_field(self, data, start, end):
        self._header_field += data[start:end]

    def _on_header_value(self, data, start, end):
        self._header_value += data[start:end]

    def _on_header_end(self):
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _on_headers_finished(self):
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            self._part = FilePart(name, options[b"filename"].decode("utf-8", "replace"),
                                  self._headers.get(b"content-type", b"").decode("latin-1")[:120])
            self._events.append(("file", self._part))
        else:
            self._part, self._field, self._value = None, name, bytearray()

    def _on_part_data(self, data, start, end):
        if self._part is not None:
            self._events.append(("data", bytes(data[start:end])))
        else:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise Problem(422, f"Trường “{self._field}” quá dài.", errors={self._field: "too long"})

    def _on_part_end(self):
        if self._part is not None:
            self._events.append(("end", None))
        elif self._field:
            self.fields[self._field] = self._value.decode("utf-8", "replace")

    async def events(self) -> AsyncIterator[tuple]:
        async for chunk in self._body:
            if chunk:
                self._parser.write(chunk)
            events, self._events = self._events, []
            for event in events:
                yield event
        self._parser.finalize()
        for event in self._events:
            yield event


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise Problem(415, "Hãy gửi tệp dưới dạng multipart/form-data (trường “file”).")
    return options[b"boundary"]


@router.post("/documents", status_code=201, summary="Tải lên một tài liệu (multipart: requirement_id, file)")
async def upload(request: Request, who: Caller = Depends(caller),
                 idempotency_key: str = Header(default="", alias="Idempotency-Key", max_length=200),
                 requirement_id: str = Query("", max_length=40,
                                             description="Mã thành phần hồ sơ (nếu không gửi trong form)")):
    form = MultipartStream(request, _boundary(request))
    events = form.events()
    part = None
    async for kind, value in events:
        if kind == "file":
            part = value
            break
    if part is None:
        raise Problem(422, "Thiếu tệp tải lên (trường “file”).", errors={"file": "required"})
    requirement = form.fields.get("requirement_id") or requirement_id
    if not requirement:
        raise Problem(422, "Thiếu mã thành phần hồ sơ (requirement_id), gửi trước tệp trong form hoặc trên URL.",
                      errors={"requirement_id": "required"})
    failure: list[BaseException] = []

    async def messages():
        yield documents_pb2.UploadDocumentRequest(metadata=documents_pb2.UploadMetadata(
            requirement_id=requirement, filename=part.filename, declared_content_type=part.content_type,
            idempotency_key=idempotency_key))
        pending = bytearray()
        try:
            async for kind, value in events:
                if kind == "end":
                    break
                pending += value
                while len(pending) >= CHUNK:
                    yield documents_pb2.UploadDocumentRequest(chunk=bytes(pending[:CHUNK]))
                    del pending[:CHUNK]
        except BaseException as exc:  # the client went away, or the body is too large
            failure.append(exc)
            raise
        if pending:
            yield documents_pb2.UploadDocumentRequest(chunk=bytes(pending))

    settings = platform_settings()
    try:
        reply = await request.app.state.clients.documents.UploadDocument(
            messages(), metadata=who.metadata, timeout=settings.document_transfer_seconds)
    except grpc.aio.AioRpcError as exc:
        if failure:
            raise failure[0] from None
        fields = dict(exc.trailing_metadata() or ()).get(FIELDS_METADATA_KEY, "")
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT and '"size"' in fields:
            raise Problem(413, exc.details(), errors={"file": "too large"}) from None
        raise
    headers = {"Location": f"/api/v1/documents/{reply.document.id}"}
    if reply.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(view(reply.document), status_code=201, headers=headers)


@router.get("/documents/{doc_id}", summary="Thông tin một tài liệu")
async def get_document(doc_id: str, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.documents.GetDocument(
        documents_pb2.GetDocumentRequest(id=doc_id), metadata=who.metadata)
    return view(reply.document)


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback for old clients and the exact UTF-8 name for the rest."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/documents/{doc_id}/content", summary="Tải về nội dung tài liệu",
            response_class=StreamingResponse)
async def download(doc_id: str, request: Request, who: Caller = Depends(caller)):
    # Server-streaming calls bypass the channel's interceptor: the request id goes by hand.
    metadata = (*who.metadata, (REQUEST_ID_KEY, request_id_var.get()))
    call = request.app.state.clients.documents.DownloadDocument(
        documents_pb2.DownloadDocumentRequest(id=doc_id), metadata=metadata,
        timeout=platform_settings().document_transfer_seconds)
    first = await call.read()
    if first is grpc.aio.EOF or first.WhichOneof("part") != "document":
        raise Problem(502, "Lỗi hệ thống, vui lòng thử lại sau.")
    doc = first.document

    async def body():
        while (msg := await call.read()) is not grpc.aio.EOF:
            yield msg.chunk

    return StreamingResponse(body(), media_type=doc.content_type, headers={
        "Content-Disposition": content_disposition(doc.filename),
        "Content-Length": str(doc.size),
        "ETag": f'"{doc.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    })


@router.get("/dossiers/{code}/documents", summary="Các tài liệu của hồ sơ (mọi phiên bản)")
async def dossier_documents(code: str, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.documents.ListDossierDocuments(
        documents_pb2.ListDossierDocumentsRequest(code=code), metadata=who.metadata)
    return {"items": [view(d) for d in reply.documents]}
