"""Report: resident memory of the whole embedded system when idle (goal: under 600 MB).

    .venv/bin/python tests/perf/measure_memory.py [--settle 15]

Starts NATS, every service and the gateway as `make run` does (in a temporary folder),
lets them settle, then sums the RSS of every process (children included) with psutil.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "gen")]

from services.platform.embedded import EmbeddedSystem  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds to wait once healthy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="motcua-mem-") as tmp:
        system = EmbeddedSystem.on_free_ports(Path(tmp))
        try:
            system.start()
            time.sleep(args.settle)
            rows, total = [], 0
            for name, pid in sorted(system.pids().items()):
                proc = psutil.Process(pid)
                rss = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
                rows.append((name, rss))
                total += rss
            print(f"{'process':14} {'RSS MiB':>8}")
            for name, rss in rows:
                print(f"{name:14} {rss / 2**20:8.1f}")
            print(f"{'total':14} {total / 2**20:8.1f}   (goal: < 600 MB)")
        finally:
            system.stop()


if __name__ == "__main__":
    main()
