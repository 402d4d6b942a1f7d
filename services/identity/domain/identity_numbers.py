"""Personal and tax identification numbers: structure checks that need no lookup.

CCCD (số định danh cá nhân, 12 digits; Circular 59/2021/TT-BCA, formerly 07/2016/TT-BCA):
3 digits for the province of birth registration, 1 digit for century and sex, 2 digits for the
last two digits of the year of birth, 6 random digits. Tax code (mã số thuế, Circular
105/2020/TT-BTC): 10 digits with a check digit, or 13 written ``10digits-3digits`` for a branch;
the check digit is verified by python-stdnum's ``stdnum.vn.mst``.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.vn import mst

# Province codes of the CCCD, the provinces' codes in the national list of administrative units
# (63 provinces as of the 2016 circular; 001 Hà Nội ... 079 TP. Hồ Chí Minh ... 096 Cà Mau).
PROVINCE_CODES = frozenset({
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020", "022",
    "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038", "040", "042",
    "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060", "062", "064", "066",
    "067", "068", "070", "072", "074", "075", "077", "079", "080", "082", "083", "084", "086", "087",
    "089", "091", "092", "093", "094", "095", "096",
})

# Century/sex digit -> (first year of the century, sex).
CENTURY_DIGIT = {
    "0": (1900, "male"), "1": (1900, "female"), "2": (2000, "male"), "3": (2000, "female"),
    "4": (2100, "male"), "5": (2100, "female"), "6": (2200, "male"), "7": (2200, "female"),
    "8": (1800, "male"), "9": (1800, "female"),
}

_CCCD = re.compile(r"[0-9]{12}", re.ASCII)
_TAX_CODE = re.compile(r"[0-9]{10}(-[0-9]{3})?", re.ASCII)


def cccd_problem(number: str, born: date | None) -> str | None:
    """Why ``number`` cannot be a CCCD for someone born on ``born`` (None if it can)."""
    if not _CCCD.fullmatch(number):
        return "Số định danh cá nhân (CCCD) phải gồm đúng 12 chữ số."
    if number[:3] not in PROVINCE_CODES:
        return "Ba chữ số đầu của số định danh không phải mã tỉnh nơi đăng ký khai sinh."
    if born is not None:
        century, _sex = CENTURY_DIGIT[number[3]]
        if not (century <= born.year < century + 100) or born.year % 100 != int(number[4:6]):
            return "Số định danh không khớp với năm sinh (chữ số thế kỷ/giới tính và hai số cuối năm sinh)."
    return None


def tax_code_problem(value: str) -> str | None:
    """Why ``value`` is not a tax code (10 digits, or ``10digits-3digits`` for a branch)."""
    if not _TAX_CODE.fullmatch(value):
        return "Mã số thuế gồm 10 chữ số, hoặc 13 chữ số dạng 0123456789-001 cho chi nhánh."
    try:
        mst.validate(value)
    except StdnumError:
        return "Mã số thuế sai chữ số kiểm tra."
    return None


def normal_tax_code(value: str) -> str:
    """One spelling per tax code, so one number is one account: ``0123456789`` or ``0123456789-001``."""
    compact = mst.compact(value)
    return compact if len(compact) == 10 else f"{compact[:10]}-{compact[10:]}"


def mask_number(number: str | None) -> str:
    """All but the last four characters hidden: what a page or a log may show."""
    return "" if not number else "*" * (len(number) - 4) + number[-4:]
