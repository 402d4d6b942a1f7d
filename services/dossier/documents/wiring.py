"""Putting DocumentService on the dossier service's gRPC server (same process, same database)."""

from __future__ import annotations

from motcua.v1 import documents_pb2, documents_pb2_grpc
from services.dossier.documents.blobs import make_blob_store
from services.dossier.documents.context import DocumentContext
from services.dossier.documents.servicer import DocumentServicer
from services.platform.db import Database
from services.platform.grpc_server import ServiceServer
from services.platform.settings import PlatformSettings


async def serve_documents(server: ServiceServer, db: Database, settings: PlatformSettings) -> DocumentContext:
    """Registers the servicer; the caller closes ``ctx.blobs`` at shutdown."""
    blobs = make_blob_store(settings)
    await blobs.start()
    ctx = DocumentContext(db.sessions, db.reads, blobs, max_bytes=settings.document_max_bytes)
    documents_pb2_grpc.add_DocumentServiceServicer_to_server(
        DocumentServicer(ctx), server.server)
    server.add_services([documents_pb2.DESCRIPTOR.services_by_name["DocumentService"].full_name])
    return ctx
