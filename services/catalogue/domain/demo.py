"""Demo settings for what the national portal does not publish.

The seed data leaves agency codes, online mode and some time units null (a null is a
fact not published). A city admin fills them before publishing; for the demo we fill
them with plausible values and mark every record we touched (``demo_settings``) so
no one mistakes them for official facts.
"""

from __future__ import annotations

CITY_CODE = "000.00.00.H29"


def department_code(index: int) -> str:
    """Level-2 agencies of the city: 000.00.NN.H29 (NN from 01)."""
    return f"000.00.{index + 1:02d}.H29"


def commune_code(index: int) -> str:
    """Commune-level units, numbered in a demo level-4 block: NNN.00.99.H29."""
    return f"{index + 1:03d}.00.99.H29"


def online_mode(record: dict) -> str:
    if record.get("online"):
        return record["online"]
    return "full" if "Trực tuyến" in (record.get("channels") or []) else "none"


def processing_unit(record: dict) -> str:
    time = record.get("processing_time") or {}
    return time.get("unit") or "working_day"
