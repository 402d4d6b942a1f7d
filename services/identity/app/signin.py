"""Signing in, refreshing, signing out; machine clients' grant. Failed sign-ins are throttled
per account and per client address, and every failure is in the account's audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, or_, select

from services.identity.app.context import Identity
from services.identity.app.records import audit
from services.identity.domain.throttle import Throttle, after_failure, retry_after
from services.identity.providers.base import RefreshTokenReused, TokenSet
from services.identity.store.models import Account, LoginThrottle
from services.platform.errors import InvalidInput, TooManyRequests, Unauthenticated
from services.platform.logging import get_logger, mask_personal_numbers

log = get_logger("identity.signin")


def _blocked(seconds: int) -> TooManyRequests:
    return TooManyRequests(f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.",
                           fields={"retry_after": str(seconds)})


async def _account_for(session, name: str) -> Account | None:
    found = list(await session.scalars(select(Account).where(
        or_(Account.username == name, Account.email == name), Account.kind.in_(("citizen", "official"))).limit(2)))
    exact = [a for a in found if a.username == name]
    return exact[0] if exact else (found[0] if len(found) == 1 else None)


def _state(row: LoginThrottle | None) -> Throttle | None:
    if row is None:
        return None
    return Throttle(window_started_at=row.window_started_at, failures=row.failures,
                    blocked_until=row.blocked_until, strikes=row.strikes)


async def _throttle_keys(ctx: Identity, keys: list[str], now: datetime) -> int:
    async with ctx.sessions() as session:
        rows = [await session.get(LoginThrottle, k) for k in keys]
    return max(retry_after(_state(r), now) for r in rows)


async def _record_failure(session, keys: list[str], now: datetime) -> None:
    for key in keys:
        row = await session.get(LoginThrottle, key)
        state = after_failure(_state(row), now)
        if row is None:
            session.add(LoginThrottle(key=key, window_started_at=state.window_started_at, failures=state.failures,
                                      blocked_until=state.blocked_until, strikes=state.strikes))
        else:
            row.window_started_at, row.failures = state.window_started_at, state.failures
            row.blocked_until, row.strikes = state.blocked_until, state.strikes


async def sign_in(ctx: Identity, *, username: str, password: str, client_address: str = "") -> TokenSet:
    """The same answer, after the same work, for an unknown user and a wrong password."""
    if not username or not password or len(username) > 254 or len(password) > 128:
        raise InvalidInput("Cần tên đăng nhập và mật khẩu.", fields={"username": "required", "password": "required"})
    name = username.strip().lower()
    now = datetime.now(UTC)
    async with ctx.sessions() as session:
        account = await _account_for(session, name)
    account_key = f"account:{account.id}" if account else f"name:{name[:200]}"
    keys = [account_key, f"address:{client_address[:64]}"]
    wait = await _throttle_keys(ctx, keys, now)
    if wait:
        raise _blocked(wait)
    try:
        tokens = await ctx.provider.password_grant(account.username if account else name, password)
    except Unauthenticated:
        async with ctx.sessions() as session, session.begin():
            await _record_failure(session, keys, now)
            audit(session, account.id if account else "", "login_failed", client_address=client_address,
                  username=mask_personal_numbers(name)[:100])
        log.info("login_failed", username=name, client_address=client_address)
        raise
    async with ctx.sessions() as session, session.begin():
        await session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key))
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
    keys = [f"client:{client_id}", f"address:{client_address[:64]}"]
    wait = await _throttle_keys(ctx, keys, now)
    if wait:
        raise _blocked(wait)
    try:
        return await ctx.provider.client_credentials_grant(client_id, client_secret)
    except Unauthenticated:
        async with ctx.sessions() as session, session.begin():
            await _record_failure(session, keys, now)
        raise
