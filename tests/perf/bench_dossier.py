"""Dossier benchmark at a city's scale, through the gateway, on PostgreSQL (run by hand;
not a pytest test).

    .venv/bin/python tests/perf/bench_dossier.py [--dossiers 1000000] [--rounds 3] [--duration 10]
        [--connections 32] [--threads 2] [--later-page 50] [--with-log] [--no-durable] [--keep]
        [--only bare,submit]

Starts a temporary PostgreSQL cluster (settings sized for a 2-core box, printed) with one
database per service, the whole embedded system on it (MOTCUA_<SERVICE>_DATABASE_URL),
and a bare FastAPI app as the baseline; loads ``--dossiers`` generated dossiers into the
dossier database (tests/perf/generate_dossiers.py: COPY, then the indexes and VACUUM
ANALYZE); then wrk measures, in interleaved rounds:

  bare          GET  /ping (bare FastAPI, one small JSON)
  submit        POST /api/v1/dossiers as the demo citizen, a unique Idempotency-Key per
                request, a commune procedure with no e-form and no mandatory document
  tracking      GET  /api/v1/tracking/{code}?secret=… over a random sample of the loaded dossiers
  queue         GET  /api/v1/work/dossiers as tiepnhan.saigon (the big agency's reception):
                the first page (overdue first), overdue only, a later keyset page
  queue mine    GET  /api/v1/work/dossiers?assigned_to_me=true as xuly.saigon

and prints medians of req/s, p50 and p99 with each target's req/s as a ratio of the bare
endpoint's; then the queue's SQL exactly as the service runs it (captured from
services.dossier.app.queries.work_queue) with EXPLAIN (ANALYZE, BUFFERS) as a custom plan
and as the generic plan a prepared statement may switch to, and its time at the database
alone; then where the submissions' time goes: each hop's logged latency (gateway http,
service rpc) and each process's CPU time per request.

PostgreSQL runs durable (fsync, synchronous_commit and full_page_writes on, where the
repository's test cluster has them off) unless --no-durable. wrk runs on the same machine as
everything else, so the numbers are for comparison, not capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for _p in (str(REPO), str(REPO / "gen")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402

from services.platform.embedded import SERVICES, EmbeddedSystem  # noqa: E402
from tests.perf.bench_gateway import (  # noqa: E402
    BareServer,
    WrkResult,
    _lua_str,
    ensure_wrk,
    gateway_error_statuses,
    machine_info,
    run_wrk,
    table,
)
from tests.perf.generate_dossiers import describe, generate  # noqa: E402
from tests.servers.postgres import TemporaryPostgres  # noqa: E402

CITIZEN = "079090001234"
RECEPTION = "tiepnhan.saigon"
PROCESSING = "xuly.saigon"
PASSWORD = "MotCua@2026"
# Cấp Giấy xác nhận tình trạng hôn nhân: a commune procedure, online, no e-form, no mandatory document.
PROCEDURE = "1.004873"
PAGE = 20

# A 2-core box with a few GB for PostgreSQL next to the services (durability is set apart).
PG_SETTINGS = {
    "max_connections": "200",
    "shared_buffers": "512MB",
    "effective_cache_size": "2GB",
    "work_mem": "8MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "max_parallel_workers_per_gather": "1",
    "max_parallel_maintenance_workers": "1",
    "wal_compression": "on",
    "jit": "off",
}
SHOWN = [*PG_SETTINGS, "fsync", "synchronous_commit", "full_page_writes", "wal_level", "plan_cache_mode",
         "server_version"]


# --- wrk scripts -------------------------------------------------------------------------

GET_LUA = """\
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. %s
local path = %s
function request()
  return wrk.format("GET", path)
