"""Working time: when a dossier is due, counting only office hours on working days.

Weekends and Vietnamese public holidays (the ``holidays`` library's VN calendar) do not
count; the government's yearly day swaps (a Saturday worked to bridge a holiday, a
weekday given off) come from a data file an operator amends (``data/day_swaps.json``).
Office hours are settings (07:30-11:30 and 13:00-17:00 by default). Every calculation
returns an ``Explanation`` so the dossier log can say what was counted and what skipped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import holidays

VIETNAM = timezone(timedelta(hours=7), "ICT")
OFFICE_CLOSE = time(17, 0)
HOURS_PER_DAY = 8  # 8 working hours make a working day, as the systems seen count
DAY_SWAPS_FILE = Path(__file__).parent / "data" / "day_swaps.json"


def local_now() -> datetime:
    return datetime.now(VIETNAM)


@dataclass(frozen=True)
class DaySwaps:
    """Saturdays or Sundays worked (làm bù) and weekdays given off (nghỉ bù) by decision."""

    working: frozenset[date] = frozenset()
    off: dict[date, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = DAY_SWAPS_FILE) -> DaySwaps:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(working=frozenset(date.fromisoformat(d["date"]) for d in data.get("working_days", [])),
                   off={date.fromisoformat(d["date"]): d.get("name", "Ngày nghỉ bù") for d in data.get("days_off", [])})


@dataclass
class Explanation:
    """What a due-date calculation counted and skipped, for the dossier log."""

    counted: str = ""
    start_moved_from: datetime | None = None
    cutoff_applied: bool = False
    weekends: list[date] = field(default_factory=list)
    holidays: list[tuple[date, str]] = field(default_factory=list)
    paused_minutes: int = 0

    def skip(self, day: date, holiday: str | None) -> None:
        if holiday:
            self.holidays.append((day, holiday))
        else:
            self.weekends.append(day)

    @property
    def skipped(self) -> list[date]:
        return sorted([*self.weekends, *(d for d, _ in self.holidays)])

    def text(self) -> str:
        parts = [self.counted] if self.counted else []
        if self.start_moved_from is not None:
            parts.append(f"nộp ngoài giờ làm việc ({_fmt(self.start_moved_from)}), tính từ giờ làm việc kế tiếp")
        if self.cutoff_applied:
            parts.append("nhận sau 15 giờ, hẹn trả ngày làm việc kế tiếp")
        if self.weekends:
            parts.append(f"bỏ qua {len(self.weekends)} ngày nghỉ cuối tuần")
        if self.holidays:
            names = ", ".join(f"{d:%d/%m/%Y} ({n})" for d, n in self.holidays)
            parts.append(f"bỏ qua ngày lễ, nghỉ bù: {names}")
        if self.paused_minutes:
            parts.append(f"không tính {_duration(self.paused_minutes)} chờ công dân bổ sung hồ sơ")
        return "; ".join(parts)


def _fmt(at: datetime) -> str:
    return at.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} giờ {rest} phút làm việc" if rest else f"{hours} giờ làm việc"


def parse_office_hours(text: str) -> tuple[tuple[time, time], ...]:
    """``"07:30-11:30,13:00-17:00"`` -> the office periods of a working day."""
    periods = []
    for part in text.split(","):
        start, end = (time.fromisoformat(x.strip()) for x in part.split("-"))
        if end <= start:
            raise ValueError(f"office period {part!r} ends before it starts")
        periods.append((start, end))
    periods.sort()
    return tuple(periods)


@dataclass
class WorkingCalendar:
    office_hours: tuple[tuple[time, time], ...] = parse_office_hours("07:30-11:30,13:00-17:00")
    swaps: DaySwaps = field(default_factory=DaySwaps.load)
    same_day_cutoff: time = time(15, 0)
    tz: timezone = VIETNAM
    _years: dict[int, holidays.HolidayBase] = field(default_factory=dict)

    # --- days ---------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        if day in self.swaps.off:
            return self.swaps.off[day]
        if day.year not in self._years:
            self._years[day.year] = holidays.country_holidays("VN", years=day.year, language="vi")
        return self._years[day.year].get(day)

    def load_years(self, *years: int) -> None:
        """Build the holiday tables of these years now: the first one imports the country's
        rules, a stall of some 100 ms better taken at start than in a request."""
        for year in years:
            self.holiday_name(date(year, 1, 1))

    def is_holiday(self, day: date) -> bool:
        return self.holiday_name(day) is not None

    def is_working_day(self, day: date) -> bool:
        if self.is_holiday(day):
            return False
        return day.weekday() < 5 or day in self.swaps.working

    def _step_day(self, day: date, explanation: Explanation | None) -> date:
        """The next working day after ``day``, noting each day skipped."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            if explanation is not None:
                explanation.skip(day, self.holiday_name(day))
            day += timedelta(days=1)
        return day

    @property
    def close(self) -> time:
        return self.office_hours[-1][1]

    @property
    def open(self) -> time:
        return self.office_hours[0][0]

    def _at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, self.tz)

    # --- instants -----------------------------------------------------------------

    def next_working_time(self, at: datetime, explanation: Explanation | None = None) -> datetime:
        """``at`` itself during office hours, else the start of the next office period."""
        local = at.astimezone(self.tz)
        day = local.date()
        if self.is_working_day(day):
            for start, end in self.office_hours:
                if local.time() < end:
                    return max(local, self._at(day, start))
        elif explanation is not None:
            explanation.skip(day, self.holiday_name(day))
        return self._at(self._step_day(day, explanation), self.open)

    def add_working_minutes(self, start: datetime, minutes: float,
                            explanation: Explanation | None = None) -> datetime:
        """The instant ``minutes`` of office time after ``start`` (a due time that falls
        exactly on a period's end stays there, not at the next opening)."""
        at = self.next_working_time(start, explanation)
        left = timedelta(minutes=minutes)
        while True:
            day = at.date()
            for s, e in self.office_hours:
                period_end = self._at(day, e)
                if at >= period_end:
                    continue
                at = max(at, self._at(day, s))
                room = period_end - at
                if left <= room:
                    return at + left
                left -= room
                at = period_end
            at = self._at(self._step_day(day, explanation), self.open)

    def working_minutes_between(self, start: datetime, end: datetime) -> int:
        """Office minutes from ``start`` to ``end`` (0 when end is not after start)."""
        if end <= start:
            return 0
        total = timedelta()
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            if self.is_working_day(day):
                for s, e in self.office_hours:
                    lo, hi = max(start, self._at(day, s)), min(end, self._at(day, e))
                    if hi > lo:
                        total += hi - lo
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)

    def add_working_days(self, start: datetime, days: int,
                         explanation: Explanation | None = None) -> tuple[datetime, list[date]]:
        """Due at the close of the ``days``-th working day after the day of ``start``
        (the day of receipt is not counted); 0 days: the same working day."""
        exp = explanation if explanation is not None else Explanation()
        day = start.astimezone(self.tz).date()
        if days <= 0:
            while not self.is_working_day(day):
                exp.skip(day, self.holiday_name(day))
                day += timedelta(days=1)
        for _ in range(max(days, 0)):
            day = self._step_day(day, exp)
        return self._at(day, self.close), exp.skipped

    # --- the appointment date -----------------------------------------------------

    @property
    def day_minutes(self) -> int:
        """Office minutes in one working day (the unit a fraction of a working day takes)."""
        return sum((datetime.combine(date.min, e) - datetime.combine(date.min, s)).seconds // 60
                   for s, e in self.office_hours)

    def due_at(self, received: datetime, value: float | None,
               unit: str) -> tuple[datetime | None, Explanation]:
        """The appointment date (ngày hẹn trả) for a processing time of ``value`` ``unit``
        counted from ``received``: filings outside office hours count from the next
        working time; a same-day procedure received after 15:00 is due the next working
        day; working hours are counted in office minutes. A procedure whose processing
        time the catalogue does not publish has no legal deadline: None, not "today"."""
        exp = Explanation()
        if value is None:
            exp.counted = "thủ tục không công bố thời hạn giải quyết, hồ sơ không có ngày hẹn trả theo quy định"
            return None, exp
        value = max(float(value), 0.0)
        start = self.next_working_time(received, exp)
        if start != received.astimezone(self.tz):
            exp.start_moved_from = received
        if unit == "day":
            days = math.ceil(value)
            exp.counted = f"{days} ngày theo lịch"
            day = received.astimezone(self.tz).date() + timedelta(days=days)
            while not self.is_working_day(day):  # a last day that is a day off moves to the next working day
                exp.skip(day, self.holiday_name(day))
                day += timedelta(days=1)
            return self._at(day, self.close), exp
        if unit == "working_hour":
            exp.counted = f"{_num(value)} giờ làm việc"
            return self.add_working_minutes(start, value * 60, exp), exp
        # Working days: the whole days first (due at a day's close), then the fraction as
        # that share of a working day's office time after it, so 1.5 days is never earlier
        # than 1 day and a due date never moves earlier as the processing time grows.
        days = math.floor(value)
        fraction = value - days
        if not fraction:
            if days == 0:
                exp.counted = "giải quyết trong ngày"
                return self._same_day(start, exp), exp
            exp.counted = f"{days} ngày làm việc"
            return self.add_working_days(start, days, exp)[0], exp
        exp.counted = f"{_num(value)} ngày làm việc"
        whole, _ = self.add_working_days(start, days, exp)
        due = self.add_working_minutes(whole, fraction * self.day_minutes, exp)
        if days == 0:  # never earlier than a same-day procedure filed at the same moment
            due = max(due, self._same_day(start, Explanation()))
        return due, exp

    def _same_day(self, start: datetime, exp: Explanation) -> datetime:
        """Due at today's close; received after the 15:00 cut-off ("sau 15 giờ"), at the
        next working day's close (15:00:00 itself is not after 15 o'clock)."""
        if start.time() > self.same_day_cutoff:
            exp.cutoff_applied = True
            return self._at(self._step_day(start.date(), exp), self.close)
        return self._at(start.date(), self.close)

    def resume_after_pause(self, due: datetime, paused_from: datetime, resumed_at: datetime) -> tuple[datetime, Explanation]:
        """Decision 766: time waiting for the applicant's supplement does not count, so the
        due time moves later by the office time the dossier waited."""
        exp = Explanation()
        exp.paused_minutes = self.working_minutes_between(paused_from, resumed_at)
        if not exp.paused_minutes:
            return due, exp
        return self.add_working_minutes(due, exp.paused_minutes, exp), exp

    def step_due_at(self, start: datetime, budget_hours: float) -> datetime | None:
        """A workflow step's due time from its budget in working hours (none without one)."""
        if not budget_hours or budget_hours <= 0:
            return None
        return self.add_working_minutes(start, budget_hours * 60)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


OVERDUE, DUE_SOON, ON_TRACK = "overdue", "due_soon", "on_track"


def deadline_flag(calendar: WorkingCalendar, due: datetime | None, now: datetime, *,
                  soon_minutes: int = HOURS_PER_DAY * 60) -> str:
    """overdue past the due time; due soon within ``soon_minutes`` of office time (one
    working day by default); else on track. No due time: on track."""
    if due is None:
        return ON_TRACK
    if now > due:
        return OVERDUE
    if calendar.working_minutes_between(now, due) <= soon_minutes:
        return DUE_SOON
    return ON_TRACK
