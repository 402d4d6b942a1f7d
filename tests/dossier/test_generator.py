"""The benchmark's dossier generator writes rows the service can use, on SQLite and PostgreSQL:
valid gap-free codes that new submissions continue, consistent statuses and dates, a
verifiable genesis log entry, and a work queue the service's own query reads."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.dossier.app.context import DossierContext
from services.dossier.app.queries import work_queue
from services.dossier.domain import codes
from services.dossier.domain.lifecycle import FINAL, Status
from services.dossier.domain.log import first_broken
from services.dossier.store.models import CodeSequence, Dossier, LogEntry
from services.dossier.store.writes import as_utc, log_content, next_sequence
from services.platform.db import Database
from services.platform.principal import Principal
from tests.perf.generate_dossiers import generate

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # a Tuesday, 16:30 in Vietnam
BIG = "068.00.99.H29"
OFFICIAL = "7d1c0f52-0d1b-4a8e-9b1e-3f2a1c0d9e77"


@pytest.fixture
def url(migrated):
    return migrated("dossier")


async def test_generated_dossiers_are_valid_and_new_numbers_follow(url):
    report = await generate(url, 600, days=20, seed=3, with_log=True, big_agency=BIG, big_share=0.3,
                            officials=[OFFICIAL], migrate=False, rebuild_indexes=True, now=NOW, batch=250)
    assert report.count == 600 and report.log_entries == 600
    # A second load continues the numbering instead of colliding with the first.
    again = await generate(url, 50, days=2, seed=4, big_agency=BIG, migrate=False, now=NOW)
    assert again.count == 50

    db = Database.connect(url)
    try:
        async with db.reads() as session:
            dossiers = list(await session.scalars(select(Dossier)))
            logs = {e.dossier_code: e for e in await session.scalars(select(LogEntry))}
            sequences = {(s.agency_code, s.day): s.last_value for s in await session.scalars(select(CodeSequence))}
        assert len(dossiers) == 650 and len(logs) == 600

        numbers = defaultdict(list)
        statuses = set()
        for d in dossiers:
            assert codes.looks_like_code(d.code)
            agency, day, seq = d.code.rsplit("-", 2)
            assert agency == d.agency_code
            submitted = as_utc(d.submitted_at)
            assert day == codes.day_key(submitted) and submitted <= NOW
            numbers[(agency, day)].append(int(seq))
            status = Status(d.status_code)
            statuses.add(status)
            assert len(d.tracking_secret) == 10 and d.procedure_version >= 1 and d.procedure_name
            if status == Status.NEW or d.accepted_at is None:
                assert d.due_at is None and as_utc(d.queue_at) == submitted
            else:
                assert as_utc(d.accepted_at) >= submitted and d.due_at is not None
                assert as_utc(d.queue_at) == as_utc(d.due_at)
            assert (d.finished_at is not None) == (status in FINAL)
            if d.finished_at is not None:
                assert submitted <= as_utc(d.finished_at) <= NOW
        # Gap-free per agency per day, and the counters stand at the last number issued.
        for key, seqs in numbers.items():
            assert sorted(seqs) == list(range(1, len(seqs) + 1)), key
            assert sequences[key] == len(seqs)
        assert Status.RETURNED in statuses and statuses & {Status.PROCESSING, Status.ACCEPTED, Status.NEW}
        finished = sum(1 for d in dossiers if Status(d.status_code) in FINAL)
        assert finished > len(dossiers) / 2  # most are finished

        for d in dossiers:  # each loaded dossier's genesis entry verifies
            if d.code in logs:
                e = logs[d.code]
                assert first_broken([(log_content(e), e.prev_hash, e.hash)]) is None

        # The next submission today at the busiest agency takes the number after the last.
        today = codes.day_key(NOW)
        async with db.sessions() as session, session.begin():
            nxt = await next_sequence(session, BIG, today)
        assert nxt == sequences.get((BIG, today), 0) + 1
        assert f"{BIG}-{today}-{nxt:04d}" not in {d.code for d in dossiers}

        # The service's own queue query reads the big agency's open dossiers, urgent first.
        ctx = DossierContext(sessions=db.sessions, catalogue=None, relay=None, reads=db.reads)
        official = Principal(account_id=OFFICIAL, kind="official", roles=("reception", "processing"),
                             agency_code=BIG)
        rows, total, _ = await work_queue(ctx, official, status_code=0, token="", limit=100)
        open_big = [d for d in dossiers if d.agency_code == BIG and Status(d.status_code) not in FINAL]
        assert total == len(open_big) > 0
        assert [r.code for r in rows] == [d.code for d in sorted(open_big, key=lambda d: (as_utc(d.queue_at), d.code))][:100]
        mine, mine_total, _ = await work_queue(ctx, official, status_code=0, token="", limit=100, assigned_to_me=True)
        assert mine_total == sum(1 for d in open_big if d.assignee_id == OFFICIAL)
    finally:
        await db.dispose()
