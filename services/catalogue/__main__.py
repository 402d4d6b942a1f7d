"""python -m services.catalogue: the procedure catalogue and agency tree over gRPC."""

from __future__ import annotations

import asyncio

from motcua.v1 import catalogue_pb2, catalogue_pb2_grpc
from services.catalogue.api.servicer import CatalogueServicer
from services.catalogue.app.index import LiveIndex
from services.catalogue.app.seed import seed_if_empty
from services.catalogue.store.models import outbox
from services.platform.db import Database
from services.platform.events import OutboxRelay
from services.platform.grpc_server import ServiceServer
from services.platform.logging import get_logger
from services.platform.messaging import CATALOGUE_STREAM, Bus
from services.platform.runner import run_service
from services.platform.settings import platform_settings

NAME = "catalogue"
log = get_logger(NAME)


async def main(stop: asyncio.Event) -> None:
    settings = platform_settings()
    db = Database.connect(settings.database_url(NAME))
    async with db.sessions() as s:
        if await seed_if_empty(s):
            log.info("seed_loaded")
    bus = Bus(settings.nats_url, name=NAME, streams=(CATALOGUE_STREAM,))
    await bus.start()
    relay = OutboxRelay(db.engine, outbox, bus)
    index = LiveIndex(db.reads)
    await index.refresh()
    log.info("search_index_built", procedures=len(index.index))
    server = ServiceServer(name=NAME, addr=settings.catalogue_addr, secret=settings.internal_token_secret)
    servicer = CatalogueServicer(db.sessions, index, reads=db.reads, on_change=relay.wake)
    catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server(servicer, server.server)
    server.add_services([catalogue_pb2.DESCRIPTOR.services_by_name["CatalogueService"].full_name])
    server.add_health_check("database", db.ping)
    server.add_health_check("nats", bus.health_check)
    server.run_in_background(relay.run())
    server.run_in_background(index.run())
    await server.start()
    await stop.wait()
    await server.stop()
    await bus.close()
    await db.dispose()


if __name__ == "__main__":
    run_service(NAME, main)
