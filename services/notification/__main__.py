"""python -m services.notification: consumes domain events, keeps the inbox, over gRPC."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from motcua.v1 import notification_pb2, notification_pb2_grpc
from services.notification.api.servicer import NotificationServicer
from services.notification.app.inbox import CONSUMER, handle_dossier_event
from services.platform.db import make_engine, ping, read_session_factory, session_factory
from services.platform.grpc_server import ServiceServer
from services.platform.messaging import DEADLETTER_STREAM, DOSSIER_STREAM, Bus, consume
from services.platform.runner import run_service
from services.platform.settings import platform_settings

NAME = "notification"
MIGRATIONS = Path(__file__).parent / "store" / "migrations"


async def main(stop: asyncio.Event) -> None:
    settings = platform_settings()
    engine = make_engine(settings.database_url(NAME))
    sessions = session_factory(engine)
    # Declares the streams it reads too, so it can start before their producers.
    bus = Bus(settings.nats_url, name=NAME, streams=(DOSSIER_STREAM, DEADLETTER_STREAM))
    await bus.start()

    async def on_dossier_event(envelope):
        await handle_dossier_event(sessions, envelope)

    consumer = asyncio.create_task(consume(bus, stream=DOSSIER_STREAM, durable=CONSUMER, subject="dossier.>",
                                           handler=on_dossier_event))
    server = ServiceServer(name=NAME, addr=settings.notification_addr, secret=settings.internal_token_secret)
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(NotificationServicer(sessions, read_session_factory(engine)), server.server)
    server.add_services([notification_pb2.DESCRIPTOR.services_by_name["NotificationService"].full_name])
    server.add_health_check("database", lambda: ping(engine))

    server.add_health_check("nats", bus.health_check)
    await server.start()
    await stop.wait()
    await server.stop()
    consumer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consumer
    await bus.close()
    await engine.dispose()


if __name__ == "__main__":
    run_service(NAME, main, migrations_dir=MIGRATIONS)
