"""A real, throw-away PostgreSQL cluster for tests.

The cluster is built from the server binaries of Debian's ``postgresql``
package (``/usr/lib/postgresql/<major>/bin``); the newest major version found
there is used.  Nothing is downloaded: when no server is installed,
:func:`find_bin_dir` raises :class:`PostgresNotFoundError` telling how to
install one (``make`` does that with ``apt-get install postgresql``).

What :meth:`TemporaryPostgres.start` does:

* creates a private directory under ``/tmp`` (``tempfile``) holding the data
  directory, the unix socket directory and the server log;
* runs ``initdb`` (bootstrap superuser ``postgres``, UTF-8, C locale);
* writes a ``pg_hba.conf`` that trusts local (unix socket) connections and TCP
  connections from 127.0.0.1 / ::1 only, so no password is ever needed;
* starts ``postgres`` listening on 127.0.0.1 on a free port (found by binding a
  socket to port 0; retried if another process grabs it first), with the unix
  socket inside the private directory and durability switched off
  (``fsync``, ``synchronous_commit``, ``full_page_writes``) for speed;
* waits (``pg_isready``, 60 s by default) until connections are accepted; on
  failure the error message carries the server log;
* creates the superuser login role ``motcua`` that tests connect as.

:meth:`TemporaryPostgres.stop` runs ``pg_ctl stop -m immediate`` and deletes
the private directory.  The object is also a context manager, and a cluster
that is still running when the interpreter exits is stopped by ``atexit``.

Running as root
    ``initdb`` and ``postgres`` refuse to run as root.  When the effective
    uid is 0 every PostgreSQL program is run as the ``postgres`` system user
    through ``runuser -u postgres --`` and the private directory is chowned to
    that user; the user is created (``useradd --system postgres``) if it does
    not exist yet.

Example::

    with TemporaryPostgres() as pg:
        pg.create_database("dossier")
        url = pg.url("dossier")  # postgresql+asyncpg://motcua@127.0.0.1:PORT/dossier

For development, ``python -m tests.servers.postgres [--database NAME ...]``
starts a cluster, prints its URLs and runs until Ctrl-C.

Environment
    ``MOTCUA_POSTGRES_BIN_DIR`` overrides the directory of the server binaries.
"""

from __future__ import annotations

import argparse
import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

__all__ = [
    "PostgresError",
    "PostgresNotFoundError",
    "TemporaryPostgres",
    "find_bin_dir",
]

#: Where Debian installs the server binaries, one directory per major version.
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: Environment variable overriding the binaries' directory.
BIN_DIR_ENV = "MOTCUA_POSTGRES_BIN_DIR"
#: The OS user PostgreSQL runs as when we are root.
SYSTEM_USER = "postgres"
#: The cluster's bootstrap superuser (created by initdb).
BOOTSTRAP_ROLE = "postgres"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_PORT_IN_USE = ("could not bind", "address already in use")


class PostgresError(RuntimeError):
    """The temporary cluster could not be set up, started or used."""


class PostgresNotFoundError(PostgresError):
    """No PostgreSQL server binaries are installed."""


