"""Provider changes made inside a use case's transaction, undone when the transaction fails.

The provider (Keycloak) is not part of our database transaction: when the commit fails after the
provider was told about new roles or a new verification level, the provider is given back the
account as it was, so tokens never claim what the database does not hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from services.identity.app.context import Identity
from services.identity.app.records import provider_user
from services.identity.providers.base import ProviderUser
from services.identity.store.ambient import ambient
from services.identity.store.models import Account
from services.platform.logging import get_logger

log = get_logger("identity.provider_sync")


@dataclass
class ProviderTransaction:
    ctx: Identity
    session: object
    undo: list[ProviderUser] = field(default_factory=list)

    async def update_user(self, account: Account, before: ProviderUser) -> None:
        """Tells the provider the account's new state; ``before`` is what it gets back on failure."""
        with ambient(self.session):
            await self.ctx.provider.update_user(provider_user(account))
        self.undo.append(before)


@asynccontextmanager
async def provider_transaction(ctx: Identity) -> AsyncIterator[ProviderTransaction]:
    tx = None
    try:
        async with ctx.sessions() as session, session.begin():
            tx = ProviderTransaction(ctx, session)
            yield tx
    except BaseException:
        for before in reversed(tx.undo if tx else []):
            try:
                await ctx.provider.update_user(before)
            except Exception:
                log.exception("provider_undo_failed", account_id=before.account_id)
        raise
