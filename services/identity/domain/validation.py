"""Checks on what a person types when registering, each naming the field it concerns.

Every check collects all problems at once (one round trip for the person filling the form)."""

from __future__ import annotations

import re
from datetime import date

from services.identity.domain.identity_numbers import cccd_problem, tax_code_problem
from services.platform.errors import InvalidInput

# ASCII only, and nothing after the match (not even a newline).
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}", re.ASCII)
PHONE = re.compile(r"(\+84|0)[0-9]{9,10}", re.ASCII)
PERSON_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*$", re.UNICODE)
# Business and organisation names carry digits and punctuation, never markup or control characters.
BODY_NAME = re.compile(r"^[\w ,.&'()\-/+]+$", re.UNICODE)
ADDRESS = re.compile(r"^[\w ,.'()\-/#]+$", re.UNICODE)
USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,49}", re.ASCII)

OFFICIAL_ROLES = ("reception", "processing", "approval", "agency_admin", "city_admin", "operator")
MAX_PERSON_NAME = 100
MAX_BODY_NAME = 200
MAX_ADDRESS = 300
COMMON_PASSWORDS = frozenset({"matkhau123", "password123", "1234567890a", "qwerty12345", "motcua2026"})


def tidy(text: str) -> str:
    return " ".join(text.split())


def password_problem(password: str, *, personal: tuple[str, ...] = ()) -> str | None:
    """10-128 characters, not only letters or only digits, not a common one, not the person's own numbers."""
    message = "Mật khẩu cần 10-128 ký tự, gồm cả chữ và số hoặc ký hiệu, không dùng số định danh hay tên đăng nhập."
    if len(password) < 10 or len(password) > 128 or password.isdigit() or password.isalpha():
        return message
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or any(p and len(p) >= 4 and p.lower() in lowered for p in personal):
        return message
    return None


def _contact_problems(email: str, phone: str, problems: dict[str, str]) -> None:
    if email and not EMAIL.fullmatch(email):
        problems["email"] = "Địa chỉ thư điện tử không hợp lệ."
    if phone and not PHONE.fullmatch(phone):
        problems["phone"] = "Số điện thoại không hợp lệ."


def _raise(problems: dict[str, str]) -> None:
    if problems:
        raise InvalidInput("Thông tin chưa hợp lệ: " + "; ".join(problems.values()), fields=problems)


def person_name_problem(full_name: str) -> str | None:
    name = tidy(full_name)
    if not name or len(name) > MAX_PERSON_NAME or not PERSON_NAME.match(name):
        return f"Họ và tên chỉ gồm chữ cái, tối đa {MAX_PERSON_NAME} ký tự."
    return None


def check_registration(*, identity_number: str, full_name: str, date_of_birth: str, email: str,
                       phone: str, password: str) -> date:
    """A citizen's registration; returns the date of birth."""
    problems: dict[str, str] = {}
    born = None
    try:
        born = date.fromisoformat(date_of_birth)
        if born > date.today() or born.year < 1900:
            raise ValueError
    except ValueError:
        born = None
        problems["date_of_birth"] = "Ngày sinh không hợp lệ (định dạng YYYY-MM-DD)."
    number = cccd_problem(identity_number, born)
    if number:
        problems["identity_number"] = number
    name = person_name_problem(full_name)
    if name:
        problems["full_name"] = name
    _contact_problems(email, phone, problems)
    weak = password_problem(password, personal=(identity_number,))
    if weak:
        problems["password"] = weak
    _raise(problems)
    return born


def check_body_registration(*, tax_code: str, name: str, address: str, email: str, phone: str) -> None:
    """A business's or organisation's registration (by its legal representative, who is logged in)."""
    problems: dict[str, str] = {}
    number = tax_code_problem(tax_code)
    if number:
        problems["tax_code"] = number
    clean = tidy(name)
    if not clean or len(clean) > MAX_BODY_NAME or not BODY_NAME.match(clean) or not any(c.isalpha() for c in clean):
        problems["name"] = f"Tên gồm chữ, số và dấu câu thông thường, tối đa {MAX_BODY_NAME} ký tự."
    clean_address = tidy(address)
    if not clean_address or len(clean_address) > MAX_ADDRESS or not ADDRESS.match(clean_address):
        problems["address"] = f"Địa chỉ gồm chữ, số và dấu câu thông thường, tối đa {MAX_ADDRESS} ký tự."
    _contact_problems(email, phone, problems)
    _raise(problems)


def check_official(*, username: str, full_name: str, email: str, phone: str, roles: list[str],
                   password: str) -> None:
    problems: dict[str, str] = {}
    if not USERNAME.fullmatch(username):
        problems["username"] = "Tên đăng nhập gồm 3-50 chữ thường không dấu, số, dấu chấm, gạch (bắt đầu bằng chữ)."
    name = person_name_problem(full_name)
    if name:
        problems["full_name"] = name
    _contact_problems(email, phone, problems)
    roles_problem = roles_problem_of(roles)
    if roles_problem:
        problems["roles"] = roles_problem
    weak = password_problem(password, personal=(username,))
    if weak:
        problems["password"] = weak
    _raise(problems)


def roles_problem_of(roles: list[str]) -> str | None:
    if not roles or len(set(roles)) != len(roles) or any(r not in OFFICIAL_ROLES for r in roles):
        return "Vai trò phải là một hoặc nhiều trong: " + ", ".join(OFFICIAL_ROLES) + "."
    return None
