"""A procedure's content as the national database describes it, checked before it is stored.

The content is a plain dict (what ``data`` holds, what export writes and import reads):
code, name, description, sector, level, agency (as published), agency_code,
processing_agency_code, applicant_types, online, channels, processing_time {value, unit,
note}, fees [{name, amount_vnd, condition, exemption}], documents [{id, name, copies,
quantity_published, form, kind, mandatory, condition, template_url}], eform_schema (JSON
Schema 2020-12 or None), result, legal_basis, conditions, min_verification_level,
workflow [{id, name, role, agency_code, budget_hours, inter_agency}], sources, demo_fields.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

LEVELS = ("province", "commune", "ministry")
ONLINE_MODES = ("full", "partial", "none")
CHANNELS = ("in_person", "online", "post")
# How the national portal prints the channels.
CHANNEL_LABELS = {"Trực tiếp": "in_person", "Trực tuyến": "online", "Dịch vụ bưu chính": "post"}
TIME_UNITS = ("working_day", "working_hour", "day")
DOCUMENT_KINDS = ("original", "copy", "certified_copy", "electronic")
APPLICANT_TYPES = ("citizen", "business", "organisation")
WORKFLOW_ROLES = ("reception", "processing", "approval", "agency_admin", "city_admin", "operator")
STATUSES = ("draft", "published", "retired")
CODE = re.compile(r"^\d{1,2}\.\d{6}$")
AGENCY_CODE = re.compile(r"^[0-9A-Z]{1,10}(\.[0-9A-Z]{1,10}){0,5}$")
MAX_VERIFICATION_LEVEL = 2  # identity's levels: 0 account, 1 contact verified, 2 identity verified
# A whole amount of VND or copies as a person writes it: "50000", "50.000", "50,000", "1.250.000".
WHOLE = re.compile(r"^\d+$|^\d{1,3}(\.\d{3})+$|^\d{1,3}(,\d{3})+$")

LIST_FIELDS = ("applicant_types", "channels", "legal_basis", "conditions", "sources", "demo_fields")
TEXT_FIELDS = ("code", "name", "description", "sector", "level", "agency", "agency_code",
               "processing_agency_code", "online", "result")
FIELDS = (*TEXT_FIELDS, *LIST_FIELDS, "processing_time", "fees", "documents", "eform_schema",
          "min_verification_level", "workflow", "level_published", "note")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.splitlines() if v.strip()]
    if not isinstance(value, list | tuple):
        return [_text(value)]
    return [_text(v) for v in value if _text(v)]


def _number(value: Any):
    """A number stays a number; a numeric string becomes one; anything else is kept for the
    validator to name (never silently turned into zero)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        return value
    return int(number) if math.isfinite(number) and number.is_integer() else number


def _whole(value: Any):
    """A whole number (VND, copies). Vietnamese writes "." between thousands, so "50.000" is
    fifty thousand; "50.5" or "50,00" cannot be a whole number and is kept for the validator."""
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if WHOLE.match(text):
            return int(text.replace(".", "").replace(",", ""))
        return None if text == "" else value
    number = _number(value)
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        return int(number)
    return number


def _flag(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "x", "có", "co"):
        return True
    if text in ("", "0", "false", "no", "không", "khong"):
        return False
    return value


def channel_code(label: str) -> str:
    return CHANNEL_LABELS.get(label, label)


def normalise(raw: dict) -> dict:
    """The content in canonical form: known keys only, lists as lists, channels as codes
    (deduplicated), numbers as numbers. Does not judge validity (see ``validation``)."""
    out: dict[str, Any] = {k: _text(raw.get(k)) for k in TEXT_FIELDS}
    for k in LIST_FIELDS:
        out[k] = _texts(raw.get(k))
    if raw.get("level_published"):
        out["level_published"] = _text(raw["level_published"])
    if raw.get("note"):
        out["note"] = _text(raw["note"])
    out["channels"] = list(dict.fromkeys(channel_code(c) for c in out["channels"]))
    time = raw.get("processing_time") or {}
    time = time if isinstance(time, dict) else {"value": time}
    out["processing_time"] = {"value": _number(time.get("value")), "unit": _text(time.get("unit")) or None,
                              "note": _text(time.get("note"))}
    out["fees"] = [
        {"name": _text(f.get("name")), "amount_vnd": _whole(f.get("amount_vnd")),
         "condition": _text(f.get("condition")), "exemption": _text(f.get("exemption"))}
        for f in _dicts(raw.get("fees"))
    ]
    out["documents"] = [
        {"id": _text(d.get("id")) or f"d{i + 1}", "name": _text(d.get("name")),
         "copies": _whole(d.get("copies")) if d.get("copies") not in (None, "") else 1,
         "quantity_published": _text(d.get("quantity_published")), "form": _text(d.get("form")),
         "kind": _text(d.get("kind")) or "original", "mandatory": _flag(d.get("mandatory", False)),
         "condition": _text(d.get("condition")), "template_url": _text(d.get("template_url"))}
        for i, d in enumerate(_dicts(raw.get("documents")))
    ]
    out["workflow"] = [
        {"id": _text(s.get("id")) or f"s{i + 1}", "name": _text(s.get("name")), "role": _text(s.get("role")),
         "agency_code": _text(s.get("agency_code")), "budget_hours": _number(s.get("budget_hours")),
         "inter_agency": _flag(s.get("inter_agency", False))}
        for i, s in enumerate(_dicts(raw.get("workflow")))
    ]
    schema = raw.get("eform_schema")
    if isinstance(schema, str):
        schema = schema.strip()
        if schema:
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError:
                pass  # kept as text: the validator reports it
        else:
            schema = None
    out["eform_schema"] = schema or None
    level = raw.get("min_verification_level")
    out["min_verification_level"] = 0 if level in (None, "") else _number(level)
    if not out["online"] and raw.get("online_mode"):
        out["online"] = _text(raw["online_mode"])
    return out


def _dicts(value: Any) -> list[dict]:
    if not value:
        return []
    if not isinstance(value, list):
        return [{"__invalid__": value}]
    return [v if isinstance(v, dict) else {"__invalid__": v} for v in value]


def search_text(content: dict) -> str:
    """What besides the name a citizen's words may match: sector, result, description, code."""
    return " ".join(filter(None, [content.get("sector"), content.get("result"), content.get("description"),
                                  content.get("code")]))


def diff(old: dict | None, new: dict) -> list[dict]:
    """Field-level changes (old and new values as JSON text) for the audit trail."""
    old = old or {}
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before != after:
            changes.append({"field": key, "old": json.dumps(before, ensure_ascii=False, default=str),
                            "new": json.dumps(after, ensure_ascii=False, default=str)})
    return changes
