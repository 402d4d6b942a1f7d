"""The public portal's pages, in Vietnamese: search procedures, read one, track a dossier."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from gateway import views
from motcua.v1 import catalogue_pb2, common_pb2, dossier_pb2

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, q: str = Query("", max_length=200)):
    results, total = [], 0
    if q:
        reply = await request.app.state.clients.catalogue.SearchProcedures(catalogue_pb2.SearchProceduresRequest(
            query=q, page=common_pb2.PageRequest(page_size=30)))
        results, total = list(reply.procedures), reply.page.total
    return templates.TemplateResponse(request, "home.html", {"q": q, "results": results, "total": total})


@router.get("/thu-tuc/{code}", response_class=HTMLResponse)
async def procedure(code: str, request: Request):
    try:
        reply = await request.app.state.clients.catalogue.GetProcedure(catalogue_pb2.GetProcedureRequest(code=code))
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return templates.TemplateResponse(request, "message.html", {"title": "Không tìm thấy thủ tục",
                                          "text": f"Không có thủ tục mã {code}."}, status_code=404)
    eform = json.loads(reply.procedure.eform_schema_json) if reply.procedure.eform_schema_json else None
    return templates.TemplateResponse(request, "procedure.html", {"p": reply.procedure, "eform": eform})


@router.get("/tra-cuu", response_class=HTMLResponse)
async def tracking(request: Request, code: str = Query("", max_length=60), secret: str = Query("", max_length=20)):
    view, error = None, ""
    if code or secret:
        try:
            reply = await request.app.state.clients.dossier.TrackDossier(
                dossier_pb2.TrackDossierRequest(code=code.strip(), secret=secret.strip()))
            view = views.tracking(reply.view)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            error = "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu này."
    return templates.TemplateResponse(request, "tracking.html",
                                      {"code": code, "view": view, "error": error},
                                      status_code=404 if error else 200)
