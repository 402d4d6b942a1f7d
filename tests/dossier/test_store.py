"""Dossier writes that must hold under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services.dossier.domain.calendar import VIETNAM
from services.dossier.domain.log import GENESIS, first_broken
from services.dossier.store.models import CodeSequence, LogEntry
from services.dossier.store.writes import (
    append_log,
    as_utc,
    log_content,
    next_sequence,
    remember_response,
    replayed_response,
    request_fingerprint,
)
from services.platform.db import make_engine, session_factory
from services.platform.errors import Conflict

AGENCY = "000.00.01.H29"
DAY = "260306"
CODE = f"{AGENCY}-{DAY}-0001"


class Rollback(Exception):
    pass


@pytest.fixture
def url(migrated):
    return migrated("dossier")


@pytest.fixture
async def sessions(url):
    engine = make_engine(url, pool_size=20)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def allocate(sessions, agency=AGENCY, day=DAY, *, hold=0.0, roll_back=False) -> int:
    """One transaction that takes a number, keeps it a moment, then commits or rolls back."""
    number = None
    try:
        async with sessions() as session, session.begin():
            number = await next_sequence(session, agency, day)
            if hold:
                await asyncio.sleep(hold)
            if roll_back:
                raise Rollback
    except Rollback:
        pass
    return number


# --- gap-free dossier numbers --------------------------------------------------------

async def test_concurrent_submissions_get_numbers_one_to_forty_without_gaps_or_duplicates(sessions):
    numbers = await asyncio.gather(*(allocate(sessions, hold=0.005) for _ in range(40)))
    assert sorted(numbers) == list(range(1, 41))
    async with sessions() as session:
        row = await session.get(CodeSequence, (AGENCY, DAY))
        assert row.last_value == 40


async def test_rolled_back_submissions_leave_no_gap_among_committed_numbers(sessions):
    results = await asyncio.gather(*(allocate(sessions, hold=0.005, roll_back=(i % 4 == 0))
                                     for i in range(40)))
    committed = [n for i, n in enumerate(results) if i % 4 != 0]
    assert sorted(committed) == list(range(1, 31))
    assert await allocate(sessions) == 31


async def test_a_rolled_back_transaction_returns_its_number(sessions):
    assert await allocate(sessions) == 1
    assert await allocate(sessions, roll_back=True) == 2
    assert await allocate(sessions) == 2
    assert await allocate(sessions) == 3


async def test_a_waiting_submission_gets_the_number_a_rolled_back_one_gave_back(sessions):
    async with sessions() as first:
        await first.begin()
        assert await next_sequence(first, AGENCY, DAY) == 1
        second = asyncio.create_task(allocate(sessions))
        await asyncio.sleep(0.3)
        assert not second.done(), "the counter row must stay locked until the first transaction ends"
        await first.rollback()
    assert await asyncio.wait_for(second, 10) == 1


async def test_numbers_count_separately_per_agency_and_per_day(sessions):
    assert await allocate(sessions, AGENCY, DAY) == 1
    assert await allocate(sessions, AGENCY, DAY) == 2
    assert await allocate(sessions, "000.00.02.H29", DAY) == 1
    assert await allocate(sessions, AGENCY, "260307") == 1
    assert await allocate(sessions, AGENCY, DAY) == 3
    parallel = await asyncio.gather(*(allocate(sessions, agency, hold=0.002)
                                      for agency in ["001.00.99.H29", "002.00.99.H29"] * 10))
    assert sorted(parallel) == sorted(list(range(1, 11)) * 2)


# --- the log chain -------------------------------------------------------------------

async def append(session, at, action, status, note=""):
    return await append_log(session, dossier_code=CODE, at=at, actor_id="a1", actor_name="Nguyễn Văn An",
                            actor_role="applicant", action=action, status_code=status, note=note)


async def stored_log(sessions, code=CODE) -> list[LogEntry]:
    async with sessions() as session:
        return list(await session.scalars(select(LogEntry).where(LogEntry.dossier_code == code)
                                          .order_by(LogEntry.seq)))


def as_chain(rows) -> list[tuple[dict, str, str]]:
    return [(log_content(r), r.prev_hash, r.hash) for r in rows]


async def test_log_entries_chain_each_to_the_one_before(sessions):
    start = datetime(2026, 3, 6, 2, 30, 15, 123456, tzinfo=UTC)
    async with sessions() as session, session.begin():
        made = [await append(session, start + timedelta(minutes=i), f"step{i}", 1) for i in range(4)]
    assert [e.seq for e in made] == [1, 2, 3, 4]
    assert made[0].prev_hash == GENESIS
    for before, after in zip(made, made[1:]):
        assert after.prev_hash == before.hash
    assert len({e.hash for e in made}) == 4


async def test_log_written_in_separate_transactions_continues_the_stored_chain(sessions):
    at = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
    for i, action in enumerate(["submit", "accept", "withdraw"]):
        async with sessions() as session, session.begin():
            await append(session, at + timedelta(hours=i), action, [1, 2, 7][i])
    rows = await stored_log(sessions)
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert first_broken(as_chain(rows)) is None


async def test_log_read_back_from_the_database_still_verifies(sessions):
    # UTC times with microseconds, as the use cases write them.
    at = datetime(2026, 3, 6, 23, 59, 59, 999999, tzinfo=UTC)
    async with sessions() as session, session.begin():
        await append(session, at, "submit", 1, note="Nộp trực tuyến")
        await append(session, at + timedelta(microseconds=1), "accept", 2)
    assert first_broken(as_chain(await stored_log(sessions))) is None


async def test_log_with_a_vietnam_time_still_verifies_after_the_round_trip(sessions):
    # A caller passing an aware local time must not get a chain that breaks when read back
    # (SQLite keeps no offset: a local wall clock read back as UTC would be 7 hours off).
    at = datetime(2026, 3, 6, 9, 15, 0, 500, tzinfo=VIETNAM)
    async with sessions() as session, session.begin():
        await append(session, at, "submit", 1)
        await append(session, at + timedelta(minutes=5), "accept", 2)
    rows = await stored_log(sessions)
    assert as_utc(rows[0].at) == at == datetime(2026, 3, 6, 2, 15, 0, 500, tzinfo=UTC)
    assert first_broken(as_chain(rows)) is None


async def test_a_note_changed_in_the_database_is_found_by_the_chain(sessions):
    at = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
    async with sessions() as session, session.begin():
        for i in range(4):
            await append(session, at + timedelta(minutes=i), f"step{i}", 1, note=f"n{i}")
    async with sessions() as session, session.begin():
        await session.execute(update(LogEntry).where(LogEntry.dossier_code == CODE, LogEntry.seq == 3)
                              .values(note="sửa lén"))
    assert first_broken(as_chain(await stored_log(sessions))) == 2


async def test_each_dossier_has_its_own_chain(sessions):
    at = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
    other = f"{AGENCY}-{DAY}-0002"
    async with sessions() as session, session.begin():
        await append(session, at, "submit", 1)
        second = await append_log(session, dossier_code=other, at=at, actor_id="b", actor_name="B",
                                  actor_role="applicant", action="submit", status_code=1)
    assert second.seq == 1 and second.prev_hash == GENESIS


async def test_the_same_log_position_cannot_be_written_twice(sessions):
    at = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
    async with sessions() as session, session.begin():
        await append(session, at, "submit", 1)
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            session.add(LogEntry(dossier_code=CODE, seq=1, at=at, actor_id="x", actor_name="x", actor_role="x",
                                 action="x", status_code=1, note="", prev_hash=GENESIS, hash="0" * 64))


# --- idempotency ---------------------------------------------------------------------

FP = request_fingerprint("1.001193", AGENCY, "{}", "2")
NOW = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)


async def remember(sessions, *, key="k-1", fingerprint=FP, principal="p1", response=CODE.encode()):
    async with sessions() as session, session.begin():
        remember_response(session, principal_id=principal, key=key, operation="submit",
                          fingerprint=fingerprint, response=response, at=NOW)


async def replay(sessions, *, key="k-1", fingerprint=FP, principal="p1", operation="submit"):
    async with sessions() as session:
        return await replayed_response(session, principal_id=principal, key=key, operation=operation,
                                       fingerprint=fingerprint)


async def test_a_retry_with_the_same_key_and_request_gets_the_stored_response(sessions):
    assert await replay(sessions) is None
    await remember(sessions)
    assert await replay(sessions) == CODE.encode()


async def test_the_same_key_with_a_different_request_is_a_conflict(sessions):
    await remember(sessions)
    with pytest.raises(Conflict) as err:
        await replay(sessions, fingerprint=request_fingerprint("1.001193", AGENCY, '{"x":1}', "2"))
    assert "Idempotency-Key" in err.value.fields
    with pytest.raises(Conflict):
        await replay(sessions, operation="withdraw")


async def test_idempotency_keys_belong_to_one_caller(sessions):
    await remember(sessions)
    assert await replay(sessions, principal="p2") is None


async def test_no_key_means_no_idempotency_record(sessions):
    await remember(sessions, key="")
    assert await replay(sessions, key="") is None
    async with sessions() as session:
        from services.dossier.store.models import IdempotencyKey

        assert list(await session.scalars(select(IdempotencyKey))) == []


async def test_a_key_cannot_be_remembered_twice(sessions):
    # A concurrent retry loses on the primary key and replays the winner's answer instead.
    await remember(sessions)
    with pytest.raises(IntegrityError):
        await remember(sessions, response=b"other")
    assert await replay(sessions) == CODE.encode()


def test_fingerprint_separates_its_parts():
    assert request_fingerprint("ab", "c") != request_fingerprint("a", "bc")
    assert request_fingerprint("a", "b") == request_fingerprint("a", "b")
