"""DocumentService over gRPC: streams in, streams out; the use cases do the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator

from motcua.v1 import documents_pb2, documents_pb2_grpc
from services.dossier.documents.context import DocumentContext
from services.dossier.documents.queries import dossier_documents, visible_document
from services.dossier.documents.upload import UploadMetadata, upload_document
from services.dossier.store.document_models import Document
from services.platform.errors import InvalidInput, Unavailable
from services.platform.grpc_server import current_principal


def document_to_proto(doc: Document) -> documents_pb2.Document:
    msg = documents_pb2.Document(
        id=doc.id, requirement_id=doc.requirement_id, filename=doc.filename, content_type=doc.content_type,
        declared_content_type=doc.declared_content_type, size=doc.size, sha256=doc.sha256,
        dossier_code=doc.dossier_code or "", version=doc.version or 0, kind=doc.kind,
    )
    msg.created_at.FromDatetime(doc.created_at)
    if doc.attached_at is not None:
        msg.attached_at.FromDatetime(doc.attached_at)
    return msg


async def _chunks(requests: AsyncIterator[documents_pb2.UploadDocumentRequest]) -> AsyncIterator[bytes]:
    async for part in requests:
        if part.WhichOneof("part") != "chunk":
            raise InvalidInput("Chỉ tin nhắn đầu tiên mang thông tin tệp; các tin sau phải là nội dung.",
                               fields={"part": "expected chunk"})
        yield part.chunk


class DocumentServicer(documents_pb2_grpc.DocumentServiceServicer):
    def __init__(self, ctx: DocumentContext):
        self._ctx = ctx

    async def UploadDocument(self, request_iterator, context):
        requests = aiter(request_iterator)
        first = await anext(requests, None)
        if first is None or first.WhichOneof("part") != "metadata":
            raise InvalidInput("Tin nhắn đầu tiên phải mang thông tin tệp (metadata).", fields={"metadata": "required"})
        m = first.metadata
        result = await upload_document(self._ctx, current_principal(), UploadMetadata(
            requirement_id=m.requirement_id, filename=m.filename, declared_content_type=m.declared_content_type,
            idempotency_key=m.idempotency_key), _chunks(requests))
        return documents_pb2.UploadDocumentResponse(document=document_to_proto(result.document),
                                                    replayed=result.replayed)

    async def GetDocument(self, request, context):
        doc = await visible_document(self._ctx, current_principal(), request.id)
        return documents_pb2.GetDocumentResponse(document=document_to_proto(doc))

    async def ListDossierDocuments(self, request, context):
        docs = await dossier_documents(self._ctx, current_principal(), request.code)
        return documents_pb2.ListDossierDocumentsResponse(documents=[document_to_proto(d) for d in docs])

    async def DownloadDocument(self, request, context):
        doc = await visible_document(self._ctx, current_principal(), request.id)
        if not await self._ctx.blobs.exists(doc.sha256):
            raise Unavailable("Không đọc được nội dung tài liệu, vui lòng thử lại sau.")
        yield documents_pb2.DownloadDocumentResponse(document=document_to_proto(doc))
        async for chunk in self._ctx.blobs.read(doc.sha256):
            yield documents_pb2.DownloadDocumentResponse(chunk=chunk)

