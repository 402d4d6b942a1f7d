"""What identity believes and shows at its edge: only a gateway-signed client address, a
citizen's user name (their CCCD) masked, the typed sign-in name masked in logs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from services.identity.api.servicer import account_to_proto, client_address
from services.identity.app import signin
from services.identity.store.models import Account
from services.platform.client_address import CLIENT_ADDRESS_KEY, sign_client_address
from services.platform.errors import Unauthenticated

SECRET = "internal-secret-for-tests-0123456789"


class _Context:
    def __init__(self, *metadata):
        self._metadata = metadata

    def invocation_metadata(self):
        return self._metadata


def test_only_an_address_the_gateway_signed_is_believed():
    signed = sign_client_address("203.0.113.7", SECRET)
    assert client_address(_Context((CLIENT_ADDRESS_KEY, signed)), SECRET) == "203.0.113.7"
    assert client_address(_Context((CLIENT_ADDRESS_KEY, "203.0.113.7")), SECRET) == ""
    assert client_address(_Context((CLIENT_ADDRESS_KEY, signed)), "other-secret") == ""
    assert client_address(_Context(), SECRET) == ""


def test_a_citizens_user_name_is_shown_masked():
    citizen = Account(id="a", kind="citizen", username="079090001234", identity_number="079090001234",
                      full_name="Nguyễn Văn An", email="", phone="", verification_level=0, agency_code="",
                      roles=[], created_at=datetime.now(UTC))
    official = Account(id="b", kind="official", username="tiepnhan.saigon", identity_number=None,
                       full_name="Trần Bình", email="", phone="", verification_level=0, agency_code="x",
                       roles=[], created_at=datetime.now(UTC))
    assert account_to_proto(citizen).username == "********1234"
    assert account_to_proto(official).username == "tiepnhan.saigon"


async def test_a_failed_sign_in_logs_the_typed_name_masked(identity):
    with capture_logs() as logs, pytest.raises(Unauthenticated):
        await signin.sign_in(identity, username="an.nguyen@example.vn", password="Sai@mat-khau1")
    with capture_logs() as more, pytest.raises(Unauthenticated):
        await signin.sign_in(identity, username="079090001234", password="Sai@mat-khau1")
    lines = [entry for entry in logs + more if entry["event"] == "login_failed"]
    assert [entry["username"] for entry in lines] == ["a********@example.vn", "*********234"]


def test_an_unknown_audit_event_is_refused_even_without_assertions():
    from services.identity.app.records import audit

    class Session:
        def add(self, row):
            raise AssertionError("nothing may be written")

    with pytest.raises(ValueError):
        audit(Session(), "a", "made_up_event")
