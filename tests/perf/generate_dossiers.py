"""Load realistic dossiers straight into the dossier service's database (run by hand, and
by bench_dossier.py), so queues and lookups can be measured at a city's scale.

    .venv/bin/python tests/perf/generate_dossiers.py --database-url URL [--count 1000000]
        [--days 365] [--with-log] [--seed 1] [--big-agency 068.00.99.H29] [--officials ID,ID]

URL is the dossier database (postgresql://…, postgresql+asyncpg://… or sqlite+aiosqlite:///…).
The service's Alembic migrations are applied first (a no-op on an up-to-date database).
Rows are written with PostgreSQL COPY (asyncpg's binary copy_records_to_table), columns
taken from the SQLAlchemy tables so the loader follows the model; on SQLite (small
counts, for tests) with executemany inserts. On PostgreSQL, for large loads, the
secondary indexes of ``dossiers`` are dropped before the copy and rebuilt after it from
their own definitions (pg_indexes), then the tables are VACUUM ANALYZEd.

What the rows look like:
- agencies and procedures from the catalogue's seed (the same codes the catalogue
  gives them, demo codes included), published procedures only, each at its own level:
  commune-level ones at communes, province-level ones at their department; one big
  commune (Phường Sài Gòn by default: the demo officials' agency) takes ``--big-share``
  of the filings, other communes a skewed share, departments the rest;
- filings spread over ``--days`` days back to now, weekdays mostly in office hours,
  fewer on Saturdays, few on Sundays; channels mostly online;
- statuses by the national codes, most of them finished (returned, some refused,
  withdrawn or stopped); the younger a dossier, the likelier it is still open; the
  appointment date computed with the service's own working calendar (holidays and
  office hours), so due dates fall in the past and the future and some open dossiers
  are overdue; ``queue_at`` as the service keeps it (the due time once accepted, the
  filing time before);
- processing dossiers assigned to a handful of officials per agency (``--officials``
  adds real account ids to the big agency's handful);
- codes ``{agency}-{yymmdd}-{NNNN}`` numbered per agency per Vietnamese day in filing
  order, continuing any numbers already issued, and ``code_sequences`` raised to the
  last number so new submissions do not collide;
- ``--with-log``: each dossier's genesis log entry (the submission) with its hash.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import queue
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
for _p in (str(REPO), str(REPO / "gen")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from sqlalchemy import JSON, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from services.catalogue.app.seed import SEED_DIR, agencies_from_seed, procedure_from_record  # noqa: E402
from services.dossier.domain.calendar import VIETNAM, WorkingCalendar  # noqa: E402
from services.dossier.domain.log import GENESIS, entry_hash  # noqa: E402
from services.dossier.store.models import CodeSequence, Dossier, LogEntry  # noqa: E402
from services.dossier.store.writes import log_content  # noqa: E402
from services.platform.db import upgrade_to_head_async  # noqa: E402
from services.platform.migrate import migrations_dir  # noqa: E402

MIGRATIONS = migrations_dir("dossier")
BIG_AGENCY_NAME = "Phường Sài Gòn"
TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # as services.dossier.domain.codes
FINAL = (3, 7, 8, 10)
# Among finished dossiers: returned with the result, refused at reception, withdrawn, stopped.
FINISHED_STATUSES, FINISHED_WEIGHTS = (10, 3, 7, 8), (0.88, 0.05, 0.04, 0.03)
# Among open ones: new, accepted, processing, supplement requested, fees requested, processed.
OPEN_STATUSES, OPEN_WEIGHTS = (1, 2, 4, 5, 6, 9), (0.18, 0.10, 0.47, 0.08, 0.04, 0.13)
CHANNELS, CHANNEL_WEIGHTS = (2, 1, 3), (0.70, 0.25, 0.05)  # online, at the counter, by post
OFFICIALS_PER_AGENCY = 5
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
            "Ngô", "Dương", "Lý")
MIDDLES = ("Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hoàng", "Đức", "Thu", "Quốc", "Gia", "Hữu", "Kim")
GIVEN = ("An", "Bình", "Cường", "Dung", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương", "Khánh", "Lan", "Linh",
         "Long", "Mai", "Nam", "Nga", "Phúc", "Quân", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến")
REFUSALS = ("Hồ sơ không thuộc thẩm quyền giải quyết", "Thành phần hồ sơ không hợp lệ",
            "Người nộp không đủ điều kiện theo quy định")
STOPS = ("Người nộp không bổ sung hồ sơ trong thời hạn", "Có tranh chấp, khiếu nại liên quan")
WITHDRAWALS = ("Công dân yêu cầu rút hồ sơ",)
_PAIRS = [a + b for a in TRACKING_ALPHABET for b in TRACKING_ALPHABET]
NAMESPACE = uuid.UUID("6f1c7f1e-2b3a-4c5d-9e8f-0a1b2c3d4e5f")


@dataclass(frozen=True)
class ProcedureInfo:
    code: str
    version: int
    name: str
    level: str
    agency_code: str
    value: float | None
    unit: str
    eform: str  # "birth", "marriage" or ""
    steps: int


@dataclass(frozen=True)
class AgencyInfo:
    code: str
    name: str
    kind: str


def load_catalogue(seed_dir: Path = SEED_DIR) -> tuple[list[AgencyInfo], list[ProcedureInfo]]:
    """The agencies and published procedures as the catalogue seeds them (same codes)."""
    rows = agencies_from_seed(json.loads((seed_dir / "agencies.json").read_text(encoding="utf-8")))
    agencies = [AgencyInfo(a.code, a.name, a.kind) for a in rows]
    by_name = {a.name: a.code for a in rows}
    codes = {a.code for a in rows}
    procedures = []
    for record in json.loads((seed_dir / "procedures.json").read_text(encoding="utf-8")):
        row = procedure_from_record(record, by_name, codes)
        if row.status != "published":
            continue
        data = row.data or {}
        time_ = data.get("processing_time") or {}
        eform = ""
        if data.get("eform_schema"):
            props = (data["eform_schema"].get("properties") or {})
            eform = "birth" if "child_full_name" in props else "marriage" if "husband_full_name" in props else "?"
        procedures.append(ProcedureInfo(
            code=row.code, version=row.version, name=row.name, level=data.get("level") or row.level or "",
            agency_code=data.get("agency_code") or row.agency_code or "", value=time_.get("value"),
            unit=time_.get("unit") or "working_day", eform=eform, steps=len(data.get("workflow") or []) or 3))
    return agencies, procedures


def _birth_form(rng: random.Random, name: str, when: date) -> dict:
    born = when - timedelta(days=rng.randint(1, 50))
    return {"child_full_name": f"{name.split()[0]} {rng.choice(MIDDLES)} {rng.choice(GIVEN)}",
            "child_sex": rng.choice(("Nam", "Nữ")), "child_date_of_birth": born.isoformat(),
            "place_of_birth": "Bệnh viện Từ Dũ, Thành phố Hồ Chí Minh", "requester_relationship": "Cha",
            "father_full_name": name}


def _marriage_form(rng: random.Random, name: str, when: date) -> dict:
    def person_id():
        return "079" + "".join(rng.choice("0123456789") for _ in range(9))
    return {"husband_full_name": name, "husband_date_of_birth": f"{rng.randint(1970, 2000)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "husband_identity_number": person_id(),
            "wife_full_name": f"{rng.choice(SURNAMES)} Thị {rng.choice(GIVEN)}",
            "wife_date_of_birth": f"{rng.randint(1972, 2002)}-1{rng.randint(0, 2)}-0{rng.randint(1, 9)}",
            "wife_identity_number": person_id()}


@dataclass
class Plan:
    """Who files where: agency weights and each agency's procedures and officials."""

    agencies: list[AgencyInfo]
    weights: list[float]
    procedures: dict[str, list[ProcedureInfo]]
    officials: dict[str, list[str]]
    big_agency: str

    @classmethod
    def build(cls, rng: random.Random, *, big_agency: str = "", big_share: float = 0.05,
              extra_officials: list[str] = ()) -> Plan:
        agencies, procedures = load_catalogue()
        communal = [p for p in procedures if p.level == "commune" and not p.agency_code]
        fixed: dict[str, list[ProcedureInfo]] = {}
        for p in procedures:
            if p.agency_code:
                fixed.setdefault(p.agency_code, []).append(p)
        communes = [a for a in agencies if a.kind == "commune"]
        if not big_agency:
            big_agency = next((a.code for a in communes if a.name == BIG_AGENCY_NAME), communes[0].code)
        others = [a for a in communes if a.code != big_agency]
        rng.shuffle(others)
        zipf = [1 / (rank + 1) ** 0.6 for rank in range(len(others))]
        departments = [a for a in agencies if a.code in fixed]
        chosen, weights = [], []
        big = next(a for a in agencies if a.code == big_agency)
        chosen.append(big), weights.append(big_share)
        for a, z in zip(others, zipf):
            chosen.append(a), weights.append((0.85 - big_share) * z / sum(zipf))
        for a in departments:
            chosen.append(a), weights.append(0.15 / len(departments))
        by_agency = {a.code: (fixed[a.code] if a.code in fixed else communal) for a in chosen}
        officials = {a.code: [str(uuid.uuid5(NAMESPACE, f"{a.code}/official/{i}")) for i in range(OFFICIALS_PER_AGENCY)]
                     for a in chosen}
        officials[big_agency] = [*extra_officials, *officials[big_agency]][:max(OFFICIALS_PER_AGENCY, len(extra_officials))]
        return cls(chosen, weights, by_agency, officials, big_agency)


