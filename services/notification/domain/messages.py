"""What the applicant is told for each dossier event, in Vietnamese.

A first set of texts for the in-app inbox; the notification issue turns them into
versioned templates per channel and locale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

from motcua.v1 import events_pb2

VIETNAM = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _due(event: events_pb2.DossierStatusChanged) -> str:
    if not event.HasField("due_at"):
        return ""
    due = event.due_at.ToDatetime(tzinfo=timezone.utc).astimezone(VIETNAM)
    return f" Ngày hẹn trả kết quả: {due:%d/%m/%Y}."


def applicant_message(event_type: str, e: events_pb2.DossierStatusChanged) -> Message | None:
    """The notice for the applicant, or None when the event is not theirs to hear about."""
    name = f"hồ sơ {e.dossier_code} ({e.procedure_name})"
    cap = "H" + name[1:]
    reason = f" Lý do: {e.note}." if e.note else ""
    texts = {
        "dossier.submitted": ("Đã nộp hồ sơ", f"Bạn đã nộp {name}. Cơ quan sẽ xem xét tiếp nhận."),
        "dossier.accepted": ("Hồ sơ đã được tiếp nhận", f"{cap} đã được tiếp nhận.{_due(e)}"),
        "dossier.supplement_requested": ("Yêu cầu bổ sung hồ sơ",
                                         f"{cap} cần bổ sung, hoàn thiện.{reason}"),
        "dossier.refused": ("Hồ sơ không được tiếp nhận", f"{cap} không được tiếp nhận.{reason}"),
        "dossier.withdrawn": ("Đã rút hồ sơ", f"{cap} đã được rút theo yêu cầu của bạn."),
    }
    text = texts.get(event_type)
    return Message(*text) if text else None
