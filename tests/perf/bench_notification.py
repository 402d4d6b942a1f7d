"""Report: latency from a dossier transition to the in-app notice being readable, at a
steady rate (goal at 100 transitions/s: p50 <= 20 ms, p99 <= 100 ms).

    .venv/bin/python tests/perf/bench_notification.py [--path gateway|events] [--rate 100]
        [--seconds 20] [--warmup 3] [--profile FILE] [--keep]

Two paths; the report names the one it measured.

``--path gateway`` (default): the whole way a transition goes. Starts the embedded system
as `make run` does (NATS, the four services on SQLite in a temporary folder, the gateway,
the demo data) and signs in once as the demo citizen and once as the demo commune's
reception official, tiepnhan.saigon (failed sign-ins are throttled per address; the tokens
outlive the run). The citizen submits rate x (seconds + warmup) dossiers through
POST /api/v1/dossiers, 16 at a time, to a commune procedure with no e-form and no mandatory
document (chosen as bench_gateway.py does); the script waits until their submission notices
are in the inbox. Then the official accepts them through
POST /api/v1/work/dossiers/{code}/actions/accept (the submitted version as
``expected_version``, a unique Idempotency-Key), open loop: request n is sent at
start + n / rate whatever became of the earlier ones, over HTTP/1.1 keep-alive (aiohttp).

The latency of one transition is the ``created_at`` of the applicant's ``dossier.accepted``
inbox row for that dossier (``subject`` = the dossier code) minus the wall-clock time taken
just before its request was sent. It covers the HTTP round trip, the gateway, the dossier
service's transaction, its outbox relay, NATS JetStream and the notification consumer's
transaction. ``created_at`` is stamped inside that transaction, before it commits, so a
thread also polls the notification database every 10 ms and the report adds when each row
was first readable (late by up to the poll interval). Failed accepts are counted by status,
never dropped. Where the time goes, per dossier: its ``accepted_at`` in the dossier database
and when JetStream stored its event (read back from the stream afterwards) split the path
into the accept, the commit and outbox relay, and the notification consumer. For context:
the accept's own HTTP latency and each hop's as its log has it, how late the client sent
(it shares the CPUs too), and every process's CPU per transition.
The demo citizen has a confirmed email, so each notice also makes an email delivery, which
the notification worker sends to the development sink at its rate limit (20/s) throughout,
and whose notification.delivery.updated the dossier service writes into the dossier's log.

``--path events``: the notification service alone. Starts NATS and the notification service
(SQLite, in a temporary folder) and publishes DossierStatusChanged events straight to
JetStream at the given rate, as the dossier service's outbox relay would (same subject,
envelope and Nats-Msg-Id), each stamped with ``occurred_at`` = the moment it is published.
The latency of one transition is the stored ``created_at`` of its inbox row minus that
``occurred_at``. Applicants are spread over 200 accounts with email on (the email deliveries
are created in the same transaction, and written to the development sink by the worker
meanwhile). It leaves out the HTTP request, the gateway, the dossier service and its relay.

On both paths the times come from this machine's clock and the first ``--warmup`` seconds
are left out (on the gateway path they come on top of ``--seconds``; on the events path, as
before, out of them). The report gives the CPU time (user + system) the notification process
spent while the transitions were made and handled, per transition. ``--profile FILE`` has
the notification service write a cProfile of its event loop there
(``MOTCUA_NOTIFICATION_PROFILE``) when it stops; ``--keep`` keeps the gateway path's
temporary folder (logs, databases), as does a failed accept or a missing notice.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "gen")]

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import nats  # noqa: E402

from motcua.v1 import events_pb2  # noqa: E402
from services.platform.embedded import EmbeddedSystem  # noqa: E402
from services.platform.events import make_envelope  # noqa: E402
from tests.perf.bench_dossier import log_latencies  # noqa: E402
from tests.perf.bench_gateway import (  # noqa: E402
    CITIZEN,
    PASSWORD,
    commune_code,
    gateway_error_statuses,
    plain_procedure,
)

ACTIONS = ("dossier.accepted", "dossier.supplement_requested", "dossier.result_ready", "dossier.returned")
RECEPTION = "tiepnhan.saigon"
SUBMITTERS = 16  # submissions in flight while preparing
GOAL = "(goal at 100/s: p50 <= 20, p99 <= 100)"


def created_at(text: str) -> float:
    """A stored ``created_at`` (naive UTC) as a POSIX timestamp."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_latency(label: str, latencies: list[float], goal: str = "") -> None:
    if len(latencies) < 2:
        print(f"{label}: too few samples ({len(latencies)})")
        return
    latencies = sorted(latencies)
    q = statistics.quantiles(latencies, n=100)
    print(f"{label}  p50 {q[49]:.1f}  p90 {q[89]:.1f}  p99 {q[98]:.1f}  max {latencies[-1]:.1f}"
          + (f"   {goal}" if goal else ""))


