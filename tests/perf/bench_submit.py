"""Dossier submission throughput on PostgreSQL (run by hand; not a pytest test).

    .venv/bin/python tests/perf/bench_submit.py [--duration 10] [--connections 64] [--profile]

1. In-process: ``submit_dossier`` called directly against a temporary PostgreSQL cluster
   (procedure snapshot cached, as in the running service), ``--count`` submissions at
   ``--concurrency``; prints submissions/s and, with ``--profile``, the top functions.
2. Through the gateway: the embedded system with the dossier service on PostgreSQL, wrk
   posting ``POST /api/v1/dossiers`` with a unique Idempotency-Key each, for a commune
   procedure without mandatory documents or e-form (each submission is a fresh dossier:
   code allocation, dossier row, log entry, outbox event, idempotency record).

Prints req/s, p50, p99 and non-2xx. wrk, the gateway, the services, NATS and PostgreSQL
share the machine, so the figures are for comparison, not capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO, REPO / "gen"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import httpx  # noqa: E402

from services.platform.db import upgrade_to_head  # noqa: E402
from services.platform.embedded import EmbeddedSystem  # noqa: E402
from services.platform.migrate import migrations_dir  # noqa: E402
from tests.perf.bench_gateway import (  # noqa: E402
    SUBMIT_LUA,
    _lua_str,
    commune_code,
    ensure_wrk,
    login,
    plain_procedure,
    run_wrk,
)
from tests.servers.postgres import TemporaryPostgres  # noqa: E402

MIGRATIONS = migrations_dir("dossier")


async def in_process(url: str, *, count: int, concurrency: int, profile: bool) -> None:
    from services.dossier.app.submit import SubmitCommand, submit_dossier
    from tests.dossier.support import AGENCY, FakeCatalogue, citizen, make_ctx, procedure

    catalogue = FakeCatalogue()
    catalogue.add(procedure(mandatory=()))
    ctx, engine = await make_ctx(url, catalogue)
    who = citizen()

    async def one(i: int):
        await submit_dossier(ctx, who, SubmitCommand(procedure_code="1.001193", agency_code=AGENCY,
                                                     form_data_json='{"x": 1}', idempotency_key=f"k-{i}"))

    await one(-1)  # warm the snapshot and agency caches
    queue = iter(range(count))

    async def worker():
        for i in queue:
            await one(i)

    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"in-process submit_dossier on PostgreSQL: {count} in {elapsed:.2f} s = {count / elapsed:.0f}/s "
          f"({concurrency} concurrent); service CPU {cpu / count * 1000:.2f} ms per submission", flush=True)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    await engine.dispose()


def through_gateway(pg: TemporaryPostgres, args) -> None:
    pg.create_database("dossier_bench")
    url = pg.url("dossier_bench")
    with tempfile.TemporaryDirectory(prefix="motcua-bench-") as tmp:
        system = EmbeddedSystem.on_free_ports(Path(tmp), extra_env={
            "MOTCUA_DOSSIER_DATABASE_URL": url, "MOTCUA_GATEWAY_WORKERS": str(args.gateway_workers)})
        try:
            system.start()
            client = httpx.Client(base_url=system.gateway_url, timeout=30)
            token = login(client)
            agency = commune_code(client)
            code = plain_procedure(client)
            body = f'{{"procedure_code": "{code}", "agency_code": "{agency}", "form_data": {{}}}}'
            check = client.post("/api/v1/dossiers", content=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            assert check.status_code == 201, check.text
            script = Path(tmp) / "submit.lua"
            script.write_text(SUBMIT_LUA % (_lua_str(token), _lua_str(body)))
            wrk = ensure_wrk()
            run_wrk(wrk, system.gateway_url + "/api/v1/dossiers", duration=2, connections=args.connections,
                    threads=2, script=script, script_args=[f"warm-{uuid.uuid4().hex[:6]}"])
            result = run_wrk(wrk, system.gateway_url + "/api/v1/dossiers", duration=args.duration,
                             connections=args.connections, threads=2, script=script,
                             script_args=[f"run-{uuid.uuid4().hex[:6]}"])
            print(f"POST /api/v1/dossiers via gateway ({args.gateway_workers} worker(s)), dossier DB on PostgreSQL ({code}): "
                  f"{result.rps:.0f} req/s, p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms, "
                  f"non-2xx {result.non_2xx}, socket errors {result.socket_errors}", flush=True)
        finally:
            system.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--skip-gateway", action="store_true")
    ap.add_argument("--skip-in-process", action="store_true")
    ap.add_argument("--gateway-workers", type=int, default=1)
    args = ap.parse_args()
    with TemporaryPostgres() as pg:
        pg.create_database("dossier_inproc")
        url = pg.url("dossier_inproc")
        upgrade_to_head(MIGRATIONS, url)
        if not args.skip_in_process:
            asyncio.run(in_process(url, count=args.count, concurrency=args.concurrency, profile=args.profile))
        if not args.skip_gateway:
            through_gateway(pg, args)


if __name__ == "__main__":
    main()
