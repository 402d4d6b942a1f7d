"""Reminders to officials: a dossier is "due soon" some hours before its due time and
"overdue" after it. Each threshold fires once per dossier and due time, so an extension
(a new due time) earns new reminders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DUE_SOON = "due_soon"
OVERDUE = "overdue"


@dataclass(frozen=True)
class Reminder:
    threshold: str  # due_soon or overdue
    key: str  # unique per dossier and due time: what the fired-reminders table stores

    @property
    def event_type(self) -> str:
        return f"reminder.{self.threshold}"


def reminder_due(*, due_at: datetime, now: datetime, due_soon: timedelta) -> Reminder | None:
    """The reminder a dossier has earned at ``now``: overdue beats due soon (a dossier found
    already late is not first told it is nearly late)."""
    stamp = due_at.strftime("%Y%m%dT%H%M%SZ")
    if now >= due_at:
        return Reminder(OVERDUE, f"{OVERDUE}@{stamp}")
    if now >= due_at - due_soon:
        return Reminder(DUE_SOON, f"{DUE_SOON}@{stamp}")
    return None
