"""/api/v1/procedures and /api/v1/agencies: the public catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from gateway import views
from motcua.v1 import catalogue_pb2, common_pb2

router = APIRouter(prefix="/api/v1", tags=["Thủ tục hành chính"])


@router.get("/procedures", summary="Tìm thủ tục (có hoặc không dấu)")
async def search(
    request: Request,
    q: str = Query("", max_length=200),
    agency: str = Query("", max_length=35),
    sector: str = Query("", max_length=200),
    level: str = Query("", max_length=20),
    page_size: int = Query(20, ge=1, le=100),
    page_token: str = Query("", max_length=20),
):
    reply = await request.app.state.clients.catalogue.SearchProcedures(catalogue_pb2.SearchProceduresRequest(
        query=q, agency_code=agency, sector=sector, level=level,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)))
    return {"items": [views.message(p) for p in reply.procedures],
            "next_page_token": reply.page.next_page_token, "total": reply.page.total}


@router.get("/procedures/{code}", summary="Chi tiết một thủ tục")
async def get_procedure(code: str, request: Request):
    reply = await request.app.state.clients.catalogue.GetProcedure(catalogue_pb2.GetProcedureRequest(code=code))
    return views.message(reply.procedure)


@router.get("/agencies", summary="Danh sách cơ quan, đơn vị")
async def agencies(request: Request, kind: str = Query("", max_length=20), parent: str = Query("", max_length=35)):
    reply = await request.app.state.clients.catalogue.ListAgencies(
        catalogue_pb2.ListAgenciesRequest(kind=kind, parent_code=parent))
    return {"items": [views.message(a) for a in reply.agencies]}
