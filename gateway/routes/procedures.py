"""/api/v1/procedures: the public catalogue (search, one procedure)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Query, Request

from gateway import views
from gateway.problems import Problem
from motcua.v1 import catalogue_pb2, common_pb2

router = APIRouter(prefix="/api/v1", tags=["Thủ tục hành chính"])


def procedure_view(p: catalogue_pb2.Procedure) -> dict:
    """The procedure as JSON, its e-form schema as an object rather than text."""
    out = views.message(p)
    text = out.pop("eform_schema_json", "")
    out["eform_schema"] = json.loads(text) if text else None
    return out


@router.get("/procedures", summary="Tìm thủ tục (có hoặc không dấu, chấp nhận gõ sai một chữ)")
async def search(
    request: Request,
    q: str = Query("", max_length=200),
    agency: str = Query("", max_length=35),
    sector: str = Query("", max_length=200),
    level: str = Query("", max_length=20, description="province, commune hoặc ministry"),
    online: str = Query("", max_length=10, description="full, partial hoặc none"),
    page_size: int = Query(20, ge=1, le=100),
    page_token: str = Query("", max_length=20),
):
    reply = await request.app.state.clients.catalogue.SearchProcedures(catalogue_pb2.SearchProceduresRequest(
        query=q, agency_code=agency, sector=sector, level=level, online_mode=online,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)))
    return {"items": [views.message(p) for p in reply.procedures],
            "next_page_token": reply.page.next_page_token, "total": reply.page.total}


@router.get("/procedures/{code}", summary="Chi tiết một thủ tục (phiên bản đang hiệu lực, hoặc một phiên bản đã công bố)")
async def get_procedure(code: str, request: Request, version: int = Query(0, ge=0, le=1_000_000)):
    reply = await request.app.state.clients.catalogue.GetProcedure(
        catalogue_pb2.GetProcedureRequest(code=code, version=version))
    if reply.procedure.status == "draft":  # drafts are for city administrators only
        raise Problem(404, f"Không tìm thấy thủ tục có mã {code} phiên bản {version}.")
    return procedure_view(reply.procedure)
