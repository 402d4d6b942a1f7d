"""Demo accounts for `make run`, created once: a citizen, a business the citizen represents,
officials of a demo commune (reception, processing, approval, its admin), a city admin, an
operator, and a commune system's machine client. The agencies are looked up in the catalogue
(the agency tree is its data). The business's tax code is a made-up number with a valid check
digit, not a real company's."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from motcua.v1 import catalogue_pb2
from services.identity.app.context import Identity
from services.identity.app.records import audit, provider_user, publish_change
from services.identity.providers.base import SCOPE_RESOLVE_APPLICANT
from services.identity.settings import MachineClientSeed
from services.identity.store.ambient import ambient
from services.identity.store.models import Account, Representation
from services.platform.logging import get_logger

log = get_logger("identity.demo")

DEMO_PASSWORD = "MotCua@2026"
DEMO_COMMUNE = "Phường Sài Gòn"
DEMO_CITIZEN = "079090001234"
DEMO_MACHINE_CLIENT = MachineClientSeed(client_id="demo-commune-saigon", secret="demo-commune-secret-2026",
                                        name="Hệ thống một cửa Phường Sài Gòn (demo)",
                                        scopes=[SCOPE_RESOLVE_APPLICANT])


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    kind: str
    roles: tuple[str, ...] = ()
    identity_number: str | None = None
    date_of_birth: date | None = None
    agency: str = "commune"  # commune (the demo commune) or city
    phone: str = ""


DEMO_ACCOUNTS = (
    DemoAccount(DEMO_CITIZEN, "Nguyễn Văn An", "citizen", identity_number=DEMO_CITIZEN,
                date_of_birth=date(1990, 5, 12), phone="0901000001"),
    DemoAccount("tiepnhan.saigon", "Trần Thị Bình", "official", roles=("reception",)),
    DemoAccount("xuly.saigon", "Lê Văn Cường", "official", roles=("processing",)),
    DemoAccount("pheduyet.saigon", "Phạm Minh Đức", "official", roles=("approval",)),
    DemoAccount("quantri.saigon", "Võ Thị Hoa", "official", roles=("agency_admin",)),
    DemoAccount("quantri.thanhpho", "Huỳnh Văn Khoa", "official", roles=("city_admin",), agency="city"),
    DemoAccount("vanhanh.hethong", "Đặng Thị Lan", "official", roles=("operator",), agency="city"),
)


@dataclass(frozen=True)
class DemoBusiness:
    tax_code: str
    name: str
    address: str
    representative: str  # the citizen's username


DEMO_BUSINESS = DemoBusiness("0318888806", "Công ty TNHH Dịch vụ An Phát (demo)",
                             "12 Lê Lợi, Phường Sài Gòn, Thành phố Hồ Chí Minh", DEMO_CITIZEN)


async def demo_agency_codes(catalogue) -> dict[str, str]:
    for attempt in range(60):
        try:
            communes = await catalogue.ListAgencies(catalogue_pb2.ListAgenciesRequest(kind="commune"))
            cities = await catalogue.ListAgencies(catalogue_pb2.ListAgenciesRequest(kind="city"))
            commune = next((a.code for a in communes.agencies if a.name == DEMO_COMMUNE), None)
            if commune is None:
                raise LookupError(DEMO_COMMUNE)
            return {"commune": commune, "city": cities.agencies[0].code if cities.agencies else commune}
        except LookupError:
            raise
        except Exception as exc:
            log.info("waiting_for_catalogue", attempt=attempt, error=str(exc)[:200])
            await asyncio.sleep(0.5)
    raise RuntimeError("catalogue did not answer")


def _account(a: DemoAccount, agencies: dict[str, str], now: datetime) -> Account:
    citizen = a.kind == "citizen"
    return Account(
        id=str(uuid.uuid4()), kind=a.kind, username=a.username, identity_number=a.identity_number,
        full_name=a.full_name, date_of_birth=a.date_of_birth, address="", email=f"{a.username}@demo.motcua.local",
        phone=a.phone, email_verified=True, phone_verified=bool(a.phone), verification_level=1 if citizen else 2,
        agency_code="" if citizen else agencies[a.agency], roles=list(a.roles), enabled=True, locale="vi",
        created_at=now)


async def load_demo_accounts(ctx: Identity, catalogue) -> int:
    async with ctx.sessions() as session:
        existing = set(await session.scalars(select(Account.username)))
    missing = [a for a in DEMO_ACCOUNTS if a.username not in existing]
    business_username = f"business:{DEMO_BUSINESS.tax_code}"
    if not missing and business_username in existing:
        return 0
    agencies = await demo_agency_codes(catalogue)
    now = datetime.now(UTC)
    async with ctx.sessions() as session, session.begin():
        with ambient(session):
            for a in missing:
                account = _account(a, agencies, now)
                session.add(account)
                await session.flush()
                audit(session, account.id, "registered", actor_id="demo", kind=a.kind)
                await publish_change(session, account, "registered")
                await ctx.provider.create_user(provider_user(account), DEMO_PASSWORD)
            if business_username not in existing:
                await _demo_business(session, now)
    ctx.relay.wake()
    log.info("demo_accounts_loaded", count=len(missing))
    return len(missing)


async def _demo_business(session, now: datetime) -> None:
    citizen = await session.scalar(select(Account).where(Account.username == DEMO_BUSINESS.representative))
    body = Account(id=str(uuid.uuid4()), kind="business", username=f"business:{DEMO_BUSINESS.tax_code}",
                   identity_number=DEMO_BUSINESS.tax_code, full_name=DEMO_BUSINESS.name,
                   address=DEMO_BUSINESS.address, email="lienhe@anphat.demo.motcua.local", phone="",
                   email_verified=False, phone_verified=False, verification_level=0, agency_code="", roles=[],
                   enabled=True, locale="vi", created_at=now)
    session.add(body)
    await session.flush()
    session.add(Representation(id=str(uuid.uuid4()), body_id=body.id, person_id=citizen.id,
                               role="legal_representative", created_at=now, created_by=citizen.id))
    audit(session, body.id, "registered", actor_id="demo", kind="business")
    await publish_change(session, body, "registered")
