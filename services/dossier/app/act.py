"""An action on a dossier (accept, assign, approve, ...): the state machine decides, one
transaction writes the new state, the log entries, the event and the idempotency record.
A crash anywhere inside leaves the dossier as it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from services.dossier.app import effects
from services.dossier.app.access import can_see, candidate_roles, not_found
from services.dossier.app.context import DossierContext
from services.dossier.app.events import status_event
from services.dossier.domain import lifecycle
from services.dossier.domain.lifecycle import DossierState, Status
from services.dossier.store.models import Dossier, outbox
from services.dossier.store.writes import append_log, remember_response, replayed_response, request_fingerprint
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
    document_ids: list[str] = field(default_factory=list)
    missing_items: list[str] = field(default_factory=list)
    assignee_id: str = ""
    new_due_at: datetime | None = None
    agency_code: str = ""
    result_document_id: str = ""
    fees_vnd: int = 0
    return_method: str = ""
    internal_note: str = ""

    def fingerprint(self) -> str:
        return request_fingerprint(
            self.code, self.action, self.note, str(self.expected_version), ",".join(self.document_ids),
            "\x1e".join(self.missing_items), self.assignee_id, self.new_due_at.isoformat() if self.new_due_at else "",
            self.agency_code, self.result_document_id, str(self.fees_vnd), self.return_method, self.internal_note)


@dataclass
class Acted:
    dossier: Dossier
    replayed: bool
    derived_code: str = ""


def _check_sizes(cmd: ActionCommand) -> None:
    if len(cmd.note) > MAX_NOTE or len(cmd.internal_note) > MAX_NOTE:
        raise InvalidInput("Ghi chú quá dài (tối đa 2000 ký tự).", fields={"note": "too long"})
    if len(cmd.missing_items) > 50 or any(len(i) > 500 for i in cmd.missing_items):
        raise InvalidInput("Danh sách giấy tờ cần bổ sung quá dài.", fields={"missing_items": "too long"})
    if len(cmd.document_ids) > 50:
        raise InvalidInput("Quá nhiều tài liệu trong một thao tác.", fields={"document_ids": "too many"})
    if len(cmd.idempotency_key) > 200:
        raise InvalidInput("Idempotency-Key quá dài (tối đa 200 ký tự).", fields={"Idempotency-Key": "too long"})


async def perform_action(ctx: DossierContext, principal: Principal, cmd: ActionCommand) -> Acted:
    _check_sizes(cmd)
    if cmd.internal_note and not principal.is_official:
        raise InvalidInput("Chỉ cán bộ mới ghi chú nội bộ.", fields={"internal_note": "officials only"})
    fingerprint = cmd.fingerprint()
    operation = f"action:{cmd.code}"[:40]
    try:
        async with ctx.sessions() as session, session.begin():
            replay = await _replayed(session, principal, cmd, operation, fingerprint)
            if replay is not None:
                return replay
            dossier = await session.get(Dossier, cmd.code)
            if dossier is None:
                raise not_found(cmd.code)
            terms = await ctx.procedures.version(dossier.procedure_code, dossier.procedure_version, session)
            transition, target, role = _decide(principal, dossier, cmd, terms)
            if transition.needs_note and not (cmd.note.strip() or cmd.missing_items):
                raise InvalidInput("Thao tác này cần ghi rõ lý do hoặc nội dung.", fields={"note": "required"})
            if cmd.expected_version and cmd.expected_version != dossier.version:
                raise _stale(dossier)
            now = utcnow()
            effect = await effects.apply(ctx, session, principal, dossier, cmd, terms, target, role, now)
            # The log entries chain from the end the row records; the row's new end is
            # written by the same version-checked statement as the new state.
            entry = await append_log(
                session, dossier_code=dossier.code, at=now, actor_id=principal.account_id, actor_name=principal.name,
                actor_role=role, action=cmd.action, status_code=int(target),
                note=effect.note or cmd.note.strip() or transition.label, internal=transition.internal,
                internal_note="\n".join(filter(None, (effect.internal_note, cmd.internal_note.strip()))),
                previous=effects.head_of(dossier))
            for action, note, internal in effect.entries:
                entry = await append_log(
                    session, dossier_code=dossier.code, at=now, actor_id=principal.account_id,
                    actor_name=principal.name, actor_role=role if action != "deadline" else lifecycle.SYSTEM,
                    action=action, status_code=int(target), note=note, internal=internal, previous=entry)
            values = {"status_code": int(target), "version": dossier.version + 1, "updated_at": now,
                      "log_seq": entry.seq, "log_head": entry.hash, **effect.values}
            changed = await session.execute(
                update(Dossier).where(Dossier.code == dossier.code, Dossier.version == dossier.version)
                .values(**values).execution_options(synchronize_session=False))
            if changed.rowcount != 1:
                raise _stale(dossier)
            await session.refresh(dossier)
            event = lifecycle.event_type(cmd.action)
            if event:
                await record_event(session, outbox, event_type=event, producer="dossier", subject=dossier.code,
                                   payload=status_event(dossier, cmd.action, principal.account_id, role,
                                                        cmd.note.strip(), **effect.event))
            remember_response(session, principal_id=principal.account_id, key=cmd.idempotency_key,
                              operation=operation, fingerprint=fingerprint,
                              response=f"{dossier.code}\n{effect.derived_code}".encode(), at=now)
    except IntegrityError as exc:
        raise Conflict("Hồ sơ vừa được người khác cập nhật, vui lòng tải lại.") from exc
    ctx.relay.wake()
    return Acted(dossier, False, effect.derived_code)


async def _replayed(session, principal, cmd, operation, fingerprint) -> Acted | None:
    """The first answer to a retried action, if the principal may still see the dossier
    (a key does not outlive the access it was used with)."""
    response = await replayed_response(session, principal_id=principal.account_id, key=cmd.idempotency_key,
                                       operation=operation, fingerprint=fingerprint)
    if response is None:
        return None
    code, _, derived = response.decode().partition("\n")
    dossier = await session.get(Dossier, code)
    if dossier is None or not can_see(principal, dossier):
        raise not_found(cmd.code)
    return Acted(dossier, True, derived)


def state_of(dossier: Dossier, terms) -> DossierState:
    return DossierState(
        status=Status(dossier.status_code), accepted=dossier.accepted_at is not None,
        assignee_id=dossier.assignee_id or "", step_index=dossier.step_index or 0,
        step_roles=tuple(s.role for s in terms.workflow), step_inter_agency=tuple(s.inter_agency for s in terms.workflow),
        result_ready=bool(dossier.result_document_id), channel=dossier.channel,
        supplement_stage=dossier.supplement_stage)


def _decide(principal: Principal, dossier: Dossier, cmd: ActionCommand, terms):
    """The transition, its target and the role the principal acts in: the first of the
    principal's roles the rules accept; otherwise the clearest refusal."""
    wanted = lifecycle.TRANSITIONS.get(cmd.action)
    if wanted is None:
        raise InvalidInput(f"Thao tác không hợp lệ: {cmd.action}.", fields={"action": "unknown"})
    roles = candidate_roles(principal, dossier, wanted.roles)
    state = state_of(dossier, terms)
    first_error = None
    for role in roles:
        try:
            transition, target = lifecycle.decide(state, cmd.action, role, actor_id=principal.account_id)
            return transition, target, role
        except (lifecycle.NotAllowed, lifecycle.IllegalTransition) as exc:
            first_error = first_error or exc
    if isinstance(first_error, lifecycle.IllegalTransition):
        why = f" ({first_error.why})" if first_error.why else ""
        raise Conflict(
            f"Không thể thực hiện thao tác này khi hồ sơ đang ở trạng thái "
            f"\"{Status(dossier.status_code).label}\"{why}.",
            fields={"status_code": str(dossier.status_code)})
    raise PermissionDenied("Bạn không có quyền thực hiện thao tác này.")


def _stale(dossier: Dossier) -> Conflict:
    return Conflict("Hồ sơ vừa được người khác cập nhật, vui lòng tải lại rồi thao tác lại.",
                    fields={"version": str(dossier.version)})
