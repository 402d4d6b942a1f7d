"""/api/v1/admin/catalogue: city administrators edit the catalogue (drafts, publishing,
retiring, import and export as JSON or Excel, agency reorganisations, the audit trail)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import PurePath

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, Field

from gateway import views
from gateway.auth import Caller, caller
from gateway.problems import Problem
from gateway.routes.procedures import procedure_view
from motcua.v1 import catalogue_pb2, common_pb2

PREFIX = "/api/v1/admin/catalogue"
IMPORT_PATH = f"{PREFIX}/import"
AGENCY_IMPORT_PATH = f"{PREFIX}/agencies/import"
# What a catalogue file may weigh through the gateway (the service takes up to 8 MB).
MAX_UPLOAD_BYTES = 7_000_000
UPLOAD_OVERHEAD_BYTES = 64_000

router = APIRouter(prefix=PREFIX, tags=["Quản trị danh mục thủ tục"])


async def city_admin(who: Caller = Depends(caller)) -> Caller:
    if not (who.principal.is_official and who.principal.has_role("city_admin")):
        raise Problem(403, "Chỉ quản trị viên của Thành phố được quản trị danh mục thủ tục.")
    return who


class PublishBody(BaseModel):
    """Optional; without ``effective_from`` the version is in force at once."""

    effective_from: str | None = Field(None, max_length=64, description="ISO 8601 with a time zone; not in the past")


class RetireBody(BaseModel):
    effective_to: str | None = Field(None, max_length=64, description="ISO 8601 with a time zone; default now")
    reason: str | None = Field(None, max_length=1000)


def _procedure(body: dict, *, code: str = "", version: int = 0) -> catalogue_pb2.Procedure:
    """The JSON a client sends (the shape GET returns; ``eform_schema`` as an object) as protobuf."""
    if not isinstance(body, dict):
        raise Problem(422, "Nội dung phải là một đối tượng JSON.", errors={"body": "must be an object"})
    data = {k: v for k, v in body.items() if k not in ("agency_name", "processing_agency_name", "status",
                                                      "updated_at", "updated_by", "effective_from", "effective_to")}
    if "eform_schema" in data:
        schema = data.pop("eform_schema")
        data["eform_schema_json"] = "" if schema in (None, "", {}) else json.dumps(schema, ensure_ascii=False)
    if code:
        data["code"] = code
    if version:
        data["version"] = version
    try:
        return json_format.ParseDict(data, catalogue_pb2.Procedure())
    except json_format.ParseError as exc:
        raise Problem(422, f"Dữ liệu thủ tục chưa hợp lệ: {exc}", errors={"body": str(exc)[:300]}) from exc


def _timestamp(value: str | None, field: str):
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Problem(422, f"{field} phải là ngày giờ ISO 8601.", errors={field: "invalid date-time"}) from exc
    if moment.tzinfo is None:
        raise Problem(422, f"{field} phải nêu múi giờ (ví dụ +07:00).", errors={field: "timezone required"})
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def _format(file: UploadFile, given: str) -> str:
    fmt = (given or PurePath(file.filename or "").suffix.lstrip(".")).lower()
    if fmt not in ("json", "xlsx"):
        raise Problem(422, "Tệp nhập phải là .json hoặc .xlsx.", errors={"format": "must be json or xlsx"})
    return fmt


async def _content(file: UploadFile) -> bytes:
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise Problem(413, f"Tệp nhập vượt quá {MAX_UPLOAD_BYTES // 1_000_000} MB.")
    return content


def _imported(reply) -> dict:
    return {"created": reply.created, "updated": reply.updated, "unchanged": reply.unchanged,
            "dry_run": reply.dry_run, "codes": list(reply.codes)}


@router.get("/procedures/{code}/versions", summary="Các phiên bản của một thủ tục")
async def versions(code: str, request: Request, who: Caller = Depends(city_admin)):
    reply = await request.app.state.clients.catalogue.ListVersions(
        catalogue_pb2.ListVersionsRequest(code=code), metadata=who.metadata)
    return views.message(reply)


@router.get("/procedures/{code}/versions/{version}", summary="Một phiên bản (kể cả bản nháp)")
async def version(code: str, version: int, request: Request, who: Caller = Depends(city_admin)):
    if version < 1:
        raise Problem(422, "Phiên bản phải từ 1.", errors={"version": "must be >= 1"})
    reply = await request.app.state.clients.catalogue.GetProcedure(
        catalogue_pb2.GetProcedureRequest(code=code, version=version), metadata=who.metadata)
    return procedure_view(reply.procedure)


@router.post("/procedures", status_code=201, summary="Tạo bản nháp (thủ tục mới, hoặc phiên bản mới của thủ tục đã có)")
async def create_draft(request: Request, body: dict = Body(...), copy_from_latest: bool = Query(False),
                       who: Caller = Depends(city_admin)):
    reply = await request.app.state.clients.catalogue.CreateDraft(
        catalogue_pb2.CreateDraftRequest(procedure=_procedure(body), copy_from_latest=copy_from_latest),
        metadata=who.metadata)
    return procedure_view(reply.procedure)


@router.put("/procedures/{code}/versions/{version}", summary="Sửa bản nháp")
async def update_draft(code: str, version: int, request: Request, body: dict = Body(...),
                       who: Caller = Depends(city_admin)):
    if version < 1:
        raise Problem(422, "Phiên bản phải từ 1.", errors={"version": "must be >= 1"})
    reply = await request.app.state.clients.catalogue.UpdateDraft(
        catalogue_pb2.UpdateDraftRequest(procedure=_procedure(body, code=code, version=version)),
        metadata=who.metadata)
    return procedure_view(reply.procedure)


@router.post("/procedures/{code}/versions/{version}/publish", summary="Công bố bản nháp")
async def publish(code: str, version: int, request: Request, body: PublishBody | None = Body(None),
                  who: Caller = Depends(city_admin)):
    msg = catalogue_pb2.PublishProcedureRequest(code=code, version=version)
    ts = _timestamp(body.effective_from if body else None, "effective_from")
    if ts is not None:
        msg.effective_from.CopyFrom(ts)
    reply = await request.app.state.clients.catalogue.PublishProcedure(msg, metadata=who.metadata)
    return procedure_view(reply.procedure)


@router.post("/procedures/{code}/versions/{version}/retire", summary="Bãi bỏ một phiên bản đã công bố")
async def retire(code: str, version: int, request: Request, body: RetireBody | None = Body(None),
                 who: Caller = Depends(city_admin)):
    body = body or RetireBody()
    msg = catalogue_pb2.RetireProcedureRequest(code=code, version=version, reason=body.reason or "")
    ts = _timestamp(body.effective_to, "effective_to")
    if ts is not None:
        msg.effective_to.CopyFrom(ts)
    reply = await request.app.state.clients.catalogue.RetireProcedure(msg, metadata=who.metadata)
    return procedure_view(reply.procedure)


@router.post("/import", summary="Nhập danh mục từ tệp JSON hoặc Excel (tất cả hoặc không gì cả)")
async def import_catalogue(request: Request, file: UploadFile = File(...), format: str = Form(""),
                           dry_run: bool = Form(False), publish: bool = Form(False),
                           who: Caller = Depends(city_admin)):
    reply = await request.app.state.clients.catalogue.ImportCatalogue(
        catalogue_pb2.ImportCatalogueRequest(content=await _content(file), format=_format(file, format),
                                             dry_run=dry_run, publish=publish),
        metadata=who.metadata, timeout=60)
    return _imported(reply)


@router.get("/export", summary="Xuất danh mục ra JSON hoặc Excel")
async def export_catalogue(request: Request, format: str = Query("json", pattern="^(json|xlsx)$"),
                           all_versions: bool = Query(False), who: Caller = Depends(city_admin)):
    reply = await request.app.state.clients.catalogue.ExportCatalogue(
        catalogue_pb2.ExportCatalogueRequest(format=format, all_versions=all_versions),
        metadata=who.metadata, timeout=60)
    return Response(reply.content, media_type=reply.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{reply.filename}"'})


@router.post("/agencies/import", summary="Nhập thay đổi cây cơ quan (thành lập, đổi tên, chuyển, sáp nhập)")
async def import_agencies(request: Request, file: UploadFile = File(...), format: str = Form(""),
                          dry_run: bool = Form(False), who: Caller = Depends(city_admin)):
    reply = await request.app.state.clients.catalogue.ImportAgencies(
        catalogue_pb2.ImportAgenciesRequest(content=await _content(file), format=_format(file, format),
                                            dry_run=dry_run),
        metadata=who.metadata, timeout=60)
    return _imported(reply)


@router.get("/audit", summary="Nhật ký thay đổi danh mục (giá trị cũ và mới)")
async def audit(request: Request, entity: str = Query("", max_length=20), key: str = Query("", max_length=40),
                page_size: int = Query(50, ge=1, le=100), page_token: str = Query("", max_length=20),
                who: Caller = Depends(city_admin)):
    reply = await request.app.state.clients.catalogue.ListAudit(
        catalogue_pb2.ListAuditRequest(entity=entity, entity_key=key,
                                       page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)),
        metadata=who.metadata)
    return {"items": [views.message(e) for e in reply.entries], "next_page_token": reply.page.next_page_token}
