"""Catalogue fixtures: a seeded catalogue per backend, an admin principal, session helpers."""

from __future__ import annotations

import pytest

from services.catalogue.app.seed import seed_if_empty
from services.platform.db import make_engine, session_factory
from services.platform.principal import Principal

ADMIN = Principal(account_id="admin-1", kind="official", name="Huỳnh Văn Khoa", roles=("city_admin",),
                  agency_code="000.00.00.H29")
RECEPTION = Principal(account_id="off-1", kind="official", name="Trần Thị Bình", roles=("reception",),
                      agency_code="068.00.99.H29")


@pytest.fixture
def catalogue_db(migrated) -> str:
    return migrated("catalogue")


@pytest.fixture
async def sessions(catalogue_db):
    """A fresh, seeded catalogue on each backend (SQLite and PostgreSQL)."""
    engine = make_engine(catalogue_db)
    factory = session_factory(engine)
    async with factory() as s:
        assert await seed_if_empty(s) is True
    try:
        yield factory
    finally:
        await engine.dispose()
