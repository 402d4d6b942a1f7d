"""/api/v1/work: officials' queues and actions on their agency's dossiers, and filings
received at the counter or by post."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from gateway.responses import JSONResponse

from gateway.auth import Caller, caller
from gateway.routes.dossiers import (
    IdempotencyKey,
    PageToken,
    dossier_log,
    dossier_view,
    get_dossier,
    page_view,
    perform,
    replayed_headers,
)
from gateway.schemas import Action, CounterSubmission
from motcua.v1 import common_pb2, dossier_pb2

router = APIRouter(prefix="/api/v1/work", tags=["Xử lý hồ sơ (cán bộ)"])

CHANNELS = {"in_person": dossier_pb2.CHANNEL_IN_PERSON, "post": dossier_pb2.CHANNEL_POST}


@router.get("/dossiers", summary="Hàng đợi hồ sơ: quá hạn trước, theo hạn giải quyết")
async def queue(request: Request, who: Caller = Depends(caller), status: int = Query(0, ge=0, le=10),
                assigned_to_me: bool = False, overdue: bool = False, due_soon: bool = False,
                page_size: int = Query(20, ge=1, le=100), page_token: str = PageToken):
    reply = await request.app.state.clients.dossier.ListWorkQueue(dossier_pb2.ListWorkQueueRequest(
        status_code=status, assigned_to_me=assigned_to_me, overdue_only=overdue, due_soon_only=due_soon,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)), metadata=who.metadata)
    return JSONResponse(page_view(reply))


@router.post("/dossiers", status_code=201, summary="Tiếp nhận hồ sơ nộp trực tiếp hoặc qua bưu chính")
async def counter_submission(body: CounterSubmission, request: Request, who: Caller = Depends(caller),
                             idempotency_key: str = IdempotencyKey):
    reply = await request.app.state.clients.dossier.SubmitDossier(dossier_pb2.SubmitDossierRequest(
        procedure_code=body.procedure_code, agency_code=body.agency_code,
        form_data_json=json.dumps(body.form_data, ensure_ascii=False), channel=CHANNELS[body.channel],
        idempotency_key=idempotency_key, document_ids=body.document_ids, applicant_id=body.applicant_id,
        applicant_name=body.applicant_name), metadata=who.metadata)
    return JSONResponse(dossier_view(reply.dossier), status_code=201, headers=replayed_headers(reply.replayed))


# An official reads a dossier and its full log through the same handlers as an applicant:
# the dossier service decides what each may see (internal notes only for officials).
router.add_api_route("/dossiers/{code}", get_dossier, methods=["GET"], summary="Một hồ sơ của cơ quan")
router.add_api_route("/dossiers/{code}/log", dossier_log, methods=["GET"], summary="Nhật ký đầy đủ của hồ sơ")


@router.post("/dossiers/{code}/actions/{action}",
             summary="Thao tác của cán bộ: accept, request_supplement, refuse, redirect, assign, complete_step, "
                     "forward, request_fees, pay, approve, result_ready, return_result, stop, extend, message, note")
async def official_action(code: str, action: str, body: Action, request: Request, who: Caller = Depends(caller),
                          idempotency_key: str = IdempotencyKey):
    return await perform(request, who, code, action, body, idempotency_key)
