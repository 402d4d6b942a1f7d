"""Procedure versions: draft -> published -> retired, and which one is in force.

A dossier pins the version it was filed under, so a published version is never edited:
a change is a new draft version, published with an effective date. Publishing version N
closes the versions before it at N's effective date; those already past it are retired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.platform.errors import FailedPrecondition, InvalidInput

# How far in the past a date may be (clocks differ, a form takes time to submit): a version
# is never put in force retroactively, since dossiers were already filed under the old one.
PAST_TOLERANCE = timedelta(minutes=5)


@dataclass
class VersionState:
    version: int
    status: str
    effective_from: datetime | None = None
    effective_to: datetime | None = None


def in_force(v: VersionState, now: datetime) -> bool:
    if v.status != "published":
        return False
    if v.effective_from is not None and v.effective_from > now:
        return False
    return v.effective_to is None or v.effective_to > now


def current(versions: list[VersionState], now: datetime) -> VersionState | None:
    """The published version in force now (the newest one, should dates overlap)."""
    live = [v for v in versions if in_force(v, now)]
    return max(live, key=lambda v: v.version) if live else None


def check_editable(v: VersionState) -> None:
    if v.status != "draft":
        raise FailedPrecondition(f"Phiên bản {v.version} đã {_label(v.status)}, không sửa được; hãy tạo phiên bản nháp mới.",
                                 fields={"version": f"status is {v.status}"})


def check_no_open_draft(versions: list[VersionState]) -> None:
    drafts = [v.version for v in versions if v.status == "draft"]
    if drafts:
        raise FailedPrecondition(f"Thủ tục đang có phiên bản nháp {drafts[0]}; hãy sửa hoặc công bố phiên bản đó.",
                                 fields={"version": f"draft {drafts[0]} exists"})


def publish(versions: list[VersionState], version: int, effective_from: datetime, now: datetime) -> list[VersionState]:
    """Mark ``version`` published from ``effective_from``; return the other versions changed."""
    target = next(v for v in versions if v.version == version)
    if target.status != "draft":
        raise FailedPrecondition(f"Chỉ công bố được phiên bản nháp (phiên bản {version} đã {_label(target.status)}).",
                                 fields={"version": f"status is {target.status}"})
    if effective_from < now - PAST_TOLERANCE:
        raise InvalidInput("Ngày bắt đầu hiệu lực không được ở quá khứ.",
                           fields={"effective_from": "must not be in the past"})
    for other in versions:
        if other.status == "published" and other.effective_from and effective_from < other.effective_from:
            raise InvalidInput(
                f"Ngày bắt đầu hiệu lực phải từ {other.effective_from:%d/%m/%Y %H:%M} (UTC), ngày bắt đầu của "
                f"phiên bản {other.version} đã công bố.",
                fields={"effective_from": f"before the start of published version {other.version}"})
    changed = []
    for other in versions:
        if other.version == version or other.status != "published":
            continue
        if other.effective_to is None or other.effective_to > effective_from:
            other.effective_to = effective_from
            if effective_from <= now:
                other.status = "retired"
            changed.append(other)
    target.status = "published"
    target.effective_from = effective_from
    target.effective_to = None
    return changed


def retire(v: VersionState, effective_to: datetime, now: datetime) -> None:
    if v.status != "published":
        raise FailedPrecondition(f"Chỉ bãi bỏ được phiên bản đã công bố (phiên bản {v.version} đang {_label(v.status)}).",
                                 fields={"version": f"status is {v.status}"})
    if effective_to < now - PAST_TOLERANCE:
        raise InvalidInput("Ngày hết hiệu lực không được ở quá khứ.", fields={"effective_to": "must not be in the past"})
    if v.effective_from is not None and effective_to < v.effective_from:
        raise InvalidInput(f"Ngày hết hiệu lực phải từ ngày bắt đầu hiệu lực ({v.effective_from:%d/%m/%Y %H:%M} UTC).",
                           fields={"effective_to": "before effective_from"})
    v.effective_to = effective_to
    if effective_to <= now:
        v.status = "retired"


def _label(status: str) -> str:
    return {"draft": "là bản nháp", "published": "được công bố", "retired": "bị bãi bỏ"}.get(status, status)
