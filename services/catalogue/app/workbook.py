"""The catalogue as an Excel workbook: one sheet of procedures and one sheet each for their
documents, fees and workflow steps (linked by procedure code). Lists in a cell are one item
per line. Reading keeps each item's sheet row so an import error names the row."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from services.platform.errors import InvalidInput

PROCEDURE_COLUMNS = (
    "code", "version", "status", "effective_from", "effective_to", "name", "description", "sector", "level",
    "agency", "agency_code", "processing_agency_code", "applicant_types", "online", "channels",
    "processing_time_value", "processing_time_unit", "processing_time_note", "result", "legal_basis",
    "conditions", "min_verification_level", "eform_schema", "sources", "demo_fields", "level_published", "note",
)
LIST_COLUMNS = ("applicant_types", "channels", "legal_basis", "conditions", "sources", "demo_fields")
CHILD_SHEETS = {
    "documents": ("code", "id", "name", "copies", "quantity_published", "form", "kind", "mandatory", "condition",
                  "template_url"),
    "fees": ("code", "name", "amount_vnd", "condition", "exemption"),
    "workflow": ("code", "id", "name", "role", "agency_code", "budget_hours", "inter_agency"),
}
MAX_ROWS = 20_000


@dataclass
class SheetItem:
    """One procedure read from a file, with where each part came from."""

    raw: dict
    label: str
    child_labels: dict[str, list[str]] = field(default_factory=dict)

    def where(self, path: str) -> str:
        """``documents[2].kind`` -> ``documents row 7: kind``; others -> ``procedures row 3: path``."""
        head, _, rest = path.partition(".")
        for sheet, labels in self.child_labels.items():
            if head.startswith(f"{sheet}[") and head.endswith("]"):
                try:
                    return f"{labels[int(head[len(sheet) + 1:-1])]}: {rest or sheet}"
                except (ValueError, IndexError):
                    break
        return f"{self.label}: {path}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "x" if value else ""
    return value


def write(items: list[dict]) -> bytes:
    """``items``: content dicts with version, status and effective dates added."""
    from openpyxl import Workbook  # imported on use: 13 MiB an idle catalogue need not hold

    book = Workbook()
    sheet = book.active
    sheet.title = "procedures"
    sheet.append(list(PROCEDURE_COLUMNS))
    children = {name: book.create_sheet(name) for name in CHILD_SHEETS}
    for name, columns in CHILD_SHEETS.items():
        children[name].append(list(columns) + ["version"])
    for item in items:
        time = item.get("processing_time") or {}
        flat = dict(item, processing_time_value=time.get("value"), processing_time_unit=time.get("unit"),
                    processing_time_note=time.get("note"))
        sheet.append([_cell(flat.get(c)) for c in PROCEDURE_COLUMNS])
        for name, columns in CHILD_SHEETS.items():
            for child in item.get(name) or []:
                row = dict(child, code=item["code"])
                children[name].append([_cell(row.get(c)) for c in columns] + [item.get("version")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rows(sheet) -> tuple[list[str], list[tuple[int, dict]]]:
    rows = sheet.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    out = []
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS:
            raise InvalidInput(f"Tệp có quá nhiều dòng (tối đa {MAX_ROWS}).", fields={"file": "too many rows"})
        if all(v in (None, "") for v in values):
            continue
        out.append((number, {h: v for h, v in zip(header, values) if h}))
    return header, out


def read(content: bytes) -> tuple[list[SheetItem], dict[str, str]]:
    """The procedures in the workbook, and the child rows that name no procedure in it."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, OSError, Exception) as exc:  # zip, xml: all mean "not a workbook"
        raise InvalidInput("Tệp không phải sổ tính Excel (.xlsx) hợp lệ.", fields={"file": "not an xlsx workbook"}) from exc
    if "procedures" not in book.sheetnames:
        raise InvalidInput("Sổ tính phải có trang \"procedures\".", fields={"file": "missing sheet procedures"})
    header, rows = _rows(book["procedures"])
    if "code" not in header or "name" not in header:
        raise InvalidInput("Trang procedures phải có cột code và name.", fields={"procedures row 1": "missing columns"})
    items: list[SheetItem] = []
    by_code: dict[str, SheetItem] = {}
    for number, row in rows:
        raw = {k: v for k, v in row.items() if k in PROCEDURE_COLUMNS}
        for key in LIST_COLUMNS:
            raw[key] = raw.get(key) if raw.get(key) is not None else []
            if not isinstance(raw[key], str | list):
                raw[key] = str(raw[key])
        raw["processing_time"] = {"value": raw.pop("processing_time_value", None),
                                  "unit": raw.pop("processing_time_unit", None),
                                  "note": raw.pop("processing_time_note", None)}
        raw["code"] = str(raw.get("code") or "").strip()
        for name in CHILD_SHEETS:
            raw[name] = []
        item = SheetItem(raw, f"procedures row {number}", {name: [] for name in CHILD_SHEETS})
        items.append(item)
        by_code.setdefault(raw["code"], item)
    orphans: dict[str, str] = {}
    for name in CHILD_SHEETS:
        if name not in book.sheetnames:
            continue
        _, child_rows = _rows(book[name])
        for number, row in child_rows:
            code = str(row.get("code") or "").strip()
            owner = by_code.get(code)
            if owner is None:
                orphans[f"{name} row {number}: code"] = f"không có thủ tục mã {code or '(trống)'} trong trang procedures"
                continue
            owner.raw[name].append({k: v for k, v in row.items() if k not in ("code", "version")})
            owner.child_labels[name].append(f"{name} row {number}")
    return items, orphans
