"""The transactional outbox, the relay to JetStream, de-duplication, processed events and
dead letters: on SQLite and PostgreSQL, with a real NATS server."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest
from sqlalchemy import MetaData, select, update

from motcua.v1 import events_pb2
from services.platform.db import make_engine, session_factory
from services.platform.events import (
    OutboxRelay,
    first_delivery,
    make_envelope,
    outbox_table,
    processed_events_table,
    record_event,
)
from services.platform.messaging import DEADLETTER_STREAM, Bus, StreamSpec, consume

TEST_STREAM = StreamSpec("TESTEV", ("testev.>",))
EVENT_TYPE = "testev.dossier.accepted"

metadata = MetaData()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)


class Rollback(Exception):
    pass


def payload(code: str) -> events_pb2.DossierStatusChanged:
    return events_pb2.DossierStatusChanged(dossier_code=code, applicant_id="a1", status_code=2,
                                           status="Được tiếp nhận", action="accept")


@pytest.fixture
async def engine(database_url):
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def bus(nats_server):
    bus = Bus(nats_server, name="outbox-test", streams=(TEST_STREAM, DEADLETTER_STREAM))
    await bus.start()
    await bus.wait_ready(10)
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
async def reader(nats_server):
    nc = await nats.connect(nats_server)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def stream_count(js, name: str) -> int:
    return (await js.stream_info(name)).state.messages


async def record(sessions, code: str, *, roll_back: bool = False) -> events_pb2.EventEnvelope:
    envelope = None
    try:
        async with sessions() as session, session.begin():
            envelope = await record_event(session, outbox, event_type=EVENT_TYPE, producer="dossier",
                                          subject=code, payload=payload(code))
            if roll_back:
                raise Rollback
    except Rollback:
        pass
    return envelope


async def test_only_a_committed_event_is_published(engine, bus, reader):
    sessions = session_factory(engine)
    lost = await record(sessions, "000.00.01.H29-260306-0001", roll_back=True)
    kept = await record(sessions, "000.00.01.H29-260306-0002")
    relay = OutboxRelay(engine, outbox, bus)
    assert await relay.pending_count() == 1

    assert await relay.publish_pending() == 1
    assert await relay.pending_count() == 0
    assert await relay.publish_pending() == 0

    psub = await reader.pull_subscribe("testev.>", durable="reader", stream=TEST_STREAM.name)
    msgs = await psub.fetch(10, timeout=3)
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg.subject == EVENT_TYPE
    assert msg.headers["Nats-Msg-Id"] == kept.event_id != lost.event_id
    envelope = events_pb2.EventEnvelope.FromString(msg.data)
    assert envelope.event_id == kept.event_id
    assert envelope.type == EVENT_TYPE and envelope.producer == "dossier"
    assert envelope.subject == "000.00.01.H29-260306-0002"
    event = events_pb2.DossierStatusChanged()
    assert envelope.payload.Unpack(event)
    assert event.dossier_code == "000.00.01.H29-260306-0002" and event.status == "Được tiếp nhận"
    assert await stream_count(reader, TEST_STREAM.name) == 1


async def test_relay_publishes_pending_events_in_recording_order(engine, bus, reader):
    sessions = session_factory(engine)
    recorded = [await record(sessions, f"000.00.01.H29-260306-{i:04d}") for i in range(1, 6)]
    assert await OutboxRelay(engine, outbox, bus).publish_pending() == 5
    psub = await reader.pull_subscribe("testev.>", durable="order", stream=TEST_STREAM.name)
    ids = []
    while len(ids) < 5:
        ids += [m.headers["Nats-Msg-Id"] for m in await psub.fetch(10, timeout=3)]
    assert ids == [e.event_id for e in recorded]


async def test_a_failure_inside_a_window_marks_only_the_acknowledged_prefix(engine, bus, reader):
    """The relay sends a window of events before awaiting their acks. The third here has no
    stream to land in (JetStream answers no one): the first two are marked published; the
    fourth and fifth, which were stored, stay pending and are dropped as duplicates when
    they go again."""
    sessions = session_factory(engine)
    recorded = []
    for i in range(1, 6):
        async with sessions() as session, session.begin():
            recorded.append(await record_event(
                session, outbox, event_type="nostream.dossier.accepted" if i == 3 else EVENT_TYPE,
                producer="dossier", subject=f"000.00.01.H29-260306-{i:04d}", payload=payload(str(i))))
    relay = OutboxRelay(engine, outbox, bus)
    assert await relay.publish_pending() == 2
    async with engine.connect() as conn:
        published = (await conn.execute(select(outbox.c.event_id).where(outbox.c.published_at.is_not(None)))).scalars()
        assert set(published) == {recorded[0].event_id, recorded[1].event_id}
    assert await relay.pending_count() == 3
    assert await stream_count(reader, TEST_STREAM.name) == 4  # 1, 2, 4 and 5 reached the stream
    assert await relay.publish_pending() == 0  # the third fails again, first in line
    assert await stream_count(reader, TEST_STREAM.name) == 4  # 4 and 5 sent again, not stored twice


async def test_publishing_the_same_event_id_twice_keeps_one_message(bus, reader):
    envelope = make_envelope(event_type=EVENT_TYPE, producer="dossier", subject="x", payload=payload("x"))
    data = envelope.SerializeToString()
    await bus.publish(EVENT_TYPE, data, event_id=envelope.event_id)
    await bus.publish(EVENT_TYPE, data, event_id=envelope.event_id)
    assert await stream_count(reader, TEST_STREAM.name) == 1
    other = make_envelope(event_type=EVENT_TYPE, producer="dossier", subject="y", payload=payload("y"))
    await bus.publish(EVENT_TYPE, other.SerializeToString(), event_id=other.event_id)
    assert await stream_count(reader, TEST_STREAM.name) == 2


async def test_relaying_again_after_a_crash_before_marking_is_deduplicated(engine, bus, reader):
    sessions = session_factory(engine)
    await record(sessions, "000.00.01.H29-260306-0001")
    relay = OutboxRelay(engine, outbox, bus)
    assert await relay.publish_pending() == 1
    # The relay published but "crashed" before recording it: the row is pending again.
    async with engine.begin() as conn:
        await conn.execute(update(outbox).values(published_at=None))
    assert await relay.publish_pending() == 1
    assert await stream_count(reader, TEST_STREAM.name) == 1


async def test_relay_waits_while_nats_is_not_connected(engine, nats_server):
    sessions = session_factory(engine)
    await record(sessions, "000.00.01.H29-260306-0001")
    offline = Bus(nats_server, name="never-started", streams=(TEST_STREAM,))
    relay = OutboxRelay(engine, outbox, offline)
    assert await relay.publish_pending() == 0
    assert await relay.pending_count() == 1


async def test_an_event_counts_as_first_delivery_once_per_consumer(engine):
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        assert await first_delivery(session, processed, "inbox", "e-1") is True
        assert await first_delivery(session, processed, "inbox", "e-1") is False
    async with sessions() as session, session.begin():
        assert await first_delivery(session, processed, "inbox", "e-1") is False
        assert await first_delivery(session, processed, "mailer", "e-1") is True
        assert await first_delivery(session, processed, "inbox", "e-2") is True
    async with sessions() as session:
        rows = (await session.execute(select(processed.c.consumer, processed.c.event_id))).all()
    assert sorted(map(tuple, rows)) == [("inbox", "e-1"), ("inbox", "e-2"), ("mailer", "e-1")]


async def test_twin_deliveries_racing_in_two_transactions_count_once(postgres):
    """PostgreSQL only: on SQLite one writer at a time means two transactions cannot race."""
    name = "twin_deliveries"
    postgres.create_database(name)
    engine = make_engine(postgres.url(name))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = session_factory(engine)
        first, second = sessions(), sessions()
        await first.begin()
        assert await first_delivery(first, processed, "inbox", "twin") is True
        await second.begin()
        racing = asyncio.create_task(first_delivery(second, processed, "inbox", "twin"))
        await asyncio.sleep(0.3)
        assert not racing.done()  # waits on the first transaction's row
        await first.commit()
        assert await racing is False  # the first committed: the twin inserts nothing, without an error
        await second.commit()
        await first.close()
        await second.close()
    finally:
        await engine.dispose()


async def test_a_rolled_back_first_delivery_can_be_delivered_again(engine):
    sessions = session_factory(engine)
    with pytest.raises(Rollback):
        async with sessions() as session, session.begin():
            assert await first_delivery(session, processed, "inbox", "e-1") is True
            raise Rollback
    async with sessions() as session, session.begin():
        assert await first_delivery(session, processed, "inbox", "e-1") is True


async def test_a_message_that_keeps_failing_goes_to_the_dead_letter_stream(bus, reader):
    calls: list[str] = []

    async def always_fails(envelope: events_pb2.EventEnvelope) -> None:
        calls.append(envelope.event_id)
        raise RuntimeError("handler is broken")

    envelope = make_envelope(event_type=EVENT_TYPE, producer="dossier", subject="x", payload=payload("x"))
    await bus.publish(EVENT_TYPE, envelope.SerializeToString(), event_id=envelope.event_id)
    task = asyncio.create_task(consume(bus, stream=TEST_STREAM, durable="broken", subject="testev.>",
                                       handler=always_fails, max_deliver=2))
    try:
        deadline = time.monotonic() + 20
        while await stream_count(reader, DEADLETTER_STREAM.name) < 1:
            assert not task.done(), task
            assert time.monotonic() < deadline, f"not dead-lettered after {len(calls)} attempts"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a further delivery would show up now
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert calls == [envelope.event_id, envelope.event_id]
    dead = await reader.get_msg(DEADLETTER_STREAM.name, 1)
    assert dead.subject == "deadletter.broken"
    assert dead.data == envelope.SerializeToString()
    assert dead.headers["X-Original-Subject"] == EVENT_TYPE
    assert "handler is broken" in dead.headers["X-Error"]
    assert await stream_count(reader, DEADLETTER_STREAM.name) == 1
