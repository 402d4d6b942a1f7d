"""Faults with real processes: a killed consumer and a missing NATS lose nothing and
duplicate nothing."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections import Counter

import pytest

from services.platform.embedded import EmbeddedSystem
from tests.e2e.portal import DEMO_OFFICIAL, Portal
from tests.notification.helpers import dossier_event, publish
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.system

NATS_OUTAGE_SECONDS = float(os.environ.get("MOTCUA_NATS_OUTAGE_SECONDS", "60"))


def _citizen(portal: Portal) -> str:
    citizen = portal.register_citizen()
    return portal.token(citizen["username"], citizen["password"])


def _kinds(items: list[dict], event_type: str) -> Counter:
    return Counter(n["subject"] for n in items if n["event_type"] == event_type)


@pytest.mark.timeout(240)
def test_killing_the_notification_service_mid_stream_loses_and_repeats_nothing(fresh_system):
    portal = Portal(fresh_system.gateway_url)
    token = _citizen(portal)
    agency = portal.commune_code()
    codes = [portal.submit(token, agency).json()["code"] for _ in range(30)]
    official = portal.token(DEMO_OFFICIAL)
    accepted: list[str] = []
    failures: list[str] = []

    def accept_all():
        for code in codes:
            reply = portal.act(official, code, "accept")
            (accepted if reply.status_code == 200 else failures).append(f"{code} {reply.status_code}")
            time.sleep(0.05)

    worker = threading.Thread(target=accept_all)
    worker.start()
    while len(accepted) < 8:
        time.sleep(0.02)
    fresh_system.kill("notification")  # SIGKILL, no goodbye
    time.sleep(1.0)
    fresh_system.start_service("notification")
    worker.join(timeout=120)
    assert not failures and len(accepted) == len(codes)

    items = portal.wait_notifications(token, lambda items: len(_kinds(items, "dossier.accepted")) == len(codes),
                                      timeout=60)
    time.sleep(2.0)  # any duplicate redelivery would land by now
    items = portal.notifications(token)
    assert _kinds(items, "dossier.accepted") == Counter(dict.fromkeys(codes, 1))
    assert _kinds(items, "dossier.submitted") == Counter(dict.fromkeys(codes, 1))


@pytest.mark.timeout(300)
def test_submissions_succeed_while_nats_is_down_and_their_events_arrive_after(fresh_system):
    portal = Portal(fresh_system.gateway_url)
    token = _citizen(portal)
    agency = portal.commune_code()
    fresh_system.stop_process("nats")

    started = time.monotonic()
    codes = []
    while time.monotonic() - started < NATS_OUTAGE_SECONDS:
        reply = portal.submit(token, agency)
        assert reply.status_code == 201, reply.text
        codes.append(reply.json()["code"])
        time.sleep(max(NATS_OUTAGE_SECONDS / 12, 0.1))
    assert len(codes) >= 10
    health = portal.http.get("/healthz")
    assert health.status_code == 503 and health.json()["nats"] == "NOT_SERVING"
    assert _kinds(portal.notifications(token), "dossier.submitted") == Counter()

    fresh_system.start_nats()
    items = portal.wait_notifications(token, lambda items: len(_kinds(items, "dossier.submitted")) == len(codes),
                                      timeout=90)
    time.sleep(2.0)
    items = portal.notifications(token)
    assert _kinds(items, "dossier.submitted") == Counter(dict.fromkeys(codes, 1))
    fresh_system.wait_gateway(timeout=30)


# --- Notifications: email through a real SMTP server under faults ----------------------------
#
# The notification service is driven by dossier events published to JetStream as the dossier
# service's relay publishes them (same subjects, envelope and Nats-Msg-Id), so these tests hold
# the load and the timing in their own hands. Contacts come from the real identity service.

SMTP_OUTAGE_SECONDS = float(os.environ.get("MOTCUA_SMTP_OUTAGE_SECONDS", "600"))
# The NATS outage of the notification fault test; the same variable shortens the test above.
NOTIFY_NATS_OUTAGE_SECONDS = float(os.environ.get("MOTCUA_NATS_OUTAGE_SECONDS", "300"))


def _notifying_system(tmp_path, smtp, **env) -> EmbeddedSystem:
    return EmbeddedSystem.on_free_ports(tmp_path / "system", extra_env={
        **smtp.env(),
        # A short first retry, capped at a minute: the outage is survived on the same schedule
        # shape as production (doubling, for 24 h), only denser.
        "MOTCUA_NOTIFICATION_RETRY_FIRST_SECONDS": "2",
        "MOTCUA_NOTIFICATION_RETRY_MAX_SECONDS": "60",
        "MOTCUA_NOTIFICATION_SEND_LEASE_SECONDS": "15",
        **env})


def _registered(portal: Portal) -> dict:
    citizen = portal.register_citizen()
    citizen["token"] = portal.token(citizen["username"], citizen["password"])
    return citizen


def _wait_contact(portal: Portal, citizen: dict, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = portal.http.get("/api/v1/me/notification-preferences", headers=portal.bearer(citizen["token"]))
        if reply.status_code == 200 and reply.json()["email_masked"]:
            return
        time.sleep(0.2)
    raise AssertionError("the contact never reached the notification service")


def _confirm_email(portal: Portal, smtp: SmtpServer, citizen: dict, timeout: float = 60) -> None:
    """Confirm the citizen's email with the code that arrives at the SMTP server, as in the
    portal: email notices go to confirmed addresses only."""
    auth = portal.bearer(citizen["token"])
    reply = portal.http.post("/api/v1/auth/verify/email", headers=auth)
    assert reply.status_code == 202, reply.text
    address = f"{citizen['username']}@example.vn"

    def code() -> str:
        for message in smtp.received():
            found = re.search(r"là: (\w{4,12})", message.get_content()) if message["To"] == address else None
            if found:
                return found.group(1)
        return ""
    _wait(lambda: code() != "", timeout, "the confirmation code")
    reply = portal.http.post("/api/v1/auth/verify/email/confirm", headers=auth, json={"code": code()})
    assert reply.status_code == 200, reply.text
    _wait(lambda: portal.http.get("/api/v1/me/notification-preferences", headers=auth).json()["email_verified"],
          timeout, "the confirmed email in the contact directory")


def _inbox(portal: Portal, token: str) -> list[dict]:
    items, page = [], ""
    while True:
        reply = portal.http.get("/api/v1/me/notifications", headers=portal.bearer(token),
                                params={"page_size": 100, "page_token": page})
        assert reply.status_code == 200, reply.text
        items += reply.json()["items"]
        page = reply.json()["next_page_token"]
        if not page:
            return items


def _mail_counts(smtp: SmtpServer, *, distinct: bool = False) -> Counter:
    """Messages received per dossier code (named in the body); ``distinct`` counts each
    Message-ID (the delivery id) once, as a mail client that drops repeats does."""
    counts: Counter = Counter()
    seen: set[str] = set()
    for message in smtp.received():
        if distinct and message["Message-ID"] in seen:
            continue
        seen.add(message["Message-ID"])
        for word in message.get_content().split():
            if word.startswith("000.00.01.H29-"):
                counts[word] += 1
                break
    return counts


def _events(citizen_id: str, codes: list[str]):
    return [dossier_event("dossier.accepted", applicant=citizen_id, code=code) for code in codes]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.mark.timeout(300)
def test_killing_the_notification_service_under_load_delivers_every_email_and_notice_once(tmp_path):
    with SmtpServer() as smtp:
        system = _notifying_system(tmp_path, smtp)
        try:
            system.start()
            portal = Portal(system.gateway_url)
            citizen = _registered(portal)
            _wait_contact(portal, citizen)
            _confirm_email(portal, smtp, citizen)
            nats_url = f"nats://127.0.0.1:{system.ports['nats']}"
            codes = [f"000.00.01.H29-261203-{i:04d}" for i in range(1, 241)]
            published: list[str] = []

            def publish_steadily():  # 40 transitions a second for six seconds
                for i in range(0, len(codes), 8):
                    asyncio.run(publish(nats_url, _events(citizen["id"], codes[i:i + 8])))
                    published.extend(codes[i:i + 8])
                    time.sleep(0.2)

            worker = threading.Thread(target=publish_steadily)
            worker.start()
            _wait(lambda: len(_mail_counts(smtp)) >= 40, 60, "the first emails")
            system.kill("notification")  # SIGKILL mid-stream: consuming, rendering and sending
            time.sleep(1.0)
            system.start_service("notification")
            worker.join(timeout=120)
            assert published == codes

            _wait(lambda: len(_mail_counts(smtp)) == len(codes), 120, "every email")
            _wait(lambda: len(_kinds(_inbox(portal, citizen["token"]), "dossier.accepted")) == len(codes), 60,
                  "every notice")
            time.sleep(3.0)  # a duplicate would land by now
            assert _kinds(_inbox(portal, citizen["token"]), "dossier.accepted") == Counter(dict.fromkeys(codes, 1))
            # One email per notice. SMTP has no idempotent submit: a message whose server reply
            # arrived in the instant between the send and the SIGKILL is sent again after the
            # lease, with the same Message-ID; such repeats are bounded by what can be in flight
            # (the rate limit's burst).
            assert _mail_counts(smtp, distinct=True) == Counter(dict.fromkeys(codes, 1))
            repeats = sum(_mail_counts(smtp).values()) - len(codes)
            print(f"emails re-sent after SIGKILL (same Message-ID): {repeats}")
            assert repeats <= 20
        finally:
            system.stop()


@pytest.mark.timeout(int(SMTP_OUTAGE_SECONDS + 420))
def test_an_smtp_outage_and_a_nats_outage_together_lose_and_repeat_no_email(tmp_path):
    """The two outages overlap, as they would in a bad hour, and keep the suite's time to one
    outage: SMTP is away for its whole outage and NATS for the first part of it."""
    with SmtpServer() as smtp:
        system = _notifying_system(tmp_path, smtp)
        try:
            system.start()
            portal = Portal(system.gateway_url)
            nats_url = f"nats://127.0.0.1:{system.ports['nats']}"
            before = _registered(portal)
            _wait_contact(portal, before)
            _confirm_email(portal, smtp, before)
            smtp.stop()
            confirmations = len(smtp.received())  # the confirmation code, before the outage
            first = [f"000.00.01.H29-261203-{i:04d}" for i in range(1, 21)]
            asyncio.run(publish(nats_url, _events(before["id"], first)))
            _wait(lambda: len(_kinds(_inbox(portal, before["token"]), "dossier.accepted")) == len(first), 30,
                  "the notices before the outage")
            started = time.monotonic()
            system.stop_process("nats")

            # While NATS is away: citizens still register (identity keeps their events in its
            # outbox) and the notification service keeps retrying email on its own schedule.
            during = [_registered(portal) for _ in range(3)]
            time.sleep(max(0.0, min(NOTIFY_NATS_OUTAGE_SECONDS, SMTP_OUTAGE_SECONDS) - (time.monotonic() - started)))
            assert len(smtp.received()) == confirmations
            system.start_nats()
            for citizen in during:
                _wait_contact(portal, citizen, timeout=120)

            time.sleep(max(0.0, SMTP_OUTAGE_SECONDS - (time.monotonic() - started)))
            assert len(smtp.received()) == confirmations
            smtp.start()
            # The citizens who registered during the outage confirm their email once mail flows
            # again (the confirmation code itself is an email); then their dossiers move.
            for citizen in during:
                _confirm_email(portal, smtp, citizen, timeout=120)
            second = {c["id"]: [f"000.00.01.H29-261204-{n:02d}{i:02d}" for i in range(1, 6)]
                      for n, c in enumerate(during)}
            asyncio.run(publish(nats_url, [e for cid, codes in second.items() for e in _events(cid, codes)]))
            for citizen in during:
                _wait(lambda c=citizen: len(_kinds(_inbox(portal, c["token"]), "dossier.accepted")) == 5, 60,
                      "the notices after NATS came back")
            expected = first + [code for codes in second.values() for code in codes]
            _wait(lambda: len(_mail_counts(smtp)) == len(expected), 150, "every email after the outage")
            time.sleep(3.0)
            assert _mail_counts(smtp) == Counter(dict.fromkeys(expected, 1))
            assert _kinds(_inbox(portal, before["token"]), "dossier.accepted") == Counter(dict.fromkeys(first, 1))
            for citizen in during:
                assert _kinds(_inbox(portal, citizen["token"]), "dossier.accepted") == Counter(
                    dict.fromkeys(second[citizen["id"]], 1))
            # Each email's final state went out for the dossier log once NATS was back.
            _wait(lambda: _delivered_events(nats_url) >= len(expected), 30, "the delivery records")
        finally:
            system.stop()


def _delivered_events(nats_url: str) -> int:
    async def count() -> int:
        import nats

        nc = await nats.connect(nats_url)
        try:
            return (await nc.jetstream().stream_info("NOTIFICATION")).state.messages
        finally:
            await nc.close()

    return asyncio.run(count())
