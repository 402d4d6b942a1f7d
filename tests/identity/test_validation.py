"""Registration checks name the field each problem concerns."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.identity.domain.validation import check_registration
from services.platform.errors import InvalidInput

VALID = dict(identity_number="079090001234", full_name="Nguyễn Văn An", date_of_birth="1990-05-17",
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
    today = date.today()
    born_today = f"0792{today.year % 100:02d}001234"
    assert check_registration(**{**VALID, "identity_number": born_today,
                                 "date_of_birth": today.isoformat()}) == today


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


# --- CCCD structure: province of birth, century/sex digit, year of birth ------------------------

@pytest.mark.parametrize("number,born", [
    ("079090001234", "1990-05-12"),   # TP. Hồ Chí Minh, male, 1900s
    ("001195012345", "1995-01-01"),   # Hà Nội, female, 1900s
    ("096205000001", "2005-12-31"),   # Cà Mau, male, 2000s
    ("048301000002", "2001-07-07"),   # Đà Nẵng, female, 2000s
])
def test_a_cccd_matching_its_holders_birth_passes(number, born):
    check_registration(**{**VALID, "identity_number": number, "date_of_birth": born})


@pytest.mark.parametrize("province", ["000", "003", "097", "099", "100", "999"])
def test_a_cccd_must_start_with_a_province_code_from_the_official_list(province):
    fields = problems(identity_number=f"{province}090001234")
    assert set(fields) == {"identity_number"} and "mã tỉnh" in fields["identity_number"]


@pytest.mark.parametrize("number,born", [
    ("079290001234", "1990-05-12"),   # century digit 2 says 2000s
    ("079091001234", "1990-05-12"),   # year digits 91
    ("079890001234", "1990-05-12"),   # 8 = 1800s
    ("079005001234", "2005-05-12"),   # 0 = 1900s, born in 2005
])
def test_a_cccd_must_agree_with_the_century_and_year_of_birth(number, born):
    fields = problems(identity_number=number, date_of_birth=born)
    assert set(fields) == {"identity_number"} and "năm sinh" in fields["identity_number"]


def test_a_password_containing_the_identity_number_is_refused():
    assert set(problems(password="Mk079090001234")) == {"password"}


# --- Tax codes and the other registration forms ------------------------------------------------

from services.identity.domain.identity_numbers import normal_tax_code, tax_code_problem  # noqa: E402
from services.identity.domain.validation import check_body_registration, check_official  # noqa: E402

BODY = dict(tax_code="0318888806", name="Công ty TNHH An Phát", address="12 Lê Lợi, Phường Sài Gòn",
            email="", phone="")


@pytest.mark.parametrize("code", ["0318888806", "0100109106", "0318888806-001"])
def test_tax_codes_with_a_right_check_digit_pass(code):
    assert tax_code_problem(code) is None
    check_body_registration(**{**BODY, "tax_code": code})


@pytest.mark.parametrize("code,why", [
    ("0318888807", "kiểm tra"), ("0100109105", "kiểm tra"),
    ("031888880", "10 chữ số"), ("03188888061", "10 chữ số"), ("0318888806001", "10 chữ số"),
    ("0318888806-01", "10 chữ số"), ("031888880a", "10 chữ số"), ("", "10 chữ số"), ("0318888806\n", "10 chữ số"),
])
def test_malformed_tax_codes_and_wrong_check_digits_name_the_field(code, why):
    with pytest.raises(InvalidInput) as err:
        check_body_registration(**{**BODY, "tax_code": code})
    assert set(err.value.fields) == {"tax_code"} and why in err.value.fields["tax_code"]


def test_a_branch_tax_code_has_one_spelling():
    assert normal_tax_code("0318888806-001") == "0318888806-001"
    assert normal_tax_code("0318888806") == "0318888806"


@pytest.mark.parametrize("name", ["<b>Công ty</b>", "A" * 201, "   ", "123 456", "Công ty\x00ABC",
                                  "Công ty <script>"])
def test_business_names_refuse_markup_control_characters_and_excess(name):
    with pytest.raises(InvalidInput) as err:
        check_body_registration(**{**BODY, "name": name})
    assert set(err.value.fields) == {"name"}


def test_business_names_keep_digits_and_ordinary_punctuation():
    check_body_registration(**{**BODY, "name": "Công ty Cổ phần Xây dựng số 5 (Sài Gòn) & Cộng sự"})


@pytest.mark.parametrize("changes,field", [
    ({"username": "Tiep Nhan"}, "username"), ({"username": "ab"}, "username"),
    ({"roles": []}, "roles"), ({"roles": ["king"]}, "roles"), ({"roles": ["reception", "reception"]}, "roles"),
    ({"full_name": "<i>x</i>"}, "full_name"), ({"password": "tiepnhan.x1"}, "password"),
])
def test_official_accounts_name_each_bad_field(changes, field):
    good = dict(username="tiepnhan.x", full_name="Trần Bình", email="", phone="", roles=["reception"],
                password="TiepNhan@2026")
    check_official(**good)
    with pytest.raises(InvalidInput) as err:
        check_official(**{**good, **changes})
    assert set(err.value.fields) == {field}
