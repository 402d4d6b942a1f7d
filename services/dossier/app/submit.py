"""Submit a dossier (nộp hồ sơ): one transaction writes the dossier, its first log entry,
its event and the idempotency record, or nothing at all."""

from __future__ import annotations

import json
from dataclasses import dataclass

import grpc
from sqlalchemy.exc import IntegrityError

from motcua.v1 import catalogue_pb2
from services.dossier.app.access import APPLICANT_KINDS
from services.dossier.app.context import DossierContext
from services.dossier.app.events import status_event
from services.dossier.domain import codes
from services.dossier.domain.lifecycle import APPLICANT, RECEPTION, Status
from services.dossier.store.models import Dossier, outbox
from services.dossier.store.writes import (
    append_log,
    next_sequence,
    remember_response,
    replayed_response,
    request_fingerprint,
)
from services.platform.errors import FailedPrecondition, InvalidInput, PermissionDenied, Unavailable
from services.platform.events import record_event, utcnow
from services.platform.principal import Principal

CHANNEL_IN_PERSON, CHANNEL_ONLINE, CHANNEL_POST = 1, 2, 3
MAX_FORM_BYTES = 64 * 1024


@dataclass
class SubmitCommand:
    procedure_code: str
    agency_code: str = ""
    form_data_json: str = ""
    channel: int = CHANNEL_ONLINE
    idempotency_key: str = ""


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


async def _procedure(ctx: DossierContext, code: str) -> catalogue_pb2.Procedure:
    try:
        reply = await ctx.catalogue.GetProcedure(catalogue_pb2.GetProcedureRequest(code=code))
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise InvalidInput(f"Không có thủ tục hành chính mã {code}.",
                               fields={"procedure_code": "unknown procedure"}) from exc
        raise Unavailable("Danh mục thủ tục tạm thời không phản hồi, vui lòng thử lại.") from exc
    return reply.procedure


async def _receiving_agency(ctx: DossierContext, procedure: catalogue_pb2.Procedure, requested: str) -> str:
    """A procedure with a fixed agency goes there; a commune-level one to the unit chosen."""
    if procedure.agency_code:
        if requested and requested != procedure.agency_code:
            raise InvalidInput("Thủ tục này chỉ được nộp tại cơ quan đã quy định.",
                               fields={"agency_code": f"must be {procedure.agency_code}"})
        return procedure.agency_code
    if not requested:
        raise InvalidInput("Vui lòng chọn cơ quan (xã, phường) nơi nộp hồ sơ.",
                           fields={"agency_code": "required for this procedure"})
    try:
        reply = await ctx.catalogue.GetAgency(catalogue_pb2.GetAgencyRequest(code=requested))
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise InvalidInput(f"Không có cơ quan mã {requested}.", fields={"agency_code": "unknown agency"}) from exc
        raise Unavailable("Danh mục cơ quan tạm thời không phản hồi, vui lòng thử lại.") from exc
    if procedure.level == "commune" and reply.agency.kind != "commune":
        raise InvalidInput("Thủ tục cấp xã phải nộp tại một đơn vị hành chính cấp xã.",
                           fields={"agency_code": "must be a commune-level unit"})
    return requested


async def submit_dossier(ctx: DossierContext, principal: Principal, cmd: SubmitCommand) -> Submitted:
    if principal.is_official:
        if not principal.has_role(RECEPTION) or cmd.channel == CHANNEL_ONLINE:
            raise PermissionDenied("Cán bộ chỉ tiếp nhận hồ sơ nộp trực tiếp hoặc qua bưu chính.")
    elif principal.kind not in APPLICANT_KINDS:
        raise PermissionDenied("Tài khoản này không nộp được hồ sơ.")
    elif cmd.channel != CHANNEL_ONLINE:
        raise InvalidInput("Hồ sơ của người dân gửi qua cổng là hồ sơ trực tuyến.", fields={"channel": "must be online"})
    if not cmd.procedure_code or len(cmd.procedure_code) > 40:
        raise InvalidInput("Thiếu mã thủ tục.", fields={"procedure_code": "required"})
    if len(cmd.idempotency_key) > 200:
        raise InvalidInput("Idempotency-Key quá dài (tối đa 200 ký tự).", fields={"Idempotency-Key": "too long"})
    form = _parse_form(cmd.form_data_json)
    fingerprint = request_fingerprint(cmd.procedure_code, cmd.agency_code, cmd.form_data_json, str(cmd.channel))

    async with ctx.sessions() as session:
        code = await replayed_response(session, principal_id=principal.account_id, key=cmd.idempotency_key,
                                       operation="submit", fingerprint=fingerprint)
        if code is not None:
            return Submitted(await session.get(Dossier, code.decode()), True)

    procedure = await _procedure(ctx, cmd.procedure_code)
    if procedure.status != "published":
        raise FailedPrecondition("Thủ tục này hiện không nhận hồ sơ.", fields={"procedure_code": procedure.status})
    if principal.verification_level < procedure.min_verification_level:
        raise FailedPrecondition(
            f"Thủ tục yêu cầu tài khoản định danh mức {procedure.min_verification_level}.",
            fields={"verification_level": "too low"},
        )
    agency_code = await _receiving_agency(ctx, procedure, cmd.agency_code)

    try:
        dossier = await _write(ctx, principal, cmd, procedure, agency_code, form, fingerprint)
    except IntegrityError:
        # A concurrent retry with the same idempotency key won the race: answer as it did.
        async with ctx.sessions() as session:
            code = await replayed_response(session, principal_id=principal.account_id, key=cmd.idempotency_key,
                                           operation="submit", fingerprint=fingerprint)
            if code is None:
                raise
            return Submitted(await session.get(Dossier, code.decode()), True)
    ctx.relay.wake()
    return Submitted(dossier, False)


async def _write(ctx, principal, cmd, procedure, agency_code, form, fingerprint) -> Dossier:
    now = utcnow()
    applicant_role = APPLICANT if not principal.is_official else RECEPTION
    async with ctx.sessions() as session, session.begin():
        sequence = await next_sequence(session, agency_code, codes.day_key(now))
        code = codes.dossier_code(agency_code, codes.day_key(now), sequence)
        time = procedure.processing_time
        dossier = Dossier(
            code=code, procedure_code=procedure.code, procedure_version=procedure.version,
            procedure_name=procedure.name, agency_code=agency_code,
            applicant_id=principal.account_id, applicant_name=principal.name,
            channel=cmd.channel, status_code=int(Status.NEW), submitted_at=now,
            processing_value=time.value if time.HasField("value") else None,
            processing_unit=time.unit, tracking_secret=codes.new_tracking_secret(),
            form_data=form, version=1, updated_at=now,
        )
        session.add(dossier)
        await append_log(session, dossier_code=code, at=now, actor_id=principal.account_id,
                         actor_name=principal.name, actor_role=applicant_role, action="submit",
                         status_code=int(Status.NEW), note="Nộp hồ sơ")
        await record_event(
            session, outbox, event_type="dossier.submitted", producer="dossier", subject=code,
            payload=status_event(dossier, "submit", principal.account_id, applicant_role),
        )
        remember_response(session, principal_id=principal.account_id, key=cmd.idempotency_key,
                          operation="submit", fingerprint=fingerprint, response=code.encode(), at=now)
    return dossier
