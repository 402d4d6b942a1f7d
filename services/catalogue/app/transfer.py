"""Import and export of the catalogue (JSON or Excel) and of agency reorganisations.

An import is all or nothing: every row is checked first and every problem is reported by
row and field; only a clean file is written, in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.app import workbook
from services.catalogue.app.admin import (
    active_agency_codes,
    add_draft,
    apply_content,
    audit,
    publish_version,
    require_city_admin,
    stamp,
)
from services.catalogue.app.queries import now, state
from services.catalogue.domain import versions as rules
from services.catalogue.domain.model import diff, normalise
from services.catalogue.domain.validation import publish_problems, validate
from services.catalogue.store.models import Procedure
from services.platform.errors import InvalidInput
from services.platform.principal import Principal

FORMAT = "motcua-catalogue/1"
MAX_FILE_BYTES = 8_000_000
MAX_REPORTED = 500
CONTENT_TYPES = {"json": "application/json",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    codes: list[str] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)  # procedures given a draft by an agency merge


def _format(fmt: str) -> str:
    fmt = (fmt or "").lower().lstrip(".")
    if fmt not in CONTENT_TYPES:
        raise InvalidInput("Định dạng tệp phải là json hoặc xlsx.", fields={"format": "must be json or xlsx"})
    return fmt


def check_size(content: bytes) -> None:
    if not content:
        raise InvalidInput("Tệp nhập trống.", fields={"file": "empty"})
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput(f"Tệp nhập quá lớn (tối đa {MAX_FILE_BYTES // 1_000_000} MB).", fields={"file": "too large"})


def json_records(content: bytes, key: str, expected: str) -> list:
    """The list a JSON import file holds: the file itself, or its ``key``."""
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("Tệp không phải JSON hợp lệ.", fields={"file": "invalid JSON"}) from exc
    records = data.get(key) if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise InvalidInput(f"Tệp JSON phải là {expected} hoặc có khóa \"{key}\".",
                           fields={"file": f"expected a list of {key}"})
    return records


def read_items(content: bytes, fmt: str) -> tuple[list[workbook.SheetItem], dict[str, str]]:
    check_size(content)
    if _format(fmt) == "xlsx":
        return workbook.read(content)
    records = json_records(content, "procedures", "một danh sách thủ tục")
    items, errors = [], {}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            errors[f"row {number}"] = "phải là một đối tượng"
            continue
        items.append(workbook.SheetItem(record, f"row {number}"))
    return items, errors


def _check(items: list[workbook.SheetItem], agencies: set[str], *, publish: bool,
           errors: dict[str, str]) -> list[tuple[workbook.SheetItem, dict]]:
    checked = []
    first_row: dict[str, str] = {}
    for item in items:
        content = normalise(item.raw)
        problems = validate(content, agencies=agencies)
        if publish and not problems:
            problems = publish_problems(content)
        code = content["code"]
        if code and code in first_row:
            problems["code"] = f"mã {code} trùng với {first_row[code]}"
        first_row.setdefault(code, item.label)
        for path, reason in problems.items():
            errors[item.where(path)] = reason
        checked.append((item, content))
    return checked


async def import_catalogue(session: AsyncSession, principal: Principal, content: bytes, fmt: str, *,
                           publish: bool = False, dry_run: bool = False) -> ImportResult:
    """Create or revise procedures from a file. A code already in the catalogue gets a new
    draft version (or its open draft is revised) when the content differs."""
    require_city_admin(principal)
    items, errors = read_items(content, fmt)
    if not items and not errors:
        raise InvalidInput("Tệp không có thủ tục nào.", fields={"file": "no procedures"})
    checked = _check(items, await active_agency_codes(session), publish=publish, errors=errors)
    if errors:
        shown = dict(list(errors.items())[:MAX_REPORTED])
        listed = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:3])
        raise InvalidInput(f"Không nhập được: {len(errors)} lỗi, chưa ghi gì. {listed}.", fields=shown)
    result = ImportResult(dry_run=dry_run)
    moment = now()
    for item, new in checked:
        code = new["code"]
        rows = list(await session.scalars(select(Procedure).where(Procedure.code == code)
                                          .order_by(Procedure.version)))
        latest = rows[-1] if rows else None
        if latest is not None and latest.data == new and (not publish or latest.status != "draft"):
            result.unchanged += 1
            continue
        result.codes.append(code)
        if latest is None:
            result.created += 1
        else:
            result.updated += 1
        if dry_run:
            continue
        if latest is not None and latest.status == "draft":
            row, old = latest, dict(latest.data)
            apply_content(row, new)
            stamp(row, principal, moment)
        else:
            row = add_draft(session, principal, code, (latest.version + 1) if latest else 1, new, moment)
            old = latest.data if latest else None
        await audit(session, principal, action="import", entity="procedure", key=code, version=row.version,
                    changes=diff(old, new))
        if publish:
            await publish_version(session, principal, rows + ([row] if row not in rows else []), row, moment, moment)
    return result


def _exported(row: Procedure) -> dict:
    return {"code": row.code, "version": row.version, "status": row.status,
            "effective_from": row.effective_from.isoformat() if row.effective_from else None,
            "effective_to": row.effective_to.isoformat() if row.effective_to else None,
            **{k: v for k, v in row.data.items() if k != "code"}}


async def export_catalogue(session: AsyncSession, principal: Principal, fmt: str, *,
                           all_versions: bool = False) -> tuple[bytes, str, str]:
    """The catalogue as a file that ``import_catalogue`` reads back: the version in force of
    each procedure (else its latest), or every version."""
    require_city_admin(principal)
    fmt = _format(fmt)
    rows = list(await session.scalars(select(Procedure).order_by(Procedure.code, Procedure.version)))
    if not all_versions:
        moment = now()
        chosen: dict[str, Procedure] = {}
        for row in rows:
            live = rules.in_force(state(row), moment)
            held = chosen.get(row.code)
            if held is None or live or not rules.in_force(state(held), moment):
                chosen[row.code] = row
        rows = list(chosen.values())
    items = [_exported(r) for r in rows]
    stamp = now().strftime("%Y%m%d-%H%M%S")
    if fmt == "xlsx":
        return workbook.write(items), CONTENT_TYPES["xlsx"], f"danh-muc-thu-tuc-{stamp}.xlsx"
    body = {"format": FORMAT, "exported_at": now().isoformat(), "procedures": items}
    return (json.dumps(body, ensure_ascii=False, indent=1).encode(), CONTENT_TYPES["json"],
            f"danh-muc-thu-tuc-{stamp}.json")
