"""Login throttling: at most 10 failed sign-ins a minute per account and per client address.

Beyond that the caller waits, and each further block doubles the wait (back-off), up to an hour.
Counting failures rather than every attempt keeps a ward office behind one address working while
stopping password guessing. Pure: the state is stored by the caller."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

LIMIT = 10
WINDOW = timedelta(minutes=1)
FIRST_BLOCK = timedelta(minutes=1)
MAX_BLOCK = timedelta(hours=1)


@dataclass(frozen=True)
class Throttle:
    window_started_at: datetime
    failures: int = 0
    blocked_until: datetime | None = None
    strikes: int = 0  # how many times this key was blocked in a row


def retry_after(state: Throttle | None, now: datetime) -> int:
    """Seconds to wait before trying again (0: go ahead)."""
    if state is None or state.blocked_until is None or now >= state.blocked_until:
        return 0
    return max(1, int((state.blocked_until - now).total_seconds() + 0.999))


def after_failure(state: Throttle | None, now: datetime) -> Throttle:
    if state is None or now - state.window_started_at >= WINDOW:
        strikes = state.strikes if state and state.blocked_until and now - state.blocked_until < MAX_BLOCK else 0
        state = Throttle(window_started_at=now, strikes=strikes)
    state = replace(state, failures=state.failures + 1)
    if state.failures >= LIMIT:
        state = replace(state, blocked_until=now + block_for(state.strikes), strikes=state.strikes + 1, failures=0,
                        window_started_at=now)
    return state



def block_for(strikes: int) -> timedelta:
    """The wait after ``strikes`` earlier blocks in a row: one minute, doubling, at most an hour."""
    return min(FIRST_BLOCK * (2 ** min(strikes, 16)), MAX_BLOCK)