# --- path "events": DossierStatusChanged straight to JetStream ---------------------------

def envelope(n: int, applicants: list[str]) -> events_pb2.EventEnvelope:
    code = f"000.00.01.H29-261203-{n:06d}"
    event = events_pb2.DossierStatusChanged(
        dossier_code=code, applicant_id=applicants[n % len(applicants)], procedure_code="1.001193",
        procedure_name="Đăng ký khai sinh", agency_code="000.00.01.H29", status="Đang xử lý",
        receipt_number=code, reason="Thiếu giấy chứng sinh")
    event.due_at.FromDatetime(datetime(2026, 12, 10, 3, tzinfo=UTC))
    return make_envelope(event_type=ACTIONS[n % len(ACTIONS)], producer="dossier", subject=code, payload=event)


async def drive(nats_url: str, rate: float, seconds: float) -> dict[str, float]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream(timeout=5)
    applicants = [str(uuid.uuid4()) for _ in range(200)]
    for account in applicants:  # contacts first, as identity's registrations would have come
        event = events_pb2.AccountChanged(account_id=account, kind="citizen", change="registered",
                                          email=f"{account[:8]}@example.vn", full_name="Nguyễn Văn An")
        env = make_envelope(event_type="identity.account.registered", producer="identity", subject=account,
                            payload=event)
        await js.publish(env.type, env.SerializeToString(), headers={"Nats-Msg-Id": env.event_id})
    await asyncio.sleep(2)
    sent: dict[str, float] = {}
    total = int(rate * seconds)
    start = time.monotonic()
    for n in range(total):
        target = start + n / rate
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        env = envelope(n, applicants)  # occurred_at = now
        sent[env.event_id] = env.occurred_at.ToDatetime(tzinfo=UTC).timestamp()
        await js.publish(env.type, env.SerializeToString(), headers={"Nats-Msg-Id": env.event_id})
    achieved = total / (time.monotonic() - start)
    print(f"published {total} transitions at {achieved:.1f}/s")
    await nc.close()
    return sent


