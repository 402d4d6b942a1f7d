"""Events as the dossier and identity services publish them, for the notification tests."""

from __future__ import annotations

from datetime import UTC, datetime

from motcua.v1 import events_pb2
from services.platform.events import make_envelope

AGENCY = "000.00.01.H29"
CODE = f"{AGENCY}-260903-0001"


def dossier_event(event_type="dossier.accepted", *, applicant="", code=CODE, due=None, **fields):
    event = events_pb2.DossierStatusChanged(
        dossier_code=code, applicant_id=applicant, procedure_code="1.001193", procedure_name="Đăng ký khai sinh",
        agency_code=AGENCY, status="Đang xử lý", action=event_type.split(".")[1], receipt_number=code, **fields)
    if due is not None:
        event.due_at.FromDatetime(due)
    return make_envelope(event_type=event_type, producer="dossier", subject=code, payload=event)


def account_event(account_id, *, change="registered", email="", phone="", name="Lê Văn Cường", kind="citizen",
                  roles=(), agency_code="", locale="vi", occurred_at: datetime | None = None,
                  email_verified: bool | None = None, phone_verified: bool | None = None):
    """Addresses count as verified unless told otherwise (email/SMS go to verified ones only)."""
    event = events_pb2.AccountChanged(
        account_id=account_id, kind=kind, change=change, email=email, phone=phone, full_name=name,
        roles=list(roles), agency_code=agency_code, locale=locale,
        email_verified=bool(email) if email_verified is None else email_verified,
        phone_verified=bool(phone) if phone_verified is None else phone_verified)
    envelope = make_envelope(event_type=f"identity.account.{change}", producer="identity", subject=account_id,
                             payload=event)
    if occurred_at is not None:
        envelope.occurred_at.FromDatetime(occurred_at)
    return envelope


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def publish(nats_url: str, envelopes) -> None:
    """Publish events to JetStream as the dossier service's outbox relay does (Nats-Msg-Id = event id)."""
    import nats

    nc = await nats.connect(nats_url, connect_timeout=5)
    try:
        js = nc.jetstream(timeout=5)
        for envelope in envelopes:
            await js.publish(envelope.type, envelope.SerializeToString(), headers={"Nats-Msg-Id": envelope.event_id})
    finally:
        await nc.close()
