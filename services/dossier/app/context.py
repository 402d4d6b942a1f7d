"""What the use cases need, built once at start: sessions, the catalogue, the relay, the calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from sqlalchemy.ext.asyncio import async_sessionmaker

from motcua.v1.catalogue_pb2_grpc import CatalogueServiceStub
from services.dossier.app.batching import SubmissionBatcher
from services.dossier.app.procedures import ProcedureDirectory
from services.dossier.domain.calendar import VIETNAM, DaySwaps, WorkingCalendar, parse_office_hours
from services.dossier.settings import DossierSettings


def calendar_from(settings: DossierSettings) -> WorkingCalendar:
    calendar = WorkingCalendar(office_hours=parse_office_hours(settings.office_hours),
                               swaps=DaySwaps.load(settings.day_swaps_file),
                               same_day_cutoff=time.fromisoformat(settings.same_day_cutoff))
    this_year = datetime.now(VIETNAM).year
    calendar.load_years(this_year, this_year + 1)  # due dates run into next year
    return calendar


@dataclass
class DossierContext:
    sessions: async_sessionmaker
    catalogue: CatalogueServiceStub
    relay: object  # OutboxRelay: woken after each commit that wrote events
    reads: async_sessionmaker | None = None  # read-only sessions; defaults to ``sessions``
    settings: DossierSettings = field(default_factory=DossierSettings)
    calendar: WorkingCalendar | None = None
    procedures: ProcedureDirectory | None = None
    batcher: SubmissionBatcher | None = None

    def __post_init__(self):
        if self.reads is None:
            self.reads = self.sessions
        if self.calendar is None:
            self.calendar = calendar_from(self.settings)
        if self.procedures is None:
            self.procedures = ProcedureDirectory(self.catalogue, self.sessions, self.reads, ttl=self.settings.procedure_cache_seconds,
                                                 agency_ttl=self.settings.agency_cache_seconds)
        if self.batcher is None:
            self.batcher = SubmissionBatcher(self)
