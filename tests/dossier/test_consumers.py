"""Events the dossier service consumes: procedure versions become snapshots; notification
deliveries become log entries; a redelivered event changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from motcua.v1 import catalogue_pb2, notification_pb2
from services.dossier.app import consumers, queries
from services.dossier.app.submit import SubmitCommand, submit_dossier
from services.dossier.store.models import LogEntry, ProcedureSnapshot
from services.dossier.store.writes import as_utc
from services.platform.errors import InvalidInput
from services.platform.events import make_envelope
from tests.dossier.support import AGENCY, FakeCatalogue, citizen, make_ctx, procedure


@pytest.fixture
def url(migrated):
    return migrated("dossier")


@pytest.fixture
async def env(url):
    catalogue = FakeCatalogue()
    ctx, engine = await make_ctx(url, catalogue)
    try:
        yield ctx, catalogue
    finally:
        await engine.dispose()


def published(p, kind="published"):
    return make_envelope(event_type=f"catalogue.procedure.{kind}", producer="catalogue", subject=p.code,
                         payload=catalogue_pb2.ProcedurePublished(procedure=p))


async def test_a_published_version_is_kept_and_used_without_asking_the_catalogue(env):
    ctx, catalogue = env
    envelope = published(procedure(version=4, mandatory=()))
    await consumers.on_procedure(ctx, envelope)
    await consumers.on_procedure(ctx, envelope)  # redelivered
    async with ctx.sessions() as session:
        rows = list(await session.scalars(select(ProcedureSnapshot)))
    assert [(r.code, r.version, r.status) for r in rows] == [("1.001193", 4, "published")]
    d = (await submit_dossier(ctx, citizen(), SubmitCommand(procedure_code="1.001193", agency_code=AGENCY))).dossier
    assert d.procedure_version == 4
    assert not [c for c in catalogue.calls if c.startswith("procedure:")]


async def test_a_retired_version_takes_no_more_dossiers(env, url):
    ctx, catalogue = env
    p = procedure(version=2, mandatory=())
    await consumers.on_procedure(ctx, published(p))
    retired = catalogue_pb2.Procedure()
    retired.CopyFrom(p)
    retired.status = "retired"
    await consumers.on_procedure(ctx, published(retired, "retired"))
    async with ctx.sessions() as session:
        assert (await session.get(ProcedureSnapshot, ("1.001193", 2))).status == "retired"
    with pytest.raises(InvalidInput) as err:
        await submit_dossier(ctx, citizen(), SubmitCommand(procedure_code="1.001193", agency_code=AGENCY))
    assert err.value.fields["procedure_code"] == "procedure is retired"
    restarted, engine = await make_ctx(url, catalogue)  # after a restart the snapshot table is the memory
    try:
        with pytest.raises(InvalidInput) as err:
            await submit_dossier(restarted, citizen(), SubmitCommand(procedure_code="1.001193", agency_code=AGENCY))
        assert err.value.fields["procedure_code"] == "procedure is retired"
    finally:
        await engine.dispose()


async def test_a_notification_delivery_is_written_into_the_dossier_log_once(env):
    ctx, catalogue = env
    catalogue.add(procedure(mandatory=()))
    who = citizen()
    code = (await submit_dossier(ctx, who, SubmitCommand(procedure_code="1.001193", agency_code=AGENCY))).dossier.code
    update = notification_pb2.DeliveryUpdated(delivery_id="dl-1", dossier_code=code, account_id=who.account_id,
                                              channel="sms", destination_masked="09*****123", state="delivered",
                                              event_type="dossier.submitted", title="Đã nộp hồ sơ")
    update.occurred_at.FromDatetime(datetime(2026, 3, 10, 2, 5, tzinfo=UTC))
    envelope = make_envelope(event_type="notification.delivery.updated", producer="notification", subject=code,
                             payload=update)
    await consumers.on_delivery(ctx, envelope)
    await consumers.on_delivery(ctx, envelope)
    entries = await queries.dossier_log(ctx, who, code)
    sent = [e for e in entries if e.action == "notification"]
    assert len(sent) == 1
    assert sent[0].actor_role == "system" and as_utc(sent[0].at) == datetime(2026, 3, 10, 2, 5, tzinfo=UTC)
    assert sent[0].note == "Thông báo “Đã nộp hồ sơ” qua SMS tới 09*****123: đã đến lúc 09:05 ngày 10/03/2026"
    assert entries[-1].prev_hash == entries[-2].hash


def delivery_envelope(code: str, account_id: str, delivery_id: str, channel: str):
    update = notification_pb2.DeliveryUpdated(delivery_id=delivery_id, dossier_code=code, account_id=account_id,
                                              channel=channel, state="sent", event_type="dossier.submitted",
                                              title="Đã nộp hồ sơ")
    return make_envelope(event_type="notification.delivery.updated", producer="notification", subject=code,
                         payload=update)


async def test_a_batch_of_deliveries_is_written_in_one_go_chained_and_once_each(env):
    ctx, catalogue = env
    catalogue.add(procedure(mandatory=()))
    who = citizen()
    codes = [(await submit_dossier(ctx, who, SubmitCommand(procedure_code="1.001193", agency_code=AGENCY)))
             .dossier.code for _ in range(2)]
    email = delivery_envelope(codes[0], who.account_id, "dl-1", "email")
    batch = [email, delivery_envelope(codes[0], who.account_id, "dl-2", "sms"),
             delivery_envelope(codes[1], who.account_id, "dl-3", "in_app"), email]  # the email twice
    await consumers.on_deliveries(ctx, batch)
    await consumers.on_deliveries(ctx, batch[:2])  # the batch redelivered
    first = await queries.dossier_log(ctx, who, codes[0])
    assert [e.note.split(" qua ")[1].split(":")[0] for e in first if e.action == "notification"] == [
        "thư điện tử", "SMS"]
    assert all(e.prev_hash == p.hash for p, e in zip(first, first[1:]))
    second = await queries.dossier_log(ctx, who, codes[1])
    assert len([e for e in second if e.action == "notification"]) == 1


async def test_a_delivery_for_no_dossier_or_an_unknown_one_is_ignored(env):
    ctx, _ = env
    for code in ("", "000.00.99.H29-990101-0001"):
        envelope = make_envelope(event_type="notification.delivery.updated", producer="notification", subject="x",
                                 payload=notification_pb2.DeliveryUpdated(delivery_id="d", dossier_code=code))
        await consumers.on_delivery(ctx, envelope)
    async with ctx.sessions() as session:
        assert list(await session.scalars(select(LogEntry))) == []