def created_times(db: Path, event_ids: set[str], timeout: float = 60) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT event_id, created_at FROM notifications").fetchall()
        found = {eid: created_at(ts) for eid, ts in rows if eid in event_ids}
        if len(found) == len(event_ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def run_events(args: argparse.Namespace) -> int:
    print("path: events (DossierStatusChanged published straight to JetStream -> notification consumer -> "
          "inbox row; no HTTP, gateway, dossier service or outbox relay)", flush=True)
    with tempfile.TemporaryDirectory(prefix="motcua-notify-") as tmp:
        system = EmbeddedSystem.on_free_ports(Path(tmp))
        try:
            system.start_nats()
            system.start_service("notification")
            pid = system.processes["notification"].pid
            cpu_before = cpu_seconds(pid)
            sent = asyncio.run(drive(f"nats://127.0.0.1:{system.ports['nats']}", args.rate, args.seconds))
            created = created_times(Path(tmp) / "notification.db", set(sent))
            cpu = cpu_seconds(pid) - cpu_before
        finally:
            system.stop()
    first = min(sent.values()) + args.warmup
    latencies = [(created[e] - t) * 1000 for e, t in sent.items() if e in created and t >= first]
    missing = len(sent) - len(created)
    print(f"\npath: events, {len(sent)} transitions at {args.rate:g}/s")
    print(f"inbox notices: {len(created)}/{len(sent)} (missing {missing}); measured after warm-up: {len(latencies)}")
    print_latency("latency ms (occurred_at -> inbox created_at)", latencies, GOAL)
    print(f"notification process CPU: {cpu:.1f} s, {cpu * 1000 / len(sent):.1f} ms per transition"
          " (includes the 200 contact events and the email worker)")
    return 0


# --- path "gateway": the official's accept through the whole system -----------------------

def login(client: httpx.Client, username: str, timeout: float = 60.0) -> str:
    """Once per account: the demo accounts load just after start, and failed sign-ins count
    against this address (ten a minute), so retries are spaced and a 429 ends the run."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        if r.status_code == 200:
            return r.json()["access_token"]
        if r.status_code == 429 or time.monotonic() > deadline:
            raise RuntimeError(f"login of {username} failed: {r.status_code} {r.text[:300]}")
        time.sleep(3)


def claims(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def session(base_url: str, token: str) -> aiohttp.ClientSession:
    """The load's HTTP/1.1 keep-alive client. aiohttp, not httpx: with a few hundred requests
    waiting for a connection, httpx's pool cost this script ~15 ms of CPU per request, which
    made the client the bottleneck at 100/s on two cores."""
    return aiohttp.ClientSession(base_url, headers={"Authorization": f"Bearer {token}"},
                                 connector=aiohttp.TCPConnector(limit=256),
                                 timeout=aiohttp.ClientTimeout(total=60))


async def submit_all(base_url: str, token: str, agency: str, procedure: str, n: int,
                     run: str) -> list[tuple[str, int]]:
    """(code, version) of ``n`` dossiers submitted by the citizen, ``SUBMITTERS`` in flight."""
    body = {"procedure_code": procedure, "agency_code": agency, "form_data": {}}
    out: list[tuple[str, int]] = []
    numbers = iter(range(n))

    async def submitter(client: aiohttp.ClientSession) -> None:
        for i in numbers:  # one iterator shared by every submitter
            async with client.post("/api/v1/dossiers", json=body,
                                   headers={"Idempotency-Key": f"{run}-submit-{i}"}) as r:
                if r.status != 201:
                    raise RuntimeError(f"submission {i} failed: {r.status} {(await r.text())[:300]}")
                dossier = await r.json()
            out.append((dossier["code"], dossier["version"]))

    async with session(base_url, token) as client:
        await asyncio.gather(*(submitter(client) for _ in range(SUBMITTERS)))
    return sorted(out)


def wait_quiet(db: Path, event_type: str, expected: int, settle: float = 2.0, timeout: float = 300) -> int:
    """Until ``expected`` inbox rows of ``event_type`` exist (or their count stops growing for
    10 s), then ``settle`` seconds more: the measurement starts on an idle consumer."""
    deadline = time.monotonic() + timeout
    count, changed = -1, time.monotonic()
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            now = conn.execute("SELECT count(*) FROM notifications WHERE event_type = ?", (event_type,)).fetchone()[0]
        if now != count:
            count, changed = now, time.monotonic()
        if count >= expected or time.monotonic() - changed > 10:
            break
        time.sleep(0.5)
    time.sleep(settle)
    return count


def pending_emails(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM deliveries WHERE state IN ('created', 'sending')").fetchone()[0]


class InboxWatcher(threading.Thread):
    """Polls the notification database for new inbox rows of one kind for one account and
    notes, by subject, their ``created_at`` and when they were first readable (committed)."""

    def __init__(self, db: Path, account_id: str, event_type: str, interval: float = 0.01):
        super().__init__(daemon=True)
        self.db, self.account_id, self.event_type, self.interval = db, account_id, event_type, interval
        self.rows: dict[str, tuple[float, float]] = {}  # subject -> (created_at, first seen)
        self.done = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.db)
        last = conn.execute("SELECT coalesce(max(rowid), 0) FROM notifications").fetchone()[0]
        while not self.done.is_set():
            rows = conn.execute("SELECT rowid, account_id, event_type, subject, created_at FROM notifications"
                                " WHERE rowid > ? ORDER BY rowid", (last,)).fetchall()
            seen = time.time()
            for rowid, account_id, event_type, subject, created in rows:
                last = rowid
                if account_id == self.account_id and event_type == self.event_type:
                    self.rows.setdefault(subject, (created_at(created), seen))
            time.sleep(self.interval)
        conn.close()

    def wait_for(self, subjects: set[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not subjects <= self.rows.keys() and time.monotonic() < deadline:
            time.sleep(0.2)


def accepted_times(db: Path) -> dict[str, float]:
    """Each accepted dossier's ``accepted_at``: the time in the dossier service's transaction."""
    with sqlite3.connect(db) as conn:
        return {code: created_at(at) for code, at in
                conn.execute("SELECT code, accepted_at FROM dossiers WHERE accepted_at IS NOT NULL")}


async def stored_times(nats_url: str, subject: str) -> dict[str, float]:
    """When JetStream stored each event on ``subject``, by the event's subject (the dossier
    code): where the outbox relay's part ends and the notification consumer's begins."""
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
        out: dict[str, float] = {}
        while True:
            try:
                msg = await sub.next_msg(timeout=2)
            except nats.errors.TimeoutError:
                return out
            out[events_pb2.EventEnvelope.FromString(msg.data).subject] = msg.metadata.timestamp.timestamp()
    finally:
        await nc.close()


def logged_hops(log_dir: Path, since: float) -> dict[str, list[float]]:
    """The accepts' time in the gateway and in the dossier service, as their logs have it."""
    return {"gateway http POST …/actions/accept": log_latencies(
                log_dir / "gateway.log", "route", "/api/v1/work/dossiers/{code}/actions/{action}", since),
            "dossier rpc PerformAction": log_latencies(
                log_dir / "dossier.log", "method", "/motcua.v1.DossierService/PerformAction", since)}


