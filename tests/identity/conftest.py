"""An identity service core on a real database (SQLite and PostgreSQL), with the embedded provider.

Other services are replaced by small recorders at their ports: the notification service by one that
keeps the codes it was asked to deliver, the catalogue by a fixed set of agency codes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import pytest_asyncio

from services.identity.app.context import Identity
from services.identity.app.national_identity import SandboxNationalIdentity
from services.identity.providers.local import LocalProvider
from services.identity.settings import IdentitySettings
from services.platform.db import Database
from services.platform.errors import InvalidInput

AGENCIES = {"068.00.99.H29": "Phường Sài Gòn", "069.00.99.H29": "Phường Tân Định", "000.00.00.H29": "UBND TP"}


@dataclass
class SentCodes:
    sent: list[dict] = field(default_factory=list)

    async def send(self, **kwargs) -> str:
        self.sent.append(kwargs)
        return kwargs["destination"][:2] + "****" + kwargs["destination"][-3:]

    def last(self, purpose: str) -> str:
        return [s for s in self.sent if s["purpose"] == purpose][-1]["code"]


class KnownAgencies:
    async def check_agency(self, code: str) -> str:
        if code not in AGENCIES:
            raise InvalidInput("Không có đơn vị với mã này trong danh mục.", fields={"agency_code": "unknown agency"})
        return AGENCIES[code]


class Relay:
    def wake(self) -> None:
        pass


FAST = dict(argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1)


@pytest.fixture
def identity_url(migrated):
    return migrated("identity")  # Alembic runs its own event loop: outside the test's


@pytest_asyncio.fixture
async def identity(identity_url):
    db = Database.connect(identity_url)
    settings = IdentitySettings(issuer_url="http://issuer.test/auth", **FAST)
    provider = LocalProvider(db.sessions, settings=settings)
    await provider.start()
    ctx = Identity(sessions=db.sessions, provider=provider, relay=Relay(), codes=SentCodes(),
                   agencies=KnownAgencies(), national=SandboxNationalIdentity(), settings=settings)
    yield ctx
    await provider.close()
    await db.dispose()


# A real Keycloak (one per test session) for the tests of the keycloak provider.
from tests.servers.keycloak_fixtures import keycloak, keycloak_settings  # noqa: E402,F401
