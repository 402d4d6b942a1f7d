"""Runs one synchronous transaction function against the service's database.

On SQLite the async driver (aiosqlite) hands every statement, fetch and commit to its own
thread and back: some thirty thread switches for a consumer batch, each of which waits for
a CPU slice on a busy machine. Here the whole transaction runs in ONE worker-thread call on
a synchronous connection to the same file (WAL; BEGIN IMMEDIATE, so writers queue on the
lock instead of failing). On PostgreSQL it runs on the async engine through ``run_sync``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


class TransactionRunner:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._sync = None
        self._lock = asyncio.Lock()
        if engine.dialect.name == "sqlite":
            url = engine.url.set(drivername="sqlite")
            self._sync = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                       pool_size=1, max_overflow=0)

            @event.listens_for(self._sync, "connect")
            def _on_connect(dbapi_connection, _record):
                dbapi_connection.isolation_level = None
                # No busy handler: SQLite's sleeps 1, 2, 5, 10, 15, 20... ms between tries, so a
                # write lock held 3 ms by another writer cost 8 ms; _begin_immediate tries every ms.
                for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=0", "foreign_keys=ON"):
                    dbapi_connection.execute(f"PRAGMA {pragma}")

            @event.listens_for(self._sync, "begin")
            def _on_begin(conn):
                _begin_immediate(conn.connection.driver_connection)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """``fn(conn)`` inside one transaction, committed when it returns, rolled back if it raises."""
        if self._sync is None:
            async with self._engine.begin() as conn:
                return await conn.run_sync(fn)
        async with self._lock:  # one writer of ours at a time; the thread never waits on our own lock
            return await asyncio.to_thread(self._run_sync, fn)

    def _run_sync(self, fn: Callable[[Connection], T]) -> T:
        with self._sync.begin() as conn:
            return fn(conn)

    def dispose(self) -> None:
        if self._sync is not None:
            self._sync.dispose()


LOCK_WAIT_SECONDS = 30.0


def _begin_immediate(dbapi_connection: sqlite3.Connection) -> None:
    """Take the write lock up front (writers queue instead of failing on an upgrade),
    waiting for another writer in 1 ms steps for up to LOCK_WAIT_SECONDS."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)
