"""The reminder scheduler: warns the officials of dossiers due soon and overdue, once per
threshold and due time. The fired-reminders table (one row per dossier and threshold key,
written in the same transaction as the notices) is what makes "once" survive a restart;
the last threshold fired, kept on the deadline row, is what lets a scan read only the
deadlines that have earned their next reminder. A reminder nobody could receive (no
processing official known for the agency) is not marked fired and is tried again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notification.app import directory
from services.notification.app.metrics import REMINDERS
from services.notification.app.notify import Created, notify
from services.notification.domain.reminders import DUE_SOON, reminder_due
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import DossierDeadline, FiredReminder
from services.platform.events import utcnow
from services.platform.logging import get_logger

log = get_logger("notification.reminders")

PROCESSING_ROLE = "processing"
PAGE = 500


class ReminderScheduler:
    def __init__(self, sessions: async_sessionmaker, templates: TemplateRegistry, *, due_soon: timedelta,
                 interval_seconds: float = 60.0, on_created: Callable[[Created], None] = lambda c: None,
                 clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._templates = templates
        self._due_soon = due_soon
        self._interval = interval_seconds
        self._on_created = on_created
        self._clock = clock
        # Reminders that found nobody to tell, logged once each (they are retried every scan).
        self._unreachable: set[tuple[str, str]] = set()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reminder_round_failed")
            await asyncio.sleep(self._interval)

    async def tick(self) -> int:
        """Fire every reminder that is due and not yet fired; returns how many fired.

        Reads only the deadlines whose next threshold has passed (the last one fired is kept
        on the row, indexed with the due time), in pages, so the cost follows what is due,
        not how many dossiers are open."""
        now = self._clock()
        count = 0
        after: tuple[datetime, str] | None = None
        while True:
            async with self._sessions() as session:
                page = (await session.scalars(self._due_query(now, after))).all()
            for deadline in page:
                reminder = reminder_due(due_at=deadline.due_at, now=now, due_soon=self._due_soon)
                if reminder is not None and await self._fire(deadline, reminder, now):
                    count += 1
            if len(page) < PAGE:
                return count
            after = (page[-1].due_at, page[-1].dossier_code)

    def _due_query(self, now: datetime, after: tuple[datetime, str] | None):
        d = DossierDeadline
        query = select(d).where(d.open.is_(True), d.due_at.is_not(None), or_(
            and_(d.reminded == "", d.due_at <= now + self._due_soon),
            and_(d.reminded == DUE_SOON, d.due_at <= now)))
        if after is not None:
            query = query.where(or_(d.due_at > after[0], and_(d.due_at == after[0], d.dossier_code > after[1])))
        return query.order_by(d.due_at, d.dossier_code).limit(PAGE)

    async def _fire(self, deadline: DossierDeadline, reminder, now: datetime) -> bool:
        created = Created()
        key = (deadline.dossier_code, reminder.key)
        try:
            async with self._sessions() as session, session.begin():
                session.add(FiredReminder(dossier_code=deadline.dossier_code, threshold_key=reminder.key, fired_at=now))
                await session.flush()  # a second scheduler (or a restart mid-round) stops here
                if deadline.assignee_id:
                    recipients = [deadline.assignee_id]
                else:
                    officials = await directory.officials_with_role(session, deadline.agency_code, PROCESSING_ROLE)
                    recipients = [o.account_id for o in officials]
                if not recipients:
                    raise _NobodyToTell()
                context = {"recipient_name": "", "dossier_code": deadline.dossier_code,
                           "procedure_name": deadline.procedure_name, "due_at": deadline.due_at,
                           "threshold": reminder.threshold}
                source_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"reminder:{deadline.dossier_code}:{reminder.key}"))
                for account_id in recipients:
                    await notify(session, self._templates, source_id=source_id, account_id=account_id,
                                 kind=reminder.event_type, context=context, dossier_code=deadline.dossier_code,
                                 created=created)
                await self._mark(session, deadline, reminder)
        except _NobodyToTell:
            # Not marked fired: the next scan tries again (an official may be appointed meanwhile).
            if key not in self._unreachable:
                self._unreachable.add(key)
                log.warning("reminder_without_recipients", dossier_code=deadline.dossier_code,
                            agency_code=deadline.agency_code, threshold=reminder.threshold)
            return False
        except IntegrityError:
            # Fired before for this due time (by another scheduler, or before a pause): only
            # the row's marker is behind.
            async with self._sessions() as session, session.begin():
                await self._mark(session, deadline, reminder)
            return False
        self._unreachable.discard(key)
        REMINDERS.labels(reminder.threshold).inc()
        log.info("reminder_fired", dossier_code=deadline.dossier_code, threshold=reminder.threshold,
                 recipients=created.notices)
        self._on_created(created)
        return True

    @staticmethod
    async def _mark(session, deadline: DossierDeadline, reminder) -> None:
        """Record the threshold on the deadline, unless the due time moved meanwhile."""
        await session.execute(update(DossierDeadline).where(
            DossierDeadline.dossier_code == deadline.dossier_code, DossierDeadline.due_at == deadline.due_at)
            .values(reminded=reminder.threshold))


class _NobodyToTell(Exception):
    """No official to remind: roll the round back so the reminder is not marked fired."""
