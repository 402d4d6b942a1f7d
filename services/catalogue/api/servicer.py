"""CatalogueService over gRPC: translate protobuf to use cases and back."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from motcua.v1 import catalogue_pb2, catalogue_pb2_grpc, common_pb2
from services.catalogue.app import admin, agencies, queries, transfer
from services.catalogue.app.index import LiveIndex
from services.catalogue.app.messages import agency_message, audit_message, content_from_message, procedure_message
from services.catalogue.domain.model import LEVELS, ONLINE_MODES
from services.catalogue.domain.search import MAX_QUERY
from services.platform.errors import Conflict, InvalidInput, NotFound
from services.platform.grpc_server import current_principal
from services.platform.logging import get_logger

log = get_logger("catalogue.admin")

MAX_PAGE = 100


def _offset(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit() or len(token) > 9:
        raise InvalidInput("Mã trang không hợp lệ.", fields={"page_token": "invalid"})
    return int(token)


def _moment(ts, has: bool) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if has else None


class CatalogueServicer(catalogue_pb2_grpc.CatalogueServiceServicer):
    def __init__(self, sessions, index: LiveIndex, *, reads=None, on_change=None):
        self._sessions = sessions
        self._reads = reads or sessions
        self._index = index
        self._on_change = on_change

    @asynccontextmanager
    async def _write(self, code: str = ""):
        """One transaction; the search index and the outbox relay hear about it after commit.
        A change to one procedure (``code``) re-indexes that procedure only."""
        try:
            async with self._sessions() as s, s.begin():
                yield s
        except IntegrityError as exc:
            raise Conflict("Dữ liệu vừa được người khác thay đổi, vui lòng tải lại và thử lại.") from exc
        if code:
            await self._index.refresh_code(code)
        else:
            await self._index.refresh()
        if self._on_change:
            self._on_change()

    async def _procedure_reply(self, s, row, reply=catalogue_pb2.GetProcedureResponse):
        names = await queries.agency_names(s, row.agency_code, row.data.get("processing_agency_code") or "")
        return reply(procedure=procedure_message(row, names))

    async def SearchProcedures(self, request, context):
        if len(request.query) > MAX_QUERY:
            raise InvalidInput(f"Từ khóa tìm kiếm quá dài (tối đa {MAX_QUERY} ký tự).", fields={"q": "too long"})
        if request.level and request.level not in LEVELS:
            raise InvalidInput("Cấp thực hiện không hợp lệ.", fields={"level": "must be " + ", ".join(LEVELS)})
        if request.online_mode and request.online_mode not in ONLINE_MODES:
            raise InvalidInput("Mức độ trực tuyến không hợp lệ.",
                               fields={"online": "must be " + ", ".join(ONLINE_MODES)})
        page_size = max(1, min(request.page.page_size or 20, MAX_PAGE))
        offset = _offset(request.page.page_token)
        hits, total = self._index.index.search(
            request.query, agency_code=request.agency_code, sector=request.sector, level=request.level,
            online_mode=request.online_mode, offset=offset, limit=page_size)
        next_offset = offset + len(hits)
        return catalogue_pb2.SearchProceduresResponse(
            procedures=[
                catalogue_pb2.ProcedureSummary(
                    code=h.entry.code, name=h.entry.name, sector=h.entry.sector, level=h.entry.level,
                    agency_code=h.entry.agency_code, online_mode=h.entry.online_mode, version=h.entry.version,
                    agency_name=h.entry.agency_name, score=h.score if request.query.strip() else 0.0)
                for h in hits
            ],
            page=common_pb2.PageInfo(next_page_token=str(next_offset) if next_offset < total else "", total=total),
        )

    async def GetProcedure(self, request, context):
        async with self._reads() as s:
            row = await queries.get_procedure(s, request.code, request.version)
            return await self._procedure_reply(s, row)

    async def ListAgencies(self, request, context):
        async with self._reads() as s:
            rows = await queries.list_agencies(s, parent_code=request.parent_code, kind=request.kind,
                                               include_inactive=request.include_inactive)
        moment = queries.now()
        return catalogue_pb2.ListAgenciesResponse(agencies=[agency_message(a, moment) for a in rows])

    async def GetAgency(self, request, context):
        async with self._reads() as s:
            agency = await queries.get_agency(s, request.code)
        return catalogue_pb2.GetAgencyResponse(agency=agency_message(agency, queries.now()))

    # Administration (city_admin).

    async def ListVersions(self, request, context):
        admin.require_city_admin(current_principal())
        async with self._reads() as s:
            rows = await queries.versions_of(s, request.code)
        if not rows:
            raise NotFound(f"Không tìm thấy thủ tục có mã {request.code}.")
        reply = catalogue_pb2.ListVersionsResponse(code=request.code)
        for r in rows:
            info = reply.versions.add(version=r.version, status=r.status, updated_by=r.updated_by or "")
            for field, value in (("effective_from", r.effective_from), ("effective_to", r.effective_to),
                                 ("updated_at", r.updated_at or r.created_at)):
                if value is not None:
                    getattr(info, field).FromDatetime(value)
        return reply

    async def _change(self, code: str, use_case, *args, **kw):
        """Run one admin use case on one procedure and reply with the version it returns."""
        principal = current_principal()
        async with self._write(code) as s:
            row = await use_case(s, principal, *args, **kw)
            await s.flush()
            return await self._procedure_reply(s, row)

    async def CreateDraft(self, request, context):
        return await self._change(request.procedure.code.strip(), admin.create_draft,
                                  content_from_message(request.procedure), copy_from_latest=request.copy_from_latest)

    async def UpdateDraft(self, request, context):
        if request.procedure.version <= 0:
            raise InvalidInput("Cần nêu phiên bản nháp cần sửa.", fields={"version": "required"})
        return await self._change(request.procedure.code.strip(), admin.update_draft,
                                  content_from_message(request.procedure), request.procedure.version)

    async def PublishProcedure(self, request, context):
        return await self._change(request.code, admin.publish, request.code, request.version,
                                  _moment(request.effective_from, request.HasField("effective_from")))

    async def RetireProcedure(self, request, context):
        return await self._change(request.code, admin.retire, request.code, request.version,
                                  _moment(request.effective_to, request.HasField("effective_to")), request.reason)

    async def ImportCatalogue(self, request, context):
        principal = current_principal()
        async with self._write() as s:
            result = await transfer.import_catalogue(s, principal, request.content, request.format,
                                                     publish=request.publish, dry_run=request.dry_run)
        return _import_reply(result)

    async def ImportAgencies(self, request, context):
        principal = current_principal()
        async with self._write() as s:
            result = await agencies.import_agencies(s, principal, request.content, request.format,
                                                    dry_run=request.dry_run)
        if result.drafts:
            log.info("agency_merge_drafts", procedures=result.drafts)
        return _import_reply(result)

    async def ExportCatalogue(self, request, context):
        principal = current_principal()
        async with self._reads() as s:
            content, content_type, filename = await transfer.export_catalogue(
                s, principal, request.format or "json", all_versions=request.all_versions)
        return catalogue_pb2.ExportCatalogueResponse(content=content, content_type=content_type, filename=filename)

    async def ListAudit(self, request, context):
        admin.require_city_admin(current_principal())
        page_size = max(1, min(request.page.page_size or 50, MAX_PAGE))
        offset = _offset(request.page.page_token)
        async with self._reads() as s:
            rows = await queries.list_audit(s, entity=request.entity, entity_key=request.entity_key,
                                            offset=offset, limit=page_size)
        more = len(rows) > page_size
        return catalogue_pb2.ListAuditResponse(
            entries=[audit_message(e) for e in rows[:page_size]],
            page=common_pb2.PageInfo(next_page_token=str(offset + page_size) if more else ""))


def _import_reply(result: transfer.ImportResult, reply=catalogue_pb2.ImportCatalogueResponse):
    return reply(created=result.created, updated=result.updated, unchanged=result.unchanged,
                 dry_run=result.dry_run, codes=result.codes)

