"""Demo settings for what the national portal does not publish.

The seed data leaves agency codes, online mode, some time units, workflows, e-forms and
which documents are mandatory unpublished (a null is a fact not published). A city admin
fills them before publishing; for the demo we fill them with plausible values and list
every field we filled in ``demo_fields`` (shown as ``demo_settings``) so no one mistakes
them for official facts.
"""

from __future__ import annotations

import copy

CITY_CODE = "000.00.00.H29"
HOURS_PER_DAY = 8
DEFAULT_DAYS = 3

# Province-level procedures: which city agency receives them, from the portal's agency text.
DEPARTMENT_BY_PUBLISHED_AGENCY = (
    ("Sở Tài chính", "Sở Tài chính"),
    ("Sở Xây dựng", "Sở Xây dựng"),
    ("đăng ký đất đai", "Sở Nông nghiệp và Môi trường"),
    ("Công an", "Công an Thành phố Hồ Chí Minh"),
    ("xuất nhập cảnh", "Công an Thành phố Hồ Chí Minh"),
)

# One demo inter-agency step: land registration at a commune asks the land registry office
# (under the Department of Agriculture and Environment) to confirm.
INTER_AGENCY = {"1.013978": ("Sở Nông nghiệp và Môi trường", "Văn phòng đăng ký đất đai xác nhận hồ sơ")}

CITIZEN_SECTORS = ("Hộ tịch", "Đăng ký, quản lý cư trú", "Căn cước", "Chứng thực", "Xuất nhập cảnh")

BIRTH_EFORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Tờ khai đăng ký khai sinh (mẫu minh họa)",
    "type": "object",
    "properties": {
        "child_full_name": {"type": "string", "title": "Họ, chữ đệm, tên người được khai sinh", "minLength": 2, "maxLength": 100},
        "child_sex": {"type": "string", "title": "Giới tính", "enum": ["Nam", "Nữ"]},
        "child_date_of_birth": {"type": "string", "title": "Ngày, tháng, năm sinh", "format": "date"},
        "place_of_birth": {"type": "string", "title": "Nơi sinh", "minLength": 2, "maxLength": 300},
        "mother_full_name": {"type": "string", "title": "Họ, chữ đệm, tên người mẹ", "maxLength": 100},
        "father_full_name": {"type": "string", "title": "Họ, chữ đệm, tên người cha", "maxLength": 100},
        "requester_relationship": {"type": "string", "title": "Quan hệ với người được khai sinh",
                                   "enum": ["Cha", "Mẹ", "Ông", "Bà", "Người thân thích khác"]},
    },
    "required": ["child_full_name", "child_sex", "child_date_of_birth", "place_of_birth", "requester_relationship"],
    "additionalProperties": False,
}

MARRIAGE_EFORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Tờ khai đăng ký kết hôn (mẫu minh họa)",
    "type": "object",
    "properties": {
        "husband_full_name": {"type": "string", "title": "Họ, chữ đệm, tên bên nam", "minLength": 2, "maxLength": 100},
        "husband_date_of_birth": {"type": "string", "title": "Ngày sinh bên nam", "format": "date"},
        "husband_identity_number": {"type": "string", "title": "Số định danh cá nhân bên nam", "pattern": "^[0-9]{12}$"},
        "wife_full_name": {"type": "string", "title": "Họ, chữ đệm, tên bên nữ", "minLength": 2, "maxLength": 100},
        "wife_date_of_birth": {"type": "string", "title": "Ngày sinh bên nữ", "format": "date"},
        "wife_identity_number": {"type": "string", "title": "Số định danh cá nhân bên nữ", "pattern": "^[0-9]{12}$"},
    },
    "required": ["husband_full_name", "husband_date_of_birth", "husband_identity_number",
                 "wife_full_name", "wife_date_of_birth", "wife_identity_number"],
    "additionalProperties": False,
}

# E-forms and mandatory documents (by position in the published list) for the procedures
# the demo files end to end.
EFORMS = {"1.001193": BIRTH_EFORM, "1.000894": MARRIAGE_EFORM}
MANDATORY_DOCUMENTS = {"1.001193": ("Giấy chứng sinh",), "1.000894": ("Hộ chiếu/Thẻ căn cước",)}


def department_code(index: int) -> str:
    """Level-2 agencies of the city: 000.00.NN.H29 (NN from 01)."""
    return f"000.00.{index + 1:02d}.H29"


def commune_code(index: int) -> str:
    """Commune-level units, numbered in a demo level-4 block: NNN.00.99.H29."""
    return f"{index + 1:03d}.00.99.H29"


