"""python -m services.identity: accounts and the embedded token issuer, over gRPC."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from motcua.v1 import catalogue_pb2_grpc, identity_pb2, identity_pb2_grpc
from services.identity.api.servicer import IdentityServicer
from services.identity.app.demo import load_demo_accounts
from services.identity.app.tokens import Issuer
from services.identity.store.models import outbox
from services.platform.db import Database
from services.platform.events import OutboxRelay
from services.platform.grpc_client import make_channel
from services.platform.grpc_server import ServiceServer
from services.platform.messaging import IDENTITY_STREAM, Bus
from services.platform.runner import run_service
from services.platform.settings import platform_settings

NAME = "identity"
MIGRATIONS = Path(__file__).parent / "store" / "migrations"


async def main(stop: asyncio.Event) -> None:
    settings = platform_settings()
    db = Database.connect(settings.database_url(NAME))
    issuer = Issuer(os.environ.get("MOTCUA_ISSUER_URL", "http://127.0.0.1:8000/auth"))
    async with db.sessions() as session:
        await issuer.load(session)
    bus = Bus(settings.nats_url, name=NAME, streams=(IDENTITY_STREAM,))
    await bus.start()
    relay = OutboxRelay(db.engine, outbox, bus)
    catalogue_channel = make_channel(settings.catalogue_addr)

    server = ServiceServer(name=NAME, addr=settings.identity_addr, secret=settings.internal_token_secret)
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(IdentityServicer(db.sessions, issuer, relay),
                                                            server.server)
    server.add_services([identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name])
    server.add_health_check("database", db.ping)
    server.run_in_background(relay.run())
    if os.environ.get("MOTCUA_DEMO_DATA", "1") == "1":
        server.run_in_background(
            load_demo_accounts(db.sessions, catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel)))
    await server.start()
    await stop.wait()
    await server.stop()
    await catalogue_channel.close()
    await bus.close()
    await db.dispose()


if __name__ == "__main__":
    run_service(NAME, main, migrations_dir=MIGRATIONS)
