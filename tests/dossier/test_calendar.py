"""Working days: weekends and Vietnamese public holidays do not count; due at 17:00 ICT."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest

from services.dossier.domain.calendar import OFFICE_CLOSE, VIETNAM, WorkingCalendar


def at_vn(y, m, d, hh=9, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VIETNAM)


def days(*pairs) -> list[date]:
    return [date(2026, m, d) for m, d in pairs]


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


def test_holidays_library_knows_the_2026_vietnamese_public_holidays():
    # What the calendar relies on; if the library's data changes, these dates show it.
    vn = holidays.country_holidays("VN", years=2026)
    for day in [date(2026, 1, 1), *[date(2026, 2, d) for d in range(16, 21)],
                date(2026, 4, 27), date(2026, 4, 30), date(2026, 5, 1), date(2026, 9, 1), date(2026, 9, 2)]:
        assert day in vn, day
    assert date(2026, 2, 13) not in vn and date(2026, 2, 23) not in vn


def test_a_weekend_is_skipped_and_reported(cal):
    due, skipped = cal.add_working_days(at_vn(2026, 3, 6), 1)  # Friday
    assert due.date() == date(2026, 3, 9)  # Monday
    assert skipped == days((3, 7), (3, 8))


def test_five_working_days_from_monday_is_the_next_monday(cal):
    due, skipped = cal.add_working_days(at_vn(2026, 3, 9), 5)
    assert due.date() == date(2026, 3, 16)
    assert skipped == days((3, 14), (3, 15))


def test_weekdays_are_working_days_and_weekends_are_not(cal):
    assert cal.is_working_day(date(2026, 3, 10))
    assert not cal.is_working_day(date(2026, 3, 14))
    assert not cal.is_working_day(date(2026, 3, 15))


def test_national_day_is_not_a_working_day(cal):
    assert cal.is_holiday(date(2026, 9, 2))
    assert not cal.is_working_day(date(2026, 9, 2))
    # Friday 28 Aug: weekend, the 31 Aug substitute day and 1-2 Sep are skipped.
    due, skipped = cal.add_working_days(at_vn(2026, 8, 28), 1)
    assert due.date() == date(2026, 9, 3)
    assert date(2026, 9, 2) in skipped
    assert skipped == days((8, 29), (8, 30), (8, 31), (9, 1), (9, 2))


def test_reunification_and_labour_day_are_skipped(cal):
    # Wednesday 29 Apr 2026 + 1 working day: Thu 30 Apr and Fri 1 May are holidays.
    due, skipped = cal.add_working_days(at_vn(2026, 4, 29), 1)
    assert due.date() == date(2026, 5, 4)
    assert skipped == days((4, 30), (5, 1), (5, 2), (5, 3))


def test_lunar_new_year_is_skipped(cal):
    due, skipped = cal.add_working_days(at_vn(2026, 2, 13), 1)  # Friday before Tết
    assert due.date() == date(2026, 2, 23)
    assert skipped == [date(2026, 2, d) for d in range(14, 23)]


def test_holidays_count_across_a_year_boundary(cal):
    # Thursday 31 Dec 2026 + 1: New Year's Day 2027 (Friday) and the weekend are skipped.
    due, skipped = cal.add_working_days(at_vn(2026, 12, 31), 1)
    assert due.date() == date(2027, 1, 4)
    assert skipped == [date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)]


def test_due_time_is_seventeen_hundred_vietnam_time(cal):
    due, _ = cal.add_working_days(at_vn(2026, 3, 10, 8, 15), 2)
    assert due == datetime(2026, 3, 12, 17, 0, tzinfo=VIETNAM)
    assert due.utcoffset() == timedelta(hours=7)
    assert due.timetz().replace(tzinfo=None) == OFFICE_CLOSE == time(17, 0)
    assert due.astimezone(UTC) == datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


def test_counting_starts_from_the_vietnam_calendar_day_of_a_utc_instant(cal):
    # 20:00 UTC on Thursday 5 Mar is 03:00 on Friday 6 Mar in Vietnam.
    due, skipped = cal.add_working_days(datetime(2026, 3, 5, 20, 0, tzinfo=UTC), 1)
    assert due == datetime(2026, 3, 9, 17, 0, tzinfo=VIETNAM)
    assert skipped == days((3, 7), (3, 8))


def test_zero_days_on_a_working_day_is_due_the_same_day(cal):
    due, skipped = cal.add_working_days(at_vn(2026, 3, 10), 0)
    assert due == datetime(2026, 3, 10, 17, 0, tzinfo=VIETNAM)
    assert skipped == []


def test_zero_days_on_a_weekend_rolls_to_the_next_working_day(cal):
    due, skipped = cal.add_working_days(at_vn(2026, 3, 7), 0)  # Saturday
    assert due == datetime(2026, 3, 9, 17, 0, tzinfo=VIETNAM)
    assert skipped == days((3, 7), (3, 8))
