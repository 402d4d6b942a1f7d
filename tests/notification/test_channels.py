"""Channel adapters against real receivers: aiosmtpd for email, a local HTTP server playing
a brand-name SMS gateway; and the development sinks `make run` uses."""

from __future__ import annotations

import json

import pytest

from services.notification.channels.base import OutgoingMessage, PermanentFailure, TemporaryFailure
from services.notification.channels.dev_sinks import FileEmailSink, FileSmsSink
from services.notification.channels.email_smtp import SmtpChannel
from services.notification.channels.sms_brandname import BrandnameSmsChannel
from services.platform.embedded import free_port
from tests.servers.sms import SmsGateway
from tests.servers.smtp import SmtpServer

MESSAGE = OutgoingMessage(delivery_id="d-1", destination="an@example.vn", subject="Hồ sơ đã được tiếp nhận",
                          body="Hồ sơ 000.00.01.H29-260903-0001 đã được tiếp nhận.")
SMS = OutgoingMessage(delivery_id="d-2", destination="0901234123", subject="",
                      body="MOTCUA: Ho so 000.00.01.H29-260903-0001 da duoc tiep nhan.")


async def test_email_reaches_a_real_smtp_server_with_a_stable_message_id():
    with SmtpServer() as smtp:
        await SmtpChannel(host="127.0.0.1", port=smtp.port, sender="Cổng DVC <no-reply@motcua.local>").send(MESSAGE)
        (received,) = smtp.received()
    assert received["To"] == "an@example.vn" and received["Subject"] == "Hồ sơ đã được tiếp nhận"
    assert received["Message-ID"] == "<d-1@motcua>"
    assert received.get_content().strip() == MESSAGE.body


async def test_smtp_refusing_the_mailbox_is_permanent_and_no_server_is_temporary():
    with SmtpServer() as smtp:
        channel = SmtpChannel(host="127.0.0.1", port=smtp.port, sender="a@motcua.local")
        with pytest.raises(PermanentFailure):
            await channel.send(OutgoingMessage("d-3", "x@refused.invalid", "s", "b"))
    with pytest.raises(TemporaryFailure):
        await SmtpChannel(host="127.0.0.1", port=free_port(), sender="a@motcua.local", timeout=2).send(MESSAGE)


async def test_brandname_sms_is_a_json_post_with_brandname_phone_message_and_request_id():
    with SmsGateway() as gateway:
        channel = BrandnameSmsChannel(url=gateway.url, brandname="UBND-HCM", api_key="k-123")
        await channel.send(SMS)
        await channel.close()
        (body,), (headers,) = gateway.received(), gateway.headers
    assert body == {"brandname": "UBND-HCM", "phone": "0901234123", "message": SMS.body, "request_id": "d-2"}
    assert headers["Authorization"] == "Bearer k-123"


@pytest.mark.parametrize(("status", "failure"), [(400, PermanentFailure), (503, TemporaryFailure),
                                                 (429, TemporaryFailure)])
async def test_sms_gateway_answers_map_to_permanent_or_temporary_failures(status, failure):
    with SmsGateway() as gateway:
        gateway.status = status
        channel = BrandnameSmsChannel(url=gateway.url, brandname="MOTCUA")
        with pytest.raises(failure):
            await channel.send(SMS)
        await channel.close()
        assert gateway.received() == []


async def test_an_unreachable_sms_gateway_is_a_temporary_failure():
    channel = BrandnameSmsChannel(url=f"http://127.0.0.1:{free_port()}/sms", brandname="MOTCUA", timeout=2)
    with pytest.raises(TemporaryFailure):
        await channel.send(SMS)
    await channel.close()


async def test_the_development_sinks_write_under_the_outbox_folder(tmp_path):
    await FileEmailSink(tmp_path, "no-reply@motcua.local").send(MESSAGE)
    await FileSmsSink(tmp_path, "MOTCUA").send(SMS)
    await FileSmsSink(tmp_path, "MOTCUA").send(SMS)
    eml = (tmp_path / "email" / "d-1.eml").read_text()
    assert "To: an@example.vn" in eml and "Message-ID: <d-1@motcua>" in eml
    lines = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert [(x["phone"], x["request_id"], x["brandname"]) for x in lines] == [("0901234123", "d-2", "MOTCUA")] * 2
