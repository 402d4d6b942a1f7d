"""The dossier log cannot be rewritten by the service, and a rewrite by anyone else shows.

On PostgreSQL the service's runtime role may only INSERT and SELECT log rows
(deploy/postgres/*.sql); ``python -m services.dossier.verify_chain`` recomputes the hash
chain and names the first entry that was changed, or that follows one that was removed."""

from __future__ import annotations

import asyncio
import io
import itertools
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import delete, text, update

from services.dossier.store.models import LogEntry
from services.dossier.store.writes import append_log
from services.dossier.verify_chain import BROKEN, INTACT, MISSING, main, verify
from services.platform.db import make_engine, session_factory, upgrade_to_head, upgrade_to_head_async
from tests.conftest import MIGRATIONS, REPO

SQL = REPO / "deploy" / "postgres"
CODE = "000.00.01.H29-260306-0001"
OTHER = "000.00.01.H29-260306-0002"
_names = itertools.count()


async def write_log(url: str, code: str, entries: int = 4) -> None:
    engine = make_engine(url)
    at = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)
    try:
        async with session_factory(engine)() as session, session.begin():
            for i in range(entries):
                await append_log(session, dossier_code=code, at=at + timedelta(minutes=i), actor_id="a1",
                                 actor_name="Nguyễn Văn An", actor_role="applicant", action=f"step{i + 1}",
                                 status_code=1, note=f"bước {i + 1}")
                await session.flush()
    finally:
        await engine.dispose()


async def run(url: str, *codes: str) -> tuple[int, str]:
    out = io.StringIO()
    status = await verify(url, list(codes) or None, out=out)
    return status, out.getvalue()


async def tamper(url: str, statement) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(statement)
    finally:
        await engine.dispose()


@pytest.fixture
def url(migrated):
    return migrated("dossier")


async def test_an_intact_chain_verifies(url):
    await write_log(url, CODE)
    assert await run(url, CODE) == (INTACT, f"OK {CODE}: 4 entries, chain intact\n")
    assert (await run(url, "no-such-dossier"))[0] == MISSING


async def test_a_changed_entry_is_named(url):
    await write_log(url, CODE)
    await write_log(url, OTHER, 2)
    await tamper(url, update(LogEntry).where(LogEntry.dossier_code == CODE, LogEntry.seq == 3)
                 .values(note="đã sửa"))
    status, output = await run(url, CODE)
    assert status == BROKEN and output.startswith(f"BROKEN {CODE}: first broken entry seq=3 ")
    status, output = await run(url)  # --all: only the broken one is listed
    assert status == BROKEN and f"BROKEN {CODE}: first broken entry seq=3" in output
    assert OTHER not in output and "2 dossiers checked, 1 broken" in output


async def test_a_removed_entry_breaks_the_next_one(url):
    await write_log(url, CODE)
    await tamper(url, delete(LogEntry).where(LogEntry.dossier_code == CODE, LogEntry.seq == 2))
    status, output = await run(url, CODE)
    assert status == BROKEN and "seq=3 " in output


def test_the_command_line(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dossier.db'}"
    upgrade_to_head(MIGRATIONS["dossier"], url)
    asyncio.run(write_log(url, CODE))
    asyncio.run(tamper(url, update(LogEntry).where(LogEntry.seq == 1).values(actor_name="Người khác")))
    argv = [sys.executable, "-m", "services.dossier.verify_chain"]
    bad = subprocess.run([*argv, CODE, "--database-url", url], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 1 and f"BROKEN {CODE}: first broken entry seq=1" in bad.stdout
    with pytest.raises(SystemExit) as usage:
        main(["--database-url", url])  # neither codes nor --all
    assert usage.value.code == 2


# -- PostgreSQL roles -------------------------------------------------------------------


@pytest.fixture
def roles_database(postgres):
    """A database set up as deploy/postgres says: roles, schema owner, migrations run by
    the owner, then the grants. Returns (owner URL, runtime URL) for asyncpg/SQLAlchemy."""
    name = f"logrole{next(_names)}"
    postgres.create_database(name)
    postgres.psql((SQL / "roles.sql").read_text())
    postgres.psql((SQL / "database.sql").read_text(), dbname=name)
    base = f"127.0.0.1:{postgres.port}/{name}"
    owner = f"postgresql+asyncpg://dossier_owner@{base}"
    upgrade_to_head(MIGRATIONS["dossier"], owner)
    postgres.psql((SQL / "grants.sql").read_text(), dbname=name)
    return owner, f"postgresql+asyncpg://dossier_app@{base}"


async def test_the_runtime_role_appends_to_the_log_but_cannot_change_it(roles_database):
    owner, runtime = roles_database
    await write_log(runtime, CODE, 3)  # INSERT (and the SELECT of the last entry) work
    conn = await asyncpg.connect(runtime.replace("+asyncpg", ""))
    try:
        assert await conn.fetchval("SELECT count(*) FROM dossier_log") == 3
        for statement in ("UPDATE dossier_log SET note = 'sửa' WHERE seq = 2",
                          "DELETE FROM dossier_log WHERE seq = 3",
                          "TRUNCATE dossier_log",
                          "ALTER TABLE dossier_log DISABLE TRIGGER ALL",
                          "DROP TABLE dossier_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError) as err:
                await conn.execute(statement)
            assert "permission denied" in str(err.value) or "must be owner" in str(err.value)
        assert await conn.fetchval("SELECT count(*) FROM dossier_log") == 3
        # full DML on the service's other tables
        await conn.execute("INSERT INTO code_sequences (agency_code, day, last_value) VALUES ('X', '260306', 1)")
        await conn.execute("UPDATE code_sequences SET last_value = 2 WHERE agency_code = 'X'")
        await conn.execute("DELETE FROM code_sequences WHERE agency_code = 'X'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE alembic_version SET version_num = 'x'")
    finally:
        await conn.close()
    await upgrade_to_head_async(MIGRATIONS["dossier"], runtime)  # at head: the service still starts
    assert (await run(runtime, CODE))[0] == INTACT


async def test_a_change_by_the_owner_is_caught_by_the_chain(roles_database):
    owner, runtime = roles_database
    await write_log(runtime, CODE, 3)
    await tamper(owner, text("UPDATE dossier_log SET note = 'đã sửa' WHERE seq = 2"))
    status, output = await run(runtime, CODE)  # the check needs only SELECT
    assert status == BROKEN and "first broken entry seq=2 " in output
