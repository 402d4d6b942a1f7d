"""The pure rules: delivery states and back-off, masking, rate limits, reminders, who hears what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notification.domain import audience
from services.notification.domain.delivery import (
    Backoff,
    IllegalTransition,
    Outcome,
    State,
    after_attempt,
    start_sending,
)
from services.notification.domain.masking import mask_email, mask_phone
from services.notification.domain.ratelimit import TokenBucket
from services.notification.domain.reminders import reminder_due

T0 = datetime(2026, 9, 3, 2, 0, tzinfo=UTC)


def test_the_default_back_off_doubles_to_a_cap_and_keeps_trying_for_a_day():
    backoff = Backoff()
    waits = backoff.schedule()
    assert waits[:4] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=8)]
    assert max(waits) == timedelta(hours=2)
    assert all(b >= a for a, b in zip(waits, waits[1:], strict=False))
    total = sum(waits, timedelta(0))
    assert timedelta(hours=22) <= total <= timedelta(hours=24)
    # The attempt after the last wait is at most 2 h before the day ends: retries span 24 h.
    assert total + backoff.delay(len(waits) + 1) > timedelta(hours=24)


def test_a_temporary_failure_is_retried_until_the_day_is_over_then_final():
    backoff = Backoff(first=60, cap=7200, give_up_after=24 * 3600)
    step = after_attempt(state=State.SENDING, outcome=Outcome.TEMPORARY, attempts=1, created_at=T0, now=T0,
                         backoff=backoff)
    assert step == type(step)(State.SENDING, T0 + timedelta(minutes=1))
    late = T0 + timedelta(hours=23, minutes=30)
    step = after_attempt(state=State.SENDING, outcome=Outcome.TEMPORARY, attempts=20, created_at=T0, now=late,
                         backoff=backoff)
    assert step.state == State.TEMPORARY_FAILURE and step.next_attempt_at is None


def test_a_short_first_retry_still_survives_a_ten_minute_outage():
    backoff = Backoff(first=2, cap=60, give_up_after=24 * 3600)
    now, attempts = T0, 0
    while now < T0 + timedelta(minutes=10):  # the server is away for ten minutes
        attempts += 1
        step = after_attempt(state=State.SENDING, outcome=Outcome.TEMPORARY, attempts=attempts, created_at=T0,
                             now=now, backoff=backoff)
        assert step.state == State.SENDING
        now = step.next_attempt_at
    assert now - (T0 + timedelta(minutes=10)) <= timedelta(seconds=60)


@pytest.mark.parametrize(("outcome", "state"), [(Outcome.DELIVERED, State.DELIVERED),
                                                (Outcome.PERMANENT, State.PERMANENT_FAILURE),
                                                (Outcome.TECHNICAL, State.TECHNICAL_FAILURE)])
def test_other_outcomes_are_final_at_once(outcome, state):
    step = after_attempt(state=State.SENDING, outcome=outcome, attempts=1, created_at=T0, now=T0, backoff=Backoff())
    assert step.state == state and step.next_attempt_at is None


def test_a_one_time_code_is_not_retried_past_its_expiry():
    step = after_attempt(state=State.SENDING, outcome=Outcome.TEMPORARY, attempts=1, created_at=T0, now=T0,
                         backoff=Backoff(first=60), expires_at=T0 + timedelta(seconds=30))
    assert step.state == State.TEMPORARY_FAILURE


@pytest.mark.parametrize("state", [State.DELIVERED, State.PERMANENT_FAILURE, State.TEMPORARY_FAILURE,
                                   State.TECHNICAL_FAILURE])
def test_a_final_delivery_is_never_sent_or_settled_again(state):
    with pytest.raises(IllegalTransition):
        start_sending(state)
    with pytest.raises(IllegalTransition):
        after_attempt(state=state, outcome=Outcome.DELIVERED, attempts=1, created_at=T0, now=T0, backoff=Backoff())
    assert start_sending(State.CREATED) == State.SENDING


def test_destinations_are_masked_as_the_dossier_log_shows_them():
    assert mask_phone("0901234123") == "09*****123"
    assert mask_email("nguyen.van.an@example.vn") == "n***@example.vn"
    assert mask_email("not-an-address") == "***"


def test_the_rate_limit_lets_a_burst_through_then_refills_with_time():
    bucket = TokenBucket(rate=2, burst=2, updated=0.0)
    assert bucket.take(0.0) and bucket.take(0.0) and not bucket.take(0.0)
    assert bucket.available(0.5) == 1
    assert bucket.available(10.0) == 2


def test_reminders_overdue_beats_due_soon_and_keys_carry_the_due_time():
    due = datetime(2026, 9, 4, 3, 0, tzinfo=UTC)
    soon = timedelta(hours=24)
    assert reminder_due(due_at=due, now=due - timedelta(hours=25), due_soon=soon) is None
    r = reminder_due(due_at=due, now=due - timedelta(hours=2), due_soon=soon)
    assert r.threshold == "due_soon" and r.key == "due_soon@20260904T030000Z" and r.event_type == "reminder.due_soon"
    r = reminder_due(due_at=due, now=due + timedelta(minutes=1), due_soon=soon)
    assert r.threshold == "overdue" and r.key == "overdue@20260904T030000Z"
    later = reminder_due(due_at=due + timedelta(days=3), now=due + timedelta(days=4), due_soon=soon)
    assert later.key != r.key  # an extension earns its own reminders


def test_legally_required_notices_reach_the_inbox_whatever_the_preferences():
    nothing = audience.Preferences(inbox=False, email=False, sms=False)
    contact = audience.Contact(account_id="a", email="a@example.vn", phone="0901234567", email_verified=True,
                               phone_verified=True)
    for kind in ("dossier.refused", "dossier.supplement_requested", "dossier.extended"):
        assert audience.channels_for(kind, nothing, contact) == ["inbox"]
    assert audience.channels_for("dossier.accepted", nothing, contact) == []
    everything = audience.Preferences(inbox=True, email=True, sms=True)
    assert audience.channels_for("dossier.accepted", everything, contact) == ["inbox", "email", "sms"]


def test_channels_need_an_address_on_file_except_email_for_an_unknown_contact():
    prefs = audience.Preferences(inbox=True, email=True, sms=True)
    no_phone = audience.Contact(account_id="a", email="a@example.vn", email_verified=True)
    assert audience.channels_for("dossier.accepted", prefs, no_phone) == ["inbox", "email"]
    assert audience.channels_for("dossier.accepted", prefs, None) == ["inbox", "email"]
    assert audience.locale_for(audience.Preferences(locale="en"), no_phone) == "en"
    assert audience.locale_for(audience.Preferences(), audience.Contact(account_id="a", locale="en")) == "en"
    assert audience.locale_for(audience.Preferences(), None) == "vi"


def test_email_and_sms_go_only_to_verified_addresses_and_the_inbox_needs_none():
    prefs = audience.Preferences(inbox=True, email=True, sms=True)
    unverified = audience.Contact(account_id="a", email="a@example.vn", phone="0901234567")
    assert audience.channels_for("dossier.accepted", prefs, unverified) == ["inbox"]
    assert audience.channels_for("dossier.refused", audience.Preferences(inbox=False, email=True, sms=True),
                                 unverified) == ["inbox"]
    phone_only = audience.Contact(account_id="a", email="a@example.vn", phone="0901234567", phone_verified=True)
    assert audience.channels_for("dossier.accepted", prefs, phone_only) == ["inbox", "sms"]


def test_the_clock_rules_approval_closes_fees_do_not_pause_a_supplement_request_does():
    assert "dossier.approved" in audience.CLOSING_EVENTS
    assert "dossier.fees_requested" not in audience.PAUSING_EVENTS
    assert audience.PAUSING_EVENTS == {"dossier.supplement_requested"}