@dataclass
class Accept:
    code: str
    t0: float  # time.time() just before the request was sent
    lag_ms: float  # t0 after the time it was scheduled for (the client falling behind)
    http_ms: float
    status: int  # 0: no response (connection error, timeout)
    detail: str = ""


async def accept_all(base_url: str, token: str, dossiers: list[tuple[str, int]], rate: float,
                     run: str) -> list[Accept]:
    """Open loop: accept n starts at start + n / rate, as its own task."""

    async def accept(client: aiohttp.ClientSession, code: str, version: int, scheduled: float) -> Accept:
        t0 = time.time()
        try:
            async with client.post(f"/api/v1/work/dossiers/{code}/actions/accept", json={"expected_version": version},
                                   headers={"Idempotency-Key": f"{run}-accept-{code}"}) as r:
                text = await r.text()
                status, detail = r.status, ("" if r.ok else text[:300])
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, detail = 0, f"{type(exc).__name__}: {exc}"
        return Accept(code, t0, (t0 - scheduled) * 1000, (time.time() - t0) * 1000, status, detail)

    async with session(base_url, token) as client:
        tasks = []
        start, start_wall = time.monotonic(), time.time()
        for n, (code, version) in enumerate(dossiers):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(accept(client, code, version, start_wall + n / rate)))
        achieved = len(dossiers) / (time.monotonic() - start)
        results = await asyncio.gather(*tasks)
    print(f"sent {len(dossiers)} accepts at {achieved:.1f}/s", flush=True)
    return results


def run_gateway(args: argparse.Namespace) -> int:
    print("path: gateway (POST …/actions/accept -> gateway -> dossier service commit -> outbox relay -> NATS -> "
          "notification consumer -> the applicant's inbox row)", flush=True)
    total = int(args.rate * (args.seconds + args.warmup))
    run = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="motcua-notify-"))
    system = EmbeddedSystem.on_free_ports(tmp)
    db = tmp / "notification.db"
    try:
        started = time.monotonic()
        system.start()
        with httpx.Client(base_url=system.gateway_url, timeout=30) as client:
            citizen = login(client, CITIZEN)
            official = login(client, RECEPTION)
            agency = commune_code(client)
            procedure = plain_procedure(client)
        print(f"system up in {time.monotonic() - started:.1f} s; agency {agency}, procedure {procedure}", flush=True)

        started = time.monotonic()
        dossiers = asyncio.run(submit_all(system.gateway_url, citizen, agency, procedure, total, run))
        print(f"submitted {len(dossiers)} dossiers in {time.monotonic() - started:.1f} s", flush=True)
        notices = wait_quiet(db, "dossier.submitted", len(dossiers))
        print(f"quiet after {time.monotonic() - started:.1f} s: {notices} submission notices in the inbox, "
              f"{pending_emails(db)} emails still queued for the worker", flush=True)

        watcher = InboxWatcher(db, claims(citizen)["account_id"], "dossier.accepted")
        watcher.start()
        pids = system.pids()
        load_before = os.getloadavg()[0]
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"this script": time.process_time()}
        accepts = asyncio.run(accept_all(system.gateway_url, official, dossiers, args.rate, run))
        watcher.wait_for({a.code for a in accepts if a.status == 200})
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        cpu["this script"] = time.process_time() - cpu_before["this script"]
        load_after = os.getloadavg()[0]
        watcher.done.set()
        watcher.join()
        errors = gateway_error_statuses(system.var_dir / "log" / "gateway.log")
        accepted = accepted_times(tmp / "dossier.db")
        stored = asyncio.run(stored_times(f"nats://127.0.0.1:{system.ports['nats']}", "dossier.accepted"))
        hops = logged_hops(system.var_dir / "log", since=min(a.t0 for a in accepts) + args.warmup)
    except BaseException:
        print(f"kept {tmp} (logs and databases)", file=sys.stderr)
        raise
    finally:
        system.stop()
    print(f"1-minute load average {load_before:.2f} before the accepts, {load_after:.2f} after "
          f"({len(os.sched_getaffinity(0))} cores, shared with other work)")
    failed = report_gateway(args, accepts, watcher.rows, (accepted, stored), hops, cpu, errors)
    if args.keep or failed:
        print(f"kept {tmp} (logs and databases)")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


