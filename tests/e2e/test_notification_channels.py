"""Notifications through the real processes: preferences over REST, the inbox, email to a
real SMTP server, SMS to a local brand-name gateway, the admin template preview, metrics."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

import httpx
import pytest

from services.platform.embedded import EmbeddedSystem, free_port
from services.platform.principal import METADATA_KEY, Principal, encode_principal
from tests.e2e.portal import Portal
from tests.notification.helpers import dossier_event, publish
from tests.servers.sms import SmsGateway
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def channels_system(tmp_path_factory):
    smtp, sms = SmtpServer().start(), SmsGateway().start()
    metrics_port = free_port()
    embedded = EmbeddedSystem.on_free_ports(tmp_path_factory.mktemp("notify"), extra_env={
        **smtp.env(), **sms.env(), "MOTCUA_NOTIFICATION_METRICS_PORT": str(metrics_port),
        "MOTCUA_NOTIFICATION_RETRY_FIRST_SECONDS": "1"})
    try:
        embedded.start()
        yield embedded, smtp, sms, metrics_port
    finally:
        embedded.stop()
        smtp.stop()
        sms.stop()


def wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def confirm_contact(portal: Portal, auth: dict, channel: str, read_code) -> None:
    """Confirm the phone or email with the one-time code that really arrives on it."""
    reply = portal.http.post(f"/api/v1/auth/verify/{channel}", headers=auth)
    assert reply.status_code == 202, reply.text
    codes: list[str] = []
    wait(lambda: codes.extend(read_code()) or codes)
    reply = portal.http.post(f"/api/v1/auth/verify/{channel}/confirm", headers=auth, json={"code": codes[-1]})
    assert reply.status_code == 200, reply.text


def codes_in(texts) -> list[str]:
    return [m.group(1) for text in texts for m in [re.search(r"(?:là|la):? (\w{4,12})", text)] if m]


def test_a_citizen_chooses_email_and_sms_and_hears_on_every_channel(channels_system):
    system, smtp, sms, metrics_port = channels_system
    portal = Portal(system.gateway_url)
    citizen = portal.register_citizen(name="Ngô Thị Mai")
    token = portal.token(citizen["username"], citizen["password"])
    auth = portal.bearer(token)

    def contact_known():
        prefs = portal.http.get("/api/v1/me/notification-preferences", headers=auth).json()
        return prefs["email_masked"] != ""

    wait(contact_known)  # identity's event reached the contact directory
    # Email and SMS go only to confirmed addresses: the citizen confirms both, as in the portal.
    confirm_contact(portal, auth, "email", lambda: codes_in(
        m.get_content() for m in smtp.received() if m["To"] == f"{citizen['username']}@example.vn"))
    confirm_contact(portal, auth, "phone", lambda: codes_in(
        r["message"] for r in sms.received() if r["phone"] == "0901234567"))

    def contact_verified():
        prefs = portal.http.get("/api/v1/me/notification-preferences", headers=auth).json()
        return prefs["email_verified"] and prefs["phone_verified"]

    wait(contact_verified)  # identity's "verified" event reached the contact directory
    reply = portal.http.put("/api/v1/me/notification-preferences", headers=auth,
                            json={"inbox": True, "email": True, "sms": True, "locale": "vi"})
    assert reply.status_code == 200, reply.text
    prefs = reply.json()
    assert (prefs["email"], prefs["sms"], prefs["phone_masked"]) == (True, True, "09*****567")
    assert prefs["always_in_inbox"] == ["dossier.extended", "dossier.refused", "dossier.supplement_requested"]
    assert prefs["email_masked"] == f"{citizen['username'][0]}***@example.vn"

    # The dossier service's event, as its outbox relay publishes it.
    code = "000.00.01.H29-261203-0042"
    asyncio.run(publish(f"nats://127.0.0.1:{system.ports['nats']}",
                        [dossier_event("dossier.accepted", applicant=citizen["id"], code=code,
                                       due=datetime(2026, 12, 10, 3, tzinfo=UTC))]))
    items = portal.wait_notifications(token, lambda items: any(n["subject"] == code for n in items))
    assert [n["event_type"] for n in items if n["subject"] == code] == ["dossier.accepted"]
    wait(lambda: any(code in m.get_content() for m in smtp.received()))
    wait(lambda: any(code in r["message"] for r in sms.received()))
    (mail,) = [m for m in smtp.received() if code in m.get_content()]
    assert mail["To"] == f"{citizen['username']}@example.vn" and mail["Subject"] == "Hồ sơ đã được tiếp nhận"
    assert "Ngô Thị Mai" in mail.get_content() and "Ngày hẹn trả kết quả: 10/12/2026" in mail.get_content()
    (text,) = [r for r in sms.received() if code in r["message"]]
    assert mail["Message-ID"]  # stable per notice: a re-send after a crash carries the same one
    assert text["phone"] == "0901234567" and text["message"].isascii()

    def delivered_metric():
        body = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        return 'motcua_notification_deliveries{channel="email",state="delivered"}' in body
    wait(delivered_metric, timeout=15)
    assert "motcua_notification_queue_lag" in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text


def test_preferences_refuse_bad_input_with_a_problem(channels_system):
    system, *_ = channels_system
    portal = Portal(system.gateway_url)
    citizen = portal.register_citizen()
    auth = portal.bearer(portal.token(citizen["username"], citizen["password"]))
    reply = portal.http.put("/api/v1/me/notification-preferences", headers=auth,
                            json={"email": "maybe", "sms": False, "locale": "fr"})
    assert reply.status_code == 422 and reply.headers["content-type"].startswith("application/problem+json")
    assert portal.http.get("/api/v1/me/notification-preferences").status_code == 401


def test_only_city_admins_and_operators_preview_templates(channels_system):
    system, *_ = channels_system
    portal = Portal(system.gateway_url)
    body = {"event_type": "dossier.extended", "channel": "email", "locale": "vi",
            "sample": {"applicant_name": "Trần Văn Bảo", "reason": "Chờ ý kiến của Sở Tư pháp"}}
    for username in ("quantri.thanhpho", "vanhanh.hethong"):
        reply = portal.http.post("/api/v1/admin/notification-templates/preview",
                                 headers=portal.bearer(portal.token(username)), json=body)
        assert reply.status_code == 200, reply.text
        preview = reply.json()
        assert preview["template_ref"] == "vi/dossier.extended@v1#email"
        assert "Trần Văn Bảo" in preview["body"] and "Lý do chậm trễ: Chờ ý kiến của Sở Tư pháp" in preview["body"]
    official = portal.bearer(portal.token("tiepnhan.saigon"))
    reply = portal.http.post("/api/v1/admin/notification-templates/preview", headers=official, json=body)
    assert reply.status_code == 403
    admin = portal.bearer(portal.token("quantri.thanhpho"))
    reply = portal.http.post("/api/v1/admin/notification-templates/preview", headers=admin,
                             json={**body, "event_type": "dossier.nothing"})
    assert reply.status_code == 422 and "event_type" in reply.json()["errors"]


def test_a_one_time_code_over_grpc_is_delivered_at_once_and_masked(channels_system):
    import grpc

    from motcua.v1 import notification_pb2, notification_pb2_grpc

    system, _, sms, _ = channels_system
    identity = identity_metadata(system)
    with grpc.insecure_channel(system.addr("notification")) as channel:
        stub = notification_pb2_grpc.NotificationServiceStub(channel)
        request = notification_pb2.SendOneTimeCodeRequest(
            account_id="3f1d2c4b-0000-4000-8000-000000000001", channel="sms", destination="0912345678",
            code="731904", purpose="verify_phone", idempotency_key="verify-1", expires_in_seconds=300)
        reply = stub.SendOneTimeCode(request, timeout=10, metadata=identity)
        again = stub.SendOneTimeCode(request, timeout=10, metadata=identity)
        with pytest.raises(grpc.RpcError) as err:
            stub.SendOneTimeCode(notification_pb2.SendOneTimeCodeRequest(
                account_id="a", channel="fax", destination="x", code="1"), timeout=10, metadata=identity)
    assert (reply.state, reply.destination_masked) == ("delivered", "09*****678")
    assert again.delivery_id == reply.delivery_id
    assert [r for r in sms.received() if "731904" in r["message"]] == [
        {"brandname": "MOTCUA", "phone": "0912345678", "message": next(
            r["message"] for r in sms.received() if "731904" in r["message"]), "request_id": reply.delivery_id}]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def identity_metadata(system, principal=Principal(account_id="identity", kind="service", name="identity")):
    """How the identity service calls: its service principal signed with the internal secret."""
    return ((METADATA_KEY, encode_principal(principal, system.env()["MOTCUA_INTERNAL_TOKEN_SECRET"])),)


def test_a_one_time_code_is_refused_without_the_identity_services_principal(channels_system):
    import grpc

    from motcua.v1 import notification_pb2, notification_pb2_grpc

    system, _, sms, _ = channels_system
    person = Principal(account_id="3f1d2c4b-0000-4000-8000-000000000002", kind="citizen", name="Ngô Thị Mai")
    request = notification_pb2.SendOneTimeCodeRequest(
        account_id=person.account_id, channel="sms", destination="0912345679", code="550011",
        purpose="verify_phone", idempotency_key="verify-refused", expires_in_seconds=300)
    with grpc.insecure_channel(system.addr("notification")) as channel:
        stub = notification_pb2_grpc.NotificationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as anonymous:
            stub.SendOneTimeCode(request, timeout=10)
        with pytest.raises(grpc.RpcError) as citizen:
            stub.SendOneTimeCode(request, timeout=10, metadata=identity_metadata(system, person))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert citizen.value.code() == grpc.StatusCode.PERMISSION_DENIED
    time.sleep(0.5)
    assert [r for r in sms.received() if "550011" in r["message"]] == []
