"""The event every dossier transition publishes (dossier.*), carrying the national status code."""

from __future__ import annotations

from motcua.v1 import events_pb2
from services.dossier.domain.lifecycle import Status
from services.dossier.store.models import Dossier
from services.dossier.store.writes import as_utc


def status_event(dossier: Dossier, action: str, actor_id: str, actor_role: str, note: str = "", *,
                 reason: str = "", new_due_at=None, assignee_id: str = "", missing_items=()):
    event = events_pb2.DossierStatusChanged(
        dossier_code=dossier.code, applicant_id=dossier.applicant_id, procedure_code=dossier.procedure_code,
        procedure_name=dossier.procedure_name, agency_code=dossier.agency_code,
        status_code=dossier.status_code, status=Status(dossier.status_code).label, action=action,
        actor_id=actor_id, actor_role=actor_role, note=note, reason=reason,
        receipt_number=dossier.code if dossier.accepted_at is not None else "",
        assignee_id=assignee_id or dossier.assignee_id or "", applicant_name=dossier.applicant_name,
        missing_items=list(missing_items), version=dossier.version or 1,
    )
    if dossier.due_at is not None:
        event.due_at.FromDatetime(as_utc(dossier.due_at))
    if new_due_at is not None:
        event.new_due_at.FromDatetime(as_utc(new_due_at))
    if dossier.step_due_at is not None:
        event.step_due_at.FromDatetime(as_utc(dossier.step_due_at))
    return event
