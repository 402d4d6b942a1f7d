"""What makes a procedure's content acceptable, and what more it needs to be published.

Both return ``{field path: reason}`` so an API error or an import report names exactly
what is wrong (``fees[1].amount_vnd``, ``eform_schema``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Container

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from services.catalogue.domain.model import (
    APPLICANT_TYPES,
    CHANNELS,
    CODE,
    DOCUMENT_KINDS,
    LEVELS,
    MAX_VERIFICATION_LEVEL,
    ONLINE_MODES,
    TIME_UNITS,
    WORKFLOW_ROLES,
)

MAX_NAME = 1000
MAX_SCHEMA_BYTES = 64_000
# Upper bounds that fit the protobuf types (int32 copies, int64 fees) and reality: the national
# database itself lists one document as "181 bản chính" (1.013833), so copies stop at 1000.
MAX_COPIES = 1000
MAX_FEE_VND = 10**12
MAX_BUDGET_HOURS = 10_000
MAX_PROCESSING_TIME = 1_000
# Text lengths: never above the column sizes (sector varchar(200), agency codes varchar(35)...).
TEXT_LIMITS = {"name": MAX_NAME, "description": 10_000, "sector": 200, "level": 20, "agency": 500,
               "agency_code": 35, "processing_agency_code": 35, "online": 10, "result": 2000,
               "level_published": 100, "note": 2000}
LIST_LIMITS = {"applicant_types": 20, "channels": 20, "legal_basis": 1000, "conditions": 5000, "sources": 1000,
               "demo_fields": 100}
# Published document names run to 4,500 characters (they list the cases inline).
FEE_LIMITS = {"name": 5000, "condition": 5000, "exemption": 5000}
DOCUMENT_LIMITS = {"id": 20, "name": 10_000, "quantity_published": 200, "form": 1000, "condition": 5000,
                   "template_url": 2000}
STEP_LIMITS = {"id": 20, "name": 300, "agency_code": 35}
MAX_ITEMS = 200
AMOUNT_FORMAT = "phải là số nguyên VND; dấu chấm hoặc phẩy chỉ để phân cách hàng nghìn (ví dụ 50.000)"


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _amount(errors: dict, path: str, value, *, upper: float, integer: bool = False,
            not_a_number: str = "phải là một số") -> None:
    if value is None:
        return
    if not _is_number(value):
        errors[path] = not_a_number
    elif not math.isfinite(value):
        errors[path] = "phải là một số hữu hạn"
    elif value < 0:
        errors[path] = "không được âm"
    elif value > upper:
        errors[path] = f"tối đa {upper:,}".replace(",", ".")
    elif integer and int(value) != value:
        errors[path] = "phải là số nguyên"


def _lengths(errors: dict, prefix: str, record: dict, limits: dict[str, int]) -> None:
    for key, limit in limits.items():
        value = record.get(key)
        if isinstance(value, str) and len(value) > limit:
            errors.setdefault(f"{prefix}{key}", f"tối đa {limit} ký tự")


def _list_sizes(errors: dict, content: dict) -> None:
    for key in ("fees", "documents", "workflow", *LIST_LIMITS):
        if len(content.get(key) or []) > MAX_ITEMS:
            errors[key] = f"tối đa {MAX_ITEMS} mục"
    for key, limit in LIST_LIMITS.items():
        for i, item in enumerate(content.get(key) or []):
            if len(item) > limit:
                errors.setdefault(f"{key}[{i}]", f"tối đa {limit} ký tự")


def validate(content: dict, *, agencies: Container[str]) -> dict[str, str]:
    """Problems with normalised content; empty when it may be stored as a draft."""
    errors: dict[str, str] = {}
    if not CODE.match(content.get("code") or ""):
        errors["code"] = "mã thủ tục phải có dạng 1.001193"
    if not content.get("name"):
        errors["name"] = "bắt buộc"
    _lengths(errors, "", content, TEXT_LIMITS)
    _list_sizes(errors, content)
    if content.get("level") and content["level"] not in LEVELS:
        errors["level"] = "phải là " + ", ".join(LEVELS)
    if content.get("online") and content["online"] not in ONLINE_MODES:
        errors["online"] = "phải là " + ", ".join(ONLINE_MODES)
    for i, channel in enumerate(content.get("channels") or []):
        if channel not in CHANNELS:
            errors[f"channels[{i}]"] = "phải là " + ", ".join(CHANNELS)
    for i, kind in enumerate(content.get("applicant_types") or []):
        if kind not in APPLICANT_TYPES:
            errors[f"applicant_types[{i}]"] = "phải là " + ", ".join(APPLICANT_TYPES)
    for key in ("agency_code", "processing_agency_code"):
        if content.get(key) and content[key] not in agencies:
            errors[key] = f"không có cơ quan mã {content[key]}"
    time = content.get("processing_time") or {}
    _amount(errors, "processing_time.value", time.get("value"), upper=MAX_PROCESSING_TIME)
    _lengths(errors, "processing_time.", time, {"note": 1000})
    if time.get("unit") and time["unit"] not in TIME_UNITS:
        errors["processing_time.unit"] = "phải là " + ", ".join(TIME_UNITS)
    level = content.get("min_verification_level")
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= MAX_VERIFICATION_LEVEL:
        errors["min_verification_level"] = f"phải là số nguyên từ 0 đến {MAX_VERIFICATION_LEVEL}"
    for i, fee in enumerate(content.get("fees") or []):
        if "__invalid__" in fee:
            errors[f"fees[{i}]"] = "phải là một đối tượng"
            continue
        _amount(errors, f"fees[{i}].amount_vnd", fee.get("amount_vnd"), upper=MAX_FEE_VND, integer=True,
                not_a_number=AMOUNT_FORMAT)
        _lengths(errors, f"fees[{i}].", fee, FEE_LIMITS)
    _documents(errors, content.get("documents") or [])
    _workflow(errors, content.get("workflow") or [], agencies)
    schema_error = eform_schema_problem(content.get("eform_schema"))
    if schema_error:
        errors["eform_schema"] = schema_error
    return errors


def _named_items(errors: dict, field: str, items: list[dict], noun: str):
    """The checks every listed document and workflow step shares (an object, a name, an id
    unique in the list); yields each usable item with its error path."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"{field}[{i}]"
        if "__invalid__" in item:
            errors[path] = "phải là một đối tượng"
            continue
        if not item.get("name"):
            errors[f"{path}.name"] = "bắt buộc"
        if item.get("id") in seen:
            errors[f"{path}.id"] = f"mã {noun} {item['id']} bị trùng"
        seen.add(item.get("id"))
        yield path, item


