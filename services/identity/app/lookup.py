"""Finding the account a person means by the name they type (sign-in, password reset)."""

from __future__ import annotations

from sqlalchemy import or_, select

from services.identity.store.models import Account


async def account_for_sign_in(session, name: str) -> Account | None:
    """By user name (a citizen's is their CCCD), else by email when exactly one person has it."""
    found = list(await session.scalars(select(Account).where(
        or_(Account.username == name, Account.email == name), Account.kind.in_(("citizen", "official"))).limit(2)))
    exact = [a for a in found if a.username == name]
    return exact[0] if exact else (found[0] if len(found) == 1 else None)
