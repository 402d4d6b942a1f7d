"""Load the real reference data (national portal procedures, HCMC agencies) on first start.

Sources are kept with every record. Values the portal does not publish are filled as
demo settings and listed (see ``domain.demo``). A record that still lacks what publishing
requires (documents, workflow) stays a draft for a city admin to complete.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.app.admin import SYSTEM, apply_content, audit, emit
from services.catalogue.app.queries import now
from services.catalogue.domain import demo
from services.catalogue.domain.model import diff, normalise
from services.catalogue.domain.validation import publish_problems, validate
from services.catalogue.store.models import Agency, Procedure

SEED_DIR = Path(__file__).resolve().parents[1] / "seed"


def agencies_from_seed(data: dict) -> list[Agency]:
    city = data["city"]
    rows = [
        Agency(code=demo.CITY_CODE, name=f"Ủy ban nhân dân {city['name']}", parent_code=None,
               kind="city", demo_code=False, data={"city": city})
    ]
    for i, dep in enumerate(data["departments"]):
        kind = "board" if dep["name"].startswith("Ban ") else "department"
        rows.append(Agency(code=dep.get("code") or demo.department_code(i), name=dep["name"],
                           parent_code=demo.CITY_CODE, kind=kind, demo_code=not dep.get("code"), data=dep))
    for i, com in enumerate(data["communes"]):
        rows.append(Agency(code=com.get("code") or demo.commune_code(i), name=com["name"],
                           parent_code=demo.CITY_CODE, kind="commune",
                           demo_code=not com.get("code"), data=com))
    return rows


def procedure_from_record(record: dict, agency_codes_by_name: dict[str, str], agencies: set[str]) -> Procedure:
    """Version 1 of a seed record: published when complete, else a draft."""
    content = normalise(demo.fill(record, agency_codes_by_name))
    ready = not validate(content, agencies=agencies) and not publish_problems(content)
    moment = now()
    row = Procedure(code=record["code"], version=1, status="published" if ready else "draft", created_at=moment,
                    updated_at=moment, updated_by=SYSTEM.name)
    apply_content(row, content)
    return row


async def seed_if_empty(session: AsyncSession, seed_dir: Path = SEED_DIR) -> bool:
    if await session.scalar(select(func.count()).select_from(Procedure)):
        return False
    agency_rows = agencies_from_seed(json.loads((seed_dir / "agencies.json").read_text(encoding="utf-8")))
    session.add_all(agency_rows)
    by_name = {a.name: a.code for a in agency_rows}
    codes = {a.code for a in agency_rows}
    records = json.loads((seed_dir / "procedures.json").read_text(encoding="utf-8"))
    rows = [procedure_from_record(r, by_name, codes) for r in records]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        await audit(session, SYSTEM, action="seed", entity="procedure", key=row.code, version=1,
                    changes=diff(None, row.data))
        if row.status == "published":
            await emit(session, row, "published")
    await session.commit()
    return True
