"""CatalogueService over gRPC: translate protobuf to use cases and back."""

from __future__ import annotations

from motcua.v1 import catalogue_pb2, catalogue_pb2_grpc, common_pb2
from services.catalogue.app import queries
from services.catalogue.store.models import Agency, Procedure


def procedure_to_proto(p: Procedure, agency_name: str = "") -> catalogue_pb2.Procedure:
    d = p.data
    time = d.get("processing_time") or {}
    pt = catalogue_pb2.ProcessingTime(unit=time.get("unit") or "", note=time.get("note") or "")
    if time.get("value") is not None:
        pt.value = float(time["value"])
    fees = []
    for f in d.get("fees") or []:
        fee = catalogue_pb2.Fee(name=f.get("name") or "", condition=f.get("condition") or "")
        if f.get("amount_vnd") is not None:
            fee.amount_vnd = int(f["amount_vnd"])
        fees.append(fee)
    docs = [
        catalogue_pb2.RequiredDocument(
            name=doc.get("name") or "", copies=int(doc.get("copies") or 0),
            quantity_published=doc.get("quantity_published") or "", form=doc.get("form") or "",
        )
        for doc in d.get("documents") or []
    ]
    return catalogue_pb2.Procedure(
        code=p.code, version=p.version, name=p.name, sector=p.sector, level=p.level,
        agency_code=p.agency_code, agency_name=agency_name, agency_published=d.get("agency") or "",
        online_mode=p.online_mode, channels=d.get("channels") or [], processing_time=pt,
        fees=fees, documents=docs, legal_basis=d.get("legal_basis") or [], result=d.get("result") or "",
        min_verification_level=int(d.get("min_verification_level") or 0), status=p.status,
        sources=d.get("sources") or [], demo_settings=bool(d.get("demo_fields")),
    )


def agency_to_proto(a: Agency) -> catalogue_pb2.Agency:
    return catalogue_pb2.Agency(code=a.code, name=a.name, parent_code=a.parent_code or "",
                                kind=a.kind, demo_code=a.demo_code)


class CatalogueServicer(catalogue_pb2_grpc.CatalogueServiceServicer):
    def __init__(self, sessions):
        self._sessions = sessions

    async def SearchProcedures(self, request, context):
        page_size = request.page.page_size or 20
        offset = int(request.page.page_token or 0) if request.page.page_token.isdigit() else 0
        async with self._sessions() as s:
            rows, total = await queries.search_procedures(
                s, query=request.query, agency_code=request.agency_code, sector=request.sector,
                level=request.level, offset=offset, limit=page_size,
            )
        next_offset = offset + len(rows)
        return catalogue_pb2.SearchProceduresResponse(
            procedures=[
                catalogue_pb2.ProcedureSummary(code=p.code, name=p.name, sector=p.sector, level=p.level,
                                               agency_code=p.agency_code, online_mode=p.online_mode)
                for p in rows
            ],
            page=common_pb2.PageInfo(next_page_token=str(next_offset) if next_offset < total else "",
                                     total=total),
        )

    async def GetProcedure(self, request, context):
        async with self._sessions() as s:
            p = await queries.get_procedure(s, request.code, request.version)
            agency_name = ""
            if p.agency_code:
                agency = await s.get(Agency, p.agency_code)
                agency_name = agency.name if agency else ""
        return catalogue_pb2.GetProcedureResponse(procedure=procedure_to_proto(p, agency_name))

    async def ListAgencies(self, request, context):
        async with self._sessions() as s:
            rows = await queries.list_agencies(s, parent_code=request.parent_code, kind=request.kind)
        return catalogue_pb2.ListAgenciesResponse(agencies=[agency_to_proto(a) for a in rows])

    async def GetAgency(self, request, context):
        async with self._sessions() as s:
            agency = await queries.get_agency(s, request.code)
        return catalogue_pb2.GetAgencyResponse(agency=agency_to_proto(agency))
