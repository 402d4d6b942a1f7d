"""The SQLite writer runs inline on the event loop: a transaction does not give the loop
away between its statements, errors still reach the caller, and readers on their own
threaded connections see what it committed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import IntegrityError

from services.platform.db import Database, make_engine
from services.platform.sqlite_inline import InlineConnection

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("name", String, nullable=False))


@pytest.fixture
async def db(tmp_path):
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield db
    finally:
        await db.dispose()


async def test_the_writer_is_the_inline_connection_and_the_readers_are_not(db):
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)
        assert (await conn.scalar(text("PRAGMA journal_mode"))) == "wal"
    async with db.read_engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert not isinstance(raw.driver_connection, InlineConnection)


async def test_a_transaction_does_not_yield_the_loop_between_statements(db):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        async with db.engine.begin() as conn:
            before = ticks
            for i in range(50):
                await conn.execute(insert(items).values(id=i, name=f"n{i}"))
                await conn.scalar(select(items.c.name).where(items.c.id == i))
            during = ticks - before
    finally:
        task.cancel()
    assert during == 0  # aiosqlite's worker thread would have let the ticker run at every call


async def test_errors_reach_the_caller_and_roll_back(db):
    async with db.engine.begin() as conn:
        await conn.execute(insert(items).values(id=1, name="first"))
    with pytest.raises(IntegrityError):
        async with db.engine.begin() as conn:
            await conn.execute(insert(items).values(id=2, name="second"))
            await conn.execute(insert(items).values(id=1, name="duplicate"))
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(items.c.id, items.c.name).order_by(items.c.id))).all() == [(1, "first")]


async def test_readers_see_what_the_writer_committed_and_not_before(db):
    async with db.engine.begin() as conn:
        await conn.execute(insert(items).values(id=7, name="pending"))
        async with db.reads() as reader:
            assert await reader.scalar(select(items.c.name).where(items.c.id == 7)) is None
    async with db.reads() as reader:
        assert await reader.scalar(select(items.c.name).where(items.c.id == 7)) == "pending"


async def test_a_closed_engine_closes_its_connection(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'closed.db'}")
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
    await engine.dispose()
    with pytest.raises(ValueError):
        await driver.execute("SELECT 1")
