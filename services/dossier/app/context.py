"""What the use cases need, built once at start: sessions, the catalogue client, the relay."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import async_sessionmaker

from motcua.v1.catalogue_pb2_grpc import CatalogueServiceStub
from services.dossier.domain.calendar import WorkingCalendar


@dataclass
class DossierContext:
    sessions: async_sessionmaker
    catalogue: CatalogueServiceStub
    relay: object  # OutboxRelay: woken after each commit that wrote events
    reads: async_sessionmaker | None = None  # read-only sessions; defaults to ``sessions``
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)

    def __post_init__(self):
        if self.reads is None:
            self.reads = self.sessions
