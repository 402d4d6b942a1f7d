"""DossierService over gRPC: translate protobuf to use cases and back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from motcua.v1 import common_pb2, dossier_pb2, dossier_pb2_grpc
from services.dossier.app import queries
from services.dossier.app.act import ActionCommand, perform_action
from services.dossier.app.context import DossierContext
from services.dossier.app.submit import SubmitCommand, submit_dossier
from services.dossier.domain.lifecycle import Status
from services.dossier.store.models import Dossier, LogEntry
from services.dossier.store.writes import as_utc
from services.platform.grpc_server import current_principal


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ts(target, value) -> None:
    """What ``target.FromDatetime(as_utc(value))`` sets, by integer arithmetic: a fifth of
    its time, and a page of twenty dossiers sets a hundred of these."""
    if value is not None:
        since = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)) - EPOCH
        target.seconds = since.days * 86_400 + since.seconds
        target.nanos = since.microseconds * 1000


def dossier_to_proto(d: Dossier, *, with_secret: bool = True, flag: str = "", steps=()) -> dossier_pb2.Dossier:
    step_index = d.step_index or 0
    msg = dossier_pb2.Dossier(
        code=d.code, procedure_code=d.procedure_code, procedure_version=d.procedure_version,
        procedure_name=d.procedure_name, agency_code=d.agency_code, applicant_id=d.applicant_id,
        applicant_name=d.applicant_name, status_code=d.status_code, status=Status(d.status_code).label,
        channel=d.channel, tracking_secret=d.tracking_secret if with_secret else "", version=d.version,
        form_data_json=json.dumps(d.form_data or {}, ensure_ascii=False), assignee_id=d.assignee_id or "",
        step_index=step_index, step_name=steps[step_index].name if step_index < len(steps) else "",
        deadline_flag=flag, missing_items=list(d.missing_items or []), supplement_count=d.supplement_count or 0,
        fees_due_vnd=d.fees_due_vnd or 0, result_document_id=d.result_document_id or "",
        return_method=d.return_method or "", reason=d.reason or "", parent_code=d.parent_code or "",
        workflow_steps=len(steps),
    )
    for name in ("submitted_at", "accepted_at", "due_at", "step_due_at", "paid_at", "finished_at", "original_due_at"):
        _ts(getattr(msg, name), getattr(d, name))
    return msg


def log_to_proto(e: LogEntry) -> dossier_pb2.LogEntry:
    msg = dossier_pb2.LogEntry(
        seq=e.seq, actor_id=e.actor_id, actor_name=e.actor_name, actor_role=e.actor_role, action=e.action,
        status_code=e.status_code, status=Status(e.status_code).label, note=e.note,
        prev_hash=e.prev_hash, hash=e.hash, internal=bool(e.internal), internal_note=e.internal_note or "",
    )
    _ts(msg.at, e.at)
    return msg


def _page_info(token: str, total: int) -> common_pb2.PageInfo:
    return common_pb2.PageInfo(next_page_token=token, total=total)


class DossierServicer(dossier_pb2_grpc.DossierServiceServicer):
    def __init__(self, ctx: DossierContext):
        self._ctx = ctx

    async def _view(self, d: Dossier, *, with_secret: bool) -> dossier_pb2.Dossier:
        terms = self._ctx.procedures.cached(d.procedure_code, d.procedure_version)
        if terms is None:
            try:
                terms = await self._ctx.procedures.version(d.procedure_code, d.procedure_version)
            except Exception:  # the view does without the step names when the catalogue is away
                terms = None
        return dossier_to_proto(d, with_secret=with_secret, flag=queries.flag_of(self._ctx, d),
                                steps=terms.workflow if terms else ())

    async def SubmitDossier(self, request, context):
        result = await submit_dossier(self._ctx, current_principal(), SubmitCommand(
            procedure_code=request.procedure_code, agency_code=request.agency_code,
            form_data_json=request.form_data_json, channel=request.channel or 2,
            idempotency_key=request.idempotency_key, document_ids=list(request.document_ids),
            applicant_id=request.applicant_id, applicant_name=request.applicant_name,
        ))
        return dossier_pb2.SubmitDossierResponse(dossier=await self._view(result.dossier, with_secret=True),
                                                 replayed=result.replayed)

    async def ListMyDossiers(self, request, context):
        rows, total, nxt = await queries.list_mine(self._ctx, current_principal(), token=request.page.page_token,
                                                   limit=request.page.page_size, status_code=request.status_code)
        return dossier_pb2.ListMyDossiersResponse(dossiers=[await self._view(d, with_secret=True) for d in rows],
                                                  page=_page_info(nxt, total))

    async def GetDossier(self, request, context):
        principal = current_principal()
        dossier = await queries.get_dossier(self._ctx, principal, request.code)
        return dossier_pb2.GetDossierResponse(dossier=await self._view(dossier, with_secret=not principal.is_official))

    async def GetDossierLog(self, request, context):
        entries = await queries.dossier_log(self._ctx, current_principal(), request.code)
        return dossier_pb2.GetDossierLogResponse(entries=[log_to_proto(e) for e in entries])

    async def TrackDossier(self, request, context):
        d = await queries.track(self._ctx, request.code, request.secret)
        view = dossier_pb2.TrackingView(code=d.code, procedure_name=d.procedure_name, agency_code=d.agency_code,
                                        status_code=d.status_code, status=Status(d.status_code).label)
        _ts(view.submitted_at, d.submitted_at)
        _ts(view.due_at, d.due_at)
        return dossier_pb2.TrackDossierResponse(view=view)

    async def ListWorkQueue(self, request, context):
        rows, total, nxt = await queries.work_queue(
            self._ctx, current_principal(), status_code=request.status_code, token=request.page.page_token,
            limit=request.page.page_size, assigned_to_me=request.assigned_to_me, overdue_only=request.overdue_only,
            due_soon_only=request.due_soon_only)
        return dossier_pb2.ListWorkQueueResponse(dossiers=[await self._view(d, with_secret=False) for d in rows],
                                                 page=_page_info(nxt, total))

    async def PerformAction(self, request, context):
        principal = current_principal()
        result = await perform_action(self._ctx, principal, ActionCommand(
            code=request.code, action=request.action, note=request.note,
            expected_version=request.expected_version, idempotency_key=request.idempotency_key,
            document_ids=list(request.document_ids), missing_items=list(request.missing_items),
            assignee_id=request.assignee_id,
            new_due_at=request.new_due_at.ToDatetime(tzinfo=UTC) if request.HasField("new_due_at") else None,
            agency_code=request.agency_code, result_document_id=request.result_document_id,
            fees_vnd=request.fees_vnd, return_method=request.return_method, internal_note=request.internal_note,
        ))
        return dossier_pb2.PerformActionResponse(
            dossier=await self._view(result.dossier, with_secret=not principal.is_official),
            replayed=result.replayed, derived_code=result.derived_code)
