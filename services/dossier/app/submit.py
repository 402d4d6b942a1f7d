"""Submit a dossier (nộp hồ sơ): one transaction writes the dossier, its documents, its
first log entries, its event and the idempotency record, or nothing at all.

The submit path is kept lean: the procedure comes from the in-process snapshot cache (no
catalogue call), the idempotency check runs inside the writing transaction, and the
first log entry needs no read. Every problem with the submission is reported at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace

from sqlalchemy.exc import IntegrityError

from services.dossier.app.access import APPLICANT_KINDS
from services.dossier.app.context import DossierContext
from services.dossier.app.events import status_event
from services.dossier.app.procedures import ProcedureDirectory
from services.dossier.domain import codes
from services.dossier.domain.lifecycle import APPLICANT, RECEPTION, Status, may_submit
from services.dossier.domain.procedure import (
    ProcedureTerms,
    document_problems,
    eligibility_problems,
    form_problems,
)
from services.dossier.domain.log import GENESIS, entry_hash
from services.dossier.store.models import Dossier, IdempotencyKey, LogEntry, outbox
from services.dossier.store.writes import insert_rows, log_content, next_sequence, request_fingerprint
from services.platform.errors import Conflict, InvalidInput, PermissionDenied
from services.platform.events import make_envelope, utcnow
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
    dossier: Dossier | Row  # a Row when just written, the stored Dossier when replayed
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
        replay = await _replay_read(ctx, principal, cmd, fingerprint)  # a retry answers as the first time
        if replay is not None:
            return replay
        raise refuse(problems)
    filing = Filing(principal, cmd, role, applicant_id, applicant_name, terms, agency_code, form, fingerprint, now)
    try:
        if cmd.document_ids:
            result = await write_one(ctx, filing, problems)
        else:  # the common case: grouped with the agency's other submissions of the moment
            result = await ctx.batcher.submit(filing)
    except IntegrityError:
        # A concurrent retry with the same idempotency key won the race: answer as it did.
        replay = await _replay_read(ctx, principal, cmd, fingerprint)
        if replay is None:
            raise
        return replay
    except InvalidInput:
        replay = await _replay_read(ctx, principal, cmd, fingerprint)
        if replay is None:
            raise
        return replay
    if not result.replayed:
        ctx.relay.wake()
    return result


async def _replay_read(ctx, principal, cmd, fingerprint) -> Submitted | None:
    if not cmd.idempotency_key:
        return None
    async with ctx.reads() as session:
        dossier = await _replay(session, principal, cmd, fingerprint)
    return Submitted(dossier, True) if dossier is not None else None


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


CHANNEL_TEXT = {CHANNEL_ONLINE: "trực tuyến", CHANNEL_IN_PERSON: "trực tiếp", CHANNEL_POST: "qua bưu chính"}


@dataclass
class Filing:
    """A submission that passed every check, waiting for its dossier code."""

    principal: Principal
    cmd: SubmitCommand
    role: str
    applicant_id: str
    applicant_name: str
    terms: ProcedureTerms
    agency_code: str
    form: dict
    fingerprint: str
    now: datetime

    @property
    def day(self) -> str:
        return codes.day_key(self.now)


def build_rows(f: Filing, code: str, attached=()) -> tuple[Row, list[tuple]]:
    """The dossier and every row its submission writes: the dossier, its first log
    entries (hash-chained), the dossier.submitted event and the idempotency record."""
    now, principal = f.now, f.principal
    dossier = Row(
        code=code, procedure_code=f.terms.code, procedure_version=f.terms.version,
        procedure_name=f.terms.name, agency_code=f.agency_code, applicant_id=f.applicant_id,
        applicant_name=f.applicant_name, channel=f.cmd.channel, status_code=int(Status.NEW), submitted_at=now,
        accepted_at=None, due_at=None, processing_value=f.terms.processing_value,
        processing_unit=f.terms.processing_unit, tracking_secret=codes.new_tracking_secret(), form_data=f.form,
        version=1, updated_at=now, queue_at=now, submitted_by=principal.account_id, assignee_id=None,
        step_index=0, step_due_at=None, supplement_requested_at=None, supplement_count=0, paused_minutes=0,
        missing_items=[], original_due_at=None, fees_due_vnd=None, paid_at=None, result_document_id=None,
        return_method=None, finished_at=None, reason="", parent_code=None,
    )
    entries = [chained(None, dossier_code=code, at=now, actor_id=principal.account_id, actor_name=principal.name,
                       actor_role=f.role, action="submit", status_code=int(Status.NEW),
                       note=f"Nộp hồ sơ {CHANNEL_TEXT[f.cmd.channel]}")]
    for doc in attached:
        entries.append(chained(entries[-1], dossier_code=code, at=now, actor_id=principal.account_id,
                               actor_name=principal.name, actor_role=f.role, action="document",
                               status_code=int(Status.NEW), note=document_note(doc)))
    envelope = make_envelope(event_type="dossier.submitted", producer="dossier", subject=code,
                             payload=status_event(dossier, "submit", principal.account_id, f.role))
    event_row = {"event_id": envelope.event_id, "subject": envelope.type, "data": envelope.SerializeToString(),
                 "request_id": envelope.request_id, "created_at": now}
    idempotency = [{"principal_id": principal.account_id, "key": f.cmd.idempotency_key, "operation": "submit",
                    "request_hash": f.fingerprint, "response": code.encode(), "created_at": now}] \
        if f.cmd.idempotency_key else []
    # The log's end, recorded on the row, so deleting the last entries shows (verify_chain).
    dossier.log_seq, dossier.log_head = entries[-1].seq, entries[-1].hash
    return dossier, [(Dossier.__table__, [_columns(dossier, Dossier.__table__)]),
                     (LogEntry.__table__, [_columns(e, LogEntry.__table__, skip=("id",)) for e in entries]),
                     (outbox, [event_row]), (IdempotencyKey.__table__, idempotency)]


async def write_one(ctx, f: Filing, problems: dict[str, str]) -> Submitted:
    """One transaction. The agency's code counter is taken as late as possible and every
    row is then written in one statement (PostgreSQL), so the counter's row lock, which
    serialises an agency's submissions of the day, is held for two round trips. The
    idempotency key goes in with the rows (ON CONFLICT DO NOTHING): a retry is told by that
    insert finding the key taken, then rolled back and answered as the first time, so the
    common case reads nothing first."""
    try:
        async with ctx.sessions() as session, session.begin():
            connection = await session.connection()  # Core statements: no ORM work on the hot path
            sequence = await next_sequence(connection, f.agency_code or "-", f.day)
            code = codes.dossier_code(f.agency_code, f.day, sequence)
            attached = []
            if f.cmd.document_ids:
                owner = f.applicant_id if f.role == APPLICANT else f.principal.applicant_id
                attached, doc_problems = await _attach(session, owner, code, f.cmd.document_ids, f.terms)
                problems = {**problems, **doc_problems}
                if problems:
                    raise refuse(problems)  # rolls back the number and the attachments
            dossier, rows = build_rows(f, code, attached)
            if await insert_rows(session, rows, guard=IdempotencyKey.__table__) < len(rows[-1][1]):
                raise KeyTaken()  # rolls back the number and every row written
    except KeyTaken:
        replay = await replay_committed(ctx, f.principal, f.cmd, f.fingerprint)
        if replay is None:
            raise Conflict("Yêu cầu cùng Idempotency-Key đang được xử lý, vui lòng thử lại.",
                           fields={"Idempotency-Key": "in use"}) from None
        return replay
    return Submitted(dossier, False)


class KeyTaken(Exception):
    """The submission's idempotency key was used by an earlier one: replay it."""


async def replay_committed(ctx, principal, cmd, fingerprint) -> Submitted | None:
    """The first answer, read on the primary (the key's row has just been seen there)."""
    async with ctx.sessions() as session:
        dossier = await _replay(session, principal, cmd, fingerprint)
    return Submitted(dossier, True) if dossier is not None else None


class Row(SimpleNamespace):
    """A row's values as plain attributes: what a submission writes with Core statements
    and answers from. An ORM instance would cost some 60 µs more per submission, spent on
    instrumenting attributes that nothing tracks."""


def chained(previous: Row | None, **values) -> Row:
    """A log entry that follows ``previous`` (or starts the chain), its hash computed."""
    entry = Row(seq=previous.seq + 1 if previous else 1, prev_hash=previous.hash if previous else GENESIS,
                internal=False, internal_note="", hash="", **values)
    entry.hash = entry_hash(entry.prev_hash, log_content(entry))
    return entry


def _columns(row: Row, table, skip=()) -> dict:
    return {key: getattr(row, key, None) for key in _column_keys(table) if key not in skip}


@cache
def _column_keys(table) -> tuple[str, ...]:
    return tuple(c.key for c in table.columns)


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

