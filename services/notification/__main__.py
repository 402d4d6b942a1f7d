"""python -m services.notification: consumes domain events, keeps the inbox, over gRPC."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from motcua.v1 import notification_pb2, notification_pb2_grpc
from services.notification.api.servicer import NotificationServicer
from services.notification.app.inbox import CONSUMER, handle_dossier_event
from services.platform.db import Database
from services.platform.grpc_server import ServiceServer
from services.platform.messaging import DEADLETTER_STREAM, DOSSIER_STREAM, Bus, consume
from services.platform.runner import run_service
from services.platform.settings import platform_settings

NAME = "notification"
MIGRATIONS = Path(__file__).parent / "store" / "migrations"


async def main(stop: asyncio.Event) -> None:
    settings = platform_settings()
    db = Database.connect(settings.database_url(NAME))
    # Declares the streams it reads too, so it can start before their producers.
    bus = Bus(settings.nats_url, name=NAME, streams=(DOSSIER_STREAM, DEADLETTER_STREAM))
    await bus.start()

    server = ServiceServer(name=NAME, addr=settings.notification_addr, secret=settings.internal_token_secret)
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(
        NotificationServicer(db.sessions, db.reads), server.server)
    server.add_services([notification_pb2.DESCRIPTOR.services_by_name["NotificationService"].full_name])
    server.add_health_check("database", db.ping)
    server.add_health_check("nats", bus.health_check)
    server.run_in_background(consume(bus, stream=DOSSIER_STREAM, durable=CONSUMER, subject="dossier.>",
                                     handler=partial(handle_dossier_event, db.sessions)))
    await server.start()
    await stop.wait()
    await server.stop()
    await bus.close()
    await db.dispose()


if __name__ == "__main__":
    run_service(NAME, main, migrations_dir=MIGRATIONS)
