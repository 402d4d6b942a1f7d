"""One-time codes are delivered at once, to the destination being confirmed, once per
idempotency key; a failure is told to the caller, never dropped silently."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from services.notification.app.deliveries import DeliveryWorker
from services.notification.app.one_time_codes import send_one_time_code
from services.notification.channels.sms_brandname import BrandnameSmsChannel
from services.notification.domain.delivery import Backoff
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import Delivery
from services.platform.db import make_engine, session_factory
from services.platform.embedded import free_port
from services.platform.errors import InvalidInput
from tests.servers.sms import SmsGateway

ACCOUNT = str(uuid.uuid4())


@pytest.fixture
def url(migrated):
    return migrated("notification")


@pytest.fixture
async def sessions(url):
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def worker(sessions, url):
    return DeliveryWorker(sessions, {"sms": BrandnameSmsChannel(url=url, brandname="MOTCUA", timeout=2)},
                          backoff=Backoff(first=30), rates={"sms": 10})


async def send(sessions, w, **overrides):
    args = {"account_id": ACCOUNT, "channel": "sms", "destination": "0901234123", "code": "482913",
            "purpose": "verify_phone", "idempotency_key": "k1", "expires_in_seconds": 300} | overrides
    return await send_one_time_code(sessions, TemplateRegistry(), w, **args)


async def test_a_code_is_sent_at_once_masked_and_once_per_key(sessions):
    with SmsGateway() as gateway:
        w = worker(sessions, gateway.url)
        first = await send(sessions, w)
        again = await send(sessions, w)
        assert (first.state, first.destination_masked, first.template_ref) == (
            "delivered", "09*****123", "vi/one_time_code@v1#sms")
        assert again.id == first.id
        (sms,) = gateway.received()
    assert sms["phone"] == "0901234123" and "482913" in sms["message"] and sms["request_id"] == first.id
    async with sessions() as s:
        stored = await s.scalar(select(Delivery).where(Delivery.id == first.id))
    assert stored.body == ""  # the code is not kept once delivered


async def test_an_unreachable_gateway_leaves_the_code_retrying_and_says_so(sessions):
    w = worker(sessions, f"http://127.0.0.1:{free_port()}/sms")
    delivery = await send(sessions, w, idempotency_key="k2")
    assert delivery.state == "sending" and delivery.attempts == 1 and delivery.next_attempt_at is not None
    assert "unreachable" in delivery.last_error


async def test_a_code_that_expires_before_the_next_attempt_fails_for_the_caller_to_see(sessions):
    w = worker(sessions, f"http://127.0.0.1:{free_port()}/sms")
    delivery = await send(sessions, w, idempotency_key="k3", expires_in_seconds=10)
    assert delivery.state == "temporary_failure" and delivery.next_attempt_at is None


@pytest.mark.parametrize(("overrides", "field"), [({"channel": "fax"}, "channel"),
                                                   ({"destination": "12ab"}, "destination"),
                                                   ({"channel": "email", "destination": "x"}, "destination"),
                                                   ({"code": ""}, "code"), ({"account_id": ""}, "account_id")])
async def test_bad_requests_name_the_field(sessions, overrides, field):
    with pytest.raises(InvalidInput) as err:
        await send(sessions, worker(sessions, "http://127.0.0.1:9/"), **overrides)
    assert field in err.value.fields