def online_mode(record: dict) -> str:
    if record.get("online"):
        return record["online"]
    channels = record.get("channels") or []
    return "full" if "Trực tuyến" in channels or "online" in channels else "none"


def processing_unit(record: dict) -> str:
    time = record.get("processing_time") or {}
    return time.get("unit") or "working_day"


def document_kind(quantity_published: str) -> str:
    """Read from the portal's quantity text ("1 bản chính", "1 bản sao chứng thực")."""
    text = (quantity_published or "").lower()
    if "chứng thực" in text:
        return "certified_copy"
    if "bản sao" in text:
        return "copy"
    if "điện tử" in text:
        return "electronic"
    return "original"


def budget_hours(time: dict) -> float:
    value = time.get("value")
    if value is None:
        return DEFAULT_DAYS * HOURS_PER_DAY
    return float(value) if time.get("unit") == "working_hour" else float(value) * HOURS_PER_DAY


def workflow(total_hours: float, inter_agency: tuple[str, str] | None = None) -> list[dict]:
    """Reception -> processing (-> another agency) -> approval, all within the legal time."""
    reception = max(0.5, round(total_hours * 0.125 * 2) / 2)
    approval = max(0.5, round(total_hours * 0.25 * 2) / 2)
    processing = max(0.5, total_hours - reception - approval)
    steps = [{"id": "s1", "name": "Tiếp nhận hồ sơ", "role": "reception", "agency_code": "",
              "budget_hours": reception, "inter_agency": False}]
    if inter_agency:
        agency_code, name = inter_agency
        half = max(0.5, round(processing / 2 * 2) / 2)
        steps.append({"id": "s2", "name": "Thẩm định, xử lý hồ sơ", "role": "processing", "agency_code": "",
                      "budget_hours": processing - half if processing > half else half, "inter_agency": False})
        steps.append({"id": "s3", "name": name, "role": "processing", "agency_code": agency_code,
                      "budget_hours": half, "inter_agency": True})
    else:
        steps.append({"id": "s2", "name": "Thẩm định, xử lý hồ sơ", "role": "processing", "agency_code": "",
                      "budget_hours": processing, "inter_agency": False})
    steps.append({"id": f"s{len(steps) + 1}", "name": "Phê duyệt, ký kết quả", "role": "approval",
                  "agency_code": "", "budget_hours": approval, "inter_agency": False})
    return steps


def fill(record: dict, agency_codes_by_name: dict[str, str]) -> dict:
    """The seed record with demo settings where the portal is silent, each one listed."""
    filled = copy.deepcopy(record)
    demo_fields: list[str] = []
    if not record.get("online"):
        filled["online"] = online_mode(record)
        demo_fields.append("online")
    time = dict(record.get("processing_time") or {})
    if time.get("value") is not None and not time.get("unit"):
        time["unit"] = processing_unit(record)
        demo_fields.append("processing_time.unit")
    filled["processing_time"] = time
    if record.get("level") == "province" and not record.get("agency_code"):
        published = record.get("agency") or ""
        for needle, department in DEPARTMENT_BY_PUBLISHED_AGENCY:
            if needle.lower() in published.lower() and department in agency_codes_by_name:
                filled["agency_code"] = agency_codes_by_name[department]
                demo_fields.append("agency_code")
                break
    if not record.get("applicant_types"):
        citizen_only = record.get("sector") in CITIZEN_SECTORS
        filled["applicant_types"] = ["citizen"] if citizen_only else ["citizen", "business", "organisation"]
        demo_fields.append("applicant_types")
    documents = [dict(d) for d in record.get("documents") or []]
    for i, doc in enumerate(documents):
        doc.setdefault("id", f"d{i + 1}")
        doc.setdefault("kind", document_kind(doc.get("quantity_published") or ""))
    mandatory = MANDATORY_DOCUMENTS.get(record["code"], ())
    if mandatory:
        for doc in documents:
            doc["mandatory"] = any(doc.get("name", "").startswith(m) for m in mandatory)
            if not doc["mandatory"]:
                doc["condition"] = "Theo trường hợp nêu trong tên giấy tờ"
        demo_fields.append("documents.mandatory")
    filled["documents"] = documents
    if not record.get("workflow") and documents:
        inter = INTER_AGENCY.get(record["code"])
        inter_step = (agency_codes_by_name[inter[0]], inter[1]) if inter and inter[0] in agency_codes_by_name else None
        filled["workflow"] = workflow(budget_hours(time), inter_step)
        demo_fields.append("workflow")
    if record["code"] in EFORMS and not record.get("eform_schema"):
        filled["eform_schema"] = copy.deepcopy(EFORMS[record["code"]])
        demo_fields.append("eform_schema")
    filled["demo_fields"] = demo_fields
    return filled
