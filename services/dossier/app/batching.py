"""Group commit for submissions: the submissions of one agency that arrive while its
previous transaction is committing are written together in the next one.

Gap-free dossier codes serialise an agency's submissions of the day on its counter row.
Written one by one, that row allows one commit at a time; written together, one
transaction takes N numbers, inserts N dossiers with their log entries, events and
idempotency records, and commits once. If a batch fails (an idempotency key used twice,
a database error), each of its submissions is written on its own, so one bad submission
never fails the others."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from services.dossier.domain import codes
from services.dossier.store.models import IdempotencyKey
from services.dossier.store.writes import insert_rows, next_sequence
from services.platform.logging import get_logger

log = get_logger("dossier.batching")


class _Replay(Exception):
    """A submission of the batch retries an earlier one: write them one by one."""


@dataclass
class SubmissionBatcher:
    ctx: object  # DossierContext
    max_batch: int = 100
    _queues: dict[tuple[str, str], list] = field(default_factory=dict)
    _tasks: set[asyncio.Task] = field(default_factory=set)

    async def submit(self, filing):
        future = asyncio.get_running_loop().create_future()
        key = (filing.agency_code, filing.day)
        queue = self._queues.get(key)
        if queue is None:
            self._queues[key] = [(filing, future)]
            task = asyncio.create_task(self._drain(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            queue.append((filing, future))
        return await future

    async def _drain(self, key: tuple[str, str]) -> None:
        queue = self._queues[key]
        try:
            while queue:
                batch = queue[:self.max_batch]
                del queue[:self.max_batch]
                await self._write(batch)
        finally:
            del self._queues[key]  # no await since the last check: nothing was added meanwhile

    async def _write(self, batch: list) -> None:
        from services.dossier.app.submit import write_one

        if len(batch) > 1:
            try:
                results = await write_batch(self.ctx, [f for f, _ in batch])
            except Exception as exc:  # one by one below
                if not isinstance(exc, _Replay):
                    log.warning("submission_batch_failed", size=len(batch), error=str(exc)[:200])
            else:
                for (_, future), result in zip(batch, results):
                    if not future.done():
                        future.set_result(result)
                return
        for filing, future in batch:
            try:
                result = await write_one(self.ctx, filing, {})
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)


async def write_batch(ctx, filings: list) -> list:
    from services.dossier.app.submit import Submitted, build_rows

    agency, day = filings[0].agency_code, filings[0].day
    keys = IdempotencyKey.__table__
    async with ctx.sessions() as session, session.begin():
        connection = await session.connection()
        last = await next_sequence(connection, agency or "-", day, count=len(filings))
        first = last - len(filings) + 1
        built = [build_rows(f, codes.dossier_code(agency, day, first + i)) for i, f in enumerate(filings)]
        merged = [(table, [row for _, rows in built for row in rows[n][1]]) for n, (table, _) in enumerate(built[0][1])]
        keyed = sum(1 for f in filings if f.cmd.idempotency_key)
        # Keys go in ON CONFLICT DO NOTHING: one already used (or twice in the batch)
        # inserts fewer, and the batch is rolled back and written one by one.
        if await insert_rows(session, merged, guard=keys) < keyed:
            raise _Replay()
    return [Submitted(dossier, False) for dossier, _ in built]
