"""Prometheus metrics of the notification service (served on MOTCUA_NOTIFICATION_METRICS_PORT)."""

from __future__ import annotations

import asyncio

from prometheus_client import Counter, Gauge, start_http_server
from sqlalchemy import func, select

from services.notification.store.models import Delivery
from services.platform.logging import get_logger

log = get_logger("notification.metrics")

QUEUE_LAG = Gauge("motcua_notification_queue_lag", "Messages not yet delivered to a consumer (num_pending)",
                  ["consumer"])
DELIVERIES = Gauge("motcua_notification_deliveries", "Deliveries by state and channel", ["state", "channel"])
ATTEMPTS = Counter("motcua_notification_delivery_attempts_total", "Send attempts by channel and outcome",
                   ["channel", "outcome"])
INBOX_CREATED = Counter("motcua_notification_inbox_created_total", "In-app notices created")
DEAD_LETTERS = Counter("motcua_notification_dead_letters_total", "Events moved to the dead-letter stream",
                       ["consumer"])
REMINDERS = Counter("motcua_notification_reminders_total", "Reminders fired", ["threshold"])


def serve(host: str, port: int) -> None:
    if port:
        try:
            start_http_server(port, addr=host)
            log.info("metrics_listening", host=host, port=port)
        except OSError as exc:
            log.warning("metrics_not_served", port=port, error=str(exc))


async def refresh_deliveries(reads) -> None:
    async with reads() as session:
        rows = await session.execute(select(Delivery.state, Delivery.channel, func.count()).group_by(
            Delivery.state, Delivery.channel))
        for state, channel, count in rows:
            DELIVERIES.labels(state, channel).set(count)


async def watch(bus, reads, consumers: list[tuple[str, str]], interval: float = 5.0) -> None:
    """Refresh the gauges: consumer lag from JetStream, deliveries from the table."""
    while True:
        if bus.connected:
            for stream, durable in consumers:
                try:
                    info = await bus.js.consumer_info(stream, durable)
                    QUEUE_LAG.labels(durable).set(info.num_pending or 0)
                except Exception as exc:
                    log.debug("consumer_info_failed", durable=durable, error=str(exc))
        try:
            await refresh_deliveries(reads)
        except Exception as exc:
            log.warning("delivery_metrics_failed", error=str(exc))
        await asyncio.sleep(interval)
