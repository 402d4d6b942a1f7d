"""/api/v1/agencies: the agency tree (merged or renamed agencies kept, on request)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from gateway import views
from motcua.v1 import catalogue_pb2

router = APIRouter(prefix="/api/v1", tags=["Cơ quan, đơn vị"])


@router.get("/agencies", summary="Danh sách cơ quan, đơn vị")
async def agencies(request: Request, kind: str = Query("", max_length=20), parent: str = Query("", max_length=35),
                   include_inactive: bool = Query(False, description="Kể cả cơ quan đã sáp nhập, đổi tên")):
    reply = await request.app.state.clients.catalogue.ListAgencies(
        catalogue_pb2.ListAgenciesRequest(kind=kind, parent_code=parent, include_inactive=include_inactive))
    return {"items": [views.message(a) for a in reply.agencies]}


@router.get("/agencies/{code}", summary="Một cơ quan (kể cả đã sáp nhập: xem successor_code)")
async def agency(code: str, request: Request):
    reply = await request.app.state.clients.catalogue.GetAgency(catalogue_pb2.GetAgencyRequest(code=code))
    return views.message(reply.agency)
