"""The embedded default's SQLite writer, run on the event loop's own thread.

aiosqlite runs every call on a worker thread and hands the result back through the event
loop: a statement is four such hops (cursor, execute, fetch, close), and each waits for the
loop to come round. Under load a write transaction of ten statements then lasts forty loop
turns, while SQLite itself spends some tens of microseconds on each statement (WAL with
synchronous=NORMAL: a commit writes to the log without waiting for the disk). A service
has one writer connection, so that hold is its write throughput.

``InlineConnection`` is aiosqlite's connection with the hop taken out: its queue to the
worker runs each call at once, so the call's awaitable is already done, so a transaction never yields the loop between its
statements. SQLAlchemy's aiosqlite dialect uses it through ``async_creator``; everything
above the driver (pool, ORM, events) is unchanged. Readers keep the threaded connections: a
long query there must not stall the loop. The writer would stall the loop only while it
waits for SQLite's write lock, which no other connection takes while the service runs (its
readers only read, and WAL lets them)."""

from __future__ import annotations

import sqlite3
from functools import partial

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url


class _RunNow:
    """Stands for aiosqlite's queue to its worker thread: runs what is put in it at once
    (SQLAlchemy's dialect puts its isolation-level change there directly)."""

    @staticmethod
    def put_nowait(item) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as the worker would
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the caller's thread: everything aiosqlite
    would queue to its worker goes to ``_RunNow``, so each awaitable is done when made."""

    def __init__(self, connector, iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _RunNow()

    def __await__(self):
        return self._connect().__await__()  # without starting the worker thread


def inline_creator(url: str, **connect_args):
    """An ``async_creator`` for ``create_async_engine``: the connection the aiosqlite
    dialect would open for ``url`` (same file, URI and pysqlite options), run inline."""
    args, options = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    options = {**options, **connect_args, "check_same_thread": False}

    async def create() -> InlineConnection:
        return await InlineConnection(partial(sqlite3.connect, *args, **options), iter_chunk_size=64)

    return create
