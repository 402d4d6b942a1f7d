"""The whole system with Keycloak as its identity provider (MOTCUA_IDENTITY_PROVIDER=keycloak):
a citizen registers through the gateway, signs in with a token Keycloak issued, and the gateway
accepts it; officials (the demo accounts, created in Keycloak at start) work as before."""

from __future__ import annotations

import jwt
import pytest

from services.platform.embedded import EmbeddedSystem
from tests.e2e.portal import DEMO_OFFICIAL, Portal
from tests.servers.keycloak import TEST_SECRETS
from tests.servers.keycloak_fixtures import keycloak  # noqa: F401 - the shared test server

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def keycloak_system(keycloak, tmp_path_factory):  # noqa: F811
    system = EmbeddedSystem.on_free_ports(tmp_path_factory.mktemp("kc-system"), extra_env={
        "MOTCUA_IDENTITY_PROVIDER": "keycloak",
        "MOTCUA_KEYCLOAK_URL": keycloak.url,
        "MOTCUA_KEYCLOAK_REALM": "motcua",
        "MOTCUA_KEYCLOAK_GATEWAY_CLIENT_SECRET": TEST_SECRETS["MOTCUA_KEYCLOAK_GATEWAY_CLIENT_SECRET"],
        "MOTCUA_KEYCLOAK_ADMIN_CLIENT_SECRET": TEST_SECRETS["MOTCUA_KEYCLOAK_ADMIN_CLIENT_SECRET"],
    })
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="module")
def portal(keycloak_system):
    return Portal(keycloak_system.gateway_url)


def test_a_citizen_registers_and_signs_in_through_keycloak(portal, keycloak):  # noqa: F811
    citizen = portal.register_citizen(name="Lê Thị Hoa")
    reply = portal.http.post("/api/v1/auth/token", json={"username": citizen["username"],
                                                        "password": citizen["password"]})
    assert reply.status_code == 200, reply.text
    tokens = reply.json()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["iss"] == keycloak.issuer("motcua")  # issued by Keycloak, not the embedded issuer
    assert (claims["account_id"], claims["kind"], claims["name"]) == (citizen["id"], "citizen", "Lê Thị Hoa")

    me = portal.http.get("/api/v1/me", headers=portal.bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["kind"] == "citizen"

    wrong = portal.http.post("/api/v1/auth/token", json={"username": citizen["username"], "password": "Sai@123456"})
    unknown = portal.http.post("/api/v1/auth/token", json={"username": "079199999999", "password": "Sai@123456"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Tên đăng nhập hoặc mật khẩu không đúng."

    renewed = portal.http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200, renewed.text
    reused = portal.http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401


def test_a_demo_official_signs_in_through_keycloak_and_sees_the_work_queue(portal):
    token = portal.token(DEMO_OFFICIAL)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "reception" in claims["roles"] and claims["kind"] == "official" and claims["agency"]
    queue = portal.http.get("/api/v1/work/dossiers", headers=portal.bearer(token))
    assert queue.status_code == 200, queue.text
