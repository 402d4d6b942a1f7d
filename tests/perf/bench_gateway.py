"""Gateway throughput benchmark with wrk (run by hand; not a pytest test).

    .venv/bin/python tests/perf/bench_gateway.py [--duration 10] [--connections 32] [--threads 2] [--rounds 3]

Starts the embedded system on free ports in a temporary folder, logs in the demo citizen,
submits ~100 dossiers, and starts a bare FastAPI app under uvicorn with the gateway's
settings as a baseline. Then wrk measures, in interleaved rounds:

  bare      GET  /ping                      (bare FastAPI, one small JSON)
  tracking  GET  /api/v1/tracking/{code}?secret=...   (rotates through the known dossiers)
  submit    POST /api/v1/dossiers           (bearer token, unique Idempotency-Key per request;
                                             a commune procedure with no e-form and no
                                             mandatory document: see PROCEDURE)

and prints medians of req/s, p50, p99, non-2xx responses and socket errors, with each
endpoint's req/s as a ratio of the bare endpoint's. wrk runs on the same machine as the
gateway and the services, so the numbers are for comparison, not capacity.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import platform
import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "gen") not in sys.path:
    sys.path.insert(1, str(REPO / "gen"))

import httpx  # noqa: E402

from services.platform.embedded import EmbeddedSystem, free_port, http_ok, wait_until  # noqa: E402

CITIZEN = "079090001234"
PASSWORD = "MotCua@2026"
COMMUNE = "Phường Sài Gòn"
# The submit scenario files Cấp Giấy xác nhận tình trạng hôn nhân (1.004873): a published
# commune procedure that real applicants file online with no e-form and no mandatory
# document, so each request is one whole, valid submission. (1.001193, birth
# registration, needs its e-form and the uploaded birth certificate, d4: an upload is its
# own request, measured apart, and a document attaches to one dossier only.)
PROCEDURE = "1.004873"


# --- wrk -------------------------------------------------------------------------------

def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk not found: install it with `sudo apt-get install wrk` (Debian package wrk)")
    print("wrk not found: installing Debian's wrk package (apt-get update && apt-get install wrk)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    policy = subprocess.run(["apt-cache", "policy", "wrk"], capture_output=True, text=True)
    candidate = re.search(r"Candidate:\s*(\S+)", policy.stdout)
    if policy.returncode != 0 or not candidate or candidate.group(1) == "(none)":
        sys.exit(f"apt has no candidate for wrk:\n{policy.stdout}{policy.stderr}")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        sys.exit("apt-get installed wrk but it is not on PATH")
    return found


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unparsable latency {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(out: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and total):
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(rps=float(rps.group(1)), p50_ms=_ms(p50.group(1)), p99_ms=_ms(p99.group(1)),
                     requests=int(total.group(1)), non_2xx=int(non2xx.group(1)) if non2xx else 0,
                     socket_errors=sum(int(g) for g in sock.groups()) if sock else 0)


def run_wrk(wrk: str, url: str, *, duration: float, connections: int, threads: int,
            script: Path | None = None, script_args: list[str] = ()) -> WrkResult:
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
            "--latency"]
    if script:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return parse_wrk(proc.stdout)


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


TRACKING_LUA = """\
-- Rotates through known (code, secret) pairs; each thread starts at a different offset.
local paths = {
%s
}
local i = 0
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads * 17)
end
function request()
  i = i + 1
  return wrk.format("GET", paths[((i + (offset or 0)) %% #paths) + 1])
end
"""

SUBMIT_LUA = """\
-- POST /api/v1/dossiers with the bearer token and a unique Idempotency-Key per request:
-- "<run prefix from args>-<thread id>-<counter>".
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
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. %s
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  wrk.body = %s
  return wrk.format(wrk.method, "/api/v1/dossiers", wrk.headers, wrk.body)
end
"""


# --- the system under test -------------------------------------------------------------

def login(client: httpx.Client, timeout: float = 60.0) -> str:
    """Demo accounts are loaded by identity in the background: retry until the login works."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.post("/api/v1/auth/token", json={"username": CITIZEN, "password": PASSWORD})
        if r.status_code == 200:
            return r.json()["access_token"]
        if time.monotonic() > deadline:
            raise RuntimeError(f"demo citizen login failed: {r.status_code} {r.text[:300]}")
        time.sleep(0.5)


def commune_code(client: httpx.Client, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get("/api/v1/agencies", params={"kind": "commune"})
        r.raise_for_status()
        for agency in r.json()["items"]:
            if agency.get("name") == COMMUNE:
                return agency["code"]
        if time.monotonic() > deadline:
            raise RuntimeError(f"agency {COMMUNE!r} not found among communes")
        time.sleep(0.5)


def plain_procedure(client: httpx.Client, preferred: str = PROCEDURE) -> str:
    """``preferred`` if it is a published commune procedure filed online without e-form or
    mandatory document (else the first such one): a submission of it needs no upload."""

    def plain(p: dict) -> bool:
        return (p.get("eform_schema") is None and not any(d.get("mandatory") for d in p.get("documents", []))
                and not p.get("agency_code") and p.get("status") == "published")

    r = client.get(f"/api/v1/procedures/{preferred}")
    if r.status_code == 200 and plain(r.json()):
        return preferred
    items = client.get("/api/v1/procedures", params={"level": "commune", "page_size": 100}).json()["items"]
    for item in items:
        if plain(client.get(f"/api/v1/procedures/{item['code']}").json()):
            return item["code"]
    raise RuntimeError("no plain commune procedure found")


def submit_dossiers(client: httpx.Client, token: str, agency: str, n: int,
                    procedure: str = PROCEDURE) -> list[tuple[str, str]]:
    pairs = []
    for i in range(n):
        r = client.post("/api/v1/dossiers", json={"procedure_code": procedure, "agency_code": agency,
                                                  "form_data": {}},
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"seed-{i}"})
        if r.status_code != 201:
            raise RuntimeError(f"seeding dossier {i} failed: {r.status_code} {r.text[:300]}")
        body = r.json()
        pairs.append((body["code"], body["tracking_secret"]))
    return pairs


class BareServer:
    def __init__(self, var_dir: Path):
        self.port = free_port()
        self.var_dir = var_dir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "gen")])}
        log = open(self.var_dir / "bare.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.perf.bare_app", str(self.port)], cwd=REPO,
                                     env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        def alive():
            if self.proc.poll() is not None:
                raise RuntimeError(f"bare app exited: {(self.var_dir / 'bare.log').read_text()[-2000:]}")

        wait_until(lambda: http_ok(f"{self.url}/ping"), alive=alive, timeout=30, what="bare app")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- report ----------------------------------------------------------------------------

