"""Helpers for the dossier use-case tests: a catalogue that answers from memory (counting
its calls), a relay that only counts wake-ups, principals, and sample procedures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import grpc

from motcua.v1 import catalogue_pb2
from services.dossier.app.context import DossierContext
from services.dossier.settings import DossierSettings
from services.platform.db import make_engine, session_factory
from services.platform.principal import Principal

AGENCY = "068.00.99.H29"
OTHER_AGENCY = "069.00.99.H29"
DEPARTMENT = "000.21.99.H29"


class _NotFound(grpc.aio.AioRpcError):
    def __init__(self):
        super().__init__(grpc.StatusCode.NOT_FOUND, grpc.aio.Metadata(), grpc.aio.Metadata(), "not found")


@dataclass
class FakeCatalogue:
    procedures: dict[tuple[str, int], catalogue_pb2.Procedure] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def add(self, procedure: catalogue_pb2.Procedure) -> catalogue_pb2.Procedure:
        self.procedures[(procedure.code, procedure.version)] = procedure
        return procedure

    async def GetProcedure(self, request, **_):
        self.calls.append(f"procedure:{request.code}:{request.version}")
        if request.version:
            found = self.procedures.get((request.code, request.version))
        else:
            versions = [p for (c, _), p in self.procedures.items() if c == request.code and p.status == "published"]
            found = max(versions, key=lambda p: p.version, default=None)
            if found is None:
                found = max((p for (c, _), p in self.procedures.items() if c == request.code),
                            key=lambda p: p.version, default=None)
        if found is None:
            raise _NotFound()
        return catalogue_pb2.GetProcedureResponse(procedure=found)

    async def GetAgency(self, request, **_):
        self.calls.append(f"agency:{request.code}")
        kinds = {AGENCY: "commune", OTHER_AGENCY: "commune", DEPARTMENT: "department"}
        if request.code not in kinds:
            raise _NotFound()
        return catalogue_pb2.GetAgencyResponse(agency=catalogue_pb2.Agency(
            code=request.code, name=f"Đơn vị {request.code}", kind=kinds[request.code]))


class CountingRelay:
    def __init__(self):
        self.wakes = 0

    def wake(self):
        self.wakes += 1


def citizen(account_id="c-1", level=2, name="Nguyễn Văn An", acting_for="") -> Principal:
    return Principal(account_id=account_id, kind="citizen", name=name, verification_level=level,
                     acting_for=acting_for)


def official(account_id: str, *roles: str, agency=AGENCY, name="Cán bộ") -> Principal:
    return Principal(account_id=account_id, kind="official", name=name, roles=tuple(roles), agency_code=agency,
                     verification_level=2)


BIRTH_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["ho_ten_tre", "ngay_sinh"],
    "properties": {"ho_ten_tre": {"type": "string", "minLength": 1},
                   "ngay_sinh": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                   "can_nang_gram": {"type": "integer", "minimum": 300}},
}


def procedure(code="1.001193", version=1, *, status="published", value=3.0, unit="working_day", level="commune",
              agency_code="", min_level=1, mandatory=("d1",), schema=None, workflow=(), fees=None):
    p = catalogue_pb2.Procedure(code=code, version=version, name="Thủ tục đăng ký khai sinh", level=level,
                                agency_code=agency_code, status=status, min_verification_level=min_level,
                                eform_schema_json=json.dumps(schema) if schema else "")
    p.processing_time.value = value
    p.processing_time.unit = unit
    p.documents.add(id="d1", name="Giấy chứng sinh", mandatory="d1" in mandatory)
    p.documents.add(id="d2", name="Giấy tờ tùy thân của người đi đăng ký", mandatory="d2" in mandatory)
    for step in workflow:
        p.workflow.add(**step)
    if fees is not None:
        p.fees.add(name="Lệ phí", amount_vnd=fees)
    return p


async def make_ctx(url: str, catalogue: FakeCatalogue):
    engine = make_engine(url, pool_size=10)
    sessions = session_factory(engine)
    ctx = DossierContext(sessions, catalogue, CountingRelay(), settings=DossierSettings())
    return ctx, engine
