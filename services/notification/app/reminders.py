"""The reminder scheduler: warns the officials of dossiers due soon and overdue, once per
threshold and due time. The fired-reminders table (one row per dossier and threshold key,
written in the same transaction as the notices) is what makes "once" survive a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notification.app import directory
from services.notification.app.metrics import REMINDERS
from services.notification.app.notify import Created, notify
from services.notification.domain.reminders import reminder_due
from services.notification.domain.templates import TemplateRegistry
from services.notification.store.models import DossierDeadline, FiredReminder
from services.platform.events import utcnow
from services.platform.logging import get_logger

log = get_logger("notification.reminders")

PROCESSING_ROLE = "processing"


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
        """Fire every reminder that is due and not yet fired; returns how many fired."""
        now = self._clock()
        async with self._sessions() as session:
            candidates = (await session.scalars(select(DossierDeadline).where(
                DossierDeadline.open.is_(True), DossierDeadline.due_at.is_not(None),
                DossierDeadline.due_at <= now + self._due_soon))).all()
            fired = set((await session.execute(select(FiredReminder.dossier_code, FiredReminder.threshold_key).where(
                FiredReminder.dossier_code.in_([c.dossier_code for c in candidates])))).all()) if candidates else set()
        count = 0
        for deadline in candidates:
            reminder = reminder_due(due_at=deadline.due_at, now=now, due_soon=self._due_soon)
            if reminder is None or (deadline.dossier_code, reminder.key) in fired:
                continue
            if await self._fire(deadline, reminder, now):
                count += 1
        return count

    async def _fire(self, deadline: DossierDeadline, reminder, now: datetime) -> bool:
        created = Created()
        try:
            async with self._sessions() as session, session.begin():
                session.add(FiredReminder(dossier_code=deadline.dossier_code, threshold_key=reminder.key, fired_at=now))
                await session.flush()  # a second scheduler (or a restart mid-round) stops here
                if deadline.assignee_id:
                    recipients = [deadline.assignee_id]
                else:
                    officials = await directory.officials_with_role(session, deadline.agency_code, PROCESSING_ROLE)
                    recipients = [o.account_id for o in officials]
                context = {"recipient_name": "", "dossier_code": deadline.dossier_code,
                           "procedure_name": deadline.procedure_name, "due_at": deadline.due_at,
                           "threshold": reminder.threshold}
                source_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"reminder:{deadline.dossier_code}:{reminder.key}"))
                for account_id in recipients:
                    await notify(session, self._templates, source_id=source_id, account_id=account_id,
                                 kind=reminder.event_type, context=context, dossier_code=deadline.dossier_code,
                                 created=created)
        except IntegrityError:
            return False
        REMINDERS.labels(reminder.threshold).inc()
        log.info("reminder_fired", dossier_code=deadline.dossier_code, threshold=reminder.threshold,
                 recipients=created.notices)
        self._on_created(created)
        return True