end
"""

TRACKING_LUA = """\
local paths = {
%s
}
local i = 0
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads * 997)
end
function request()
  i = i + 1
  return wrk.format("GET", paths[((i + (offset or 0)) %% #paths) + 1])
end
"""

SUBMIT_LUA = """\
-- A unique Idempotency-Key per request: "<run prefix>-<thread id>-<counter>".
local counter = 0
local prefix = "bench"
local next_tid = 0
function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end
function init(args)
  if args[1] then prefix = args[1] end
end
function request()
  counter = counter + 1
  wrk.headers["Authorization"] = "Bearer " .. %s
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  return wrk.format("POST", "/api/v1/dossiers", wrk.headers, %s)
end
"""


# --- the system ----------------------------------------------------------------------------

def login(client: httpx.Client, username: str, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        if r.status_code == 200:
            return r.json()["access_token"]
        if time.monotonic() > deadline:
            raise RuntimeError(f"login of {username} failed: {r.status_code} {r.text[:300]}")
        time.sleep(0.5)


def claims(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def pg_settings(dsn: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [(name, await conn.fetchval(f"SHOW {name}")) for name in SHOWN]
    finally:
        await conn.close()


async def sample_tracking(dsn: str, n: int) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT code, tracking_secret FROM dossiers TABLESAMPLE SYSTEM (5) LIMIT $1", n)
        if len(rows) < n:
            rows = await conn.fetch("SELECT code, tracking_secret FROM dossiers ORDER BY random() LIMIT $1", n)
        return [(r["code"], r["tracking_secret"]) for r in rows]
    finally:
        await conn.close()


# --- the queue's SQL, as the service runs it ---------------------------------------------

async def capture_queue_sql(url: str, agency: str, account_id: str, roles: tuple[str, ...], **kwargs):
    """Run services.dossier.app.queries.work_queue against the database and keep every
    statement it sends (with its parameters): the exact SQL behind the endpoint."""
    from services.dossier.app.context import DossierContext
    from services.dossier.app.queries import work_queue
    from services.platform.db import Database
    from services.platform.principal import Principal

    db = Database.connect(url)
    seen: list[tuple[str, tuple]] = []

    @event.listens_for(db.read_engine.sync_engine, "before_cursor_execute")
    def keep(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, tuple(parameters or ())))

    try:
        ctx = DossierContext(sessions=db.sessions, catalogue=None, relay=None, reads=db.reads)
        principal = Principal(account_id=account_id, kind="official", name="bench", roles=roles,
                              agency_code=agency, verification_level=2)
        rows, total, nxt = await work_queue(ctx, principal, status_code=0, limit=PAGE, **kwargs)
    finally:
        await db.dispose()
    return [s for s in seen if s[0].lstrip().upper().startswith("SELECT")], len(rows), total, nxt


def literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return "'" + str(value).replace("'", "''") + "'"


async def explain(dsn: str, statement: str, params: tuple, *, repeat: int = 30) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) as a custom plan (values known) and as the generic plan
    (what a prepared statement may switch to after five runs), and the statement's time
    at the database alone through asyncpg's prepared statement, as the service runs it."""
    conn = await asyncpg.connect(dsn)
    out = {}
    try:
        await conn.execute(f"PREPARE bench_q AS {statement}")
        args = ", ".join(literal(p) for p in params)
        execute = f"EXECUTE bench_q({args})" if params else "EXECUTE bench_q"
        for mode in ("force_custom_plan", "force_generic_plan"):
            await conn.execute(f"SET plan_cache_mode = {mode}")
            rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {execute}")
            out[mode] = "\n".join(r[0] for r in rows)
        await conn.execute("RESET plan_cache_mode")
        await conn.execute("DEALLOCATE bench_q")
        stmt = await conn.prepare(statement)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            await stmt.fetch(*params)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out["p50_ms"] = statistics.median(times)
        out["p99_ms"] = times[min(len(times) - 1, int(len(times) * 0.99))]
        out["max_ms"] = times[-1]
    finally:
        await conn.close()
    return out


# --- where the time goes -------------------------------------------------------------------

class _Relay:
    def wake(self):
        pass


async def profile_submits(url: str, catalogue_addr: str, citizen: dict, agency: str, n: int) -> tuple[float, str]:
    """cProfile of ``n`` sequential submissions through the dossier service's use case and
    its reply conversion, in this process, on the benchmark's database: where the
    service's own time goes, without gRPC and the gateway. Returns (ms per submission, top)."""
    import cProfile
    import io
    import pstats

    import grpc

    from motcua.v1.catalogue_pb2_grpc import CatalogueServiceStub
    from services.dossier.api.servicer import dossier_to_proto
    from services.dossier.app import queries
    from services.dossier.app.context import DossierContext
    from services.dossier.app.submit import SubmitCommand, submit_dossier
    from services.platform.db import Database
    from services.platform.principal import Principal

    db = Database.connect(url)
    channel = grpc.aio.insecure_channel(catalogue_addr)
    try:
        ctx = DossierContext(sessions=db.sessions, catalogue=CatalogueServiceStub(channel), relay=_Relay(),
                             reads=db.reads)
        principal = Principal(account_id=citizen["account_id"], kind=citizen.get("kind", "citizen"),
                              name=citizen.get("name", ""), verification_level=int(citizen.get("vl", 1)))
        prefix = uuid.uuid4().hex[:8]

        async def one(i):
            result = await submit_dossier(ctx, principal, SubmitCommand(
                procedure_code=PROCEDURE, agency_code=agency, form_data_json="{}", channel=2,
                idempotency_key=f"profile-{prefix}-{i}"))
            dossier_to_proto(result.dossier, with_secret=True, flag=queries.flag_of(ctx, result.dossier), steps=())

        for i in range(20):  # warm the caches (procedure, agency, prepared statements)
            await one(-i - 1)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for i in range(n):
            await one(i)
        profiler.disable()
        per = (time.perf_counter() - started) * 1000 / n
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
        return per, out.getvalue()
    finally:
        await channel.close()
        await db.dispose()


def _children(pid: int) -> set[int]:
    """pid and all its descendants (PostgreSQL's backends under the postmaster)."""
    parents = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents[ppid].append(int(entry))
    out, stack = set(), [pid]
    while stack:
        p = stack.pop()
        out.add(p)
        stack.extend(parents.get(p, ()))
    return out


def cpu_seconds(pids: set[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime + stime, and cutime + cstime: what its children that have exited used (a
        # PostgreSQL backend that ends between two snapshots stays counted by the postmaster).
        total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    return total


class CpuMeter:
    def __init__(self, groups: dict[str, int]):
        self.groups = groups

    def snapshot(self) -> dict[str, float]:
        return {name: cpu_seconds(_children(pid) if name == "postgres" else {pid}) for name, pid in self.groups.items()}


def log_latencies(path: Path, key: str, wanted: str, since: float) -> list[float]:
    out = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return out
    for line in lines:
        if wanted not in line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get(key) != wanted or "ms" not in ev:
            continue
        ts = ev.get("timestamp") or ev.get("ts") or ""
        try:
            if ts and datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp() < since:
                continue
        except ValueError:
            pass
        out.append(float(ev["ms"]))
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


# --- main ------------------------------------------------------------------------------

def _sigterm(*_):
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dossiers", type=int, default=1_000_000, help="dossiers loaded (default 1,000,000)")
    ap.add_argument("--with-log", action="store_true", help="load a genesis log entry per dossier too")
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--later-page", type=int, default=50, help="the keyset page measured besides the first")
    ap.add_argument("--tracking-sample", type=int, default=2000)
    ap.add_argument("--profile-submits", type=int, default=300,
                    help="submissions profiled in-process with cProfile after the rounds (0: none)")
    ap.add_argument("--no-durable", action="store_true", help="run PostgreSQL with fsync, synchronous_commit and full_page_writes off")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    ap.add_argument("--only", default="", help="comma-separated targets to measure (default: all), e.g. bare,submit")
    args = ap.parse_args()

    wrk = ensure_wrk()
    signal.signal(signal.SIGTERM, _sigterm)
    tmp = Path(tempfile.mkdtemp(prefix="motcua-bench-dossier-"))
    # TemporaryPostgres starts with durability off (fsync, synchronous_commit,
    # full_page_writes); later -c options win, so a production-like cluster turns it on.
    durable = {} if args.no_durable else {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    pg = TemporaryPostgres(settings={**PG_SETTINGS, **durable})
    system = None
    bare = BareServer(tmp)
    load_before = os.getloadavg()
    try:
        t0 = time.monotonic()
        print(f"starting PostgreSQL and the embedded system in {tmp} …", flush=True)
        pg.start()
        for name in SERVICES:
            pg.create_database(name)
        env = {f"MOTCUA_{name.upper()}_DATABASE_URL": pg.url(name) for name in SERVICES}
        system = EmbeddedSystem.on_free_ports(tmp / "var", extra_env=env)
        system.start()
        bare.start()
        dossier_dsn = plain(pg.url("dossier"))
        with httpx.Client(base_url=system.gateway_url, timeout=60) as client:
            citizen = login(client, CITIZEN)
            reception = login(client, RECEPTION)
            processing = login(client, PROCESSING)
        rc, pc = claims(reception), claims(processing)
        agency = rc["agency"]
        print(f"system up in {time.monotonic() - t0:.1f} s; big agency {agency} (Phường Sài Gòn); "
              f"{RECEPTION}={rc['account_id']} {PROCESSING}={pc['account_id']}", flush=True)

        print(f"loading {args.dossiers:,} dossiers into the dossier database …", flush=True)
        report = asyncio.run(generate(pg.url("dossier"), args.dossiers, with_log=args.with_log, big_agency=agency,
                                      officials=[pc["account_id"]], migrate=True,
                                      progress=lambda s: print(s, flush=True)))
        print(describe(report), flush=True)
        settings = asyncio.run(pg_settings(dossier_dsn))
        pairs = asyncio.run(sample_tracking(dossier_dsn, args.tracking_sample))

        # The endpoints: a submission that must succeed, the queue pages, the later page's token.
        body = json.dumps({"procedure_code": PROCEDURE, "agency_code": agency, "form_data": {}})
        with httpx.Client(base_url=system.gateway_url, timeout=60) as client:
            r = client.post("/api/v1/dossiers", content=body,
                            headers={"Authorization": f"Bearer {citizen}", "Content-Type": "application/json",
                                     "Idempotency-Key": f"probe-{uuid.uuid4().hex}"})
            if r.status_code != 201:
                raise RuntimeError(f"probe submission failed: {r.status_code} {r.text[:500]}")
            print(f"probe submission: {r.json()['code']}", flush=True)
            auth = {"Authorization": f"Bearer {reception}"}
            first = client.get("/api/v1/work/dossiers", params={"page_size": PAGE}, headers=auth).json()
            overdue = client.get("/api/v1/work/dossiers", params={"page_size": PAGE, "overdue": "true"},
                                 headers=auth).json()
            token, page_no = "", 1
            page = first
            while page_no < args.later_page and page.get("next_page_token"):
                token = page["next_page_token"]
                page = client.get("/api/v1/work/dossiers", params={"page_size": PAGE, "page_token": token},
                                  headers=auth).json()
                page_no += 1
            mine = client.get("/api/v1/work/dossiers", params={"page_size": PAGE, "assigned_to_me": "true"},
                              headers={"Authorization": f"Bearer {processing}"}).json()
        print(f"queue of {agency}: {first['total']:,} open dossiers; overdue {overdue['total']:,}; "
              f"later page = page {page_no} (after {(page_no - 1) * PAGE:,}); assigned to {PROCESSING}: "
              f"{mine['total']:,}", flush=True)
        queue_paths = {
            "queue_first": ("reception", f"/api/v1/work/dossiers?page_size={PAGE}"),
            "queue_overdue": ("reception", f"/api/v1/work/dossiers?page_size={PAGE}&overdue=true"),
            "queue_later": ("reception", f"/api/v1/work/dossiers?page_size={PAGE}&page_token={token}"),
            "queue_mine": ("processing", f"/api/v1/work/dossiers?page_size={PAGE}&assigned_to_me=true"),
        }

        # The exact SQL of each queue variant, and its plans.
        variants = {
            "queue_first": dict(account_id=rc["account_id"], roles=("reception",), token=""),
            "queue_overdue": dict(account_id=rc["account_id"], roles=("reception",), token="", overdue_only=True),
            "queue_later": dict(account_id=rc["account_id"], roles=("reception",), token=token),
            "queue_mine": dict(account_id=pc["account_id"], roles=("processing",), token="", assigned_to_me=True),
        }
        plans = {}
        for name, kw in variants.items():
            acc, roles = kw.pop("account_id"), kw.pop("roles")
            statements, n, total, _ = asyncio.run(capture_queue_sql(pg.url("dossier"), agency, acc, roles, **kw))
            plans[name] = [(sql, params, asyncio.run(explain(dossier_dsn, sql, params))) for sql, params in statements]

        # wrk scripts.
        tracking_lua = tmp / "tracking.lua"
        tracking_lua.write_text(TRACKING_LUA % ",\n".join(
            "  " + _lua_str(f"/api/v1/tracking/{code}?secret={secret}") for code, secret in pairs))
        submit_lua = tmp / "submit.lua"
        scripts = {name: tmp / f"{name}.lua" for name in queue_paths}

        def refresh_scripts():
            with httpx.Client(base_url=system.gateway_url, timeout=60) as client:
                tokens = {"citizen": login(client, CITIZEN), "reception": login(client, RECEPTION),
                          "processing": login(client, PROCESSING)}
            submit_lua.write_text(SUBMIT_LUA % (_lua_str(tokens["citizen"]), _lua_str(body)))
            for name, (who, path) in queue_paths.items():
                scripts[name].write_text(GET_LUA % (_lua_str(tokens[who]), _lua_str(path)))

        targets = {
            "bare": (f"{bare.url}/ping", None),
            "submit": (f"{system.gateway_url}/api/v1/dossiers", submit_lua),
            "tracking": (f"{system.gateway_url}/api/v1/tracking", tracking_lua),
            **{name: (f"{system.gateway_url}/api/v1/work/dossiers", scripts[name]) for name in queue_paths},
        }
        if args.only:
            wanted = {name.strip() for name in args.only.split(",") if name.strip()}
            if wanted - set(targets):
                raise SystemExit(f"--only: unknown targets {sorted(wanted - set(targets))}; known: {sorted(targets)}")
            targets = {name: target for name, target in targets.items() if name in wanted}
        labels = {"bare": "bare FastAPI GET /ping", "submit": "POST /api/v1/dossiers (submit)",
                  "tracking": "GET /api/v1/tracking/{code}", "queue_first": "queue: first page",
                  "queue_overdue": "queue: overdue only", "queue_later": f"queue: page {page_no} (keyset)",
                  "queue_mine": "queue: assigned to me"}
        common = dict(connections=args.connections, threads=args.threads)
        run_id = uuid.uuid4().hex[:8]
        refresh_scripts()
        if args.warmup > 0:
            print(f"warm-up: {args.warmup:g} s per target", flush=True)
            for name, (url, script) in targets.items():
                run_wrk(wrk, url, duration=args.warmup, script=script,
                        script_args=[f"warm-{run_id}"] if name == "submit" else [], **common)

        groups = {**{n: p for n, p in system.pids().items()}, "postgres": pg._proc.pid}
        meter = CpuMeter(groups)
        cpu = {name: collections.Counter() for name in targets}
        requests = collections.Counter()
        submit_since = time.time()
        results: dict[str, list[WrkResult]] = {name: [] for name in targets}
        for rnd in range(1, args.rounds + 1):
            refresh_scripts()  # access tokens live 15 minutes
            for name, (url, script) in targets.items():
                before = meter.snapshot()
                r = run_wrk(wrk, url, duration=args.duration, script=script,
                            script_args=[f"{run_id}-r{rnd}"] if name == "submit" else [], **common)
                after = meter.snapshot()
                cpu[name].update({k: after[k] - before[k] for k in after})
                requests[name] += r.requests
                results[name].append(r)
                print(f"round {rnd}/{args.rounds} {name:13} {r.rps:9,.0f} req/s  p50 {r.p50_ms:7.2f} ms  "
                      f"p99 {r.p99_ms:7.2f} ms  requests {r.requests}  non-2xx {r.non_2xx}  "
                      f"socket errors {r.socket_errors}", flush=True)
        load_after = os.getloadavg()
        profiled = None
        if args.profile_submits > 0:
            profiled = asyncio.run(profile_submits(pg.url("dossier"), system.addr("catalogue"), claims(citizen),
                                                   agency, args.profile_submits))

        # --- report ---------------------------------------------------------------------
        print()
        print("\n".join(machine_info(wrk)))
        print(f"load:    {load_before[0]:.2f} before, {load_after[0]:.2f} after (1-minute load average; "
              f"other work on the machine shares the 2 cores)")
        print(f"wrk:     -t{args.threads} -c{args.connections} -d{max(1, round(args.duration))}s --latency, "
              f"{args.rounds} interleaved rounds; medians of the rounds; {args.warmup:g} s warm-up per target")
        print("postgres: " + ", ".join(f"{k}={v}" for k, v in settings))
        print(describe(report))
        print(f"queue of {agency}: {first['total']:,} open, {overdue['total']:,} overdue, "
              f"{mine['total']:,} assigned to {PROCESSING}; later page = page {page_no}")
        print()
        print(table(results, labels))

        print("\nCPU seconds per 1,000 requests, by process (summed over the rounds):")
        procs = list(groups)
        header = ["target", *procs]
        rows = [header]
        for name in targets:
            n = max(requests[name], 1)
            rows.append([labels[name], *(f"{cpu[name][p] / n * 1000:.2f}" for p in procs)])
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for k, row in enumerate(rows):
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
            if k == 0:
                print("  ".join("-" * w for w in widths))

        print("\nLatency at each hop, from the logs (all measured rounds and warm-ups, ms):")
        hops = [("gateway http POST /api/v1/dossiers", system.var_dir / "log" / "gateway.log", "route",
                 "/api/v1/dossiers"),
                ("dossier rpc SubmitDossier", system.var_dir / "log" / "dossier.log", "method",
                 "/motcua.v1.DossierService/SubmitDossier"),
                ("gateway http GET /api/v1/work/dossiers", system.var_dir / "log" / "gateway.log", "route",
                 "/api/v1/work/dossiers"),
                ("dossier rpc ListWorkQueue", system.var_dir / "log" / "dossier.log", "method",
                 "/motcua.v1.DossierService/ListWorkQueue"),
                ("dossier rpc TrackDossier", system.var_dir / "log" / "dossier.log", "method",
                 "/motcua.v1.DossierService/TrackDossier")]
        for label, path, key, wanted in hops:
            ms = log_latencies(path, key, wanted, submit_since - 60)
            print(f"  {label:42} n={len(ms):7}  p50 {pct(ms, 0.5):8.2f}  p90 {pct(ms, 0.9):8.2f}  "
                  f"p99 {pct(ms, 0.99):8.2f}")

        if profiled is not None:
            per, top = profiled
            print(f"\nThe dossier service's submit use case alone (in this process, under cProfile, "
                  f"{args.profile_submits} sequential submissions): {per:.2f} ms each")
            print(top)

        print("\nThe work queue's SQL as services.dossier.app.queries.work_queue sends it, with its plans:")
        for name, stmts in plans.items():
            for sql, params, out in stmts:
                print(f"\n### {labels[name]}: at the database alone (asyncpg prepared statement, 30 runs): "
                      f"p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms, max {out['max_ms']:.2f} ms")
                print(sql.strip())
                print(f"-- parameters: {params}")
                print("-- custom plan (values known):")
                print(out["force_custom_plan"])
                print("-- generic plan (prepared statement after five runs, if cheaper on estimate):")
                print(out["force_generic_plan"])

        bad = [labels[n] for n, rs in results.items() if any(r.non_2xx or r.socket_errors for r in rs)]
        if bad:
            statuses = gateway_error_statuses(system.var_dir / "log" / "gateway.log")
            print(f"\nWARNING: non-2xx responses or socket errors in: {', '.join(bad)}; gateway log: "
                  f"{', '.join(f'{route} {status} x{n}' for (route, status), n in statuses.items()) or '-'}"
                  f" (logs kept in {tmp})")
            args.keep = True
        return 1 if bad else 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        bare.stop()
        if system is not None:
            system.stop()
        pg.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
