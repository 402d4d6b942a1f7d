"""What a template may say: the values taken from an event, the same names for every kind."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message


def field_value(event: Message, name: str, default=""):
    """A field by its contract name; empty when this build's contract lacks it."""
    if name not in event.DESCRIPTOR.fields_by_name:
        return default
    return getattr(event, name)


def _time(event: Message, name: str) -> datetime | None:
    if name not in event.DESCRIPTOR.fields_by_name or not event.HasField(name):
        return None
    return event.__getattribute__(name).ToDatetime(tzinfo=UTC)


def dossier_context(event: Message, *, recipient_name: str = "", occurred_at: datetime | None = None) -> dict:
    """``event`` is a DossierStatusChanged."""
    applicant = field_value(event, "applicant_name") or recipient_name
    return {
        "recipient_name": recipient_name or applicant,
        "applicant_name": applicant,
        "dossier_code": event.dossier_code,
        "receipt_number": field_value(event, "receipt_number") or event.dossier_code,
        "procedure_name": event.procedure_name,
        "agency_code": event.agency_code,
        "status": event.status,
        "reason": field_value(event, "reason") or event.note,
        "note": event.note,
        "due_at": _time(event, "due_at"),
        "new_due_at": _time(event, "new_due_at") or _time(event, "due_at"),
        "missing_items": list(field_value(event, "missing_items", ())),
        "occurred_at": occurred_at,
    }


def sample_context(kind: str) -> dict:
    """The sample an administrator previews a template with."""
    due = datetime(2026, 9, 4, 3, 0, tzinfo=UTC)
    return {
        "recipient_name": "Nguyễn Văn An", "applicant_name": "Nguyễn Văn An",
        "dossier_code": "000.00.01.H29-260903-0001", "receipt_number": "000.00.01.H29-260903-0001",
        "procedure_name": "Đăng ký khai sinh", "agency_code": "000.00.01.H29", "status": "Đang xử lý",
        "reason": "Cần xác minh thêm thông tin với cơ quan liên quan", "note": "",
        "due_at": due, "new_due_at": datetime(2026, 9, 9, 3, 0, tzinfo=UTC),
        "missing_items": ["Giấy chứng sinh (bản chính)"], "occurred_at": datetime(2026, 9, 3, 2, 0, tzinfo=UTC),
        "code": "482913", "purpose": "verify_phone", "expires_minutes": 5,
        "subject": "dossier.accepted", "error": "payload không đọc được", "consumer": "notification-inbox",
    } | ({"threshold": kind.rpartition(".")[2]} if kind.startswith("reminder.") else {})
