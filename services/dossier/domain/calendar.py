"""Working time: when a dossier is due, counting only office hours on working days.

Weekends and Vietnamese public holidays (the ``holidays`` library's VN calendar) do not
count. This is the first cut used to set the appointment date at acceptance; the
dossier issue deepens it (office hours, day swaps, the 15:00 rule, supplement pauses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import holidays

VIETNAM = timezone(timedelta(hours=7), "ICT")
OFFICE_CLOSE = time(17, 0)


def local_now() -> datetime:
    return datetime.now(VIETNAM)


@dataclass
class WorkingCalendar:
    _years: dict[int, holidays.HolidayBase] = field(default_factory=dict)

    def is_holiday(self, day: date) -> bool:
        if day.year not in self._years:
            self._years[day.year] = holidays.country_holidays("VN", years=day.year)
        return day in self._years[day.year]

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_working_days(self, start: datetime, days: int) -> tuple[datetime, list[date]]:
        """Due time ``days`` working days after ``start`` (end of office hours that day),
        and the days skipped on the way, so the log can explain the count."""
        local = start.astimezone(VIETNAM)
        day = local.date()
        skipped: list[date] = []
        counted = 0
        while counted < max(days, 0):
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
            else:
                skipped.append(day)
        if days <= 0:
            while not self.is_working_day(day):
                skipped.append(day)
                day += timedelta(days=1)
        return datetime.combine(day, OFFICE_CLOSE, VIETNAM), skipped
