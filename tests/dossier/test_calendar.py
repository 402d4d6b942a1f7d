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


def test_years_loaded_ahead_answer_as_years_loaded_on_demand(cal):
    cal.load_years(2027, 2028)
    assert set(cal._years) == {2027, 2028}  # built now, not in the first request that needs them
    lazy = WorkingCalendar()
    for day in (date(2027, 1, 1), date(2027, 9, 2), date(2028, 4, 30), date(2028, 3, 3)):
        assert cal.holiday_name(day) == lazy.holiday_name(day)
    assert cal.holiday_name(date(2027, 1, 1)) is not None


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


# --- office hours, day swaps, the 15:00 rule, pauses, steps, flags ----------------------

from services.dossier.domain.calendar import (  # noqa: E402
    DUE_SOON,
    ON_TRACK,
    OVERDUE,
    DaySwaps,
    deadline_flag,
    parse_office_hours,
)


def test_the_day_swaps_file_makes_a_saturday_a_working_day_and_the_library_gives_the_weekday_off(cal):
    # 2025: Friday 2 May off (the holidays library), Saturday 26 April worked (our data file).
    assert cal.is_working_day(date(2025, 4, 26))
    assert not cal.is_working_day(date(2025, 5, 2))
    assert cal.holiday_name(date(2025, 5, 2))
    # 2026: Monday 31 August off, Saturday 22 August worked.
    assert cal.is_working_day(date(2026, 8, 22)) and not cal.is_working_day(date(2026, 8, 31))
    assert not cal.is_working_day(date(2026, 8, 29))  # an ordinary Saturday


def test_an_operator_can_add_a_swap_without_code(tmp_path):
    swaps = tmp_path / "swaps.json"
    swaps.write_text('{"working_days": [{"date": "2026-03-14", "name": "Làm bù"}],'
                     ' "days_off": [{"date": "2026-03-16", "name": "Nghỉ bù"}]}', encoding="utf-8")
    cal = WorkingCalendar(swaps=DaySwaps.load(swaps))
    assert cal.is_working_day(date(2026, 3, 14)) and not cal.is_working_day(date(2026, 3, 16))
    due, exp = cal.due_at(at_vn(2026, 3, 13, 9), 1, "working_day")  # Friday
    assert due.date() == date(2026, 3, 14)  # the swapped Saturday counts
    due, exp = cal.due_at(at_vn(2026, 3, 14, 9), 1, "working_day")
    assert due.date() == date(2026, 3, 17)
    assert (date(2026, 3, 16), "Nghỉ bù") in exp.holidays and "Nghỉ bù" in exp.text()


def test_a_same_day_procedure_received_before_three_pm_is_due_that_day(cal):
    due, exp = cal.due_at(at_vn(2026, 3, 10, 14, 59), 0, "working_day")
    assert due == datetime(2026, 3, 10, 17, 0, tzinfo=VIETNAM) and not exp.cutoff_applied


def test_a_same_day_procedure_received_after_three_pm_is_due_the_next_working_day(cal):
    due, exp = cal.due_at(datetime(2026, 3, 13, 15, 0, 1, tzinfo=VIETNAM), 0, "working_day")  # Friday 15:00:01
    assert due == datetime(2026, 3, 16, 17, 0, tzinfo=VIETNAM)
    assert exp.cutoff_applied and "sau 15 giờ" in exp.text()


def test_a_filing_at_exactly_three_pm_is_not_after_the_cut_off(cal):
    # "sau 15 giờ": 15:00:00 itself is not after 15 o'clock, so it is due the same day.
    due, exp = cal.due_at(at_vn(2026, 3, 13, 15, 0), 0, "working_day")
    assert due == datetime(2026, 3, 13, 17, 0, tzinfo=VIETNAM) and not exp.cutoff_applied


def test_a_procedure_without_a_published_processing_time_has_no_due_date(cal):
    due, exp = cal.due_at(at_vn(2026, 3, 10, 9), None, "working_day")
    assert due is None and "không công bố thời hạn" in exp.text()
    due, _ = cal.due_at(at_vn(2026, 3, 10, 9), 0, "working_day")  # an explicit 0 is same-day
    assert due == datetime(2026, 3, 10, 17, 0, tzinfo=VIETNAM)


def test_an_online_filing_at_night_counts_from_the_next_working_morning(cal):
    friday_night = at_vn(2026, 3, 13, 21, 30)
    due, exp = cal.due_at(friday_night, 8, "working_hour")
    # Counting starts Monday 07:30: 4 hours to 11:30, 4 more from 13:00.
    assert due == datetime(2026, 3, 16, 17, 0, tzinfo=VIETNAM)
    assert exp.start_moved_from == friday_night and "ngoài giờ" in exp.text()
    assert exp.weekends == [date(2026, 3, 14), date(2026, 3, 15)]
    due, _ = cal.due_at(friday_night, 1, "working_day")
    assert due == datetime(2026, 3, 17, 17, 0, tzinfo=VIETNAM)


