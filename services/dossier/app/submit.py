"""Submit a dossier (nộp hồ sơ): one transaction writes the dossier, its documents, its
first log entries, its event and the idempotency record, or nothing at all.

The submit path is kept lean: the procedure comes from the in-process snapshot cache (no
catalogue call), the idempotency check runs inside the writing transaction, and the
first log entry needs no read. Every problem with the submission is reported at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.dossier.app.access import APPLICANT_KINDS
from services.dossier.app.context import DossierContext
from services.dossier.app.events import status_event
from services.dossier.app.procedures import ProcedureDirectory
from services.dossier.domain import codes
from services.dossier.domain.lifecycle import APPLICANT, ONLINE, RECEPTION, Status, may_submit
from services.dossier.domain.procedure import (
    ProcedureTerms,
    document_problems,
    eligibility_problems,
    form_problems,
)
from services.dossier.store.models import Dossier, IdempotencyKey, outbox
from services.dossier.store.writes import append_log, next_sequence, remember_response, request_fingerprint
from services.platform.errors import Conflict, InvalidInput, PermissionDenied
from services.platform.events import record_event, utcnow
from services.platform.principal import Principal

CHANNEL_IN_PERSON, CHANNEL_ONLINE, CHANNEL_POST = 1, 2, 3
MAX_FORM_BYTES = 64 * 1024
MAX_DOCUMENTS = 50
PROBLEMS = "Hồ sơ chưa đủ điều kiện nộp, vui lòng sửa các mục sau: "


@dataclass
class SubmitCommand:
    procedure_code: str
    agency_code: str = ""
    form_data_json: str = ""
    channel: int = CHANNEL_ONLINE
    idempotency_key: str = ""
    document_ids: list[str] = field(default_factory=list)
    # At the counter or by post: the applicant the reception official files for.
    applicant_id: str = ""
    applicant_name: str = ""


@dataclass
class Submitted:
    dossier: Dossier
    replayed: bool


def _parse_form(text: str) -> dict:
    if not text:
        return {}
    if len(text.encode()) > MAX_FORM_BYTES:
        raise InvalidInput("Dữ liệu tờ khai quá lớn (tối đa 64 KB).", fields={"form_data": "too large"})
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("Dữ liệu tờ khai không phải JSON hợp lệ.", fields={"form_data": "invalid JSON"}) from exc
    if not isinstance(data, dict):
        raise InvalidInput("Dữ liệu tờ khai phải là một đối tượng JSON.", fields={"form_data": "must be an object"})
    return data


def _submitter(principal: Principal, cmd: SubmitCommand) -> tuple[str, str, str]:
    """(role, applicant id, applicant name): online by the applicant themselves; at the
    counter or by post by a reception official for a named applicant."""
    if principal.is_official:
        if not principal.has_role(RECEPTION) or not may_submit(RECEPTION, cmd.channel):
            raise PermissionDenied("Cán bộ chỉ tiếp nhận hồ sơ nộp trực tiếp hoặc qua bưu chính.")
        if not cmd.applicant_id or len(cmd.applicant_id) > 36:
            raise InvalidInput("Cần ghi rõ người nộp hồ sơ.", fields={"applicant_id": "required"})
        return RECEPTION, cmd.applicant_id, cmd.applicant_name[:200] or cmd.applicant_id
    if principal.kind not in APPLICANT_KINDS:
        raise PermissionDenied("Tài khoản này không nộp được hồ sơ.")
    if not may_submit(APPLICANT, cmd.channel):
        raise InvalidInput("Hồ sơ của người dân gửi qua cổng là hồ sơ trực tuyến.", fields={"channel": "must be online"})
    return APPLICANT, principal.applicant_id, principal.name


async def _receiving_agency(directory: ProcedureDirectory, terms: ProcedureTerms, requested: str,
                            principal: Principal) -> tuple[str, dict[str, str]]:
    """A procedure with a fixed agency goes there; a commune-level one to the unit chosen
    (at the counter: the official's own agency unless another is named)."""
    if principal.is_official and not requested:
        requested = principal.agency_code
    if terms.agency_code:
        if requested and requested != terms.agency_code:
            return "", {"agency_code": f"must be {terms.agency_code}"}
        return terms.agency_code, {}
    if not requested:
        return "", {"agency_code": "required for this procedure"}
    agency = await directory.agency(requested)
    if agency is None:
        return "", {"agency_code": "unknown agency"}
    if terms.level == "commune" and agency.kind != "commune":
        return "", {"agency_code": "must be a commune-level unit"}
    return requested, {}


def _check_basics(cmd: SubmitCommand) -> None:
    if not cmd.procedure_code or len(cmd.procedure_code) > 40:
        raise InvalidInput("Thiếu mã thủ tục.", fields={"procedure_code": "required"})
    if len(cmd.idempotency_key) > 200:
        raise InvalidInput("Idempotency-Key quá dài (tối đa 200 ký tự).", fields={"Idempotency-Key": "too long"})
    if len(cmd.document_ids) > MAX_DOCUMENTS:
        raise InvalidInput("Quá nhiều tài liệu trong một lần nộp.", fields={"document_ids": "too many"})


def refuse(problems: dict[str, str]) -> InvalidInput:
    return InvalidInput(PROBLEMS + "; ".join(f"{k}: {v}" for k, v in problems.items()) + ".", fields=problems)


async def submit_dossier(ctx: DossierContext, principal: Principal, cmd: SubmitCommand) -> Submitted:
    _check_basics(cmd)
    role, applicant_id, applicant_name = _submitter(principal, cmd)
    form = _parse_form(cmd.form_data_json)
    fingerprint = request_fingerprint(cmd.procedure_code, cmd.agency_code, cmd.form_data_json, str(cmd.channel),
                                      ",".join(cmd.document_ids), cmd.applicant_id)
    if cmd.idempotency_key:  # a retry answers from the record, before any other check
        async with ctx.reads() as session:
            replay = await _replay(session, principal, cmd, fingerprint)
        if replay is not None:
            return Submitted(replay, True)

    terms = await ctx.procedures.published(cmd.procedure_code)
    now = utcnow()
    if role == APPLICANT:
        # A representative files for a business or organisation: its type is not in the token.
        kind = "" if principal.acting_for else principal.kind
        problems = eligibility_problems(terms, verification_level=principal.verification_level,
                                        applicant_kind=kind, now=now)
    else:  # at the counter the official has checked the applicant's identity papers
        problems = {k: v for k, v in eligibility_problems(terms, verification_level=terms.min_verification_level,
                                                          applicant_kind="", now=now).items()
                    if k == "procedure_code"}
    agency_code, agency_problems = await _receiving_agency(ctx.procedures, terms, cmd.agency_code, principal)
    problems.update(agency_problems)
    problems.update(form_problems(terms, form))
    if not cmd.document_ids:
        problems.update(document_problems(terms, set()))
    if problems and not cmd.document_ids:
        raise refuse(problems)
    try:
        dossier = await _write(ctx, principal, cmd, role, applicant_id, applicant_name, terms, agency_code, form,
                               fingerprint, problems, now)
    except IntegrityError:
        # A concurrent retry with the same idempotency key won the race: answer as it did.
        async with ctx.sessions() as session:
            replay = await _replay(session, principal, cmd, fingerprint)
        if replay is None:
            raise
        return Submitted(replay, True)
    ctx.relay.wake()
    return Submitted(dossier, False)


async def _replay(session, principal: Principal, cmd: SubmitCommand, fingerprint: str) -> Dossier | None:
    if not cmd.idempotency_key:
        return None
    row = await session.get(IdempotencyKey, (principal.account_id, cmd.idempotency_key))
    if row is None:
        return None
    if row.operation != "submit" or row.request_hash != fingerprint:
        raise Conflict("Khóa chống gửi trùng (Idempotency-Key) này đã được dùng cho một yêu cầu khác.",
                       fields={"Idempotency-Key": "reused with a different request"})
    return await session.get(Dossier, row.response.decode())


async def _write(ctx, principal, cmd, role, applicant_id, applicant_name, terms: ProcedureTerms, agency_code, form,
                 fingerprint, problems, now) -> Dossier:
    day = codes.day_key(now)
    async with ctx.sessions() as session, session.begin():
        sequence = await next_sequence(session, agency_code or "-", day)
        code = codes.dossier_code(agency_code, day, sequence)
        attached = []
        if cmd.document_ids:
            attached, doc_problems = await _attach(session, applicant_id if role == APPLICANT else principal.applicant_id,
                                                   code, cmd.document_ids, terms)
            problems = {**problems, **doc_problems}
            if problems:
                raise refuse(problems)  # rolls back the number and the attachments
        dossier = Dossier(
            code=code, procedure_code=terms.code, procedure_version=terms.version,
            procedure_name=terms.name, agency_code=agency_code, applicant_id=applicant_id,
            applicant_name=applicant_name, channel=cmd.channel, status_code=int(Status.NEW), submitted_at=now,
            processing_value=terms.processing_value, processing_unit=terms.processing_unit,
            tracking_secret=codes.new_tracking_secret(), form_data=form, version=1, updated_at=now,
            queue_at=now, submitted_by=principal.account_id, step_index=0, supplement_count=0, paused_minutes=0,
            missing_items=[], reason="",
        )
        session.add(dossier)
        channel_text = {CHANNEL_ONLINE: "trực tuyến", CHANNEL_IN_PERSON: "trực tiếp", CHANNEL_POST: "qua bưu chính"}
        entry = await append_log(session, dossier_code=code, at=now, actor_id=principal.account_id,
                                 actor_name=principal.name, actor_role=role, action="submit",
                                 status_code=int(Status.NEW), note=f"Nộp hồ sơ {channel_text[cmd.channel]}",
                                 first=True)
        for doc in attached:
            entry = await append_log(session, dossier_code=code, at=now, actor_id=principal.account_id,
                                     actor_name=principal.name, actor_role=role, action="document",
                                     status_code=int(Status.NEW), previous=entry,
                                     note=document_note(doc))
        await record_event(session, outbox, event_type="dossier.submitted", producer="dossier", subject=code,
                           payload=status_event(dossier, "submit", principal.account_id, role))
        remember_response(session, principal_id=principal.account_id, key=cmd.idempotency_key,
                          operation="submit", fingerprint=fingerprint, response=code.encode(), at=now)
    return dossier


def document_note(doc) -> str:
    return (f"Tài liệu {doc.filename} (thành phần {doc.requirement_id}, phiên bản {doc.version}, "
            f"{doc.size} byte, SHA-256 {doc.sha256[:16]}…)")


async def _attach(session, owner_id: str, code: str, document_ids: list[str], terms: ProcedureTerms):
    """Attach the uploaded documents and report each mandatory one still missing."""
    from services.dossier.documents.attach import attach_documents

    try:
        attached = await attach_documents(session, owner_id=owner_id, dossier_code=code, document_ids=document_ids,
                                          requirement_ids=terms.requirement_ids or None)
    except InvalidInput as exc:
        return [], {**exc.fields, **document_problems(terms, set())}
    return attached, document_problems(terms, {d.requirement_id for d in attached})


async def covered_requirements(session, code: str) -> set[str]:
    from services.dossier.store.document_models import Document

    return set(await session.scalars(select(Document.requirement_id).where(Document.dossier_code == code)))
