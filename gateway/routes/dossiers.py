"""/api/v1/dossiers (the applicant's), /api/v1/work (officials'), /api/v1/tracking (public)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from gateway import views
from gateway.auth import Caller, caller
from gateway.schemas import Action, SubmitDossier
from motcua.v1 import common_pb2, dossier_pb2

router = APIRouter(prefix="/api/v1", tags=["Hồ sơ"])

IdempotencyKey = Header(default="", alias="Idempotency-Key", max_length=200,
                        description="Gửi lại cùng khóa thì không tạo hồ sơ thứ hai")


def _replayed_headers(replayed: bool) -> dict:
    return {"Idempotent-Replayed": "true"} if replayed else {}


@router.post("/dossiers", status_code=201, summary="Nộp hồ sơ trực tuyến")
async def submit(body: SubmitDossier, request: Request, who: Caller = Depends(caller),
                 idempotency_key: str = IdempotencyKey):
    reply = await request.app.state.clients.dossier.SubmitDossier(dossier_pb2.SubmitDossierRequest(
        procedure_code=body.procedure_code, agency_code=body.agency_code,
        form_data_json=json.dumps(body.form_data, ensure_ascii=False), channel=dossier_pb2.CHANNEL_ONLINE,
        idempotency_key=idempotency_key), metadata=who.metadata)
    return JSONResponse(views.dossier(reply.dossier), status_code=201, headers=_replayed_headers(reply.replayed))


@router.get("/dossiers", summary="Hồ sơ của tôi")
async def mine(request: Request, who: Caller = Depends(caller), page_size: int = Query(20, ge=1, le=100),
               page_token: str = Query("", max_length=20)):
    reply = await request.app.state.clients.dossier.ListMyDossiers(dossier_pb2.ListMyDossiersRequest(
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)), metadata=who.metadata)
    return {"items": [views.dossier(d) for d in reply.dossiers], "next_page_token": reply.page.next_page_token,
            "total": reply.page.total}


@router.get("/dossiers/{code}", summary="Một hồ sơ")
async def get_dossier(code: str, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.dossier.GetDossier(dossier_pb2.GetDossierRequest(code=code),
                                                               metadata=who.metadata)
    return views.dossier(reply.dossier)


@router.get("/dossiers/{code}/log", summary="Nhật ký hồ sơ")
async def dossier_log(code: str, request: Request, who: Caller = Depends(caller)):
    reply = await request.app.state.clients.dossier.GetDossierLog(dossier_pb2.GetDossierLogRequest(code=code),
                                                                  metadata=who.metadata)
    return {"items": [views.log_entry(e) for e in reply.entries]}


@router.post("/dossiers/{code}/actions/{action}", summary="Thao tác của người nộp (ví dụ: withdraw)")
async def applicant_action(code: str, action: str, body: Action, request: Request, who: Caller = Depends(caller),
                           idempotency_key: str = IdempotencyKey):
    return await _act(request, who, code, action, body, idempotency_key)


@router.get("/tracking/{code}", summary="Tra cứu tiến độ hồ sơ (công khai, cần mã tra cứu trên giấy hẹn)")
async def track(code: str, request: Request, secret: str = Query(..., min_length=1, max_length=20)):
    reply = await request.app.state.clients.dossier.TrackDossier(
        dossier_pb2.TrackDossierRequest(code=code, secret=secret))
    return views.tracking(reply.view)


@router.get("/work/dossiers", summary="Hàng đợi hồ sơ của cán bộ")
async def queue(request: Request, who: Caller = Depends(caller), status: int = Query(0, ge=0, le=10),
                page_size: int = Query(20, ge=1, le=100), page_token: str = Query("", max_length=20)):
    reply = await request.app.state.clients.dossier.ListWorkQueue(dossier_pb2.ListWorkQueueRequest(
        status_code=status, page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)),
        metadata=who.metadata)
    return {"items": [views.dossier(d) for d in reply.dossiers], "next_page_token": reply.page.next_page_token,
            "total": reply.page.total}


@router.post("/work/dossiers/{code}/actions/{action}", summary="Thao tác của cán bộ (accept, refuse, ...)")
async def official_action(code: str, action: str, body: Action, request: Request, who: Caller = Depends(caller),
                          idempotency_key: str = IdempotencyKey):
    return await _act(request, who, code, action, body, idempotency_key)


async def _act(request: Request, who: Caller, code: str, action: str, body: Action, key: str):
    reply = await request.app.state.clients.dossier.PerformAction(dossier_pb2.PerformActionRequest(
        code=code, action=action, note=body.note, expected_version=body.expected_version, idempotency_key=key),
        metadata=who.metadata)
    return JSONResponse(views.dossier(reply.dossier), headers=_replayed_headers(reply.replayed))
