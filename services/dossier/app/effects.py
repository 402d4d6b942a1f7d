"""What each action changes beyond the status: the appointment date, the assignee, the
workflow step, fees, the result, the reason; and the extra log entries it explains itself
with (documents, deadline changes). Runs inside the action's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from services.dossier.app.access import FINAL_CODES
from services.dossier.app.submit import document_note
from services.dossier.documents.attach import attach_documents
from services.dossier.domain import codes
from services.dossier.domain.calendar import VIETNAM
from services.dossier.domain.lifecycle import RECEPTION, RECEPTION_STAGE, Status
from services.dossier.store.models import Dossier, LogEntry
from services.dossier.store.writes import append_log, as_utc, next_sequence
from services.platform.errors import Conflict, InvalidInput

RETURN_METHODS = {"download": "tải về trực tuyến", "counter": "tại bộ phận một cửa", "post": "qua bưu chính"}


@dataclass
class Effect:
    values: dict = field(default_factory=dict)
    note: str = ""
    # Shown to officials only, on the action's entry (account ids, ...).
    internal_note: str = ""
    # Extra log entries: (action, note, internal).
    entries: list[tuple[str, str, bool]] = field(default_factory=list)
    event: dict = field(default_factory=dict)
    derived_code: str = ""


def when(at: datetime) -> str:
    return as_utc(at).astimezone(VIETNAM).strftime("%H:%M ngày %d/%m/%Y")


def _deadline_entry(effect: Effect, text: str) -> None:
    effect.entries.append(("deadline", text, False))


def head_of(d: Dossier) -> LogEntry | None:
    """The end of the dossier's log as its row records it, to chain the next entry from
    (None when not recorded: the append reads the last entry). Chaining from the row, not
    from the last row found, leaves a removed last entry as a visible break."""
    if d.log_seq is None or not d.log_head:
        return None
    return LogEntry(seq=d.log_seq, hash=d.log_head)


async def append_to(session, d: Dossier, **values) -> LogEntry:
    """Append to ``d``'s log and move the row's record of the log's end with it (same
    transaction: the row is written when the session flushes)."""
    entry = await append_log(session, dossier_code=d.code, previous=None if values.get("first") else head_of(d),
                             **values)
    d.log_seq, d.log_head = entry.seq, entry.hash
    return entry


async def _accept(ctx, session, principal, d: Dossier, cmd, terms, target, now) -> Effect:
    received = as_utc(d.queue_at or d.submitted_at)
    due, explanation = ctx.calendar.due_at(received, d.processing_value, d.processing_unit or "working_day")
    extra = f". {cmd.note.strip()}" if cmd.note.strip() else ""
    if due is None:  # no legal deadline published: no appointment date, queued by filing time
        effect = Effect(values={"accepted_at": now, "due_at": None, "original_due_at": None, "queue_at": received})
        effect.note = f"Tiếp nhận hồ sơ, giấy tiếp nhận hồ sơ số {d.code}; không có ngày hẹn trả" + extra
        _deadline_entry(effect, "Không có hạn giải quyết: thủ tục không công bố thời hạn giải quyết theo quy định")
        return effect
    effect = Effect(values={"accepted_at": now, "due_at": due, "original_due_at": due, "queue_at": due})
    effect.note = f"Tiếp nhận hồ sơ, giấy tiếp nhận và hẹn trả kết quả số {d.code}; hẹn trả {when(due)}" + extra
    _deadline_entry(effect, f"Hạn giải quyết {when(due)}: {explanation.text()}")
    return effect


async def _request_supplement(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    items = [i.strip() for i in cmd.missing_items if i.strip()]
    if not items and not cmd.note.strip():
        raise InvalidInput("Cần liệt kê đầy đủ các giấy tờ cần bổ sung.", fields={"missing_items": "required"})
    listing = "; ".join(items)
    stage = RECEPTION_STAGE if d.accepted_at is None else (d.step_index or 0)
    effect = Effect(values={"supplement_requested_at": now, "supplement_count": (d.supplement_count or 0) + 1,
                            "missing_items": items, "supplement_stage": stage},
                    event={"missing_items": items, "reason": cmd.note.strip()})
    effect.note = "Yêu cầu bổ sung, hoàn thiện hồ sơ (một lần, đầy đủ)" + (f": {listing}" if listing else "") + (
        f". {cmd.note.strip()}" if cmd.note.strip() else "")
    if d.accepted_at is not None and d.due_at is not None:
        _deadline_entry(effect, f"Tạm dừng tính thời hạn từ {when(now)} trong thời gian chờ bổ sung hồ sơ")
    return effect


async def _supplement(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    if not cmd.document_ids and not cmd.note.strip():
        raise InvalidInput("Cần gửi tài liệu hoặc nội dung bổ sung.", fields={"document_ids": "required"})
    effect = Effect(values={"supplement_requested_at": None, "missing_items": []})
    # The documents are the uploader's: the applicant's own online, the reception
    # official's at the counter (as at submission).
    await _attach(session, principal.applicant_id, d, cmd.document_ids, terms, effect)
    effect.note = "Bổ sung hồ sơ" + (f": {cmd.note.strip()}" if cmd.note.strip() else "")
    paused_from = as_utc(d.supplement_requested_at) if d.supplement_requested_at else now
    if d.accepted_at is None:
        effect.values["queue_at"] = now  # reception counts the processing time from the complete dossier
        return effect
    paused = ctx.calendar.working_minutes_between(paused_from, now)
    effect.values["paused_minutes"] = (d.paused_minutes or 0) + paused
    if d.step_due_at is not None:
        effect.values["step_due_at"] = ctx.calendar.add_working_minutes(as_utc(d.step_due_at), paused)
    if d.due_at is None:  # no appointment date to move (no legal deadline published)
        return effect
    due, explanation = ctx.calendar.resume_after_pause(as_utc(d.due_at), paused_from, now)
    effect.values.update(due_at=due, queue_at=due)
    _deadline_entry(effect, f"Hạn giải quyết mới {when(due)}: {explanation.text() or 'không có giờ làm việc chờ'}")
    effect.event["new_due_at"] = due
    return effect


async def _attach(session, owner_id: str, d: Dossier, document_ids, terms, effect: Effect) -> list:
    if not document_ids:
        return []
    attached = await attach_documents(session, owner_id=owner_id, dossier_code=d.code, document_ids=list(document_ids))
    effect.entries.extend(("document", document_note(doc), False) for doc in attached)
    return attached


async def _finish(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    """Refusal, withdrawal and stop end the dossier, with the reason given."""
    if cmd.action == "withdraw" and principal.is_official and not cmd.note.strip():
        raise InvalidInput("Cần ghi lý do rút hồ sơ theo yêu cầu của người nộp.", fields={"note": "required"})
    return Effect(values={"finished_at": d.finished_at or now, "reason": cmd.note.strip()},
                  event={"reason": cmd.note.strip()})


async def _redirect(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    agency = await _agency(ctx, cmd.agency_code)
    if agency.code == d.agency_code:
        raise InvalidInput("Hồ sơ đã ở cơ quan này.", fields={"agency_code": "same agency"})
    return Effect(values={"agency_code": agency.code, "reason": cmd.note.strip(), "assignee_id": None},
                  note=f"Chuyển hồ sơ đến {agency.name or agency.code} ({agency.code}): {cmd.note.strip()}",
                  event={"reason": cmd.note.strip()})


async def _agency(ctx, code: str):
    if not code:
        raise InvalidInput("Cần chọn cơ quan nhận hồ sơ.", fields={"agency_code": "required"})
    agency = await ctx.procedures.agency(code)
    if agency is None:
        raise InvalidInput(f"Không có cơ quan mã {code}.", fields={"agency_code": "unknown agency"})
    return agency


def _step_values(ctx, terms, index: int, start: datetime) -> dict:
    if index >= len(terms.workflow):
        return {"step_index": index, "step_due_at": None}
    return {"step_index": index, "step_due_at": ctx.calendar.step_due_at(start, terms.workflow[index].budget_hours)}


async def _assign(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    assignee = cmd.assignee_id.strip()
    if not assignee or len(assignee) > 36:
        raise InvalidInput("Cần chọn cán bộ xử lý.", fields={"assignee_id": "required"})
    values = {"assignee_id": assignee, **_step_values(ctx, terms, d.step_index or 0, now)}
    step = terms.workflow[d.step_index].name if (d.step_index or 0) < len(terms.workflow) else ""
    note = "Phân công cán bộ xử lý" + (f", bước “{step}”" if step else "")
    if values["step_due_at"] is not None:
        note += f", hạn bước {when(values['step_due_at'])}"
    # The applicant sees that the dossier was assigned, officials to whom.
    return Effect(values=values, note=note, internal_note=f"Cán bộ xử lý: {assignee}", event={"assignee_id": assignee})


async def _complete_step(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    step = terms.workflow[d.step_index]
    effect = Effect(values=_step_values(ctx, terms, d.step_index + 1, now))
    await _attach(session, principal.applicant_id, d, cmd.document_ids, terms, effect)
    if cmd.assignee_id.strip():
        effect.values["assignee_id"] = cmd.assignee_id.strip()[:36]
        effect.event["assignee_id"] = effect.values["assignee_id"]
    late = d.step_due_at is not None and now > as_utc(d.step_due_at)
    effect.note = f"Hoàn thành bước “{step.name}”" + (" (quá hạn bước)" if late else "") + (
        f". {cmd.note.strip()}" if cmd.note.strip() else "")
    return effect


async def _forward(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    """Inter-agency (liên thông): a derived dossier at the other agency references this one."""
    step = terms.workflow[d.step_index]
    agency = await _agency(ctx, step.agency_code or cmd.agency_code)
    await _no_open_forward(session, d)
    day = codes.day_key(now)
    code = codes.dossier_code(agency.code, day, await next_sequence(session, agency.code, day))
    due = ctx.calendar.step_due_at(now, step.budget_hours) or d.due_at
    derived = Dossier(
        code=code, procedure_code=d.procedure_code, procedure_version=d.procedure_version,
        procedure_name=d.procedure_name, agency_code=agency.code, applicant_id=d.applicant_id,
        applicant_name=d.applicant_name, channel=d.channel, status_code=int(Status.ACCEPTED), submitted_at=now,
        accepted_at=now, due_at=due, original_due_at=due, processing_value=None,
        processing_unit=d.processing_unit, tracking_secret=codes.new_tracking_secret(), form_data=d.form_data,
        version=1, updated_at=now, queue_at=due or now, submitted_by=principal.account_id, step_index=len(terms.workflow),
        supplement_count=0, paused_minutes=0, missing_items=[], reason="", parent_code=d.code,
        parent_step=d.step_index)
    session.add(derived)
    await append_to(session, derived, at=now, actor_id=principal.account_id, actor_name=principal.name,
                     actor_role=principal.roles[0] if principal.roles else RECEPTION, action="forwarded_in",
                     status_code=int(Status.ACCEPTED), first=True,
                     note=f"Nhận hồ sơ liên thông từ {d.agency_code}, hồ sơ gốc {d.code}, bước “{step.name}”")
    return Effect(note=f"Chuyển liên thông đến {agency.name or agency.code}: hồ sơ {code}, bước “{step.name}”",
                  derived_code=code, event={"reason": cmd.note.strip()})


async def _no_open_forward(session, d: Dossier) -> None:
    """A step is forwarded once: while its derived dossier is open, forwarding it again
    would open a second one and count the work twice."""
    open_code = await session.scalar(
        select(Dossier.code).where(Dossier.parent_code == d.code, Dossier.parent_step == d.step_index,
                                   Dossier.status_code.not_in(FINAL_CODES)).limit(1))
    if open_code is not None:
        raise Conflict(f"Bước này đã được chuyển liên thông (hồ sơ {open_code}) và đang được giải quyết.",
                       fields={"action": f"already forwarded as {open_code}"})


async def _request_fees(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    amount = cmd.fees_vnd or terms.fees_vnd or 0
    if amount <= 0:
        raise InvalidInput("Cần ghi số tiền phí, lệ phí phải nộp.", fields={"fees_vnd": "required"})
    return Effect(values={"fees_due_vnd": amount, "paid_at": None},
                  note=f"Yêu cầu thực hiện nghĩa vụ tài chính: {amount:,} đồng".replace(",", "."))


async def _pay(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    amount = d.fees_due_vnd or 0
    return Effect(values={"paid_at": now}, note=f"Đã nộp phí, lệ phí {amount:,} đồng".replace(",", "."))


async def _approve(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    if d.parent_code:
        await _tell_parent(session, principal, d, f"Cơ quan {d.agency_code} đã giải quyết xong phần liên thông "
                                                  f"(hồ sơ {d.code})", now)
    return Effect(values={"finished_at": d.finished_at or now, "step_due_at": None,
                          "step_index": max(len(terms.workflow), d.step_index or 0)})


async def _tell_parent(session, principal, d: Dossier, note: str, now) -> None:
    """An inter-agency dossier reports back in its original's log (liên thông)."""
    parent = await session.get(Dossier, d.parent_code)
    if parent is None:
        return
    await append_to(session, parent, at=now, actor_id=principal.account_id,
                     actor_name=principal.name, actor_role=principal.roles[0] if principal.roles else RECEPTION,
                     action="forward_result", status_code=parent.status_code, note=note)