class _MemoCalendar(WorkingCalendar):
    """The service's working calendar with each day's holiday looked up once."""

    def holiday_name(self, day: date) -> str | None:
        memo = self.__dict__.setdefault("_memo", {})
        if day not in memo:
            memo[day] = super().holiday_name(day)
        return memo[day]


def _picker(rng: random.Random, values, weights):
    cum = list(itertools.accumulate(weights))
    total = cum[-1]
    return lambda: values[bisect.bisect_left(cum, rng.random() * total)]


@dataclass
class Generator:
    """Dossier rows (and genesis log entries), oldest day first, numbered per agency per day."""

    count: int
    now: datetime
    days: int = 365
    seed: int = 1
    with_log: bool = False
    big_agency: str = ""
    big_share: float = 0.05
    officials: list[str] = field(default_factory=list)
    # Numbers already issued: (agency, yymmdd) -> last value (continued, never reused).
    issued: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.plan = Plan.build(self.rng, big_agency=self.big_agency, big_share=self.big_share,
                               extra_officials=self.officials)
        self.calendar = _MemoCalendar()
        self.finished_status = _picker(self.rng, FINISHED_STATUSES, FINISHED_WEIGHTS)
        self.open_status = _picker(self.rng, OPEN_STATUSES, OPEN_WEIGHTS)
        self.channel = _picker(self.rng, CHANNELS, CHANNEL_WEIGHTS)
        self._due_cache: dict[tuple, datetime] = {}
        self.sequences: dict[tuple[str, str], int] = dict(self.issued)
        self.applicants = [str(uuid.uuid5(NAMESPACE, f"applicant/{i}")) for i in range(max(1000, self.count // 4))]
        self._cum = list(itertools.accumulate(self.plan.weights))
        self.counts: dict[str, int] = {}

    # --- time ------------------------------------------------------------------------

    def _day_counts(self) -> list[tuple[date, int, float]]:
        """(local day, filings, fraction of the day to use): weekdays full, Saturday a
        quarter, Sunday a twentieth; today only up to now."""
        today = self.now.astimezone(VIETNAM).date()
        days = [today - timedelta(days=i) for i in range(self.days - 1, -1, -1)]
        now_local = self.now.astimezone(VIETNAM)
        today_fraction = (now_local.hour * 60 + now_local.minute) / (24 * 60)
        weights = []
        for d in days:
            w = (1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.05)[d.weekday()]
            if self.calendar.is_holiday(d):
                w = 0.05
            weights.append(w * (today_fraction if d == today else 1.0))
        total = sum(weights) or 1.0
        out, carried, given = [], 0.0, 0
        for d, w in zip(days, weights):
            carried += self.count * w / total
            n = int(round(carried)) - given
            given += n
            out.append((d, n, today_fraction if d == today else 1.0))
        if out and given != self.count:  # rounding: the last day takes the difference
            d, n, f = out[-1]
            out[-1] = (d, n + self.count - given, f)
        return out

    def _times(self, day: date, n: int, fraction: float) -> list[datetime]:
        """Filing times on a local day, sorted: counter filings in office hours, online ones
        from 06:00 to 23:00; today never past now."""
        rng = self.rng
        start = datetime(day.year, day.month, day.day, tzinfo=VIETNAM)
        limit = 24 * 3600 * fraction - 60
        out = []
        for _ in range(n):
            if rng.random() < 0.6:
                s = rng.uniform(7.5, 17.0) * 3600
            else:
                s = rng.uniform(6.0, 23.0) * 3600
            if fraction < 1.0:
                s = rng.uniform(0, max(limit, 1.0))
            out.append(start + timedelta(seconds=s))
        out.sort()
        return [t.astimezone(UTC) for t in out]

    def _due(self, accepted: datetime, p: ProcedureInfo) -> datetime:
        key = (accepted.replace(minute=0, second=0, microsecond=0), p.value, p.unit)
        due = self._due_cache.get(key)
        if due is None:
            due = self.calendar.due_at(key[0], p.value if p.value is not None else 3, p.unit)[0].astimezone(UTC)
            self._due_cache[key] = due
        return due

    # --- rows ------------------------------------------------------------------------

    def _secret(self) -> str:
        """Ten letters of the receipt alphabet (50 bits), two at a time."""
        bits = self.rng.getrandbits(50)
        pairs = _PAIRS
        return (pairs[bits & 1023] + pairs[(bits >> 10) & 1023] + pairs[(bits >> 20) & 1023]
                + pairs[(bits >> 30) & 1023] + pairs[(bits >> 40) & 1023])

    def _status(self, age_days: float) -> int:
        rng = self.rng
        p_open = 0.7 if age_days < 2 else 0.4 if age_days < 15 else 0.1 if age_days < 60 else 0.01
        if rng.random() < p_open:
            return self.open_status()
        if age_days < 0.5:  # not yet decided the same morning: still new
            return 1
        return self.finished_status()

    def _row(self, submitted: datetime, agency: AgencyInfo, day: str) -> tuple[dict, dict | None]:
        rng = self.rng
        now = self.now
        key = (agency.code, day)
        seq = self.sequences.get(key, 0) + 1
        self.sequences[key] = seq
        code = f"{agency.code}-{day}-{seq:04d}"
        p = rng.choice(self.plan.procedures[agency.code])
        officials = self.plan.officials[agency.code]
        channel = self.channel()
        applicant = rng.choice(self.applicants)
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLES)} {rng.choice(GIVEN)}"
        age = (now - submitted).total_seconds() / 86400
        status = self._status(age)
        accepted_at = due = finished = assignee = supplement_at = paid = fees = step_due = None
        reason, missing, supplements, paused, step, version = "", [], 0, 0, 0, 1
        if status not in (1, 3) and not (status == 7 and rng.random() < 0.3):
            accepted_at = min(now, submitted + timedelta(minutes=rng.uniform(10, min(age * 1440 * 0.5, 2 * 1440))))
            due = self._due(accepted_at, p)
            version += 1
        if status in (4, 5, 6, 9, 10, 8) and accepted_at is not None:
            assignee = rng.choice(officials) if rng.random() < 0.9 else None
            step = 1 if status in (4, 5, 8) else 2 if status == 6 else p.steps
            version += step + 1
            step_due = accepted_at + (due - accepted_at) * min(1.0, (step + 1) / p.steps) if due else None
        if status == 5:
            supplement_at = min(now, accepted_at + (now - accepted_at) * rng.random())
            supplements = 1
            missing = ["Bản sao giấy tờ tùy thân còn hiệu lực"]
        elif status in (9, 10) and rng.random() < 0.04:
            supplements, paused = 1, rng.randint(60, 5 * 480)
        if status == 6:
            fees = rng.choice((50_000, 100_000, 200_000))
        elif status in (9, 10) and rng.random() < 0.3:
            fees = rng.choice((50_000, 100_000, 200_000))
            paid = min(now, submitted + (now - submitted) * 0.5)
        original_due = due
        if due is not None and status not in (1, 3) and rng.random() < 0.03:
            due = due + timedelta(days=rng.randint(2, 10))
            reason = "Xin lỗi và gia hạn: cần xác minh thêm thông tin"
        if status in FINAL:
            if status == 3:
                finished = submitted + timedelta(hours=rng.uniform(1, 30))
                reason = rng.choice(REFUSALS)
            else:
                start = accepted_at or submitted
                end = due or start + timedelta(days=3)
                if status == 10 and rng.random() < 0.08:  # late
                    finished = end + timedelta(hours=rng.uniform(2, 120))
                else:
                    finished = start + (end - start) * rng.uniform(0.3, 1.0)
                if status == 7:
                    reason = WITHDRAWALS[0]
                elif status == 8:
                    reason = rng.choice(STOPS)
            finished = min(finished, now)
        updated = max(t for t in (submitted, accepted_at, supplement_at, paid, finished) if t is not None)
        submitter = applicant if channel == 2 else (officials[-1])
        form = {}
        if p.eform == "birth":
            form = _birth_form(rng, name, submitted.date())
        elif p.eform == "marriage":
            form = _marriage_form(rng, name, submitted.date())
        dossier = {
            "code": code, "procedure_code": p.code, "procedure_version": p.version, "procedure_name": p.name,
            "agency_code": agency.code, "applicant_id": applicant, "applicant_name": name, "channel": channel,
            "status_code": status, "submitted_at": submitted, "accepted_at": accepted_at, "due_at": due,
            "processing_value": float(p.value) if p.value is not None else None, "processing_unit": p.unit,
            "tracking_secret": self._secret(), "form_data": form,
            "version": version, "updated_at": updated, "queue_at": due if accepted_at is not None else submitted,
            "submitted_by": submitter, "assignee_id": assignee, "step_index": step, "step_due_at": step_due,
            "supplement_requested_at": supplement_at, "supplement_count": supplements, "paused_minutes": paused,
            "missing_items": missing, "original_due_at": original_due, "fees_due_vnd": fees, "paid_at": paid,
            "result_document_id": None, "return_method": None, "finished_at": finished, "reason": reason,
            "parent_code": None,
        }
        self.counts[status] = self.counts.get(status, 0) + 1
        log = None
        if self.with_log:
            log = {"dossier_code": code, "seq": 1, "at": submitted, "actor_id": submitter,
                   "actor_name": name if channel == 2 else "Cán bộ tiếp nhận",
                   "actor_role": "applicant" if channel == 2 else "reception", "action": "submit",
                   "status_code": 1, "note": "Nộp hồ sơ " + {2: "trực tuyến", 1: "trực tiếp", 3: "qua bưu chính"}[channel],
                   "internal": False, "internal_note": "", "prev_hash": GENESIS}
            log["hash"] = entry_hash(GENESIS, log_content(SimpleNamespace(**log)))
        return dossier, log

    def batches(self, size: int = 20_000) -> Iterator[tuple[list[dict], list[dict]]]:
        dossiers, logs = [], []
        for day, n, fraction in self._day_counts():
            if n <= 0:
                continue
            day_key = day.strftime("%y%m%d")
            times = self._times(day, n, fraction)
            picks = [self.plan.agencies[bisect.bisect_left(self._cum, self.rng.random() * self._cum[-1])]
                     for _ in range(n)]
            for at, agency in zip(times, picks):
                d, log = self._row(at, agency, day_key)
                dossiers.append(d)
                if log is not None:
                    logs.append(log)
                if len(dossiers) >= size:
                    yield dossiers, logs
                    dossiers, logs = [], []
        if dossiers:
            yield dossiers, logs


# --- writers ---------------------------------------------------------------------------


def _columns(table, present: set[str]) -> list:
    """The model's columns the database has, leaving out the generated id."""
    return [c for c in table.columns if c.name in present and c is not table.autoincrement_column]


def _default(col):
    d = col.default
    if d is not None and getattr(d, "is_scalar", False):
        return d.arg
    return None


def _records(rows: list[dict], cols: list, *, json_as_text: bool) -> list[tuple]:
    names = [c.name for c in cols]
    defaults = [_default(c) for c in cols]
    is_json = [isinstance(c.type, JSON) for c in cols]
    out = []
    for row in rows:
        rec = []
        for name, default, js in zip(names, defaults, is_json):
            v = row.get(name, default)
            if js and json_as_text and v is not None:
                v = json.dumps(v, ensure_ascii=False)
            rec.append(v)
        out.append(tuple(rec))
    return out


class PostgresWriter:
    def __init__(self, url: str):
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = None
        self.dropped: list[tuple[str, str]] = []

    async def open(self):
        import asyncpg

        self.conn = await asyncpg.connect(self.dsn)
        await self.conn.execute("SET maintenance_work_mem = '256MB'")
        self.present = {}
        for table in ("dossiers", "dossier_log"):
            rows = await self.conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1", table)
            self.present[table] = {r["column_name"] for r in rows}
        self.dossier_cols = _columns(Dossier.__table__, self.present["dossiers"])
        self.log_cols = _columns(LogEntry.__table__, self.present["dossier_log"])

    async def issued(self, days: set[str]) -> dict[tuple[str, str], int]:
        rows = await self.conn.fetch("SELECT agency_code, day, last_value FROM code_sequences WHERE day = ANY($1)",
                                     sorted(days))
        return {(r["agency_code"], r["day"]): r["last_value"] for r in rows}

    async def drop_indexes(self):
        """Secondary indexes of dossiers: a million inserts into six b-trees cost more
        than building them once afterwards."""
        rows = await self.conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'dossiers' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)")
        self.dropped = [(r["indexname"], r["indexdef"]) for r in rows]
        for name, _ in self.dropped:
            await self.conn.execute(f'DROP INDEX "{name}"')

    async def restore_indexes(self, progress: Callable[[str], None]):
        for name, ddl in self.dropped:
            t = time.monotonic()
            await self.conn.execute(ddl)
            progress(f"  index {name}: {time.monotonic() - t:.1f} s")
        self.dropped = []

    async def write(self, dossiers: list[dict], logs: list[dict]):
        await self.conn.copy_records_to_table(
            "dossiers", records=_records(dossiers, self.dossier_cols, json_as_text=True),
            columns=[c.name for c in self.dossier_cols])
        if logs:
            await self.conn.copy_records_to_table(
                "dossier_log", records=_records(logs, self.log_cols, json_as_text=True),
                columns=[c.name for c in self.log_cols])

    async def set_sequences(self, sequences: dict[tuple[str, str], int]):
        await self.conn.executemany(
            "INSERT INTO code_sequences (agency_code, day, last_value) VALUES ($1, $2, $3) "
            "ON CONFLICT (agency_code, day) DO UPDATE "
            "SET last_value = GREATEST(code_sequences.last_value, EXCLUDED.last_value)",
            [(a, d, v) for (a, d), v in sequences.items()])

    async def analyze(self):
        await self.conn.execute("VACUUM (ANALYZE) dossiers")
        await self.conn.execute("VACUUM (ANALYZE) dossier_log")
        await self.conn.execute("VACUUM (ANALYZE) code_sequences")

    async def close(self):
        if self.conn is not None:
            if self.dropped:  # a failed load still leaves the table indexed
                for _, ddl in self.dropped:
                    await self.conn.execute(ddl.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
            await self.conn.close()


class SqliteWriter:
    """Small loads (tests): plain inserts through SQLAlchemy."""

    def __init__(self, url: str):
        self.url = url
        self.dropped = []

    async def open(self):
        from services.platform.db import make_engine

        self.engine = make_engine(self.url)
        self.dossier_cols = list(Dossier.__table__.columns)
        self.log_cols = _columns(LogEntry.__table__, {c.name for c in LogEntry.__table__.columns})

    async def issued(self, days: set[str]) -> dict[tuple[str, str], int]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT agency_code, day, last_value FROM code_sequences"))).all()
        return {(a, d): v for a, d, v in rows if d in days}

    async def drop_indexes(self):
        pass

    async def restore_indexes(self, progress):
        pass

    async def write(self, dossiers: list[dict], logs: list[dict]):
        def full(rows, cols):
            return [{c.name: row.get(c.name, _default(c)) for c in cols} for row in rows]

        async with self.engine.begin() as conn:
            await conn.execute(Dossier.__table__.insert(), full(dossiers, self.dossier_cols))
            if logs:
                await conn.execute(LogEntry.__table__.insert(), full(logs, self.log_cols))

    async def set_sequences(self, sequences):
        async with self.engine.begin() as conn:
            for (agency, day), value in sequences.items():
                await conn.execute(text(
                    "INSERT INTO code_sequences (agency_code, day, last_value) VALUES (:a, :d, :v) "
                    "ON CONFLICT (agency_code, day) DO UPDATE "
                    "SET last_value = max(code_sequences.last_value, excluded.last_value)"),
                    {"a": agency, "d": day, "v": value})

    async def analyze(self):
        async with self.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))

    async def close(self):
        await self.engine.dispose()


