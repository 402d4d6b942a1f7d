"""Checks on what a person types when registering, each naming the field it concerns."""

from __future__ import annotations

import re
from datetime import date

from services.platform.errors import InvalidInput

# ASCII digits only, and nothing after the match (not even a newline).
CCCD = re.compile(r"[0-9]{12}", re.ASCII)
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}", re.ASCII)
PHONE = re.compile(r"(\+84|0)[0-9]{9,10}", re.ASCII)
NAME = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*$", re.UNICODE)


def check_registration(*, identity_number: str, full_name: str, date_of_birth: str, email: str,
                       phone: str, password: str) -> date:
    problems: dict[str, str] = {}
    if not CCCD.fullmatch(identity_number):
        problems["identity_number"] = "Số định danh cá nhân (CCCD) phải gồm đúng 12 chữ số."
    name = " ".join(full_name.split())
    if not name or len(name) > 100 or not NAME.match(name):
        problems["full_name"] = "Họ và tên chỉ gồm chữ cái, tối đa 100 ký tự."
    born = None
    try:
        born = date.fromisoformat(date_of_birth)
        if born > date.today() or born.year < 1900:
            raise ValueError
    except ValueError:
        problems["date_of_birth"] = "Ngày sinh không hợp lệ (định dạng YYYY-MM-DD)."
    if email and not EMAIL.fullmatch(email):
        problems["email"] = "Địa chỉ thư điện tử không hợp lệ."
    if phone and not PHONE.fullmatch(phone):
        problems["phone"] = "Số điện thoại không hợp lệ."
    if len(password) < 10 or len(password) > 128 or password.isdigit() or password.isalpha():
        problems["password"] = "Mật khẩu cần 10-128 ký tự, gồm cả chữ và số hoặc ký hiệu."
    if problems:
        raise InvalidInput("Thông tin đăng ký chưa hợp lệ: " + "; ".join(problems.values()), fields=problems)
    return born
