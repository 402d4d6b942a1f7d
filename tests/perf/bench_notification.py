"""Report: latency from a dossier transition to the in-app notice being readable, at a
steady rate (goal at 100 transitions/s: p50 <= 20 ms, p99 <= 100 ms).

    .venv/bin/python tests/perf/bench_notification.py [--rate 100] [--seconds 20] [--warmup 3]

Method: starts NATS and the notification service as `make run` does (SQLite, in a temporary
folder). Publishes DossierStatusChanged events straight to JetStream at the given rate, as
the dossier service's outbox relay would (same subject, envelope and Nats-Msg-Id), each
stamped with ``occurred_at`` = the moment it is published. The latency of one transition is
the stored ``created_at`` of its inbox row minus that ``occurred_at`` (both taken from this
machine's clock). The first ``--warmup`` seconds are left out. Applicants are spread over
200 accounts with email on (the email deliveries are created in the same transaction, and
written to the development sink by the worker meanwhile).

It also prints the CPU time (user + system) the notification process spent while the
transitions were published and handled, per transition. ``--profile FILE`` has the service
write a cProfile of its event loop there (``MOTCUA_NOTIFICATION_PROFILE``) when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "gen")]

import nats  # noqa: E402

from motcua.v1 import events_pb2  # noqa: E402
from services.platform.embedded import EmbeddedSystem  # noqa: E402
from services.platform.events import make_envelope  # noqa: E402

ACTIONS = ("dossier.accepted", "dossier.supplement_requested", "dossier.result_ready", "dossier.returned")


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
        found = {eid: datetime.fromisoformat(ts).replace(tzinfo=UTC).timestamp() for eid, ts in rows
                 if eid in event_ids}
        if len(found) == len(event_ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--profile", type=Path, default=None, help="write the service's cProfile here")
    args = parser.parse_args()
    if args.profile:
        os.environ["MOTCUA_NOTIFICATION_PROFILE"] = str(args.profile.resolve())
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
    latencies = sorted((created[e] - t) * 1000 for e, t in sent.items() if e in created and t >= first)
    missing = len(sent) - len(created)
    q = statistics.quantiles(latencies, n=100)
    print(f"inbox notices: {len(created)}/{len(sent)} (missing {missing}); measured after warm-up: {len(latencies)}")
    print(f"latency ms  p50 {q[49]:.1f}  p90 {q[89]:.1f}  p99 {q[98]:.1f}  max {latencies[-1]:.1f}"
          f"   (goal at 100/s: p50 <= 20, p99 <= 100)")
    print(f"notification process CPU: {cpu:.1f} s, {cpu * 1000 / len(sent):.1f} ms per transition"
          " (includes the 200 contact events and the email worker)")


if __name__ == "__main__":
    main()
