"""The client address the gateway signs for the services, and email addresses masked in logs."""

from __future__ import annotations

import time

from services.platform.client_address import sign_client_address, verified_client_address
from services.platform.logging import mask_personal_data

SECRET = "s" * 32


def test_a_signed_address_is_believed():
    assert verified_client_address(sign_client_address("203.0.113.7", SECRET), SECRET) == "203.0.113.7"
    assert verified_client_address(sign_client_address("2001:db8::1", SECRET), SECRET) == "2001:db8::1"


def test_a_forged_stale_or_foreign_address_is_not():
    signed = sign_client_address("203.0.113.7", SECRET)
    assert verified_client_address(signed.replace("203.0.113.7", "203.0.113.8"), SECRET) == ""
    assert verified_client_address(signed, "another-secret") == ""
    old = sign_client_address("203.0.113.7", SECRET, now=time.time() - 3600)
    assert verified_client_address(old, SECRET) == ""
    assert verified_client_address("203.0.113.7", SECRET) == "" and verified_client_address("", SECRET) == ""


def test_an_email_keeps_its_first_letter_and_domain_only():
    assert mask_personal_data("login_failed an.nguyen@example.vn") == "login_failed a********@example.vn"
    masked = mask_personal_data("079090001234@example.vn")
    assert "079090001234" not in masked and masked.endswith("@example.vn")
