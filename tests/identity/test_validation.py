"""Registration checks name the field each problem concerns."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.identity.domain.validation import check_registration
from services.platform.errors import InvalidInput

VALID = dict(identity_number="079203001234", full_name="Nguyễn Văn An", date_of_birth="1990-05-17",
             email="an.nguyen@example.vn", phone="0912345678", password="hoa-sen-2026")


def problems(**changes) -> dict[str, str]:
    with pytest.raises(InvalidInput) as err:
        check_registration(**{**VALID, **changes})
    return err.value.fields


def test_a_valid_registration_returns_the_date_of_birth():
    assert check_registration(**VALID) == date(1990, 5, 17)


@pytest.mark.parametrize("full_name", ["Nguyễn Văn An", "Đặng Thị Ngọc Ánh", "  Lê   Hoàng  ", "H'Hen Niê",
                                       "Trần-Lê Minh"])
def test_vietnamese_names_are_accepted(full_name):
    check_registration(**{**VALID, "full_name": full_name})


@pytest.mark.parametrize("identity_number", ["07920300123", "0792030012345", "07920300123a", "",
                                             "079 203 001 234"])
def test_identity_number_must_be_exactly_twelve_digits(identity_number):
    assert set(problems(identity_number=identity_number)) == {"identity_number"}


@pytest.mark.parametrize("full_name", ["Nguyễn Văn 3", "<script>alert(1)</script>", "", "   ",
                                       "Nguyễn_Văn", "A" * 101])
def test_name_must_be_letters_only(full_name):
    assert set(problems(full_name=full_name)) == {"full_name"}


@pytest.mark.parametrize("born", ["2023-02-30", "1990-13-01", "17/05/1990", "", "1899-12-31"])
def test_an_impossible_or_malformed_date_of_birth_is_named(born):
    assert set(problems(date_of_birth=born)) == {"date_of_birth"}


def test_a_date_of_birth_in_the_future_is_named():
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert set(problems(date_of_birth=tomorrow)) == {"date_of_birth"}
    assert check_registration(**{**VALID, "date_of_birth": date.today().isoformat()}) == date.today()


@pytest.mark.parametrize("password", ["short1", "1234567890", "abcdefghijkl", "x" * 129, ""])
def test_a_weak_password_is_named(password):
    assert set(problems(password=password)) == {"password"}


@pytest.mark.parametrize("email", ["an.nguyen", "an@", "a b@example.vn", "an@example.v"])
def test_a_malformed_email_is_named(email):
    assert set(problems(email=email)) == {"email"}


@pytest.mark.parametrize("phone", ["091234567", "12345678901", "+8491234", "0912-345-678"])
def test_a_malformed_phone_is_named(phone):
    assert set(problems(phone=phone)) == {"phone"}


# Only ASCII digits, nothing after the value: otherwise one citizen id could be registered
# twice in different spellings (accounts store the number as typed).
@pytest.mark.parametrize("field,value", [
    ("identity_number", "079203001234\n"),
    ("identity_number", "٠٧٩٢٠٣٠٠١٢٣٤"),
    ("identity_number", "０７９２０３００１２３４"),
    ("phone", "0912345678\n"),
    ("email", "an.nguyen@example.vn\n"),
])
def test_only_plain_ascii_values_without_a_trailing_newline_pass(field, value):
    assert set(problems(**{field: value})) == {field}


def test_email_and_phone_are_optional():
    assert check_registration(**{**VALID, "email": "", "phone": ""}) == date(1990, 5, 17)
    assert check_registration(**{**VALID, "phone": "+84912345678"}) == date(1990, 5, 17)


def test_every_problem_is_reported_at_once():
    fields = problems(identity_number="123", full_name="<b>", date_of_birth="2023-02-30", email="x",
                      phone="1", password="weak")
    assert set(fields) == {"identity_number", "full_name", "date_of_birth", "email", "phone", "password"}
    assert all(fields.values())
