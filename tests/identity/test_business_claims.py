"""A citizen who registers a business only claims to represent it: the business registry
confirms the claim; an unconfirmed one gives no rights and a confirmed one replaces it.
On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from services.identity.app import registration, representations
from services.identity.app.business_registry import SandboxBusinessRegistry
from services.identity.store.models import Representation
from services.platform.errors import AlreadyExists, NotFound
from services.platform.principal import Principal

REAL = dict(identity_number="001195012345", full_name="Lê Thị Thu", date_of_birth="1995-01-01",
            email="thu@example.vn", phone="", password="HoaMai@2026")
SQUATTER = dict(identity_number="079090004321", full_name="Nguyễn Thị Mai", date_of_birth="1990-02-03",
                email="mai@example.vn", phone="", password="HoaSen@2026")
OTHER = dict(identity_number="079095001234", full_name="Trần Văn Bình", date_of_birth="1995-05-05",
             email="binh@example.vn", phone="", password="BinhAn@2026")
BODY = dict(kind="business", tax_code="0318888806", address="12 Lê Lợi", email="", phone="")


@pytest.fixture
def registry(identity, tmp_path):
    """The sandbox registry that knows who represents 0318888806."""
    path = tmp_path / "representatives.json"
    path.write_text(json.dumps([{"tax_code": "0318888806", "identity_number": REAL["identity_number"]}]))
    identity.business_registry = SandboxBusinessRegistry(str(path))
    return identity.business_registry


async def _person(ctx, data) -> Principal:
    account = await registration.register_citizen(ctx, **data)
    return Principal(account_id=account.id, kind="citizen", name=account.full_name)


async def test_an_unconfirmed_claim_gives_no_right_and_the_real_representative_takes_over(identity, registry):
    squatter = await _person(identity, SQUATTER)
    real = await _person(identity, REAL)
    other = await _person(identity, OTHER)
    body = await registration.register_body(identity, squatter, name="Công ty giả", **BODY)
    with pytest.raises(NotFound):
        await representations.confirm(identity, squatter, body.id)
    with pytest.raises(NotFound):  # nor may the squatter link others to it
        await representations.add(identity, squatter, body_id=body.id, identity_number=OTHER["identity_number"],
                                  role="authorised")
    assert await representations.list_for_person(identity, squatter.account_id) == []
    # Another unconfirmed claim cannot replace it...
    with pytest.raises(AlreadyExists):
        await registration.register_body(identity, other, name="Công ty khác", **BODY)
    # ...the confirmed one does, and the body now carries the real representative's details.
    taken = await registration.register_body(identity, real, name="Công ty TNHH An Phát", **BODY)
    assert taken.id == body.id and taken.full_name == "Công ty TNHH An Phát"
    link, _ = await representations.confirm(identity, real, body.id)
    assert (link.role, link.status) == ("legal_representative", "confirmed")
    async with identity.sessions() as session:
        squatters = await session.scalar(select(Representation).where(
            Representation.person_id == squatter.account_id))
    assert squatters.revoked_at is not None
    # Once confirmed, nobody replaces the representative.
    with pytest.raises(AlreadyExists):
        await registration.register_body(identity, squatter, name="Công ty giả", **BODY)


async def test_two_confirmed_claims_at_once_leave_one_representative(identity, tmp_path):
    path = tmp_path / "representatives.json"
    path.write_text(json.dumps([{"tax_code": "0318888806", "identity_number": n}
                                for n in (REAL["identity_number"], OTHER["identity_number"])]))
    squatter = await _person(identity, SQUATTER)
    real = await _person(identity, REAL)
    other = await _person(identity, OTHER)
    identity.business_registry = SandboxBusinessRegistry(str(path))
    await registration.register_body(identity, squatter, name="Công ty giả", **BODY)
    results = await asyncio.gather(*(registration.register_body(identity, p, name="Công ty TNHH An Phát", **BODY)
                                     for p in (real, other)), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Account", "AlreadyExists"]
    async with identity.sessions() as session:
        live = list(await session.scalars(select(Representation).where(Representation.revoked_at.is_(None))))
    assert [link.status for link in live] == ["confirmed"]


async def test_the_embedded_sandbox_confirms_a_claim(identity):
    owner = await _person(identity, REAL)
    body = await registration.register_body(identity, owner, name="Công ty TNHH An Phát", **BODY)
    assert (await representations.confirm(identity, owner, body.id))[0].status == "confirmed"
