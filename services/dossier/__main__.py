"""python -m services.dossier: electronic dossiers through the one-stop lifecycle, over gRPC."""

from __future__ import annotations

import asyncio
from pathlib import Path

from motcua.v1 import catalogue_pb2_grpc, dossier_pb2, dossier_pb2_grpc
from services.dossier.api.servicer import DossierServicer
from services.dossier.app.context import DossierContext
from services.dossier.store.models import outbox
from services.platform.db import Database
from services.platform.events import OutboxRelay
from services.platform.grpc_client import make_channel
from services.platform.grpc_server import ServiceServer
from services.platform.messaging import DOSSIER_STREAM, Bus
from services.platform.runner import run_service
from services.platform.settings import platform_settings

NAME = "dossier"
MIGRATIONS = Path(__file__).parent / "store" / "migrations"


async def main(stop: asyncio.Event) -> None:
    settings = platform_settings()
    db = Database.connect(settings.database_url(NAME))
    bus = Bus(settings.nats_url, name=NAME, streams=(DOSSIER_STREAM,))
    await bus.start()
    relay = OutboxRelay(db.engine, outbox, bus)
    catalogue_channel = make_channel(settings.catalogue_addr, default_timeout=settings.grpc_deadline)
    ctx = DossierContext(db.sessions, catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel), relay,
                         reads=db.reads)

    server = ServiceServer(name=NAME, addr=settings.dossier_addr, secret=settings.internal_token_secret)
    dossier_pb2_grpc.add_DossierServiceServicer_to_server(DossierServicer(ctx), server.server)
    server.add_services([dossier_pb2.DESCRIPTOR.services_by_name["DossierService"].full_name])
    server.add_health_check("database", db.ping)
    server.add_health_check("nats", bus.health_check)
    server.run_in_background(relay.run())
    await server.start()
    await stop.wait()
    await server.stop()
    await catalogue_channel.close()
    await bus.close()
    await db.dispose()


if __name__ == "__main__":
    run_service(NAME, main, migrations_dir=MIGRATIONS)