# --- the load ---------------------------------------------------------------------------


@dataclass
class LoadReport:
    count: int
    log_entries: int
    seconds: float
    generate_seconds: float
    copy_seconds: float
    index_seconds: float
    analyze_seconds: float
    statuses: dict[int, int]
    big_agency: str
    officials: dict[str, list[str]]

    @property
    def rows_per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


async def generate(url: str, count: int = 1_000_000, *, days: int = 365, seed: int = 1, with_log: bool = False,
                   big_agency: str = "", big_share: float = 0.05, officials: list[str] = (),
                   migrate: bool = True, rebuild_indexes: bool | None = None, batch: int = 20_000,
                   now: datetime | None = None, progress: Callable[[str], None] = lambda s: None) -> LoadReport:
    """Load ``count`` dossiers into the dossier database at ``url``; see the module doc."""
    started = time.monotonic()
    if migrate:
        await upgrade_to_head_async(MIGRATIONS, url)
    postgres = make_url(url).get_backend_name() == "postgresql"
    writer = PostgresWriter(url) if postgres else SqliteWriter(url)
    now = now or datetime.now(UTC)
    gen_seconds = copy_seconds = index_seconds = 0.0
    await writer.open()
    try:
        day_keys = {(now.astimezone(VIETNAM).date() - timedelta(days=i)).strftime("%y%m%d") for i in range(days)}
        gen = Generator(count=count, now=now, days=days, seed=seed, with_log=with_log, big_agency=big_agency,
                        big_share=big_share, officials=list(officials), issued=await writer.issued(day_keys))
        if rebuild_indexes is None:
            rebuild_indexes = postgres and count >= 50_000
        if rebuild_indexes:
            await writer.drop_indexes()
        # Rows are generated in a thread while the previous batch is being copied: the
        # database works on one batch while Python builds the next.
        batches: queue.Queue = queue.Queue(maxsize=2)
        gen_time = [0.0]

        def produce():
            try:
                it = gen.batches(batch)
                while True:
                    t = time.monotonic()
                    item = next(it, None)
                    gen_time[0] += time.monotonic() - t
                    batches.put(item)
                    if item is None:
                        return
            except BaseException as exc:  # handed to the consumer
                batches.put(exc)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        written = logs = 0
        last_report = time.monotonic()
        while True:
            item = await asyncio.to_thread(batches.get)
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            dossiers, log_rows = item
            t = time.monotonic()
            await writer.write(dossiers, log_rows)
            copy_seconds += time.monotonic() - t
            written += len(dossiers)
            logs += len(log_rows)
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                progress(f"  {written:,} / {count:,} dossiers ({written / (last_report - started):,.0f}/s)")
        producer.join()
        gen_seconds = gen_time[0]
        await writer.set_sequences(gen.sequences)
        t = time.monotonic()
        await writer.restore_indexes(progress)
        index_seconds = time.monotonic() - t
        t = time.monotonic()
        await writer.analyze()
        analyze_seconds = time.monotonic() - t
    finally:
        await writer.close()
    return LoadReport(count=written, log_entries=logs, seconds=time.monotonic() - started,
                      generate_seconds=gen_seconds, copy_seconds=copy_seconds, index_seconds=index_seconds,
                      analyze_seconds=analyze_seconds, statuses=dict(sorted(gen.counts.items())),
                      big_agency=gen.plan.big_agency, officials=gen.plan.officials)


