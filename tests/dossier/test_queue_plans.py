"""The work queue's query plans on PostgreSQL, as a prepared statement runs them.

asyncpg prepares every statement, and PostgreSQL switches a prepared statement to a
generic plan (parameter values unknown) after five runs when that looks no dearer. A
generic plan can use a partial index only if the query states the index's predicate in
its own text, so the "still open" condition must be literals, not parameters. These tests
take the exact SQL the service sends (captured from ``work_queue``), PREPARE it with
``plan_cache_mode = force_generic_plan`` and check the plan: the intended index, read in
queue order, with no Sort. Plans are behaviour, not timing: a wrong plan costs hundreds of
milliseconds at a million dossiers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import event

from services.dossier.app.context import DossierContext
from services.dossier.app.queries import work_queue
from services.platform.db import Database, upgrade_to_head
from services.platform.principal import Principal
from tests.conftest import MIGRATIONS
from tests.perf.generate_dossiers import generate

BIG = "068.00.99.H29"
OFFICIAL = "7d1c0f52-0d1b-4a8e-9b1e-3f2a1c0d9e77"
RECEPTION = "5b0f9a40-2c55-4a57-8f53-7c1f0c3a2e10"


@pytest.fixture(scope="module")
def loaded(postgres):
    """Some thousands of generated dossiers over 60 days, with the service's indexes,
    VACUUM ANALYZEd (the generator does it)."""
    postgres.create_database("queue_plans")
    url = postgres.url("queue_plans")
    upgrade_to_head(MIGRATIONS["dossier"], url)
    report = asyncio.run(generate(url, 6000, days=60, seed=7, big_agency=BIG, big_share=0.2,
                                  officials=[OFFICIAL], migrate=False, batch=2000))
    assert report.count == 6000
    return url


def official(account_id: str, role: str) -> Principal:
    return Principal(account_id=account_id, kind="official", name="Cán bộ", roles=(role,), agency_code=BIG,
                     verification_level=2)


async def captured(url: str, principal: Principal, **kwargs) -> tuple[list[tuple[str, tuple]], tuple]:
    """The SELECTs ``work_queue`` sends, with their parameters, and its result."""
    db = Database.connect(url)
    seen: list[tuple[str, tuple]] = []

    @event.listens_for(db.read_engine.sync_engine, "before_cursor_execute")
    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, tuple(parameters or ())))

    try:
        ctx = DossierContext(sessions=db.sessions, catalogue=None, relay=None, reads=db.reads)
        result = await work_queue(ctx, principal, status_code=0, limit=20, **kwargs)
    finally:
        await db.dispose()
    return seen, result


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return "'" + str(value).replace("'", "''") + "'"


async def generic_plan(url: str, sql: str, params: tuple, *, covering: bool = False) -> dict:
    """EXPLAIN (FORMAT JSON) of the statement PREPAREd and run as the generic plan.
    ``covering``: bitmap scans off, so an index that holds every column the query needs
    shows as an Index Only Scan however few rows the test table has (at a few thousand
    rows a bitmap scan may be as cheap; at a million the index-only scan is what counts)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        if covering:
            await conn.execute("SET enable_bitmapscan = off")
        await conn.execute(f"PREPARE queue_q AS {sql}")
        args = f"({', '.join(_literal(p) for p in params)})" if params else ""
        plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE queue_q{args}"))
        return plan[0]["Plan"]
    finally:
        await conn.close()


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def page_query(statements):
    [page] = [(sql, params) for sql, params in statements if "ORDER BY" in sql]
    return page


def count_query(statements):
    [count] = [(sql, params) for sql, params in statements if "count(" in sql.lower()]
    return count


def index_scans(plan: dict) -> dict[str, dict]:
    return {n["Index Name"]: n for n in nodes(plan) if n["Node Type"] in ("Index Scan", "Index Only Scan")}


async def test_open_queue_first_page_reads_the_open_index_in_order(loaded):
    statements, (rows, total, token) = await captured(loaded, official(RECEPTION, "reception"), token="")
    assert rows and total > len(rows) and token  # a real queue with a next page
    sql, params = page_query(statements)
    assert "NOT IN (3, 7, 8, 10)" in sql  # the partial index's predicate, word for word
    plan = await generic_plan(loaded, sql, params)
    scans = index_scans(plan)
    assert list(scans) == ["ix_dossiers_agency_open"], json.dumps(plan, indent=1)
    assert scans["ix_dossiers_agency_open"]["Scan Direction"] == "Forward"
    assert not [n for n in nodes(plan) if "Sort" in n["Node Type"]], json.dumps(plan, indent=1)
    assert "Filter" not in scans["ix_dossiers_agency_open"]  # nothing read only to be dropped

    # The total is counted from the same partial index alone.
    count_plan = await generic_plan(loaded, *count_query(statements), covering=True)
    assert {n.get("Index Name") for n in nodes(count_plan) if n["Node Type"] == "Index Only Scan"} \
        == {"ix_dossiers_agency_open"}, json.dumps(count_plan, indent=1)


async def test_keyset_page_is_one_range_of_the_open_index(loaded):
    principal = official(RECEPTION, "reception")
    _, (first, _, token) = await captured(loaded, principal, token="")
    statements, (rows, _, _) = await captured(loaded, principal, token=token)
    assert rows and (rows[0].queue_at, rows[0].code) > (first[-1].queue_at, first[-1].code)
    plan = await generic_plan(loaded, *page_query(statements))
    scans = index_scans(plan)
    assert list(scans) == ["ix_dossiers_agency_open"], json.dumps(plan, indent=1)
    cond = scans["ix_dossiers_agency_open"]["Index Cond"]
    assert "ROW(queue_at, (code)::text) > ROW(" in cond, cond  # where the page starts is the scan's start
    assert "Filter" not in scans["ix_dossiers_agency_open"]
    assert not [n for n in nodes(plan) if "Sort" in n["Node Type"]], json.dumps(plan, indent=1)


async def test_assigned_to_me_reads_the_assignee_open_index(loaded):
    statements, (rows, total, _) = await captured(loaded, official(OFFICIAL, "processing"), token="",
                                                  assigned_to_me=True)
    assert rows and all(r.assignee_id == OFFICIAL for r in rows) and total >= len(rows)
    plan = await generic_plan(loaded, *page_query(statements))
    scans = index_scans(plan)
    assert list(scans) == ["ix_dossiers_assignee_open"], json.dumps(plan, indent=1)
    assert not [n for n in nodes(plan) if "Sort" in n["Node Type"]], json.dumps(plan, indent=1)
    # The count needs the agency too: a key of the index, so the table is not read.
    count_plan = await generic_plan(loaded, *count_query(statements), covering=True)
    assert {n.get("Index Name") for n in nodes(count_plan) if n["Node Type"] == "Index Only Scan"} \
        == {"ix_dossiers_assignee_open"}, json.dumps(count_plan, indent=1)


async def test_overdue_count_reads_the_index_alone(loaded):
    statements, (rows, total, _) = await captured(loaded, official(RECEPTION, "reception"), token="",
                                                  overdue_only=True)
    now = datetime.now(UTC)
    assert total >= len(rows) > 0 and all(r.due_at is not None and r.queue_at < now for r in rows)
    count_plan = await generic_plan(loaded, *count_query(statements), covering=True)
    scans = [n for n in nodes(count_plan) if n["Node Type"] in ("Index Only Scan", "Index Scan", "Seq Scan")]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [("Index Only Scan", "ix_dossiers_agency_open")], \
        json.dumps(count_plan, indent=1)
