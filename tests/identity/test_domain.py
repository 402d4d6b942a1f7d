"""Pure rules: throttle back-off, one-time codes, who manages which officials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.identity.domain import one_time_codes as otp
from services.identity.domain.officials import may_manage
from services.identity.domain.throttle import LIMIT, after_failure, retry_after

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_the_tenth_failure_in_a_minute_blocks_for_a_minute_then_the_block_doubles():
    state = None
    for i in range(LIMIT - 1):
        state = after_failure(state, T0 + timedelta(seconds=i))
        assert retry_after(state, T0 + timedelta(seconds=i)) == 0
    state = after_failure(state, T0 + timedelta(seconds=9))
    assert retry_after(state, T0 + timedelta(seconds=9)) == 60
    later = T0 + timedelta(seconds=70)
    assert retry_after(state, later) == 0
    for i in range(LIMIT):
        state = after_failure(state, later + timedelta(seconds=i))
    assert retry_after(state, later + timedelta(seconds=9)) == 120


def test_failures_spread_over_more_than_a_minute_do_not_block():
    state = None
    for i in range(30):
        state = after_failure(state, T0 + timedelta(seconds=7 * i))
        assert retry_after(state, T0 + timedelta(seconds=7 * i)) == 0


def test_a_code_is_accepted_once_within_its_lifetime_and_attempts():
    salt = "s1"
    stored = otp.code_hash("123456", salt=salt)
    ok = dict(salt=salt, stored_hash=stored, expires_at=T0 + otp.LIFETIME, attempts=0, consumed=False, now=T0)
    assert otp.check_code(typed="123456", **ok).ok
    assert otp.check_code(typed="123457", **ok).reason == "wrong"
    assert otp.check_code(typed="123456", **{**ok, "consumed": True}).reason == "used"
    assert otp.check_code(typed="123456", **{**ok, "now": T0 + otp.LIFETIME}).reason == "expired"
    assert otp.check_code(typed="123456", **{**ok, "attempts": otp.MAX_ATTEMPTS}).reason == "too_many_attempts"
    assert stored != otp.code_hash("123456", salt="s2") and "123456" not in stored


def test_codes_are_six_digits():
    codes = {otp.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes) and len(codes) > 150


def test_an_agency_admin_manages_only_their_agency_and_never_grants_city_wide_roles():
    admin = dict(admin_roles=("agency_admin",), admin_agency="068.00.99.H29")
    assert may_manage(**admin, agency_code="068.00.99.H29", roles=["reception", "agency_admin"])
    assert not may_manage(**admin, agency_code="069.00.99.H29", roles=["reception"])
    assert not may_manage(**admin, agency_code="068.00.99.H29", roles=["city_admin"])
    assert not may_manage(**admin, agency_code="068.00.99.H29", roles=["operator"])
    assert may_manage(admin_roles=("city_admin",), admin_agency="000.00.00.H29", agency_code="069.00.99.H29",
                      roles=["operator", "city_admin"])
    assert not may_manage(admin_roles=("reception",), admin_agency="068.00.99.H29", agency_code="068.00.99.H29",
                          roles=["reception"])
