"""python -m services.notification: consumes dossier and identity events, keeps the inbox,
delivers email and SMS with retries, reminds officials of deadlines, over gRPC."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from motcua.v1 import notification_pb2, notification_pb2_grpc
from services.notification.api.servicer import NotificationServicer
from services.notification.app import metrics
from services.notification.app.consumers import DOSSIER_CONSUMER, Notifier
from services.notification.app.deliveries import DeliveryWorker
from services.notification.app.directory import CONTACTS_CONSUMER
from services.notification.app.reminders import ReminderScheduler
from services.notification.channels.factory import build_channels
from services.notification.domain.templates import TemplateRegistry
from services.notification.settings import notification_settings
from services.notification.store.models import outbox
from services.notification.store.writer import TransactionRunner
from services.platform.db import Database
from services.platform.events import OutboxRelay
from services.platform.grpc_server import ServiceServer
from services.platform.messaging import (
    DEADLETTER_STREAM,
    DOSSIER_STREAM,
    IDENTITY_STREAM,
    NOTIFICATION_STREAM,
    Bus,
    consume,
)
from services.platform.runner import run_service
from services.platform.settings import platform_settings

NAME = "notification"


# The dossier log hears of deliveries within this; at 100 events/s, waking the relay on each
# one cost a relay round (read, publish, mark) per event instead of one per tenth of a second.
RELAY_WAKE_SECONDS = 0.1


def _coalesced(wake, delay: float):
    """``wake`` called once ``delay`` after the first of any number of calls."""
    pending = False

    def fire() -> None:
        nonlocal pending
        pending = False
        wake()

    def call() -> None:
        nonlocal pending
        if not pending:
            pending = True
            asyncio.get_running_loop().call_later(delay, fire)

    return call


async def main(stop: asyncio.Event) -> None:
    settings = platform_settings()
    own = notification_settings()
    db = Database.connect(settings.database_url(NAME))
    # Declares the streams it reads too, so it can start before their producers.
    bus = Bus(settings.nats_url, name=NAME,
              streams=(DOSSIER_STREAM, IDENTITY_STREAM, NOTIFICATION_STREAM, DEADLETTER_STREAM))
    await bus.start()
    relay = OutboxRelay(db.engine, outbox, bus)
    wake_relay = _coalesced(relay.wake, RELAY_WAKE_SECONDS)
    channels = build_channels(own, settings.var_dir)
    # The consumer's and the delivery worker's write transactions, in one queue.
    transactions = TransactionRunner(db.engine)
    worker = DeliveryWorker(db.sessions, channels, backoff=own.backoff,
                            rates={"email": own.email_per_second, "sms": own.sms_per_second},
                            lease_seconds=own.send_lease_seconds, poll_seconds=own.worker_poll_seconds,
                            on_settled=wake_relay, transactions=transactions)
    templates = TemplateRegistry()

    def on_created(created) -> None:
        if created.deliveries:
            worker.wake()
        if created.events:
            wake_relay()

    notifier = Notifier(db.sessions, templates, on_created=on_created, transactions=transactions)
    reminders = ReminderScheduler(db.sessions, templates, due_soon=timedelta(hours=own.reminder_due_soon_hours),
                                  interval_seconds=own.reminder_interval_seconds, on_created=on_created)

    def dead_letter(durable: str):
        async def hook(subject: str, data: bytes, error: str) -> None:
            await notifier.alert_dead_letter(durable, subject, data, error)
        return hook

    server = ServiceServer(name=NAME, addr=settings.notification_addr, secret=settings.internal_token_secret)
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(
        NotificationServicer(db.sessions, db.reads, templates=templates, worker=worker), server.server)
    server.add_services([notification_pb2.DESCRIPTOR.services_by_name["NotificationService"].full_name])
    server.add_health_check("database", db.ping)
    server.add_health_check("nats", bus.health_check)
    server.run_in_background(consume(bus, stream=DOSSIER_STREAM, durable=DOSSIER_CONSUMER, subject="dossier.>",
                                     handler=notifier.handle_dossier_event, max_deliver=own.max_deliver,
                                     on_dead_letter=dead_letter(DOSSIER_CONSUMER),
                                     batch_handler=notifier.handle_dossier_events, batch=own.consumer_batch))
    server.run_in_background(consume(bus, stream=IDENTITY_STREAM, durable=CONTACTS_CONSUMER,
                                     subject="identity.account.>", handler=notifier.handle_account_event,
                                     max_deliver=own.max_deliver, on_dead_letter=dead_letter(CONTACTS_CONSUMER)))
    server.run_in_background(relay.run())
    server.run_in_background(worker.run())
    server.run_in_background(reminders.run())
    server.run_in_background(metrics.watch(bus, db.reads, [(DOSSIER_STREAM.name, DOSSIER_CONSUMER),
                                                           (IDENTITY_STREAM.name, CONTACTS_CONSUMER)]))
    metrics.serve(own.metrics_host, own.metrics_port)
    await server.start()
    await stop.wait()
    await server.stop()
    for channel in channels.values():
        close = getattr(channel, "close", None)
        if close is not None:
            await close()
    await bus.close()
    transactions.dispose()
    await db.dispose()


if __name__ == "__main__":
    run_service(NAME, main)