def find_bin_dir(pattern: str = DEBIAN_BIN_GLOB) -> Path:
    """Return the newest PostgreSQL server ``bin`` directory.

    ``$MOTCUA_POSTGRES_BIN_DIR`` wins when set.  Otherwise the directories
    matching *pattern* (Debian's ``/usr/lib/postgresql/*/bin``) that contain
    ``initdb`` and ``postgres`` are sorted by major version and the newest is
    returned.  Raises :class:`PostgresNotFoundError` if there is none.
    """
    override = os.environ.get(BIN_DIR_ENV)
    if override:
        path = Path(override)
        if not (path / "initdb").is_file():
            raise PostgresNotFoundError(f"${BIN_DIR_ENV}={override} does not contain initdb")
        return path

    def version_key(path: Path) -> tuple[int, ...]:
        parts = re.findall(r"\d+", path.parent.name)
        return tuple(int(p) for p in parts) or (0,)

    candidates = [
        path
        for path in map(Path, glob.glob(pattern))
        if (path / "initdb").is_file() and (path / "postgres").is_file()
    ]
    if not candidates:
        raise PostgresNotFoundError(
            f"no PostgreSQL server binaries found ({pattern} with initdb and postgres). "
            "Install them with `apt-get install -y postgresql` (Debian/Ubuntu; `make` does this) "
            f"or point ${BIN_DIR_ENV} at a directory holding initdb, pg_ctl, postgres and psql."
        )
    return max(candidates, key=version_key)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _quote_ident(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"invalid database name {name!r}: use letters, digits, _ $ - (max 63)")
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class TemporaryPostgres:
    """A private PostgreSQL cluster living in a temporary directory.

    Parameters
    ----------
    user:
        Superuser login role created for clients (no password: trust auth).
    host:
        TCP address to listen on; only loopback makes sense.
    port:
        Fixed port, or ``None`` to pick a free one.
    bin_dir:
        Directory of ``initdb``/``pg_ctl``/``postgres``/``psql``; default
        :func:`find_bin_dir`.
    startup_timeout:
        Seconds to wait for the server to accept connections.
    settings:
        Extra server settings (``-c name=value``), e.g. ``{"max_connections": "300"}``.
    temp_root:
        Parent of the private directory (default ``/tmp``).
    """

    def __init__(
        self,
        *,
        user: str = "motcua",
        host: str = "127.0.0.1",
        port: int | None = None,
        bin_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 60.0,
        settings: dict[str, str] | None = None,
        temp_root: str | os.PathLike[str] = "/tmp",
    ) -> None:
        _quote_ident(user)
        self.user = user
        self.host = host
        self.startup_timeout = startup_timeout
        self.settings = {"max_connections": "200", **(settings or {})}
        self._requested_port = port
        self._bin_dir = Path(bin_dir) if bin_dir is not None else None
        self._temp_root = Path(temp_root)
        self._as_root = os.geteuid() == 0
        self._port: int | None = None
        self._base: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- public API -----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def port(self) -> int:
        if self._port is None:
            raise PostgresError("the cluster is not started")
        return self._port

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        return self._bin_dir

    @property
    def base_dir(self) -> Path:
        """The private temporary directory (data, socket and log inside)."""
        if self._base is None:
            raise PostgresError("the cluster is not started")
        return self._base

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "socket"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def admin_url(self) -> str:
        """libpq URL of the maintenance database ``postgres`` as the superuser."""
        return self.url("postgres", driver=None)

    def url(self, dbname: str, driver: str | None = "asyncpg") -> str:
        """SQLAlchemy-style URL of *dbname*.

        ``driver="asyncpg"`` gives ``postgresql+asyncpg://motcua@127.0.0.1:PORT/dbname``;
        ``driver=None`` (or ``""``) gives the plain ``postgresql://`` form that
        libpq, psql and ``asyncpg.connect`` accept.
        """
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{dbname}"

    def start(self) -> "TemporaryPostgres":
        """Create, start and wait for the cluster.  Returns ``self``."""
        if self._proc is not None:
            raise PostgresError("the cluster is already started")
        bin_dir = self.bin_dir
        for tool in ("initdb", "pg_ctl", "postgres", "psql", "pg_isready"):
            if not (bin_dir / tool).is_file():
                raise PostgresNotFoundError(f"{bin_dir} has no {tool}")
        if self._as_root:
            self._ensure_system_user()
        self._base = Path(tempfile.mkdtemp(prefix="motcua-pg-", dir=self._temp_root))
        atexit.register(self._atexit_stop)
        try:
            self.socket_dir.mkdir()
            self.log_path.touch()
            if self._as_root:
                self._chown_tree(self._base)
            self._initdb()
            attempts = 1 if self._requested_port else 5
            for attempt in range(attempts):
                self._port = self._requested_port or _free_port(self.host)
                try:
                    self._launch()
                    self._wait_ready()
                    break
                except PostgresError:
                    log = self._read_log().lower()
                    if attempt + 1 < attempts and any(m in log for m in _PORT_IN_USE):
                        self._kill()
                        continue  # someone took the port between probe and bind
                    raise
            self._psql(
                f"CREATE ROLE {_quote_ident(self.user)} WITH SUPERUSER LOGIN",
                role=BOOTSTRAP_ROLE,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server immediately (``pg_ctl stop -m immediate``) and delete its files."""
        atexit.unregister(self._atexit_stop)
        try:
            if self._proc is not None and self._proc.poll() is None:
                try:
                    self._run(
                        [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "30"],
                        timeout=60,
                    )
                except PostgresError:
                    pass  # fall through to killing the process
                self._kill()
        finally:
            self._proc = None
            if self._base is not None:
                shutil.rmtree(self._base, ignore_errors=True)
                self._base = None
            self._port = None

    def create_database(self, name: str) -> None:
        """Create database *name* owned by the client role; do nothing if it exists."""
        ident = _quote_ident(name)
        exists_sql = f"SELECT 1 FROM pg_database WHERE datname = {_quote_literal(name)}"
        if self._psql(exists_sql).strip():
            return
        try:
            self._psql(f"CREATE DATABASE {ident} OWNER {_quote_ident(self.user)}")
        except PostgresError:
            if self._psql(exists_sql).strip():  # created concurrently by someone else
                return
            raise

    def drop_database(self, name: str) -> None:
        """Drop database *name* (closing its connections); do nothing if it is absent."""
        self._psql(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run *sql* with ``psql`` (unaligned, tuples only) and return its output."""
        return self._psql(sql, dbname=dbname)

    def __enter__(self) -> "TemporaryPostgres":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self._port}" if self.running else "stopped"
        return f"<TemporaryPostgres {state}>"

    # -- internals ------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        # PG* variables of the caller (PGHOST, PGPORT, PGUSER...) must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return env

    def _command(self, argv: Sequence[str]) -> list[str]:
        if self._as_root:
            return ["runuser", "-u", SYSTEM_USER, "--", *argv]
        return list(argv)

    def _run(self, argv: Sequence[str], *, timeout: float = 120) -> str:
        cmd = self._command(argv)
        try:
            result = subprocess.run(
                cmd,
                cwd=self._base or "/",
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(f"{' '.join(cmd)} timed out after {timeout}s") from exc
        if result.returncode != 0:
            raise PostgresError(
                f"{' '.join(cmd)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def _psql(self, sql: str, *, dbname: str = "postgres", role: str | None = None) -> str:
        return self._run(
            [
                str(self.bin_dir / "psql"),
                "--no-psqlrc",
                "--quiet",
                "--tuples-only",
                "--no-align",
                "--set=ON_ERROR_STOP=1",
                "--host", self.host,
                "--port", str(self.port),
                "--username", role or self.user,
                "--dbname", dbname,
                "--command", sql,
            ],
            timeout=60,
        )

    def _ensure_system_user(self) -> None:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", SYSTEM_USER], check=True)

    def _chown_tree(self, root: Path) -> None:
        entry = pwd.getpwnam(SYSTEM_USER)
        for dirpath, dirnames, filenames in os.walk(root):
            os.chown(dirpath, entry.pw_uid, entry.pw_gid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata", str(self.data_dir),
                "--username", BOOTSTRAP_ROLE,
                "--auth", "trust",
                "--encoding", "UTF8",
                "--locale", "C",
                "--no-sync",
            ],
            timeout=180,
        )
        hba = (
            "# Written by tests/servers/postgres.py: trust local and loopback only.\n"
            "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
            "local   all       all                 trust\n"
            "host    all       all   127.0.0.1/32  trust\n"
            "host    all       all   ::1/128       trust\n"
        )
        (self.data_dir / "pg_hba.conf").write_text(hba)

    def _launch(self) -> None:
        argv = [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-k", str(self.socket_dir),
            "-c", f"listen_addresses={self.host}",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
        ]
        for name, value in self.settings.items():
            argv += ["-c", f"{name}={value}"]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self._command(argv),
                cwd=self.base_dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        probe = [
            str(self.bin_dir / "pg_isready"),
            "--host", self.host,
            "--port", str(self.port),
            "--username", BOOTSTRAP_ROLE,
            "--dbname", "postgres",
            "--timeout", "2",
        ]
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise PostgresError(
                    f"postgres exited with {self._proc.returncode} while starting; "
                    f"server log:\n{self._read_log()}"
                )
            ready = subprocess.run(
                probe, env=self._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise PostgresError(
                    f"postgres did not accept connections on {self.host}:{self.port} "
                    f"within {self.startup_timeout:.0f}s; server log:\n{self._read_log()}"
                )
            time.sleep(0.1)

    def _read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except (OSError, PostgresError):
            return "(no log)"

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass

    def _atexit_stop(self) -> None:
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.servers.postgres``: run a cluster until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.servers.postgres",
        description="Start a temporary PostgreSQL cluster, print its URLs and wait for Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default: a free one)")
    parser.add_argument(
        "--database", "-d", action="append", default=[], metavar="NAME",
        help="database to create (repeatable), e.g. -d identity -d dossier",
    )
    args = parser.parse_args(argv)

    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    with TemporaryPostgres(port=args.port) as pg:
        for name in args.database:
            pg.create_database(name)
        print(f"admin URL: {pg.admin_url}", flush=True)
        for name in args.database:
            print(f"{name}: {pg.url(name)}", flush=True)
        print(f"data: {pg.data_dir}  log: {pg.log_path}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not stop_requested and pg.running:
            time.sleep(0.2)
        if not pg.running and not stop_requested:
            print(f"postgres exited unexpectedly; log:\n{pg._read_log()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
