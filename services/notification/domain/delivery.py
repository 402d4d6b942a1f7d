"""Delivery states as GOV.UK Notify names them, and the retry schedule for temporary failures.

created -> sending -> delivered | temporary_failure | permanent_failure | technical_failure.
A temporary failure (the mail server or SMS gateway away, a 4xx reply) keeps the delivery in
``sending`` with a later attempt, doubling the wait up to a cap, until ``give_up_after`` has
passed since it was created; only then is ``temporary_failure`` final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class State(StrEnum):
    CREATED = "created"
    SENDING = "sending"
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary_failure"
    PERMANENT_FAILURE = "permanent_failure"
    TECHNICAL_FAILURE = "technical_failure"


FINAL = frozenset({State.DELIVERED, State.TEMPORARY_FAILURE, State.PERMANENT_FAILURE, State.TECHNICAL_FAILURE})
PENDING = (State.CREATED.value, State.SENDING.value)


class Outcome(StrEnum):
    """What one attempt came to."""

    DELIVERED = "delivered"
    TEMPORARY = "temporary"  # try again later
    PERMANENT = "permanent"  # the address or number is wrong; retrying will not help
    TECHNICAL = "technical"  # our side broke (template, configuration)


class IllegalTransition(ValueError):
    pass


@dataclass(frozen=True)
class Backoff:
    first: float = 60.0
    factor: float = 2.0
    cap: float = 7200.0
    give_up_after: float = 24 * 3600.0

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failed attempt (1-based)."""
        return timedelta(seconds=min(self.first * self.factor ** max(attempts - 1, 0), self.cap))

    def schedule(self) -> list[timedelta]:
        """Every wait until giving up: the whole plan, for tests and for operators."""
        waits, total, n = [], timedelta(0), 1
        while True:
            wait = self.delay(n)
            if (total + wait).total_seconds() > self.give_up_after:
                return waits
            waits.append(wait)
            total += wait
            n += 1


@dataclass(frozen=True)
class Next:
    state: State
    next_attempt_at: datetime | None


def start_sending(state: State) -> State:
    if state not in (State.CREATED, State.SENDING):
        raise IllegalTransition(f"cannot send a delivery that is {state}")
    return State.SENDING


def after_attempt(*, state: State, outcome: Outcome, attempts: int, created_at: datetime, now: datetime,
                  backoff: Backoff, expires_at: datetime | None = None) -> Next:
    """The state after attempt number ``attempts``; a retry is due at ``next_attempt_at``."""
    if state != State.SENDING:
        raise IllegalTransition(f"an attempt settles only a delivery being sent, not {state}")
    if outcome == Outcome.DELIVERED:
        return Next(State.DELIVERED, None)
    if outcome == Outcome.PERMANENT:
        return Next(State.PERMANENT_FAILURE, None)
    if outcome == Outcome.TECHNICAL:
        return Next(State.TECHNICAL_FAILURE, None)
    retry_at = now + backoff.delay(attempts)
    give_up_at = created_at + timedelta(seconds=backoff.give_up_after)
    if expires_at is not None:
        give_up_at = min(give_up_at, expires_at)
    if retry_at > give_up_at:
        return Next(State.TEMPORARY_FAILURE, None)
    return Next(State.SENDING, retry_at)
