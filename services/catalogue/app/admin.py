"""City administrators change the catalogue: drafts, publishing, retiring. Each use case is
one transaction that writes the change, its audit entry (old and new values) and, when
citizens' filing changes, the event through the outbox."""

from __future__ import annotations

import copy
import json
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.v1 import catalogue_pb2
from services.catalogue.app.messages import procedure_message
from services.catalogue.app.queries import agency_names, now, state, versions_of
from services.catalogue.domain import versions as rules
from services.catalogue.domain.model import diff, normalise, search_text
from services.catalogue.domain.text import fold
from services.catalogue.domain.validation import publish_problems, validate
from services.catalogue.store.models import Agency, AuditEntry, Procedure, outbox
from services.platform.errors import FailedPrecondition, InvalidInput, NotFound, PermissionDenied
from services.platform.events import record_event
from services.platform.principal import Principal

CITY_ADMIN = "city_admin"
PRODUCER = "catalogue"
SYSTEM = Principal(account_id="system", kind="service", name="Hệ thống")


def require_city_admin(principal: Principal) -> None:
    if not (principal.is_official and principal.has_role(CITY_ADMIN)) and principal is not SYSTEM:
        raise PermissionDenied("Chỉ quản trị viên của Thành phố được thay đổi danh mục thủ tục.")


async def active_agency_codes(session: AsyncSession) -> set[str]:
    moment = now()
    rows = await session.execute(select(Agency.code, Agency.valid_from, Agency.valid_to))
    return {code for code, start, end in rows if (start is None or start <= moment) and (end is None or end > moment)}


def invalid(errors: dict[str, str], *, prefix: str = "") -> InvalidInput:
    listed = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5])
    more = f" (và {len(errors) - 5} lỗi khác)" if len(errors) > 5 else ""
    return InvalidInput(f"{prefix}Dữ liệu thủ tục chưa hợp lệ: {listed}{more}.", fields=errors)


def apply_content(row: Procedure, content: dict) -> None:
    row.name = content["name"]
    row.name_folded = fold(content["name"])
    row.search_folded = fold(search_text(content))
    row.sector = content.get("sector") or ""
    row.level = content.get("level") or ""
    row.agency_code = content.get("agency_code") or ""
    row.online_mode = content.get("online") or "none"
    row.data = content


def checked(raw: dict, agencies: set[str], *, demo_fields: list[str] | None = None) -> dict:
    content = normalise(raw)
    if demo_fields is not None:
        content["demo_fields"] = demo_fields
    errors = validate(content, agencies=agencies)
    if errors:
        raise invalid(errors)
    return content


async def audit(session: AsyncSession, principal: Principal, *, action: str, entity: str, key: str,
                version: int = 0, changes: list[dict]) -> None:
    session.add(AuditEntry(occurred_at=now(), actor_id=principal.account_id, actor_name=principal.name,
                           action=action, entity=entity, entity_key=key, version=version, changes=changes))


async def emit(session: AsyncSession, row: Procedure, event: str) -> None:
    """catalogue.procedure.published / .retired, carrying the whole version."""
    names = await agency_names(session, row.agency_code, row.data.get("processing_agency_code") or "")
    await record_event(session, outbox, event_type=f"catalogue.procedure.{event}", producer=PRODUCER,
                       subject=row.code,
                       payload=catalogue_pb2.ProcedurePublished(procedure=procedure_message(row, names)))


def stamp(row: Procedure, principal: Principal, moment: datetime) -> None:
    row.updated_at = moment
    row.updated_by = principal.name or principal.account_id


async def create_draft(session: AsyncSession, principal: Principal, raw: dict, *,
                       copy_from_latest: bool = False) -> Procedure:
    require_city_admin(principal)
    code = (raw.get("code") or "").strip()
    existing = await versions_of(session, code) if code else []
    rules.check_no_open_draft([state(r) for r in existing])
    agencies = await active_agency_codes(session)
    if copy_from_latest:
        if not existing:
            raise NotFound(f"Không tìm thấy thủ tục có mã {code} để sao chép.")
        content = copy.deepcopy(existing[-1].data)
    else:
        previous = existing[-1].data.get("demo_fields", []) if existing else []
        content = checked(raw, agencies, demo_fields=previous if raw.get("demo_settings") else [])
    row = add_draft(session, principal, code, (existing[-1].version + 1) if existing else 1, content, now())
    old = existing[-1].data if existing else None
    await audit(session, principal, action="create_draft", entity="procedure", key=code, version=row.version,
                changes=diff(old, content))
    return row


