"""The dossier use cases against a real database (SQLite and PostgreSQL): submission checks,
the whole lifecycle, deadlines in the log, conflicts, idempotency, access, atomicity."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from motcua.v1 import events_pb2
from services.dossier.app import queries
from services.dossier.app.act import ActionCommand, perform_action
from services.dossier.app.submit import SubmitCommand, submit_dossier
from services.dossier.domain.log import first_broken
from services.dossier.store.document_models import Document
from services.dossier.store.models import Dossier, LogEntry, ProcedureSnapshot, outbox
from services.dossier.store.writes import as_utc, log_content
from services.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.dossier.support import (
    AGENCY,
    BIRTH_SCHEMA,
    DEPARTMENT,
    OTHER_AGENCY,
    FakeCatalogue,
    citizen,
    make_ctx,
    official,
    procedure,
)

WORKFLOW = (
    {"id": "s1", "name": "Thẩm định hồ sơ", "role": "processing", "budget_hours": 8},
    {"id": "s2", "name": "Lấy ý kiến Sở", "role": "processing", "agency_code": DEPARTMENT, "budget_hours": 16,
     "inter_agency": True},
    {"id": "s3", "name": "Trình ký", "role": "approval", "budget_hours": 4},
)
RECEPTION = official("u-rec", "reception")
PROCESSOR = official("u-proc", "processing")
HEAD = official("u-head", "approval")
ADMIN = official("u-admin", "agency_admin")
GOOD_FORM = '{"ho_ten_tre": "Nguyễn Bé Na", "ngay_sinh": "2026-03-01"}'


@pytest.fixture
def url(migrated):
    return migrated("dossier")


@pytest.fixture
async def env(url):
    catalogue = FakeCatalogue()
    catalogue.add(procedure(schema=BIRTH_SCHEMA, workflow=WORKFLOW, fees=8000))
    ctx, engine = await make_ctx(url, catalogue)
    try:
        yield ctx, catalogue
    finally:
        await engine.dispose()


async def upload(ctx, owner: str, requirement: str = "d1", name: str = "giay-chung-sinh.pdf") -> str:
    doc_id = str(uuid.uuid4())
    async with ctx.sessions() as session, session.begin():
        session.add(Document(id=doc_id, owner_id=owner, uploaded_by=owner, requirement_id=requirement,
                             filename=name, declared_content_type="application/pdf", content_type="application/pdf",
                             kind="pdf", size=1234, sha256="ab" * 32, created_at=datetime.now(UTC)))
    return doc_id


async def submit(ctx, who=None, *, form=GOOD_FORM, docs=None, key="", **kw):
    who = who or citizen()
    if docs is None:
        docs = [await upload(ctx, who.applicant_id)]
    return await submit_dossier(ctx, who, SubmitCommand(procedure_code="1.001193", agency_code=AGENCY,
                                                        form_data_json=form, document_ids=docs,
                                                        idempotency_key=key, **kw))


async def act(ctx, who, code, action, **kw):
    return (await perform_action(ctx, who, ActionCommand(code=code, action=action, **kw))).dossier


async def events(ctx, code=None) -> list[tuple[str, events_pb2.DossierStatusChanged]]:
    async with ctx.sessions() as session:
        rows = (await session.execute(select(outbox.c.subject, outbox.c.data).order_by(outbox.c.id))).all()
    out = []
    for subject, data in rows:
        envelope = events_pb2.EventEnvelope.FromString(data)
        payload = events_pb2.DossierStatusChanged()
        envelope.payload.Unpack(payload)
        if code is None or payload.dossier_code == code:
            out.append((subject, payload))
    return out


async def log_of(ctx, who, code):
    return await queries.dossier_log(ctx, who, code)


# --- submission ----------------------------------------------------------------------

async def test_a_submission_with_every_kind_of_problem_lists_them_all(env):
    ctx, catalogue = env
    catalogue.add(procedure(min_level=2, schema=BIRTH_SCHEMA, mandatory=("d1", "d2")))
    weak = citizen("c-weak", level=1)
    with pytest.raises(InvalidInput) as err:
        await submit(ctx, weak, form='{"can_nang_gram": 100}', docs=[])
    fields = err.value.fields
    assert fields["verification_level"] == "level 2 required"
    assert fields["form_data.ho_ten_tre"] == "required" and fields["form_data.ngay_sinh"] == "required"
    assert "form_data.can_nang_gram" in fields
    assert fields["documents.d1"].startswith("missing mandatory document")
    assert fields["documents.d2"].startswith("missing mandatory document")
    async with ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Dossier)) == 0


async def test_a_missing_mandatory_document_is_found_among_the_attached_ones(env):
    ctx, catalogue = env
    catalogue.add(procedure(version=2, schema=BIRTH_SCHEMA, mandatory=("d1", "d2")))
    who = citizen()
    only_d1 = await upload(ctx, who.applicant_id, "d1")
    with pytest.raises(InvalidInput) as err:
        await submit(ctx, who, docs=[only_d1])
    assert set(err.value.fields) == {"documents.d2"}
    async with ctx.sessions() as session:  # the attachment rolled back with the refusal
        assert (await session.get(Document, only_d1)).dossier_code is None


async def test_retired_and_unknown_procedures_are_refused(env):
    ctx, catalogue = env
    catalogue.procedures.clear()
    catalogue.add(procedure(status="retired", schema=None))
    with pytest.raises(InvalidInput) as err:
        await submit(ctx)
    assert err.value.fields["procedure_code"] == "procedure is retired"
    with pytest.raises(InvalidInput) as err:
        await submit_dossier(ctx, citizen(), SubmitCommand(procedure_code="9.999999", agency_code=AGENCY))
    assert err.value.fields == {"procedure_code": "unknown procedure"}


async def test_the_procedure_version_is_pinned_and_kept_as_a_snapshot(env):
    ctx, catalogue = env
    first = (await submit(ctx)).dossier
    calls = list(catalogue.calls)
    second = (await submit(ctx)).dossier
    assert catalogue.calls == calls, "the second submission must not ask the catalogue again"
    assert first.procedure_version == second.procedure_version == 1
    async with ctx.sessions() as session:
        snapshot = await session.get(ProcedureSnapshot, ("1.001193", 1))
    assert snapshot.status == "published"
    # A new version published later does not change the dossier's rules.
    catalogue.add(procedure(version=2, schema=BIRTH_SCHEMA, workflow=()))
    await act(ctx, RECEPTION, first.code, "accept")
    d = await act(ctx, RECEPTION, first.code, "assign", assignee_id="u-proc")
    assert d.step_index == 0 and d.step_due_at is not None  # version 1's workflow


async def test_a_business_representative_files_for_the_business(env):
    ctx, _ = env
    rep = citizen("c-rep", acting_for="b-1")
    dossier = (await submit(ctx, rep)).dossier
    assert dossier.applicant_id == "b-1" and dossier.submitted_by == "c-rep"
    same_business = citizen("c-other-rep", acting_for="b-1")
    assert (await queries.get_dossier(ctx, same_business, dossier.code)).code == dossier.code
    with pytest.raises(NotFound):
        await queries.get_dossier(ctx, citizen("c-rep"), dossier.code)  # acting for themselves


async def test_reception_files_at_the_counter_for_an_applicant(env):
    ctx, _ = env
    doc = await upload(ctx, RECEPTION.applicant_id)
    d = (await submit_dossier(ctx, RECEPTION, SubmitCommand(
        procedure_code="1.001193", form_data_json=GOOD_FORM, channel=1, document_ids=[doc],
        applicant_id="c-9", applicant_name="Lê Thị Hoa"))).dossier
    assert d.channel == 1 and d.applicant_id == "c-9" and d.agency_code == AGENCY
    with pytest.raises(PermissionDenied):
        await submit_dossier(ctx, RECEPTION, SubmitCommand(procedure_code="1.001193", channel=2,
                                                           applicant_id="c-9"))
    with pytest.raises(PermissionDenied):
        await submit_dossier(ctx, PROCESSOR, SubmitCommand(procedure_code="1.001193", channel=1,
                                                           applicant_id="c-9"))


async def test_a_retried_submission_with_the_same_key_writes_once(env):
    ctx, _ = env
    who = citizen()
    docs = [await upload(ctx, who.applicant_id)]
    first = await submit(ctx, who, docs=docs, key="k1")
    again = await submit(ctx, who, docs=docs, key="k1")
    assert again.replayed and again.dossier.code == first.dossier.code
    with pytest.raises(Conflict):
        await submit(ctx, who, docs=docs, key="k1", form='{"ho_ten_tre": "Khác", "ngay_sinh": "2026-03-02"}')
    assert len(await events(ctx)) == 1


# --- the lifecycle end to end ------------------------------------------------------------

async def test_a_dossier_goes_through_every_step_to_the_returned_result(env):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    d = await act(ctx, RECEPTION, code, "accept")
    assert d.status_code == 2 and d.due_at is not None and d.original_due_at == d.due_at
    d = await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    assert d.status_code == 4 and d.assignee_id == "u-proc" and d.step_index == 0
    with pytest.raises(PermissionDenied):  # not the assignee
        await act(ctx, official("u-proc-2", "processing"), code, "complete_step")
    d = await act(ctx, PROCESSOR, code, "complete_step", note="Hồ sơ hợp lệ", internal_note="Đã đối chiếu CSDL")
    assert d.step_index == 1
    with pytest.raises(Conflict):  # approval waits for every step
        await act(ctx, HEAD, code, "approve")
    forwarded = await perform_action(ctx, PROCESSOR, ActionCommand(code=code, action="forward", note="Xin ý kiến"))
    derived = forwarded.derived_code
    assert derived.startswith(f"{DEPARTMENT}-")
    async with ctx.sessions() as session:
        child = await session.get(Dossier, derived)
    assert child.parent_code == code and child.status_code == 2
    # The other agency handles its part; its approval reports back in the original's log.
    await act(ctx, official("u-dept-rec", "reception", agency=DEPARTMENT), derived, "assign", assignee_id="u-dp")
    await act(ctx, official("u-dept-head", "approval", agency=DEPARTMENT), derived, "approve")
    assert (await log_of(ctx, RECEPTION, code))[-1].action == "forward_result"
    mine, total, _ = await queries.list_mine(ctx, who, token="", limit=10)
    assert [r.code for r in mine] == [code] and total == 1  # the derived copy is not counted again
    await act(ctx, PROCESSOR, code, "complete_step", note="Sở đã có ý kiến")
    d = await act(ctx, PROCESSOR, code, "request_fees")
    assert d.status_code == 6 and d.fees_due_vnd == 8000
    d = await act(ctx, RECEPTION, code, "pay")
    assert d.status_code == 4 and d.paid_at is not None
    d = await act(ctx, HEAD, code, "complete_step", note="Đã ký")
    d = await act(ctx, HEAD, code, "approve")
    assert d.status_code == 9 and d.finished_at is not None
    with pytest.raises(Conflict):
        await act(ctx, RECEPTION, code, "return_result", return_method="download")
    d = await act(ctx, PROCESSOR, code, "result_ready", result_document_id=await upload(ctx, "u-proc", "result"))
    d = await act(ctx, RECEPTION, code, "return_result", return_method="download")
    assert d.status_code == 10 and d.return_method == "download"

    kinds = [s for s, _ in await events(ctx, code)]
    assert kinds == ["dossier.submitted", "dossier.accepted", "dossier.assigned", "dossier.step_completed",
                     "dossier.forwarded", "dossier.step_completed", "dossier.fees_requested", "dossier.paid",
                     "dossier.step_completed", "dossier.approved", "dossier.result_ready", "dossier.returned"]
    (_, accepted), (_, assigned) = (await events(ctx, code))[1:3]
    assert accepted.receipt_number == code and accepted.status_code == 2 and accepted.version == 2
    assert accepted.applicant_name == "Nguyễn Văn An" and accepted.due_at.seconds > 0
    assert assigned.assignee_id == "u-proc" and assigned.step_due_at.seconds > 0

    full = await log_of(ctx, RECEPTION, code)
    async with ctx.sessions() as session:
        stored = list(await session.scalars(select(LogEntry).where(LogEntry.dossier_code == code)
                                            .order_by(LogEntry.seq)))
    assert first_broken([(log_content(e), e.prev_hash, e.hash) for e in stored]) is None
    actions = [e.action for e in full]
    assert actions[:3] == ["submit", "document", "accept"] and "deadline" in actions
    assert any(e.internal_note == "Đã đối chiếu CSDL" for e in full)
    mine = await log_of(ctx, who, code)
    assert all(e.internal_note == "" for e in mine)


async def test_acceptance_explains_the_due_date_in_the_log(env):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code
    d = await act(ctx, RECEPTION, code, "accept")
    entries = await log_of(ctx, RECEPTION, code)
    deadline = next(e for e in entries if e.action == "deadline")
    assert "3 ngày làm việc" in deadline.note
    expected, _ = ctx.calendar.due_at(as_utc(d.submitted_at), 3, "working_day")
    assert as_utc(d.due_at) == expected


async def test_the_supplement_wait_does_not_count_and_documents_keep_their_versions(env):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    await act(ctx, RECEPTION, code, "accept")
    await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    asked = await act(ctx, PROCESSOR, code, "request_supplement", missing_items=["Giấy chứng sinh bản rõ nét",
                                                                                  "Giấy tờ tùy thân"])
    assert asked.status_code == 5 and asked.missing_items == ["Giấy chứng sinh bản rõ nét", "Giấy tờ tùy thân"]
    (_, requested) = (await events(ctx, code))[-1]
    assert list(requested.missing_items) == ["Giấy chứng sinh bản rõ nét", "Giấy tờ tùy thân"]
    # Pretend the request went out two working days ago.
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    async with ctx.sessions() as session, session.begin():
        row = await session.get(Dossier, code)
        row.supplement_requested_at = two_days_ago
    before = as_utc(asked.due_at)
    doc = await upload(ctx, who.applicant_id, "d1", "giay-chung-sinh-ro.pdf")
    back = await act(ctx, who, code, "supplement", document_ids=[doc], note="Đã bổ sung")
    paused = ctx.calendar.working_minutes_between(two_days_ago, as_utc(back.updated_at))
    assert back.status_code == 4 and back.missing_items == []
    assert back.paused_minutes == paused
    assert as_utc(back.due_at) == ctx.calendar.add_working_minutes(before, paused)
    async with ctx.sessions() as session:
        versions = list(await session.scalars(select(Document.version).where(
            Document.dossier_code == code, Document.requirement_id == "d1").order_by(Document.version)))
    assert versions == [1, 2]


async def test_an_extension_needs_the_head_a_reason_and_a_later_date(env):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code
    d = await act(ctx, RECEPTION, code, "accept")
    later = as_utc(d.due_at) + timedelta(days=5)
    with pytest.raises(PermissionDenied):
        await act(ctx, RECEPTION, code, "extend", note="Cần xác minh", new_due_at=later)
    with pytest.raises(InvalidInput):
        await act(ctx, HEAD, code, "extend", note="Cần xác minh", new_due_at=as_utc(d.due_at) - timedelta(hours=1))
    d = await act(ctx, HEAD, code, "extend", note="Cần xác minh thêm tại địa phương", new_due_at=later)
    assert as_utc(d.due_at) == later and d.reason.startswith("Cần xác minh")
    (_, extended) = (await events(ctx, code))[-1]
    assert extended.new_due_at.ToDatetime(tzinfo=UTC) == later and extended.reason


async def test_refusal_redirect_withdrawal_and_stop(env):
    ctx, _ = env
    who = citizen()
    refused = (await submit(ctx, who)).dossier.code
    d = await act(ctx, RECEPTION, refused, "refuse", note="Không thuộc thẩm quyền giải quyết")
    assert d.status_code == 3 and d.reason and d.finished_at is not None
    with pytest.raises(Conflict) as err:
        await act(ctx, HEAD, refused, "approve")
    assert err.value.fields == {"status_code": "3"}

    moved = (await submit(ctx, who)).dossier.code
    d = await act(ctx, RECEPTION, moved, "redirect", agency_code=OTHER_AGENCY, note="Nộp nhầm phường")
    assert d.agency_code == OTHER_AGENCY and d.status_code == 1
    with pytest.raises(NotFound):  # no longer this agency's
        await queries.get_dossier(ctx, RECEPTION, moved)
    assert (await queries.get_dossier(ctx, official("u-x", "reception", agency=OTHER_AGENCY), moved)).code == moved

    withdrawn = (await submit(ctx, who)).dossier.code
    assert (await act(ctx, who, withdrawn, "withdraw", note="Không cần nữa")).status_code == 7

    stopped = (await submit(ctx, who)).dossier.code
    await act(ctx, RECEPTION, stopped, "accept")
    with pytest.raises(InvalidInput):
        await act(ctx, HEAD, stopped, "stop")
    assert (await act(ctx, HEAD, stopped, "stop", note="Người nộp đã mất năng lực hành vi")).status_code == 8


async def test_messages_go_both_ways_and_internal_notes_stay_internal(env):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    await act(ctx, RECEPTION, code, "message", note="Vui lòng mang bản chính khi nhận kết quả")
    await act(ctx, who, code, "message", note="Tôi sẽ mang theo")
    await act(ctx, RECEPTION, code, "note", note="Người nộp đã gọi điện")
    with pytest.raises(PermissionDenied):
        await act(ctx, who, code, "note", note="x")
    with pytest.raises(InvalidInput):
        await act(ctx, who, code, "message", note="x", internal_note="y")
    mine = [e.action for e in await log_of(ctx, who, code)]
    theirs = [e.action for e in await log_of(ctx, RECEPTION, code)]
    assert mine.count("message") == 2 and "note" not in mine
    assert theirs[-1] == "note"
    assert [s for s, _ in await events(ctx, code)][-2:] == ["dossier.message", "dossier.message"]


# --- concurrency, idempotency, atomicity, access --------------------------------------------

async def test_two_officials_acting_at_once_one_wins_the_other_gets_a_conflict(env):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code
    results = await asyncio.gather(
        perform_action(ctx, RECEPTION, ActionCommand(code=code, action="accept", expected_version=1)),
        perform_action(ctx, official("u-rec-2", "reception"),
                       ActionCommand(code=code, action="refuse", note="Thiếu giấy tờ", expected_version=1)),
        return_exceptions=True)
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1 and len(losses) == 1
    assert isinstance(losses[0], Conflict)
    winner = "accept" if wins[0].dossier.status_code == 2 else "refuse"
    async with ctx.sessions() as session:
        assert (await session.get(Dossier, code)).version == 2
        actions = list(await session.scalars(select(LogEntry.action).where(LogEntry.dossier_code == code)
                                             .order_by(LogEntry.seq)))
    assert [a for a in actions if a != "deadline"] == ["submit", "document", winner]


async def test_a_stale_version_is_a_conflict_naming_the_current_one(env):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code
    await act(ctx, RECEPTION, code, "accept")
    with pytest.raises(Conflict) as err:
        await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc", expected_version=1)
    assert err.value.fields == {"version": "2"}


async def test_a_retried_action_with_the_same_key_acts_once(env):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code
    first = await perform_action(ctx, RECEPTION, ActionCommand(code=code, action="accept", idempotency_key="a1"))
    again = await perform_action(ctx, RECEPTION, ActionCommand(code=code, action="accept", idempotency_key="a1"))
    assert again.replayed and again.dossier.version == first.dossier.version == 2
    with pytest.raises(Conflict):
        await perform_action(ctx, RECEPTION, ActionCommand(code=code, action="refuse", note="x",
                                                           idempotency_key="a1"))
    assert [s for s, _ in await events(ctx, code)].count("dossier.accepted") == 1


async def test_a_crash_in_the_middle_of_an_action_leaves_the_dossier_as_it_was(env, monkeypatch):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code

    async def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr("services.dossier.app.act.record_event", crash)
    with pytest.raises(RuntimeError):
        await act(ctx, RECEPTION, code, "accept")
    async with ctx.sessions() as session:
        d = await session.get(Dossier, code)
        entries = await session.scalar(select(func.count()).select_from(LogEntry).where(LogEntry.dossier_code == code))
    assert d.status_code == 1 and d.version == 1 and d.due_at is None and entries == 2
    assert len(await events(ctx, code)) == 1


async def test_everyone_else_gets_not_found(env):
    ctx, _ = env
    code = (await submit(ctx, citizen("c-1"))).dossier.code
    for stranger in (citizen("c-2"), official("u-9", "reception", agency=OTHER_AGENCY)):
        with pytest.raises(NotFound):
            await queries.get_dossier(ctx, stranger, code)
        with pytest.raises(NotFound):
            await queries.dossier_log(ctx, stranger, code)
        with pytest.raises(NotFound):
            await act(ctx, stranger, code, "message", note="xin chào")
    with pytest.raises(NotFound):
        await act(ctx, citizen("c-2"), code, "withdraw")
    with pytest.raises(PermissionDenied):
        await act(ctx, citizen("c-1"), code, "accept")


# --- work queues -----------------------------------------------------------------------

async def test_work_queue_pages_by_keyset_with_overdue_first(env):
    ctx, _ = env
    codes = [(await submit(ctx)).dossier.code for _ in range(5)]
    now = datetime.now(UTC)
    async with ctx.sessions() as session, session.begin():
        for i, code in enumerate(codes):
            row = await session.get(Dossier, code)
            row.status_code, row.accepted_at = 4, now
            row.due_at = row.queue_at = now + timedelta(days=3 - i)  # the last two are overdue
            row.assignee_id = "u-proc" if i % 2 == 0 else "u-other"
    seen, token = [], ""
    while True:
        rows, total, token = await queries.work_queue(ctx, PROCESSOR, status_code=0, token=token, limit=2)
        seen.extend(r.code for r in rows)
        assert total == 5
        if not token:
            break
    assert seen == list(reversed(codes))
    overdue, total, _ = await queries.work_queue(ctx, PROCESSOR, status_code=4, token="", limit=10, overdue_only=True)
    assert [r.code for r in overdue] == [codes[4], codes[3]] and total == 2
    assert queries.flag_of(ctx, overdue[0]) == "overdue"
    mine, _, _ = await queries.work_queue(ctx, PROCESSOR, status_code=0, token="", limit=10, assigned_to_me=True)
    assert [r.code for r in mine] == [codes[4], codes[2], codes[0]]
    with pytest.raises(PermissionDenied):
        await queries.work_queue(ctx, citizen(), status_code=0, token="", limit=10)


async def test_an_applicant_lists_only_their_own_dossiers_newest_first(env):
    ctx, _ = env
    mine = [(await submit(ctx, citizen("c-1"))).dossier.code for _ in range(3)]
    await submit(ctx, citizen("c-2"))
    rows, total, token = await queries.list_mine(ctx, citizen("c-1"), token="", limit=2)
    rest, _, last = await queries.list_mine(ctx, citizen("c-1"), token=token, limit=2)
    assert total == 3 and last == ""
    assert {r.code for r in rows + rest} == set(mine) and len(rows + rest) == 3


async def test_concurrent_submissions_are_grouped_without_gaps_and_retries_still_write_once(env):
    ctx, catalogue = env
    catalogue.add(procedure(version=3, mandatory=(), schema=None))
    who = citizen()

    async def one(key):
        return await submit_dossier(ctx, who, SubmitCommand(procedure_code="1.001193", agency_code=AGENCY,
                                                            idempotency_key=key))

    keys = [f"k{i}" for i in range(30)] + ["k3", "k7", "k7"]  # three concurrent retries
    results = await asyncio.gather(*(one(k) for k in keys))
    by_key: dict[str, set[str]] = {}
    for key, result in zip(keys, results):
        by_key.setdefault(key, set()).add(result.dossier.code)
    assert all(len(codes_) == 1 for codes_ in by_key.values())
    numbers = sorted(int(r.dossier.code.rsplit("-", 1)[1]) for r in results if not r.replayed)
    assert numbers == list(range(1, 31))
    assert sum(r.replayed for r in results) == 3
    assert len(await events(ctx)) == 30
    async with ctx.sessions() as session:
        heads = list(await session.scalars(select(LogEntry).where(LogEntry.seq == 1)))
    assert len(heads) == 30 and all(first_broken([(log_content(e), e.prev_hash, e.hash)]) is None for e in heads)