def machine_info(wrk: str) -> list[str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.splitlines()
    return [
        f"date:    {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: nproc={len(os.sched_getaffinity(0))} {cpu} · {platform.platform()}",
        f"python:  {platform.python_implementation()} {platform.python_version()}",
        f"wrk:     {wrk_version[0] if wrk_version else '?'} — runs on the same machine, sharing the CPUs "
        f"with the gateway and the services",
    ]


def table(results: dict[str, list[WrkResult]], labels: dict[str, str]) -> str:
    def med(name, attr):
        return statistics.median(getattr(r, attr) for r in results[name])

    bare_rps = med("bare", "rps")
    rows = [("target", "req/s", "p50 ms", "p99 ms", "non-2xx/requests", "sock err", "vs bare")]
    for name, rs in results.items():
        rps = med(name, "rps")
        rows.append((labels[name], f"{rps:,.0f}", f"{med(name, 'p50_ms'):.2f}", f"{med(name, 'p99_ms'):.2f}",
                     f"{sum(r.non_2xx for r in rs)}/{sum(r.requests for r in rs)}",
                     f"{sum(r.socket_errors for r in rs)}", f"{rps / bare_rps:.3f}" if bare_rps else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def gateway_error_statuses(log: Path) -> dict[tuple[str, int], int]:
    """Counts the gateway's logged responses of status >= 400 by route and status."""
    counts: collections.Counter = collections.Counter()
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "http" and int(event.get("status", 0)) >= 400:
            counts[(event.get("route", "?"), int(event["status"]))] += 1
    return dict(counts)


# --- main ------------------------------------------------------------------------------

def _sigterm(*_):
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target (default 3)")
    ap.add_argument("--dossiers", type=int, default=100, help="dossiers submitted for tracking (default 100)")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured wrk per target first")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    args = ap.parse_args()

    wrk = ensure_wrk()
    signal.signal(signal.SIGTERM, _sigterm)
    tmp = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    system = EmbeddedSystem.on_free_ports(tmp / "var")
    bare = BareServer(tmp)
    try:
        t0 = time.monotonic()
        print(f"starting the embedded system in {tmp} …", flush=True)
        system.start()
        bare.start()
        with httpx.Client(base_url=system.gateway_url, timeout=30) as client:
            token = login(client)
            agency = commune_code(client)
            procedure = plain_procedure(client)
            pairs = submit_dossiers(client, token, agency, args.dossiers, procedure)
        print(f"ready in {time.monotonic() - t0:.1f} s: {len(pairs)} dossiers at {agency}; "
              f"pids {system.pids() | {'bare': bare.proc.pid}}", flush=True)

        tracking_lua = tmp / "tracking.lua"
        tracking_lua.write_text(TRACKING_LUA % ",\n".join(
            "  " + _lua_str(f"/api/v1/tracking/{code}?secret={secret}") for code, secret in pairs))
        body = '{"procedure_code": "%s", "agency_code": "%s", "form_data": {}}' % (procedure, agency)
        submit_lua = tmp / "submit.lua"

        run_id = uuid.uuid4().hex[:8]
        targets = {
            "bare": (f"{bare.url}/ping", None),
            "tracking": (f"{system.gateway_url}/api/v1/tracking", tracking_lua),
            "submit": (f"{system.gateway_url}/api/v1/dossiers", submit_lua),
        }
        labels = {"bare": "bare FastAPI GET /ping", "tracking": "GET /api/v1/tracking/{code}",
                  "submit": "POST /api/v1/dossiers"}
        common = dict(connections=args.connections, threads=args.threads)

        def refresh_submit_script():
            # A fresh token each time (access tokens live 15 minutes).
            with httpx.Client(base_url=system.gateway_url, timeout=30) as client:
                submit_lua.write_text(SUBMIT_LUA % (_lua_str(login(client)), _lua_str(body)))

        refresh_submit_script()
        if args.warmup > 0:
            print(f"warm-up: {args.warmup:g} s per target", flush=True)
            for name, (url, script) in targets.items():
                run_wrk(wrk, url, duration=args.warmup, script=script,
                        script_args=[f"warm-{run_id}"] if name == "submit" else [], **common)

        results: dict[str, list[WrkResult]] = {name: [] for name in targets}
        for rnd in range(1, args.rounds + 1):
            for name, (url, script) in targets.items():
                if name == "submit":
                    refresh_submit_script()
                r = run_wrk(wrk, url, duration=args.duration, script=script,
                            script_args=[f"{run_id}-r{rnd}"] if name == "submit" else [], **common)
                results[name].append(r)
                print(f"round {rnd}/{args.rounds} {name:9} {r.rps:10,.0f} req/s  p50 {r.p50_ms:7.2f} ms  "
                      f"p99 {r.p99_ms:7.2f} ms  requests {r.requests}  non-2xx {r.non_2xx}  "
                      f"socket errors {r.socket_errors}", flush=True)

        print()
        print("\n".join(machine_info(wrk)))
        print(f"wrk:     -t{args.threads} -c{args.connections} -d{max(1, round(args.duration))}s --latency, "
              f"{args.rounds} interleaved rounds; req/s, p50, p99 are medians of the rounds, "
              f"non-2xx and socket errors are totals; {args.warmup:g} s warm-up per target")
        print()
        print(table(results, labels))
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
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the cleanup finish
        bare.stop()
        system.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
