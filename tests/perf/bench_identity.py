"""Identity benchmark (run by hand; prints figures, not a test).

    .venv/bin/python tests/perf/bench_identity.py [--verifications 20000] [--logins 64] [--concurrency 4]

1. Token verification cost in the gateway: the median time of one ``TokenVerifier.verify`` (JWKS
   cached, RS256 signature, iss/aud/exp/nbf checks), in microseconds, over many verifications.
2. Login throughput: password grants per second with the configured argon2id cost
   (MOTCUA_IDENTITY_ARGON2_* or the defaults), ``--concurrency`` at a time.

Runs the embedded provider (``local``, on a temporary SQLite database); when MOTCUA_KEYCLOAK_URL is
set it also runs the same two measurements against that Keycloak (its realm must be set up as
deploy/keycloak describes; a benchmark user is created and deleted again).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO, REPO / "gen"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from gateway.auth import TokenVerifier  # noqa: E402
from services.identity.providers import make_provider  # noqa: E402
from services.identity.providers.base import ProviderUser  # noqa: E402
from services.identity.settings import IdentitySettings  # noqa: E402
from services.platform.db import Database, upgrade_to_head  # noqa: E402

PASSWORD = "Bench@mark-2026"


async def verification_cost(provider, token: str, count: int) -> tuple[float, float]:
    async def source():
        return await provider.jwks(), provider.issuer, provider.audience

    verifier = TokenVerifier(source)
    await verifier.refresh()
    await verifier.verify(token)
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        await verifier.verify(token)
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def login_throughput(provider, username: str, logins: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one():
        async with gate:
            tokens = await provider.password_grant(username, PASSWORD)
            return tokens.access_token

    await one()
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(logins)))
    return logins / (time.perf_counter() - started)


async def run(name: str, provider, args) -> None:
    account_id = str(uuid.uuid4())
    username = f"bench.{account_id[:8]}"
    user = ProviderUser(account_id=account_id, username=username, email=f"{username}@bench.invalid",
                        full_name="Bench Mark", kind="citizen", roles=(), agency_code="", verification_level=1)
    await provider.create_user(user, PASSWORD)
    try:
        token = (await provider.password_grant(username, PASSWORD)).access_token
        median, p99 = await verification_cost(provider, token, args.verifications)
        rate = await login_throughput(provider, username, args.logins, args.concurrency)
    finally:
        await provider.delete_user(account_id)
    print(f"{name:9} token verification: median {median:7.1f} µs, p99 {p99:7.1f} µs "
          f"({args.verifications} verifications)")
    print(f"{name:9} login throughput:   {rate:7.1f} logins/s ({args.logins} logins, {args.concurrency} at a time)")


async def main(args) -> None:
    settings = IdentitySettings()
    print(f"argon2id cost: t={settings.argon2_time_cost}, m={settings.argon2_memory_kib} KiB, "
          f"p={settings.argon2_parallelism}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/identity.db"
        await asyncio.to_thread(upgrade_to_head, REPO / "services/identity/store/migrations", url)
        db = Database.connect(url)
        provider = make_provider("local", sessionmaker=db.sessions, issuer="http://127.0.0.1:8000/auth",
                                 settings=settings)
        await provider.start()
        try:
            await run("local", provider, args)
        finally:
            await provider.close()
            await db.dispose()
    if os.environ.get("MOTCUA_KEYCLOAK_URL"):
        keycloak = make_provider("keycloak")
        await keycloak.start()
        try:
            await run("keycloak", keycloak, args)
        finally:
            await keycloak.close()
    else:
        print("keycloak  (skipped: set MOTCUA_KEYCLOAK_URL to measure it too)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verifications", type=int, default=20000)
    parser.add_argument("--logins", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
