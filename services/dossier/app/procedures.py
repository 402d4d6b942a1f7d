"""Procedure versions and agencies as the dossier service knows them.

Snapshots of published versions live in our own table (procedure_snapshots, keyed by
code and version), fed by catalogue.procedure.published/retired events and fetched over
gRPC on a miss; an in-process cache in front means a submission normally costs no call to
the catalogue and no extra read. A dossier keeps the version it was filed under, so a
later version never changes the rules of a dossier already in progress.
"""

from __future__ import annotations

import json
import time
from datetime import UTC
from dataclasses import dataclass, field

import grpc
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from motcua.v1 import catalogue_pb2
from services.dossier.domain.procedure import DocumentSpec, ProcedureTerms, StepSpec
from services.dossier.store.models import ProcedureSnapshot
from services.platform.errors import InvalidInput, Unavailable
from services.platform.events import utcnow
from services.platform.logging import get_logger

log = get_logger("dossier.procedures")


def _ts(msg, name):
    if not msg.HasField(name):
        return None
    return getattr(msg, name).ToDatetime(tzinfo=UTC)


def terms_from_proto(p: catalogue_pb2.Procedure) -> ProcedureTerms:
    schema = None
    if p.eform_schema_json:
        try:
            schema = json.loads(p.eform_schema_json)
        except json.JSONDecodeError:
            schema = {"not": {}}  # a broken schema accepts nothing rather than everything
    fees = [f.amount_vnd for f in p.fees if f.HasField("amount_vnd")]
    time_ = p.processing_time
    return ProcedureTerms(
        code=p.code, version=p.version, name=p.name, status=p.status, level=p.level, agency_code=p.agency_code,
        processing_value=time_.value if time_.HasField("value") else None,
        processing_unit=time_.unit or "working_day", min_verification_level=p.min_verification_level,
        documents=tuple(DocumentSpec(d.id, d.name, d.mandatory) for d in p.documents),
        workflow=tuple(StepSpec(s.id, s.name, s.role, s.agency_code, s.budget_hours, s.inter_agency)
                       for s in p.workflow),
        eform_schema=schema, effective_from=_ts(p, "effective_from"), effective_to=_ts(p, "effective_to"),
        applicant_types=tuple(p.applicant_types), fees_vnd=sum(fees) if fees else None,
    )


@dataclass
class AgencyInfo:
    code: str
    kind: str
    name: str


@dataclass
class ProcedureDirectory:
    catalogue: object  # CatalogueServiceStub
    sessions: object  # async_sessionmaker of the dossier database (writes)
    reads: object = None  # read-only sessions
    ttl: float = 300.0
    agency_ttl: float = 600.0
    _versions: dict[tuple[str, int], ProcedureTerms] = field(default_factory=dict)
    # code -> (published version or 0 for "none", trusted until)
    _current: dict[str, tuple[int, float]] = field(default_factory=dict)
    _agencies: dict[str, tuple[AgencyInfo | None, float]] = field(default_factory=dict)

    # --- procedures -----------------------------------------------------------------

    async def published(self, code: str) -> ProcedureTerms:
        """The version that takes new dossiers now (InvalidInput if the code is unknown)."""
        entry = self._current.get(code)
        if entry is not None and entry[1] > time.monotonic():
            if entry[0] == 0:
                raise _unknown(code)
            return await self.version(code, entry[0])
        async with (self.reads or self.sessions)() as session:
            row = await session.scalar(
                select(ProcedureSnapshot).where(ProcedureSnapshot.code == code)
                .order_by(ProcedureSnapshot.version.desc()).limit(1))
        if row is not None and entry is None:
            terms = self._remember(catalogue_pb2.Procedure.FromString(row.data), row.status)
            self._current[code] = (terms.version, time.monotonic() + self.ttl)
            return terms
        return await self._fetch(code, 0)

    async def version(self, code: str, version: int, session=None) -> ProcedureTerms:
        """A pinned version (the one a dossier was filed under). Inside a transaction pass
        its ``session``: the snapshot is read (or kept) on the same connection."""
        terms = self._versions.get((code, version))
        if terms is not None:
            return terms
        if session is not None:
            row = await session.get(ProcedureSnapshot, (code, version))
        else:
            async with (self.reads or self.sessions)() as own:
                row = await own.get(ProcedureSnapshot, (code, version))
        if row is not None:
            return self._remember(catalogue_pb2.Procedure.FromString(row.data), row.status)
        return await self._fetch(code, version, session)

    async def _fetch(self, code: str, version: int, session=None) -> ProcedureTerms:
        try:
            reply = await self.catalogue.GetProcedure(catalogue_pb2.GetProcedureRequest(code=code, version=version))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                if not version:
                    self._current[code] = (0, time.monotonic() + min(self.ttl, 30.0))
                raise _unknown(code) from exc
            raise Unavailable("Danh mục thủ tục tạm thời không phản hồi, vui lòng thử lại.") from exc
        await self.store(reply.procedure, session=session)
        if not version:
            self._current[code] = (reply.procedure.version, time.monotonic() + self.ttl)
        return self._versions[(code, reply.procedure.version)]

    async def store(self, procedure: catalogue_pb2.Procedure, status: str | None = None, session=None) -> None:
        """Keep (or update the status of) a snapshot; called by the consumer and on a miss."""
        status = status or procedure.status
        if session is None:
            async with self.sessions() as own, own.begin():
                await upsert_snapshot(own, procedure, status)
        else:
            await upsert_snapshot(session, procedure, status)
        self._remember(procedure, status)

    def cached(self, code: str, version: int) -> ProcedureTerms | None:
        return self._versions.get((code, version))

    def learned(self, procedure: catalogue_pb2.Procedure, status: str) -> None:
        """An event told us the current state: trust it until the next event."""
        self._remember(procedure, status)
        if status == "published":
            self._current[procedure.code] = (procedure.version, float("inf"))
        else:
            current = self._current.get(procedure.code)
            if current is not None and current[0] == procedure.version:
                self._current.pop(procedure.code, None)

    def _remember(self, procedure: catalogue_pb2.Procedure, status: str) -> ProcedureTerms:
        procedure = catalogue_pb2.Procedure.FromString(procedure.SerializeToString())
        procedure.status = status
        terms = terms_from_proto(procedure)
        self._versions[(terms.code, terms.version)] = terms
        return terms

    # --- agencies -------------------------------------------------------------------

    async def agency(self, code: str) -> AgencyInfo | None:
        entry = self._agencies.get(code)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        try:
            reply = await self.catalogue.GetAgency(catalogue_pb2.GetAgencyRequest(code=code))
            info = AgencyInfo(reply.agency.code, reply.agency.kind, reply.agency.name)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise Unavailable("Danh mục cơ quan tạm thời không phản hồi, vui lòng thử lại.") from exc
            info = None
        self._agencies[code] = (info, time.monotonic() + self.agency_ttl)
        return info


async def upsert_snapshot(session, procedure: catalogue_pb2.Procedure, status: str) -> None:
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ProcedureSnapshot).values(
        code=procedure.code, version=procedure.version, status=status,
        data=procedure.SerializeToString(), received_at=utcnow())
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[ProcedureSnapshot.code, ProcedureSnapshot.version],
        set_={"status": status, "data": stmt.excluded.data, "received_at": stmt.excluded.received_at}))


def _unknown(code: str) -> InvalidInput:
    return InvalidInput(f"Không có thủ tục hành chính mã {code}.", fields={"procedure_code": "unknown procedure"})
