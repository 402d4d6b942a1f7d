"""DossierService over gRPC: translate protobuf to use cases and back."""

from __future__ import annotations

import json

from motcua.v1 import common_pb2, dossier_pb2, dossier_pb2_grpc
from services.dossier.app import queries
from services.dossier.app.act import ActionCommand, perform_action
from services.dossier.app.context import DossierContext
from services.dossier.app.submit import SubmitCommand, submit_dossier
from services.dossier.domain.lifecycle import Status
from services.dossier.store.models import Dossier, LogEntry
from services.dossier.store.writes import as_utc
from services.platform.grpc_server import current_principal


def _ts(target, value) -> None:
    if value is not None:
        target.FromDatetime(as_utc(value))


def dossier_to_proto(d: Dossier, *, with_secret: bool = True) -> dossier_pb2.Dossier:
    msg = dossier_pb2.Dossier(
        code=d.code, procedure_code=d.procedure_code, procedure_version=d.procedure_version,
        procedure_name=d.procedure_name, agency_code=d.agency_code, applicant_id=d.applicant_id,
        applicant_name=d.applicant_name, status_code=d.status_code, status=Status(d.status_code).label,
        channel=d.channel, tracking_secret=d.tracking_secret if with_secret else "", version=d.version,
        form_data_json=json.dumps(d.form_data or {}, ensure_ascii=False),
    )
    _ts(msg.submitted_at, d.submitted_at)
    _ts(msg.accepted_at, d.accepted_at)
    _ts(msg.due_at, d.due_at)
    return msg


def log_to_proto(e: LogEntry) -> dossier_pb2.LogEntry:
    msg = dossier_pb2.LogEntry(
        seq=e.seq, actor_id=e.actor_id, actor_name=e.actor_name, actor_role=e.actor_role, action=e.action,
        status_code=e.status_code, status=Status(e.status_code).label, note=e.note,
        prev_hash=e.prev_hash, hash=e.hash,
    )
    _ts(msg.at, e.at)
    return msg


def _offset(page: common_pb2.PageRequest) -> int:
    return int(page.page_token) if page.page_token.isdigit() else 0


def _page_info(offset: int, count: int, total: int) -> common_pb2.PageInfo:
    nxt = offset + count
    return common_pb2.PageInfo(next_page_token=str(nxt) if nxt < total else "", total=total)


class DossierServicer(dossier_pb2_grpc.DossierServiceServicer):
    def __init__(self, ctx: DossierContext):
        self._ctx = ctx

    async def SubmitDossier(self, request, context):
        result = await submit_dossier(self._ctx, current_principal(), SubmitCommand(
            procedure_code=request.procedure_code, agency_code=request.agency_code,
            form_data_json=request.form_data_json, channel=request.channel or 2,
            idempotency_key=request.idempotency_key,
        ))
        return dossier_pb2.SubmitDossierResponse(dossier=dossier_to_proto(result.dossier), replayed=result.replayed)

    async def ListMyDossiers(self, request, context):
        offset = _offset(request.page)
        rows, total = await queries.list_mine(self._ctx, current_principal(), offset=offset,
                                              limit=request.page.page_size)
        return dossier_pb2.ListMyDossiersResponse(dossiers=[dossier_to_proto(d) for d in rows],
                                                  page=_page_info(offset, len(rows), total))

    async def GetDossier(self, request, context):
        principal = current_principal()
        dossier = await queries.get_dossier(self._ctx, principal, request.code)
        return dossier_pb2.GetDossierResponse(dossier=dossier_to_proto(dossier))

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
        offset = _offset(request.page)
        rows, total = await queries.work_queue(self._ctx, current_principal(), status_code=request.status_code,
                                               offset=offset, limit=request.page.page_size)
        return dossier_pb2.ListWorkQueueResponse(dossiers=[dossier_to_proto(d, with_secret=False) for d in rows],
                                                 page=_page_info(offset, len(rows), total))

    async def PerformAction(self, request, context):
        result = await perform_action(self._ctx, current_principal(), ActionCommand(
            code=request.code, action=request.action, note=request.note,
            expected_version=request.expected_version, idempotency_key=request.idempotency_key,
        ))
        return dossier_pb2.PerformActionResponse(dossier=dossier_to_proto(result.dossier, with_secret=False),
                                                 replayed=result.replayed)
