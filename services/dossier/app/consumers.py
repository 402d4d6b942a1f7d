"""Events the dossier service listens to: published and retired procedure versions (kept
as snapshots) and notification deliveries (written into the dossier's log). Each handler
records the event id in the same transaction as its effect, so a redelivery does nothing."""

from __future__ import annotations

from datetime import UTC

from motcua.v1 import catalogue_pb2, events_pb2, notification_pb2
from services.dossier.app.context import DossierContext
from services.dossier.app.effects import append_to, when
from services.dossier.app.procedures import upsert_snapshot
from services.dossier.domain.lifecycle import SYSTEM
from services.dossier.store.models import Dossier, processed_events
from services.platform.events import first_delivery
from services.platform.logging import get_logger

log = get_logger("dossier.consumers")

PROCEDURES_CONSUMER = "dossier-procedures"
DELIVERIES_CONSUMER = "dossier-deliveries"
CHANNEL_NAMES = {"sms": "SMS", "email": "thư điện tử", "zalo": "Zalo", "in_app": "thông báo trên cổng",
                 "push": "thông báo đẩy"}
STATE_NAMES = {"sent": "đã gửi", "delivered": "đã đến", "sending": "đang gửi", "failed": "gửi không thành công",
               "temporary_failure": "tạm thời chưa gửi được", "permanent_failure": "không gửi được",
               "technical_failure": "lỗi kỹ thuật khi gửi"}


async def on_procedure(ctx: DossierContext, envelope: events_pb2.EventEnvelope) -> None:
    message = catalogue_pb2.ProcedurePublished()
    if not envelope.payload.Unpack(message):
        log.warning("unexpected_payload", type=envelope.type)
        return
    status = "retired" if envelope.type.endswith(".retired") else "published"
    async with ctx.sessions() as session, session.begin():
        if not await first_delivery(session, processed_events, PROCEDURES_CONSUMER, envelope.event_id):
            return
        await upsert_snapshot(session, message.procedure, status)
    ctx.procedures.learned(message.procedure, status)


def delivery_note(update: notification_pb2.DeliveryUpdated) -> str:
    channel = CHANNEL_NAMES.get(update.channel, update.channel)
    state = STATE_NAMES.get(update.state, update.state)
    at = f" lúc {when(update.occurred_at.ToDatetime(tzinfo=UTC))}" \
        if update.HasField("occurred_at") else ""
    title = f" “{update.title}”" if update.title else ""
    to = f" tới {update.destination_masked}" if update.destination_masked else ""
    return f"Thông báo{title} qua {channel}{to}: {state}{at}"


async def on_delivery(ctx: DossierContext, envelope: events_pb2.EventEnvelope) -> None:
    async with ctx.sessions() as session, session.begin():
        await _record_delivery(session, envelope)


async def on_deliveries(ctx: DossierContext, envelopes: list[events_pb2.EventEnvelope]) -> None:
    """A fetched batch in one transaction: one commit for the lot instead of one per notice
    (every submission brings two or three, one per channel)."""
    async with ctx.sessions() as session, session.begin():
        for envelope in envelopes:
            await _record_delivery(session, envelope)


async def _record_delivery(session, envelope: events_pb2.EventEnvelope) -> None:
    update = notification_pb2.DeliveryUpdated()
    if not envelope.payload.Unpack(update) or not update.dossier_code:
        return
    if not await first_delivery(session, processed_events, DELIVERIES_CONSUMER, envelope.event_id):
        return
    dossier = await session.get(Dossier, update.dossier_code)
    if dossier is None:
        return
    occurred = update.occurred_at.ToDatetime(tzinfo=UTC) \
        if update.HasField("occurred_at") else envelope.occurred_at.ToDatetime(tzinfo=UTC)
    # A notice to anyone but the applicant (an official's) is for officials' eyes only.
    internal = update.account_id != dossier.applicant_id
    await append_to(session, dossier, at=occurred, actor_id=SYSTEM, actor_name="Hệ thống thông báo",
                    actor_role=SYSTEM, action="notification", status_code=dossier.status_code,
                    note=delivery_note(update), internal=internal)
