"""The notification store on SQLite and PostgreSQL: contact directory, preferences and the
legally required override, deliveries with a persisted retry schedule against a real SMTP
server, the delivery record for the dossier log, reminders once per threshold across a restart."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from motcua.v1 import events_pb2, notification_pb2
from services.notification.app import directory
from services.notification.app.consumers import Notifier
from services.notification.app.deliveries import DeliveryWorker
from services.notification.app.inbox import list_inbox, mark_read
from services.notification.app.reminders import ReminderScheduler
from services.notification.channels.email_smtp import SmtpChannel
from services.notification.domain.delivery import Backoff
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import Contact, Delivery, DossierDeadline, FiredReminder, Notification, outbox
from services.platform.db import make_engine, session_factory
from services.platform.errors import InvalidInput, NotFound
from services.platform.events import utcnow
from tests.notification.helpers import AGENCY, CODE, account_event, dossier_event, utc
from tests.servers.smtp import SmtpServer

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


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


async def count(sessions, model, *where) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def deliveries(sessions) -> list[Delivery]:
    async with sessions() as s:
        return list(await s.scalars(select(Delivery).order_by(Delivery.channel)))


async def outbox_events(sessions) -> list[notification_pb2.DeliveryUpdated]:
    async with sessions() as s:
        rows = (await s.execute(select(outbox.c.subject, outbox.c.data).order_by(outbox.c.id))).all()
    out = []
    for subject, data in rows:
        assert subject == "notification.delivery.updated"
        payload = notification_pb2.DeliveryUpdated()
        events_pb2.EventEnvelope.FromString(data).payload.Unpack(payload)
        out.append(payload)
    return out


async def test_the_contact_directory_follows_identity_events_and_ignores_a_late_older_one(sessions):
    await directory.handle_account_event(sessions, account_event(APPLICANT, email="old@example.vn",
                                                                 occurred_at=utc(2026, 9, 1, 1)))
    newer = account_event(APPLICANT, change="updated", email="new@example.vn", phone="0901234123", locale="en",
                          occurred_at=utc(2026, 9, 2, 1))
    assert await directory.handle_account_event(sessions, newer) is True
    assert await directory.handle_account_event(sessions, newer) is False  # redelivery
    await directory.handle_account_event(sessions, account_event(APPLICANT, change="updated", email="stale@x.vn",
                                                                 occurred_at=utc(2026, 9, 1, 12)))
    async with sessions() as s:
        contact = await directory.contact_of(s, APPLICANT)
    assert (contact.email, contact.phone, contact.locale, contact.name) == (
        "new@example.vn", "0901234123", "en", "Lê Văn Cường")


async def test_preferences_choose_channels_and_legally_required_notices_still_reach_the_inbox(sessions):
    await directory.handle_account_event(sessions, account_event(APPLICANT, email="an@example.vn",
                                                                 phone="0901234123"))
    prefs, contact = await directory.update_preferences(sessions, APPLICANT, inbox=False, email=False, sms=True,
                                                        locale="")
    assert (prefs.inbox, prefs.email, prefs.sms) == (False, False, True) and contact.phone == "0901234123"
    notifier = Notifier(sessions)
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT))
    await notifier.handle_dossier_event(dossier_event("dossier.refused", applicant=APPLICANT, reason="Sai mẫu"))
    rows, total, _ = await list_inbox(sessions, [APPLICANT], unread_only=False, offset=0, limit=20)
    assert [r.event_type for r in rows] == ["dossier.refused"]
    assert rows[0].template_ref == "vi/dossier.refused@v1#inbox" and "Lý do: Sai mẫu." in rows[0].body
    assert sorted((d.event_type, d.channel, d.destination_masked) for d in await deliveries(sessions)) == [
        ("dossier.accepted", "sms", "09*****123"), ("dossier.refused", "sms", "09*****123")]
    # The inbox delivery of a legally required notice is recorded for the dossier log.
    (event,) = await outbox_events(sessions)
    assert (event.dossier_code, event.channel, event.state, event.event_type) == (
        CODE, "inapp", "delivered", "dossier.refused")


async def test_a_preference_locale_must_be_vi_or_en(sessions):
    with pytest.raises(InvalidInput) as err:
        await directory.update_preferences(sessions, APPLICANT, inbox=True, email=True, sms=False, locale="fr")
    assert "locale" in err.value.fields


async def test_an_english_speaker_gets_english_notices(sessions):
    await directory.handle_account_event(sessions, account_event(APPLICANT, email="an@example.vn", locale="en"))
    await Notifier(sessions).handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT))
    (row,), _, _ = await list_inbox(sessions, [APPLICANT], unread_only=False, offset=0, limit=20)
    assert row.title == "Dossier accepted" and row.template_ref == "en/dossier.accepted@v1#inbox"


async def test_email_waits_out_an_smtp_outage_on_the_persisted_schedule_and_is_sent_once(sessions, url):
    await directory.handle_account_event(sessions, account_event(APPLICANT, email="an@example.vn"))
    await Notifier(sessions).handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT,
                                                                due=utc(2026, 9, 10, 3)))
    smtp = SmtpServer()  # not started yet: the mail server is away
    clock = Clock(utcnow())
    backoff = Backoff(first=60, cap=600, give_up_after=24 * 3600)
    worker = DeliveryWorker(sessions, {"email": SmtpChannel(host="127.0.0.1", port=smtp.port, sender="a@b.vn",
                                                            timeout=2)},
                            backoff=backoff, rates={"email": 100}, clock=clock)
    assert await worker.process_due() == 1
    (d,) = await deliveries(sessions)
    assert (d.state, d.attempts, d.next_attempt_at) == ("sending", 1, clock.now + timedelta(minutes=1))
    assert "unreachable" in d.last_error
    assert await worker.process_due() == 0  # not due yet
    clock.now += timedelta(minutes=1)
    assert await worker.process_due() == 1
    (d,) = await deliveries(sessions)
    assert d.attempts == 2 and d.next_attempt_at == clock.now + timedelta(minutes=2)

    # A restart: a new engine and worker on the same database pick the schedule up.
    engine = make_engine(url)
    try:
        restarted = DeliveryWorker(session_factory(engine), worker._channels, backoff=backoff, rates={"email": 100},
                                   clock=clock)
        with smtp:
            clock.now += timedelta(minutes=2)
            assert await restarted.process_due() == 1
            assert await restarted.process_due() == 0
            (message,) = smtp.received()
    finally:
        await engine.dispose()
    assert message["To"] == "an@example.vn" and message["Subject"] == "Hồ sơ đã được tiếp nhận"
    assert message["Message-ID"] == f"<{d.id}@motcua>"
    assert "Ngày hẹn trả kết quả: 10/09/2026" in message.get_content()
    (d,) = await deliveries(sessions)
    assert (d.state, d.attempts, d.next_attempt_at) == ("delivered", 3, None)
    (event,) = await outbox_events(sessions)
    assert (event.delivery_id, event.dossier_code, event.channel, event.state, event.destination_masked) == (
        d.id, CODE, "email", "delivered", "a***@example.vn")


async def test_a_refused_address_is_a_permanent_failure_and_the_log_hears_of_it(sessions):
    await directory.handle_account_event(sessions, account_event(APPLICANT, email="nobody@refused.invalid"))
    await Notifier(sessions).handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT))
    with SmtpServer() as smtp:
        worker = DeliveryWorker(sessions, {"email": SmtpChannel(host="127.0.0.1", port=smtp.port, sender="a@b.vn")},
                                backoff=Backoff(), rates={"email": 100})
        assert await worker.process_due() == 1
        assert smtp.received() == []
    (d,) = await deliveries(sessions)
    assert d.state == "permanent_failure" and d.next_attempt_at is None and "550" in d.last_error
    (event,) = await outbox_events(sessions)
    assert event.state == "permanent_failure"


async def test_a_delivery_for_a_contact_not_yet_known_waits_for_the_address(sessions):
    await Notifier(sessions).handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT))
    clock = Clock(utcnow())
    with SmtpServer() as smtp:
        worker = DeliveryWorker(sessions, {"email": SmtpChannel(host="127.0.0.1", port=smtp.port, sender="a@b.vn")},
                                backoff=Backoff(first=5), rates={"email": 100}, clock=clock)
        await worker.process_due()
        (d,) = await deliveries(sessions)
        assert d.state == "sending" and d.last_error == "contact not known yet"
        await directory.handle_account_event(sessions, account_event(APPLICANT, email="an@example.vn"))
        clock.now += timedelta(seconds=5)
        await worker.process_due()
        assert [m["To"] for m in smtp.received()] == ["an@example.vn"]


async def test_the_rate_limit_holds_back_what_exceeds_it(sessions):
    for i in range(5):
        account = str(uuid.uuid4())
        await directory.handle_account_event(sessions, account_event(account, email=f"p{i}@example.vn"))
        await Notifier(sessions).handle_dossier_event(dossier_event("dossier.accepted", applicant=account,
                                                                    code=f"{AGENCY}-260903-{i:04d}"))
    with SmtpServer() as smtp:
        worker = DeliveryWorker(sessions, {"email": SmtpChannel(host="127.0.0.1", port=smtp.port, sender="a@b.vn")},
                                backoff=Backoff(), rates={"email": 2})
        assert await worker.process_due() == 2
        assert await worker.process_due() == 0
        assert len(smtp.received()) == 2
    assert await count(sessions, Delivery, Delivery.state == "created") == 3


async def _official(sessions, *, roles=("processing",), agency=AGENCY, name="Võ Thị Hạnh") -> str:
    account = str(uuid.uuid4())
    await directory.handle_account_event(sessions, account_event(account, kind="official", roles=roles,
                                                                 agency_code=agency, name=name))
    return account


async def test_reminders_fire_once_per_threshold_across_a_restart(sessions, url):
    processor = await _official(sessions)
    await _official(sessions, roles=("reception",))  # not a processor: not reminded
    await _official(sessions, agency="000.00.02.H29")  # another agency: not reminded
    due = utc(2026, 9, 10, 3)
    await Notifier(sessions).handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT, due=due))
    clock = Clock(due - timedelta(hours=30))
    scheduler = ReminderScheduler(sessions, TemplateRegistry(), due_soon=timedelta(hours=24), clock=clock)
    assert await scheduler.tick() == 0
    clock.now = due - timedelta(hours=3)
    assert await scheduler.tick() == 1
    assert await scheduler.tick() == 0  # the next minute: nothing new

    engine = make_engine(url)  # the service restarts
    try:
        again = ReminderScheduler(session_factory(engine), TemplateRegistry(), due_soon=timedelta(hours=24),
                                  clock=clock)
        assert await again.tick() == 0
        clock.now = due + timedelta(minutes=5)
        assert await again.tick() == 1
        assert await again.tick() == 0
    finally:
        await engine.dispose()
    rows, _, _ = await list_inbox(sessions, [processor], unread_only=False, offset=0, limit=20)
    assert sorted(r.event_type for r in rows) == ["reminder.due_soon", "reminder.overdue"]
    assert all(r.subject == CODE for r in rows)
    assert await count(sessions, Notification, Notification.event_type.like("reminder.%")) == 2
    assert await count(sessions, FiredReminder) == 2


async def test_an_assigned_dossier_reminds_its_assignee_and_a_closed_one_nobody(sessions):
    assignee = await _official(sessions, roles=("processing",), name="Đỗ Minh Khang")
    other = await _official(sessions)
    due = utc(2026, 9, 10, 3)
    notifier = Notifier(sessions)
    await notifier.handle_dossier_event(dossier_event("dossier.assigned", applicant=APPLICANT, due=due,
                                                      assignee_id=assignee))
    closed = f"{AGENCY}-260903-0099"
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", code=closed, due=due))
    await notifier.handle_dossier_event(dossier_event("dossier.result_ready", code=closed, due=due))
    clock = Clock(due + timedelta(hours=1))
    assert await ReminderScheduler(sessions, TemplateRegistry(), due_soon=timedelta(hours=24), clock=clock).tick() == 1
    mine, _, _ = await list_inbox(sessions, [assignee], unread_only=False, offset=0, limit=20)
    assert sorted(r.event_type for r in mine) == ["dossier.assigned", "reminder.overdue"]
    theirs, _, _ = await list_inbox(sessions, [other], unread_only=False, offset=0, limit=20)
    assert theirs == []


async def test_an_extension_moves_the_deadline_and_earns_new_reminders(sessions):
    processor = await _official(sessions)
    due = utc(2026, 9, 10, 3)
    notifier = Notifier(sessions)
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT, due=due))
    clock = Clock(due + timedelta(hours=1))
    scheduler = ReminderScheduler(sessions, TemplateRegistry(), due_soon=timedelta(hours=24), clock=clock)
    assert await scheduler.tick() == 1
    extended = dossier_event("dossier.extended", applicant=APPLICANT, due=due, reason="Chờ xác minh",
                             applicant_name="Lê Văn Cường")
    payload = events_pb2.DossierStatusChanged()
    extended.payload.Unpack(payload)
    payload.new_due_at.FromDatetime(due + timedelta(days=5))
    extended.payload.Pack(payload)
    await notifier.handle_dossier_event(extended)
    assert await scheduler.tick() == 0
    clock.now = due + timedelta(days=5, minutes=1)
    assert await scheduler.tick() == 1
    rows, _, _ = await list_inbox(sessions, [processor], unread_only=False, offset=0, limit=20)
    assert [r.event_type for r in rows] == ["reminder.overdue", "reminder.overdue"]
    applicant_rows, _, _ = await list_inbox(sessions, [APPLICANT], unread_only=False, offset=0, limit=20)
    apology = next(r for r in applicant_rows if r.event_type == "dossier.extended")
    assert "15/09/2026" in apology.body and "Chờ xác minh" in apology.body


async def test_a_dead_letter_alerts_every_operator_once(sessions):
    operator = await _official(sessions, roles=("operator",), agency="")
    await _official(sessions, roles=("processing",))
    notifier = Notifier(sessions)
    assert await notifier.alert_dead_letter("notification-inbox", "dossier.accepted", b"\x00bad", "boom") == 1
    assert await notifier.alert_dead_letter("notification-inbox", "dossier.accepted", b"\x00bad", "boom") == 0
    (row,), _, _ = await list_inbox(sessions, [operator], unread_only=False, offset=0, limit=20)
    assert row.event_type == "alert.dead_letter" and "deadletter.notification-inbox" in row.body
    assert await count(sessions, Contact) == 2


async def test_a_batch_is_one_transaction_that_skips_events_already_handled_and_keeps_event_order(sessions):
    await directory.handle_account_event(sessions, account_event(APPLICANT, email="an@example.vn"))
    notifier = Notifier(sessions)
    earlier = dossier_event("dossier.accepted", applicant=APPLICANT, due=utc(2026, 9, 10, 3))
    assert await notifier.handle_dossier_event(earlier) is True
    paused = dossier_event("dossier.supplement_requested", applicant=APPLICANT, due=utc(2026, 9, 10, 3))
    resumed = dossier_event("dossier.supplemented", applicant=APPLICANT, due=utc(2026, 9, 12, 3))
    # A redelivery, two new events of the same dossier, and one of them twice in the batch.
    assert await notifier.handle_dossier_events([earlier, paused, resumed, paused]) == [False, True, True, False]
    rows, total, _ = await list_inbox(sessions, [APPLICANT], unread_only=False, offset=0, limit=20)
    assert total == 3 and sorted(r.event_type for r in rows) == [
        "dossier.accepted", "dossier.supplement_requested", "dossier.supplemented"]
    assert await count(sessions, Delivery) == 3  # one email per notice, none twice
    async with sessions() as s:
        deadline = await s.get(DossierDeadline, CODE)
    assert deadline.due_at == utc(2026, 9, 12, 3) and deadline.open  # the later event of the batch wins


async def test_a_batch_with_a_wrong_payload_writes_nothing(sessions):
    notifier = Notifier(sessions)
    good = dossier_event("dossier.accepted", applicant=APPLICANT)
    wrong = account_event(APPLICANT)
    wrong.type = "dossier.accepted"
    with pytest.raises(ValueError):
        await notifier.handle_dossier_events([good, wrong])
    assert (await list_inbox(sessions, [APPLICANT], unread_only=False, offset=0, limit=5))[1] == 0
    assert await notifier.handle_dossier_events([good]) == [True]  # not marked handled by the failed batch


async def test_email_and_sms_go_only_to_verified_addresses_the_inbox_always(sessions):
    await directory.handle_account_event(sessions, account_event(
        APPLICANT, email="an@example.vn", phone="0901234123", email_verified=False, phone_verified=False))
    await directory.update_preferences(sessions, APPLICANT, inbox=True, email=True, sms=True, locale="")
    notifier = Notifier(sessions)
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT))
    assert await deliveries(sessions) == []
    assert await count(sessions, Notification) == 1
    # Once identity says the phone is confirmed, SMS follows (the email is still unconfirmed).
    await directory.handle_account_event(sessions, account_event(
        APPLICANT, change="verified", email="an@example.vn", phone="0901234123", email_verified=False,
        phone_verified=True))
    await notifier.handle_dossier_event(dossier_event("dossier.refused", applicant=APPLICANT, reason="Sai mẫu"))
    assert [(d.event_type, d.channel) for d in await deliveries(sessions)] == [("dossier.refused", "sms")]


async def test_a_contact_learnt_later_with_an_unverified_address_gets_no_email(sessions):
    await Notifier(sessions).handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT))
    await directory.handle_account_event(sessions, account_event(APPLICANT, email="an@example.vn",
                                                                 email_verified=False))
    with SmtpServer() as smtp:
        worker = DeliveryWorker(sessions, {"email": SmtpChannel(host="127.0.0.1", port=smtp.port, sender="a@b.vn")},
                                backoff=Backoff(first=5), rates={"email": 100})
        await worker.process_due()
        assert smtp.received() == []
    (d,) = await deliveries(sessions)
    assert d.state == "permanent_failure" and d.last_error == "email address not verified" and d.destination == ""


async def test_a_representative_reads_the_represented_businesss_inbox(sessions):
    business, person, stranger = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    notifier = Notifier(sessions)
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=business))
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=person,
                                                      code=f"{AGENCY}-260903-0777"))
    rows, total, unread = await list_inbox(sessions, [person, business], unread_only=False, offset=0, limit=20)
    assert (total, unread) == (2, 2) and {r.account_id for r in rows} == {person, business}
    business_notice = next(r for r in rows if r.account_id == business)
    with pytest.raises(NotFound):
        await mark_read(sessions, [stranger], business_notice.id)
    assert (await mark_read(sessions, [person, business], business_notice.id)).read is True
    assert (await list_inbox(sessions, [person], unread_only=False, offset=0, limit=20))[1] == 1


async def test_an_approved_dossier_earns_no_overdue_reminder(sessions):
    await _official(sessions)
    due = utc(2026, 9, 10, 3)
    notifier = Notifier(sessions)
    await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT, due=due))
    await notifier.handle_dossier_event(dossier_event("dossier.approved", applicant=APPLICANT, due=due))
    clock = Clock(due + timedelta(hours=1))
    assert await ReminderScheduler(sessions, TemplateRegistry(), due_soon=timedelta(hours=24), clock=clock).tick() == 0
    assert await count(sessions, FiredReminder) == 0


async def test_awaiting_fees_keeps_the_clock_running_a_supplement_request_stops_it(sessions):
    await _official(sessions)
    due = utc(2026, 9, 10, 3)
    notifier = Notifier(sessions)
    paying, supplementing = f"{AGENCY}-260903-0201", f"{AGENCY}-260903-0202"
    for code in (paying, supplementing):
        await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT, code=code, due=due))
    await notifier.handle_dossier_event(dossier_event("dossier.fees_requested", applicant=APPLICANT, code=paying,
                                                      due=due))
    await notifier.handle_dossier_event(dossier_event("dossier.supplement_requested", applicant=APPLICANT,
                                                      code=supplementing, due=due))
    clock = Clock(due + timedelta(hours=1))
    assert await ReminderScheduler(sessions, TemplateRegistry(), due_soon=timedelta(hours=24), clock=clock).tick() == 1
    async with sessions() as s:
        assert list(await s.scalars(select(FiredReminder.dossier_code))) == [paying]


async def test_a_reminder_nobody_could_receive_is_tried_again_on_the_next_scan(sessions):
    due = utc(2026, 9, 10, 3)
    await Notifier(sessions).handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT, due=due))
    clock = Clock(due + timedelta(hours=1))
    scheduler = ReminderScheduler(sessions, TemplateRegistry(), due_soon=timedelta(hours=24), clock=clock)
    assert await scheduler.tick() == 0  # no processing official known for the agency yet
    assert await count(sessions, FiredReminder) == 0
    async with sessions() as s:
        assert (await s.get(DossierDeadline, CODE)).reminded == ""
    processor = await _official(sessions)
    assert await scheduler.tick() == 1
    rows, _, _ = await list_inbox(sessions, [processor], unread_only=False, offset=0, limit=20)
    assert [r.event_type for r in rows] == ["reminder.overdue"]


async def test_a_scan_reads_only_the_deadlines_whose_next_threshold_has_passed(sessions):
    await _official(sessions)
    due = utc(2026, 9, 10, 3)
    notifier = Notifier(sessions)
    codes = [f"{AGENCY}-260903-{i:04d}" for i in range(300, 304)]
    for i, code in enumerate(codes):  # due in 1, 2, 3 and 40 hours from the scan
        await notifier.handle_dossier_event(dossier_event("dossier.accepted", applicant=APPLICANT, code=code,
                                                          due=due + timedelta(hours=(1, 2, 3, 40)[i])))
    clock = Clock(due)
    scheduler = ReminderScheduler(sessions, TemplateRegistry(), due_soon=timedelta(hours=24), clock=clock)
    assert await scheduler.tick() == 3
    async with sessions() as s:
        assert [c for c in codes if (await s.get(DossierDeadline, c)).reminded == "due_soon"] == codes[:3]
        # What the next scan reads: nothing, until a due time passes.
        assert (await s.scalars(scheduler._due_query(clock.now, None))).all() == []
        clock.now = due + timedelta(hours=1, minutes=30)
        assert [d.dossier_code for d in (await s.scalars(scheduler._due_query(clock.now, None))).all()] == codes[:1]
    assert await scheduler.tick() == 1
    async with sessions() as s:
        assert (await s.get(DossierDeadline, codes[0])).reminded == "overdue"
