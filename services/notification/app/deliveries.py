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

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notification.app import directory
from services.notification.app.metrics import ATTEMPTS
from services.notification.app.notify import delivery_updated_row
from services.notification.channels.base import Channel, OutgoingMessage, PermanentFailure, TemporaryFailure
from services.notification.domain.delivery import FINAL, PENDING, Backoff, Outcome, State, after_attempt
from services.notification.domain.masking import mask
from services.notification.domain.ratelimit import TokenBucket
from services.notification.store.models import Delivery, outbox
from services.notification.store.writer import TransactionRunner
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
                 on_settled: Callable[[], None] = lambda: None, clock: Callable[[], datetime] = utcnow,
                 transactions: TransactionRunner | None = None):
        self._sessions = sessions
        # Shared with the consumer in the service, so their SQLite writes queue in one line.
        self._transactions = transactions or TransactionRunner(sessions.kw["bind"])
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
            # Under a backlog, wait for a few tokens rather than claim one at a time: each claim
            # is a write transaction. A one-time code (``only``) goes at once.
            if room <= 0 or (only is None and room < min(bucket.burst, max(1.0, bucket.rate / 4))):
                continue
            got = await self._claim(channel, min(room, BATCH), only=only)
            bucket.take(time.monotonic(), len(got))
            claimed.extend(got)
        if not claimed:
            return 0
        # Sends run together; what has been sent is settled at once, together with whatever else
        # finished meanwhile (one transaction): the moment when a crash would leave a sent
        # message unrecorded (and send it again) stays short, and settling costs few transactions.
        finished: asyncio.Queue = asyncio.Queue()

        async def send(c: Claimed) -> None:
            finished.put_nowait((c, *await self._send(c)))

        tasks = [asyncio.create_task(send(c)) for c in claimed]
        try:
            remaining = len(claimed)
            while remaining:
                results = [await finished.get()]
                while not finished.empty():
                    results.append(finished.get_nowait())
                remaining -= len(results)
                await self._settle(results)
        finally:
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(claimed)

    async def _claim(self, channel: str, limit: int, *, only: str | None) -> list[Claimed]:
        now = self._clock()
        return await self._transactions.run(lambda conn: self._claim_in(conn, channel, limit, only, now))

    def _claim_in(self, conn: Connection, channel: str, limit: int, only: str | None, now: datetime) -> list[Claimed]:
        t = Delivery.__table__
        query = (select(t.c.id, t.c.account_id, t.c.destination, t.c.destination_masked, t.c.title, t.c.body,
                        t.c.attempts)
                 .where(t.c.channel == channel, t.c.state.in_(PENDING), t.c.next_attempt_at <= now)
                 .order_by(t.c.next_attempt_at).limit(limit))
        if only:
            query = query.where(t.c.id == only)
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if not rows:
            return []
        unaddressed = sorted({row.account_id for row in rows if not row.destination})
        contacts = directory.load_contacts(conn, unaddressed) if unaddressed else {}
        claimed, changes = [], []
        for row in rows:
            attempts = row.attempts + 1
            destination, masked = row.destination, row.destination_masked
            outcome, error = None, ""
            if not destination:
                # Looked up now (the contact was not known when the notice was made): only a
                # verified address is written to, as audience.channels_for says.
                contact = contacts.get(row.account_id)
                address = "" if contact is None else (contact.email if channel == "email" else contact.phone)
                verified = contact is not None and (contact.email_verified if channel == "email"
                                                    else contact.phone_verified)
                if address and verified:
                    destination, masked = address, mask(channel, address)
                elif contact is None:
                    outcome, error = Outcome.TEMPORARY, "contact not known yet"
                elif address:
                    outcome, error = Outcome.PERMANENT, f"{channel} address not verified"
                else:
                    outcome, error = Outcome.PERMANENT, f"no {channel} address on file"
            changes.append({"b_id": row.id, "state": State.SENDING.value, "attempts": attempts,
                            "next_attempt_at": now + self._lease, "updated_at": now, "destination": destination,
                            "destination_masked": masked})
            claimed.append(Claimed(row.id, channel, destination, row.title, row.body, attempts, outcome, error))
        conn.execute(update(t).where(t.c.id == bindparam("b_id")), changes)
        return claimed

    def _settle_in(self, conn: Connection, query, by_id: dict, now: datetime) -> list:
        t = Delivery.__table__
        settled: list[tuple[Claimed, Outcome, str, State, datetime | None]] = []
        changes, events = [], []
        for row in conn.execute(query).all():
            c, outcome, error = by_id[row.id]
            if row.state != State.SENDING.value or row.attempts != c.attempts:
                continue  # the lease ran out and another attempt owns it now
            step = after_attempt(state=State.SENDING, outcome=outcome, attempts=row.attempts,
                                 created_at=row.created_at, now=now, backoff=self._backoff,
                                 expires_at=row.expires_at)
            final = step.state in FINAL
            changes.append({
                "b_id": row.id, "state": step.state.value, "next_attempt_at": step.next_attempt_at,
                "last_error": error[:500], "updated_at": now, "settled_at": now if final else None,
                # A one-time code is no longer needed here once settled.
                "body": "" if final and row.event_type == "one_time_code" else row.body,
            })
            if final:
                events.append(delivery_updated_row(
                    delivery_id=row.id, dossier_code=row.dossier_code, account_id=row.account_id,
                    channel=row.channel, destination_masked=row.destination_masked, state=step.state.value,
                    event_type=row.event_type, title=row.title))
            settled.append((c, outcome, error, step.state, step.next_attempt_at))
        if changes:
            conn.execute(update(t).where(t.c.id == bindparam("b_id")), changes)
        if events:
            conn.execute(insert(outbox), events)
        return settled

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

    async def _settle(self, results: list[tuple[Claimed, Outcome, str]]) -> None:
        """Settle attempts by the state machine in one transaction; a final state is announced
        through the outbox in the same transaction."""
        for c, outcome, _ in results:
            ATTEMPTS.labels(c.channel, outcome.value).inc()
        now = self._clock()
        t = Delivery.__table__
        by_id = {c.id: (c, outcome, error) for c, outcome, error in results}
        query = select(t.c.id, t.c.state, t.c.attempts, t.c.created_at, t.c.expires_at, t.c.event_type,
                       t.c.body, t.c.dossier_code, t.c.account_id, t.c.channel, t.c.destination_masked,
                       t.c.title).where(t.c.id.in_(list(by_id)))
        if self._skip_locked:
            query = query.with_for_update()
        settled = await self._transactions.run(lambda conn: self._settle_in(conn, query, by_id, now))
        for c, outcome, error, state, next_at in settled:
            log_fn = log.info if outcome == Outcome.DELIVERED else log.warning
            log_fn("delivery_attempt", delivery_id=c.id, channel=c.channel, attempt=c.attempts,
                   outcome=outcome.value, state=state.value, error=error[:200] or None,
                   next_attempt_at=next_at.isoformat() if next_at else None)
        if any(state in FINAL for _, _, _, state, _ in settled):
            self._on_settled()
