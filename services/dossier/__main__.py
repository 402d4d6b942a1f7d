"""python -m services.dossier: electronic dossiers through the one-stop lifecycle, over gRPC."""

from __future__ import annotations

import asyncio

from motcua.v1 import catalogue_pb2_grpc, dossier_pb2, dossier_pb2_grpc
from services.dossier.api.servicer import DossierServicer
from services.dossier.app import consumers
from services.dossier.app.context import DossierContext
from services.dossier.settings import dossier_settings
from services.dossier.store.models import outbox
from services.platform import messaging
from services.platform.db import Database
from services.platform.events import OutboxRelay
from services.platform.grpc_client import make_channel
from services.platform.grpc_server import ServiceServer
from services.platform.messaging import CATALOGUE_STREAM, DOSSIER_STREAM, Bus, consume
from services.platform.runner import run_service
from services.platform.settings import platform_settings

NAME = "dossier"
NOTIFICATION_STREAM = getattr(messaging, "NOTIFICATION_STREAM", messaging.StreamSpec("NOTIFICATION", ("notification.>",)))


async def main(stop: asyncio.Event) -> None:
    settings = platform_settings()
    db = Database.connect(settings.database_url(NAME))
    bus = Bus(settings.nats_url, name=NAME, streams=(DOSSIER_STREAM,))
    await bus.start()
    relay = OutboxRelay(db.engine, outbox, bus)
    catalogue_channel = make_channel(settings.catalogue_addr, default_timeout=settings.grpc_deadline)
    ctx = DossierContext(db.sessions, catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel), relay,
                         reads=db.reads, settings=dossier_settings())

    server = ServiceServer(name=NAME, addr=settings.dossier_addr, secret=settings.internal_token_secret)
    dossier_pb2_grpc.add_DossierServiceServicer_to_server(DossierServicer(ctx), server.server)
    server.add_services([dossier_pb2.DESCRIPTOR.services_by_name["DossierService"].full_name])
    documents = await _serve_documents(server, db, settings)
    server.add_health_check("database", db.ping)
    server.add_health_check("nats", bus.health_check)
    server.run_in_background(relay.run())
    server.run_in_background(consume(
        bus, stream=CATALOGUE_STREAM, durable=consumers.PROCEDURES_CONSUMER, subject="catalogue.procedure.>",
        handler=lambda envelope: consumers.on_procedure(ctx, envelope)))
    server.run_in_background(consume(
        bus, stream=NOTIFICATION_STREAM, durable=consumers.DELIVERIES_CONSUMER,
        subject="notification.delivery.updated", handler=lambda envelope: consumers.on_delivery(ctx, envelope),
        batch_handler=lambda envelopes: consumers.on_deliveries(ctx, envelopes)))
    await server.start()
    await stop.wait()
    await server.stop()
    if documents is not None:
        await documents.blobs.close()
    await catalogue_channel.close()
    await bus.close()
    await db.dispose()


async def _serve_documents(server, db, settings):
    """DocumentService shares this process and database (uploads before submission)."""
    try:
        from services.dossier.documents.wiring import serve_documents
    except ImportError:
        return None
    return await serve_documents(server, db, settings)


if __name__ == "__main__":
    run_service(NAME, main)
