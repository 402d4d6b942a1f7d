"""An action on a dossier (accept, refuse, ...): the state machine decides, one transaction
writes the new status, the log entry, the event and the idempotency record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from services.dossier.app.access import acting_role, not_found
from services.dossier.app.context import DossierContext
from services.dossier.app.events import status_event
from services.dossier.domain import lifecycle
from services.dossier.domain.lifecycle import Status
from services.dossier.store.models import Dossier, outbox
from services.dossier.store.writes import (
    append_log,
    remember_response,
    replayed_response,
    request_fingerprint,
)
from services.platform.errors import Conflict, InvalidInput, PermissionDenied
from services.platform.events import record_event, utcnow
from services.platform.principal import Principal

MAX_NOTE = 2000


@dataclass
class ActionCommand:
    code: str
    action: str
    note: str = ""
    expected_version: int = 0
    idempotency_key: str = ""


@dataclass
class Acted:
    dossier: Dossier
    replayed: bool


async def perform_action(ctx: DossierContext, principal: Principal, cmd: ActionCommand) -> Acted:
    if len(cmd.note) > MAX_NOTE:
        raise InvalidInput("Ghi chú quá dài (tối đa 2000 ký tự).", fields={"note": "too long"})
    fingerprint = request_fingerprint(cmd.code, cmd.action, cmd.note, str(cmd.expected_version))
    operation = f"action:{cmd.code}"
    try:
        async with ctx.sessions() as session, session.begin():
            replay = await replayed_response(session, principal_id=principal.account_id, key=cmd.idempotency_key,
                                             operation=operation, fingerprint=fingerprint)
            if replay is not None:
                return Acted(await session.get(Dossier, cmd.code), True)
            dossier = await session.get(Dossier, cmd.code)
            if dossier is None:
                raise not_found(cmd.code)
            transition, role = _transition(principal, dossier, cmd)
            if transition.needs_note and not cmd.note.strip():
                raise InvalidInput("Thao tác này cần ghi rõ lý do hoặc nội dung.", fields={"note": "required"})
            if cmd.expected_version and cmd.expected_version != dossier.version:
                raise _stale(dossier)
            now = utcnow()
            values = {"status_code": int(transition.target), "version": dossier.version + 1, "updated_at": now}
            note = cmd.note.strip()
            if transition.target == Status.ACCEPTED:
                values["accepted_at"] = now
                due, explanation = _due_date(ctx, dossier, now)
                values["due_at"] = due
                note = "; ".join(x for x in (note, explanation) if x)
            changed = await session.execute(
                update(Dossier).where(Dossier.code == dossier.code, Dossier.version == dossier.version)
                .values(**values).execution_options(synchronize_session=False)
            )
            if changed.rowcount != 1:
                raise _stale(dossier)
            await session.refresh(dossier)
            await append_log(session, dossier_code=dossier.code, at=now, actor_id=principal.account_id,
                             actor_name=principal.name, actor_role=role, action=cmd.action,
                             status_code=int(transition.target), note=note or transition.label)
            await record_event(session, outbox, event_type=f"dossier.{_past(cmd.action)}", producer="dossier",
                               subject=dossier.code,
                               payload=status_event(dossier, cmd.action, principal.account_id, role, cmd.note))
            remember_response(session, principal_id=principal.account_id, key=cmd.idempotency_key,
                              operation=operation, fingerprint=fingerprint, response=dossier.code.encode(), at=now)
    except IntegrityError as exc:
        raise Conflict("Hồ sơ vừa được người khác cập nhật, vui lòng tải lại.") from exc
    ctx.relay.wake()
    return Acted(dossier, False)


def _transition(principal: Principal, dossier: Dossier, cmd: ActionCommand) -> tuple[lifecycle.Transition, str]:
    """The transition the action makes and the role the principal makes it in."""
    try:
        wanted = lifecycle.TRANSITIONS[cmd.action]
    except KeyError:
        raise InvalidInput(f"Thao tác không hợp lệ: {cmd.action}.", fields={"action": "unknown"}) from None
    role = acting_role(principal, dossier, wanted.roles)
    try:
        return lifecycle.transition_for(cmd.action, Status(dossier.status_code), role), role
    except lifecycle.NotAllowed:
        raise PermissionDenied("Bạn không có quyền thực hiện thao tác này.") from None
    except lifecycle.IllegalTransition:
        raise Conflict(
            f"Không thể thực hiện thao tác này khi hồ sơ đang ở trạng thái "
            f"\"{Status(dossier.status_code).label}\".",
            fields={"status_code": str(dossier.status_code)},
        ) from None


def _stale(dossier: Dossier) -> Conflict:
    return Conflict("Hồ sơ vừa được người khác cập nhật, vui lòng tải lại rồi thao tác lại.",
                    fields={"version": str(dossier.version)})


def _due_date(ctx: DossierContext, dossier: Dossier, now) -> tuple:
    """Appointment date: the pinned processing time counted in working days from acceptance."""
    value = dossier.processing_value or 0
    unit = dossier.processing_unit or "working_day"
    days = int(-(-value // 8)) if unit == "working_hour" else int(value)
    if unit == "day":
        due = now + timedelta(days=days)
        return due, f"Hẹn trả: {days} ngày (lịch)"
    due, skipped = ctx.calendar.add_working_days(now, days)
    skipped_text = f", bỏ qua {len(skipped)} ngày nghỉ" if skipped else ""
    return due.astimezone(now.tzinfo), f"Hẹn trả sau {days} ngày làm việc{skipped_text}"


_PAST = {"accept": "accepted", "refuse": "refused", "request_supplement": "supplement_requested",
         "withdraw": "withdrawn"}


def _past(action: str) -> str:
    return _PAST.get(action, action)
