"""Signing in, refreshing, signing out; machine clients' grant. Failed sign-ins are throttled
per account and per client address, and every failure is in the account's audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from services.identity.app.context import Identity
from services.identity.app.lookup import account_for_sign_in
from services.identity.app.records import audit
from services.identity.domain.throttle import retry_after
from services.identity.providers.base import RefreshTokenReused, TokenSet
from services.identity.store import throttles
from services.platform.errors import InvalidInput, TooManyRequests, Unauthenticated
from services.platform.logging import get_logger, mask_personal_data

log = get_logger("identity.signin")


def _blocked(seconds: int) -> TooManyRequests:
    return TooManyRequests(f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.",
                           fields={"retry_after": str(seconds)})


def throttle_keys(first: str, client_address: str) -> list[str]:
    """The keys a failure counts against: the account (or typed name, or client) and the address.
    Without a trusted client address there is no address key (all such calls would share one)."""
    keys = [first]
    if client_address:
        keys.append(f"address:{client_address[:64]}")
    return sorted(keys)  # one lock order for every transaction: no deadlock between two keys


async def refuse_if_blocked(ctx: Identity, keys: list[str], now: datetime) -> None:
    async with ctx.sessions() as session:
        wait = max(retry_after(s, now) for s in await throttles.states(session, keys))
    if wait:
        raise _blocked(wait)


async def count_failure(session, keys: list[str], now: datetime) -> None:
    """Inside the caller's transaction, so the audit entry and the count commit together."""
    for key in keys:
        await throttles.record_failure(session, key, now)


async def sign_in(ctx: Identity, *, username: str, password: str, client_address: str = "") -> TokenSet:
    """The same answer, after the same work, for an unknown user and a wrong password."""
    if not username or not password or len(username) > 254 or len(password) > 128:
        raise InvalidInput("Cần tên đăng nhập và mật khẩu.", fields={"username": "required", "password": "required"})
    name = username.strip().lower()
    now = datetime.now(UTC)
    async with ctx.sessions() as session:
        account = await account_for_sign_in(session, name)
    account_key = f"account:{account.id}" if account else f"name:{name[:200]}"
    keys = throttle_keys(account_key, client_address)
    await refuse_if_blocked(ctx, keys, now)
    try:
        tokens = await ctx.provider.password_grant(account.username if account else name, password)
    except Unauthenticated:
        async with ctx.sessions() as session, session.begin():
            await count_failure(session, keys, now)
            audit(session, account.id if account else "", "login_failed", client_address=client_address,
                  username=mask_personal_data(name)[:100])
        log.info("login_failed", username=mask_personal_data(name), client_address=client_address)
        raise
    async with ctx.sessions() as session, session.begin():
        await throttles.clear(session, account_key)
        if account:
            audit(session, account.id, "login_succeeded", client_address=client_address)
    return tokens


async def refresh(ctx: Identity, *, refresh_token: str, client_address: str = "") -> TokenSet:
    if not refresh_token or len(refresh_token) > 4096:
        raise InvalidInput("Cần mã làm mới phiên.", fields={"refresh_token": "required"})
    try:
        return await ctx.provider.refresh(refresh_token)
    except RefreshTokenReused as exc:
        async with ctx.sessions() as session, session.begin():
            audit(session, exc.account_id, "token_reuse_detected", client_address=client_address)
        raise


async def sign_out(ctx: Identity, *, refresh_token: str) -> None:
    if refresh_token and len(refresh_token) <= 4096:
        await ctx.provider.logout(refresh_token)


async def machine_token(ctx: Identity, *, client_id: str, client_secret: str, client_address: str = "") -> TokenSet:
    """A commune system's own token (client credentials), throttled like a person's sign-in."""
    if not client_id or not client_secret or len(client_id) > 100 or len(client_secret) > 256:
        raise InvalidInput("Cần client_id và client_secret.", fields={"client_id": "required",
                                                                      "client_secret": "required"})
    now = datetime.now(UTC)
    keys = throttle_keys(f"client:{client_id}", client_address)
    await refuse_if_blocked(ctx, keys, now)
    try:
        return await ctx.provider.client_credentials_grant(client_id, client_secret)
    except Unauthenticated:
        async with ctx.sessions() as session, session.begin():
            await count_failure(session, keys, now)
        raise
