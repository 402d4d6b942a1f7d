"""With a real NATS: a poison message goes to the dead-letter stream after bounded retries,
the operators are alerted, and the messages behind it are still handled."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.notification.app import directory
from services.notification.app.consumers import DOSSIER_CONSUMER, Notifier
from services.notification.app.inbox import list_inbox
from services.notification.app.metrics import DEAD_LETTERS
from services.platform.db import make_engine, session_factory
from services.platform.messaging import DEADLETTER_STREAM, DOSSIER_STREAM, Bus, consume
from tests.notification.helpers import account_event, dossier_event

OPERATOR = str(uuid.uuid4())
APPLICANT = str(uuid.uuid4())


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


async def wait_for(predicate, timeout=20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("batched", [False, True], ids=["one_by_one", "batched"])
async def test_a_poison_message_is_dead_lettered_and_alerts_operators_without_blocking(sessions, nats_server,
                                                                                         batched):
    notifier = Notifier(sessions)
    await directory.handle_account_event(sessions, account_event(OPERATOR, kind="official", roles=("operator",)))
    bus = Bus(nats_server, name="test", streams=(DOSSIER_STREAM, DEADLETTER_STREAM))
    await bus.start()
    await bus.wait_ready(10)
    before = DEAD_LETTERS.labels(DOSSIER_CONSUMER)._value.get()

    async def hook(subject, data, error):
        await notifier.alert_dead_letter(DOSSIER_CONSUMER, subject, data, error)

    task = asyncio.create_task(consume(bus, stream=DOSSIER_STREAM, durable=DOSSIER_CONSUMER, subject="dossier.>",
                                       handler=notifier.handle_dossier_event, max_deliver=2, on_dead_letter=hook,
                                       batch_handler=notifier.handle_dossier_events if batched else None))
    try:
        # Published before the consumer's first fetch returns: batched, they arrive together.
        await bus.publish("dossier.accepted", b"\x0a\xffnot an envelope", event_id=str(uuid.uuid4()))
        good = dossier_event("dossier.accepted", applicant=APPLICANT)
        await bus.publish("dossier.accepted", good.SerializeToString(), event_id=good.event_id)

        async def applicant_told():
            return (await list_inbox(sessions, [APPLICANT], unread_only=False, offset=0, limit=5))[1] == 1

        async def operator_alerted():
            return (await list_inbox(sessions, [OPERATOR], unread_only=False, offset=0, limit=5))[1] == 1

        await wait_for(applicant_told)
        await wait_for(operator_alerted)
        info = await bus.js.stream_info(DEADLETTER_STREAM.name)
        assert info.state.messages == 1
        dead = await bus.js.get_last_msg(DEADLETTER_STREAM.name, f"deadletter.{DOSSIER_CONSUMER}")
        assert dead.data == b"\x0a\xffnot an envelope"
        assert dead.headers["X-Original-Subject"] == "dossier.accepted"
        (alert,), _, _ = await list_inbox(sessions, [OPERATOR], unread_only=False, offset=0, limit=5)
        assert alert.event_type == "alert.dead_letter" and "dossier.accepted" in alert.body
        assert DEAD_LETTERS.labels(DOSSIER_CONSUMER)._value.get() == before + 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()
