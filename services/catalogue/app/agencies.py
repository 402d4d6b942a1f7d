"""Agency reorganisations imported by a city administrator: new agencies, renames, moves,
merges (successor and end date). Nothing is deleted; every change is audited.

A merge re-points the procedures that name the merged agency: each one gets a draft version
(or its open draft is revised) naming the successor, audited as ``agency_merge``. Nothing
changes for citizens until the administrator reviews and publishes those drafts (with the
merge date as effective date); the import's result lists them (``drafts``)."""

from __future__ import annotations

import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.app.admin import add_draft, apply_content, audit, require_city_admin, stamp
from services.catalogue.app.queries import now
from services.catalogue.app.transfer import MAX_REPORTED, ImportResult, _format, check_size, json_records
from services.catalogue.domain.agencies import AgencyRow, repointed, row_from_raw, validate_rows
from services.catalogue.domain.model import diff
from services.catalogue.store.models import Agency, Procedure
from services.platform.errors import InvalidInput
from services.platform.principal import Principal

COLUMNS = ("code", "name", "kind", "parent_code", "successor_code", "valid_from", "valid_to")


def _as_row(a: Agency) -> AgencyRow:
    return AgencyRow(a.code, a.name, a.kind, a.parent_code, a.successor_code, a.valid_from, a.valid_to)


def _view(row: AgencyRow) -> dict:
    return {"name": row.name, "kind": row.kind, "parent_code": row.parent_code,
            "successor_code": row.successor_code,
            "valid_from": row.valid_from.isoformat() if row.valid_from else None,
            "valid_to": row.valid_to.isoformat() if row.valid_to else None}


def _read(content: bytes, fmt: str) -> list[tuple[str, dict]]:
    check_size(content)
    if _format(fmt) == "xlsx":
        from openpyxl import load_workbook  # here: 13 MiB a catalogue that never reads Excel need not hold

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            sheet = book["agencies"] if "agencies" in book.sheetnames else book.worksheets[0]
        except Exception as exc:
            raise InvalidInput("Tệp không phải sổ tính Excel (.xlsx) hợp lệ.", fields={"file": "not an xlsx workbook"}) from exc
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h else "" for h in next(rows, ())]
        return [(f"agencies row {n}", {h: v for h, v in zip(header, values) if h})
                for n, values in enumerate(rows, start=2) if any(v not in (None, "") for v in values)]
    records = json_records(content, "agencies", "danh sách cơ quan")
    return [(f"row {n}", r if isinstance(r, dict) else {"code": r}) for n, r in enumerate(records, start=1)]


async def import_agencies(session: AsyncSession, principal: Principal, content: bytes, fmt: str, *,
                          dry_run: bool = False) -> ImportResult:
    require_city_admin(principal)
    raw_rows = _read(content, fmt)
    if not raw_rows:
        raise InvalidInput("Tệp không có cơ quan nào.", fields={"file": "no agencies"})
    errors: dict[str, str] = {}
    rows: list[tuple[str, AgencyRow]] = []
    for label, raw in raw_rows:
        row, problems = row_from_raw(raw)
        errors.update({f"{label}: {k}": v for k, v in problems.items()})
        rows.append((label, row))
    stored = {a.code: a for a in await session.scalars(select(Agency))}
    errors.update(validate_rows(rows, {code: _as_row(a) for code, a in stored.items()}))
    if errors:
        listed = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:3])
        raise InvalidInput(f"Không nhập được: {len(errors)} lỗi, chưa ghi gì. {listed}.",
                           fields=dict(list(errors.items())[:MAX_REPORTED]))
    result = ImportResult(dry_run=dry_run)
    for _, row in rows:
        current = stored.get(row.code)
        old = _view(_as_row(current)) if current else None
        new = _view(row)
        if old == new:
            result.unchanged += 1
            continue
        result.codes.append(row.code)
        if current is None:
            result.created += 1
        else:
            result.updated += 1
        if dry_run:
            continue
        if current is None:
            current = Agency(code=row.code, demo_code=False, data={})
            session.add(current)
        current.name, current.kind, current.parent_code = row.name, row.kind, row.parent_code
        merged_now = row.successor_code and (old is None or old["successor_code"] != row.successor_code)
        current.successor_code, current.valid_from, current.valid_to = row.successor_code, row.valid_from, row.valid_to
        await audit(session, principal, action="agency_import", entity="agency", key=row.code, changes=diff(old, new))
        if merged_now:
            result.drafts += await _repoint_procedures(session, principal, row.code, row.successor_code)
    return result


async def _repoint_procedures(session: AsyncSession, principal: Principal, merged: str, successor: str) -> list[str]:
    """Draft versions naming ``successor`` for the live procedures that name ``merged``."""
    rows = await session.scalars(select(Procedure).order_by(Procedure.code, Procedure.version))
    latest: dict[str, Procedure] = {}
    for procedure in rows:
        latest[procedure.code] = procedure
    moment, codes = now(), []
    for code, procedure in latest.items():
        content = repointed(procedure.data, merged, successor) if procedure.status != "retired" else None
        if content is None:
            continue
        before = procedure.data
        if procedure.status == "draft":
            row = procedure
            apply_content(row, content)
            stamp(row, principal, moment)
        else:
            row = add_draft(session, principal, code, procedure.version + 1, content, moment)
        await audit(session, principal, action="agency_merge", entity="procedure", key=code, version=row.version,
                    changes=diff(before, content))
        codes.append(code)
    return codes