def report_gateway(args: argparse.Namespace, accepts: list[Accept], rows: dict[str, tuple[float, float]],
                   stages: tuple[dict[str, float], dict[str, float]], hops: dict[str, list[float]],
                   cpu: dict[str, float], errors: dict[tuple[str, int], int]) -> bool:
    """Prints the report; True if an accept failed or its notice never came."""
    ok = [a for a in accepts if a.status == 200]
    failed = collections.Counter(a.status for a in accepts if a.status != 200)
    missing = [a for a in ok if a.code not in rows]
    first = min(a.t0 for a in accepts) + args.warmup
    measured = [a for a in ok if a.t0 >= first and a.code in rows]
    print(f"\npath: gateway, {len(accepts)} accepts at {args.rate:g}/s as {RECEPTION}, "
          f"{args.warmup:g} s warm-up left out")
    statuses = ", ".join(f"{status or 'no response'} x{n}" for status, n in sorted(failed.items()))
    print(f"accepts: 2xx {len(ok)}, non-2xx or no response {len(accepts) - len(ok)}"
          + (f" ({statuses})" if failed else ""))
    for a in [a for a in accepts if a.status != 200][:5]:
        print(f"  {a.code}: {a.status} {a.detail}")
    if errors:
        print("  gateway log: " + ", ".join(f"{route} {status} x{n}" for (route, status), n in errors.items()))
    print(f"inbox notices: {len(ok) - len(missing)}/{len(ok)} accepted dossiers (missing {len(missing)}); "
          f"measured after warm-up: {len(measured)}")
    print_latency("latency ms (request sent -> inbox created_at)",
                  [(rows[a.code][0] - a.t0) * 1000 for a in measured], GOAL)
    print_latency("latency ms (request sent -> row first readable, 10 ms polls)",
                  [(rows[a.code][1] - a.t0) * 1000 for a in measured])
    accepted, stored = stages
    staged = [a for a in measured if a.code in accepted and a.code in stored]
    print(f"where it goes ({len(staged)} of them, ms):")
    print_latency("  request sent -> dossier accepted_at (its transaction)",
                  [(accepted[a.code] - a.t0) * 1000 for a in staged])
    print_latency("  accepted_at -> stored in JetStream (commit, outbox relay)",
                  [(stored[a.code] - accepted[a.code]) * 1000 for a in staged])
    print_latency("  stored in JetStream -> inbox created_at (notification consumer)",
                  [(rows[a.code][0] - stored[a.code]) * 1000 for a in staged])
    print_latency("HTTP accept ms", [a.http_ms for a in ok if a.t0 >= first])
    for hop, ms in hops.items():
        print_latency(f"  of which {hop} (its log)", ms)
    print_latency("client lag ms (sent after its scheduled time)", [a.lag_ms for a in accepts if a.t0 >= first])
    print(f"notification process CPU: {cpu['notification']:.1f} s, "
          f"{cpu['notification'] * 1000 / len(accepts):.1f} ms per transition (includes the email worker)")
    print("CPU ms per transition by process: "
          + ", ".join(f"{name} {seconds * 1000 / len(accepts):.1f}" for name, seconds in cpu.items()))
    return bool(failed or missing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", choices=("gateway", "events"), default="gateway",
                        help="gateway: an official's accept through the whole system (default); "
                             "events: events published straight to JetStream")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--profile", type=Path, default=None, help="write the notification service's cProfile here")
    parser.add_argument("--keep", action="store_true", help="gateway path: keep the temporary folder (logs, databases)")
    args = parser.parse_args()
    if args.profile:
        os.environ["MOTCUA_NOTIFICATION_PROFILE"] = str(args.profile.resolve())
    return run_gateway(args) if args.path == "gateway" else run_events(args)


if __name__ == "__main__":
    sys.exit(main())
