"""The signed principal passed to services, and personal numbers masked in logs."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from services.platform.errors import Unauthenticated
from services.platform.logging import configure_logging, mask_personal_numbers
from services.platform.principal import (
    MAX_AGE_SECONDS,
    Principal,
    _b64,
    _unb64,
    decode_principal,
    encode_principal,
)

SECRET = "gateway-secret"
NOW = 1_772_800_000.0
OFFICIAL = Principal(account_id="0b5f6a4e-0000-4000-8000-000000000001", kind="official",
                     name="Trần Thị Bình", roles=("reception", "processing"),
                     agency_code="000.00.01.H29", verification_level=2)


def test_principal_survives_encode_and_decode():
    token = encode_principal(OFFICIAL, SECRET, now=NOW)
    decoded = decode_principal(token, SECRET, now=NOW + 1)
    assert decoded == OFFICIAL
    assert decoded.roles == ("reception", "processing")
    assert decoded.is_official and decoded.has_role("reception") and not decoded.has_role("approval")


def test_a_citizen_with_no_roles_round_trips():
    citizen = Principal(account_id="c1", kind="citizen")
    assert decode_principal(encode_principal(citizen, SECRET, now=NOW), SECRET, now=NOW) == citizen


def test_a_tampered_payload_is_rejected():
    token = encode_principal(Principal(account_id="c1", kind="citizen"), SECRET, now=NOW)
    payload, sig = token.split(".")
    body = json.loads(_unb64(payload))
    body["kind"] = "official"
    body["roles"] = ["approval"]
    forged = _b64(json.dumps(body, separators=(",", ":")).encode()) + "." + sig
    with pytest.raises(Unauthenticated):
        decode_principal(forged, SECRET, now=NOW)


def test_a_token_signed_with_another_secret_is_rejected():
    token = encode_principal(OFFICIAL, "someone-else", now=NOW)
    with pytest.raises(Unauthenticated):
        decode_principal(token, SECRET, now=NOW)


@pytest.mark.parametrize("token", ["", "no-dot", "abc.def", "....", "eyJ9.!!!"])
def test_garbage_is_rejected_as_unauthenticated(token):
    with pytest.raises(Unauthenticated):
        decode_principal(token, SECRET, now=NOW)


def test_an_old_principal_is_rejected():
    token = encode_principal(OFFICIAL, SECRET, now=NOW - MAX_AGE_SECONDS - 1)
    with pytest.raises(Unauthenticated):
        decode_principal(token, SECRET, now=NOW)
    # Within the window it still holds.
    assert decode_principal(encode_principal(OFFICIAL, SECRET, now=NOW - MAX_AGE_SECONDS + 1),
                            SECRET, now=NOW) == OFFICIAL


def test_a_principal_from_the_future_is_rejected():
    token = encode_principal(OFFICIAL, SECRET, now=NOW + MAX_AGE_SECONDS + 10)
    with pytest.raises(Unauthenticated):
        decode_principal(token, SECRET, now=NOW)


# --- masking -------------------------------------------------------------------------

def test_a_twelve_digit_citizen_id_keeps_only_its_last_three_digits():
    assert mask_personal_numbers("CCCD 079203001234 đã đăng ký") == "CCCD *********234 đã đăng ký"


def test_a_phone_number_keeps_only_its_last_three_digits():
    assert mask_personal_numbers("gọi 0912345678.") == "gọi *******678."
    masked = mask_personal_numbers("+84912345678")
    assert masked.endswith("678") and "912345" not in masked and len(masked) == len("+84912345678")


def test_a_ten_digit_tax_code_is_masked():
    assert mask_personal_numbers("MST:0312345678") == "MST:*******678"


@pytest.mark.parametrize("text", [
    "năm 2026",
    "hồ sơ 000.00.01.H29-260306-0001",
    "số thứ tự 0001",
    "12345678",
    "ngày 06/03/2026 lúc 17:00",
])
def test_short_numbers_are_left_intact(text):
    assert mask_personal_numbers(text) == text


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_log_line_masks_a_citizen_id_passed_as_a_field(capsys, restore_logging):
    configure_logging("identity")
    log = structlog.get_logger("test")
    log.info("account_registered for 079203001234", identity_number="079203001234",
             contact={"phone": "0912345678"}, numbers=["079203009999"], year=2026, code="0001")
    err = capsys.readouterr().err
    assert "079203001234" not in err and "0912345678" not in err and "079203009999" not in err
    line = json.loads(err.strip().splitlines()[-1])
    assert line["identity_number"] == "*********234"
    assert line["event"] == "account_registered for *********234"
    assert line["contact"] == {"phone": "*******678"}
    assert line["numbers"] == ["*********999"]
    assert line["year"] == 2026 and line["code"] == "0001"
    assert line["service"] == "identity" and line["level"] == "info"


def test_a_traceback_in_a_log_line_is_masked_too(capsys, restore_logging):
    configure_logging("dossier")
    log = structlog.get_logger("test")
    try:
        raise ValueError("no account for 079203001234")
    except ValueError:
        log.exception("lookup_failed")
    err = capsys.readouterr().err
    assert "079203001234" not in err
    line = json.loads(err.strip().splitlines()[-1])
    assert "*********234" in line["exception"] and line["level"] == "error"
