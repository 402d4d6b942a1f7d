"""Dossier events become one inbox notice each, however often they are delivered."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from motcua.v1 import events_pb2
from services.notification.app.consumers import Notifier
from services.notification.app.inbox import list_inbox, mark_read
from services.notification.store.models import Notification, processed_events
from services.platform.db import make_engine, session_factory
from services.platform.errors import NotFound
from services.platform.events import make_envelope

CODE = "000.00.01.H29-260903-0001"
APPLICANT = str(uuid.uuid4())
OTHER = str(uuid.uuid4())


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


def accepted(applicant=APPLICANT, code=CODE, due=datetime(2026, 9, 3, 17, 30, tzinfo=UTC),
             event_type="dossier.accepted", note=""):
    event = events_pb2.DossierStatusChanged(
        dossier_code=code, applicant_id=applicant, procedure_code="1.001193",
        procedure_name="Thủ tục đăng ký khai sinh", agency_code="000.00.01.H29", status_code=2,
        status="Được tiếp nhận", action="accept", actor_id="o1", actor_role="reception", note=note)
    if due is not None:
        event.due_at.FromDatetime(due)
    return make_envelope(event_type=event_type, producer="dossier", subject=code, payload=event)


async def handle_dossier_event(sessions, envelope):
    return await Notifier(sessions).handle_dossier_event(envelope)


async def inbox(sessions, account=APPLICANT, unread_only=False):
    return await list_inbox(sessions, [account], unread_only=unread_only, offset=0, limit=20)


async def count_notices(sessions) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(Notification))


async def test_an_event_handled_twice_makes_one_notice(sessions):
    envelope = accepted()
    assert await handle_dossier_event(sessions, envelope) is True
    assert await handle_dossier_event(sessions, envelope) is False
    rows, total, unread = await inbox(sessions)
    assert total == 1 and unread == 1 and len(rows) == 1
    assert rows[0].event_id == envelope.event_id and rows[0].subject == CODE
    assert await count_notices(sessions) == 1


async def test_an_event_handled_concurrently_makes_one_notice(sessions):
    envelope = accepted()
    results = await asyncio.gather(*(handle_dossier_event(sessions, envelope) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    assert await count_notices(sessions) == 1
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(processed_events)) == 1


async def test_the_notice_names_the_dossier_and_the_due_date_in_vietnam_time(sessions):
    # Due 17:30 UTC on 3 Sep is 00:30 on 4 Sep in Vietnam.
    await handle_dossier_event(sessions, accepted())
    (notice,), _, _ = await inbox(sessions)
    assert notice.title == "Hồ sơ đã được tiếp nhận"
    assert notice.body == (f"Hồ sơ {CODE} (Thủ tục đăng ký khai sinh) đã được tiếp nhận. "
                           "Ngày hẹn trả kết quả: 04/09/2026.")
    assert notice.channel == "inapp" and notice.read is False
    assert notice.event_type == "dossier.accepted"


async def test_a_refusal_notice_gives_the_reason(sessions):
    await handle_dossier_event(sessions, accepted(event_type="dossier.refused", due=None,
                                                  note="Thiếu giấy chứng sinh"))
    (notice,), _, _ = await inbox(sessions)
    assert notice.title == "Hồ sơ không được tiếp nhận"
    assert notice.body == (f"Hồ sơ {CODE} (Thủ tục đăng ký khai sinh) không được tiếp nhận. "
                           "Lý do: Thiếu giấy chứng sinh.")


async def test_a_submission_notice_speaks_to_the_applicant(sessions):
    await handle_dossier_event(sessions, accepted(event_type="dossier.submitted", due=None))
    (notice,), _, _ = await inbox(sessions)
    assert notice.body == f"Bạn đã nộp hồ sơ {CODE} (Thủ tục đăng ký khai sinh). Cơ quan sẽ xem xét tiếp nhận."


async def test_an_event_the_applicant_is_not_told_about_makes_no_notice(sessions):
    envelope = accepted(event_type="dossier.processing_started")
    assert await handle_dossier_event(sessions, envelope) is True
    assert await count_notices(sessions) == 0
    assert await handle_dossier_event(sessions, envelope) is False


async def test_another_applicants_event_is_not_in_this_inbox(sessions):
    await handle_dossier_event(sessions, accepted(applicant=OTHER, code="000.00.01.H29-260903-0002"))
    await handle_dossier_event(sessions, accepted())
    rows, total, unread = await inbox(sessions)
    assert [r.subject for r in rows] == [CODE] and total == 1 and unread == 1
    rows, total, _ = await inbox(sessions, OTHER)
    assert [r.subject for r in rows] == ["000.00.01.H29-260903-0002"] and total == 1


async def test_marking_someone_elses_notice_read_is_not_found(sessions):
    await handle_dossier_event(sessions, accepted(applicant=OTHER))
    (theirs,), _, _ = await inbox(sessions, OTHER)
    with pytest.raises(NotFound):
        await mark_read(sessions, [APPLICANT], theirs.id)
    with pytest.raises(NotFound):
        await mark_read(sessions, [APPLICANT], str(uuid.uuid4()))
    _, _, unread = await inbox(sessions, OTHER)
    assert unread == 1


async def test_marking_ones_own_notice_read_clears_it_from_unread(sessions):
    await handle_dossier_event(sessions, accepted())
    (mine,), _, _ = await inbox(sessions)
    notice = await mark_read(sessions, [APPLICANT], mine.id)
    assert notice.read is True
    rows, total, unread = await inbox(sessions, unread_only=True)
    assert rows == [] and total == 0 and unread == 0
    assert (await inbox(sessions))[1] == 1


async def test_a_payload_of_another_type_is_rejected(sessions):
    envelope = make_envelope(event_type="dossier.accepted", producer="dossier", subject=CODE,
                             payload=events_pb2.AccountChanged(account_id=APPLICANT))
    with pytest.raises(ValueError):
        await handle_dossier_event(sessions, envelope)
    assert await count_notices(sessions) == 0


async def test_the_inbox_lists_the_newest_notice_first_and_pages(sessions):
    codes = [f"000.00.01.H29-260903-{i:04d}" for i in range(1, 4)]
    for code in codes:
        await handle_dossier_event(sessions, accepted(code=code))
        await asyncio.sleep(0.002)
    rows, total, unread = await inbox(sessions)
    assert [r.subject for r in rows] == codes[::-1] and total == unread == 3
    page, total, _ = await list_inbox(sessions, [APPLICANT], unread_only=False, offset=1, limit=1)
    assert [r.subject for r in page] == [codes[1]] and total == 3


async def test_an_event_without_an_applicant_makes_no_notice(sessions):
    assert await handle_dossier_event(sessions, accepted(applicant="")) is True
    assert await count_notices(sessions) == 0
