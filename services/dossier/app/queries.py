"""Reading dossiers, each through the access rule; lists use keyset pagination."""

from __future__ import annotations

import base64
import hmac
from datetime import datetime

from sqlalchemy import and_, func, literal, literal_column, or_, select, tuple_

from services.dossier.app.access import FINAL_CODES, can_see, not_found, require_official, sees_internal
from services.dossier.app.context import DossierContext
from services.dossier.domain import codes
from services.dossier.domain.calendar import deadline_flag
from services.dossier.domain.lifecycle import RUNNING, Status
from services.dossier.store.models import Dossier, LogEntry
from services.dossier.store.writes import as_utc
from services.platform.errors import InvalidInput, NotFound
from services.platform.events import utcnow
from services.platform.principal import Principal

MAX_PAGE = 100

# "Still open", written with the final codes as literals, exactly as the partial indexes'
# predicate (models.OPEN_STATUS): a planner proves a partial index usable only from the
# query's own text, and bound parameters (NOT IN ($3, $4, ...)) would hide it from the
# generic plan a prepared statement switches to after five runs.
OPEN = Dossier.status_code.not_in([literal_column(str(c)) for c in FINAL_CODES])
# Only a dossier whose clock runs can be due soon or overdue: not while it waits for the
# applicant's supplement, nor once processed. Literals, like OPEN, so a generic plan keeps the index.
CLOCK_RUNS = Dossier.status_code.in_([literal_column(str(int(s))) for s in sorted(RUNNING)])


def _page(limit: int) -> int:
    return max(1, min(limit or 20, MAX_PAGE))


def encode_token(at: datetime, code: str) -> str:
    return base64.urlsafe_b64encode(f"{as_utc(at).isoformat()}|{code}".encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        at, code = text.split("|", 1)
        return datetime.fromisoformat(at), code
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("page_token không hợp lệ.", fields={"page_token": "invalid"}) from None


async def get_dossier(ctx: DossierContext, principal: Principal, code: str) -> Dossier:
    dossier = None
    if len(code) <= 60:
        async with ctx.reads() as session:
            dossier = await session.get(Dossier, code)
    if dossier is None or not can_see(principal, dossier):
        raise not_found(code)
    return dossier


async def list_mine(ctx: DossierContext, principal: Principal, *, token: str, limit: int, status_code: int = 0):
    """The applicant's dossiers, newest first; the next page starts after the last one seen.
    Inter-agency copies are left out: the applicant follows them through the original."""
    where = [Dossier.applicant_id == principal.applicant_id, Dossier.parent_code.is_(None)]
    if status_code:
        where.append(Dossier.status_code == status_code)
    total_where = list(where)
    after = decode_token(token)
    if after is not None:
        at, code = after
        where.append(or_(Dossier.submitted_at < at, and_(Dossier.submitted_at == at, Dossier.code < code)))
    size = _page(limit)
    async with ctx.reads() as session:
        total = await session.scalar(select(func.count()).select_from(Dossier).where(*total_where))
        rows = list(await session.scalars(
            select(Dossier).where(*where).order_by(Dossier.submitted_at.desc(), Dossier.code.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    nxt = encode_token(rows[-1].submitted_at, rows[-1].code) if more and rows else ""
    return rows, int(total or 0), nxt


async def dossier_log(ctx: DossierContext, principal: Principal, code: str) -> list[LogEntry]:
    """The full log for officials; the applicant's without internal entries or notes."""
    await get_dossier(ctx, principal, code)
    async with ctx.reads() as session:
        rows = list(await session.scalars(select(LogEntry).where(LogEntry.dossier_code == code)
                                          .order_by(LogEntry.seq)))
    if sees_internal(principal):
        return rows
    for row in rows:  # detached objects: nothing is written back
        row.internal_note = ""
    return [r for r in rows if not r.internal]


async def track(ctx: DossierContext, code: str, secret: str) -> Dossier:
    """Public tracking needs the secret from the receipt; a wrong one looks like no dossier."""
    dossier = None
    if codes.looks_like_code(code):  # a malformed code costs no database read
        async with ctx.reads() as session:
            dossier = await session.get(Dossier, code)
    if dossier is None or not hmac.compare_digest(dossier.tracking_secret.encode(), secret.upper().encode()):
        raise NotFound("Không tìm thấy hồ sơ với mã và mã tra cứu này.")
    return dossier


async def work_queue(ctx: DossierContext, principal: Principal, *, status_code: int, token: str, limit: int,
                     assigned_to_me: bool = False, overdue_only: bool = False, due_soon_only: bool = False):
    """The agency's dossiers, the most urgent first (overdue first, then by due time; a
    dossier not yet accepted by when it was filed). Each filter maps onto an index: see
    the Dossier model's docstring."""
    require_official(principal)
    where = [Dossier.assignee_id == principal.account_id] if assigned_to_me else []
    where.append(Dossier.agency_code == principal.agency_code)
    where.append(Dossier.status_code == status_code if status_code else OPEN)
    now = utcnow()
    if overdue_only:
        where.append(and_(Dossier.due_at.is_not(None), Dossier.queue_at < now, CLOCK_RUNS))
    elif due_soon_only:
        soon = ctx.calendar.add_working_minutes(now, ctx.settings.due_soon_hours * 60)
        where.append(and_(Dossier.due_at.is_not(None), Dossier.queue_at >= now, Dossier.queue_at <= soon,
                          CLOCK_RUNS))
    total_where = list(where)
    after = decode_token(token)
    if after is not None:
        at, code = after
        # One row comparison: a single range of the index, where an OR of two conditions
        # may not be.
        where.append(tuple_(Dossier.queue_at, Dossier.code)
                     > tuple_(literal(at, Dossier.queue_at.type), literal(code, Dossier.code.type)))
    size = _page(limit)
    async with ctx.reads() as session:
        total = await session.scalar(select(func.count()).select_from(Dossier).where(*total_where))
        rows = list(await session.scalars(
            select(Dossier).where(*where).order_by(Dossier.queue_at, Dossier.code).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    nxt = encode_token(rows[-1].queue_at, rows[-1].code) if more and rows else ""
    return rows, int(total or 0), nxt


def flag_of(ctx: DossierContext, dossier: Dossier, now: datetime | None = None) -> str:
    if Status(dossier.status_code) not in RUNNING or dossier.due_at is None:
        return ""
    now = now or utcnow()
    soon = int(ctx.settings.due_soon_hours * 60)
    due = as_utc(dossier.due_at)
    if due > now:
        # Counting the office time up to a due date weeks ahead walks every day between;
        # the flag only asks whether it is within ``soon``, so the count may stop once
        # more than that has passed: same answer, a day or two walked (every page of a
        # queue flags each of its rows).
        due = min(due, ctx.calendar.add_working_minutes(now, soon + 1))
    return deadline_flag(ctx.calendar, due, now, soon_minutes=soon)

