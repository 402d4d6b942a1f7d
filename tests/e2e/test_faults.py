"""Faults with real processes: a killed consumer and a missing NATS lose nothing and
duplicate nothing."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from tests.e2e.portal import DEMO_OFFICIAL, Portal

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
