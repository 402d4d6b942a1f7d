"""pytest fixtures over tests/servers/keycloak.py: one real Keycloak per test session.

Import them into a conftest or test module (``from tests.servers.keycloak_fixtures import keycloak``).
Wherever they are imported, the same server is shared: it starts on first use and stops when
the interpreter exits. Where Java or the distribution is not available the tests using it are
skipped with the reason (shown by ``-ra``); a server that fails to start is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from services.identity.providers.keycloak import KeycloakSettings
from tests.servers.keycloak import TEST_SECRETS, KeycloakError, KeycloakServer, KeycloakUnavailable

_server: KeycloakServer | None = None
_unavailable: str | None = None
_failed: str | None = None


@dataclass
class RunningKeycloak:
    """A server started elsewhere (``python -m tests.servers.keycloak run``), for quick reruns:
    ``MOTCUA_TEST_KEYCLOAK_URL=http://127.0.0.1:PORT pytest ...``."""

    url: str

    def issuer(self, realm: str = "motcua") -> str:
        return f"{self.url}/realms/{realm}"


def shared_keycloak() -> KeycloakServer | RunningKeycloak:
    global _server, _unavailable, _failed
    if os.environ.get("MOTCUA_TEST_KEYCLOAK_URL"):
        return RunningKeycloak(os.environ["MOTCUA_TEST_KEYCLOAK_URL"].rstrip("/"))
    if _unavailable is not None:
        pytest.skip(_unavailable)
    if _failed is not None:
        pytest.fail(_failed, pytrace=False)  # started once in this session and failed: not again
    if _server is None:
        server = KeycloakServer(env=TEST_SECRETS)
        try:
            server.start()  # stopped at interpreter exit (atexit)
        except KeycloakUnavailable as exc:
            _unavailable = f"Keycloak tests not run: {exc}"
            pytest.skip(_unavailable)
        except KeycloakError as exc:
            _failed = f"Keycloak did not start: {exc}"
            raise
        _server = server
    return _server


@pytest.fixture(scope="session")
def keycloak() -> KeycloakServer | RunningKeycloak:
    """A real Keycloak with the motcua realm imported (client secrets from TEST_SECRETS)."""
    return shared_keycloak()


@pytest.fixture(scope="session")
def keycloak_settings(keycloak) -> KeycloakSettings:
    """The identity service's settings for the test server."""
    return KeycloakSettings(
        url=keycloak.url, realm="motcua",
        gateway_client_secret=TEST_SECRETS["MOTCUA_KEYCLOAK_GATEWAY_CLIENT_SECRET"],
        admin_client_secret=TEST_SECRETS["MOTCUA_KEYCLOAK_ADMIN_CLIENT_SECRET"],
    )


COMMUNE_CLIENT_ID = "commune-068.00.99.H29"
COMMUNE_CLIENT_SECRET = TEST_SECRETS["MOTCUA_KEYCLOAK_COMMUNE_SAIGON_SECRET"]
