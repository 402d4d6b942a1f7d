"""The delivery worker: picks due deliveries from the table (the schedule survives a
restart), sends them within each channel's rate limit, and settles each attempt by the
state machine. A final state is announced as notification.delivery.updated through the
outbox, in the same transaction.

A delivery is claimed by setting ``next_attempt_at`` to a lease in the future before it is
sent: if the process dies mid-send, the lease runs out and the delivery is tried again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notification.app.metrics import ATTEMPTS
from services.notification.app.notify import record_delivery_updated
from services.notification.channels.base import Channel, OutgoingMessage, PermanentFailure, TemporaryFailure
from services.notification.domain.delivery import FINAL, PENDING, Backoff, Outcome, State, after_attempt
from services.notification.domain.masking import mask
from services.notification.domain.ratelimit import TokenBucket
from services.notification.store.models import Contact, Delivery
from services.platform.db import is_sqlite
from services.platform.events import utcnow
from services.platform.logging import get_logger

log = get_logger("notification.deliveries")

BATCH = 50


@dataclass(frozen=True)
class Claimed:
    id: str
    channel: str
    destination: str
    title: str
    body: str
    attempts: int
    # Set when the claim itself settled the attempt (no address to send to).
    outcome: Outcome | None = None
    error: str = ""


class DeliveryWorker:
    def __init__(self, sessions: async_sessionmaker, channels: dict[str, Channel], *, backoff: Backoff,
                 rates: dict[str, float], lease_seconds: float = 120.0, poll_seconds: float = 1.0,
                 on_settled: Callable[[], None] = lambda: None, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._channels = channels
        self._backoff = backoff
        self._buckets = {name: TokenBucket(rate=rate, burst=max(1.0, rate)) for name, rate in rates.items()}
        self._lease = timedelta(seconds=lease_seconds)
        self._poll = poll_seconds
        self._on_settled = on_settled
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._skip_locked = not is_sqlite(str(sessions.kw["bind"].url))

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                handled = await self.process_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery_round_failed")
                handled = 0
            if handled:
                continue
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._poll)
            except (TimeoutError, asyncio.TimeoutError):
                pass

    async def process_due(self, *, only: str | None = None) -> int:
        """One round: claim what is due (within the rate limits), send, settle. Returns how many."""
        claimed: list[Claimed] = []
        for channel, bucket in self._buckets.items():
            room = bucket.available(time.monotonic())
            if room <= 0:
                continue
            got = await self._claim(channel, min(room, BATCH), only=only)
            bucket.take(time.monotonic(), len(got))
            claimed.extend(got)
        # Each delivery is settled as soon as its own send returns: the moment when a crash
        # would leave a sent message unrecorded (and send it again) stays as short as it can.
        await asyncio.gather(*(self._send_and_settle(c) for c in claimed))
        return len(claimed)

    async def _send_and_settle(self, c: Claimed) -> None:
        outcome, error = await self._send(c)
        await self._settle(c, outcome, error)

    async def _claim(self, channel: str, limit: int, *, only: str | None) -> list[Claimed]:
        now = self._clock()
        query = (select(Delivery).where(Delivery.channel == channel, Delivery.state.in_(PENDING),
                                        Delivery.next_attempt_at <= now)
                 .order_by(Delivery.next_attempt_at).limit(limit))
        if only:
            query = query.where(Delivery.id == only)
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        claimed = []
        async with self._sessions() as session, session.begin():
            for row in (await session.scalars(query)).all():
                row.state = State.SENDING.value
                row.attempts += 1
                row.next_attempt_at = now + self._lease
                row.updated_at = now
                outcome, error = None, ""
                if not row.destination:
                    contact = await session.get(Contact, row.account_id)
                    address = "" if contact is None else (contact.email if channel == "email" else contact.phone)
                    if address:
                        row.destination, row.destination_masked = address, mask(channel, address)
                    elif contact is None:
                        outcome, error = Outcome.TEMPORARY, "contact not known yet"
                    else:
                        outcome, error = Outcome.PERMANENT, f"no {channel} address on file"
                claimed.append(Claimed(row.id, channel, row.destination, row.title, row.body, row.attempts,
                                       outcome, error))
        return claimed

    async def _send(self, c: Claimed) -> tuple[Outcome, str]:
        if c.outcome is not None:
            return c.outcome, c.error
        message = OutgoingMessage(delivery_id=c.id, destination=c.destination, subject=c.title, body=c.body)
        try:
            await self._channels[c.channel].send(message)
        except TemporaryFailure as exc:
            return Outcome.TEMPORARY, str(exc)
        except PermanentFailure as exc:
            return Outcome.PERMANENT, str(exc)
        except Exception as exc:
            log.exception("delivery_technical_failure", delivery_id=c.id, channel=c.channel)
            return Outcome.TECHNICAL, f"{type(exc).__name__}: {exc}"
        return Outcome.DELIVERED, ""

    async def _settle(self, c: Claimed, outcome: Outcome, error: str) -> None:
        ATTEMPTS.labels(c.channel, outcome.value).inc()
        now = self._clock()
        final = False
        async with self._sessions() as session, session.begin():
            row = await session.get(Delivery, c.id, with_for_update=self._skip_locked)
            if row is None or row.state != State.SENDING.value or row.attempts != c.attempts:
                return  # the lease ran out and another attempt owns it now
            step = after_attempt(state=State.SENDING, outcome=outcome, attempts=row.attempts,
                                 created_at=row.created_at, now=now, backoff=self._backoff,
                                 expires_at=row.expires_at)
            row.state = step.state.value
            row.next_attempt_at = step.next_attempt_at
            row.last_error = error[:500]
            row.updated_at = now
            if step.state in FINAL:
                final = True
                row.settled_at = now
                if row.event_type == "one_time_code":
                    row.body = ""  # the code is no longer needed here
                await record_delivery_updated(session, delivery_id=row.id, dossier_code=row.dossier_code,
                                              account_id=row.account_id, channel=row.channel,
                                              destination_masked=row.destination_masked, state=row.state,
                                              event_type=row.event_type, title=row.title)
        log_fn = log.info if outcome == Outcome.DELIVERED else log.warning
        log_fn("delivery_attempt", delivery_id=c.id, channel=c.channel, attempt=c.attempts, outcome=outcome.value,
               state=step.state.value, error=error[:200] or None,
               next_attempt_at=step.next_attempt_at.isoformat() if step.next_attempt_at else None)
        if final:
            self._on_settled()
