"""The temporary PostgreSQL cluster of tests/servers/postgres.py really works."""

from __future__ import annotations

import os
import re
from pathlib import Path

import asyncpg
import pytest

from tests.servers.postgres import (
    PostgresNotFoundError,
    TemporaryPostgres,
    find_bin_dir,
)


async def test_start_create_connect_stop() -> None:
    pg = TemporaryPostgres()
    pg.start()
    try:
        assert pg.running
        base = pg.base_dir
        assert base.is_dir() and str(base).startswith("/tmp/")

        pg.create_database("motcua_smoke")
        pg.create_database("motcua_smoke")  # idempotent

        url = pg.url("motcua_smoke")
        assert re.fullmatch(rf"postgresql\+asyncpg://motcua@127\.0\.0\.1:{pg.port}/motcua_smoke", url)
        assert pg.admin_url == f"postgresql://motcua@127.0.0.1:{pg.port}/postgres"

        conn = await asyncpg.connect(pg.url("motcua_smoke", driver=None))
        try:
            assert await conn.fetchval("select 1") == 1
            assert await conn.fetchval("select current_user") == "motcua"
            assert await conn.fetchval("select rolsuper from pg_roles where rolname = current_user")
            assert await conn.fetchval("show fsync") == "off"
            assert await conn.fetchval("show listen_addresses") == "127.0.0.1"
        finally:
            await conn.close()

        pg.drop_database("motcua_smoke")
        pg.drop_database("motcua_smoke")  # absent: no error
        assert "motcua_smoke" not in pg.psql("select datname from pg_database").split()
    finally:
        pg.stop()

    assert not pg.running
    assert not base.exists()


def test_context_manager_stops_and_cleans_up() -> None:
    with TemporaryPostgres() as pg:
        base = pg.base_dir
        assert pg.psql("select 1").strip() == "1"
    assert not base.exists()


def test_missing_binaries_raise_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTCUA_POSTGRES_BIN_DIR", raising=False)
    with pytest.raises(PostgresNotFoundError, match="apt-get install"):
        find_bin_dir(str(tmp_path / "*" / "bin"))


def test_newest_bin_dir_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTCUA_POSTGRES_BIN_DIR", raising=False)
    for version in ("9.6", "13", "16"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("initdb", "postgres"):
            (bin_dir / tool).touch(mode=0o755)
    (tmp_path / "17" / "bin").mkdir(parents=True)  # no binaries: ignored
    assert find_bin_dir(str(tmp_path / "*" / "bin")) == tmp_path / "16" / "bin"
    assert os.path.isdir(find_bin_dir())  # the real installation
