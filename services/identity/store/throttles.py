"""Throttle counters kept in ``login_throttles``, changed by one atomic statement each.

Parallel attempts must not be able to read the same count and write back the same next value
(the count would never reach the limit), nor race to insert the first row (an IntegrityError):
the counter is incremented with ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, which holds
the row's lock until the transaction ends, and the decision is taken from the returned value."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.identity.domain.throttle import LIMIT, MAX_BLOCK, WINDOW, Throttle, block_for
from services.identity.store.models import LoginThrottle
from services.platform.db import UtcDateTime

_T = LoginThrottle.__table__


def _insert(session):
    dialect = session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_T)


def _at(value: datetime):
    return literal(value, UtcDateTime())


async def count(session, key: str, now: datetime, *, window: timedelta = WINDOW) -> Throttle:
    """Adds one to the key's count in the current window (a new window when the last one is over)
    and returns the row as it is now."""
    new_window = _T.c.window_started_at <= _at(now - window)
    # Strikes survive a new window only while the last block is recent (back-off keeps growing).
    strikes_reset = and_(new_window, or_(_T.c.blocked_until.is_(None), _T.c.blocked_until <= _at(now - MAX_BLOCK)))
    stmt = _insert(session).values(key=key, window_started_at=now, failures=1, blocked_until=None, strikes=0)
    stmt = stmt.on_conflict_do_update(index_elements=[_T.c.key], set_={
        "failures": case((new_window, 1), else_=_T.c.failures + 1),
        "window_started_at": case((new_window, _at(now)), else_=_T.c.window_started_at),
        "strikes": case((strikes_reset, 0), else_=_T.c.strikes),
    }).returning(_T.c.window_started_at, _T.c.failures, _T.c.blocked_until, _T.c.strikes)
    row = (await session.execute(stmt)).one()
    return Throttle(window_started_at=row.window_started_at, failures=row.failures,
                    blocked_until=row.blocked_until, strikes=row.strikes)


async def record_failure(session, key: str, now: datetime) -> Throttle:
    """Counts a failed sign-in; the LIMIT-th failure in a window blocks the key (once: failures that
    arrive while the block holds are counted, not turned into a second block)."""
    state = await count(session, key, now)
    if state.failures < LIMIT or (state.blocked_until is not None and state.blocked_until > now):
        return state
    until = now + block_for(state.strikes)
    await session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
        blocked_until=until, strikes=state.strikes + 1, failures=0, window_started_at=now))
    return Throttle(window_started_at=now, failures=0, blocked_until=until, strikes=state.strikes + 1)


async def states(session, keys: list[str]) -> list[Throttle | None]:
    rows = {r.key: r for r in await session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))}
    return [Throttle(window_started_at=r.window_started_at, failures=r.failures, blocked_until=r.blocked_until,
                     strikes=r.strikes) if (r := rows.get(k)) else None for k in keys]


async def clear(session, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
