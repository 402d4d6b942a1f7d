"""A second start keeps the data: `make run` twice must not lose or duplicate anything."""

from __future__ import annotations

import pytest

from services.platform.embedded import EmbeddedSystem
from tests.e2e.portal import DEMO_OFFICIAL, Portal

pytestmark = pytest.mark.system


@pytest.mark.timeout(180)
def test_restarting_the_whole_system_keeps_accounts_dossiers_and_notices(tmp_path):
    var_dir = tmp_path / "var"
    first = EmbeddedSystem.on_free_ports(var_dir)
    try:
        first.start()
        portal = Portal(first.gateway_url)
        citizen = portal.register_citizen()
        token = portal.token(citizen["username"], citizen["password"])
        code = portal.submit(token, portal.commune_code()).json()["code"]
        portal.wait_notifications(token, lambda items: len(items) == 1)
        procedures = portal.http.get("/api/v1/procedures", params={"page_size": 1}).json()["total"]
    finally:
        first.stop()

    second = EmbeddedSystem(var_dir=var_dir, ports=first.ports)
    try:
        second.start()
        portal = Portal(second.gateway_url)
        old_token = token
        token = portal.token(citizen["username"], citizen["password"])
        # A token issued before the restart still verifies: the signing key survived.
        assert portal.http.get("/api/v1/me", headers=portal.bearer(old_token)).status_code == 200
        assert portal.http.get(f"/api/v1/dossiers/{code}", headers=portal.bearer(token)).json()["status_code"] == 1
        assert len(portal.notifications(token)) == 1
        assert portal.http.get("/api/v1/procedures", params={"page_size": 1}).json()["total"] == procedures
        official = portal.token(DEMO_OFFICIAL)
        assert portal.act(official, code, "accept").status_code == 200
        # The next dossier of the day continues the sequence instead of reusing a number.
        again = portal.submit(token, portal.commune_code()).json()["code"]
        assert int(again.rsplit("-", 1)[1]) == int(code.rsplit("-", 1)[1]) + 1
    finally:
        second.stop()