def describe(report: LoadReport) -> str:
    open_ = sum(v for k, v in report.statuses.items() if k not in FINAL)
    return (f"loaded {report.count:,} dossiers ({report.log_entries:,} log entries) in {report.seconds:.1f} s: "
            f"{report.rows_per_second:,.0f} rows/s (generating {report.generate_seconds:.1f} s in a thread, "
            f"copy waits {report.copy_seconds:.1f} s, indexes {report.index_seconds:.1f} s, "
            f"vacuum analyze {report.analyze_seconds:.1f} s)\n"
            f"statuses {report.statuses}; open {open_:,} ({open_ / max(report.count, 1):.1%}); "
            f"big agency {report.big_agency}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True, help="the dossier service's database")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365, help="filings spread over this many days back to now")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--with-log", action="store_true", help="also write each dossier's genesis log entry")
    ap.add_argument("--big-agency", default="", help="agency code taking --big-share (default Phường Sài Gòn)")
    ap.add_argument("--big-share", type=float, default=0.05)
    ap.add_argument("--officials", default="", help="comma-separated account ids among the big agency's officials")
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--keep-indexes", action="store_true", help="insert into the indexes instead of rebuilding them")
    args = ap.parse_args()
    report = asyncio.run(generate(
        args.database_url, args.count, days=args.days, seed=args.seed, with_log=args.with_log,
        big_agency=args.big_agency, big_share=args.big_share,
        officials=[o for o in args.officials.split(",") if o], batch=args.batch,
        rebuild_indexes=False if args.keep_indexes else None, progress=lambda s: print(s, flush=True)))
    print(describe(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
