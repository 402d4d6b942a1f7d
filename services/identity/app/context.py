"""What every identity use case works with: the database, the provider, the outbox relay and
the ports to other systems (notification, catalogue, national identity source, business registry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from services.identity.app.business_registry import BusinessRegistry, SandboxBusinessRegistry
from services.identity.app.national_identity import NationalIdentitySource
from services.identity.app.ports import AgencyDirectory, CodeSender
from services.identity.providers.base import IdentityProvider
from services.identity.settings import IdentitySettings


@dataclass
class Identity:
    sessions: async_sessionmaker
    provider: IdentityProvider
    relay: Any  # OutboxRelay (wake())
    codes: CodeSender
    agencies: AgencyDirectory
    national: NationalIdentitySource
    settings: IdentitySettings
    business_registry: BusinessRegistry = field(default_factory=SandboxBusinessRegistry)
