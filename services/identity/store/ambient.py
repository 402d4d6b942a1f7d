"""The transaction a use case is running, for the embedded provider that shares its database.

Registration creates the provider user "inside the DB transaction's scope". The embedded provider
stores its users in the identity database, so inside a use case it writes through that very
transaction: its user exists exactly when the account does. (A second connection would wait
forever on SQLite's single writer held by the first.) Other providers ignore this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_current: ContextVar[AsyncSession | None] = ContextVar("identity_transaction", default=None)


@contextmanager
def ambient(session: AsyncSession) -> Iterator[None]:
    token = _current.set(session)
    try:
        yield
    finally:
        _current.reset(token)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker) -> AsyncIterator[AsyncSession]:
    """The ambient transaction when there is one (flushed, committed by its owner), else a new one."""
    session = _current.get()
    if session is not None:
        yield session
        await session.flush()
        return
    async with sessions() as session, session.begin():
        yield session
