"""The agency tree as data. A reorganisation (merge, rename, move) arrives as rows of
agencies; an agency is never deleted: a merged or renamed one keeps its code, names its
successor and gets a ``valid_to``, so dossiers filed with it still resolve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from services.catalogue.domain.model import AGENCY_CODE

KINDS = ("city", "department", "board", "commune", "team")
MAX_CODE = 35
MAX_NAME = 300  # the agencies.name column


@dataclass
class AgencyRow:
    code: str
    name: str
    kind: str
    parent_code: str | None
    successor_code: str | None
    valid_from: datetime | None
    valid_to: datetime | None


def parse_moment(value) -> datetime | None | str:
    """A date or date-time (ISO text or a spreadsheet date) as aware UTC; a string back when
    it cannot be read (the validator reports it)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def row_from_raw(raw: dict) -> tuple[AgencyRow, dict[str, str]]:
    errors: dict[str, str] = {}

    def text(key: str) -> str:
        return "" if raw.get(key) is None else str(raw[key]).strip()

    moments = {}
    for key in ("valid_from", "valid_to"):
        moment = parse_moment(raw.get(key))
        if isinstance(moment, str):
            errors[key] = "ngày phải có dạng YYYY-MM-DD"
            moment = None
        moments[key] = moment
    row = AgencyRow(code=text("code"), name=text("name"), kind=text("kind"), parent_code=text("parent_code") or None,
                    successor_code=text("successor_code") or None, **moments)
    return row, errors


def validate_rows(rows: list[tuple[str, AgencyRow]], existing: dict[str, AgencyRow]) -> dict[str, str]:
    """``rows``: (label, row) as read; ``existing``: the tree now. Returns {"label: field": reason}."""
    errors: dict[str, str] = {}
    incoming: dict[str, str] = {}
    merged = dict(existing)
    for label, row in rows:
        if row.code in incoming:
            errors[f"{label}: code"] = f"mã {row.code} trùng với {incoming[row.code]}"
        incoming.setdefault(row.code, label)
        merged[row.code] = row
    for label, row in rows:
        def bad(field: str, reason: str) -> None:
            errors.setdefault(f"{label}: {field}", reason)

        if len(row.code) > MAX_CODE or not AGENCY_CODE.match(row.code):
            bad("code", "mã định danh phải có dạng 000.00.01.H29 (tối đa 35 ký tự)")
        if not row.name:
            bad("name", "bắt buộc")
        elif len(row.name) > MAX_NAME:
            bad("name", f"tối đa {MAX_NAME} ký tự")
        if row.kind not in KINDS:
            bad("kind", "phải là " + ", ".join(KINDS))
        if row.parent_code:
            if row.parent_code == row.code:
                bad("parent_code", "không thể là chính nó")
            elif row.parent_code not in merged:
                bad("parent_code", f"không có cơ quan mã {row.parent_code}")
        elif row.kind != "city":
            bad("parent_code", "bắt buộc (trừ cấp thành phố)")
        if row.successor_code:
            if row.successor_code == row.code:
                bad("successor_code", "không thể là chính nó")
            elif row.successor_code not in merged:
                bad("successor_code", f"không có cơ quan mã {row.successor_code}")
            if row.valid_to is None:
                bad("valid_to", "cơ quan đã sáp nhập, đổi tên phải có ngày hết hiệu lực")
        if row.valid_from and row.valid_to and row.valid_from >= row.valid_to:
            bad("valid_to", "phải sau ngày bắt đầu hiệu lực")
    for label, row in rows:
        seen = {row.code}
        parent = row.parent_code
        while parent and parent in merged:
            if parent in seen:
                errors.setdefault(f"{label}: parent_code", "tạo thành vòng lặp trong cây cơ quan")
                break
            seen.add(parent)
            parent = merged[parent].parent_code
    return errors


def repointed(content: dict, merged: str, successor: str) -> dict | None:
    """A procedure's content with every mention of a merged agency (receiving, processing,
    a workflow step's agency) replaced by its successor; None when it does not name it."""
    if merged not in (content.get("agency_code"), content.get("processing_agency_code")) and not any(
            step.get("agency_code") == merged for step in content.get("workflow") or []):
        return None
    swap = {merged: successor}
    out = dict(content)
    for key in ("agency_code", "processing_agency_code"):
        if out.get(key):
            out[key] = swap.get(out[key], out[key])
    out["workflow"] = [dict(step, agency_code=swap.get(step.get("agency_code"), step.get("agency_code")))
                       for step in content.get("workflow") or []]
    return out
