"""Officials only in active agencies, their creation in the admin's log, and provider changes
undone when the transaction does not commit. On SQLite and PostgreSQL."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from motcua.v1 import catalogue_pb2
from services.identity.app import registration
from services.identity.app.ports import CatalogueAgencies
from services.identity.store.ambient import _current
from services.identity.store.models import Account, AuditEntry, LocalUser
from services.platform.errors import InvalidInput
from services.platform.principal import Principal

CITY = Principal(account_id="c" * 36, kind="official", roles=("city_admin",), agency_code="000.00.00.H29")


async def _clerk(ctx) -> Account:
    return await registration.create_official(ctx, CITY, username="tiepnhan.x", full_name="Trần Bình", email="",
                                              phone="", agency_code="068.00.99.H29", roles=["reception"],
                                              password="TiepNhan@2026")


async def test_creating_an_official_is_in_the_admins_log(identity):
    clerk = await _clerk(identity)
    async with identity.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.event == "official_created"))
    assert entry.account_id == CITY.account_id and entry.detail["official_id"] == clerk.id
    assert entry.detail["agency_code"] == "068.00.99.H29"


async def test_a_failed_commit_gives_the_provider_its_old_roles_back(identity, monkeypatch):
    clerk = await _clerk(identity)
    told = []
    real_update = identity.provider.update_user

    async def update_then_break_commit(user):
        told.append(user.roles)
        await real_update(user)
        session = _current.get()
        if session is not None:  # inside the use case's transaction: make its commit fail
            session.add(Account(id="y" * 36, kind="citizen", username="hong", identity_number=None,
                                full_name="X", email="", phone="", verification_level=0, agency_code="",
                                roles=[], created_at=None))

    monkeypatch.setattr(identity.provider, "update_user", update_then_break_commit)
    with pytest.raises(IntegrityError):
        await registration.set_official_roles(identity, CITY, account_id=clerk.id, roles=["reception", "approval"])
    # A provider outside the database (Keycloak) was told the new roles, then the old ones again.
    assert told == [("reception", "approval"), ("reception",)]
    async with identity.sessions() as session:
        assert (await session.get(LocalUser, clerk.id)).roles == ["reception"]
        assert (await session.get(Account, clerk.id)).roles == ["reception"]


class _Catalogue:
    def __init__(self, agency):
        self.agency = agency

    async def GetAgency(self, request):  # noqa: N802 (gRPC method name)
        if self.agency is None:
            raise _NotFound()
        return catalogue_pb2.GetAgencyResponse(agency=self.agency)


class _NotFound(grpc.aio.AioRpcError):
    def __init__(self):
        super().__init__(grpc.StatusCode.NOT_FOUND, grpc.aio.Metadata(), grpc.aio.Metadata(), "no agency")


async def test_officials_are_created_only_in_active_agencies():
    merged = catalogue_pb2.Agency(code="26734", name="Phường Bến Thành", active=False, successor_code="26740")
    with pytest.raises(InvalidInput) as err:
        await CatalogueAgencies(_Catalogue(merged)).check_agency("26734")
    assert err.value.fields == {"agency_code": "inactive agency"} and "26740" in err.value.message
    live = catalogue_pb2.Agency(code="26740", name="Phường Sài Gòn", active=True)
    assert await CatalogueAgencies(_Catalogue(live)).check_agency("26740") == "Phường Sài Gòn"
    with pytest.raises(InvalidInput) as unknown:
        await CatalogueAgencies(_Catalogue(None)).check_agency("99999")
    assert unknown.value.fields == {"agency_code": "unknown agency"}
