"""Demo accounts for `make run`: a citizen and officials of a demo commune, created once.

The officials' agency is looked up in the catalogue (the agency tree is its data)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from motcua.v1 import catalogue_pb2
from services.identity.app.accounts import hasher
from services.identity.store.models import Account
from services.platform.logging import get_logger

log = get_logger("identity.demo")

DEMO_PASSWORD = "MotCua@2026"
DEMO_COMMUNE = "Phường Sài Gòn"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    kind: str
    roles: tuple[str, ...] = ()
    identity_number: str | None = None
    date_of_birth: date | None = None


DEMO_ACCOUNTS = (
    DemoAccount("079090001234", "Nguyễn Văn An", "citizen", identity_number="079090001234",
                date_of_birth=date(1990, 5, 12)),
    DemoAccount("tiepnhan.saigon", "Trần Thị Bình", "official", roles=("reception",)),
    DemoAccount("xuly.saigon", "Lê Văn Cường", "official", roles=("processing",)),
)


async def demo_agency_code(catalogue) -> str:
    for attempt in range(60):
        try:
            reply = await catalogue.ListAgencies(catalogue_pb2.ListAgenciesRequest(kind="commune"))
            for agency in reply.agencies:
                if agency.name == DEMO_COMMUNE:
                    return agency.code
            raise LookupError(DEMO_COMMUNE)
        except LookupError:
            raise
        except Exception as exc:
            log.info("waiting_for_catalogue", attempt=attempt, error=str(exc)[:200])
            await asyncio.sleep(0.5)
    raise RuntimeError("catalogue did not answer")


async def load_demo_accounts(sessions, catalogue) -> int:
    async with sessions() as session:
        existing = set(await session.scalars(select(Account.username)))
    missing = [a for a in DEMO_ACCOUNTS if a.username not in existing]
    if not missing:
        return 0
    agency = await demo_agency_code(catalogue)
    password_hash = await asyncio.to_thread(hasher.hash, DEMO_PASSWORD)
    async with sessions() as session, session.begin():
        for a in missing:
            session.add(Account(
                id=str(uuid.uuid4()), kind=a.kind, username=a.username, identity_number=a.identity_number,
                full_name=a.full_name, date_of_birth=a.date_of_birth, email=f"{a.username}@demo.motcua.local",
                phone="", password_hash=password_hash, verification_level=1 if a.kind == "citizen" else 2,
                agency_code=agency if a.kind == "official" else "", roles=list(a.roles),
                created_at=datetime.now(UTC),
            ))
    log.info("demo_accounts_loaded", count=len(missing))
    return len(missing)
