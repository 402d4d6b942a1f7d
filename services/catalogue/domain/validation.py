"""What makes a procedure's content acceptable, and what more it needs to be published.

Both return ``{field path: reason}`` so an API error or an import report names exactly
what is wrong (``fees[1].amount_vnd``, ``eform_schema``).
"""

from __future__ import annotations

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


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _amount(errors: dict, path: str, value, *, integer: bool = False) -> None:
    if value is None:
        return
    if not _is_number(value):
        errors[path] = "phải là một số"
    elif value < 0:
        errors[path] = "không được âm"
    elif integer and int(value) != value:
        errors[path] = "phải là số nguyên"


def validate(content: dict, *, agencies: Container[str]) -> dict[str, str]:
    """Problems with normalised content; empty when it may be stored as a draft."""
    errors: dict[str, str] = {}
    if not CODE.match(content.get("code") or ""):
        errors["code"] = "mã thủ tục phải có dạng 1.001193"
    if not content.get("name"):
        errors["name"] = "bắt buộc"
    elif len(content["name"]) > MAX_NAME:
        errors["name"] = f"tối đa {MAX_NAME} ký tự"
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
    _amount(errors, "processing_time.value", time.get("value"))
    if time.get("unit") and time["unit"] not in TIME_UNITS:
        errors["processing_time.unit"] = "phải là " + ", ".join(TIME_UNITS)
    level = content.get("min_verification_level")
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= MAX_VERIFICATION_LEVEL:
        errors["min_verification_level"] = f"phải là số nguyên từ 0 đến {MAX_VERIFICATION_LEVEL}"
    for i, fee in enumerate(content.get("fees") or []):
        if "__invalid__" in fee:
            errors[f"fees[{i}]"] = "phải là một đối tượng"
            continue
        _amount(errors, f"fees[{i}].amount_vnd", fee.get("amount_vnd"), integer=True)
    _documents(errors, content.get("documents") or [])
    _workflow(errors, content.get("workflow") or [], agencies)
    schema_error = eform_schema_problem(content.get("eform_schema"))
    if schema_error:
        errors["eform_schema"] = schema_error
    return errors


def _documents(errors: dict, documents: list[dict]) -> None:
    seen: set[str] = set()
    for i, doc in enumerate(documents):
        path = f"documents[{i}]"
        if "__invalid__" in doc:
            errors[path] = "phải là một đối tượng"
            continue
        if not doc.get("name"):
            errors[f"{path}.name"] = "bắt buộc"
        if doc.get("id") in seen:
            errors[f"{path}.id"] = f"mã giấy tờ {doc['id']} bị trùng"
        seen.add(doc.get("id"))
        _amount(errors, f"{path}.copies", doc.get("copies"), integer=True)
        if doc.get("kind") not in DOCUMENT_KINDS:
            errors[f"{path}.kind"] = "phải là " + ", ".join(DOCUMENT_KINDS)
        if not isinstance(doc.get("mandatory"), bool):
            errors[f"{path}.mandatory"] = "phải là có/không"


def _workflow(errors: dict, steps: list[dict], agencies: Container[str]) -> None:
    seen: set[str] = set()
    for i, step in enumerate(steps):
        path = f"workflow[{i}]"
        if "__invalid__" in step:
            errors[path] = "phải là một đối tượng"
            continue
        if not step.get("name"):
            errors[f"{path}.name"] = "bắt buộc"
        if step.get("id") in seen:
            errors[f"{path}.id"] = f"mã bước {step['id']} bị trùng"
        seen.add(step.get("id"))
        if step.get("role") not in WORKFLOW_ROLES:
            errors[f"{path}.role"] = "phải là " + ", ".join(WORKFLOW_ROLES)
        if step.get("budget_hours") is None:
            errors[f"{path}.budget_hours"] = "bắt buộc (số giờ làm việc)"
        else:
            _amount(errors, f"{path}.budget_hours", step.get("budget_hours"))
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
    import json

    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
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