def _documents(errors: dict, documents: list[dict]) -> None:
    for path, doc in _named_items(errors, "documents", documents, "giấy tờ"):
        _amount(errors, f"{path}.copies", doc.get("copies"), upper=MAX_COPIES, integer=True)
        _lengths(errors, f"{path}.", doc, DOCUMENT_LIMITS)
        if doc.get("kind") not in DOCUMENT_KINDS:
            errors[f"{path}.kind"] = "phải là " + ", ".join(DOCUMENT_KINDS)
        if not isinstance(doc.get("mandatory"), bool):
            errors[f"{path}.mandatory"] = "phải là có/không"


def _workflow(errors: dict, steps: list[dict], agencies: Container[str]) -> None:
    for path, step in _named_items(errors, "workflow", steps, "bước"):
        if step.get("role") not in WORKFLOW_ROLES:
            errors[f"{path}.role"] = "phải là " + ", ".join(WORKFLOW_ROLES)
        if step.get("budget_hours") is None:
            errors[f"{path}.budget_hours"] = "bắt buộc (số giờ làm việc)"
        else:
            _amount(errors, f"{path}.budget_hours", step.get("budget_hours"), upper=MAX_BUDGET_HOURS)
        _lengths(errors, f"{path}.", step, STEP_LIMITS)
        if step.get("agency_code") and step["agency_code"] not in agencies:
            errors[f"{path}.agency_code"] = f"không có cơ quan mã {step['agency_code']}"
        if step.get("inter_agency") and not step.get("agency_code"):
            errors[f"{path}.agency_code"] = "bước liên thông phải nêu cơ quan phối hợp"
        if not isinstance(step.get("inter_agency"), bool):
            errors[f"{path}.inter_agency"] = "phải là có/không"


def eform_schema_problem(schema) -> str:
    """Why an e-form schema is unusable, or "" when it is a valid JSON Schema 2020-12 object."""
    if schema is None:
        return ""
    if isinstance(schema, str):
        return "không phải JSON hợp lệ"
    if not isinstance(schema, dict):
        return "phải là một đối tượng JSON Schema"
    try:
        size = len(json.dumps(schema, allow_nan=False))
    except ValueError:
        return "không được chứa NaN hoặc Infinity"
    if size > MAX_SCHEMA_BYTES:
        return f"quá lớn (tối đa {MAX_SCHEMA_BYTES // 1000} KB)"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"JSON Schema không hợp lệ{' tại ' + where if where else ''}: {exc.message}"[:300]
    if schema.get("type", "object") != "object":
        return "tờ khai phải là một đối tượng (type: object)"
    return ""


def publish_problems(content: dict) -> dict[str, str]:
    """What a valid draft still lacks before citizens may file it."""
    errors: dict[str, str] = {}
    if not content.get("level"):
        errors["level"] = "cần nêu cấp thực hiện trước khi công bố"
    if not content.get("online"):
        errors["online"] = "cần nêu mức độ trực tuyến trước khi công bố"
    if not content.get("documents"):
        errors["documents"] = "thủ tục công bố phải có thành phần hồ sơ"
    if not content.get("workflow"):
        errors["workflow"] = "thủ tục công bố phải có quy trình xử lý"
    return errors
