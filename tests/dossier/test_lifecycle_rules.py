"""Lifecycle rules beyond the happy path, against a real database (SQLite and PostgreSQL):
no published deadline, the stopped clock while waiting for a supplement, one supplement
request per stage, counter supplements and withdrawals, a single forward per step, the
log's end recorded on the dossier row, who sees notifications, replays and access."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from motcua.v1 import notification_pb2
from services.dossier.app import consumers, queries
from services.dossier.app.act import ActionCommand, perform_action
from services.dossier.app.submit import SubmitCommand, submit_dossier
from services.dossier.store.models import Dossier, LogEntry
from services.dossier.verify_chain import BROKEN, INTACT, verify
from services.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from services.platform.events import make_envelope
from tests.dossier.support import BIRTH_SCHEMA, DEPARTMENT, FakeCatalogue, citizen, make_ctx, official, procedure
from tests.dossier.test_use_cases import GOOD_FORM, PROCESSOR, RECEPTION, WORKFLOW, act, log_of, submit, upload


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


async def set_row(ctx, code, **values):
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(Dossier).where(Dossier.code == code).values(**values))


async def row(ctx, code) -> Dossier:
    async with ctx.sessions() as session:
        return await session.get(Dossier, code)


async def check_chain(url, code) -> tuple[int, str]:
    out = io.StringIO()
    return await verify(url, [code], out=out), out.getvalue()


async def counter_filing(ctx) -> str:
    doc = await upload(ctx, RECEPTION.applicant_id)
    return (await submit_dossier(ctx, RECEPTION, SubmitCommand(
        procedure_code="1.001193", form_data_json=GOOD_FORM, channel=1, document_ids=[doc],
        applicant_id="c-9", applicant_name="Lê Thị Hoa"))).dossier.code


# --- deadlines and flags -----------------------------------------------------------------

async def test_a_procedure_without_a_processing_time_is_accepted_with_no_due_date(env):
    ctx, catalogue = env
    p = procedure(version=2, schema=BIRTH_SCHEMA, workflow=WORKFLOW)
    p.processing_time.ClearField("value")
    catalogue.add(p)
    code = (await submit(ctx)).dossier.code
    d = await act(ctx, RECEPTION, code, "accept")
    assert d.status_code == 2 and d.due_at is None and d.original_due_at is None and d.queue_at is not None
    entries = await log_of(ctx, citizen(), code)
    deadline = [e.note for e in entries if e.action == "deadline"]
    assert deadline and "không công bố thời hạn giải quyết" in deadline[0]
    assert queries.flag_of(ctx, d, datetime.now(UTC) + timedelta(days=400)) == ""


async def test_a_dossier_waiting_for_the_applicant_or_processed_is_not_overdue(env):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code
    await act(ctx, RECEPTION, code, "accept")
    await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    later = datetime.now(UTC) + timedelta(days=60)
    assert queries.flag_of(ctx, await row(ctx, code), later) == "overdue"
    d = await act(ctx, PROCESSOR, code, "request_supplement", missing_items=["Giấy chứng sinh bản rõ nét"])
    assert d.status_code == 5
    assert queries.flag_of(ctx, d, later) == ""  # the clock is stopped
    await set_row(ctx, code, status_code=9)
    assert queries.flag_of(ctx, await row(ctx, code), later) == ""


# --- one consolidated supplement request per stage --------------------------------------

async def test_reception_asks_once_and_processing_once_per_step(env):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    await act(ctx, RECEPTION, code, "request_supplement", missing_items=["Giấy chứng sinh"])
    await act(ctx, who, code, "supplement", document_ids=[await upload(ctx, who.applicant_id)])
    with pytest.raises(Conflict) as err:
        await act(ctx, RECEPTION, code, "request_supplement", missing_items=["Giấy tờ khác"])
    assert "already requested" in str(err.value)
    await act(ctx, RECEPTION, code, "accept")
    await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    d = await act(ctx, PROCESSOR, code, "request_supplement", missing_items=["Bản sao CCCD"])
    assert d.supplement_stage == 0
    await act(ctx, who, code, "supplement", document_ids=[await upload(ctx, who.applicant_id, "d2")])
    with pytest.raises(Conflict):
        await act(ctx, PROCESSOR, code, "request_supplement", missing_items=["Thêm nữa"])
    await act(ctx, PROCESSOR, code, "complete_step")
    d = await act(ctx, PROCESSOR, code, "request_supplement", missing_items=["Ý kiến bổ sung"])
    assert d.status_code == 5 and d.supplement_stage == 1 and d.supplement_count == 3


async def test_reception_supplements_a_counter_filing_with_its_own_upload(env):
    ctx, _ = env
    code = await counter_filing(ctx)
    await act(ctx, RECEPTION, code, "request_supplement", missing_items=["Giấy tờ tùy thân"])
    doc = await upload(ctx, RECEPTION.applicant_id, "d2")  # scanned at the counter: the official's upload
    d = await act(ctx, RECEPTION, code, "supplement", document_ids=[doc])
    assert d.status_code == 1
    assert any(e.action == "document" and "thành phần d2" in e.note for e in await log_of(ctx, RECEPTION, code))


# --- withdrawal --------------------------------------------------------------------------

async def test_the_applicant_withdraws_while_fees_are_requested(env):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    await act(ctx, RECEPTION, code, "accept")
    await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    assert (await act(ctx, PROCESSOR, code, "request_fees")).status_code == 6
    assert (await act(ctx, who, code, "withdraw", note="Không nộp phí nữa")).status_code == 7


async def test_reception_records_a_withdrawal_for_a_counter_filing_with_the_reason(env):
    ctx, _ = env
    code = await counter_filing(ctx)
    with pytest.raises(InvalidInput) as err:
        await act(ctx, RECEPTION, code, "withdraw")
    assert err.value.fields == {"note": "required"}
    d = await act(ctx, RECEPTION, code, "withdraw", note="Bà Hoa đến quầy xin rút hồ sơ")
    assert d.status_code == 7 and d.reason == "Bà Hoa đến quầy xin rút hồ sơ"
    online = (await submit(ctx)).dossier.code
    with pytest.raises(PermissionDenied):
        await act(ctx, RECEPTION, online, "withdraw", note="Thay người nộp")


# --- inter-agency ------------------------------------------------------------------------

async def test_a_step_is_forwarded_once_while_its_derived_dossier_is_open(env):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code
    await act(ctx, RECEPTION, code, "accept")
    await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    await act(ctx, PROCESSOR, code, "complete_step")
    first = await perform_action(ctx, PROCESSOR, ActionCommand(code=code, action="forward", note="Xin ý kiến"))
    with pytest.raises(Conflict) as err:
        await perform_action(ctx, PROCESSOR, ActionCommand(code=code, action="forward", note="Gửi lại"))
    assert first.derived_code in str(err.value)
    async with ctx.sessions() as session:
        derived = list(await session.scalars(select(Dossier).where(Dossier.parent_code == code)))
    assert [(d.code, d.parent_step) for d in derived] == [(first.derived_code, 1)]
    # Once the other agency has finished, the step may be forwarded again (a new question).
    await act(ctx, official("u-dept-rec", "reception", agency=DEPARTMENT), first.derived_code, "assign",
              assignee_id="u-dp")
    await act(ctx, official("u-dept-head", "approval", agency=DEPARTMENT), first.derived_code, "approve")
    await set_row(ctx, first.derived_code, status_code=10)
    again = await perform_action(ctx, PROCESSOR, ActionCommand(code=code, action="forward", note="Hỏi thêm"))
    assert again.derived_code != first.derived_code


# --- the log's end on the dossier row -----------------------------------------------------

async def test_the_row_records_the_log_end_and_a_removed_last_entry_is_caught(env, url):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    await act(ctx, RECEPTION, code, "accept")
    await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    async with ctx.sessions() as session:
        last = await session.scalar(select(LogEntry).where(LogEntry.dossier_code == code)
                                    .order_by(LogEntry.seq.desc()).limit(1))
    d = await row(ctx, code)
    assert (d.log_seq, d.log_head) == (last.seq, last.hash)
    assert (await check_chain(url, code))[0] == INTACT
    async with ctx.sessions() as session, session.begin():  # the table owner removes the latest entry
        await session.execute(delete(LogEntry).where(LogEntry.dossier_code == code, LogEntry.seq == last.seq))
    status, output = await check_chain(url, code)
    assert status == BROKEN and f"ends at seq={last.seq - 1}" in output and f"seq={last.seq}:" in output
    out = io.StringIO()
    assert await verify(url, None, out=out) == BROKEN and code in out.getvalue()
    # The next action chains from the recorded end, so the gap stays visible.
    await act(ctx, who, code, "message", note="Cho hỏi tiến độ")
    status, output = await check_chain(url, code)
    assert status == BROKEN and f"first broken entry seq={last.seq + 1} " in output


async def test_forwarding_and_deliveries_keep_every_row_end_in_step(env, url):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    await act(ctx, RECEPTION, code, "accept")
    await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    await act(ctx, PROCESSOR, code, "complete_step")
    derived = (await perform_action(ctx, PROCESSOR, ActionCommand(code=code, action="forward", note="x"))).derived_code
    await act(ctx, official("u-dept-rec", "reception", agency=DEPARTMENT), derived, "assign", assignee_id="u-dp")
    await act(ctx, official("u-dept-head", "approval", agency=DEPARTMENT), derived, "approve")  # tells the parent
    await consumers.on_delivery(ctx, delivery(code, who.account_id))
    for c in (code, derived):
        assert await check_chain(url, c) == (INTACT, await _ok(url, c))
        async with ctx.sessions() as session:
            last = await session.scalar(select(LogEntry).where(LogEntry.dossier_code == c)
                                        .order_by(LogEntry.seq.desc()).limit(1))
        d = await row(ctx, c)
        assert (d.log_seq, d.log_head) == (last.seq, last.hash)


async def _ok(url, code) -> str:
    out = io.StringIO()
    await verify(url, [code], out=out)
    return out.getvalue()


# --- who sees what -----------------------------------------------------------------------

def delivery(code: str, account_id: str, delivery_id: str = "dl-1"):
    update_ = notification_pb2.DeliveryUpdated(delivery_id=delivery_id, dossier_code=code, account_id=account_id,
                                               channel="email", destination_masked="c***@example.vn",
                                               state="delivered", event_type="dossier.assigned", title="Hồ sơ mới")
    return make_envelope(event_type="notification.delivery.updated", producer="notification", subject=code,
                         payload=update_)


async def test_an_officials_notification_stays_out_of_the_applicants_log(env):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    await consumers.on_delivery(ctx, delivery(code, "u-proc", "dl-official"))
    await consumers.on_delivery(ctx, delivery(code, who.account_id, "dl-applicant"))
    mine = [e for e in await log_of(ctx, who, code) if e.action == "notification"]
    theirs = [e for e in await log_of(ctx, RECEPTION, code) if e.action == "notification"]
    assert len(mine) == 1 and not mine[0].internal
    assert len(theirs) == 2 and [e.internal for e in theirs] == [True, False]


async def test_the_assignment_note_the_applicant_reads_names_no_official_account(env):
    ctx, _ = env
    who = citizen()
    code = (await submit(ctx, who)).dossier.code
    await act(ctx, RECEPTION, code, "accept")
    await act(ctx, RECEPTION, code, "assign", assignee_id="u-proc")
    (mine,) = [e for e in await log_of(ctx, who, code) if e.action == "assign"]
    assert "u-proc" not in mine.note and mine.internal_note == "" and mine.note.startswith("Phân công cán bộ xử lý")
    (theirs,) = [e for e in await log_of(ctx, RECEPTION, code) if e.action == "assign"]
    assert "u-proc" in theirs.internal_note


async def test_a_replayed_action_is_not_shown_to_someone_who_lost_access(env):
    ctx, _ = env
    code = (await submit(ctx)).dossier.code
    await perform_action(ctx, RECEPTION, ActionCommand(code=code, action="accept", idempotency_key="a1"))
    moved = official(RECEPTION.account_id, "reception", agency="070.00.99.H29")  # same account, other agency
    with pytest.raises(NotFound):
        await perform_action(ctx, moved, ActionCommand(code=code, action="accept", idempotency_key="a1"))
    again = await perform_action(ctx, RECEPTION, ActionCommand(code=code, action="accept", idempotency_key="a1"))
    assert again.replayed and again.dossier.code == code
