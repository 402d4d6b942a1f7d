"""Catalogue search latency over 2,000 procedures (run by hand; not a pytest test).

    .venv/bin/python tests/perf/bench_search.py [--procedures 2000] [--calls 3000] [--duration 10]

Builds a temporary catalogue database: the 43 real procedures (seed) plus generated ones
up to ``--procedures``. The generated procedures are clearly marked: codes 99.NNNNNN (no
real procedure has them), source "generated for the search benchmark", demo_fields
["generated"]; their names, sectors and levels come from the real index
(/work/shared/data/procedure-index.json, or services/catalogue/seed/ when present) so the
vocabulary is realistic. Nothing is written outside the temporary folder.

Then it measures, with a mix of citizen queries (accented, unaccented, typos, filters,
empty query, second pages):
  index     SearchIndex.search in process (the service's own work)
  grpc      SearchProcedures through a real gRPC server and client, in one process
  gateway   GET /api/v1/procedures through the embedded system with wrk
and prints p50/p99 for each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO, REPO / "gen"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from sqlalchemy import select  # noqa: E402

from motcua.v1 import catalogue_pb2, catalogue_pb2_grpc, common_pb2  # noqa: E402
from services.catalogue.api.servicer import CatalogueServicer  # noqa: E402
from services.catalogue.app.admin import apply_content  # noqa: E402
from services.catalogue.app.index import LiveIndex  # noqa: E402
from services.catalogue.app.seed import seed_if_empty  # noqa: E402
from services.catalogue.domain import demo  # noqa: E402
from services.catalogue.domain.model import normalise  # noqa: E402
from services.catalogue.store.models import Procedure  # noqa: E402
from services.platform.db import make_engine, session_factory, upgrade_to_head  # noqa: E402
from services.platform.embedded import EmbeddedSystem, free_port  # noqa: E402
from services.platform.grpc_client import make_channel  # noqa: E402
from services.platform.grpc_server import ServiceServer  # noqa: E402
from services.platform.logging import configure_logging  # noqa: E402
from services.platform.migrate import migrations_dir  # noqa: E402
from tests.perf.bench_gateway import ensure_wrk, run_wrk  # noqa: E402

INDEX_FILES = (Path("/work/shared/data/procedure-index.json"), REPO / "services/catalogue/seed/procedure-index.json")
MIGRATIONS = migrations_dir("catalogue")
LEVELS = {"Cấp xã": "commune", "Cấp tỉnh": "province", "Cấp bộ": "ministry"}
GENERATED_SOURCE = "generated for the search benchmark (tests/perf/bench_search.py); not a real procedure"

QUERIES = [
    {"q": "dang ky khai sinh"}, {"q": "Đăng ký kết hôn"}, {"q": "ket hong"}, {"q": "dang ky khai sinhh"},
    {"q": "giấy phép lái xe"}, {"q": "ho kinh doanh"}, {"q": "dat dai"}, {"q": "cap lai"},
    {"q": "xây dựng"}, {"q": "thu tuc"}, {"q": ""}, {"q": "chung thuc ban sao"}, {"q": "can cuoc"},
    {"q": "dang ky", "level": "commune"}, {"q": "cap", "level": "province", "page_token": "20"},
    {"q": "", "sector": "Hộ tịch"}, {"q": "doanh nghiep", "online": "full"}, {"q": "1.001193"},
    {"q": "bảo hiểm xã hội"}, {"q": "giay phep lao dong nguoi nuoc ngoai"}, {"q": "tam tru"},
    {"q": "phong chay chua chay"}, {"q": "moi truong"}, {"q": "xuat nhap canh"},
]


def index_records() -> list[dict]:
    for path in INDEX_FILES:
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
    sys.exit("procedure-index.json not found")


def generated(n: int) -> list[dict]:
    records = index_records()
    rng = random.Random(7)
    out = []
    for i in range(n):
        base = records[i % len(records)]
        level = next((v for k, v in LEVELS.items() if k in (base.get("level") or "")), "province")
        name = base["name"].rstrip(".")
        if i >= len(records):
            name = f"{name} (biến thể {i // len(records) + 1})"
        out.append({
            "code": f"99.{i:06d}", "name": name, "sector": base.get("sector") or "", "level": level,
            "online": rng.choice(["full", "partial", "none"]), "channels": ["Trực tiếp", "Trực tuyến"],
            "processing_time": {"value": rng.choice([1, 3, 5, 10, 15]), "unit": "working_day"},
            "documents": [{"name": "Tờ khai", "kind": "original"}], "workflow": demo.workflow(24),
            "result": "Kết quả giải quyết thủ tục", "sources": [GENERATED_SOURCE], "demo_fields": ["generated"],
        })
    return out


async def build_database(url: str, total: int) -> int:
    engine = make_engine(url)
    sessions = session_factory(engine)
    async with sessions() as s:
        await seed_if_empty(s)
    async with sessions() as s:
        published = len(list(await s.scalars(select(Procedure.code).where(Procedure.status == "published"))))
    extra = generated(max(0, total - published))
    moment = datetime.now(UTC)
    async with sessions() as s, s.begin():
        for record in extra:
            row = Procedure(code=record["code"], version=1, status="published", created_at=moment,
                            updated_at=moment, updated_by="bench")
            apply_content(row, normalise(record))
            s.add(row)
    await engine.dispose()
    return published + len(extra)


def percentiles(samples_ms: list[float]) -> str:
    samples = sorted(samples_ms)
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return f"p50 {p(0.50):7.3f} ms   p99 {p(0.99):7.3f} ms   max {samples[-1]:7.3f} ms   (n={len(samples)})"


def request_for(query: dict, page_size: int = 20) -> catalogue_pb2.SearchProceduresRequest:
    return catalogue_pb2.SearchProceduresRequest(
        query=query.get("q", ""), level=query.get("level", ""), sector=query.get("sector", ""),
        online_mode=query.get("online", ""),
        page=common_pb2.PageRequest(page_size=page_size, page_token=query.get("page_token", "")))


async def bench_service(url: str, calls: int) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    live = LiveIndex(sessions)
    started = time.perf_counter()
    await live.refresh()
    print(f"index built over {len(live.index)} procedures in {(time.perf_counter() - started) * 1000:.0f} ms")
    # The index alone (a fresh index, so the first call of each word pays its typo lookup).
    samples = []
    for i in range(calls):
        q = QUERIES[i % len(QUERIES)]
        t0 = time.perf_counter()
        live.index.search(q.get("q", ""), level=q.get("level", ""), sector=q.get("sector", ""),
                          online_mode=q.get("online", ""), offset=int(q.get("page_token") or 0), limit=20)
        samples.append((time.perf_counter() - t0) * 1000)
    print(f"index    {percentiles(samples)}")
    # Unseen words each time (no cache): the worst case for typo matching.
    rng = random.Random(3)
    words = [e.name.split()[rng.randrange(len(e.name.split()))] for e in live.index.entries[:500]]
    samples = []
    for i in range(min(calls, 500)):
        word = words[i] + "x"  # a typo'd word the cache has not seen
        t0 = time.perf_counter()
        live.index.search(f"dang ky {word}", limit=20)
        samples.append((time.perf_counter() - t0) * 1000)
    print(f"index, uncached typo word   {percentiles(samples)}")

    port = free_port()
    server = ServiceServer(name="catalogue", addr=f"127.0.0.1:{port}", secret="bench-secret")
    servicer = CatalogueServicer(sessions, live)
    handler_ms: list[float] = []
    inner = servicer.SearchProcedures

    async def timed(request, context):  # the service's own time for the call, measured in process
        t0 = time.perf_counter()
        try:
            return await inner(request, context)
        finally:
            handler_ms.append((time.perf_counter() - t0) * 1000)

    servicer.SearchProcedures = timed
    catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server(servicer, server.server)
    await server.start()
    channel = make_channel(f"127.0.0.1:{port}")
    stub = catalogue_pb2_grpc.CatalogueServiceStub(channel)
    try:
        for q in QUERIES:  # warm up
            await stub.SearchProcedures(request_for(q))
        samples = []
        handler_ms.clear()
        for i in range(calls):
            t0 = time.perf_counter()
            await stub.SearchProcedures(request_for(QUERIES[i % len(QUERIES)]))
            samples.append((time.perf_counter() - t0) * 1000)
        print(f"grpc handler (in the service)   {percentiles(handler_ms)}")
        print(f"grpc round trip (client+server in one process)   {percentiles(samples)}")
    finally:
        await channel.close()
        await server.stop(0.5)
        await engine.dispose()


LUA = """\
local paths = {
%s
}
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def bench_gateway(var: Path, args) -> None:
    wrk = ensure_wrk()
    system = EmbeddedSystem.on_free_ports(var)
    print("starting the embedded system on the prepared catalogue …", flush=True)
    system.start()
    try:
        paths = [f"/api/v1/procedures?{urlencode({k if k != 'page_token' else 'page_token': v for k, v in q.items()})}"
                 for q in QUERIES]
        script = var / "search.lua"
        script.write_text(LUA % ",\n".join(f'  "{p}"' for p in paths))
        run_wrk(wrk, system.gateway_url, duration=2, connections=args.connections, threads=args.threads,
                script=script)  # warm up
        result = run_wrk(wrk, system.gateway_url, duration=args.duration, connections=args.connections,
                         threads=args.threads, script=script)
        print(f"gateway  p50 {result.p50_ms:7.3f} ms   p99 {result.p99_ms:7.3f} ms   {result.rps:8.0f} req/s   "
              f"(wrk -c{args.connections} -t{args.threads}, {result.requests} requests, "
              f"non-2xx {result.non_2xx}, socket errors {result.socket_errors})")
        single = run_wrk(wrk, system.gateway_url, duration=args.duration, connections=1, threads=1, script=script)
        print(f"gateway, one connection  p50 {single.p50_ms:7.3f} ms   p99 {single.p99_ms:7.3f} ms   "
              f"{single.rps:8.0f} req/s   (non-2xx {single.non_2xx})")
    finally:
        system.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procedures", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-gateway", action="store_true")
    args = parser.parse_args()
    configure_logging("bench", "WARNING")  # as the service logs in production: JSON, one line per call
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        var = Path(tmp) / "var"
        var.mkdir()
        url = f"sqlite+aiosqlite:///{var / 'catalogue.db'}"
        upgrade_to_head(MIGRATIONS, url)
        total = asyncio.run(build_database(url, args.procedures))
        print(f"catalogue: {total} published procedures (42 real published seed records, the rest generated and marked)")
        asyncio.run(bench_service(url, args.calls))
        if not args.no_gateway:
            bench_gateway(var, args)


if __name__ == "__main__":
    main()
