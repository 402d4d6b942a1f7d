"""SQLAlchemy 2 async engines, chosen by URL: SQLite (aiosqlite) for the embedded default,
PostgreSQL (asyncpg) in production; and Alembic migrations applied at start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from sqlalchemy import DateTime, TypeDecorator, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from services.platform.sqlite_inline import inline_creator


READ_ONLY = "motcua_read_only"


class UtcDateTime(TypeDecorator):
    """A point in time, stored as UTC and read back as an aware UTC datetime on every
    backend (SQLite keeps no offset: a local time stored as is would shift by hours)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        # One connection: SQLite has one writer anyway, and writers queued in asyncio wait
        # their turn at once, where writers queued in SQLite's busy handler sleep in steps.
        # It runs on the event loop's thread (sqlite_inline: no worker-thread hop per call),
        # so it waits at most 5 s for a lock some other process holds: the loop waits with it.
        engine = create_async_engine(url, async_creator=inline_creator(url, timeout=5), pool_size=1,
                                     max_overflow=0, pool_timeout=60)
        _tune_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip on every checkout. A connection that PostgreSQL
    # dropped fails one call (UNAVAILABLE, retried by the client) and the pool discards the
    # rest; recycling keeps connections younger than any server-side idle limit.
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL for concurrent readers; every transaction takes the write lock up front
    (BEGIN IMMEDIATE), so two writers queue instead of failing on a lock upgrade."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass
class Database:
    """A service's own database: ``sessions`` for use cases that write, ``reads`` for
    queries. On SQLite the readers have a pool of their own and never take the write lock,
    so they do not queue behind writers (WAL gives them a consistent snapshot). On
    PostgreSQL the readers run in autocommit: at READ COMMITTED every statement takes its
    own snapshot inside a transaction too, so BEGIN and ROLLBACK were two round trips that
    bought nothing (a queue page is a count and a select)."""

    engine: AsyncEngine
    read_engine: AsyncEngine
    sessions: async_sessionmaker
    reads: async_sessionmaker

    @classmethod
    def connect(cls, url: str) -> Database:
        engine = make_engine(url)
        read_engine = engine
        read_options: dict = {READ_ONLY: True}
        if is_sqlite(url):
            read_engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=4, max_overflow=4)
            _tune_sqlite(read_engine)
        else:
            read_options["isolation_level"] = "AUTOCOMMIT"
        return cls(
            engine=engine,
            read_engine=read_engine,
            sessions=session_factory(engine),
            reads=async_sessionmaker(read_engine.execution_options(**read_options), expire_on_commit=False),
        )

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def alembic_config(migrations_dir: Path, url: str):
    from alembic.config import Config  # imported on use: services migrate in a child process

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_to_head(migrations_dir: Path, url: str) -> None:
    """Apply a service's migrations. Call outside a running event loop (Alembic's async
    env runs its own), or through ``upgrade_to_head_async`` from inside one."""
    from alembic import command

    command.upgrade(alembic_config(migrations_dir, url), "head")


async def upgrade_to_head_async(migrations_dir: Path, url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, migrations_dir, url)


def run_env(target_metadata) -> None:
    """The body of every service's ``migrations/env.py``."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")

    def do_run(connection):
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite(url),
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async():
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
