"""SendOneTimeCode: the identity service generated the code (it keeps only its hash); this
delivers it at once, on the channel asked for, to the destination being confirmed.

It never vanishes into a dead letter: the reply says what happened (delivered, or sending
with retries until the code expires, or a failure the caller can show), and the delivery
row and the logs keep the masked destination only.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notification.app.deliveries import DeliveryWorker
from services.notification.app.directory import contact_of, preferences_of
from services.notification.domain import audience
from services.notification.domain.delivery import State
from services.notification.domain.masking import mask
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import Delivery
from services.platform.errors import InvalidInput
from services.platform.events import utcnow

KIND = "one_time_code"
PHONE = re.compile(r"^(\+84|0)\d{9,10}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CODE = re.compile(r"^[A-Za-z0-9]{4,12}$")


def _validate(channel: str, destination: str, code: str, account_id: str, expires_in: int) -> None:
    fields = {}
    if channel not in ("sms", "email"):
        fields["channel"] = "Chỉ nhận sms hoặc email."
    elif channel == "sms" and not PHONE.match(destination):
        fields["destination"] = "Số điện thoại không hợp lệ."
    elif channel == "email" and not EMAIL.match(destination):
        fields["destination"] = "Địa chỉ thư điện tử không hợp lệ."
    if not CODE.match(code):
        fields["code"] = "Mã gồm 4 đến 12 chữ hoặc số."
    if not account_id:
        fields["account_id"] = "Thiếu tài khoản."
    if expires_in < 0 or expires_in > 86400:
        fields["expires_in_seconds"] = "Thời hạn từ 0 đến 86400 giây."
    if fields:
        raise InvalidInput("Yêu cầu gửi mã không hợp lệ.", fields=fields)


async def send_one_time_code(sessions: async_sessionmaker, templates: TemplateRegistry, worker: DeliveryWorker, *,
                             account_id: str, channel: str, destination: str, code: str, purpose: str,
                             idempotency_key: str, expires_in_seconds: int) -> Delivery:
    destination = destination.strip()
    _validate(channel, destination, code, account_id, expires_in_seconds)
    source_id = f"otp:{idempotency_key or uuid.uuid4()}"[:100]
    expires_in = expires_in_seconds or 300
    now = utcnow()
    try:
        async with sessions() as session, session.begin():
            existing = await session.scalar(select(Delivery).where(
                Delivery.source_id == source_id, Delivery.account_id == account_id, Delivery.channel == channel))
            if existing is not None:
                return existing
            locale = audience.locale_for(await preferences_of(session, account_id), await contact_of(session, account_id))
            rendered = templates.render(KIND, channel, locale, {"code": code, "purpose": purpose,
                                                                "expires_minutes": max(1, expires_in // 60)})
            delivery = Delivery(id=str(uuid.uuid4()), source_id=source_id, account_id=account_id, channel=channel,
                                destination=destination, destination_masked=mask(channel, destination),
                                event_type=KIND, dossier_code="", title=rendered.title, body=rendered.body,
                                template_ref=rendered.ref, state=State.CREATED.value, attempts=0,
                                next_attempt_at=now, expires_at=now + timedelta(seconds=expires_in),
                                last_error="", created_at=now, updated_at=now)
            session.add(delivery)
    except IntegrityError:  # the same key raced in: the first one stands
        async with sessions() as session:
            return await session.scalar(select(Delivery).where(
                Delivery.source_id == source_id, Delivery.account_id == account_id, Delivery.channel == channel))
    await worker.process_due(only=delivery.id)
    async with sessions() as session:
        return await session.get(Delivery, delivery.id)