def test_working_hours_skip_the_lunch_break(cal):
    due, _ = cal.due_at(at_vn(2026, 3, 10, 10, 0), 3, "working_hour")
    assert due == datetime(2026, 3, 10, 14, 30, tzinfo=VIETNAM)
    assert cal.add_working_minutes(at_vn(2026, 3, 10, 12, 0), 30) == at_vn(2026, 3, 10, 13, 30)


def test_half_a_working_day_is_four_office_hours_after_the_same_day_close(cal):
    due, exp = cal.due_at(at_vn(2026, 3, 10, 15, 0), 0.5, "working_day")
    assert due == datetime(2026, 3, 11, 11, 30, tzinfo=VIETNAM) and "0.5 ngày làm việc" in exp.counted


def test_one_and_a_half_working_days_are_later_than_one(cal):
    monday = at_vn(2026, 3, 9, 10, 0)
    one, _ = cal.due_at(monday, 1, "working_day")
    one_and_a_half, _ = cal.due_at(monday, 1.5, "working_day")
    two, _ = cal.due_at(monday, 2, "working_day")
    assert one == datetime(2026, 3, 10, 17, 0, tzinfo=VIETNAM)
    assert one_and_a_half == datetime(2026, 3, 11, 11, 30, tzinfo=VIETNAM)  # Tuesday's close + 4 office hours
    assert one < one_and_a_half < two


def test_a_due_date_never_moves_earlier_as_the_processing_time_grows(cal):
    starts = [at_vn(2026, 3, 9, 7, 0), at_vn(2026, 3, 9, 10, 0), at_vn(2026, 3, 9, 12, 0),
              at_vn(2026, 3, 10, 14, 59), at_vn(2026, 3, 10, 15, 0), at_vn(2026, 3, 10, 15, 30),
              at_vn(2026, 3, 13, 16, 45), at_vn(2026, 3, 13, 21, 0), at_vn(2026, 3, 14, 9, 0),
              at_vn(2026, 4, 29, 16, 0), at_vn(2026, 12, 31, 15, 1)]
    values = [x / 2 for x in range(0, 21)]  # 0 (same day), 0.5, ..., 10
    for start in starts:
        dues = [cal.due_at(start, v, "working_day")[0] for v in values]
        for (v1, d1), (v2, d2) in zip(zip(values, dues), zip(values[1:], dues[1:])):
            assert d1 <= d2, f"from {start}: {v2} working days due {d2}, before {v1} days ({d1})"


def test_calendar_days_end_on_a_working_day(cal):
    due, exp = cal.due_at(at_vn(2026, 3, 10, 9), 4, "day")  # Tue + 4 = Sat -> Monday
    assert due.date() == date(2026, 3, 16) and exp.weekends == [date(2026, 3, 14), date(2026, 3, 15)]


def test_the_explanation_names_the_holidays_it_skipped(cal):
    due, exp = cal.due_at(at_vn(2026, 4, 29, 9), 2, "working_day")
    assert due.date() == date(2026, 5, 5)
    text = exp.text()
    assert "2 ngày làm việc" in text and "30/04/2026" in text and "01/05/2026" in text
    assert "2 ngày nghỉ cuối tuần" in text


def test_the_supplement_wait_is_not_counted(cal):
    due = at_vn(2026, 3, 20, 17, 0)
    new_due, exp = cal.resume_after_pause(due, at_vn(2026, 3, 10, 9, 0), at_vn(2026, 3, 11, 9, 0))
    # Tue 09:00 -> Wed 09:00 is 8 office hours: one working day later.
    assert exp.paused_minutes == 8 * 60
    assert new_due == at_vn(2026, 3, 23, 17, 0)  # Friday 17:00 + 8 hours = Monday 17:00
    assert "không tính 8 giờ làm việc" in exp.text()


def test_a_supplement_sent_over_a_weekend_pauses_only_office_time(cal):
    minutes = cal.working_minutes_between(at_vn(2026, 3, 13, 16, 0), at_vn(2026, 3, 16, 8, 0))
    assert minutes == 60 + 30


def test_a_workflow_step_is_due_after_its_budget_in_working_hours(cal):
    assert cal.step_due_at(at_vn(2026, 3, 13, 16, 0), 2) == at_vn(2026, 3, 16, 8, 30)
    assert cal.step_due_at(at_vn(2026, 3, 13, 16, 0), 0) is None


def test_due_soon_and_overdue_flags(cal):
    due = at_vn(2026, 3, 16, 17, 0)  # Monday
    assert deadline_flag(cal, due, at_vn(2026, 3, 12, 9)) == ON_TRACK
    assert deadline_flag(cal, due, at_vn(2026, 3, 13, 17, 0)) == DUE_SOON  # a weekend away is one working day
    assert deadline_flag(cal, due, at_vn(2026, 3, 16, 17, 1)) == OVERDUE
    assert deadline_flag(cal, None, at_vn(2026, 3, 16, 17, 1)) == ON_TRACK


def test_office_hours_are_settings():
    periods = parse_office_hours("08:00-12:00, 13:30-17:30")
    cal = WorkingCalendar(office_hours=periods)
    due, _ = cal.due_at(at_vn(2026, 3, 10, 9), 0, "working_day")
    assert due.time() == time(17, 30)
    with pytest.raises(ValueError):
        parse_office_hours("12:00-08:00")
