"""Load the real reference data (national portal procedures, HCMC agencies) on first start.

Sources are kept with every record. Values the portal does not publish are filled as
demo settings and flagged (see ``domain.demo``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.domain import demo
from services.catalogue.domain.text import fold
from services.catalogue.store.models import Agency, Procedure

SEED_DIR = Path(__file__).resolve().parents[1] / "seed"


def agencies_from_seed(data: dict) -> list[Agency]:
    city = data["city"]
    rows = [
        Agency(code=demo.CITY_CODE, name=f"Ủy ban nhân dân {city['name']}", parent_code=None,
               kind="city", demo_code=False, data={"city": city})
    ]
    for i, dep in enumerate(data["departments"]):
        rows.append(Agency(code=dep.get("code") or demo.department_code(i), name=dep["name"],
                           parent_code=demo.CITY_CODE, kind="department",
                           demo_code=not dep.get("code"), data=dep))
    for i, com in enumerate(data["communes"]):
        rows.append(Agency(code=com.get("code") or demo.commune_code(i), name=com["name"],
                           parent_code=demo.CITY_CODE, kind="commune",
                           demo_code=not com.get("code"), data=com))
    return rows


def procedure_from_record(record: dict, *, agency_code: str = "") -> Procedure:
    """A published version 1 of a seed record, with demo settings where the portal is silent."""
    filled = dict(record)
    demo_fields = []
    if not record.get("online"):
        filled["online"] = demo.online_mode(record)
        demo_fields.append("online")
    time = dict(record.get("processing_time") or {})
    if time.get("value") is not None and not time.get("unit"):
        time["unit"] = demo.processing_unit(record)
        demo_fields.append("processing_time.unit")
    filled["processing_time"] = time
    filled["demo_fields"] = demo_fields
    text = " ".join([record["name"], record.get("sector") or "", record.get("result") or ""])
    return Procedure(
        code=record["code"],
        version=1,
        status="published",
        name=record["name"],
        name_folded=fold(record["name"]),
        search_folded=fold(text),
        sector=record.get("sector") or "",
        level=record.get("level") or "",
        agency_code=agency_code,
        online_mode=filled["online"],
        data=filled,
        created_at=datetime.now(UTC),
    )


async def seed_if_empty(session: AsyncSession, seed_dir: Path = SEED_DIR) -> bool:
    if await session.scalar(select(func.count()).select_from(Procedure)):
        return False
    agencies = json.loads((seed_dir / "agencies.json").read_text(encoding="utf-8"))
    session.add_all(agencies_from_seed(agencies))
    records = json.loads((seed_dir / "procedures.json").read_text(encoding="utf-8"))
    # Commune-level procedures are filed at the applicant's chosen commune unit (no fixed agency).
    session.add_all(procedure_from_record(r) for r in records)
    await session.commit()
    return True