def add_draft(session: AsyncSession, principal: Principal, code: str, version: int, content: dict,
              moment: datetime) -> Procedure:
    """A new draft version row (the caller audits it)."""
    row = Procedure(code=code, version=version, status="draft", created_at=moment)
    apply_content(row, content)
    stamp(row, principal, moment)
    session.add(row)
    return row


async def update_draft(session: AsyncSession, principal: Principal, raw: dict, version: int) -> Procedure:
    require_city_admin(principal)
    code = (raw.get("code") or "").strip()
    row = await session.get(Procedure, (code, version))
    if row is None:
        raise NotFound(f"Không tìm thấy thủ tục có mã {code} phiên bản {version}.")
    rules.check_editable(state(row))
    previous = row.data
    content = checked(raw, await active_agency_codes(session),
                      demo_fields=list(previous.get("demo_fields", [])) if raw.get("demo_settings") else [])
    apply_content(row, content)
    stamp(row, principal, now())
    await audit(session, principal, action="update_draft", entity="procedure", key=code, version=version,
                changes=diff(previous, content))
    return row


async def publish(session: AsyncSession, principal: Principal, code: str, version: int,
                  effective_from: datetime | None = None) -> Procedure:
    """Publish a draft from ``effective_from`` (default now; never in the past)."""
    require_city_admin(principal)
    rows = await versions_of(session, code)
    target = next((r for r in rows if r.version == version), None)
    if target is None:
        raise NotFound(f"Không tìm thấy thủ tục có mã {code} phiên bản {version}.")
    problems = validate(target.data, agencies=await active_agency_codes(session)) | publish_problems(target.data)
    if problems:
        raise invalid(problems, prefix="Chưa công bố được. ")
    moment = now()
    await publish_version(session, principal, rows, target, effective_from or moment, moment)
    return target


async def publish_version(session: AsyncSession, principal: Principal, rows: list[Procedure], target: Procedure,
                          when: datetime, moment: datetime) -> None:
    """Put ``target`` (one of ``rows``, all versions of its code) in force from ``when``: close
    or retire the versions it supersedes, audit every change, emit the events. Shared by
    publishing one draft and publishing on import."""
    states = [state(r) for r in rows]
    changed = rules.publish(states, target.version, when, moment)
    await _claim_draft(session, target)
    by_version = {r.version: r for r in rows}
    for s in [*changed, next(s for s in states if s.version == target.version)]:
        row = by_version[s.version]
        before = _dates(row)
        row.status, row.effective_from, row.effective_to = s.status, s.effective_from, s.effective_to
        stamp(row, principal, moment)
        await audit(session, principal, action="publish" if row is target else "supersede", entity="procedure",
                    key=row.code, version=row.version, changes=diff(before, _dates(row)))
        if row is not target and row.status == "retired":
            await emit(session, row, "retired")
    await emit(session, target, "published")


async def _claim_draft(session: AsyncSession, target: Procedure) -> None:
    """Only one of two concurrent publishes of a draft wins: the conditional update takes the
    row lock (PostgreSQL) or the write lock (SQLite); the loser finds it no longer a draft."""
    await session.flush()
    claimed = await session.execute(
        update(Procedure)
        .where(Procedure.code == target.code, Procedure.version == target.version, Procedure.status == "draft")
        .values(status="published")
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise FailedPrecondition(f"Phiên bản {target.version} vừa được người khác công bố hoặc thay đổi; "
                                 "vui lòng tải lại.", fields={"version": "no longer a draft"})


def _dates(row: Procedure) -> dict:
    return {"status": row.status, "effective_from": _iso(row.effective_from), "effective_to": _iso(row.effective_to)}


async def retire(session: AsyncSession, principal: Principal, code: str, version: int,
                 effective_to: datetime | None = None, reason: str = "") -> Procedure:
    require_city_admin(principal)
    row = await session.get(Procedure, (code, version))
    if row is None:
        raise NotFound(f"Không tìm thấy thủ tục có mã {code} phiên bản {version}.")
    if len(reason) > 1000:
        raise InvalidInput("Lý do quá dài (tối đa 1000 ký tự).", fields={"reason": "too long"})
    moment = now()
    s = state(row)
    before = {"status": row.status, "effective_to": _iso(row.effective_to)}
    rules.retire(s, effective_to or moment, moment)
    row.status, row.effective_to = s.status, s.effective_to
    stamp(row, principal, moment)
    changes = diff(before, {"status": row.status, "effective_to": _iso(row.effective_to)})
    if reason:
        changes.append({"field": "reason", "old": "null", "new": _json(reason)})
    await audit(session, principal, action="retire", entity="procedure", key=code, version=version, changes=changes)
    await emit(session, row, "retired")
    return row


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)
