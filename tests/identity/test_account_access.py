"""Who may read an account: the person, the body they act for, city admins and operators,
and an agency admin for their own agency's officials. Everyone else is told "not found"."""

from __future__ import annotations

import pytest

from services.identity.app.personal_data import may_read
from services.identity.store.models import Account
from services.platform.principal import Principal

CITIZEN = Account(id="c1", kind="citizen", agency_code=None)
BUSINESS = Account(id="b1", kind="business", agency_code=None)
OFFICIAL_SG = Account(id="o1", kind="official", agency_code="068.00.99.H29")
OFFICIAL_OTHER = Account(id="o2", kind="official", agency_code="001.00.99.H29")


def official(*roles: str, agency: str = "068.00.99.H29", account_id: str = "me") -> Principal:
    return Principal(account_id=account_id, kind="official", roles=roles, agency_code=agency)


@pytest.mark.parametrize(("principal", "account", "allowed"), [
    (Principal(account_id="c1", kind="citizen"), CITIZEN, True),
    (Principal(account_id="c2", kind="citizen"), CITIZEN, False),
    (Principal(account_id="c1", kind="citizen", acting_for="b1"), BUSINESS, True),
    (Principal(account_id="c2", kind="citizen"), BUSINESS, False),
    (official("reception"), CITIZEN, False),
    (official("processing", "approval"), OFFICIAL_SG, False),
    (official("agency_admin"), OFFICIAL_SG, True),
    (official("agency_admin"), OFFICIAL_OTHER, False),
    (official("agency_admin"), CITIZEN, False),
    (official("city_admin", agency="000.00.00.H29"), CITIZEN, True),
    (official("operator", agency="000.00.00.H29"), OFFICIAL_OTHER, True),
    (official("reception", account_id="o1"), OFFICIAL_SG, True),
])
def test_who_may_read_an_account(principal, account, allowed):
    assert may_read(principal, account) is allowed