async def _result_ready(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    ids = list(cmd.document_ids) or ([cmd.result_document_id] if cmd.result_document_id else [])
    if not ids:
        raise InvalidInput("Cần tải lên kết quả điện tử.", fields={"result_document_id": "required"})
    effect = Effect(values={"result_document_id": ids[0]})
    await _attach(session, principal.applicant_id, d, ids, terms, effect)
    effect.note = f"Có kết quả giải quyết điện tử (tài liệu {ids[0]})"
    return effect


async def _return_result(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    method = cmd.return_method or ("download" if d.result_document_id else "counter")
    if method not in RETURN_METHODS:
        raise InvalidInput("Cách trả kết quả không hợp lệ.", fields={"return_method": "download, counter or post"})
    if method == "download" and not d.result_document_id:
        raise Conflict("Chưa có kết quả điện tử để trả trực tuyến.", fields={"result_document_id": "missing"})
    return Effect(values={"return_method": method, "finished_at": d.finished_at or now},
                  note=f"Trả kết quả {RETURN_METHODS[method]}")


async def _extend(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    """Form 04: before the appointment date, an apology with the reason and a new date."""
    if d.due_at is None:
        raise Conflict("Hồ sơ chưa có ngày hẹn trả.", fields={"due_at": "missing"})
    due = as_utc(d.due_at)
    if now > due:
        raise Conflict("Văn bản xin lỗi và gia hạn phải gửi trước ngày hẹn trả.", fields={"due_at": "passed"})
    if cmd.new_due_at is None or as_utc(cmd.new_due_at) <= due:
        raise InvalidInput("Ngày hẹn trả mới phải sau ngày hẹn hiện tại.", fields={"new_due_at": "must be later"})
    new_due = as_utc(cmd.new_due_at)
    effect = Effect(values={"due_at": new_due, "queue_at": new_due, "reason": cmd.note.strip()},
                    event={"reason": cmd.note.strip(), "new_due_at": new_due})
    effect.note = f"Xin lỗi và gia hạn: {cmd.note.strip()}. Ngày hẹn trả mới {when(new_due)}"
    _deadline_entry(effect, f"Hạn giải quyết đổi từ {when(due)} sang {when(new_due)} (gia hạn có xin lỗi)")
    return effect


async def _message(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    effect = Effect(note=cmd.note.strip())
    await _attach(session, principal.applicant_id, d, cmd.document_ids, terms, effect)
    return effect


async def _nothing(ctx, session, principal, d, cmd, terms, target, now) -> Effect:
    return Effect()


EFFECTS: dict[str, Callable[..., Awaitable[Effect]]] = {
    "accept": _accept, "request_supplement": _request_supplement, "supplement": _supplement, "refuse": _finish,
    "redirect": _redirect, "assign": _assign, "complete_step": _complete_step, "forward": _forward,
    "request_fees": _request_fees, "pay": _pay, "approve": _approve, "result_ready": _result_ready,
    "return_result": _return_result, "withdraw": _finish, "stop": _finish, "extend": _extend,
    "message": _message, "note": _nothing,
}


async def apply(ctx, session, principal, dossier, cmd, terms, target, role, now) -> Effect:
    return await EFFECTS[cmd.action](ctx, session, principal, dossier, cmd, terms, target, now)

