"""City administrators' changes on both backends: drafts, publishing, retiring, pinned
versions, the audit trail, and catalogue events through the outbox to JetStream."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import nats
import pytest
from sqlalchemy import func, select

from motcua.v1 import catalogue_pb2, events_pb2
from services.catalogue.app import admin, queries
from services.catalogue.app.index import LiveIndex, build
from services.catalogue.domain import demo
from services.catalogue.store.models import AuditEntry, Procedure, outbox
from services.platform.errors import FailedPrecondition, InvalidInput, NotFound, PermissionDenied
from services.platform.events import OutboxRelay
from services.platform.messaging import CATALOGUE_STREAM, Bus
from tests.catalogue.conftest import ADMIN, RECEPTION

NEW = {
    "code": "1.999001", "name": "Thủ tục cấp giấy xác nhận thử nghiệm", "sector": "Hộ tịch", "level": "commune",
    "online": "full", "channels": ["online", "in_person"], "processing_time": {"value": 2, "unit": "working_day"},
    "fees": [{"name": "Lệ phí", "amount_vnd": 8000}], "documents": [{"name": "Tờ khai", "mandatory": True}],
    "workflow": demo.workflow(16), "applicant_types": ["citizen"],
}


async def tx(sessions, fn, *args, **kw):
    async with sessions() as s, s.begin():
        return await fn(s, *args, **kw)


async def audit_of(sessions, code: str) -> list[AuditEntry]:
    async with sessions() as s:
        return list(await s.scalars(select(AuditEntry).where(AuditEntry.entity_key == code).order_by(AuditEntry.id)))


async def events(sessions) -> list[tuple[str, events_pb2.EventEnvelope]]:
    async with sessions() as s:
        rows = (await s.execute(select(outbox.c.subject, outbox.c.data).order_by(outbox.c.id))).all()
    return [(subject, events_pb2.EventEnvelope.FromString(data)) for subject, data in rows]


def procedure_in(envelope: events_pb2.EventEnvelope) -> catalogue_pb2.Procedure:
    payload = catalogue_pb2.ProcedurePublished()
    assert envelope.payload.Unpack(payload)
    return payload.procedure


async def test_a_new_procedure_goes_draft_then_published_with_audit_and_an_event(sessions):
    draft = await tx(sessions, admin.create_draft, ADMIN, NEW)
    assert (draft.version, draft.status) == (1, "draft")
    async with sessions() as s:
        with pytest.raises(NotFound):  # not in force: citizens cannot file it
            await queries.get_procedure(s, NEW["code"])
        assert (await queries.get_procedure(s, NEW["code"], 1)).status == "draft"
    hits, _ = (await build(sessions)).search("giấy xác nhận thử nghiệm", limit=100)
    assert NEW["code"] not in {h.entry.code for h in hits}
    before = len(await events(sessions))

    published = await tx(sessions, admin.publish, ADMIN, NEW["code"], 1)
    assert published.status == "published" and published.effective_from is not None
    async with sessions() as s:
        assert (await queries.get_procedure(s, NEW["code"])).version == 1
    hits, total = (await build(sessions)).search("giay xac nhan thu nghiem")
    assert hits[0].entry.code == NEW["code"]

    trail = await audit_of(sessions, NEW["code"])
    assert [(e.action, e.version, e.actor_id, e.actor_name) for e in trail] == [
        ("create_draft", 1, ADMIN.account_id, ADMIN.name), ("publish", 1, ADMIN.account_id, ADMIN.name)]
    name_change = next(c for c in trail[0].changes if c["field"] == "name")
    assert json.loads(name_change["old"]) is None and json.loads(name_change["new"]) == NEW["name"]
    status_change = next(c for c in trail[1].changes if c["field"] == "status")
    assert (json.loads(status_change["old"]), json.loads(status_change["new"])) == ("draft", "published")

    new_events = (await events(sessions))[before:]
    assert [subject for subject, _ in new_events] == ["catalogue.procedure.published"]
    envelope = new_events[0][1]
    assert envelope.producer == "catalogue" and envelope.subject == NEW["code"]
    sent = procedure_in(envelope)
    assert (sent.code, sent.version, sent.status) == (NEW["code"], 1, "published")
    assert [s.role for s in sent.workflow] == ["reception", "processing", "approval"]
    assert sent.documents[0].id == "d1" and sent.documents[0].mandatory


async def test_a_change_is_a_new_version_and_a_dossier_keeps_reading_its_pinned_one(sessions):
    old = await tx(sessions, lambda s: queries.get_procedure(s, "1.001193"))
    draft = await tx(sessions, admin.create_draft, ADMIN, {"code": "1.001193"}, copy_from_latest=True)
    assert draft.version == 2 and draft.data == old.data
    changed = dict(draft.data, processing_time={"value": 2, "unit": "working_day", "note": ""}, demo_settings=True)
    updated = await tx(sessions, admin.update_draft, ADMIN, changed, 2)
    assert updated.data["processing_time"]["value"] == 2
    assert updated.data["demo_fields"] == old.data["demo_fields"]  # still demo settings, still flagged

    await tx(sessions, admin.publish, ADMIN, "1.001193", 2)
    async with sessions() as s:
        now_in_force = await queries.get_procedure(s, "1.001193")
        pinned = await queries.get_procedure(s, "1.001193", 1)
    assert now_in_force.version == 2 and now_in_force.data["processing_time"]["value"] == 2
    assert pinned.status == "retired" and pinned.data["processing_time"]["value"] == 1
    assert pinned.effective_to == now_in_force.effective_from

    trail = await audit_of(sessions, "1.001193")
    actions = [(e.action, e.version) for e in trail]
    assert actions[-4:] == [("create_draft", 2), ("update_draft", 2), ("supersede", 1), ("publish", 2)]
    update = trail[-3]
    assert [c["field"] for c in update.changes] == ["processing_time"]
    assert json.loads(update.changes[0]["old"])["value"] == 1 and json.loads(update.changes[0]["new"])["value"] == 2
    subjects = [subject for subject, e in await events(sessions) if e.subject == "1.001193"]
    assert subjects[-2:] == ["catalogue.procedure.retired", "catalogue.procedure.published"]


async def test_a_future_dated_version_leaves_the_current_one_in_force(sessions):
    await tx(sessions, admin.create_draft, ADMIN, {"code": "1.000894"}, copy_from_latest=True)
    later = datetime.now(UTC) + timedelta(days=30)
    await tx(sessions, admin.publish, ADMIN, "1.000894", 2, later)
    async with sessions() as s:
        assert (await queries.get_procedure(s, "1.000894")).version == 1
        assert (await queries.get_procedure(s, "1.000894", 1)).effective_to == later
    hits, _ = (await build(sessions, later + timedelta(seconds=1))).search("1.000894")
    assert hits[0].entry.version == 2


async def test_retiring_takes_the_procedure_out_of_search_and_filing_but_not_out_of_history(sessions):
    await tx(sessions, admin.retire, ADMIN, "1.000656", 1, reason="Thay thế bằng thủ tục liên thông")
    async with sessions() as s:
        with pytest.raises(NotFound):
            await queries.get_procedure(s, "1.000656")
        assert (await queries.get_procedure(s, "1.000656", 1)).status == "retired"
    hits, _ = (await build(sessions)).search("khai tử", limit=100)
    assert hits and "1.000656" not in {h.entry.code for h in hits}
    assert (await build(sessions)).search("1.000656") == ([], 0)
    entry = (await audit_of(sessions, "1.000656"))[-1]
    assert entry.action == "retire" and {"field": "reason", "old": "null",
                                         "new": '"Thay thế bằng thủ tục liên thông"'} in entry.changes
    subject, envelope = (await events(sessions))[-1]
    assert subject == "catalogue.procedure.retired" and procedure_in(envelope).status == "retired"


async def test_only_a_city_admin_changes_the_catalogue(sessions):
    for principal in (RECEPTION, admin.Principal(account_id="c1", kind="citizen", roles=("city_admin",))):
        with pytest.raises(PermissionDenied):
            await tx(sessions, admin.create_draft, principal, NEW)
        with pytest.raises(PermissionDenied):
            await tx(sessions, admin.publish, principal, "1.001193", 1)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Procedure).where(Procedure.code == NEW["code"])) == 0


@pytest.mark.parametrize("changes,field", [
    ({"fees": [{"name": "Lệ phí", "amount_vnd": -1}]}, "fees[0].amount_vnd"),
    ({"processing_time": {"value": -3, "unit": "working_day"}}, "processing_time.value"),
    ({"agency_code": "999.99.99.H29"}, "agency_code"),
    ({"eform_schema": {"type": "object", "properties": {"x": {"type": 5}}}}, "eform_schema"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": float("nan")}]}, "fees[0].amount_vnd"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": 1e20}]}, "fees[0].amount_vnd"),
    ({"documents": [{"name": "Tờ khai", "copies": 3_000_000_000}]}, "documents[0].copies"),
    ({"workflow": [{"name": "Tiếp nhận", "role": "reception", "budget_hours": "nan"}]}, "workflow[0].budget_hours"),
    ({"sector": "x" * 300}, "sector"),
    ({"eform_schema": {"type": "object", "properties": {"x": {"type": "number", "minimum": float("nan")}}}},
     "eform_schema"),
])
async def test_bad_drafts_are_refused_naming_the_field_and_nothing_is_written(sessions, changes, field):
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, admin.create_draft, ADMIN, {**NEW, **changes})
    assert field in err.value.fields and field in err.value.message
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Procedure).where(Procedure.code == NEW["code"])) == 0
    assert await audit_of(sessions, NEW["code"]) == []


async def test_publishing_without_documents_or_workflow_is_refused_with_the_reason(sessions):
    await tx(sessions, admin.create_draft, ADMIN, {**NEW, "documents": [], "workflow": []})
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, admin.publish, ADMIN, NEW["code"], 1)
    assert set(err.value.fields) == {"documents", "workflow"}
    async with sessions() as s:
        assert (await queries.get_procedure(s, NEW["code"], 1)).status == "draft"


async def test_version_rules_hold_through_the_use_cases(sessions):
    with pytest.raises(FailedPrecondition):  # published versions are never edited
        await tx(sessions, admin.update_draft, ADMIN, {"code": "1.001193", "name": "x"}, 1)
    await tx(sessions, admin.create_draft, ADMIN, {"code": "1.001193"}, copy_from_latest=True)
    with pytest.raises(FailedPrecondition):  # one open draft at a time
        await tx(sessions, admin.create_draft, ADMIN, {"code": "1.001193"}, copy_from_latest=True)
    with pytest.raises(FailedPrecondition):
        await tx(sessions, admin.retire, ADMIN, "1.001193", 2)
    with pytest.raises(NotFound):
        await tx(sessions, admin.publish, ADMIN, "1.001193", 9)


@pytest.fixture
async def js(nats_server):
    nc = await nats.connect(nats_server)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def test_published_events_reach_the_catalogue_stream_through_the_outbox(sessions, nats_server, js):
    await tx(sessions, admin.create_draft, ADMIN, NEW)
    await tx(sessions, admin.publish, ADMIN, NEW["code"], 1)
    bus = Bus(nats_server, name="catalogue-test", streams=(CATALOGUE_STREAM,))
    await bus.start()
    try:
        await bus.wait_ready(10)
        engine = sessions.kw["bind"]
        relay = OutboxRelay(engine, outbox, bus)
        sent = await relay.publish_pending()
        assert sent == len(await events(sessions)) and await relay.pending_count() == 0
    finally:
        await bus.close()
    sub = await js.pull_subscribe("catalogue.procedure.published", durable="test-reader", stream="CATALOGUE")
    got: list[catalogue_pb2.Procedure] = []
    while True:
        try:
            batch = await sub.fetch(100, timeout=1)
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            break
        for msg in batch:
            got.append(procedure_in(events_pb2.EventEnvelope.FromString(msg.data)))
            await msg.ack()
    # The seed's published procedures, then the new one: snapshots for whoever pins versions.
    assert got[-1].code == NEW["code"] and got[-1].version == 1
    assert "1.001193" in {p.code for p in got}
    assert len(got) == 42 + 1


async def test_a_version_cannot_be_published_in_the_past_or_before_the_one_in_force_starts(sessions):
    await tx(sessions, admin.create_draft, ADMIN, NEW)
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, admin.publish, ADMIN, NEW["code"], 1, datetime.now(UTC) - timedelta(days=1))
    assert set(err.value.fields) == {"effective_from"}
    start = datetime.now(UTC) + timedelta(days=10)
    await tx(sessions, admin.publish, ADMIN, NEW["code"], 1, start)
    await tx(sessions, admin.create_draft, ADMIN, {"code": NEW["code"]}, copy_from_latest=True)
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, admin.publish, ADMIN, NEW["code"], 2, start - timedelta(days=1))
    assert set(err.value.fields) == {"effective_from"}
    async with sessions() as s:
        first, second = await queries.versions_of(s, NEW["code"])
    assert (first.status, first.effective_from, first.effective_to, second.status) == (
        "published", start, None, "draft")


async def test_a_version_cannot_be_retired_before_it_starts(sessions):
    await tx(sessions, admin.create_draft, ADMIN, NEW)
    start = datetime.now(UTC) + timedelta(days=10)
    await tx(sessions, admin.publish, ADMIN, NEW["code"], 1, start)
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, admin.retire, ADMIN, NEW["code"], 1, start - timedelta(days=1))
    assert set(err.value.fields) == {"effective_to"}
    retired = await tx(sessions, admin.retire, ADMIN, NEW["code"], 1, start + timedelta(days=1))
    assert retired.effective_to == start + timedelta(days=1) and retired.status == "published"


async def test_two_concurrent_publishes_of_one_draft_publish_it_once(sessions):
    await tx(sessions, admin.create_draft, ADMIN, {"code": "1.001193"}, copy_from_latest=True)
    before = len(await events(sessions))
    outcomes = await asyncio.gather(*[tx(sessions, admin.publish, ADMIN, "1.001193", 2) for _ in range(2)],
                                    return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["FailedPrecondition", "Procedure"]
    trail = await audit_of(sessions, "1.001193")
    assert [e.action for e in trail].count("publish") == 1 and [e.action for e in trail].count("supersede") == 1
    assert [subject for subject, _ in (await events(sessions))[before:]] == [
        "catalogue.procedure.retired", "catalogue.procedure.published"]
    async with sessions() as s:
        assert [(v.version, v.status) for v in await queries.versions_of(s, "1.001193")] == [
            (1, "retired"), (2, "published")]


async def test_a_change_to_one_procedure_reindexes_that_procedure_alone(sessions):
    live = LiveIndex(sessions)
    await live.refresh()
    others = len(live.index)
    await tx(sessions, admin.create_draft, ADMIN, NEW)
    await tx(sessions, admin.publish, ADMIN, NEW["code"], 1)
    await live.refresh_code(NEW["code"])
    hits, _ = live.index.search("giay xac nhan thu nghiem")
    assert hits[0].entry.code == NEW["code"] and len(live.index) == others + 1
    await tx(sessions, admin.retire, ADMIN, NEW["code"], 1)
    await live.refresh_code(NEW["code"])
    assert live.index.search(NEW["code"]) == ([], 0) and len(live.index) == others
    # Changes seen only through the fingerprint (another replica's) still trigger a rebuild.
    assert await live.refresh_if_changed() is True
