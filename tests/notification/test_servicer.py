"""NotificationService over real gRPC, on SQLite and PostgreSQL: only the identity service may
send one-time codes; a representative reads and clears the represented business's inbox."""

from __future__ import annotations

import uuid

import grpc
import pytest

from motcua.v1 import notification_pb2, notification_pb2_grpc
from services.notification.api.servicer import NotificationServicer
from services.notification.app.consumers import Notifier
from services.notification.app.deliveries import DeliveryWorker
from services.notification.channels.sms_brandname import BrandnameSmsChannel
from services.notification.domain.delivery import Backoff
from services.notification.domain.templates import TemplateRegistry
from services.platform.db import make_engine, session_factory
from services.platform.embedded import free_port
from services.platform.grpc_client import make_channel
from services.platform.grpc_server import ServiceServer
from services.platform.principal import METADATA_KEY, Principal, encode_principal
from tests.notification.helpers import AGENCY, dossier_event
from tests.servers.sms import SmsGateway

SECRET = "test-internal-secret"
BUSINESS = str(uuid.uuid4())
REPRESENTATIVE = Principal(account_id=str(uuid.uuid4()), kind="citizen", name="Trần Thị Lan",
                           verification_level=2, acting_for=BUSINESS)
STRANGER = Principal(account_id=str(uuid.uuid4()), kind="citizen", name="Lý Văn Tư", verification_level=2)
IDENTITY = Principal(account_id="identity", kind="service", name="identity")


def signed(principal: Principal, secret: str = SECRET):
    return ((METADATA_KEY, encode_principal(principal, secret)),)


@pytest.fixture
def sms():
    with SmsGateway() as gateway:
        yield gateway


@pytest.fixture
def url(migrated):
    return migrated("notification")


@pytest.fixture
async def system(url, sms):
    engine = make_engine(url)
    sessions = session_factory(engine)
    worker = DeliveryWorker(sessions, {"sms": BrandnameSmsChannel(url=sms.url, brandname="MOTCUA", timeout=2)},
                            backoff=Backoff(first=30), rates={"sms": 10})
    server = ServiceServer(name="notification", addr=f"127.0.0.1:{free_port()}", secret=SECRET)
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(
        NotificationServicer(sessions, sessions, templates=TemplateRegistry(), worker=worker), server.server)
    await server.start()
    channel = make_channel(server.addr)
    try:
        yield notification_pb2_grpc.NotificationServiceStub(channel), sessions
    finally:
        await channel.close()
        await server.stop(0)
        await engine.dispose()


def code_request(**overrides):
    args = {"account_id": str(uuid.uuid4()), "channel": "sms", "destination": "0912345678", "code": "731904",
            "purpose": "verify_phone", "idempotency_key": str(uuid.uuid4()), "expires_in_seconds": 300} | overrides
    return notification_pb2.SendOneTimeCodeRequest(**args)


@pytest.mark.parametrize("who, status", [
    (None, grpc.StatusCode.UNAUTHENTICATED),
    (Principal(account_id="identity", kind="service"), grpc.StatusCode.UNAUTHENTICATED),  # wrong secret
    (STRANGER, grpc.StatusCode.PERMISSION_DENIED),
    (Principal(account_id="identity", kind="citizen"), grpc.StatusCode.PERMISSION_DENIED),
    (Principal(account_id="catalogue", kind="service"), grpc.StatusCode.PERMISSION_DENIED),
])
async def test_only_the_identity_service_may_send_a_one_time_code(system, sms, who, status):
    stub, _ = system
    metadata = () if who is None else signed(who, "another-secret" if who.account_id == "identity"
                                             and who.kind == "service" else SECRET)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SendOneTimeCode(code_request(), metadata=metadata)
    assert err.value.code() == status
    assert sms.received() == []


async def test_the_identity_service_sends_a_one_time_code(system, sms):
    stub, _ = system
    reply = await stub.SendOneTimeCode(code_request(), metadata=signed(IDENTITY))
    assert (reply.state, reply.destination_masked) == ("delivered", "09*****678")
    assert [r["phone"] for r in sms.received()] == ["0912345678"]


async def test_a_representative_reads_and_clears_the_businesss_inbox(system):
    stub, sessions = system
    notifier = Notifier(sessions)
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=BUSINESS,
                                                      code=f"{AGENCY}-260903-0501"))
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=REPRESENTATIVE.account_id,
                                                      code=f"{AGENCY}-260903-0502"))
    reply = await stub.ListNotifications(notification_pb2.ListNotificationsRequest(),
                                         metadata=signed(REPRESENTATIVE))
    assert sorted(n.subject for n in reply.notifications) == [f"{AGENCY}-260903-0501", f"{AGENCY}-260903-0502"]
    assert reply.unread == 2
    business_notice = next(n for n in reply.notifications if n.subject.endswith("0501"))

    # Acting for nobody, the same person sees only their own; a stranger sees nothing and
    # cannot clear the business's notice.
    alone = Principal(account_id=REPRESENTATIVE.account_id, kind="citizen")
    reply = await stub.ListNotifications(notification_pb2.ListNotificationsRequest(), metadata=signed(alone))
    assert [n.subject for n in reply.notifications] == [f"{AGENCY}-260903-0502"]
    reply = await stub.ListNotifications(notification_pb2.ListNotificationsRequest(), metadata=signed(STRANGER))
    assert list(reply.notifications) == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.MarkNotificationRead(notification_pb2.MarkNotificationReadRequest(id=business_notice.id),
                                        metadata=signed(STRANGER))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    read = await stub.MarkNotificationRead(notification_pb2.MarkNotificationReadRequest(id=business_notice.id),
                                           metadata=signed(REPRESENTATIVE))
    assert read.notification.read is True
    reply = await stub.ListNotifications(notification_pb2.ListNotificationsRequest(unread_only=True),
                                         metadata=signed(REPRESENTATIVE))
    assert reply.unread == 1 and [n.subject for n in reply.notifications] == [f"{AGENCY}-260903-0502"]


async def test_preferences_name_the_notices_that_always_reach_the_inbox(system):
    stub, _ = system
    reply = await stub.GetNotificationPreferences(notification_pb2.GetNotificationPreferencesRequest(),
                                                  metadata=signed(STRANGER))
    assert list(reply.preferences.always_in_inbox) == [
        "dossier.extended", "dossier.refused", "dossier.supplement_requested"]
